-- smartstock-server on SQLite, schema version 3: catalog edits pushed by devices, merged per
-- field by hybrid logical clock (DESIGN.md, "Catalog edits", "Catalog created twice offline").
--
-- * stamps: per row, the (hlc, device, user) of the edit that wrote each field, as JSON
--   ({"price": {"hlc": {"wall": …, "counter": …}, "device_id": …, "user_id": …}, …}); pulled with
--   the row so devices merge by the same rule. '{}': no field stamped yet (every edit wins).
-- * devices.catalog_seq: the last catalog edit number acknowledged (its own gapless sequence).
-- * catalog_received: every edit's outcome under (device, seq), written with what it did.
-- * catalog_aliases: a row created twice offline under another id, and the row kept.
-- * catalog_notices: per-device notices (edits that lost, merges), in the feed.

ALTER TABLE products ADD COLUMN stamps TEXT NOT NULL DEFAULT '{}';
ALTER TABLE locations ADD COLUMN stamps TEXT NOT NULL DEFAULT '{}';
ALTER TABLE devices ADD COLUMN catalog_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE catalog_received (
    device_id BLOB    NOT NULL,
    seq       INTEGER NOT NULL,
    outcome   TEXT    NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE catalog_aliases (
    alias_id     BLOB PRIMARY KEY,
    canonical_id BLOB NOT NULL,
    entity       TEXT NOT NULL CHECK (entity IN ('product', 'location')),
    device_id    BLOB NOT NULL
) STRICT;

CREATE TABLE catalog_notices (
    id        BLOB PRIMARY KEY,
    device_id BLOB    NOT NULL,
    body      TEXT    NOT NULL,
    feed_seq  INTEGER NOT NULL
) STRICT;

CREATE INDEX catalog_notices_feed ON catalog_notices (feed_seq);
CREATE INDEX catalog_audit_entity ON catalog_audit (entity, entity_id);
