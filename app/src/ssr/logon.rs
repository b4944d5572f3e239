//! Logon protection (SPEC 4): the owner may require the authenticator or an SMS code to the bound
//! phone after the password. Off by default.
//!
//! A right password on a protected account opens a pending sign-in instead of a session: a random
//! token in an HttpOnly cookie (only its hash is stored), single use, alive for one code lifetime,
//! with the code attempt cap. The authenticator's own rules hold there too (a step is accepted
//! once, ten wrong codes in a row lock it); when it is locked, an SMS code to the bound phone
//! stands in for it, so a stranger who knows the password cannot lock the owner out for good.

use crate::domain::VerificationCode;
use crate::domain::phone::mask_e164;
use crate::error::{AppError, AppResult};
use crate::model::{LogonProtection, PrincipalKind, SignInStep};
use crate::ssr::account::{self, AccountRow};
use crate::ssr::crypto::{random_token, sha256_hex};
use crate::ssr::outbox::Channel;
use crate::ssr::request::RequestMeta;
use crate::ssr::session::{self, NewSession, Principal};
use crate::ssr::verification::{
    self, CodeAttempt, CodeRequest, Purpose, Requester, SentCode, TicketPurpose,
};
use crate::ssr::{Services, totp};

pub const STEP_COOKIE: &str = "__Host-signin-step";

/// The `Set-Cookie` value that carries a pending sign-in's token, for one code lifetime.
pub fn step_cookie(services: &Services, token: &str) -> String {
    format!(
        "{STEP_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        services.config.limits.code_lifetime_secs
    )
}

/// The `Set-Cookie` value that removes the pending sign-in's cookie.
pub fn clearing_step_cookie() -> String {
    format!("{STEP_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The method sign-in asks for after the password, given what the account has bound today: a
/// protection whose factor is gone falls back to the other one (an unbound authenticator to the
/// phone), and to the password alone only when neither is left.
fn effective(setting: LogonProtection, account: &AccountRow) -> LogonProtection {
    let totp = account.totp_bound != 0;
    let phone = account.phone.is_some();
    match setting {
        LogonProtection::Totp if totp => LogonProtection::Totp,
        LogonProtection::Sms if phone => LogonProtection::Sms,
        LogonProtection::Off => LogonProtection::Off,
        _ if phone => LogonProtection::Sms,
        _ if totp => LogonProtection::Totp,
        _ => LogonProtection::Off,
    }
}

/// After a right password: `None` when the account asks for nothing more, otherwise a pending
/// sign-in's token and what its second step asks for.
pub async fn begin(
    services: &Services,
    account_id: &str,
) -> AppResult<Option<(String, SignInStep)>> {
    let account = account::find(services, account_id).await?;
    let setting = LogonProtection::parse(&account.logon_protection).unwrap_or_default();
    let method = effective(setting, &account);
    if method == LogonProtection::Off {
        return Ok(None);
    }
    let token = random_token();
    let now = services.now_ms();
    sqlx::query(
        "INSERT INTO pending_sign_ins (token_hash, account_id, method, attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, 0, $4, $5)",
    )
    .bind(sha256_hex(&token))
    .bind(account_id)
    .bind(method.as_str())
    .bind(now)
    .bind(now + services.config.limits.code_lifetime_secs * 1000)
    .execute(&mut *services.db.write().await?)
    .await?;
    let step = SignInStep {
        method,
        masked_phone: account.phone.as_deref().map(mask_e164),
    };
    Ok(Some((token, step)))
}

struct Pending {
    id: i64,
    token_hash: String,
    account: AccountRow,
    method: LogonProtection,
}

/// The live pending sign-in of `token`; with `attempt`, one of its attempts is taken first, in
/// one conditional statement, so concurrent guesses cannot pass the cap.
async fn pending(services: &Services, token: Option<&str>, attempt: bool) -> AppResult<Pending> {
    let token_hash = sha256_hex(token.ok_or(AppError::SignInStepExpired)?);
    let now = services.now_ms();
    let max = services.config.limits.code_max_attempts;
    let row: Option<(i64, String, String)> = if attempt {
        sqlx::query_as(
            "UPDATE pending_sign_ins SET attempts = attempts + 1 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3 \
             RETURNING id, account_id, method",
        )
        .bind(&token_hash)
        .bind(now)
        .bind(max)
        .fetch_optional(&mut *services.db.write().await?)
        .await?
    } else {
        sqlx::query_as(
            "SELECT id, account_id, method FROM pending_sign_ins \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3",
        )
        .bind(&token_hash)
        .bind(now)
        .bind(max)
        .fetch_optional(&services.db.pool)
        .await?
    };
    let Some((id, account_id, method)) = row else {
        return Err(refusal(services, &token_hash).await?);
    };
    Ok(Pending {
        id,
        token_hash,
        account: account::find(services, &account_id).await?,
        method: LogonProtection::parse(&method).ok_or(AppError::Internal)?,
    })
}

/// Why a pending sign-in took no attempt: its attempts are spent, or it is gone.
async fn refusal(services: &Services, token_hash: &str) -> AppResult<AppError> {
    let spent: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM pending_sign_ins WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(services.now_ms())
    .fetch_optional(&services.db.pool)
    .await?;
    Ok(if spent.is_some() {
        AppError::TooManyAttempts
    } else {
        AppError::SignInStepExpired
    })
}

/// Whether this step may be passed by an SMS code: protection by SMS, or by an authenticator
/// that is locked after too many wrong codes (the bound phone then stands in for it).
async fn sms_allowed(services: &Services, pending: &Pending) -> AppResult<bool> {
    Ok(match pending.method {
        LogonProtection::Sms => true,
        LogonProtection::Totp => {
            pending.account.phone.is_some()
                && totp::state(services, &pending.account.id).await?.locked
        }
        LogonProtection::Off => false,
    })
}

/// The bound phone the second step's SMS code goes to; when this step may not use SMS, the
/// answer is `refusal`.
async fn sms_phone<'a>(
    services: &Services,
    pending: &'a Pending,
    refusal: &'static str,
) -> AppResult<&'a str> {
    if !sms_allowed(services, pending).await? {
        return Err(AppError::invalid(refusal));
    }
    pending
        .account
        .phone
        .as_deref()
        .ok_or(AppError::NoPhoneBound)
}

