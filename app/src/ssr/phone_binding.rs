//! Binding a number to an account (SPEC 2, 4, 5): the check before a code goes to a new number,
//! and the one transaction that binds it, shared by the owner's change and the administrator's bind.
//!
//! `phone_binding_counts` holds one row per number; the capped upsert on it is the lock that
//! keeps the cap exact when many bindings race, on one instance or many.

use crate::domain::phone::mask_e164;
use crate::domain::{PhoneNumber, Region, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, t, t_with};
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::db::Tx;
use crate::ssr::outbox;
use crate::ssr::recovery;
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use crate::ssr::undo;
use crate::ssr::verification::{self, CodeAttempt, Purpose};
use sqlx::AnyConnection;
use std::future::Future;

fn binding_limit(services: &Services) -> AppError {
    AppError::phone_binding_limit(services.config.limits.accounts_per_phone)
}

/// Reads `input` as a mobile number of `region` (the registration region) that is not the
/// account's `current` one.
pub fn parse_new_number(
    region: &str,
    current: Option<&str>,
    input: &str,
) -> AppResult<PhoneNumber> {
    let number = PhoneNumber::parse_in_region(input, Region::parse(region)?)?;
    if current == Some(number.e164()) {
        return Err(AppError::SamePhone);
    }
    Ok(number)
}

/// Refuses a number already at the per-number cap; a check before sending a code, not a promise.
pub async fn check_room(services: &Services, number: &PhoneNumber) -> AppResult<()> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT accounts FROM phone_binding_counts WHERE phone = $1")
            .bind(number.e164())
            .fetch_optional(&services.db.pool)
            .await?;
    if row.map(|r| r.0).unwrap_or(0) < services.config.limits.accounts_per_phone {
        Ok(())
    } else {
        Err(binding_limit(services))
    }
}

/// The check before a code goes to a new number: a mobile number of the registration region,
/// not today's number, with room left under the cap.
pub async fn check_new_number(
    services: &Services,
    region: &str,
    current: Option<&str>,
    input: &str,
) -> AppResult<PhoneNumber> {
    let number = parse_new_number(region, current, input)?;
    check_room(services, &number).await?;
    Ok(number)
}

/// Moves `account_id` from `old` (if any) to `new` inside the caller's transaction, or refuses
/// with `PhoneBindingLimit` when `new` is full (the caller then rolls back).
pub(crate) async fn rebind(
    conn: &mut AnyConnection,
    services: &Services,
    account_id: &str,
    old: Option<&str>,
    new: &PhoneNumber,
) -> AppResult<()> {
    let taken: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO phone_binding_counts (phone, accounts) VALUES ($1, 1) \
         ON CONFLICT (phone) DO UPDATE SET accounts = phone_binding_counts.accounts + 1 \
         WHERE phone_binding_counts.accounts < $2 RETURNING accounts",
    )
    .bind(new.e164())
    .bind(services.config.limits.accounts_per_phone)
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_none() {
        return Err(binding_limit(services));
    }
    if let Some(old) = old {
        sqlx::query("UPDATE phone_binding_counts SET accounts = accounts - 1 WHERE phone = $1 AND accounts > 0")
            .bind(old)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE accounts SET phone = $1, updated_at = $2 WHERE id = $3")
        .bind(new.e164())
        .bind(services.now_ms())
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One audit event of a binding, written by the principal who binds.
pub struct AuditEntry {
    pub action: &'static str,
    pub subject_account_id: String,
    pub detail: String,
}

/// The notice of a changed number: by email to `email`, and by SMS to the old number if any.
/// A change (not a first binding) ends with its undo link; `not_you` ends the others.
pub struct Notice {
    pub email: String,
    pub text: String,
    pub not_you: String,
}

/// What differs between the flows that bind a number: who is rechecked, which audit events are
/// written, who is told and how.
pub trait BindingFlow {
    /// What the flow rereads about the account, for its events, its notice and its answer.
    type Subject: Send;

    /// Inside the transaction, with the code spent and the account row locked (its number is
    /// `old`): spends a ticket, rereads the subject, refuses if the flow's rules no longer hold.
    fn recheck(
        &self,
        conn: &mut AnyConnection,
        services: &Services,
        old: Option<&str>,
    ) -> impl Future<Output = AppResult<Self::Subject>> + Send;

    /// The audit events of the binding; `change` reads `old -> new`, both masked.
    fn events(&self, subject: &Self::Subject, old: Option<&str>, change: &str) -> Vec<AuditEntry>;

    /// The notice of the change, in `locale` (the account's language).
    fn notice(&self, subject: &Self::Subject, old: Option<&str>, locale: Locale) -> Notice;
}

/// Whether `principal` is the owner binding a number to its own account. Every other binding
/// (a directory administrator, its RAM users) starts the SMS recovery hold.
pub fn binds_own_number(principal: &Principal, account_id: &str) -> bool {
    principal.is_owner() && principal.account_id == account_id
}

/// A binding asked for with a code sent to the new number.
pub struct BindRequest<'a> {
    pub principal: &'a Principal,
    pub meta: &'a RequestMeta,
    pub purpose: Purpose,
    pub account_id: &'a str,
    pub number: &'a PhoneNumber,
    pub code: &'a VerificationCode,
}

