-- Listing (AIP-158/160): the collection of each operation (its name without the last
-- segment), an index for keyset pages in (create time, name) order within a collection,
-- and per-database settings such as the key that signs page tokens.
ALTER TABLE lro_operations ADD COLUMN collection TEXT
    GENERATED ALWAYS AS (regexp_replace(name, '/[^/]*$', '')) STORED;

CREATE INDEX lro_operations_by_collection
    ON lro_operations (collection, create_time_us, name);

CREATE TABLE lro_settings (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
