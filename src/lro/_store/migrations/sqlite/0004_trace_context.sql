-- The W3C trace context current when an operation was created, so that every later
-- run of its handler continues that trace ('' when there was none).
ALTER TABLE lro_operations ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';
