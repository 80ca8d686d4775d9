-- SmartStock local ledger, schema version 9: the trigram index of product names goes.
--
-- The stock search reads names from the store's in-memory copy of the catalog text
-- (crates/store/src/search_index.rs). The trigram index served only a search matching thousands
-- of products in a view other than SKU order, where a walk of that view's order with LIKE finds
-- the page as quickly. Every product written (a first pull of 100k, an import) still paid for
-- its triggers and the index took space in every ledger.

DROP TRIGGER IF EXISTS product_names_insert;
DROP TRIGGER IF EXISTS product_names_update;
DROP TRIGGER IF EXISTS product_names_delete;
DROP TABLE IF EXISTS product_names;
