//! Change the mobile phone number (SPEC 4): identity, new number, code, OK.

use crate::error::AppError;
use crate::model::{CodeSent, IdentityOptions};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn parse_method(method: &str) -> Result<crate::model::IdentityMethod, AppError> {
    crate::model::IdentityMethod::parse(method)
        .ok_or_else(|| AppError::invalid("invalid-identity-method"))
}

#[cfg(feature = "ssr")]
fn parse_intent(intent: &str) -> Result<crate::ssr::verification::TicketPurpose, AppError> {
    use crate::ssr::verification::TicketPurpose;
    match intent {
        "" | "change_phone" => Ok(TicketPurpose::ChangePhone),
        "unbind_totp" => Ok(TicketPurpose::UnbindTotp),
        "bind_totp" => Ok(TicketPurpose::BindTotp),
        "logon_protection" => Ok(TicketPurpose::LogonProtection),
        _ => Err(AppError::invalid("invalid-operation")),
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn code_sent(sent: crate::ssr::verification::SentCode, now_ms: i64) -> CodeSent {
    CodeSent {
        expires_in_secs: (sent.expires_at_ms - now_ms) / 1000,
        resend_after_secs: sent.resend_after_secs,
        sent_to: sent.sent_to,
    }
}

#[cfg(feature = "ssr")]
fn bounded(value: &str, max: usize) -> Result<(), AppError> {
    if value.len() > max {
        Err(AppError::invalid("invalid-phone-number-too-long"))
    } else {
        Ok(())
    }
}

#[server(endpoint = "identity_options")]
pub async fn get_identity_options() -> Result<IdentityOptions, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::phone_change::identity_options(&services, &principal).await
}

#[server(endpoint = "send_identity_code")]
pub async fn send_identity_code(
    method: String,
    #[server(default)] intent: String,
) -> Result<CodeSent, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    let sent = crate::ssr::phone_change::send_identity_code(
        &services,
        &principal,
        &meta,
        parse_method(&method)?,
        parse_intent(&intent)?,
    )
    .await?;
    Ok(code_sent(sent, services.now_ms()))
}

/// Answers the seconds the granted ticket lives: the time left to finish the change.
#[server(endpoint = "verify_identity")]
pub async fn verify_identity(
    method: String,
    code: String,
    #[server(default)] intent: String,
) -> Result<i64, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    let code = crate::domain::VerificationCode::parse(&code)?;
    let ticket = crate::ssr::phone_change::verify_identity(
        &services,
        &principal,
        parse_method(&method)?,
        &code,
        parse_intent(&intent)?,
    )
    .await?;
    Ok(ticket.seconds_left(services.now_ms()))
}

/// While typing: the number as it would be bound, or why it cannot be.
#[server(endpoint = "check_new_phone")]
pub async fn check_new_phone(number: String) -> Result<String, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    bounded(&number, 64)?;
    crate::ssr::phone_change::validate_new_number(&services, &principal, &number).await
}

#[server(endpoint = "send_new_phone_code")]
pub async fn send_new_phone_code(number: String) -> Result<CodeSent, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    bounded(&number, 64)?;
    let sent =
        crate::ssr::phone_change::send_new_number_code(&services, &principal, &meta, &number)
            .await?;
    Ok(code_sent(sent, services.now_ms()))
}

#[server(endpoint = "confirm_phone_change")]
pub async fn confirm_phone_change(number: String, code: String) -> Result<String, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    principal.require_owner()?;
    bounded(&number, 64)?;
    let code = crate::domain::VerificationCode::parse(&code)?;
    let (masked, token) =
        crate::ssr::phone_change::confirm_change(&services, &principal, &meta, &number, &code)
            .await?;
    crate::api::ctx::set_cookie(crate::ssr::session::cookie(&token));
    Ok(masked)
}
