-- One row an operation: the public google.longrunning.Operation, the columns that
-- queries filter on (derived from it), and the private state of its handler.
CREATE TABLE lro_operations (
    name TEXT PRIMARY KEY,
    operation BLOB NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    error_code INTEGER,
    metadata_type TEXT NOT NULL DEFAULT '',
    state BLOB,
    resume_point TEXT NOT NULL DEFAULT '',
    resume_target TEXT NOT NULL DEFAULT '',
    create_time_us INTEGER NOT NULL,
    update_time_us INTEGER NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX lro_operations_by_create_time ON lro_operations (create_time_us, name);
