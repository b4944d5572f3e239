-- Logon protection (SPEC 4): the owner may require the authenticator ('totp') or an SMS code to
-- the bound phone ('sms') after the password. Off by default, so the demo accounts sign in with
-- the password alone.
ALTER TABLE accounts ADD COLUMN logon_protection TEXT NOT NULL DEFAULT 'off';

-- A sign-in whose password was right and whose second step is pending. The browser holds the
-- token in an HttpOnly cookie; only its hash is kept. Single use, short-lived, a few attempts.
CREATE TABLE pending_sign_ins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    method TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX pending_sign_ins_expires ON pending_sign_ins (expires_at);
