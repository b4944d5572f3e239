-- An authenticator being bound: its secret waits here until the first code confirms it.
CREATE TABLE totp_enrollments (
    session_hash TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (session_hash, account_id)
);
