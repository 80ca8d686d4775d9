-- SmartStock local ledger, schema version 5: the field stamps of a product or location in one
-- row (DESIGN.md, "Catalog edits"). A first sync of 100k products wrote 1.2M stamp rows, one per
-- field; most fields of a row carry the same stamp (the edit that created it), so the row keeps
-- each distinct stamp once with the fields it covers:
--
--   [[hlc_wall, hlc_counter, "device id", "user id", ["field", …]], …]
--
-- (ids in hex; see `catalog_sync::encode_stamps`).

CREATE TABLE catalog_row_stamps (
    entity_id BLOB PRIMARY KEY,
    stamps    TEXT NOT NULL CHECK (json_valid(stamps))
) STRICT, WITHOUT ROWID;

INSERT INTO catalog_row_stamps (entity_id, stamps)
SELECT entity_id, json_group_array(json(stamp))
FROM (
    SELECT entity_id,
           json_array(hlc_wall, hlc_counter, lower(hex(device_id)), lower(hex(user_id)), json_group_array(field)) AS stamp
    FROM catalog_stamps
    GROUP BY entity_id, hlc_wall, hlc_counter, device_id, user_id
)
GROUP BY entity_id;

DROP TABLE catalog_stamps;
