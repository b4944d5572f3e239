//! AccessKeys of the account's RAM users (the RAM users page): only the owner manages them.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessKeyView {
    pub id: String,
    pub active: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RamUserKeys {
    pub user_id: i64,
    pub login_name: String,
    pub policies: Vec<String>,
    pub keys: Vec<AccessKeyView>,
}

/// A key just created: the only answer that ever carries its secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccessKey {
    pub id: String,
    pub secret: String,
    pub login_name: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey")
            .field("id", &self.id)
            .field("login_name", &self.login_name)
            .finish_non_exhaustive()
    }
}

#[server(endpoint = "ram_users")]
pub async fn ram_users() -> Result<Vec<RamUserKeys>, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::access_keys::list(&services, &principal).await
}

#[server(endpoint = "create_access_key")]
pub async fn create_access_key(user_id: i64) -> Result<NewAccessKey, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::access_keys::create(&services, &principal, &meta, user_id).await
}

/// `active` false disables the key, true enables it again.
#[server(endpoint = "set_access_key_active")]
pub async fn set_access_key_active(key_id: String, active: bool) -> Result<(), AppError> {
    check_key_id(&key_id)?;
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::access_keys::set_active(&services, &principal, &meta, &key_id, active).await
}

#[server(endpoint = "delete_access_key")]
pub async fn delete_access_key(key_id: String) -> Result<(), AppError> {
    check_key_id(&key_id)?;
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::access_keys::delete(&services, &principal, &meta, &key_id).await
}

/// An AccessKey ID is a short run of ASCII letters and digits; anything else (a NUL byte, 1 MB)
/// is refused before it reaches the database.
#[cfg(feature = "ssr")]
fn check_key_id(key_id: &str) -> Result<(), AppError> {
    if (1..=64).contains(&key_id.len()) && key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(AppError::invalid("invalid-access-key-id"))
    }
}
