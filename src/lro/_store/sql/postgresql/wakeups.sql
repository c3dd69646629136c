-- The wake-up verbs on PostgreSQL (see lro._store.base.WakeupStore). Times come from
-- the database's clock, so that workers on several machines agree on them, unless the
-- store has a clock of its own (a test's fake clock): then %(now_us)s is that clock's
-- now; it is NULL otherwise.

-- name: now_us
SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT AS now_us

-- name: lock_running_children
-- Run in schedule's transaction, before the wake-up is written. FOR SHARE waits for a
-- child that is being finished, and makes a child finished later wait for this
-- transaction, so that its trigger sees the wake-up: no finish is missed. The count is
-- the wake-up's running_children, which each finish counts down (migration 0004).
SELECT count(*) FILTER (WHERE NOT done) AS running
FROM (
    SELECT done FROM lro_operations WHERE name = ANY(%(children)s) FOR SHARE
) AS children

-- name: upsert_wakeup
INSERT INTO lro_wakeups (
    name, due_time_us, ready_time_us, deadline_us, children, child_endpoint,
    poll_frequency_us, target_kind, target, target_endpoint, pinned_to, schedule_time_us,
    running_children
) VALUES (
    %(name)s, %(due_time_us)s, %(ready_time_us)s, %(deadline_us)s, %(children)s,
    %(child_endpoint)s, %(poll_frequency_us)s, %(target_kind)s, %(target)s,
    %(target_endpoint)s, %(pinned_to)s, %(schedule_time_us)s, %(running_children)s
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
    running_children = excluded.running_children,
    lease_owner = '',
    lease_token = '',
    lease_expires_us = 0
RETURNING *

-- name: forget_children
DELETE FROM lro_wakeup_children WHERE parent = %(name)s

-- name: remember_children
INSERT INTO lro_wakeup_children (child, parent)
SELECT DISTINCT unnest(%(children)s::TEXT[]), %(name)s
ON CONFLICT DO NOTHING

-- name: claim_wakeups
-- One statement: leases the due rows nobody holds, skipping rows that another worker
-- is claiming at this moment. Now (the given now_us, else statement_timestamp()) is
-- stable within the statement, so the due-time condition is an index range: the rows
-- read are the due ones.
UPDATE lro_wakeups AS w
SET lease_owner = %(owner)s,
    lease_token = replace(gen_random_uuid()::TEXT, '-', ''),
    lease_expires_us = %(lease_us)s
        + COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT),
    claims = w.claims + 1
WHERE w.name IN (
    SELECT ready.name
    FROM lro_wakeups AS ready
    WHERE ready.due_time_us
          <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
      AND ready.lease_expires_us
          <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
      AND (ready.pinned_to = '' OR ready.pinned_to = %(pinned_to)s)
      AND (ready.target_kind <> 'handler' OR ready.target = ANY(%(handlers)s))
    ORDER BY ready.due_time_us
    LIMIT %(limit)s
    FOR UPDATE OF ready SKIP LOCKED
)
RETURNING w.*

-- name: claim_wakeup
-- The resume endpoint's claim of one wake-up: only if it is due, nobody holds it, it is
-- pinned to the task that calls and it resumes the handler called. A claim that runs at
-- the same time waits for the row lock, then sees the lease and takes nothing.
UPDATE lro_wakeups
SET lease_owner = %(owner)s,
    lease_token = replace(gen_random_uuid()::TEXT, '-', ''),
    lease_expires_us = %(lease_us)s
        + COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT),
    claims = claims + 1
WHERE name = %(name)s
  AND pinned_to = %(pinned_to)s
  AND target_kind = 'handler'
  AND target = %(handler)s
  AND due_time_us
      <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
  AND lease_expires_us
      <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
RETURNING *

-- name: renew_wakeups
UPDATE lro_wakeups
SET lease_expires_us = %(lease_us)s
    + COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
WHERE lease_token = ANY(%(tokens)s)
RETURNING lease_token

-- name: postpone_wakeup
UPDATE lro_wakeups
SET due_time_us = %(delay_us)s
        + COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT),
    lease_owner = '',
    lease_token = '',
    lease_expires_us = 0
WHERE name = %(name)s AND lease_token = %(lease_token)s

-- name: count_failure
UPDATE lro_operations
SET attempts = attempts + 1,
    last_error = %(last_error)s,
    version = version + 1,
    update_time_us
        = COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
WHERE name = %(name)s
  AND EXISTS (
      SELECT 1 FROM lro_wakeups WHERE name = %(name)s AND lease_token = %(lease_token)s
  )

-- name: finish_wakeup
DELETE FROM lro_wakeups WHERE name = %(name)s AND lease_token = %(lease_token)s

-- name: release_wakeups
UPDATE lro_wakeups
SET lease_owner = '', lease_token = '', lease_expires_us = 0
WHERE lease_token = ANY(%(tokens)s)

-- name: get_wakeup
SELECT * FROM lro_wakeups WHERE name = %(name)s

-- name: unserved_handlers
-- The handlers that wake-ups due for more than %(overdue_us)s, and held by nobody,
-- wait for, other than %(handlers)s: a worker reports them, since maybe no worker has them.
SELECT DISTINCT target
FROM lro_wakeups
WHERE due_time_us
      <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
          - %(overdue_us)s
  AND lease_expires_us
      <= COALESCE(%(now_us)s, (extract(epoch FROM statement_timestamp()) * 1000000)::BIGINT)
  AND target_kind = 'handler'
  AND NOT (target = ANY(%(handlers)s))
LIMIT %(limit)s
