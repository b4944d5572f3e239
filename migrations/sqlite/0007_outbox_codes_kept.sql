-- The maintenance job wipes the codes that delivered messages still hold once their lifetime has
-- passed; this index keeps that sweep to the few rows that still hold one.
CREATE INDEX outbox_codes_kept ON outbox (created_at) WHERE code IS NOT NULL;
