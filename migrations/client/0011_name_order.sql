-- SmartStock local ledger, schema version 11: the stock table in name order, walked in that order.
--
-- The table sorts by name (case-insensitive), then SKU. products_name held the name alone, so a
-- page in name order at one location sorted every level there (100k products: about 120 ms);
-- with the SKU in the index, the products are read in the table's order and a page stops after
-- its rows (under 1 ms).

DROP INDEX products_name;
CREATE INDEX products_name ON products (name COLLATE NOCASE, sku);
