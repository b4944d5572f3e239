//! The authenticator app (SPEC 3, 4): binding it, unbinding it, and checking its codes.

use crate::domain::VerificationCode;
use crate::error::{AppError, AppResult};
use crate::i18n::t;
use crate::model::TotpEnrollment;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::db::Tx;
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::{self, Principal};
use crate::ssr::verification::{self, TicketPurpose};
use crate::ssr::{Services, account};
use sqlx::AnyConnection;

const ENROLLMENT_SECS: i64 = 600;

/// The row's sealed form of an authenticator secret: bound to its account and its use, so a value
/// moved to another row or from an enrollment to the account does not open.
pub fn seal_secret(services: &Services, context: &str, secret_base32: &str) -> String {
    crate::ssr::crypto::seal(&services.config.secrets_key_bytes(), context, secret_base32)
}

fn open_secret(services: &Services, context: &str, stored: &str) -> AppResult<String> {
    crate::ssr::crypto::open(&services.config.secrets_key_bytes(), context, stored).ok_or_else(
        || {
            tracing::error!("a sealed TOTP secret does not open: wrong APP_SECRETS_KEY?");
            AppError::Internal
        },
    )
}

/// The context an account's bound secret is sealed under.
pub fn account_context(account_id: &str) -> String {
    format!("totp:{account_id}")
}

fn enrollment_context(account_id: &str) -> String {
    format!("totp_enrollment:{account_id}")
}

/// Renders a QR code of `text` as an SVG image (dark modules as one path).
fn qr_svg(text: &str) -> AppResult<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| AppError::Internal)?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"200\" height=\"200\" role=\"img\" aria-label=\"QR code for the authenticator app\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// Starts binding an authenticator: a new secret, shown once, waiting for its first code.
/// Needs a live identity ticket earned by the phone or the logon email: the password alone
/// must never be enough to add a second factor (issue 11, path 1). The ticket is spent by `confirm`.
pub async fn begin(services: &Services, principal: &Principal) -> AppResult<TotpEnrollment> {
    principal.require_owner()?;
    verification::require_ticket(services, principal, TicketPurpose::BindTotp).await?;
    let account = account::find(services, &principal.account_id).await?;
    if account.totp_bound != 0 {
        return Err(AppError::TotpAlreadyBound);
    }
    let secret = totp_rs::Secret::generate().to_base32();
    let uri = totp_uri(&secret, &account.email)?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    sqlx::query("DELETE FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2")
        .bind(&principal.session_hash)
        .bind(&account.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO totp_enrollments (session_hash, account_id, secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&principal.session_hash)
    .bind(&account.id)
    .bind(seal_secret(services, &enrollment_context(&account.id), &secret))
    .bind(now)
    .bind(now + ENROLLMENT_SECS * 1000)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(TotpEnrollment {
        qr_svg: qr_svg(&uri)?,
        uri,
        secret,
    })
}

/// Confirms the authenticator with its first code; the code's step is the last one accepted.
/// Spends the bind ticket, stores the bind time (a fresh authenticator proves nothing for a phone
/// change) and tells the bound phone and the logon email, all in one transaction.
pub async fn confirm(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    code: &VerificationCode,
) -> AppResult<String> {
    principal.require_owner()?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2 AND expires_at > $3",
    )
    .bind(&principal.session_hash)
    .bind(&principal.account_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (stored,) = row.ok_or(AppError::CodeIncorrectOrExpired)?;
    let secret = open_secret(
        services,
        &enrollment_context(&principal.account_id),
        &stored,
    )?;
    let step = totp_step(&secret, code, now)?.ok_or(AppError::CodeIncorrectOrExpired)?;
    verification::spend_ticket(&mut tx, services, principal, TicketPurpose::BindTotp).await?;
    let bound = sqlx::query(
        "UPDATE accounts SET totp_secret = $1, totp_last_step = $2, totp_bound_at = $3, totp_failures = 0, updated_at = $3 \
         WHERE id = $4 AND totp_secret IS NULL",
    )
    .bind(seal_secret(
        services,
        &account_context(&principal.account_id),
        &secret,
    ))
    .bind(step)
    .bind(now)
    .bind(&principal.account_id)
    .execute(&mut *tx)
    .await?;
    if bound.rows_affected() != 1 {
        return Err(AppError::TotpAlreadyBound);
    }
    sqlx::query("DELETE FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2")
        .bind(&principal.session_hash)
        .bind(&principal.account_id)
        .execute(&mut *tx)
        .await?;
    let change = FactorChange {
        action: "BindTotp",
        detail: "",
        subject: "notice-totp-added-subject",
        body: "notice-totp-added",
    };
    finish(services, tx, principal, meta, now, &change).await
}

/// Unbinds the authenticator; needs a live identity ticket for that purpose. Like binding, it ends
/// the account's other sessions and answers this session's new token.
pub async fn unbind(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
) -> AppResult<String> {
    principal.require_owner()?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    verification::spend_ticket(&mut tx, services, principal, TicketPurpose::UnbindTotp).await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL, totp_bound_at = NULL, totp_failures = 0, updated_at = $1 \
         WHERE id = $2 AND totp_secret IS NOT NULL",
    )
    .bind(now)
    .bind(&principal.account_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::TotpNotBound);
    }
    let change = FactorChange {
        action: "UnbindTotp",
        detail: "",
        subject: "notice-totp-removed-subject",
        body: "notice-totp-removed",
    };
    finish(services, tx, principal, meta, now, &change).await
}

