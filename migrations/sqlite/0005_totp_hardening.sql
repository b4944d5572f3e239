-- When the authenticator was bound: a fresh one is no identity proof for a phone change.
-- An authenticator bound before this migration counts from the row's last update (never earlier
-- than the truth, so the rule errs on the safe side).
ALTER TABLE accounts ADD COLUMN totp_bound_at INTEGER;
UPDATE accounts SET totp_bound_at = updated_at WHERE totp_secret IS NOT NULL;
-- Consecutive wrong authenticator codes; at the configured ceiling TOTP is locked as an identity
-- method until the phone or the logon email proves identity.
ALTER TABLE accounts ADD COLUMN totp_failures INTEGER NOT NULL DEFAULT 0;
