-- Rate-limit counters are checked on every API request: keep them out of the write-ahead log.
-- Losing them in a crash only resets the current one-minute windows.
ALTER TABLE rate_limits SET UNLOGGED;
