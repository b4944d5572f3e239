//! "Not you?" undo (issue 14): the notice of a phone change carries a link that puts the number it
//! replaced back. The link goes where the notice goes (the number replaced and the logon email),
//! so whoever took the account over with a password or a session cannot stop it.
//!
//! A link is a random token; only its SHA-256 is stored. It works once, within
//! `limits.undo_link_secs`, and only while it is the account's latest link and the account still
//! holds the number the change bound: a later change (or an undo) makes it stale. Using it, in one
//! transaction: the previous number is bound again (under the 6-account cap), every session of
//! the account ends, its password stops signing in until it is reset, every other link of the
//! account is voided, and the audit event and the notices are written.

use crate::domain::PhoneNumber;
use crate::domain::phone::mask_e164;
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, t, t_with};
use crate::model::{UndoState, UndoView};
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::crypto::{random_token, sha256_hex};
use crate::ssr::outbox;
use crate::ssr::phone_binding;
use crate::ssr::request::RequestMeta;
use sqlx::AnyConnection;

/// The path of a link, before its token.
pub const PATH: &str = "/undo/";

/// The audit action of an undo, on the account it restored.
pub const ACTION: &str = "UndoPhoneChange";

/// How the audit log names whoever used the link: the holder of the notice, not a session.
const ACTOR_KIND: &str = "undo_link";
const ACTOR_NAME: &str = "the undo link of a change notice";

/// A token as typed into a URL: 32 lowercase hex digits, or nothing is looked up.
fn token_hash(token: &str) -> AppResult<String> {
    let token = token.trim();
    if token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(sha256_hex(token))
    } else {
        Err(AppError::UndoLinkInvalid)
    }
}

/// A change the link can undo: who made it, when, from what to what.
pub struct Change<'a> {
    pub account_id: &'a str,
    pub previous: &'a str,
    pub new: &'a PhoneNumber,
    pub changed_by: &'a str,
}

/// Records a link for `change` inside the binding's transaction and answers the sentence the
/// notice ends with, naming the link and how long it lives.
pub async fn issue(
    conn: &mut AnyConnection,
    services: &Services,
    change: Change<'_>,
    now: i64,
    locale: Locale,
) -> AppResult<String> {
    let token = random_token();
    let lifetime = services.config.limits.undo_link_secs;
    sqlx::query(
        "INSERT INTO undo_links (token_hash, account_id, previous_phone, new_phone, changed_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(sha256_hex(&token))
    .bind(change.account_id)
    .bind(change.previous)
    .bind(change.new.e164())
    .bind(change.changed_by)
    .bind(now)
    .bind(now + lifetime * 1000)
    .execute(&mut *conn)
    .await?;
    let url = format!(
        "{}{PATH}{token}",
        services.config.public_url.trim().trim_end_matches('/')
    );
    Ok(t_with(
        locale,
        "notice-undo",
        &[("within", lifetime_words(locale, lifetime)), ("url", url)],
    ))
}

fn lifetime_words(locale: Locale, secs: i64) -> String {
    let (n, one, many) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "duration-day", "duration-days"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "duration-hour", "duration-hours"),
        s => ((s / 60).max(1), "duration-minute", "duration-minutes"),
    };
    let key = if n == 1 { one } else { many };
    t_with(locale, key, &[("n", n.to_string())])
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    account_id: String,
    previous_phone: String,
    new_phone: String,
    changed_by: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    display_name: String,
    current_phone: Option<String>,
    newest_id: i64,
}

impl LinkRow {
    fn state(&self, now: i64) -> UndoState {
        if self.used_at.is_some() {
            UndoState::Used
        } else if now >= self.expires_at {
            UndoState::Expired
        } else if self.newest_id != self.id
            || self.current_phone.as_deref() != Some(self.new_phone.as_str())
        {
            UndoState::Superseded
        } else {
            UndoState::Ready
        }
    }

    fn view(&self, now: i64) -> UndoView {
        UndoView {
            display_name: self.display_name.clone(),
            previous_phone: mask_e164(&self.previous_phone),
            new_phone: mask_e164(&self.new_phone),
            changed_by: self.changed_by.clone(),
            changed_at: rfc3339(self.created_at),
            expires_at: rfc3339(self.expires_at),
            state: self.state(now),
        }
    }
}

async fn find(conn: &mut AnyConnection, hash: &str) -> AppResult<LinkRow> {
    sqlx::query_as(
        "SELECT l.id, l.account_id, l.previous_phone, l.new_phone, l.changed_by, l.created_at, l.expires_at, l.used_at, \
         a.display_name, a.phone AS current_phone, \
         (SELECT MAX(n.id) FROM undo_links n WHERE n.account_id = l.account_id) AS newest_id \
         FROM undo_links l JOIN accounts a ON a.id = l.account_id WHERE l.token_hash = $1",
    )
    .bind(hash)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::UndoLinkInvalid)
}

