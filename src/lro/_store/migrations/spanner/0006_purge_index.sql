-- Retention: a purge picks the done operations last updated before a time (of one
-- collection, or of all). Spanner has no partial index: done leads, so the done rows
-- are one range of it.
CREATE INDEX lro_operations_purgeable ON lro_operations (done, update_time_us)
