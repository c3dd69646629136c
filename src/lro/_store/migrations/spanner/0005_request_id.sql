-- AIP-155 request ids: the one that created an operation (NULL for none), unique within
-- the operation's collection (NULL_FILTERED: rows without one are not indexed).
ALTER TABLE lro_operations ADD COLUMN request_id STRING(MAX);

CREATE UNIQUE NULL_FILTERED INDEX lro_operations_by_request_id
    ON lro_operations (collection, request_id)
