-- Wrong passwords in a row per account (`acct:<id>`, `ram:<id>`) or per identifier that matched
-- none (`id:<sha256>`). Windows do not end a streak; a successful sign-in deletes the row, and a
-- reset password (another fingerprint of the hash) starts it again from one.
CREATE TABLE sign_in_streaks (
    subject TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    failures INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
