//! The outbox: messages are written in the caller's transaction and delivered later by a worker,
//! so a change and its notices commit together or not at all.

use sqlx::AnyConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// What kind of message, so an SMS provider can pick its approved template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    VerificationCode,
    PhoneChangedNotice,
    Notice,
}

impl Template {
    pub fn as_str(&self) -> &'static str {
        match self {
            Template::VerificationCode => "verification_code",
            Template::PhoneChangedNotice => "phone_changed",
            Template::Notice => "notice",
        }
    }
}

pub struct NewMessage<'a> {
    pub channel: Channel,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub template: Template,
    pub code: Option<&'a str>,
}

pub async fn enqueue(
    conn: &mut AnyConnection,
    message: NewMessage<'_>,
    now_ms: i64,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (channel, recipient, subject, body, template, code, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(message.channel.as_str())
    .bind(message.recipient)
    .bind(message.subject)
    .bind(message.body)
    .bind(message.template.as_str())
    .bind(message.code)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// A notice for `recipient` by `channel` (no code), in the caller's transaction.
pub async fn enqueue_notice(
    conn: &mut AnyConnection,
    (channel, recipient): (Channel, &str),
    subject: &str,
    body: &str,
    now_ms: i64,
) -> Result<i64, sqlx::Error> {
    let message = NewMessage {
        channel,
        recipient,
        subject,
        body,
        template: Template::Notice,
        code: None,
    };
    enqueue(conn, message, now_ms).await
}

/// Queues the notice that a number was bound or changed: by SMS to the number it replaced (when
/// there was one) and by email to the account's address, in the caller's transaction.
pub async fn enqueue_phone_changed(
    conn: &mut AnyConnection,
    old_phone: Option<&str>,
    email: &str,
    notice: PhoneNotice<'_>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    enqueue_phone_notice(conn, old_phone, email, notice.subject, notice.text, now_ms).await
}

/// A notice about the account's number as written in the account's language: the email's
/// subject and the text of both the SMS and the email.
#[derive(Clone, Copy)]
pub struct PhoneNotice<'a> {
    pub subject: &'a str,
    pub text: &'a str,
}

/// Queues the notice that a change was undone: by SMS to the number bound again and by email to
/// the account's address, in the caller's transaction.
pub async fn enqueue_phone_restored(
    conn: &mut AnyConnection,
    restored: &str,
    email: &str,
    notice: PhoneNotice<'_>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    enqueue_phone_notice(
        conn,
        Some(restored),
        email,
        notice.subject,
        notice.text,
        now_ms,
    )
    .await
}

/// One notice about the account's number, by SMS to `phone` (if any) and by email.
async fn enqueue_phone_notice(
    conn: &mut AnyConnection,
    phone: Option<&str>,
    email: &str,
    subject: &str,
    notice: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let sms = phone.map(|phone| (Channel::Sms, phone, ""));
    for (channel, recipient, subject) in sms.into_iter().chain([(Channel::Email, email, subject)]) {
        let message = NewMessage {
            channel,
            recipient,
            subject,
            body: notice,
            template: Template::PhoneChangedNotice,
            code: None,
        };
        enqueue(&mut *conn, message, now_ms).await?;
    }
    Ok(())
}

#[derive(Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub template: String,
    pub code: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub created_at: i64,
    /// When the last attempt handed the message to its provider without an answer coming back
    /// (0: none is in doubt). See `delivery`.
    pub handed_over_at: i64,
}

// Bodies carry codes: keep them out of debug output.
impl std::fmt::Debug for OutboxRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRow")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("template", &self.template)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("handed_over_at", &self.handed_over_at)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, channel, recipient, subject, body, template, code, status, attempts, created_at, handed_over_at";

/// Messages for one recipient (or all), newest first: the development outbox.
pub async fn list(
    conn: &mut AnyConnection,
    recipient: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    match recipient {
        Some(to) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox WHERE recipient = $1 ORDER BY id DESC LIMIT $2"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(to)
                .bind(limit)
                .fetch_all(conn)
                .await
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .fetch_all(conn)
                .await
        }
    }
}

/// Claims up to `limit` due messages for `lease_ms`. On PostgreSQL the rows are locked with
/// SKIP LOCKED, so instances sharing the queue never take the same message at once.
pub async fn claim_due(
    db: &crate::ssr::db::Db,
    now_ms: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE outbox SET claimed_until = $1 WHERE id IN (\
           SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 AND claimed_until <= $2 \
           ORDER BY next_attempt_at, id LIMIT $3{}) \
         AND status = 'pending' AND claimed_until <= $2 RETURNING {COLUMNS}",
        db.skip_locked()
    );
    let mut tx = db.begin().await?;
    // Only fixed fragments are formatted in; every value is bound.
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Renews this instance's claim on one message just before sending it; false when the claim
/// lapsed and another instance took the message, which must then not be sent from here.
pub async fn renew_claim(
    db: &crate::ssr::db::Db,
    id: i64,
    held_until: i64,
    new_until: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND status = 'pending' AND claimed_until = $3",
    )
    .bind(new_until)
    .bind(id)
    .bind(held_until)
    .execute(&mut *db.write().await?)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records, in its own commit, that the message is about to be handed to its provider: a crash
/// or a lost answer after this leaves the mark, and the next attempt asks the provider first.
pub async fn hand_over(db: &crate::ssr::db::Db, id: i64, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET handed_over_at = $1 WHERE id = $2 AND status = 'pending'")
        .bind(now_ms)
        .bind(id)
        .execute(&mut *db.write().await?)
        .await?;
    Ok(())
}