/// Ends binding or unbinding in its transaction: records `change`, ends the account's other
/// sessions and commits; answers this session's new token.
async fn finish(
    services: &Services,
    mut tx: Tx,
    principal: &Principal,
    meta: &RequestMeta,
    now: i64,
    change: &FactorChange<'_>,
) -> AppResult<String> {
    record_factor_change(&mut tx, principal, meta, now, change).await?;
    let token = session::end_others_and_rotate(&mut tx, principal).await?;
    services.commit_and_wake(tx).await?;
    Ok(token)
}

/// A change the owner made to how its account proves who it is (the authenticator, logon
/// protection): the audit event's action and detail, and the notice's subject and body.
/// A change to how the account proves who signs in; `subject` and `body` are catalogue messages,
/// written in the owner's language.
pub(crate) struct FactorChange<'a> {
    pub action: &'a str,
    pub detail: &'a str,
    pub subject: &'static str,
    pub body: &'static str,
}

/// The audit event of `change` and its notice to the bound phone and the logon email, in
/// `conn`'s transaction.
pub(crate) async fn record_factor_change(
    conn: &mut AnyConnection,
    principal: &Principal,
    meta: &RequestMeta,
    now: i64,
    change: &FactorChange<'_>,
) -> AppResult<()> {
    audit::record(
        conn,
        AuditEvent::by(
            principal,
            now,
            &meta.client_ip,
            change.action,
            &principal.account_id,
        )
        .detail(change.detail),
    )
    .await?;
    let locale =
        crate::ssr::account::language(conn, &principal.account_id, crate::i18n::locale()).await?;
    notify_owner(
        conn,
        &principal.account_id,
        &t(locale, change.subject),
        &t(locale, change.body),
        now,
    )
    .await?;
    Ok(())
}

