-- smartstock-server on PostgreSQL, schema version 1 (applied by refinery; its history table
-- lives in the same schema). The tables and columns of migrations/server/sqlite/0001_init.sql in
-- PostgreSQL types: uuid ids, bigint times (ms since the Unix epoch), quantities and sequence
-- numbers, bytea hashes and digests, boolean flags.
--
-- `feed` numbers every change other devices must pull (movements, catalog rows, alerts) from the
-- one row of feed_counter, taken with UPDATE ... RETURNING inside the writing transaction. Its row
-- lock serializes writers until they commit, so numbers commit in order and a pull never skips one
-- (DESIGN.md's sequence trap). Never replace it with a sequence: sequences are not transactional.

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO settings (key, value) VALUES ('negative_stock_policy', 'forbid'), ('count_review_window_ms', '120000');

CREATE TABLE feed_counter (
    singleton integer PRIMARY KEY CHECK (singleton = 1),
    last_seq  bigint  NOT NULL
);

INSERT INTO feed_counter (singleton, last_seq) VALUES (1, 0);

CREATE TABLE users (
    id                   uuid PRIMARY KEY,
    username             text    NOT NULL UNIQUE,
    password_hash        text    NOT NULL,
    role                 text    NOT NULL CHECK (role IN ('admin', 'manager', 'clerk', 'viewer')),
    must_change_password boolean NOT NULL DEFAULT false,
    disabled             boolean NOT NULL DEFAULT false,
    created_at           bigint  NOT NULL
);

CREATE TABLE user_locations (
    user_id     uuid NOT NULL REFERENCES users (id),
    location_id uuid NOT NULL,
    PRIMARY KEY (user_id, location_id)
);

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    user_id       uuid   NOT NULL REFERENCES users (id),
    name          text   NOT NULL,
    registered_at bigint NOT NULL,
    last_seq      bigint NOT NULL DEFAULT 0
);

-- Sessions: hashed access and refresh tokens; a refresh rotates both.
CREATE TABLE sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid   NOT NULL REFERENCES users (id),
    access_hash        bytea  NOT NULL UNIQUE,
    access_expires_at  bigint NOT NULL,
    refresh_hash       bytea  NOT NULL UNIQUE,
    refresh_expires_at bigint NOT NULL,
    created_at         bigint NOT NULL,
    revoked_at         bigint
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE locations (
    id        uuid PRIMARY KEY,
    code      text    NOT NULL UNIQUE,
    name      text    NOT NULL,
    kind      text    NOT NULL,
    parent_id uuid,
    archived  boolean NOT NULL DEFAULT false,
    feed_seq  bigint  NOT NULL
);

CREATE TABLE products (
    id             uuid PRIMARY KEY,
    sku            text    NOT NULL UNIQUE,
    name           text    NOT NULL,
    barcode        text UNIQUE,
    unit           text    NOT NULL,
    unit_scale     bigint  NOT NULL,
    reorder_point  bigint  NOT NULL DEFAULT 0,
    reorder_qty    bigint  NOT NULL DEFAULT 0,
    cost_minor     bigint  NOT NULL DEFAULT 0,
    price_minor    bigint  NOT NULL DEFAULT 0,
    archived       boolean NOT NULL DEFAULT false,
    negative_stock text,
    feed_seq       bigint  NOT NULL
);

CREATE INDEX products_feed ON products (feed_seq);
CREATE INDEX locations_feed ON locations (feed_seq);

CREATE TABLE catalog_audit (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity     text   NOT NULL,
    entity_id  uuid   NOT NULL,
    field      text   NOT NULL,
    old_value  text,
    new_value  text,
    user_id    uuid   NOT NULL,
    device_id  uuid,
    changed_at bigint NOT NULL
);

-- Accepted movements, in feed order.
CREATE TABLE movements (
    server_seq       bigint PRIMARY KEY,
    id               uuid   NOT NULL UNIQUE,
    device_id        uuid   NOT NULL,
    device_seq       bigint NOT NULL,
    user_id          uuid   NOT NULL,
    kind             text   NOT NULL,
    product_id       uuid   NOT NULL REFERENCES products (id),
    location_id      uuid   NOT NULL REFERENCES locations (id),
    delta            bigint,
    counted_qty      bigint,
    reason           text,
    note             text,
    ref              text,
    peer_location_id uuid,
    occurred_at      bigint NOT NULL,
    recorded_at      bigint NOT NULL,
    qty_before       bigint NOT NULL,
    qty_after        bigint NOT NULL,
    voided_by        uuid,
    UNIQUE (device_id, device_seq)
);

CREATE INDEX movements_pair ON movements (product_id, location_id, occurred_at, id);
CREATE INDEX movements_ref ON movements (ref) WHERE ref IS NOT NULL;

-- Every pushed movement's outcome (JSON text), accepted or rejected, written in the same
-- transaction as the movement: a replay returns it. A rejection still uses its device_seq. One
-- movement id may stand under two (device, seq) pairs: a device that registered anew re-sequences
-- movements the server already holds, and each keeps its first outcome.
CREATE TABLE received (
    device_id   uuid   NOT NULL,
    device_seq  bigint NOT NULL,
    movement_id uuid   NOT NULL,
    outcome     text   NOT NULL,
    PRIMARY KEY (device_id, device_seq)
);

CREATE INDEX received_movement ON received (movement_id);

CREATE TABLE levels (
    product_id     uuid   NOT NULL,
    location_id    uuid   NOT NULL,
    on_hand        bigint NOT NULL,
    anchor_id      uuid,
    anchor_at      bigint,
    anchor_counted bigint,
    latest_at      bigint,
    latest_id      uuid,
    movement_count bigint NOT NULL DEFAULT 0,
    digest         bytea  NOT NULL,
    PRIMARY KEY (product_id, location_id)
);

CREATE TABLE alerts (
    id          uuid PRIMARY KEY,
    kind        text   NOT NULL,
    product_id  uuid   NOT NULL,
    location_id uuid   NOT NULL,
    quantity    bigint NOT NULL,
    movement_id uuid,
    message     text   NOT NULL,
    raised_at   bigint NOT NULL,
    resolved_by uuid,
    resolved_at bigint,
    feed_seq    bigint NOT NULL
);

CREATE INDEX alerts_feed ON alerts (feed_seq);
CREATE INDEX alerts_open ON alerts (kind, product_id, location_id) WHERE resolved_at IS NULL;

-- Fixed-window counters for rate limits (login per user and per address), shared by every
-- instance that uses this database.
CREATE TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start bigint NOT NULL,
    count        bigint NOT NULL
);
