-- Accepted movements keep their outcome on their own row; a replay rebuilds a flagged outcome
-- from the first alert the movement raised, found by this index.
CREATE INDEX alerts_movement ON alerts (movement_id, feed_seq) WHERE movement_id IS NOT NULL;
