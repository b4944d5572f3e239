-- "Not you?" undo (issue 14): the notice of a phone change carries a link that restores the number
-- it replaced. Only the SHA-256 of the link's token is kept. A link works once, before expires_at,
-- and only while the account still holds new_phone and no later link exists for it.
CREATE TABLE undo_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    previous_phone TEXT NOT NULL,        -- E.164: what the undo binds again
    new_phone TEXT NOT NULL,             -- E.164: what the change bound
    changed_by TEXT NOT NULL,            -- the principal who made the change, as the notice names it
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER                           -- NULL until used, or until a later undo of the account voids it
);
CREATE INDEX undo_links_account ON undo_links (account_id, id);
CREATE INDEX undo_links_expiry ON undo_links (expires_at);

-- Set by an undo: the password of whoever made the change no longer signs in; a password reset
-- (which also proves the restored number or the logon email) clears it.
ALTER TABLE accounts ADD COLUMN password_reset_required INTEGER NOT NULL DEFAULT 0;
