//! Password recovery (SPEC 4): a code to the bound phone or to the logon email sets a new password.
//!
//! After a number is bound by anyone but the account's owner (a directory administrator),
//! recovery by SMS is on hold for `limits.recovery_hold_secs`: whoever bound the number must not
//! be able to reset the password with it. The logon email still works.

use crate::domain::{Email, PhoneNumber, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::i18n::{t, t_with};
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::crypto::{hash_password, random_token, sha256_hex};
use crate::ssr::db::Tx;
use crate::ssr::outbox::{self, Channel};
use crate::ssr::request::RequestMeta;
use crate::ssr::verification::{self, CodeAttempt, CodeRequest, Purpose, Requester};
use crate::ssr::{Services, rate};

const HOUR_MS: i64 = 3_600_000;

/// Where the recovery code goes, as the user chose on /forgot-password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryChannel {
    /// "Mobile phone": the bound number (the default, and what a form without a choice means).
    Sms,
    /// "Logon email".
    Email,
}

impl RecoveryChannel {
    pub fn parse(input: Option<&str>) -> AppResult<Self> {
        match input.map(str::trim).unwrap_or("") {
            "" | "sms" => Ok(RecoveryChannel::Sms),
            "email" => Ok(RecoveryChannel::Email),
            _ => Err(AppError::invalid("invalid-recovery-channel")),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            RecoveryChannel::Sms => "sms",
            RecoveryChannel::Email => "email",
        }
    }
}

/// When the SMS recovery hold of a binding made at `bound_at` ends.
pub fn hold_until(services: &Services, bound_at: i64) -> i64 {
    bound_at.saturating_add(
        services
            .config
            .limits
            .recovery_hold_secs
            .saturating_mul(1000),
    )
}

