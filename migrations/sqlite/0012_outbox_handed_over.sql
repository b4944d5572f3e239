-- Never twice: the worker records that a message is about to be handed to its provider, in its own
-- commit, before the call. A crash or a lost answer leaves the mark; the next attempt then asks the
-- provider whether the message went out (SMS: QuerySendDetails by OutId) before sending it again.
-- 0: no hand-over is in doubt.
ALTER TABLE outbox ADD COLUMN handed_over_at INTEGER NOT NULL DEFAULT 0;
