-- The wake-up verbs on SQLite (see lro._store.base.WakeupStore). Times are the store's
-- clock, passed in as :now_us; one writer at a time (write transactions begin
-- IMMEDIATE) makes each claim exclusive.

-- name: lock_running_children
-- Run in schedule's transaction, which holds SQLite's one write lock: no child can
-- finish between this count and the wake-up's write.
SELECT count(*) AS running FROM lro_operations
WHERE name IN (SELECT value FROM json_each(:children)) AND done = 0

-- name: upsert_wakeup
INSERT INTO lro_wakeups (
    name, due_time_us, ready_time_us, deadline_us, children, child_endpoint,
    poll_frequency_us, target_kind, target, target_endpoint, pinned_to, schedule_time_us
) VALUES (
    :name, :due_time_us, :ready_time_us, :deadline_us, :children, :child_endpoint,
    :poll_frequency_us, :target_kind, :target, :target_endpoint, :pinned_to,
    :schedule_time_us
)
ON CONFLICT (name) DO UPDATE SET
    due_time_us = excluded.due_time_us,
    ready_time_us = excluded.ready_time_us,
    deadline_us = excluded.deadline_us,
    children = excluded.children,
    child_endpoint = excluded.child_endpoint,
    poll_frequency_us = excluded.poll_frequency_us,
    target_kind = excluded.target_kind,
    target = excluded.target,
    target_endpoint = excluded.target_endpoint,
    pinned_to = excluded.pinned_to,
    schedule_time_us = excluded.schedule_time_us,
    lease_owner = '',
    lease_token = '',
    lease_expires_us = 0
RETURNING *

-- name: forget_children
DELETE FROM lro_wakeup_children WHERE parent = :name

-- name: remember_children
INSERT OR IGNORE INTO lro_wakeup_children (child, parent)
SELECT value, :name FROM json_each(:children)

-- name: claim_wakeups
-- One statement: picks the due rows that nobody holds a live lease on, and leases them.
-- A wait for children here is due only once they are done (or at its deadline), so
-- the rows read are the due ones, however many wait.
UPDATE lro_wakeups
SET lease_owner = :owner,
    lease_token = lower(hex(randomblob(12))),
    lease_expires_us = :now_us + :lease_us,
    claims = claims + 1
WHERE name IN (
    SELECT name
    FROM lro_wakeups
    WHERE due_time_us <= :now_us
      AND lease_expires_us <= :now_us
      AND (pinned_to = '' OR pinned_to = :pinned_to)
      AND (target_kind != 'handler' OR target IN (SELECT value FROM json_each(:handlers)))
    ORDER BY due_time_us
    LIMIT :limit
)
RETURNING *

-- name: claim_wakeup
-- The resume endpoint's claim of one wake-up: only if it is due, nobody holds it, it is
-- pinned to the task that calls and it resumes the handler called.
UPDATE lro_wakeups
SET lease_owner = :owner,
    lease_token = lower(hex(randomblob(12))),
    lease_expires_us = :now_us + :lease_us,
    claims = claims + 1
WHERE name = :name
  AND pinned_to = :pinned_to
  AND target_kind = 'handler'
  AND target = :handler
  AND due_time_us <= :now_us
  AND lease_expires_us <= :now_us
RETURNING *

-- name: renew_wakeups
UPDATE lro_wakeups
SET lease_expires_us = :now_us + :lease_us
WHERE lease_token IN (SELECT value FROM json_each(:tokens))
RETURNING lease_token

-- name: postpone_wakeup
UPDATE lro_wakeups
SET due_time_us = :now_us + :delay_us, lease_owner = '', lease_token = '', lease_expires_us = 0
WHERE name = :name AND lease_token = :lease_token

-- name: count_failure
UPDATE lro_operations
SET attempts = attempts + 1,
    last_error = :last_error,
    version = version + 1,
    update_time_us = :now_us
WHERE name = :name
  AND EXISTS (SELECT 1 FROM lro_wakeups WHERE name = :name AND lease_token = :lease_token)

-- name: finish_wakeup
DELETE FROM lro_wakeups WHERE name = :name AND lease_token = :lease_token

-- name: release_wakeups
UPDATE lro_wakeups
SET lease_owner = '', lease_token = '', lease_expires_us = 0
WHERE lease_token IN (SELECT value FROM json_each(:tokens))

-- name: get_wakeup
SELECT * FROM lro_wakeups WHERE name = :name

-- name: unserved_handlers
-- The handlers that wake-ups due for more than :overdue_us, and held by nobody, wait
-- for, other than :handlers: a worker reports them, since maybe no worker has them.
SELECT DISTINCT target
FROM lro_wakeups
WHERE due_time_us <= :now_us - :overdue_us
  AND lease_expires_us <= :now_us
  AND target_kind = 'handler'
  AND target NOT IN (SELECT value FROM json_each(:handlers))
LIMIT :limit