/// What a delivered message's row keeps: a code is a secret at rest once it has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterDelivery {
    /// The database outbox is the inbox (development): the row keeps its code for
    /// /dev/outbox until the code's lifetime has passed and `wipe_dead_codes` takes it.
    KeepUntilExpiry,
    /// Delivered by a provider while the development outbox still lists it: the code column is
    /// wiped and the code in the body masked, so the listing shows the message but no secret.
    MaskCode,
    /// Production: nothing of the message stays but its envelope.
    EraseBody,
}

impl AfterDelivery {
    /// `through_providers`: the message went out by SMS or SMTP, not only into the database.
    pub fn choose(through_providers: bool, dev_outbox: bool) -> AfterDelivery {
        match (through_providers, dev_outbox) {
            (_, false) => AfterDelivery::EraseBody,
            (true, true) => AfterDelivery::MaskCode,
            (false, true) => AfterDelivery::KeepUntilExpiry,
        }
    }
}

/// The SET clause that wipes a row's code and masks it in the body (as `******`); both
/// expressions read the row's old values.
const WIPE_CODE: &str = "body = CASE WHEN code IS NULL OR code = '' THEN body ELSE REPLACE(body, code, '******') END, code = NULL";

/// Records a successful delivery, and in the same statement forgets what `after` says to.
pub async fn mark_sent(
    db: &crate::ssr::db::Db,
    id: i64,
    now_ms: i64,
    after: AfterDelivery,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let sent = "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, claimed_until = 0, last_error = NULL, handed_over_at = 0";
    let sql = match after {
        AfterDelivery::KeepUntilExpiry => format!("{sent} WHERE id = $2"),
        AfterDelivery::MaskCode => format!("{sent}, {WIPE_CODE} WHERE id = $2"),
        AfterDelivery::EraseBody => {
            format!("{sent}, body = '[delivered]', code = NULL WHERE id = $2")
        }
    };
    // Only fixed fragments are formatted in; every value is bound.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO outbox_attempts (outbox_id, at, ok, error) VALUES ($1, $2, 1, NULL)")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Wipes the code of every message that is done with delivery (sent or given up) and was queued
/// at or before `dead_since_ms`, so its code's lifetime is over: the code column is cleared and
/// the code masked in the body. Returns how many rows it wiped.
pub async fn wipe_dead_codes(
    conn: &mut AnyConnection,
    dead_since_ms: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "UPDATE outbox SET {WIPE_CODE} WHERE code IS NOT NULL AND status <> 'pending' AND created_at <= $1"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(dead_since_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Messages purged per statement, so one sweep never holds the write lock for long.
const PURGE_BATCH: i64 = 2000;

/// Deletes the messages that are done with delivery (sent or given up) and were queued before
/// `before_ms`, with their recorded attempts, in batches. A pending message is never touched.
/// Returns how many messages it deleted.
pub async fn purge_finished(conn: &mut AnyConnection, before_ms: i64) -> Result<u64, sqlx::Error> {
    let batch = "SELECT id FROM outbox WHERE status <> 'pending' AND created_at < $1 \
                 ORDER BY created_at LIMIT $2";
    let mut purged = 0;
    loop {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM outbox_attempts WHERE outbox_id IN ({batch})"
        )))
        .bind(before_ms)
        .bind(PURGE_BATCH)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM outbox WHERE id IN ({batch})"
        )))
        .bind(before_ms)
        .bind(PURGE_BATCH)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        purged += done.rows_affected();
        if done.rows_affected() < PURGE_BATCH as u64 {
            return Ok(purged);
        }
    }
}

/// Records a failed attempt and schedules the next one, or gives up after `max_attempts`. A
/// failure in doubt keeps the hand-over mark, so the next attempt asks the provider first.
pub async fn mark_failed(
    db: &crate::ssr::db::Db,
    id: i64,
    now_ms: i64,
    failure: &crate::ssr::delivery::DeliveryError,
    max_attempts: i64,
) -> Result<(), sqlx::Error> {
    let error = failure.reason.as_str();
    let mut tx = db.begin().await?;
    let (attempts,): (i64,) = sqlx::query_as("SELECT attempts FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let attempts = attempts + 1;
    let status = if attempts >= max_attempts {
        "failed"
    } else {
        "pending"
    };
    let next = now_ms + backoff_ms(attempts);
    sqlx::query(
        "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, claimed_until = 0, last_error = $4, \
         handed_over_at = CASE WHEN $5 = 1 THEN handed_over_at ELSE 0 END WHERE id = $6",
    )
    .bind(status)
    .bind(attempts)
    .bind(next)
    .bind(error)
    .bind(i64::from(failure.in_doubt))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO outbox_attempts (outbox_id, at, ok, error) VALUES ($1, $2, 0, $3)")
        .bind(id)
        .bind(now_ms)
        .bind(error)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (1000i64 << exp).min(300_000)
}

/// How many messages wait for delivery (retries included), and when the oldest was queued.
pub async fn pending_summary(pool: &sqlx::AnyPool) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'")
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::{AfterDelivery, backoff_ms};

    #[test]
    fn only_the_development_inbox_keeps_a_delivered_code() {
        assert_eq!(
            AfterDelivery::choose(false, true),
            AfterDelivery::KeepUntilExpiry
        );
        assert_eq!(AfterDelivery::choose(true, true), AfterDelivery::MaskCode);
        assert_eq!(AfterDelivery::choose(true, false), AfterDelivery::EraseBody);
        assert_eq!(
            AfterDelivery::choose(false, false),
            AfterDelivery::EraseBody
        );
    }

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(4), 8000);
        assert_eq!(backoff_ms(30), 300_000);
    }
}
