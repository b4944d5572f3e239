//! Sign-in, sign-out, "who am I" and Switch Role.

use crate::error::AppError;
use crate::model::{Me, SignInReply};
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
    if let auth::Outcome::SignedIn(signed_in) = &outcome {
        ctx::set_cookie(session::cookie(&signed_in.token));
    }
    Ok(outcome.reply())
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
