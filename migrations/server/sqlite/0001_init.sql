-- smartstock-server on SQLite, schema version 1. UUIDs as 16-byte BLOBs, times in ms since the
-- Unix epoch, quantities in base units. `feed` numbers every change other devices must pull
-- (movements, catalog rows, alerts) from one counter, taken inside the writing transaction; SQLite
-- has a single writer, so numbers commit in order and a pull never skips one.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

INSERT INTO settings (key, value) VALUES ('negative_stock_policy', 'forbid'), ('count_review_window_ms', '120000');

CREATE TABLE feed_counter (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_seq  INTEGER NOT NULL
) STRICT;

INSERT INTO feed_counter (singleton, last_seq) VALUES (1, 0);

CREATE TABLE users (
    id                   BLOB PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    password_hash        TEXT    NOT NULL,
    role                 TEXT    NOT NULL CHECK (role IN ('admin', 'manager', 'clerk', 'viewer')),
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE user_locations (
    user_id     BLOB NOT NULL REFERENCES users (id),
    location_id BLOB NOT NULL,
    PRIMARY KEY (user_id, location_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE devices (
    id            BLOB PRIMARY KEY,
    user_id       BLOB    NOT NULL REFERENCES users (id),
    name          TEXT    NOT NULL,
    registered_at INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Sessions: hashed access and refresh tokens; a refresh rotates both.
CREATE TABLE sessions (
    id                 BLOB PRIMARY KEY,
    user_id            BLOB    NOT NULL REFERENCES users (id),
    access_hash        BLOB    NOT NULL UNIQUE,
    access_expires_at  INTEGER NOT NULL,
    refresh_hash       BLOB    NOT NULL UNIQUE,
    refresh_expires_at INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    revoked_at         INTEGER
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE locations (
    id        BLOB PRIMARY KEY,
    code      TEXT    NOT NULL UNIQUE,
    name      TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    parent_id BLOB,
    archived  INTEGER NOT NULL DEFAULT 0,
    feed_seq  INTEGER NOT NULL
) STRICT;

CREATE TABLE products (
    id             BLOB PRIMARY KEY,
    sku            TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    barcode        TEXT UNIQUE,
    unit           TEXT    NOT NULL,
    unit_scale     INTEGER NOT NULL,
    reorder_point  INTEGER NOT NULL DEFAULT 0,
    reorder_qty    INTEGER NOT NULL DEFAULT 0,
    cost_minor     INTEGER NOT NULL DEFAULT 0,
    price_minor    INTEGER NOT NULL DEFAULT 0,
    archived       INTEGER NOT NULL DEFAULT 0,
    negative_stock TEXT,
    feed_seq       INTEGER NOT NULL
) STRICT;

CREATE INDEX products_feed ON products (feed_seq);
CREATE INDEX locations_feed ON locations (feed_seq);

CREATE TABLE catalog_audit (
    seq        INTEGER PRIMARY KEY,
    entity     TEXT    NOT NULL,
    entity_id  BLOB    NOT NULL,
    field      TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    user_id    BLOB    NOT NULL,
    device_id  BLOB,
    changed_at INTEGER NOT NULL
) STRICT;

-- Accepted movements, in feed order.
CREATE TABLE movements (
    server_seq       INTEGER PRIMARY KEY,
    id               BLOB    NOT NULL UNIQUE,
    device_id        BLOB    NOT NULL,
    device_seq       INTEGER NOT NULL,
    user_id          BLOB    NOT NULL,
    kind             TEXT    NOT NULL,
    product_id       BLOB    NOT NULL REFERENCES products (id),
    location_id      BLOB    NOT NULL REFERENCES locations (id),
    delta            INTEGER,
    counted_qty      INTEGER,
    reason           TEXT,
    note             TEXT,
    ref              TEXT,
    peer_location_id BLOB,
    occurred_at      INTEGER NOT NULL,
    recorded_at      INTEGER NOT NULL,
    qty_before       INTEGER NOT NULL,
    qty_after        INTEGER NOT NULL,
    voided_by        BLOB,
    UNIQUE (device_id, device_seq)
) STRICT;

CREATE INDEX movements_pair ON movements (product_id, location_id, occurred_at, id);
CREATE INDEX movements_ref ON movements (ref) WHERE ref IS NOT NULL;

-- Every pushed movement's outcome, accepted or rejected, written in the same transaction as the
-- movement: a replay returns it. A rejection still uses its device_seq. One movement id may stand
-- under two (device, seq) pairs: a device that registered anew re-sequences movements the server
-- already holds, and each keeps its first outcome.
CREATE TABLE received (
    device_id   BLOB    NOT NULL,
    device_seq  INTEGER NOT NULL,
    movement_id BLOB    NOT NULL,
    outcome     TEXT    NOT NULL,
    PRIMARY KEY (device_id, device_seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX received_movement ON received (movement_id);

CREATE TABLE levels (
    product_id     BLOB    NOT NULL,
    location_id    BLOB    NOT NULL,
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

CREATE TABLE alerts (
    id          BLOB PRIMARY KEY,
    kind        TEXT    NOT NULL,
    product_id  BLOB    NOT NULL,
    location_id BLOB    NOT NULL,
    quantity    INTEGER NOT NULL,
    movement_id BLOB,
    message     TEXT    NOT NULL,
    raised_at   INTEGER NOT NULL,
    resolved_by BLOB,
    resolved_at INTEGER,
    feed_seq    INTEGER NOT NULL
) STRICT;

CREATE INDEX alerts_feed ON alerts (feed_seq);
CREATE INDEX alerts_open ON alerts (kind, product_id, location_id) WHERE resolved_at IS NULL;

-- Fixed-window counters for rate limits (login per user and per address), shared by every
-- request of the process (and, on PostgreSQL, by every instance).
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
