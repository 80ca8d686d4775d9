-- SmartStock local ledger, schema version 3: catalog edits made on this device, queued for the
-- server and merged per field by hybrid logical clock (DESIGN.md, "Catalog edits", "Catalog
-- created twice offline").
--
-- * device.next_catalog_seq: the next catalog edit number (gapless, its own sequence).
-- * device.hlc_wall / hlc_counter: this device's hybrid logical clock.
-- * catalog_stamps: per product/location field, the (hlc, device, user) of the value held.
-- * catalog_outbox: edits the server has not answered, in seq order (row and fields as JSON).
-- * catalog_aliases: a row this device created that the server merged into another (the kept
--   one); movements not yet sent are re-pointed to the kept row (trigger below allows only that).
-- * catalog_notices: what the server told this device (edits that lost, merges), for the inbox.

ALTER TABLE device ADD COLUMN next_catalog_seq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE device ADD COLUMN hlc_wall INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device ADD COLUMN hlc_counter INTEGER NOT NULL DEFAULT 0;

CREATE TABLE catalog_stamps (
    entity_id   BLOB    NOT NULL,
    field       TEXT    NOT NULL,
    hlc_wall    INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL,
    device_id   BLOB    NOT NULL,
    user_id     BLOB    NOT NULL,
    PRIMARY KEY (entity_id, field)
) STRICT, WITHOUT ROWID;

CREATE TABLE catalog_outbox (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hlc_wall    INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL,
    created     INTEGER NOT NULL CHECK (created IN (0, 1)),
    fields      TEXT    NOT NULL,
    row         TEXT    NOT NULL
) STRICT;

CREATE INDEX catalog_outbox_seq ON catalog_outbox (seq);

CREATE TABLE catalog_aliases (
    alias_id     BLOB PRIMARY KEY,
    canonical_id BLOB NOT NULL,
    entity       TEXT NOT NULL CHECK (entity IN ('product', 'location'))
) STRICT;

CREATE TABLE catalog_notices (
    id           BLOB PRIMARY KEY,
    kind         TEXT    NOT NULL,
    entity       TEXT    NOT NULL,
    entity_id    BLOB    NOT NULL,
    code         TEXT    NOT NULL,
    field        TEXT    NOT NULL,
    lost_value   TEXT,
    kept_value   TEXT,
    message      TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    dismissed_at INTEGER
) STRICT;

-- A movement's product and locations stay fixed, except that a movement the server has not
-- answered may move from an alias to the row it was merged into.
DROP TRIGGER movements_content_is_immutable;

CREATE TRIGGER movements_content_is_immutable
BEFORE UPDATE OF id, user_id, kind, delta, counted_qty, reason, note, ref, occurred_at, recorded_at, qty_before,
                 qty_after ON movements
BEGIN
    SELECT RAISE(ABORT, 'movements are immutable: record a void instead');
END;

CREATE TRIGGER movements_catalog_fixed_unless_aliased
BEFORE UPDATE OF product_id, location_id, peer_location_id ON movements
WHEN OLD.sync_state <> 'pending'
  OR (NEW.product_id IS NOT OLD.product_id AND NOT EXISTS (
        SELECT 1 FROM catalog_aliases WHERE alias_id = OLD.product_id AND canonical_id = NEW.product_id))
  OR (NEW.location_id IS NOT OLD.location_id AND NOT EXISTS (
        SELECT 1 FROM catalog_aliases WHERE alias_id = OLD.location_id AND canonical_id = NEW.location_id))
  OR (NEW.peer_location_id IS NOT OLD.peer_location_id AND NOT EXISTS (
        SELECT 1 FROM catalog_aliases WHERE alias_id = OLD.peer_location_id AND canonical_id = NEW.peer_location_id))
BEGIN
    SELECT RAISE(ABORT, 'movements are immutable: record a void instead');
END;
