-- When the account's number was last bound or changed by someone other than its owner (a
-- directory administrator): SMS password recovery is on hold for limits.recovery_hold_secs after it.
-- NULL: never (the demo data's bindings count as made 30 days before seeding, past any hold).
ALTER TABLE accounts ADD COLUMN phone_set_by_other_at BIGINT;
