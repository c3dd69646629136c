-- name: lock_migrations
-- Serializes migrations of one schema across processes; released at commit.
SELECT pg_advisory_xact_lock(7107183, hashtext(%(schema)s))

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS lro_migrations (
    number INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    applied_time_us BIGINT NOT NULL
)

-- name: applied_migrations
SELECT number FROM lro_migrations

-- name: record_migration
INSERT INTO lro_migrations (number, file_name, applied_time_us)
VALUES (%(number)s, %(file_name)s, %(applied_time_us)s)

-- name: current_schema
SELECT current_schema() AS schema

-- name: operations_schema
SELECT n.nspname AS schema
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = 'lro_operations'::regclass

-- name: insert_operation
INSERT INTO lro_operations (
    name, operation, done, error_code, metadata_type, state, resume_point,
    resume_target, create_time_us, update_time_us, version, attempts, last_error,
    wait_timed_out, trace_context, request_id
) VALUES (
    %(name)s, %(operation)s, %(done)s, %(error_code)s, %(metadata_type)s, %(state)s,
    %(resume_point)s, %(resume_target)s, %(create_time_us)s, %(update_time_us)s,
    %(version)s, %(attempts)s, %(last_error)s, %(wait_timed_out)s,
    %(trace_context)s, %(request_id)s
)
-- Taken name or request id (lro_operations_by_request_id): no row; the store says which.
ON CONFLICT DO NOTHING

-- name: get_operation
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE name = %(name)s

-- name: get_operations
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE name = ANY(%(names)s)

-- name: update_operation
UPDATE lro_operations
SET operation = %(operation)s,
    done = %(done)s,
    error_code = %(error_code)s,
    metadata_type = %(metadata_type)s,
    state = %(state)s,
    resume_point = %(resume_point)s,
    resume_target = %(resume_target)s,
    update_time_us = %(update_time_us)s,
    version = %(version)s,
    attempts = %(attempts)s,
    last_error = %(last_error)s,
    wait_timed_out = %(wait_timed_out)s
WHERE name = %(name)s AND version = %(expected_version)s

-- name: operation_by_request
-- The operation that a request id created in a collection (AIP-155).
SELECT name FROM lro_operations
WHERE collection = %(collection)s AND request_id = %(request_id)s

-- name: operation_exists
SELECT 1 FROM lro_operations WHERE name = %(name)s

-- name: delete_operation
DELETE FROM lro_operations WHERE name = %(name)s

-- name: list_operations
-- One keyset page; /*filter*/ becomes the compiled filter (parameters only).
SELECT name, operation, state, resume_point, resume_target, create_time_us,
       update_time_us, version, attempts, last_error, wait_timed_out, trace_context,
       request_id
FROM lro_operations
WHERE collection = %(collection)s
  AND (create_time_us, name) > (%(after_time_us)s, %(after_name)s)
  AND /*filter*/
ORDER BY create_time_us, name
LIMIT %(limit)s

-- name: insert_setting
INSERT INTO lro_settings (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO NOTHING

-- name: get_setting
SELECT value FROM lro_settings WHERE name = %(name)s