/// What the link would undo, and whether it still can: the page a notice's link opens. Reading
/// it changes nothing (mail scanners open links too).
pub async fn describe(services: &Services, token: &str) -> AppResult<UndoView> {
    let hash = token_hash(token)?;
    let mut conn = services.db.pool.acquire().await?;
    let row = find(&mut conn, &hash).await?;
    Ok(row.view(services.now_ms()))
}

/// After an undo: every link of the account spent (it has changed through one), a password reset
/// required, every session ended. Answers how many sessions ended.
async fn lock_out(conn: &mut AnyConnection, account_id: &str, now: i64) -> AppResult<u64> {
    sqlx::query("UPDATE undo_links SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE accounts SET password_reset_required = 1 WHERE id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    crate::ssr::session::end_all(conn, account_id).await
}

/// Undoes the change, once, in one transaction (see the module). Answers what was restored.
#[tracing::instrument(skip(services, meta, token))]
pub async fn apply(services: &Services, meta: &RequestMeta, token: &str) -> AppResult<UndoView> {
    let hash = token_hash(token)?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    // The account row first, under lock: the same order as every binding, so an undo racing a
    // change (or another undo) waits for it and then sees what it did.
    let (account_id,): (String,) =
        sqlx::query_as("SELECT account_id FROM undo_links WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AppError::UndoLinkInvalid)?;
    let (email,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT email FROM accounts WHERE id = $1{}",
        services.db.for_update()
    )))
    .bind(&account_id)
    .fetch_one(&mut *tx)
    .await?;
    // Every change of the account's links happens under this lock (a binding issues them with
    // the account row locked too), so what is read now stays true until the commit.
    let row = find(&mut tx, &hash).await?;
    match row.state(now) {
        UndoState::Ready => {}
        UndoState::Used => return Err(AppError::UndoLinkUsed),
        UndoState::Expired => return Err(AppError::UndoLinkExpired),
        UndoState::Superseded => return Err(AppError::UndoLinkSuperseded),
    }
    let previous = PhoneNumber::parse(&row.previous_phone, None)?;
    phone_binding::rebind(
        &mut tx,
        services,
        &row.account_id,
        Some(&row.new_phone),
        &previous,
    )
    .await?;
    let ended = lock_out(&mut tx, &row.account_id, now).await?;
    let detail = format!(
        "{} -> {} (undoing the change by {}); {ended} sessions ended; password reset required",
        mask_e164(&row.new_phone),
        mask_e164(&row.previous_phone),
        row.changed_by
    );
    let event = AuditEvent {
        at: now,
        principal_kind: ACTOR_KIND,
        principal_name: ACTOR_NAME,
        action: ACTION,
        subject_account_id: &row.account_id,
        client_ip: &meta.client_ip,
        outcome: "success",
        detail: &detail,
    };
    audit::record(&mut tx, event).await?;
    let locale = crate::ssr::account::language(&mut tx, &row.account_id, Locale::En).await?;
    let text = t_with(
        locale,
        "notice-restored",
        &[
            ("account", row.display_name.clone()),
            ("previous", mask_e164(&row.previous_phone)),
            ("new", mask_e164(&row.new_phone)),
        ],
    );
    let restored = outbox::PhoneNotice {
        subject: &t(locale, "notice-phone-restored-subject"),
        text: &text,
    };
    outbox::enqueue_phone_restored(&mut tx, &row.previous_phone, &email, restored, now).await?;
    services.commit_and_wake(tx).await?;
    tracing::info!(account = %row.account_id, ended, "phone change undone");
    let mut view = row.view(now);
    view.state = UndoState::Used;
    Ok(view)
}

/// Whether the account's password must be reset before it signs in again (after an undo).
pub async fn password_reset_required(services: &Services, account_id: &str) -> AppResult<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT password_reset_required FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&services.db.pool)
            .await?;
    Ok(row.is_some_and(|(flag,)| flag != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_of_32_hex_digits_is_looked_up() {
        assert!(token_hash("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdefa",
            "' OR '1'='1' --                 ",
        ] {
            assert_eq!(token_hash(bad), Err(AppError::UndoLinkInvalid), "{bad:?}");
        }
    }

    #[test]
    fn the_lifetime_reads_in_whole_units() {
        assert_eq!(lifetime_words(Locale::En, 7 * 86_400), "7 days");
        assert_eq!(lifetime_words(Locale::En, 86_400), "1 day");
        assert_eq!(lifetime_words(Locale::En, 3 * 3600), "3 hours");
        assert_eq!(lifetime_words(Locale::En, 90), "1 minute");
        assert_eq!(lifetime_words(Locale::ZhCn, 7 * 86_400), "7 天");
    }
}
