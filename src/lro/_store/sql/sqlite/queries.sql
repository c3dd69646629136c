-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS lro_migrations (
    number INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    applied_time_us INTEGER NOT NULL
)

-- name: migrations_table_exists
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lro_migrations'

-- name: applied_migrations
SELECT number FROM lro_migrations

-- name: record_migration
INSERT INTO lro_migrations (number, file_name, applied_time_us)
VALUES (:number, :file_name, :applied_time_us)

-- name: insert_operation
INSERT INTO lro_operations (
    name, operation, done, error_code, metadata_type, state, resume_point,
    resume_target, create_time_us, update_time_us, version, attempts, last_error,
    wait_timed_out, trace_context, request_id
) VALUES (
    :name, :operation, :done, :error_code, :metadata_type, :state, :resume_point,
    :resume_target, :create_time_us, :update_time_us, :version, :attempts, :last_error,
    :wait_timed_out, :trace_context, :request_id
)
-- Taken name or request id (lro_operations_by_request_id): no row; the store says which.
ON CONFLICT DO NOTHING

-- name: get_operation
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE name = :name

-- name: get_operations
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE name IN (SELECT value FROM json_each(:names))

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

-- name: operation_by_request
-- The operation that a request id created in a collection (AIP-155).
SELECT name FROM lro_operations
WHERE collection = :collection AND request_id = :request_id

-- name: operation_exists
SELECT 1 FROM lro_operations WHERE name = :name

-- name: delete_operation
DELETE FROM lro_operations WHERE name = :name

-- name: list_operations
-- One keyset page; the filter comment below becomes the compiled filter (parameters only).
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE collection = :collection
  AND (create_time_us, name) > (:after_time_us, :after_name)
  AND /*filter*/
ORDER BY create_time_us, name
LIMIT :limit

-- name: insert_setting
INSERT INTO lro_settings (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING

-- name: get_setting
SELECT value FROM lro_settings WHERE name = :name
