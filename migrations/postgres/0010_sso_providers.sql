-- Enterprise SSO through OpenID Connect: one identity provider per account, set by its owner,
-- and the sign-in attempts in flight. The client secret is sealed with APP_SECRETS_KEY (the
-- server sends it to the provider's token endpoint, so it cannot be a one-way hash).
CREATE TABLE sso_providers (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    issuer_url TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,  -- v1: + hex(nonce || XChaCha20-Poly1305 ciphertext)
    user_claim TEXT NOT NULL,            -- preferred_username | email | sub
    mapped_policies TEXT NOT NULL,       -- space-separated policies every SSO session of the account holds
    updated_at BIGINT NOT NULL
);

-- One row per sign-in attempt, so the callback can land on any instance. Only hashes of the
-- state, the nonce and the browser cookie are kept; the PKCE verifier is sealed. A row lives
-- five minutes and is deleted by the callback that uses it (single use).
CREATE TABLE sso_attempts (
    state_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    nonce_hash TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    provider_updated_at BIGINT NOT NULL,   -- the settings the attempt started under
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_at);
