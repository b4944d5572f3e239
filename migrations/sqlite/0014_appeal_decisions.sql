-- Appeals get decided (issue 14, item 8): a platform operator asks the filer for more
-- information, rejects with a reason or approves (which binds the number). Each step after the
-- filing is one row here, the appeal's history; appeals.status says where it stands:
-- submitted | info_requested | answered | rejected | approved. The queue is the open ones
-- (submitted, answered), oldest first; every step is a conditional UPDATE of that status, so
-- of two operators deciding at once exactly one succeeds.
CREATE TABLE appeal_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appeal_id INTEGER NOT NULL REFERENCES appeals (id),
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,            -- operator | filer
    actor_name TEXT NOT NULL,            -- the operator's logon email, or the filer's
    step TEXT NOT NULL,                  -- info_requested | answered | rejected | approved
    message TEXT NOT NULL DEFAULT ''     -- the question, the answer or the reason, as typed
);
CREATE INDEX appeal_steps_appeal ON appeal_steps (appeal_id, id);
CREATE INDEX appeals_queue ON appeals (status, created_at, id);
