-- lro's own schema on Spanner: the same columns as on SQLite and PostgreSQL.
CREATE TABLE lro_operations (
    name STRING(MAX) NOT NULL,
    operation BYTES(MAX) NOT NULL,
    done BOOL NOT NULL,
    error_code INT64,
    metadata_type STRING(MAX) NOT NULL,
    state BYTES(MAX),
    resume_point STRING(MAX) NOT NULL,
    resume_target STRING(MAX) NOT NULL,
    create_time_us INT64 NOT NULL,
    update_time_us INT64 NOT NULL,
    version INT64 NOT NULL
) PRIMARY KEY (name);

CREATE INDEX lro_operations_by_create_time ON lro_operations (create_time_us, name)
