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
