-- Durable waits, as in the SQLite migration of the same number: one wake-up row per
-- waiting operation, leased by the worker that resumes it. due_time_us is the only
-- time a claim looks at: a wait for running children in this database is due at its
-- deadline, and a trigger brings it forward to the end of its sleep (ready_time_us)
-- when its last child finishes, in the finishing transaction.
CREATE TABLE lro_wakeups (
    name TEXT PRIMARY KEY,
    due_time_us BIGINT NOT NULL,
    ready_time_us BIGINT NOT NULL,
    deadline_us BIGINT NOT NULL,
    children TEXT[] NOT NULL DEFAULT '{}',
    child_endpoint TEXT NOT NULL DEFAULT '',
    poll_frequency_us BIGINT NOT NULL,
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    target_endpoint TEXT NOT NULL DEFAULT '',
    pinned_to TEXT NOT NULL DEFAULT '',
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_token TEXT NOT NULL DEFAULT '',
    lease_expires_us BIGINT NOT NULL DEFAULT 0,
    claims INTEGER NOT NULL DEFAULT 0,
    schedule_time_us BIGINT NOT NULL
);

CREATE INDEX lro_wakeups_by_due_time ON lro_wakeups (due_time_us);

CREATE TABLE lro_wakeup_children (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (child, parent)
);

CREATE INDEX lro_wakeup_children_by_parent ON lro_wakeup_children (parent);

-- When an operation finishes: its own wake-up goes, and the waits whose children are
-- now all done become due at the end of their sleep.
CREATE FUNCTION lro_wake_parents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lro_wakeups WHERE name = NEW.name;
    UPDATE lro_wakeups AS w
    SET due_time_us = LEAST(w.due_time_us, w.ready_time_us)
    WHERE w.name IN (SELECT parent FROM lro_wakeup_children WHERE child = NEW.name)
      AND NOT EXISTS (
          SELECT 1
          FROM lro_wakeup_children AS waited
          JOIN lro_operations AS o ON o.name = waited.child
          WHERE waited.parent = w.name AND NOT o.done
      );
    RETURN NULL;
END;
$$;

CREATE TRIGGER lro_operations_wake_parents
    AFTER UPDATE OF done ON lro_operations
    FOR EACH ROW WHEN (NEW.done AND NOT OLD.done)
    EXECUTE FUNCTION lro_wake_parents();

CREATE FUNCTION lro_forget_wakeup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lro_wakeups WHERE name = OLD.name;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lro_operations_forget_wakeup
    AFTER DELETE ON lro_operations
    FOR EACH ROW EXECUTE FUNCTION lro_forget_wakeup();

CREATE FUNCTION lro_forget_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lro_wakeup_children WHERE parent = OLD.name;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lro_wakeups_forget_children
    AFTER DELETE ON lro_wakeups
    FOR EACH ROW EXECUTE FUNCTION lro_forget_children();

-- What the resumer records on the operation itself.
ALTER TABLE lro_operations
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN last_error TEXT NOT NULL DEFAULT '',
    ADD COLUMN wait_timed_out BOOLEAN NOT NULL DEFAULT FALSE;
