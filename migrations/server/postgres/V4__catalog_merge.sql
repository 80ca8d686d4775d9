-- smartstock-server on PostgreSQL, schema version 4: catalog edits pushed by devices, merged per
-- field by hybrid logical clock (DESIGN.md, "Catalog edits", "Catalog created twice offline").
-- The same tables as the SQLite backend's 0003_catalog_merge.sql:
--
-- * stamps: per row, the (hlc, device, user) of the edit that wrote each field, as JSON text;
--   pulled with the row so devices merge by the same rule. '{}': no field stamped yet.
-- * devices.catalog_seq: the last catalog edit number acknowledged (its own gapless sequence).
-- * catalog_received: every edit's outcome under (device, seq), written with what it did.
-- * catalog_aliases: a row created twice offline under another id, and the row kept.
-- * catalog_notices: per-device notices (edits that lost, merges), in the feed.

ALTER TABLE products ADD COLUMN stamps text NOT NULL DEFAULT '{}';
ALTER TABLE locations ADD COLUMN stamps text NOT NULL DEFAULT '{}';
ALTER TABLE devices ADD COLUMN catalog_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE catalog_received (
    device_id uuid   NOT NULL,
    seq       bigint NOT NULL,
    outcome   text   NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE catalog_aliases (
    alias_id     uuid PRIMARY KEY,
    canonical_id uuid NOT NULL,
    entity       text NOT NULL CHECK (entity IN ('product', 'location')),
    device_id    uuid NOT NULL
);

CREATE TABLE catalog_notices (
    id        uuid PRIMARY KEY,
    device_id uuid   NOT NULL,
    body      text   NOT NULL,
    feed_seq  bigint NOT NULL
);

CREATE INDEX catalog_notices_feed ON catalog_notices (feed_seq);
CREATE INDEX catalog_audit_entity ON catalog_audit (entity, entity_id);
