-- Every entity of SPEC section 2, plus the machinery that keeps its limits (sessions, counters, outbox).
-- Timestamps are milliseconds since the Unix epoch (UTC), so both backends compare them the same way.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,                 -- 16 digits
    display_name TEXT NOT NULL,
    alias TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    region TEXT NOT NULL,                -- ISO 3166-1 alpha-2, fixed at registration
    phone TEXT,                          -- E.164
    totp_secret TEXT,
    totp_last_step INTEGER,
    status TEXT NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX accounts_phone ON accounts (phone);

-- How many accounts hold each number: the row is the lock that keeps the 6-account cap exact.
CREATE TABLE phone_binding_counts (
    phone TEXT PRIMARY KEY,
    accounts INTEGER NOT NULL
);

CREATE TABLE ram_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    login_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, login_name)
);

CREATE TABLE ram_roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    UNIQUE (account_id, name)
);

-- Which RAM users may switch to which role.
CREATE TABLE ram_role_trust (
    role_id INTEGER NOT NULL REFERENCES ram_roles (id),
    ram_user_id INTEGER NOT NULL REFERENCES ram_users (id),
    PRIMARY KEY (role_id, ram_user_id)
);

CREATE TABLE sso_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    UNIQUE (account_id, name)
);

-- Policies attached to a RAM user, a RAM role or an SSO identity.
CREATE TABLE policy_attachments (
    principal_type TEXT NOT NULL,        -- ram_user | ram_role | sso_user
    principal_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    PRIMARY KEY (principal_type, principal_id, policy)
);

CREATE TABLE resource_directories (
    id TEXT PRIMARY KEY,
    management_account_id TEXT NOT NULL UNIQUE REFERENCES accounts (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES resource_directories (id),
    parent_id TEXT REFERENCES folders (id),
    name TEXT NOT NULL,
    depth INTEGER NOT NULL,              -- the root folder is 1; at most 5
    created_at INTEGER NOT NULL
);
CREATE INDEX folders_directory ON folders (directory_id, parent_id);

CREATE TABLE directory_members (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    directory_id TEXT NOT NULL REFERENCES resource_directories (id),
    folder_id TEXT NOT NULL REFERENCES folders (id),
    member_type TEXT NOT NULL,           -- resource_account | cloud_account
    display_name TEXT NOT NULL,          -- copied from the account so the list sorts on an index
    joined_at INTEGER NOT NULL
);
CREATE INDEX members_folder ON directory_members (directory_id, folder_id, display_name);
CREATE INDEX members_name ON directory_members (directory_id, display_name, account_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,         -- SHA-256 of the cookie value; the token itself is never stored
    principal_kind TEXT NOT NULL,        -- owner | ram_user | ram_role | sso
    account_id TEXT NOT NULL REFERENCES accounts (id),
    actor_id INTEGER,                    -- the RAM user, role or SSO identity
    actor_name TEXT NOT NULL,
    via_user_id INTEGER,                 -- for a role session: the RAM user who switched
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    client_ip TEXT NOT NULL
);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Windowed counters for every limit: one atomic upsert per check, shared by all instances.
CREATE TABLE rate_counters (
    scope TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (scope, window_start)
);

-- The time of the last code sent per (purpose, target): the 60-second resend rule.
CREATE TABLE resend_guards (
    purpose TEXT NOT NULL,
    target TEXT NOT NULL,
    last_sent_at INTEGER NOT NULL,
    PRIMARY KEY (purpose, target)
);

CREATE TABLE challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    target TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    code_mac TEXT NOT NULL,              -- keyed HMAC of the code and its binding
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending', -- pending | used | replaced
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX challenges_lookup ON challenges (session_hash, purpose, account_id, status);
CREATE INDEX challenges_expiry ON challenges (expires_at);

-- Proof that this session verified its identity for a purpose, for a limited time.
CREATE TABLE change_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_hash TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX change_tickets_session ON change_tickets (session_hash, account_id, purpose);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    principal_kind TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_account_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_subject ON audit_events (subject_account_id, id);

CREATE TABLE appeals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    new_phone TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'submitted',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX appeals_account ON appeals (account_id, id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,               -- sms | email
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    template TEXT NOT NULL,
    code TEXT,                           -- the code a message carries, kept only until delivery outside development
    status TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, id);

CREATE TABLE outbox_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (outbox_id);
