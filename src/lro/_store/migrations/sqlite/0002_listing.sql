-- Listing (AIP-158/160): the collection of each operation, derived from its name
-- ("projects/p/operations/x" -> "projects/p/operations"), and an index for keyset pages
-- in (create time, name) order within a collection. rtrim(name, <name without '/'>)
-- strips the last segment.
ALTER TABLE lro_operations ADD COLUMN collection TEXT
    GENERATED ALWAYS AS (rtrim(rtrim(name, replace(name, '/', '')), '/')) VIRTUAL;

CREATE INDEX lro_operations_by_collection
    ON lro_operations (collection, create_time_us, name);

-- Settings kept once per database, such as the key that signs page tokens, so that
-- every process sharing the database agrees on them.
CREATE TABLE lro_settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
