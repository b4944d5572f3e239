//! Resource Management (SPEC 5): the directory's folders and members, and a member's phone number.

use crate::error::AppError;
use crate::model::{AuditView, CodeSent, DirectoryView, MemberDetails, MemberPage, MemberView};
use leptos::prelude::*;

/// The page size when the caller names none.
pub const DEFAULT_PAGE_SIZE: i64 = 20;

#[cfg(feature = "ssr")]
fn parse_order(order: &str) -> Result<bool, AppError> {
    match order {
        "" | "asc" => Ok(false),
        "desc" => Ok(true),
        _ => Err(AppError::invalid("invalid-sort-order")),
    }
}

#[server(endpoint = "rd_tree")]
pub async fn rd_tree() -> Result<DirectoryView, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::directory::tree(&services, &principal).await
}

/// A page of members: all of them, or one folder's (`folder`), matching `search` (a name, an
/// account id or a phone number), sorted by `sort` (`name`, `id`, `joined`) in `order`.
#[server(endpoint = "rd_members")]
pub async fn rd_members(
    #[server(default)] search: String,
    #[server(default)] folder: String,
    #[server(default)] sort: String,
    #[server(default)] order: String,
    #[server(default)] offset: i64,
    #[server(default)] limit: Option<i64>,
) -> Result<MemberPage, AppError> {
    use crate::model::MemberSort;
    use crate::ssr::directory::MemberQuery;
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    let query = MemberQuery {
        search,
        folder_id: Some(folder.trim().to_string()).filter(|f| !f.is_empty()),
        sort: MemberSort::parse(&sort).ok_or_else(|| AppError::invalid("invalid-sort-by"))?,
        descending: parse_order(&order)?,
        offset,
        limit: limit.unwrap_or(DEFAULT_PAGE_SIZE),
    };
    crate::ssr::directory::list_members(&services, &principal, &query).await
}

#[server(endpoint = "rd_member")]
pub async fn rd_member(account_id: String) -> Result<MemberDetails, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    let account_id = crate::domain::AccountId::parse(&account_id)?;
    crate::ssr::directory::member(&services, &principal, &account_id).await
}

#[server(endpoint = "rd_member_events")]
pub async fn rd_member_events(account_id: String) -> Result<Vec<AuditView>, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    let account_id = crate::domain::AccountId::parse(&account_id)?;
    crate::ssr::directory::member_events(&services, &principal, &account_id).await
}

/// Sends a code to the member's new number (the Bind and Modify dialogs' **Get verification code**).
#[server(endpoint = "rd_send_code")]
pub async fn rd_send_code(account_id: String, phone: String) -> Result<CodeSent, AppError> {
    use crate::ssr::directory::{self, MemberNumber, Via};
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    let account_id = crate::domain::AccountId::parse(&account_id)?;
    let request = MemberNumber::new(&principal, &meta, Via::Console, &account_id, &phone);
    let sent = directory::send_code(&services, &request).await?;
    Ok(crate::api::phone::code_sent(sent, services.now_ms()))
}

/// Binds or modifies the member's number with the code sent to it (**OK** / **Confirm the modification**).
#[server(endpoint = "rd_bind_phone")]
pub async fn rd_bind_phone(
    account_id: String,
    phone: String,
    code: String,
) -> Result<MemberView, AppError> {
    use crate::ssr::directory::{self, MemberNumber, Via};
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    let account_id = crate::domain::AccountId::parse(&account_id)?;
    let code = crate::domain::VerificationCode::parse(&code)?;
    let request = MemberNumber::new(&principal, &meta, Via::Console, &account_id, &phone);
    directory::bind_phone(&services, &request, &code).await
}
