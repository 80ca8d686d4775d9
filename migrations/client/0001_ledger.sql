-- SmartStock local ledger, schema version 1.
-- UUIDs are stored as 16-byte BLOBs; times as milliseconds since the Unix epoch (UTC);
-- quantities as integers in each product's base unit; money in minor units.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

INSERT INTO settings (key, value) VALUES
    ('negative_stock_policy', 'forbid'),
    ('count_review_window_ms', '120000');

-- This device: its id, the next gapless device_seq, and the clock offset measured against the server.
CREATE TABLE device (
    singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id       BLOB    NOT NULL CHECK (length(device_id) = 16),
    next_seq        INTEGER NOT NULL CHECK (next_seq >= 1),
    clock_offset_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE locations (
    id        BLOB PRIMARY KEY CHECK (length(id) = 16),
    code      TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('warehouse', 'store', 'bin', 'vehicle', 'other')),
    parent_id BLOB REFERENCES locations (id),
    archived  INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
) STRICT;

CREATE TABLE products (
    id             BLOB PRIMARY KEY CHECK (length(id) = 16),
    sku            TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    barcode        TEXT UNIQUE,
    unit           TEXT    NOT NULL,
    unit_scale     INTEGER NOT NULL CHECK (unit_scale BETWEEN 0 AND 6),
    reorder_point  INTEGER NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
    reorder_qty    INTEGER NOT NULL DEFAULT 0 CHECK (reorder_qty >= 0),
    cost_minor     INTEGER NOT NULL DEFAULT 0 CHECK (cost_minor >= 0),
    price_minor    INTEGER NOT NULL DEFAULT 0 CHECK (price_minor >= 0),
    archived       INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    negative_stock TEXT CHECK (negative_stock IN ('forbid', 'allow'))
) STRICT;

CREATE INDEX products_name ON products (name COLLATE NOCASE);

-- The ledger. Content columns are immutable (triggers below); only sync metadata changes:
-- sync_state/server_seq/reject_* when the server answers, voided_by when a void cancels the row,
-- and device_id/device_seq of still-pending rows when the device registers anew.
CREATE TABLE movements (
    seq              INTEGER PRIMARY KEY,
    id               BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    device_id        BLOB    NOT NULL,
    device_seq       INTEGER NOT NULL CHECK (device_seq >= 1),
    user_id          BLOB    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('receive', 'issue', 'adjust', 'transfer_out', 'transfer_in', 'count', 'void')),
    product_id       BLOB    NOT NULL REFERENCES products (id),
    location_id      BLOB    NOT NULL REFERENCES locations (id),
    delta            INTEGER,
    counted_qty      INTEGER,
    reason           TEXT,
    note             TEXT,
    ref              TEXT,
    peer_location_id BLOB REFERENCES locations (id),
    occurred_at      INTEGER NOT NULL,
    recorded_at      INTEGER NOT NULL,
    server_seq       INTEGER UNIQUE,
    qty_before       INTEGER NOT NULL,
    qty_after        INTEGER NOT NULL,
    sync_state       TEXT    NOT NULL DEFAULT 'pending' CHECK (sync_state IN ('pending', 'accepted', 'rejected')),
    reject_code      TEXT,
    reject_message   TEXT,
    voided_by        BLOB,
    CHECK ((kind = 'count') = (counted_qty IS NOT NULL)),
    CHECK ((kind IN ('count', 'void')) = (delta IS NULL)),
    UNIQUE (device_id, device_seq)
) STRICT;

CREATE INDEX movements_pair ON movements (product_id, location_id, occurred_at, id);
CREATE INDEX movements_outbox ON movements (device_seq) WHERE sync_state = 'pending';
CREATE INDEX movements_ref ON movements (ref) WHERE ref IS NOT NULL;

CREATE TRIGGER movements_content_is_immutable
BEFORE UPDATE OF id, user_id, kind, product_id, location_id, delta, counted_qty, reason, note, ref,
                 peer_location_id, occurred_at, recorded_at, qty_before, qty_after ON movements
BEGIN
    SELECT RAISE(ABORT, 'movements are immutable: record a void instead');
END;

CREATE TRIGGER movements_identity_fixed_once_sent
BEFORE UPDATE OF device_id, device_seq ON movements
WHEN OLD.sync_state <> 'pending'
BEGIN
    SELECT RAISE(ABORT, 'a movement the server has answered keeps its device_id and device_seq');
END;

CREATE TRIGGER movements_never_deleted
BEFORE DELETE ON movements
BEGIN
    SELECT RAISE(ABORT, 'movements are never deleted: record a void instead');
END;

-- Cached level per product x location, maintained in the movement's transaction (level rule of
-- smartstock-core), plus the ledger checksum of the pair's movement set.
CREATE TABLE levels (
    product_id     BLOB    NOT NULL REFERENCES products (id),
    location_id    BLOB    NOT NULL REFERENCES locations (id),
    on_hand        INTEGER NOT NULL,
    anchor_id      BLOB,
    anchor_at      INTEGER,
    anchor_counted INTEGER,
    latest_at      INTEGER,
    latest_id      BLOB,
    movement_count INTEGER NOT NULL DEFAULT 0,
    digest         BLOB    NOT NULL,
    PRIMARY KEY (product_id, location_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX levels_location ON levels (location_id);

CREATE TABLE alerts (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    kind        TEXT    NOT NULL CHECK (kind IN ('negative_stock', 'low_stock', 'count_review', 'rejected_movement')),
    product_id  BLOB    NOT NULL REFERENCES products (id),
    location_id BLOB    NOT NULL REFERENCES locations (id),
    quantity    INTEGER NOT NULL,
    movement_id BLOB,
    message     TEXT    NOT NULL,
    raised_at   INTEGER NOT NULL,
    resolved_by BLOB,
    resolved_at INTEGER
) STRICT;

CREATE INDEX alerts_open ON alerts (raised_at) WHERE resolved_at IS NULL;

-- Audit of catalog edits: one row per changed field. Append-only.
CREATE TABLE catalog_audit (
    seq        INTEGER PRIMARY KEY,
    entity     TEXT    NOT NULL,
    entity_id  BLOB    NOT NULL,
    field      TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    user_id    BLOB    NOT NULL,
    device_id  BLOB    NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;

CREATE INDEX catalog_audit_entity ON catalog_audit (entity, entity_id);

CREATE TRIGGER catalog_audit_append_only_update BEFORE UPDATE ON catalog_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only');
END;

CREATE TRIGGER catalog_audit_append_only_delete BEFORE DELETE ON catalog_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only');
END;
