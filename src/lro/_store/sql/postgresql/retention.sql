-- Retention on PostgreSQL (see lro._store.retention). Each batch is one statement in
-- its own transaction. The inner query locks the rows it picks (FOR UPDATE) and skips
-- those that a writer holds now (SKIP LOCKED), so the purge never waits for a writer
-- nor a writer long for the purge; a row that a writer changed since the statement's
-- snapshot is re-read under the lock and kept unless it still matches (EvalPlanQual),
-- and the outer conditions are checked again on the row deleted. The trigger
-- lro_operations_forget_wakeup removes the deleted operations' wake-ups. A done
-- operation that a pending wait still waits for (a row in lro_wakeup_children) is kept.
-- /*filter*/ becomes the collection's condition (none for all collections) and the
-- compiled AIP-160 filter.

-- name: purge_operations
DELETE FROM lro_operations AS purged
WHERE purged.name IN (
    SELECT name
    FROM lro_operations
    WHERE done
      AND update_time_us < %(before_us)s
      AND NOT EXISTS (
          SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = lro_operations.name
      )
      AND /*filter*/
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
  AND purged.done
  AND purged.update_time_us < %(before_us)s
RETURNING purged.name

-- name: count_purgeable
SELECT count(*) AS purgeable
FROM lro_operations
WHERE done
  AND update_time_us < %(before_us)s
  AND NOT EXISTS (
      SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = lro_operations.name
  )
  AND /*filter*/
