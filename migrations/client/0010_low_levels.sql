-- SmartStock local ledger, schema version 10: the stock table's level filters ("low stock",
-- "negative", "in transit") without reading every level.
--
-- * low_levels: the levels at or below their product's reorder point (a reorder point of 0 means
--   none), the same rule that raises a low-stock alert. Kept by triggers on levels (a level
--   written or changed) and on products (a reorder point changed); keyed by the products rowid,
--   like product_pairs, so that counting the low rows of the table reads one short row each.
--   Before it, the filter joined every level to its product: 100k products × 5 locations, about
--   400 ms for each page and count.
-- * levels_negative: the levels below zero (partial index), for the "negative" filter.
-- * movements_transfer_out: the dispatches of transfers (partial index), in dispatch order: the
--   transfers in transit are among them. Before it, the "in transit" filter looked for a live
--   dispatch of each level's product (1.5 s a page), and the list of transfers to receive read
--   every movement.

CREATE TABLE low_levels (
    product_rowid INTEGER NOT NULL,
    location_id   BLOB    NOT NULL,
    PRIMARY KEY (product_rowid, location_id)
) STRICT, WITHOUT ROWID;

INSERT INTO low_levels (product_rowid, location_id)
SELECT p.rowid, l.location_id FROM levels l JOIN products p ON p.id = l.product_id
WHERE p.reorder_point > 0 AND l.on_hand <= p.reorder_point;

CREATE TRIGGER low_levels_insert AFTER INSERT ON levels
BEGIN
    INSERT OR IGNORE INTO low_levels (product_rowid, location_id)
    SELECT rowid, new.location_id FROM products
    WHERE id = new.product_id AND reorder_point > 0 AND new.on_hand <= reorder_point;
END;

CREATE TRIGGER low_levels_update AFTER UPDATE OF on_hand ON levels
WHEN old.on_hand <> new.on_hand
BEGIN
    DELETE FROM low_levels
    WHERE product_rowid = (SELECT rowid FROM products WHERE id = old.product_id) AND location_id = old.location_id;
    INSERT OR IGNORE INTO low_levels (product_rowid, location_id)
    SELECT rowid, new.location_id FROM products
    WHERE id = new.product_id AND reorder_point > 0 AND new.on_hand <= reorder_point;
END;

CREATE TRIGGER low_levels_delete AFTER DELETE ON levels
BEGIN
    DELETE FROM low_levels
    WHERE product_rowid = (SELECT rowid FROM products WHERE id = old.product_id) AND location_id = old.location_id;
END;

CREATE TRIGGER low_levels_reorder_point AFTER UPDATE OF reorder_point ON products
WHEN old.reorder_point <> new.reorder_point
BEGIN
    DELETE FROM low_levels WHERE product_rowid = new.rowid;
    INSERT INTO low_levels (product_rowid, location_id)
    SELECT new.rowid, location_id FROM levels
    WHERE product_id = new.id AND new.reorder_point > 0 AND on_hand <= new.reorder_point;
END;

CREATE TRIGGER low_levels_product_delete AFTER DELETE ON products
BEGIN
    DELETE FROM low_levels WHERE product_rowid = old.rowid;
END;

CREATE INDEX levels_negative ON levels (location_id) WHERE on_hand < 0;

CREATE INDEX movements_transfer_out ON movements (occurred_at, id) WHERE kind = 'transfer_out';
