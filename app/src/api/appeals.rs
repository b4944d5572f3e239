//! Appeals get decided: the operator's queue and its three steps, and the filer's status page
//! with its answer. Every call checks the caller's role on the server.

use crate::error::AppError;
use crate::model::{AppealDetails, QueuedAppeal};
use leptos::prelude::*;

/// The open appeals, oldest first (operators only).
#[server(endpoint = "operator_appeals")]
pub async fn operator_appeals() -> Result<Vec<QueuedAppeal>, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::queue(&services, &principal).await
}

#[server(endpoint = "appeal_request_info")]
pub async fn request_appeal_info(reference: String, message: String) -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::request_information(
        &services, &principal, &meta, &reference, &message,
    )
    .await
}

#[server(endpoint = "appeal_reject")]
pub async fn reject_appeal(reference: String, reason: String) -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::reject(&services, &principal, &meta, &reference, &reason).await
}

#[server(endpoint = "appeal_approve")]
pub async fn approve_appeal(reference: String) -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::approve(&services, &principal, &meta, &reference).await
}

/// One appeal of the signed-in owner's account, for its status page.
#[server(endpoint = "appeal_status")]
pub async fn appeal_status(reference: String) -> Result<AppealDetails, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::details(&services, &principal, &reference).await
}

/// The filer's answer to the operator's question.
#[server(endpoint = "appeal_answer")]
pub async fn answer_appeal(reference: String, answer: String) -> Result<(), AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::appeal_decisions::answer(&services, &principal, &meta, &reference, &answer).await
}
