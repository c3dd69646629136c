-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS lro_migrations (
    number INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    applied_time_us INTEGER NOT NULL
)

-- name: applied_migrations
SELECT number FROM lro_migrations

-- name: record_migration
INSERT INTO lro_migrations (number, file_name, applied_time_us) VALUES (?, ?, ?)

-- name: insert_operation
INSERT INTO lro_operations (
    name, operation, done, error_code, metadata_type, state, resume_point,
    resume_target, create_time_us, update_time_us, version, attempts, last_error,
    wait_timed_out, trace_context
) VALUES (
    :name, :operation, :done, :error_code, :metadata_type, :state, :resume_point,
    :resume_target, :create_time_us, :update_time_us, :version, :attempts, :last_error,
    :wait_timed_out, :trace_context
)

-- name: get_operation
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context
FROM lro_operations
WHERE name = ?

-- name: get_operations
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context
FROM lro_operations
WHERE name IN (SELECT value FROM json_each(?))

-- name: update_operation
UPDATE lro_operations
SET operation = :operation,
    done = :done,
    error_code = :error_code,
    metadata_type = :metadata_type,
    state = :state,
    resume_point = :resume_point,
    resume_target = :resume_target,
    update_time_us = :update_time_us,
    version = :version,
    attempts = :attempts,
    last_error = :last_error,
    wait_timed_out = :wait_timed_out
WHERE name = :name AND version = :expected_version

-- name: operation_exists
SELECT 1 FROM lro_operations WHERE name = ?

-- name: delete_operation
DELETE FROM lro_operations WHERE name = ?

-- name: count_running_children
SELECT count(*) FROM lro_operations
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
SET lease_expires_us = :until_us
WHERE lease_token IN (SELECT value FROM json_each(:tokens))
RETURNING lease_token

-- name: postpone_wakeup
UPDATE lro_wakeups
SET due_time_us = :due_time_us, lease_owner = '', lease_token = '', lease_expires_us = 0
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
SELECT * FROM lro_wakeups WHERE name = ?
-- name: list_operations
-- One keyset page; the filter comment below becomes the compiled filter (parameters only).
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context
FROM lro_operations
WHERE collection = :collection
  AND (create_time_us, name) > (:after_time_us, :after_name)
  AND /*filter*/
ORDER BY create_time_us, name
LIMIT :limit

-- name: insert_setting
INSERT INTO lro_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING

-- name: get_setting
SELECT value FROM lro_settings WHERE name = ?

-- name: unserved_handlers
-- The handlers that wake-ups due since before :before_us, and held by nobody, wait
-- for, other than :handlers: a worker reports them, since maybe no worker has them.
SELECT DISTINCT target
FROM lro_wakeups
WHERE due_time_us <= :before_us
  AND lease_expires_us <= :now_us
  AND target_kind = 'handler'
  AND target NOT IN (SELECT value FROM json_each(:handlers))
LIMIT :limit
