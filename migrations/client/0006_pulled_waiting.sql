-- SmartStock local ledger, schema version 6: pulled rows whose product or location has not
-- arrived yet. The server's feed can hold a catalog row after movements and alerts that name it
-- (an edit moves the row to a later feed position), so a device catching up from far behind can
-- meet a movement before its product. Such a row waits here, outside the ledger, and joins it in
-- the pull transaction that brings what it names (`waiting.rs`).
--
-- * kind: 'movement' or 'alert'; body: the row as the server sent it (JSON).

CREATE TABLE pulled_waiting (
    id   BLOB PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('movement', 'alert')),
    body TEXT NOT NULL
) STRICT, WITHOUT ROWID;
