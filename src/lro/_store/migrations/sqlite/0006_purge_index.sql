-- Retention: a purge picks the done operations last updated before a time (of one
-- collection, or of all). This index holds only done operations, so running ones cost
-- it nothing, and a batch reads the oldest candidates without scanning the table.
CREATE INDEX lro_operations_purgeable ON lro_operations (update_time_us) WHERE done = 1;
