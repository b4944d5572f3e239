-- AccessKeys of RAM users (at most 2 per user, as in the cloud) and the signature nonces the
-- automation API has accepted. The secret is sealed with APP_SECRETS_KEY: the server must read
-- it back to check signatures, so it cannot be a one-way hash.
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,                 -- the AccessKeyId, LTAI + 20 characters
    account_id TEXT NOT NULL REFERENCES accounts (id),
    ram_user_id BIGINT NOT NULL REFERENCES ram_users (id),
    secret_sealed TEXT NOT NULL,         -- base64(nonce || ChaCha20-Poly1305 ciphertext)
    status TEXT NOT NULL,                -- Active | Inactive
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT
);
CREATE INDEX access_keys_user ON access_keys (ram_user_id);

-- A nonce is accepted once per key across every instance: the primary key refuses the replay.
-- Rows older than the timestamp window can no longer be replayed and are cleaned up.
CREATE TABLE api_nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX api_nonces_seen ON api_nonces (seen_at);