/// Sends the second step's SMS code to the bound phone, with budgets of its own: a stranger who
/// knows the password never spends the owner's.
pub async fn send_code(
    services: &Services,
    token: Option<&str>,
    client_ip: &str,
) -> AppResult<SentCode> {
    let pending = pending(services, token, false).await?;
    let refusal = "invalid-totp-no-code-sent";
    let phone = sms_phone(services, &pending, refusal).await?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::SignIn,
            requester: Requester::SIGN_IN,
            account_id: &pending.account.id,
            target: phone,
            channel: Channel::Sms,
            session_hash: &pending.token_hash,
            client_ip,
            locale: crate::i18n::locale(),
        },
    )
    .await
}

/// Checks the second step's code and starts the session; answers its token. `by_sms` asks to
/// check an SMS code (protection by SMS, or a locked authenticator); otherwise the authenticator.
pub async fn complete(
    services: &Services,
    token: Option<&str>,
    code: &VerificationCode,
    by_sms: bool,
    meta: &RequestMeta,
) -> AppResult<String> {
    let pending = pending(services, token, true).await?;
    let account_id = pending.account.id.as_str();
    if by_sms || pending.method == LogonProtection::Sms {
        let refusal = "invalid-totp-enter-code";
        let phone = sms_phone(services, &pending, refusal).await?;
        let attempt = CodeAttempt {
            purpose: Purpose::SignIn,
            account_id,
            target: phone,
            session_hash: &pending.token_hash,
            code,
        };
        verification::consume_alone(services, &attempt).await?;
        if pending.method == LogonProtection::Totp {
            // The phone proved who this is: the authenticator opens again.
            totp::unlock(&mut *services.db.write().await?, account_id).await?;
        }
    } else {
        totp::check_totp(services, account_id, code).await?;
    }
    let used =
        sqlx::query("UPDATE pending_sign_ins SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(services.now_ms())
            .bind(pending.id)
            .execute(&mut *services.db.write().await?)
            .await?;
    if used.rows_affected() != 1 {
        return Err(AppError::SignInStepExpired);
    }
    tracing::info!(
        method = pending.method.as_str(),
        "signed in after logon protection"
    );
    session::create(
        services,
        NewSession {
            kind: PrincipalKind::Owner,
            account_id,
            actor_id: None,
            actor_name: &pending.account.email,
            via_user_id: None,
            client_ip: &meta.client_ip,
        },
        meta.token.as_deref(),
    )
    .await
}

/// Turns logon protection on, off or to the other method. Needs a live identity ticket for it
/// (so a borrowed session cannot quietly turn it off) and a bound factor for the method chosen;
/// the bound phone and the logon email are told.
pub async fn set(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    setting: LogonProtection,
) -> AppResult<()> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    match setting {
        LogonProtection::Totp if account.totp_bound == 0 => return Err(AppError::TotpNotBound),
        LogonProtection::Sms if account.phone.is_none() => return Err(AppError::NoPhoneBound),
        _ => {}
    }
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    verification::spend_ticket(&mut tx, services, principal, TicketPurpose::LogonProtection)
        .await?;
    sqlx::query("UPDATE accounts SET logon_protection = $1, updated_at = $2 WHERE id = $3")
        .bind(setting.as_str())
        .bind(now)
        .bind(&principal.account_id)
        .execute(&mut *tx)
        .await?;
    let body = match setting {
        LogonProtection::Off => "notice-logon-off",
        LogonProtection::Totp => "notice-logon-totp",
        LogonProtection::Sms => "notice-logon-sms",
    };
    let change = totp::FactorChange {
        action: "SetLogonProtection",
        detail: setting.as_str(),
        subject: "notice-logon-subject",
        body,
    };
    totp::record_factor_change(&mut tx, principal, meta, now, &change).await?;
    services.commit_and_wake(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(phone: bool, totp: bool) -> AccountRow {
        AccountRow {
            id: "1".into(),
            display_name: String::new(),
            alias: String::new(),
            email: "a@example.com".into(),
            region: "CN".into(),
            phone: phone.then(|| "+8613800138000".to_string()),
            totp_bound: i64::from(totp),
            logon_protection: String::new(),
        }
    }

    #[test]
    fn a_protection_whose_factor_is_gone_falls_back_to_the_other_one() {
        use LogonProtection::*;
        assert_eq!(effective(Totp, &account(true, true)), Totp);
        assert_eq!(effective(Totp, &account(true, false)), Sms);
        assert_eq!(effective(Sms, &account(false, true)), Totp);
        assert_eq!(effective(Sms, &account(false, false)), Off);
        assert_eq!(effective(Off, &account(true, true)), Off);
    }

    #[test]
    fn the_step_cookie_is_host_only_and_strict() {
        let c = clearing_step_cookie();
        assert!(c.starts_with("__Host-signin-step=;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=0"));
    }
}
