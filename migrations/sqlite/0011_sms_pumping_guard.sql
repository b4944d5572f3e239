-- The SMS-pumping guard (README, "SMS-pumping guard").
-- The country or region each SMS code went to (libphonenumber's region of the number; NULL for an
-- email code), so the per-country breaker counts the codes sent there against the ones entered
-- (status 'used') over a sliding window.
ALTER TABLE challenges ADD COLUMN sms_region TEXT;
CREATE INDEX challenges_sms_region ON challenges (sms_region, created_at);

-- The default allow list asks whether an account was registered in a region: one index probe.
CREATE INDEX accounts_region ON accounts (region, status);

-- A tripped breaker: no code goes to numbers of `region` before `open_until`. The next count
-- starts at `open_until`, so the codes that tripped it do not trip it again once it has cooled.
CREATE TABLE sms_breakers (
    region TEXT PRIMARY KEY,
    opened_at INTEGER NOT NULL,
    open_until INTEGER NOT NULL,
    codes INTEGER NOT NULL,              -- the codes counted when it tripped
    entered INTEGER NOT NULL             -- of which entered
);
