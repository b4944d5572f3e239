//! Appeals (SPEC 4): when neither the phone nor the email can be reached, a person decides.
//!
//! An appeal is filed in two steps: a code goes to the contact email, then the appeal is filed
//! with that code, so every appeal names an address its author reads. Appeals are throttled per
//! account and per client address, each cap one conditional statement in the filing transaction.

use crate::domain::{Email, PhoneNumber, Region, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::model::AppealView;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::config::Limits;
use crate::ssr::crypto::random_token;
use crate::ssr::db::Tx;
use crate::ssr::outbox::{self, Channel};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use crate::ssr::verification::{self, CodeAttempt, CodeRequest, Purpose, Requester, SentCode};
use crate::ssr::{Services, account, rate};

const REASON_MAX: usize = 1000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What an appeal says, parsed: the number to bind, the address to answer at and why.
struct AppealForm {
    number: PhoneNumber,
    email: Email,
    reason: String,
}

fn parse_reason(reason: &str) -> AppResult<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(AppError::invalid("invalid-appeal-reason-length"));
    }
    // Line breaks and tabs are text; other control characters (a NUL byte: PostgreSQL refuses it) are not.
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid("invalid-reason-chars"));
    }
    Ok(reason.to_string())
}

/// Step 1: sends a code to the contact email, bound to this session, this account and that address.
#[tracing::instrument(skip_all, fields(account = %principal.account_id))]
pub async fn send_contact_code(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    contact_email: &str,
) -> AppResult<SentCode> {
    principal.require_owner()?;
    let email = Email::parse(contact_email)?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::AppealContact,
            requester: Requester::of(principal),
            account_id: &principal.account_id,
            target: email.as_str(),
            channel: Channel::Email,
            session_hash: &principal.session_hash,
            client_ip: &meta.client_ip,
            locale: crate::i18n::locale(),
        },
    )
    .await
}

/// One appeal from the account's daily and the client's hourly budget, in the filing's transaction.
async fn take_appeal_budgets(
    tx: &mut Tx,
    limits: &Limits,
    account_id: &str,
    client_ip: &str,
    now: i64,
) -> AppResult<()> {
    let day = rate::window_start(now, DAY_MS, limits.day_starts_at_utc_minutes * 60_000);
    let hour = rate::window_start(now, HOUR_MS, 0);
    let budgets = [
        (
            format!("appeals:account:{account_id}"),
            day,
            limits.appeals_per_account_per_day,
        ),
        (
            format!("appeals:ip:{client_ip}"),
            hour,
            limits.appeals_per_ip_per_hour,
        ),
    ];
    for (scope, window, cap) in budgets {
        if !rate::take(tx, &scope, window, cap).await? {
            tracing::info!(scope = scope.split(':').nth(1), "appeal refused by a limit");
            return Err(AppError::AppealLimitReached);
        }
    }
    Ok(())
}

/// Step 2: files the appeal with the code sent to its contact email. It never changes the number.
///
/// In one transaction: the code is consumed, one appeal is taken from the account's daily and
/// the client's hourly budget, the appeal, its audit event and its receipt are written. A wrong
/// code files nothing (its attempt stays counted); a refused budget files nothing and leaves the
/// code unused.
#[tracing::instrument(skip_all, fields(account = %principal.account_id))]
pub async fn file_appeal(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    new_phone: &str,
    contact_email: &str,
    reason: &str,
    code: &str,
) -> AppResult<String> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let form = AppealForm {
        number: PhoneNumber::parse_in_region(new_phone, Region::parse(&account.region)?)?,
        email: Email::parse(contact_email)?,
        reason: parse_reason(reason)?,
    };
    let code = VerificationCode::parse(code)?;
    let limits = &services.config.limits;
    let now = services.now_ms();
    let tx = services.db.begin().await?;
    let attempt = CodeAttempt {
        purpose: Purpose::AppealContact,
        account_id: &account.id,
        target: form.email.as_str(),
        session_hash: &principal.session_hash,
        code: &code,
    };
    let mut tx = verification::consume_keeping_attempt(tx, services, &attempt).await?;
    // Dropping `tx` rolls back the code's use and any budget already taken.
    take_appeal_budgets(&mut tx, limits, &account.id, &meta.client_ip, now).await?;
    let reference = format!("AP{}", &random_token()[..12].to_ascii_uppercase());
    sqlx::query(
        "INSERT INTO appeals (reference, account_id, new_phone, contact_email, reason, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6)",
    )
    .bind(&reference)
    .bind(&account.id)
    .bind(form.number.e164())
    .bind(form.email.as_str())
    .bind(&form.reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::by(principal, now, &meta.client_ip, "FileAppeal", &account.id)
            .detail(&reference),
    )
    .await?;
    outbox::enqueue_notice(
        &mut tx,
        (Channel::Email, form.email.as_str()),
        "Your appeal was received",
        &format!("We received your appeal {reference} to change the mobile phone number. We will contact you at this address."),
        now,
    )
    .await?;
    services.commit_and_wake(tx).await?;
    Ok(reference)
}

pub async fn list_appeals(
    services: &Services,
    principal: &Principal,
) -> AppResult<Vec<AppealView>> {
    principal.require_owner()?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT reference, new_phone, status, created_at FROM appeals WHERE account_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(&principal.account_id)
    .fetch_all(&services.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(reference, phone, status, at)| AppealView {
            reference,
            masked_phone: crate::domain::phone::mask_e164(&phone),
            status: crate::model::appeal_status_label(&status).to_string(),
            created_at: rfc3339(at),
        })
        .collect())
}
