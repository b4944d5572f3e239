//! The "Not you?" undo link of a phone-change notice: what it would undo, and the undo itself.
//! Neither takes a session: the token in the link is the authority.

use crate::error::AppError;
use crate::model::UndoView;
use leptos::prelude::*;

#[server(endpoint = "undo_link")]
pub async fn get_undo_link(token: String) -> Result<UndoView, AppError> {
    let services = crate::api::ctx::services()?;
    crate::ssr::undo::describe(&services, &token).await
}

#[server(endpoint = "undo_change")]
pub async fn undo_change(token: String) -> Result<UndoView, AppError> {
    use crate::api::ctx;
    let services = ctx::services()?;
    let meta = ctx::request_meta(&services)?;
    let restored = crate::ssr::undo::apply(&services, &meta, &token).await?;
    // This browser's session (if any) ended with every other one of the account.
    ctx::set_cookie(crate::ssr::session::clearing_cookie());
    Ok(restored)
}
