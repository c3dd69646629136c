-- A wait for children in this database counts the children still running, so that
-- children finishing at the same moment cannot all miss being the last one.
--
-- Migration 0003's trigger asked, in each finishing transaction, whether any other
-- child of the parent was still running. Under READ COMMITTED, two children finishing
-- at once each saw the other as running (neither had committed), so neither made the
-- wait due, and the parent resumed only at its deadline (write skew: each transaction
-- read what the other wrote).
--
-- Now the wake-up row holds running_children: how many of its children were running
-- when the wait was scheduled. schedule reads them under FOR SHARE (wakeups.sql,
-- lock_running_children), so a child finishing at that moment is either counted as
-- done or waits for the schedule to commit and then counts down. Each finish counts
-- down with an UPDATE of the wake-up row. An UPDATE locks the row; one that waited for
-- another finish computes from the row that finish committed (READ COMMITTED re-reads
-- it), so no count is lost. Under REPEATABLE READ or SERIALIZABLE, the later finish
-- fails with a serialization error instead (lro.Aborted), which is loud, not lost.
-- The finish that takes the count to zero or below makes the wait due at the end of
-- its sleep. It is exact for the children counted: a child's done goes from false to
-- true once, in one transaction, and this trigger runs in that transaction.
--
-- - A deleted child never counts down: the wait ends at its deadline, as documented.
-- - A finish may count down once too often: a child of this parent's previous wait,
--   finishing while the parent schedules its next wait, or a wait scheduled before
--   this migration (its count is 0). The wait is then due early; the worker reads
--   every child before it resumes, and polls until they are done. Early is harmless;
--   late is what this prevents.
-- - The parents' rows are locked in name order, so that two finishes that count down
--   the same parents never wait for each other in a cycle.
--
-- Cost: a finish with no waiting parent does what 0003 did (one index probe of
-- lro_wakeup_children); a finish with parents updates one row per parent, where 0003
-- read every child of each parent.
ALTER TABLE lro_wakeups ADD COLUMN running_children INTEGER NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION lro_wake_parents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lro_wakeups WHERE name = NEW.name;
    UPDATE lro_wakeups AS w
    SET running_children = w.running_children - 1,
        due_time_us = CASE
            WHEN w.running_children <= 1 THEN LEAST(w.due_time_us, w.ready_time_us)
            ELSE w.due_time_us
        END
    WHERE w.name IN (
        SELECT parent_wakeup.name
        FROM lro_wakeups AS parent_wakeup
        WHERE parent_wakeup.name IN (
            SELECT parent FROM lro_wakeup_children WHERE child = NEW.name
        )
        ORDER BY parent_wakeup.name
        FOR UPDATE
    );
    RETURN NULL;
END;
$$;
