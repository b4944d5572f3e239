//! Sign-in, sign-out, "who am I" and Switch Role.

use crate::error::AppError;
use crate::model::{CodeSent, Me, SignInReply};
use leptos::prelude::*;

#[server(endpoint = "sign_in")]
pub async fn sign_in(
    account: String,
    password: String,
    #[server(default)] account_id: Option<String>,
) -> Result<SignInReply, AppError> {
    use crate::api::ctx;
    use crate::ssr::{auth, session};
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    let chosen = account_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let outcome = auth::sign_in(
        &services,
        &account,
        &password,
        chosen,
        &meta.client_ip,
        meta.token.as_deref(),
    )
    .await?;
    match &outcome {
        auth::Outcome::SignedIn(signed_in) => ctx::set_cookie(session::cookie(&signed_in.token)),
        auth::Outcome::SecondStep { token, .. } => {
            ctx::set_cookie(crate::ssr::logon::step_cookie(&services, token))
        }
        auth::Outcome::ChooseAccount(_) => {}
    }
    Ok(outcome.reply())
}

/// Logon protection by SMS (or a locked authenticator): sends the second step's code to the
/// bound phone. The pending sign-in is the one in this browser's step cookie.
#[server(endpoint = "sign_in_send_code")]
pub async fn sign_in_send_code() -> Result<CodeSent, AppError> {
    use crate::api::ctx;
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    let token = ctx::cookie(crate::ssr::logon::STEP_COOKIE);
    let sent = crate::ssr::logon::send_code(&services, token.as_deref(), &meta.client_ip).await?;
    Ok(crate::api::phone::code_sent(sent, services.now_ms()))
}

/// The second sign-in step: the authenticator's code, or with `by_sms` the SMS code.
#[server(endpoint = "sign_in_verify")]
pub async fn sign_in_verify(code: String, #[server(default)] by_sms: bool) -> Result<(), AppError> {
    use crate::api::ctx;
    use crate::domain::VerificationCode;
    use crate::ssr::{logon, session};
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    let code = VerificationCode::parse(&code)?;
    let token = ctx::cookie(logon::STEP_COOKIE);
    let session_token = logon::complete(&services, token.as_deref(), &code, by_sms, &meta).await?;
    ctx::set_cookie(logon::clearing_step_cookie());
    ctx::set_cookie(session::cookie(&session_token));
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::api::ctx;
    use crate::ssr::session;
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    if let Some(token) = meta.token.as_deref() {
        session::destroy(&services, token).await?;
    }
    ctx::set_cookie(session::clearing_cookie());
    Ok(())
}

#[server(endpoint = "me")]
pub async fn get_me() -> Result<Me, AppError> {
    use crate::api::ctx;
    let (services, _meta, principal) = ctx::signed_in().await?;
    crate::ssr::auth::me(&services, &principal).await
}

#[server(endpoint = "switch_role")]
pub async fn switch_role(role: String) -> Result<(), AppError> {
    use crate::api::ctx;
    use crate::ssr::{auth, session};
    let (services, meta, principal) = ctx::signed_in().await?;
    let token = meta.token.as_deref().ok_or(AppError::NotSignedIn)?;
    let new_token = auth::switch_role(&services, &principal, &role, &meta.client_ip, token).await?;
    ctx::set_cookie(session::cookie(&new_token));
    Ok(())
}