/// `YYYY-MM-DD hh:mm UTC`, for notices.
pub fn format_utc(at_ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// An account as password recovery sees it.
#[derive(sqlx::FromRow)]
struct RecoveryAccount {
    id: String,
    phone: Option<String>,
    email: String,
    phone_set_by_other_at: Option<i64>,
}

impl RecoveryAccount {
    /// The end of the SMS hold, while it lasts.
    fn sms_held_until(&self, services: &Services) -> Option<i64> {
        let until = hold_until(services, self.phone_set_by_other_at?);
        (services.now_ms() < until).then_some(until)
    }
}

/// Forgot password, step 1: the same answer, the same status and about the same work whether
/// the account exists or not, is on hold or not. Returns the recovery token the browser keeps
/// in a cookie; the code is bound to it.
pub async fn request_reset(
    services: &Services,
    meta: &RequestMeta,
    account_input: &str,
    channel: RecoveryChannel,
    existing_token: Option<&str>,
) -> AppResult<String> {
    let started = std::time::Instant::now();
    // A repeated request from the same browser keeps its token, so the code already sent stays good.
    let token = existing_token
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .unwrap_or_else(random_token);
    // The client's budget is taken before the account is looked up, so at the cap every
    // account, known or not, gets the same refusal.
    let hour = rate::window_start(services.now_ms(), HOUR_MS, 0);
    {
        let mut conn = services.db.pool.acquire().await?;
        let scope = format!("recovery:ip:{}", meta.client_ip);
        let cap = services.config.limits.recovery_requests_per_ip_per_hour;
        if !rate::take(&mut conn, &scope, hour, cap).await? {
            return Err(AppError::IpLimitReached);
        }
    }
    let Some(account) = find_for_recovery(services, account_input).await? else {
        same_work_as_a_send(services, account_input).await?;
        services.recovery_pace.wait_out(started).await;
        return Ok(token);
    };
    let target = match channel {
        RecoveryChannel::Email => Some((account.email.as_str(), Channel::Email)),
        RecoveryChannel::Sms => match (&account.phone, account.sms_held_until(services)) {
            (Some(_), Some(until)) => {
                tell_sms_is_held(services, &account, until).await?;
                None
            }
            (Some(phone), None) => Some((phone.as_str(), Channel::Sms)),
            (None, _) => None,
        },
    };
    if target.is_none() {
        same_work_as_a_send(services, account_input).await?;
        services.recovery_pace.wait_out(started).await;
    }
    if let Some((target, channel)) = target {
        let sent = verification::send_code(
            services,
            CodeRequest {
                purpose: Purpose::ResetPassword,
                requester: Requester::RECOVERY,
                account_id: &account.id,
                target,
                channel,
                session_hash: &sha256_hex(&token),
                client_ip: &meta.client_ip,
                locale: crate::i18n::locale(),
            },
        )
        .await;
        // Every outcome but a fault looks alike: a refused resend would tell that the account
        // exists, so within the minute the earlier code simply stays the one to use.
        if let Err(AppError::Internal) = sent {
            return Err(AppError::Internal);
        }
        services.recovery_pace.observe(started);
    }
    Ok(token)
}

/// When no code is sent (an unknown account, no number), a write transaction of about the
/// cost of a send, so the time of the answer does not tell whether the account exists: a
/// counter of the identifier asked for (kept as a hash, purged with the other counters) and the
/// statements a send runs before it, matching nothing.
async fn same_work_as_a_send(services: &Services, account_input: &str) -> AppResult<()> {
    let now = services.now_ms();
    let probe = sha256_hex(account_input.trim());
    let mut tx = services.db.begin().await?;
    sqlx::query("SELECT last_sent_at FROM resend_guards WHERE purpose = $1 AND target = $2")
        .bind(Purpose::ResetPassword.as_str())
        .bind(&probe)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE challenges SET status = 'replaced' \
         WHERE session_hash = $1 AND purpose = $2 AND account_id = $3 AND status = 'pending'",
    )
    .bind(&probe)
    .bind(Purpose::ResetPassword.as_str())
    .bind(&probe)
    .execute(&mut *tx)
    .await?;
    let scope = format!("recovery:probe:{probe}");
    rate::take(
        &mut tx,
        &scope,
        rate::window_start(now, HOUR_MS, 0),
        i64::MAX,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An SMS recovery asked for while the hold lasts sends no SMS; the logon email is told why
/// and what to use instead, at most as often as the recovery budget of that address allows.
async fn tell_sms_is_held(
    services: &Services,
    account: &RecoveryAccount,
    until: i64,
) -> AppResult<()> {
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    let scope = format!("recovery:target:{}", account.email);
    let cap = services.config.limits.recovery_codes_per_target_per_hour;
    if !rate::take(&mut tx, &scope, rate::window_start(now, HOUR_MS, 0), cap).await? {
        return Ok(());
    }
    let locale = crate::ssr::account::language(&mut tx, &account.id, crate::i18n::locale()).await?;
    let body = t_with(
        locale,
        "notice-recovery-on-hold",
        &[("until", format_utc(until))],
    );
    outbox::enqueue_notice(
        &mut tx,
        (Channel::Email, &account.email),
        &t(locale, "notice-recovery-on-hold-subject"),
        &body,
        now,
    )
    .await?;
    services.commit_and_wake(tx).await?;
    Ok(())
}

async fn find_for_recovery(services: &Services, input: &str) -> AppResult<Option<RecoveryAccount>> {
    let input = input.trim();
    if let Ok(email) = Email::parse(input) {
        return Ok(sqlx::query_as(
            "SELECT id, phone, email, phone_set_by_other_at FROM accounts WHERE email = $1 AND status = 'active'",
        )
        .bind(email.as_str())
        .fetch_optional(&services.db.pool)
        .await?);
    }
    if let Ok(phone) = PhoneNumber::parse(input, None) {
        // A number shared by several accounts cannot say whose password to reset: ask for the email.
        let mut rows: Vec<RecoveryAccount> = sqlx::query_as(
            "SELECT id, phone, email, phone_set_by_other_at FROM accounts WHERE phone = $1 AND status = 'active' LIMIT 2",
        )
        .bind(phone.e164())
        .fetch_all(&services.db.pool)
        .await?;
        return Ok(if rows.len() == 1 { rows.pop() } else { None });
    }
    Ok(None)
}

/// Forgot password, step 2: the code from the chosen channel sets a new password and ends every
/// session of the account (the owner's, its RAM users', roles' and SSO sessions).
pub async fn reset_password(
    services: &Services,
    meta: &RequestMeta,
    recovery_token: Option<&str>,
    account_input: &str,
    channel: RecoveryChannel,
    code: &VerificationCode,
    new_password: &str,
) -> AppResult<()> {
    check_password_policy(new_password)?;
    // The hash comes first, whatever follows: an unknown account or a missing token must cost
    // the same time as a wrong code, or the timing tells which accounts exist.
    let hash = {
        let password = new_password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|_| AppError::Internal)?
    };
    let account = find_for_recovery(services, account_input).await?;
    let (Some(token), Some(account)) = (recovery_token, account) else {
        // A wrong code for a known account counts its attempt in a write: as much work here.
        same_work_as_a_send(services, account_input).await?;
        return Err(AppError::CodeIncorrectOrExpired);
    };
    let target = recovery_target(services, &account, channel)?;
    let account_id = account.id.as_str();
    let now = services.now_ms();
    let attempt = CodeAttempt {
        purpose: Purpose::ResetPassword,
        account_id,
        target,
        session_hash: &sha256_hex(token),
        code,
    };
    let mut tx =
        verification::consume_keeping_attempt(services.db.begin().await?, services, &attempt)
            .await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, password_reset_required = 0, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    // A root password reset ends every session of the account, not only the owner's: a RAM
    // user's or an SSO session opened by whoever knew the old password must not outlive it.
    let ended = crate::ssr::session::end_all(&mut tx, account_id).await?;
    record_reset(&mut tx, meta, &account, channel, ended, now).await?;
    services.commit_and_wake(tx).await?;
    Ok(())
}

/// Where the code of `channel` was sent; refused as a wrong code while SMS recovery is held.
fn recovery_target<'a>(
    services: &Services,
    account: &'a RecoveryAccount,
    channel: RecoveryChannel,
) -> AppResult<&'a str> {
    match channel {
        RecoveryChannel::Email => Ok(account.email.as_str()),
        // While the hold lasts no SMS code is sent, and none sent before it counts.
        RecoveryChannel::Sms if account.sms_held_until(services).is_some() => {
            Err(AppError::CodeIncorrectOrExpired)
        }
        RecoveryChannel::Sms => account
            .phone
            .as_deref()
            .ok_or(AppError::CodeIncorrectOrExpired),
    }
}

