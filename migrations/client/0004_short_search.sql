-- SmartStock local ledger, schema version 4: searches of one or two characters at keystroke speed.
--
-- Such texts are too short for the trigram index of names (product_names), so they test every
-- product. products_search holds what the test reads (SKU, name, barcode, archived) in SKU
-- order: the stock table's first page is a walk of this index that stops after its products,
-- and a text that matches nothing reads this index instead of the whole products table (whose
-- rows also carry ids, units, prices and policies).

CREATE INDEX products_search ON products (sku, name, barcode, archived);
