-- The key that signs page tokens, made with the schema, so that listing never writes
-- (a read-only file lists too). SQLite's randomblob draws from its CSPRNG, seeded by
-- the operating system. A database that has a key keeps it.
INSERT INTO lro_settings (name, value) VALUES ('page_token_key', randomblob(32))
    ON CONFLICT (name) DO NOTHING;
