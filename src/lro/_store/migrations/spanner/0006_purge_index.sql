-- Retention: a purge picks the done operations of a collection last updated before a
-- time (Spanner has no partial index: done leads, so the done rows are one range).
CREATE INDEX lro_operations_purgeable
    ON lro_operations (collection, done, update_time_us)
