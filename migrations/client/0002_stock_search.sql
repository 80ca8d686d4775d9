-- SmartStock local ledger, schema version 2: the stock table's search and count at keystroke
-- speed on large catalogs (100k products × several locations).
--
-- * products_sku_nocase: SKU prefix search (ASCII case-insensitive, like the LIKE it replaces)
--   as an index range.
-- * product_names: trigram full-text index of product names (FTS5, external content = products,
--   keyed by the products rowid), for "name contains" searches of 3 characters or more.
-- * product_pairs: how many levels (product × location rows) each product has, kept by a trigger,
--   so that counting the matching rows of the stock table reads one row per matching product
--   instead of joining every level.
-- Both derived tables are keyed by the products rowid; the desktop never runs VACUUM (which may
-- renumber rowids). Should it ever, `INSERT INTO product_names(product_names) VALUES ('rebuild')`
-- and a recount of product_pairs rebuild them.

CREATE INDEX products_sku_nocase ON products (sku COLLATE NOCASE);

CREATE VIRTUAL TABLE product_names USING fts5 (name, content = 'products', tokenize = 'trigram');
INSERT INTO product_names (product_names) VALUES ('rebuild');

CREATE TRIGGER product_names_insert AFTER INSERT ON products
BEGIN
    INSERT INTO product_names (rowid, name) VALUES (new.rowid, new.name);
END;

CREATE TRIGGER product_names_update AFTER UPDATE OF name ON products
BEGIN
    INSERT INTO product_names (product_names, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO product_names (rowid, name) VALUES (new.rowid, new.name);
END;

CREATE TRIGGER product_names_delete AFTER DELETE ON products
BEGIN
    INSERT INTO product_names (product_names, rowid, name) VALUES ('delete', old.rowid, old.name);
END;

CREATE TABLE product_pairs (
    product_rowid INTEGER PRIMARY KEY,
    pairs         INTEGER NOT NULL CHECK (pairs >= 0)
) STRICT;

INSERT INTO product_pairs (product_rowid, pairs)
SELECT p.rowid, COUNT(*) FROM levels l JOIN products p ON p.id = l.product_id GROUP BY p.rowid;

-- An upsert that updates an existing level fires no AFTER INSERT trigger: only new pairs count.
CREATE TRIGGER product_pairs_insert AFTER INSERT ON levels
BEGIN
    INSERT INTO product_pairs (product_rowid, pairs)
    SELECT rowid, 1 FROM products WHERE id = new.product_id
    ON CONFLICT (product_rowid) DO UPDATE SET pairs = pairs + 1;
END;

CREATE TRIGGER product_pairs_delete AFTER DELETE ON levels
BEGIN
    UPDATE product_pairs SET pairs = pairs - 1
    WHERE product_rowid = (SELECT rowid FROM products WHERE id = old.product_id);
END;