/// The reset's audit event and its notice to the logon email, in the reset's transaction.
async fn record_reset(
    tx: &mut Tx,
    meta: &RequestMeta,
    account: &RecoveryAccount,
    channel: RecoveryChannel,
    ended: u64,
    now: i64,
) -> AppResult<()> {
    let account_id = account.id.as_str();
    let detail = format!(
        "by a code sent by {}; {ended} sessions signed out",
        channel.label()
    );
    audit::record(
        tx,
        AuditEvent {
            at: now,
            principal_kind: "owner",
            principal_name: "password recovery",
            action: "ResetPassword",
            subject_account_id: account_id,
            client_ip: &meta.client_ip,
            outcome: "success",
            detail: &detail,
        },
    )
    .await?;
    let locale =
        crate::ssr::account::language(&mut *tx, &account.id, crate::i18n::locale()).await?;
    let key = match channel {
        RecoveryChannel::Sms => "notice-password-reset-by-sms",
        RecoveryChannel::Email => "notice-password-reset-by-email",
    };
    outbox::enqueue_notice(
        &mut *tx,
        (Channel::Email, &account.email),
        &t(locale, "notice-password-reset-subject"),
        &t(locale, key),
        now,
    )
    .await?;
    Ok(())
}

pub fn check_password_policy(password: &str) -> AppResult<()> {
    let long_enough = (8..=128).contains(&password.chars().count());
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if long_enough && letters && digits {
        Ok(())
    } else {
        Err(AppError::invalid("invalid-password"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_password_policy("Demo-pass-123").is_ok());
        for weak in ["short1", "onlyletters", "1234567890", &"a1".repeat(65)] {
            assert!(check_password_policy(weak).is_err(), "{weak}");
        }
    }
}
