//! One member of the directory: its details page and its audit events.

use super::tree::{FolderRow, folders};
use super::{directory_of, find_member};
use crate::domain::AccountId;
use crate::domain::mask::mask_email;
use crate::error::AppResult;
use crate::model::{AuditView, MemberDetails};
use crate::ssr::Services;
use crate::ssr::audit;
use crate::ssr::session::Principal;
use std::collections::HashMap;

/// How many of a member's audit events its details page shows.
pub const MEMBER_EVENTS: i64 = 50;

/// The member details page: the member, its masked email and its folder path.
#[tracing::instrument(skip(services, principal, account_id), fields(principal = %principal.name, member = %account_id))]
pub async fn member(
    services: &Services,
    principal: &Principal,
    account_id: &AccountId,
) -> AppResult<MemberDetails> {
    let directory = directory_of(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    let row = find_member(&mut conn, directory, account_id).await?;
    let all = folders(&mut conn, directory).await?;
    let by_id: HashMap<&str, &FolderRow> = all.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut path = Vec::new();
    let mut next = Some(row.folder_id.as_str());
    while let Some(id) = next.filter(|_| path.len() < 16) {
        let Some(folder) = by_id.get(id) else { break };
        path.push(folder.name.clone());
        next = folder.parent_id.as_deref();
    }
    path.reverse();
    Ok(MemberDetails {
        member: row.view()?,
        masked_email: mask_email(&row.email),
        folder_path: path,
    })
}

/// The member's audit events, newest first, for its details page.
#[tracing::instrument(skip(services, principal, account_id), fields(principal = %principal.name, member = %account_id))]
pub async fn member_events(
    services: &Services,
    principal: &Principal,
    account_id: &AccountId,
) -> AppResult<Vec<AuditView>> {
    let directory = directory_of(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    find_member(&mut conn, directory, account_id).await?;
    Ok(audit::views_for_subject(&mut conn, account_id.as_str(), None, MEMBER_EVENTS).await?)
}