/// Binds the number in one transaction: the code is consumed (a wrong one keeps its counted
/// attempt), the account row reread under lock, the flow's rules and the same number rechecked,
/// the cap rechecked as the number is bound, the audit events written and the notices queued.
pub async fn bind<F: BindingFlow + Sync>(
    services: &Services,
    request: BindRequest<'_>,
    flow: &F,
) -> AppResult<F::Subject> {
    let attempt = CodeAttempt {
        purpose: request.purpose,
        account_id: request.account_id,
        target: request.number.e164(),
        session_hash: &request.principal.session_hash,
        code: request.code,
    };
    let tx = verification::consume_keeping_attempt(services.db.begin().await?, services, &attempt)
        .await?;
    let binding = Binding {
        principal: request.principal,
        meta: request.meta,
        account_id: request.account_id,
        number: request.number,
    };
    bind_proven(tx, services, binding, flow).await
}

/// A binding without its proof: who binds which number to which account.
pub struct Binding<'a> {
    pub principal: &'a Principal,
    pub meta: &'a RequestMeta,
    pub account_id: &'a str,
    pub number: &'a PhoneNumber,
}

/// The binding transaction once its proof is in `tx`: the code `bind` consumed, or (no code
/// at all) the decision the flow's `recheck` claims, such as an operator's approval of an
/// appeal. Everything after the proof is the same for every flow, and commits together.
pub async fn bind_proven<F: BindingFlow + Sync>(
    mut tx: Tx,
    services: &Services,
    request: Binding<'_>,
    flow: &F,
) -> AppResult<F::Subject> {
    let number = request.number;
    // The account as it is now, under lock: another tab or administrator may have just changed it.
    let (old,): (Option<String>,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT phone FROM accounts WHERE id = $1{}",
        services.db.for_update()
    )))
    .bind(request.account_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let old = old.as_deref();
    let subject = flow.recheck(&mut tx, services, old).await?;
    if old == Some(number.e164()) {
        return Err(AppError::SamePhone);
    }
    rebind(&mut tx, services, request.account_id, old, number).await?;

    let now = services.now_ms();
    let by_other = !binds_own_number(request.principal, request.account_id);
    if by_other {
        // Only time ends the hold: not even the owner's own change clears it, since whoever
        // holds the owner's session after a takeover could clear it as well.
        sqlx::query("UPDATE accounts SET phone_set_by_other_at = $1 WHERE id = $2")
            .bind(now)
            .bind(request.account_id)
            .execute(&mut *tx)
            .await?;
    }
    record_events(&mut tx, &request, flow, &subject, old, now).await?;
    // The account's own language; a change by someone else falls back to English, not to the
    // language of whoever made it.
    let fallback = if by_other {
        Locale::En
    } else {
        crate::i18n::locale()
    };
    let locale = crate::ssr::account::language(&mut tx, request.account_id, fallback).await?;
    let mut notice = flow.notice(&subject, old, locale);
    let ending = match old {
        Some(previous) => {
            let change = undo::Change {
                account_id: request.account_id,
                previous,
                new: number,
                changed_by: &request.principal.name,
            };
            undo::issue(&mut tx, services, change, now, locale).await?
        }
        None => notice.not_you.clone(),
    };
    notice.text.push(' ');
    notice.text.push_str(&ending);
    if by_other {
        let until = recovery::hold_until(services, now);
        notice.text.push(' ');
        let until = [("until", recovery::format_utc(until))];
        notice
            .text
            .push_str(&t_with(locale, "notice-recovery-hold", &until));
    }
    let changed = outbox::PhoneNotice {
        subject: &t(locale, "notice-phone-changed-subject"),
        text: &notice.text,
    };
    outbox::enqueue_phone_changed(&mut tx, old, &notice.email, changed, now).await?;
    services.commit_and_wake(tx).await?;
    Ok(subject)
}

/// The flow's audit events of a binding, each with the change `old -> new` masked.
async fn record_events<F: BindingFlow + Sync>(
    tx: &mut Tx,
    request: &Binding<'_>,
    flow: &F,
    subject: &F::Subject,
    old: Option<&str>,
    now: i64,
) -> AppResult<()> {
    let old_masked = old.map(mask_e164).unwrap_or_else(|| "none".into());
    let change = format!("{old_masked} -> {}", request.number.masked());
    for entry in flow.events(subject, old, &change) {
        let event = AuditEvent::by(
            request.principal,
            now,
            &request.meta.client_ip,
            entry.action,
            &entry.subject_account_id,
        );
        audit::record(tx, event.detail(&entry.detail)).await?;
    }
    Ok(())
}
