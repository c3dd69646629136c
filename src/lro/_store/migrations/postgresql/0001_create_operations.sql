-- One row an operation: the public google.longrunning.Operation, the columns that
-- queries filter on (derived from it), and the private state of its handler.
CREATE TABLE lro_operations (
    name TEXT PRIMARY KEY,
    operation BYTEA NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    error_code INTEGER,
    metadata_type TEXT NOT NULL DEFAULT '',
    state BYTEA,
    resume_point TEXT NOT NULL DEFAULT '',
    resume_target TEXT NOT NULL DEFAULT '',
    create_time_us BIGINT NOT NULL,
    update_time_us BIGINT NOT NULL,
    version BIGINT NOT NULL
);

CREATE INDEX lro_operations_by_create_time ON lro_operations (create_time_us, name);

-- Other processes hear when an operation finishes or is deleted: what their waiters
-- wait for. Each such change is announced on the channel 'lro_changes:<schema>' with
-- the payload '<origin> <name>'. The origin is the connection setting lro.origin (empty
-- when unset), so a store can skip what it announced itself. Other updates (metadata,
-- state) wake only the waiters of the process that made them, and notify nobody: with
-- N replicas each NOTIFY costs N deliveries.
CREATE FUNCTION lro_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'lro_changes:' || TG_TABLE_SCHEMA,
        coalesce(current_setting('lro.origin', true), '') || ' '
            || CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER lro_operations_notify_finished
    AFTER UPDATE OF done ON lro_operations
    FOR EACH ROW WHEN (NEW.done AND NOT OLD.done)
    EXECUTE FUNCTION lro_notify_change();

CREATE TRIGGER lro_operations_notify_created_done
    AFTER INSERT ON lro_operations
    FOR EACH ROW WHEN (NEW.done)
    EXECUTE FUNCTION lro_notify_change();

CREATE TRIGGER lro_operations_notify_deleted
    AFTER DELETE ON lro_operations
    FOR EACH ROW EXECUTE FUNCTION lro_notify_change();
