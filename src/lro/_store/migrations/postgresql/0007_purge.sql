-- Retention: an index for purge, and deletes of done operations made quiet.
--
-- A purge picks the done operations last updated before a time (of one collection, or
-- of all). The index below holds only done operations, so running ones cost it nothing.
--
-- Migration 0001 announces every deleted row with pg_notify, so a purge of a million
-- done operations would queue a million notifications (each delivered to every
-- listening process). Nobody waits for them: a waiter waits for a running operation
-- to finish or vanish, and a done operation's waiters have returned already (a
-- worker's claim loop, the other listener, wakes on finishes). So only the deletion of
-- a running operation is announced now.
--
-- The other triggers on DELETE: lro_operations_forget_wakeup removes the deleted
-- operation's wake-up (an index probe each; a done operation has none left, since
-- lro_wake_parents removes it when the operation finishes). lro_wake_parents fires only
-- on UPDATE OF done, so a delete never counts down a parent's running_children: a done
-- child counted down when it finished, and purge never deletes a running one. And
-- purge keeps a done child that a pending wait still lists in lro_wakeup_children.
CREATE INDEX lro_operations_purgeable ON lro_operations (update_time_us) WHERE done;

DROP TRIGGER lro_operations_notify_deleted ON lro_operations;

CREATE TRIGGER lro_operations_notify_deleted
    AFTER DELETE ON lro_operations
    FOR EACH ROW WHEN (NOT OLD.done)
    EXECUTE FUNCTION lro_notify_change();
