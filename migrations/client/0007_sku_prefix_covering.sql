-- SmartStock local ledger, schema version 7: a SKU prefix read in SKU order without the table.
--
-- A long search's page reads the products whose SKU starts with the text from
-- products_sku_nocase (a case-insensitive range) and keeps the first ones in SKU order that are
-- not archived. With `archived` in the index, that read never touches the table rows: a prefix
-- like "HW-" matching a sixth of a 100k catalog costs one pass over its index entries.

DROP INDEX products_sku_nocase;
CREATE INDEX products_sku_nocase ON products (sku COLLATE NOCASE, archived);
