//! AccessKeys of RAM users: the owner creates, disables, enables and deletes them; the automation
//! API looks them up to check a request's signature. Secrets are sealed with `APP_SECRETS_KEY`.

use crate::api::access_keys::{AccessKeyView, NewAccessKey, RamUserKeys};
use crate::error::{AppError, AppResult};
use crate::model::PrincipalKind;
use crate::ssr::Services;
use crate::ssr::audit;
use crate::ssr::clock::rfc3339;
use crate::ssr::crypto::sha256_hex;
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use rand::Rng;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;

/// As in the cloud: a RAM user holds at most two AccessKeys, so one can be rotated.
pub const MAX_KEYS_PER_USER: i64 = 2;

/// Seals an AccessKey secret with the configured `APP_SECRETS_KEY`, bound to its key id (so a
/// sealed secret copied to another row does not open).
pub fn seal(services: &Services, key_id: &str, secret: &str) -> String {
    crate::ssr::crypto::seal(
        &services.config.secrets_key_bytes(),
        &context(key_id),
        secret,
    )
}

/// The secret sealed by [`seal`], or `None` when it is not sealed (AccessKey secrets never were
/// stored in clear) or was sealed under another key or key id.
pub fn open(services: &Services, key_id: &str, sealed: &str) -> Option<String> {
    if !sealed.starts_with("v1:") {
        return None;
    }
    crate::ssr::crypto::open(
        &services.config.secrets_key_bytes(),
        &context(key_id),
        sealed,
    )
}

fn context(key_id: &str) -> String {
    format!("access_key:{key_id}")
}

fn random_text(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    ram_user_id: i64,
    status: String,
    created_at: i64,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
}

impl KeyRow {
    fn view(&self) -> AccessKeyView {
        AccessKeyView {
            id: self.id.clone(),
            active: self.status == "Active",
            created_at: rfc3339(self.created_at),
            last_used_at: self.last_used_at.map(rfc3339),
            last_used_ip: self.last_used_ip.clone(),
        }
    }
}

/// The account's RAM users, each with its AccessKeys; the owner alone sees them.
#[tracing::instrument(skip(services, principal), fields(principal = %principal.name))]
pub async fn list(services: &Services, principal: &Principal) -> AppResult<Vec<RamUserKeys>> {
    principal.require_owner()?;
    let mut conn = services.db.pool.acquire().await?;
    let users: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, login_name FROM ram_users WHERE account_id = $1 ORDER BY login_name",
    )
    .bind(&principal.account_id)
    .fetch_all(&mut *conn)
    .await?;
    let keys: Vec<KeyRow> = sqlx::query_as(
        "SELECT id, ram_user_id, status, created_at, last_used_at, last_used_ip FROM access_keys \
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(&principal.account_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(users.len());
    for (id, login_name) in users {
        let policies: Vec<(String,)> = sqlx::query_as(
            "SELECT policy FROM policy_attachments WHERE principal_type = 'ram_user' AND principal_id = $1 ORDER BY policy",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        out.push(RamUserKeys {
            user_id: id,
            login_name,
            policies: policies.into_iter().map(|p| p.0).collect(),
            keys: keys
                .iter()
                .filter(|k| k.ram_user_id == id)
                .map(KeyRow::view)
                .collect(),
        });
    }
    Ok(out)
}

/// The owner's notice of a change made here.
const CHANGE_NOTICE: audit::OwnerNotice = audit::OwnerNotice {
    subject: "notice-access-key-subject",
    not_you: "notice-access-key-advice",
};

/// Creates an AccessKey for the RAM user `user_id` of the owner's account; the secret is in
/// the answer and nowhere else in clear.
#[tracing::instrument(skip(services, principal, meta), fields(principal = %principal.name))]
pub async fn create(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    user_id: i64,
) -> AppResult<NewAccessKey> {
    principal.require_owner()?;
    let mut tx = services.db.begin().await?;
    // The user's row, locked on PostgreSQL, serialises two creations racing for the last slot.
    let user: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT login_name FROM ram_users WHERE id = $1 AND account_id = $2{}",
        services.db.for_update()
    )))
    .bind(user_id)
    .bind(&principal.account_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (login_name,) = user.ok_or(AppError::NotFound)?;
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM access_keys WHERE ram_user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if held >= MAX_KEYS_PER_USER {
        return Err(AppError::AccessKeyLimit(MAX_KEYS_PER_USER as u32));
    }
    let id = format!("LTAI{}", random_text(20));
    let secret = random_text(30);
    sqlx::query(
        "INSERT INTO access_keys (id, account_id, ram_user_id, secret_sealed, status, created_at) \
         VALUES ($1, $2, $3, $4, 'Active', $5)",
    )
    .bind(&id)
    .bind(&principal.account_id)
    .bind(user_id)
    .bind(seal(services, &id, &secret))
    .bind(services.now_ms())
    .execute(&mut *tx)
    .await?;
    let detail = format!("AccessKey {id} created for RAM user {login_name}");
    let action = "CreateAccessKey";
    CHANGE_NOTICE
        .record(&mut tx, services, principal, meta, action, &detail)
        .await?;
    tx.commit().await?;
    tracing::info!(access_key_id = %id, "access key created");
    Ok(NewAccessKey {
        id,
        secret,
        login_name,
    })
}

