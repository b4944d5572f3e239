-- The clean-up deletes finished messages (sent or given up) once their history is kept long enough
-- (APP_HISTORY_KEEP_SECS); this index keeps that sweep to finished rows, oldest first.
CREATE INDEX outbox_finished ON outbox (created_at) WHERE status <> 'pending';
