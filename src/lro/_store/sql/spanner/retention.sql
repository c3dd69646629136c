-- Retention on Spanner, lro's own table (see lro._store.retention). A batch runs in one
-- read-write transaction: the names read here are locked until it commits, so a writer
-- that changes one meanwhile waits or aborts (serializable), and no operation changes
-- between this read and its deletion. A done operation that a pending wait still
-- waits for (a row in lro_wakeup_children) is kept. /*filter*/ becomes the collection's
-- condition (none for all collections) and the compiled AIP-160 filter.

-- name: purgeable_operations
SELECT o.name
FROM lro_operations@{FORCE_INDEX=lro_operations_purgeable} AS o
WHERE o.done
  AND o.update_time_us < @before_us
  AND NOT EXISTS (SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = o.name)
  AND /*filter*/
LIMIT @limit

-- name: count_purgeable
SELECT COUNT(*)
FROM lro_operations@{FORCE_INDEX=lro_operations_purgeable} AS o
WHERE o.done
  AND o.update_time_us < @before_us
  AND NOT EXISTS (SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = o.name)
  AND /*filter*/
