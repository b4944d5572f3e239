//! Authenticator, password recovery, appeals and the security log.

use crate::error::AppError;
use crate::model::{AppealView, AuditView, CodeSent, TotpEnrollment};
use leptos::prelude::*;

#[server(endpoint = "totp_begin")]
pub async fn begin_totp() -> Result<TotpEnrollment, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::totp::begin(&services, &principal).await
}

#[server(endpoint = "totp_confirm")]
pub async fn confirm_totp(code: String) -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    let code = crate::domain::VerificationCode::parse(&code)?;
    let token = crate::ssr::totp::confirm(&services, &principal, &meta, &code).await?;
    crate::api::ctx::set_cookie(crate::ssr::session::cookie(&token));
    Ok(())
}

#[server(endpoint = "totp_unbind")]
pub async fn unbind_totp() -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    let token = crate::ssr::totp::unbind(&services, &principal, &meta).await?;
    crate::api::ctx::set_cookie(crate::ssr::session::cookie(&token));
    Ok(())
}

/// Logon protection: `off`, `totp` or `sms`; needs this session's identity ticket for it.
#[server(endpoint = "logon_protection")]
pub async fn set_logon_protection(setting: String) -> Result<(), AppError> {
    use crate::model::LogonProtection;
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    let setting = LogonProtection::parse(&setting)
        .ok_or_else(|| AppError::invalid("invalid-logon-protection"))?;
    crate::ssr::logon::set(&services, &principal, &meta, setting).await
}

#[cfg(feature = "ssr")]
const RECOVERY_COOKIE: &str = "__Host-recovery";

/// The password-recovery token this browser holds, if any.
#[cfg(feature = "ssr")]
fn recovery_token() -> Option<String> {
    crate::api::ctx::cookie(RECOVERY_COOKIE)
}

/// Forgot password, step 1. The same answer whether or not the account exists.
#[server(endpoint = "forgot_password")]
pub async fn request_password_reset(
    account: String,
    /// `sms` ("Mobile phone", also when absent) or `email` ("Logon email").
    channel: Option<String>,
) -> Result<(), AppError> {
    use crate::api::ctx;
    use crate::ssr::recovery::{self, RecoveryChannel};
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    if account.len() > 254 {
        return Err(AppError::invalid("invalid-account-too-long"));
    }
    let channel = RecoveryChannel::parse(channel.as_deref())?;
    let existing = recovery_token();
    let token =
        recovery::request_reset(&services, &meta, &account, channel, existing.as_deref()).await?;
    ctx::set_cookie(format!(
        "{RECOVERY_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900"
    ));
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    account: String,
    code: String,
    new_password: String,
    /// The channel the code was sent by: `sms` (also when absent) or `email`.
    channel: Option<String>,
) -> Result<(), AppError> {
    use crate::api::ctx;
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    if account.len() > 254 || new_password.len() > 512 {
        return Err(AppError::invalid("invalid-input-too-long"));
    }
    let channel = crate::ssr::recovery::RecoveryChannel::parse(channel.as_deref())?;
    let code = crate::domain::VerificationCode::parse(&code)?;
    let token = recovery_token();
    crate::ssr::recovery::reset_password(
        &services,
        &meta,
        token.as_deref(),
        &account,
        channel,
        &code,
        &new_password,
    )
    .await?;
    ctx::set_cookie(format!(
        "{RECOVERY_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
    ));
    Ok(())
}

/// Appeal, step 1: a code to the contact email, which step 2 must carry.
#[server(endpoint = "send_appeal_code")]
pub async fn send_appeal_code(contact_email: String) -> Result<CodeSent, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    if contact_email.len() > 254 {
        return Err(AppError::invalid("invalid-input-too-long"));
    }
    let sent = crate::ssr::appeals::send_contact_code(&services, &principal, &meta, &contact_email)
        .await?;
    Ok(crate::api::phone::code_sent(sent, services.now_ms()))
}

/// Appeal, step 2: filed only with the code sent to its contact email.
#[server(endpoint = "file_appeal")]
pub async fn file_appeal(
    new_phone: String,
    contact_email: String,
    reason: String,
    #[server(default)] code: String,
) -> Result<String, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    if new_phone.len() > 64 || contact_email.len() > 254 || reason.len() > 4000 || code.len() > 64 {
        return Err(AppError::invalid("invalid-input-too-long"));
    }
    crate::ssr::appeals::file_appeal(
        &services,
        &principal,
        &meta,
        &new_phone,
        &contact_email,
        &reason,
        &code,
    )
    .await
}

#[server(endpoint = "appeals")]
pub async fn list_appeals() -> Result<Vec<AppealView>, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeals::list_appeals(&services, &principal).await
}

#[server(endpoint = "security_log")]
pub async fn security_log(
    #[server(default)] before: Option<i64>,
) -> Result<Vec<AuditView>, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::audit::security_log(&services, &principal, before).await
}
