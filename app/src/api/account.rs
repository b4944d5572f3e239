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
