-- Durable waits, as in the SQLite and PostgreSQL migrations of the same number: one
-- wake-up row per waiting operation, leased by the worker that resumes it. due_time_us
-- is the only time a claim looks at: a wait for running children in this database is
-- due at its deadline, and the store brings it forward to the end of its sleep
-- (ready_time_us) when its last child finishes, in the finishing transaction (Spanner
-- has no triggers: every write goes through the store's read-write transactions).
CREATE TABLE lro_wakeups (
    name STRING(MAX) NOT NULL,
    due_time_us INT64 NOT NULL,
    ready_time_us INT64 NOT NULL,
    deadline_us INT64 NOT NULL,
    children ARRAY<STRING(MAX)> NOT NULL,
    child_endpoint STRING(MAX) NOT NULL,
    poll_frequency_us INT64 NOT NULL,
    target_kind STRING(MAX) NOT NULL,
    target STRING(MAX) NOT NULL,
    target_endpoint STRING(MAX) NOT NULL,
    pinned_to STRING(MAX) NOT NULL,
    lease_owner STRING(MAX) NOT NULL,
    lease_token STRING(MAX) NOT NULL,
    lease_expires_us INT64 NOT NULL,
    claims INT64 NOT NULL,
    schedule_time_us INT64 NOT NULL
) PRIMARY KEY (name);

CREATE INDEX lro_wakeups_by_due_time ON lro_wakeups (due_time_us);

CREATE INDEX lro_wakeups_by_lease_token ON lro_wakeups (lease_token);

-- The children in this database that a wake-up waits for, found by child (a key
-- prefix). A wake-up's own row lists its children, so they are removed with it.
CREATE TABLE lro_wakeup_children (
    child STRING(MAX) NOT NULL,
    parent STRING(MAX) NOT NULL
) PRIMARY KEY (child, parent);

-- What the resumer records on the operation itself: failed handler runs at the current
-- resume point, the last failure, and whether the last durable wait ran out of time.
ALTER TABLE lro_operations ADD COLUMN attempts INT64 NOT NULL DEFAULT (0);

ALTER TABLE lro_operations ADD COLUMN last_error STRING(MAX) NOT NULL DEFAULT ('');

ALTER TABLE lro_operations ADD COLUMN wait_timed_out BOOL NOT NULL DEFAULT (FALSE)
