//! The signed-in account as the Overview and Security Settings pages show it.

use crate::error::AppError;
use crate::model::AccountSummary;
use leptos::prelude::*;

#[server(endpoint = "account")]
pub async fn get_account() -> Result<AccountSummary, AppError> {
    use crate::api::ctx;
    let (services, _meta, principal) = ctx::signed_in().await?;
    crate::ssr::account::summary(&services, &principal.account_id).await
}

/// The language switcher: remembers the choice in this browser's cookie and, for a signed-in
/// owner, on the account, so every device the owner signs in on (and the owner's notices)
/// follows it. Anyone may switch, signed in or not.
#[server(endpoint = "set_language")]
pub async fn set_language(language: String) -> Result<(), AppError> {
    use crate::api::ctx;
    use crate::i18n::{self, Locale};
    let locale =
        Locale::from_tag(&language).ok_or_else(|| AppError::invalid("invalid-language"))?;
    let services = ctx::services()?;
    match ctx::signed_in().await {
        Ok((_, _, principal)) if principal.is_owner() => {
            crate::ssr::account::set_language(&services, &principal.account_id, locale).await?
        }
        Ok(_) | Err(AppError::NotSignedIn) => {}
        Err(e) => return Err(e),
    }
    ctx::set_cookie(i18n::cookie(locale));
    Ok(())
}
