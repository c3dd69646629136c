-- Retention on SQLite (see lro._store.retention): each batch is one statement, run
-- under the one write lock, so no operation can finish or change between the choice of
-- a row and its deletion. The trigger lro_forget_wakeup removes the deleted operations'
-- wake-ups. A done operation that a pending wait still waits for (a row in
-- lro_wakeup_children) is kept. /*filter*/ becomes the
-- collection's condition (none for all collections) and the compiled AIP-160 filter.

-- name: purge_operations
DELETE FROM lro_operations
WHERE name IN (
    SELECT name
    FROM lro_operations
    WHERE done = 1
      AND update_time_us < :before_us
      AND NOT EXISTS (SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = lro_operations.name)
      AND /*filter*/
    LIMIT :limit
)
RETURNING name

-- name: count_purgeable
SELECT count(*) AS purgeable
FROM lro_operations
WHERE done = 1
  AND update_time_us < :before_us
  AND NOT EXISTS (SELECT 1 FROM lro_wakeup_children AS w WHERE w.child = lro_operations.name)
  AND /*filter*/
