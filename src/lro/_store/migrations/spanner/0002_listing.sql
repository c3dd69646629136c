-- Listing (AIP-158/160): the collection of each operation (its name without the last
-- segment), an index for keyset pages within a collection, and per-database settings
-- such as the key that signs page tokens.
ALTER TABLE lro_operations ADD COLUMN collection STRING(MAX)
    AS (REGEXP_REPLACE(name, r'/[^/]*$', '')) STORED;

CREATE INDEX lro_operations_by_collection
    ON lro_operations (collection, create_time_us, name);

CREATE TABLE lro_settings (
    name STRING(MAX) NOT NULL,
    value BYTES(MAX) NOT NULL
) PRIMARY KEY (name)
