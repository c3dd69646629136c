-- The key that signs page tokens, made with the schema, so that listing never writes
-- (a role that may only read lists too). 32 bytes from two random (version 4) UUIDs:
-- 244 random bits from the server's strong random source. A database that has a key
-- keeps it.
INSERT INTO lro_settings (name, value)
VALUES (
    'page_token_key',
    decode(replace(gen_random_uuid()::TEXT || gen_random_uuid()::TEXT, '-', ''), 'hex')
)
ON CONFLICT (name) DO NOTHING;
