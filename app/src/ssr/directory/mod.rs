//! Resource Management (SPEC 5): a directory administrator reads the directory's folders and
//! members, and binds or modifies a member's mobile phone number.
//!
//! Every function starts from `Principal::administered_directory()` and every query is scoped to
//! that directory, so an id from another directory reads as "not found", never as someone's data.
//! This file holds that scoping and the member row every job reads; each job has its own file:
//! `members_query` (the member list and its SQL), `tree` (folders), `member` (one member's
//! details and events), `bind` (the code and the binding of a member's number).

mod bind;
mod member;
mod members_query;
mod tree;

pub use bind::{MemberNumber, bind_phone, send_code};
pub use member::{MEMBER_EVENTS, member, member_events};
pub use members_query::{
    LIST_COUNT_CAP, MAX_PAGE_SIZE, MemberQuery, SEARCH_COUNT_CAP, list_members,
};
pub use tree::tree;

use crate::domain::phone::mask_e164;
use crate::domain::{AccountId, Region};
use crate::error::{AppError, AppResult};
use crate::model::{MemberType, MemberView};
use crate::ssr::clock::rfc3339;
use crate::ssr::session::Principal;
use sqlx::AnyConnection;

/// Who is asking. The console binds and modifies the number of any member; the automation API,
/// like the cloud's `BindSecureMobilePhone`, only gives a first number to a resource account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Console,
    Api,
}

impl Via {
    fn label(&self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Api => "API",
        }
    }
}

/// The directory this principal administers; anyone else is refused before any query runs.
fn directory_of(principal: &Principal) -> AppResult<&str> {
    principal
        .administered_directory()
        .ok_or(AppError::Forbidden)
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct MemberRow {
    account_id: String,
    display_name: String,
    member_type: String,
    folder_id: String,
    folder_name: String,
    joined_at: i64,
    phone: Option<String>,
    status: String,
    region: String,
    email: String,
}

const MEMBER_COLUMNS: &str = "m.account_id, m.display_name, m.member_type, m.folder_id, f.name AS folder_name, \
     m.joined_at, a.phone, a.status, a.region, a.email";

impl MemberRow {
    fn member_type(&self) -> AppResult<MemberType> {
        MemberType::parse(&self.member_type).ok_or_else(|| {
            tracing::error!(member = %self.account_id, "unknown member type in the database");
            AppError::Internal
        })
    }

    fn view(&self) -> AppResult<MemberView> {
        Ok(MemberView {
            account_id: self.account_id.clone(),
            display_name: self.display_name.clone(),
            member_type: self.member_type()?,
            folder_id: self.folder_id.clone(),
            folder_name: self.folder_name.clone(),
            masked_phone: self.phone.as_deref().map(mask_e164),
            status: self.status.clone(),
            region: self.region.clone(),
            calling_code: Region::parse(&self.region)
                .map(|r| r.calling_code())
                .unwrap_or_default(),
            joined_at: rfc3339(self.joined_at),
        })
    }
}

/// One member of `directory`; an account outside it is `NotFound`, whoever it is.
async fn find_member(
    conn: &mut AnyConnection,
    directory: &str,
    account_id: &AccountId,
) -> AppResult<MemberRow> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM directory_members m \
         JOIN accounts a ON a.id = m.account_id JOIN folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND m.directory_id = $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account_id.as_str())
        .bind(directory)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)
}
