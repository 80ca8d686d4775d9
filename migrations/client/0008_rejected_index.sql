-- SmartStock local ledger, schema version 8: rejected movements found without reading the ledger.
--
-- The sync status, always on screen, shows how many movements the server rejected. The only
-- index on sync_state held the pending rows, so finding the rejected ones read every movement
-- (about 0.1 s for 500k). Rejections are rare: this partial index stays tiny, and lists them
-- newest first for the inbox.

CREATE INDEX movements_rejected ON movements (seq) WHERE sync_state = 'rejected';
