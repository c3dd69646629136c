-- Durable waits. One wake-up row per waiting operation: when to look again, what it
-- waits for, whom to resume, and who holds it now (a lease, so that a worker that dies
-- loses it when the lease runs out).
--
-- due_time_us is the only time a claim looks at: a wait for children in this store is
-- due at its deadline, and the trigger below brings it forward to the end of its sleep
-- (ready_time_us) when its last child finishes. So a claim reads only the rows that are
-- due, however many wait.
CREATE TABLE lro_wakeups (
    name TEXT PRIMARY KEY,
    due_time_us INTEGER NOT NULL,
    ready_time_us INTEGER NOT NULL,
    deadline_us INTEGER NOT NULL,
    children TEXT NOT NULL DEFAULT '[]',
    child_endpoint TEXT NOT NULL DEFAULT '',
    poll_frequency_us INTEGER NOT NULL,
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    target_endpoint TEXT NOT NULL DEFAULT '',
    pinned_to TEXT NOT NULL DEFAULT '',
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_token TEXT NOT NULL DEFAULT '',
    lease_expires_us INTEGER NOT NULL DEFAULT 0,
    claims INTEGER NOT NULL DEFAULT 0,
    schedule_time_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX lro_wakeups_by_due_time ON lro_wakeups (due_time_us);

-- The children in this store that a wake-up waits for, found by child.
CREATE TABLE lro_wakeup_children (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (child, parent)
) WITHOUT ROWID;

CREATE INDEX lro_wakeup_children_by_parent ON lro_wakeup_children (parent);

-- When an operation finishes, in the same transaction as the finishing write: its own
-- wake-up goes (a done operation is never resumed), and the waits whose children are
-- now all done become due (at the end of their sleep).
CREATE TRIGGER lro_wake_parents
AFTER UPDATE OF done ON lro_operations
WHEN NEW.done = 1 AND OLD.done = 0
BEGIN
    DELETE FROM lro_wakeups WHERE name = NEW.name;
    UPDATE lro_wakeups
    SET due_time_us = MIN(due_time_us, ready_time_us)
    WHERE name IN (SELECT parent FROM lro_wakeup_children WHERE child = NEW.name)
      AND NOT EXISTS (
          SELECT 1
          FROM lro_wakeup_children AS waited
          JOIN lro_operations AS o ON o.name = waited.child
          WHERE waited.parent = lro_wakeups.name AND o.done = 0
      );
END;

CREATE TRIGGER lro_forget_wakeup
AFTER DELETE ON lro_operations
BEGIN
    DELETE FROM lro_wakeups WHERE name = OLD.name;
END;

CREATE TRIGGER lro_forget_children
AFTER DELETE ON lro_wakeups
BEGIN
    DELETE FROM lro_wakeup_children WHERE parent = OLD.name;
END;

-- What the resumer records on the operation itself: failed handler runs at the current
-- resume point, the last failure, and whether the last durable wait ran out of time.
ALTER TABLE lro_operations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lro_operations ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE lro_operations ADD COLUMN wait_timed_out INTEGER NOT NULL DEFAULT 0;
