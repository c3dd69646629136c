-- name: create_migrations_table
CREATE TABLE lro_migrations (
    number INT64 NOT NULL,
    file_name STRING(MAX) NOT NULL,
    applied_time_us INT64 NOT NULL
) PRIMARY KEY (number)

-- name: table_columns
SELECT column_name
FROM information_schema.columns
WHERE table_schema = '' AND table_name = @table_name

-- name: applied_migrations
SELECT number FROM lro_migrations

-- name: list_own
-- One keyset page of lro's own table; /*filter*/ becomes the compiled filter.
SELECT {columns}
FROM lro_operations@{{FORCE_INDEX=lro_operations_by_collection}}
WHERE collection = @collection
  AND (create_time_us > @after_time_us
       OR (create_time_us = @after_time_us AND name > @after_name))
  AND /*filter*/
ORDER BY create_time_us, name
LIMIT @limit

-- name: list_go
-- One keyset page of a Go package's table, in name order (it keeps no create time).
SELECT {columns}
FROM {table}
WHERE STARTS_WITH(key, @collection_prefix)
  AND NOT STRPOS(SUBSTR(key, @prefix_length + 1), '/') > 0
  AND key > @after_name
  AND /*filter*/
ORDER BY key
LIMIT @limit

-- name: create_settings_table
CREATE TABLE lro_settings (
    name STRING(MAX) NOT NULL,
    value BYTES(MAX) NOT NULL
) PRIMARY KEY (name)
