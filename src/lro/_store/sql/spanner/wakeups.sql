-- The wake-up verbs on Spanner (see lro._store.base.WakeupStore). Each runs in one
-- read-write transaction; times are the store's clock, passed in as @now_us.

-- name: ready_wakeups
-- The one query of a claim: the due rows nobody holds, earliest due first. It runs in
-- the claim's read-write transaction, which then leases them with mutations; its locks
-- make the claim exclusive (of two claims that read one row, one is aborted and
-- retried, and then sees the lease).
SELECT {columns}
FROM lro_wakeups@{{FORCE_INDEX=lro_wakeups_by_due_time}}
WHERE due_time_us <= @now_us
  AND lease_expires_us <= @now_us
  AND (pinned_to = '' OR pinned_to = @pinned_to)
  AND (target_kind != 'handler' OR target IN UNNEST(@handlers))
ORDER BY due_time_us
LIMIT @limit

-- name: renew_wakeups
UPDATE lro_wakeups
SET lease_expires_us = @until_us
WHERE lease_token IN UNNEST(@tokens)
THEN RETURN lease_token

-- name: postpone_wakeup
UPDATE lro_wakeups
SET due_time_us = @due_time_us, lease_owner = '', lease_token = '', lease_expires_us = 0
WHERE name = @name AND lease_token = @lease_token

-- name: count_failure
UPDATE lro_operations
SET attempts = attempts + 1,
    last_error = @last_error,
    version = version + 1,
    update_time_us = @now_us
WHERE name = @name
  AND EXISTS (SELECT 1 FROM lro_wakeups WHERE name = @name AND lease_token = @lease_token)

-- name: finish_wakeup
DELETE FROM lro_wakeups
WHERE name = @name AND lease_token = @lease_token
THEN RETURN children

-- name: release_wakeups
UPDATE lro_wakeups
SET lease_owner = '', lease_token = '', lease_expires_us = 0
WHERE lease_token IN UNNEST(@tokens)

-- name: unserved_handlers
-- The handlers that wake-ups due since before @before_us, and held by nobody, wait
-- for, other than @handlers: a worker reports them, since maybe no worker has them.
SELECT DISTINCT target
FROM lro_wakeups@{FORCE_INDEX=lro_wakeups_by_due_time}
WHERE due_time_us <= @before_us
  AND lease_expires_us <= @now_us
  AND target_kind = 'handler'
  AND target NOT IN UNNEST(@handlers)
LIMIT @limit
