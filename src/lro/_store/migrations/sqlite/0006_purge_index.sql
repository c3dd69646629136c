-- Retention: a purge picks the done operations of a collection last updated before a
-- time. This index holds only done operations, so running ones cost it nothing, and a
-- batch reads the oldest candidates without scanning the collection.
CREATE INDEX lro_operations_purgeable
    ON lro_operations (collection, update_time_us) WHERE done = 1;