/// The key `key_id` of the owner's account and its user's login name.
async fn owned_key(
    conn: &mut sqlx::AnyConnection,
    principal: &Principal,
    key_id: &str,
) -> AppResult<String> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT u.login_name FROM access_keys k JOIN ram_users u ON u.id = k.ram_user_id \
         WHERE k.id = $1 AND k.account_id = $2",
    )
    .bind(key_id)
    .bind(&principal.account_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.0).ok_or(AppError::NotFound)
}

/// Disables (`active` false) or enables a key: a disabled key signs nothing until enabled.
#[tracing::instrument(skip(services, principal, meta), fields(principal = %principal.name))]
pub async fn set_active(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    key_id: &str,
    active: bool,
) -> AppResult<()> {
    principal.require_owner()?;
    let mut tx = services.db.begin().await?;
    let login_name = owned_key(&mut tx, principal, key_id).await?;
    sqlx::query("UPDATE access_keys SET status = $1 WHERE id = $2")
        .bind(if active { "Active" } else { "Inactive" })
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
    let detail = format!(
        "AccessKey {key_id} of RAM user {login_name} {}",
        if active { "enabled" } else { "disabled" }
    );
    let action = "UpdateAccessKey";
    CHANGE_NOTICE
        .record(&mut tx, services, principal, meta, action, &detail)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a key for good; requests it signed are refused from now on.
#[tracing::instrument(skip(services, principal, meta), fields(principal = %principal.name))]
pub async fn delete(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    key_id: &str,
) -> AppResult<()> {
    principal.require_owner()?;
    let mut tx = services.db.begin().await?;
    let login_name = owned_key(&mut tx, principal, key_id).await?;
    sqlx::query("DELETE FROM access_keys WHERE id = $1")
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
    let detail = format!("AccessKey {key_id} of RAM user {login_name} deleted");
    let action = "DeleteAccessKey";
    CHANGE_NOTICE
        .record(&mut tx, services, principal, meta, action, &detail)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The holder of an AccessKey as the automation API sees it. The secret's `Debug` is hidden.
pub struct KeyHolder {
    pub active: bool,
    secret: String,
    pub principal: Principal,
}

impl KeyHolder {
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl std::fmt::Debug for KeyHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHolder")
            .field("active", &self.active)
            .field("principal", &self.principal.name)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    secret_sealed: String,
    status: String,
    ram_user_id: i64,
    login_name: String,
    account_id: String,
    alias: String,
    account_status: String,
    directory_id: Option<String>,
}

/// The RAM user behind `key_id` with the key's secret, or `None` for an unknown key. Calls
/// signed with the key act as that user, with its policies, in a session of their own per key
/// (so a code sent with one key is confirmed with the same key).
pub async fn holder(services: &Services, key_id: &str) -> AppResult<Option<KeyHolder>> {
    let mut conn = services.db.pool.acquire().await?;
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT k.secret_sealed, k.status, k.ram_user_id, u.login_name, a.id AS account_id, a.alias, \
                a.status AS account_status, d.id AS directory_id \
         FROM access_keys k JOIN ram_users u ON u.id = k.ram_user_id JOIN accounts a ON a.id = k.account_id \
         LEFT JOIN resource_directories d ON d.management_account_id = a.id \
         WHERE k.id = $1",
    )
    .bind(key_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let secret = open(services, key_id, &row.secret_sealed).ok_or_else(|| {
        tracing::error!(
            access_key_id = key_id,
            "a sealed AccessKey secret does not open with APP_SECRETS_KEY"
        );
        AppError::Internal
    })?;
    let policies: Vec<(String,)> = sqlx::query_as(
        "SELECT policy FROM policy_attachments WHERE principal_type = 'ram_user' AND principal_id = $1",
    )
    .bind(row.ram_user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(KeyHolder {
        active: row.status == "Active" && row.account_status == "active",
        secret,
        principal: Principal {
            kind: PrincipalKind::RamUser,
            account_id: row.account_id,
            actor_id: Some(row.ram_user_id),
            via_user_id: None,
            name: format!("{}@{}", row.login_name, row.alias),
            policies: policies.into_iter().map(|p| p.0).collect(),
            managed_directory: row.directory_id,
            session_hash: sha256_hex(&format!("access-key:{key_id}")),
            language: None,
        },
    }))
}

/// Accepts `nonce` for `key_id` once across every instance (the primary key decides); nonces
/// older than `window_ms` can no longer pass the timestamp check and are cleaned up.
pub async fn claim_nonce(
    services: &Services,
    key_id: &str,
    nonce: &str,
    window_ms: i64,
) -> AppResult<bool> {
    let now = services.now_ms();
    let mut conn = services.db.write().await?;
    sqlx::query("DELETE FROM api_nonces WHERE seen_at < $1")
        .bind(now - window_ms)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO api_nonces (access_key_id, nonce, seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (access_key_id, nonce) DO NOTHING",
    )
    .bind(key_id)
    .bind(nonce)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Notes when and from where a key last signed a request that passed.
pub async fn record_use(services: &Services, key_id: &str, client_ip: &str) -> AppResult<()> {
    sqlx::query("UPDATE access_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
        .bind(services.now_ms())
        .bind(client_ip)
        .bind(key_id)
        .execute(&mut *services.db.write().await?)
        .await?;
    Ok(())
}