/// Queues a security notice to the account's bound phone (SMS) and logon email, in `conn`'s
/// transaction: the notice exists exactly when the change does.
async fn notify_owner(
    conn: &mut AnyConnection,
    account_id: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (phone, email): (Option<String>, String) =
        sqlx::query_as("SELECT phone, email FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(&mut *conn)
            .await?;
    let mut recipients = vec![(Channel::Email, email)];
    if let Some(phone) = phone {
        recipients.push((Channel::Sms, phone));
    }
    for (channel, recipient) in &recipients {
        outbox::enqueue(
            conn,
            NewMessage {
                channel: *channel,
                recipient,
                subject,
                body,
                template: Template::Notice,
                code: None,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// What the identity step may do with the account's authenticator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpState {
    pub bound: bool,
    /// Bound less than `limits.totp_fresh_secs` ago: no proof for a phone change.
    pub fresh: bool,
    /// Locked as an identity method after too many consecutive wrong codes.
    pub locked: bool,
}

pub async fn state(services: &Services, account_id: &str) -> AppResult<TotpState> {
    let limits = &services.config.limits;
    let row: Option<(i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END, totp_bound_at, totp_failures FROM accounts WHERE id = $1",
    )
    .bind(account_id)
    .fetch_optional(&services.db.pool)
    .await?;
    let (bound, bound_at, failures) = row.ok_or(AppError::NotFound)?;
    let now = services.now_ms();
    Ok(TotpState {
        bound: bound != 0,
        // No bind time on a bound authenticator cannot happen after migration 0005; treat it as fresh.
        fresh: bound != 0 && bound_at.is_none_or(|at| now - at < limits.totp_fresh_secs * 1000),
        locked: failures >= limits.totp_max_failures,
    })
}

fn totp_for(secret_base32: &str, account: &str) -> AppResult<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).map_err(|_| AppError::Internal)?;
    Ok(totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some("Account Center"))
        .build_noncompliant())
}

/// The otpauth URI an authenticator app reads.
pub fn totp_uri(secret_base32: &str, account: &str) -> AppResult<String> {
    totp_for(secret_base32, account)?
        .to_url()
        .map_err(|_| AppError::Internal)
}

/// The RFC 6238 step a code matches within ±1 step of now, if any.
pub fn totp_step(
    secret_base32: &str,
    code: &VerificationCode,
    now_ms: i64,
) -> AppResult<Option<i64>> {
    let totp = totp_for(secret_base32, "")?;
    Ok(totp
        .check(code.as_str(), (now_ms / 1000) as u64)
        .map(|step| step as i64))
}

/// Checks a TOTP code for the account's bound authenticator, refusing a step already used.
///
/// Every check first takes a failure slot in one conditional statement (committed before the code
/// is looked at), so concurrent guesses queue on the row and at most `totp_max_failures` are ever
/// checked. A right code gives the slot back (the run of failures ends); at the ceiling TOTP is
/// locked as an identity method, the phone and the email are told, and only a success by SMS or
/// email (`unlock`) opens it again.
#[tracing::instrument(skip(services, code))]
pub async fn check_totp(
    services: &Services,
    account_id: &str,
    code: &VerificationCode,
) -> AppResult<()> {
    let cap = services.config.limits.totp_max_failures;
    let now = services.now_ms();
    let taken: Option<(i64, String)> = {
        let mut conn = services.db.write().await?;
        sqlx::query_as(
            "UPDATE accounts SET totp_failures = totp_failures + 1 \
             WHERE id = $1 AND totp_secret IS NOT NULL AND totp_failures < $2 \
             RETURNING totp_failures, totp_secret",
        )
        .bind(account_id)
        .bind(cap)
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some((failures, stored)) = taken else {
        let bound = state(services, account_id).await?.bound;
        tracing::info!(bound, "authenticator code refused without a check");
        return Err(if bound {
            AppError::TotpLocked
        } else {
            AppError::TotpNotBound
        });
    };
    let secret = open_secret(services, &account_context(account_id), &stored)?;
    let step = totp_step(&secret, code, now)?;
    let mut conn = services.db.write().await?;
    if let Some(step) = step {
        // Accept the step only if it is later than the last accepted one: no replays.
        let accepted = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1, totp_failures = 0 \
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(account_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if accepted {
            return Ok(());
        }
    }
    drop(conn);
    tracing::info!(failures, "wrong authenticator code");
    if failures == cap {
        // This guess reached the ceiling: exactly one request sees `cap`, so one notice each.
        let mut tx = services.db.begin().await?;
        notify_owner(
            &mut tx,
            account_id,
            "Authenticator locked",
            "Too many wrong authenticator codes were entered for your Account Center account, so TOTP is locked as a verification method. Verify with your phone or email to unlock it. Not you? Change your password at once.",
            now,
        )
        .await?;
        services.commit_and_wake(tx).await?;
    }
    Err(AppError::CodeIncorrectOrExpired)
}

/// Ends a run of wrong authenticator codes (and a lock): the phone or the email proved identity.
pub async fn unlock(conn: &mut AnyConnection, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET totp_failures = 0 WHERE id = $1 AND totp_failures <> 0")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("otpauth://totp/Account%20Center:alice?secret=JBSWY3DP").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn code_at(ms: i64) -> VerificationCode {
        let totp = totp_for(SECRET, "").unwrap();
        VerificationCode::parse(&totp.generate((ms / 1000) as u64).to_string()).unwrap()
    }

    #[test]
    fn totp_accepts_one_step_either_side_and_no_more() {
        let now = 1_700_000_000_000;
        let step = now / 30_000;
        assert_eq!(totp_step(SECRET, &code_at(now), now).unwrap(), Some(step));
        assert_eq!(
            totp_step(SECRET, &code_at(now - 30_000), now).unwrap(),
            Some(step - 1)
        );
        assert_eq!(
            totp_step(SECRET, &code_at(now + 30_000), now).unwrap(),
            Some(step + 1)
        );
        assert_eq!(
            totp_step(SECRET, &code_at(now - 90_000), now).unwrap(),
            None
        );
        assert_eq!(
            totp_step(SECRET, &code_at(now + 90_000), now).unwrap(),
            None
        );
    }

    #[test]
    fn the_uri_is_an_otpauth_uri() {
        let uri = totp_uri(SECRET, "alice@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains("secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
            "{uri}"
        );
    }
}
