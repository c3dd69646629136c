-- AIP-155 request ids: the one that created an operation (NULL for none), unique within
-- the operation's collection, so that a retried request finds the operation it made.
ALTER TABLE lro_operations ADD COLUMN request_id TEXT;

CREATE UNIQUE INDEX lro_operations_by_request_id
    ON lro_operations (collection, request_id) WHERE request_id IS NOT NULL;
