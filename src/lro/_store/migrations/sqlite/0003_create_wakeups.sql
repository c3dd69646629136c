-- Durable waits. One wake-up row per waiting operation: when to look again, what it
-- waits for, whom to resume, and who holds it now (a lease, so that a worker that dies
-- loses it when the lease runs out).
CREATE TABLE lro_wakeups (
    name TEXT PRIMARY KEY,
    due_time_us INTEGER NOT NULL,
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

-- What the resumer records on the operation itself: failed handler runs at the current
-- resume point, the last failure, and whether the last durable wait ran out of time.
ALTER TABLE lro_operations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lro_operations ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE lro_operations ADD COLUMN wait_timed_out INTEGER NOT NULL DEFAULT 0;
