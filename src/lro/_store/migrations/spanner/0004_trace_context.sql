-- The W3C trace context current when an operation was created (see the SQLite
-- migration of the same name).
ALTER TABLE lro_operations ADD COLUMN trace_context STRING(MAX) NOT NULL DEFAULT ('')
