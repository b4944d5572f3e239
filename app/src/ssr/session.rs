//! Sessions: random tokens in a `__Host-` cookie, stored only as hashes, with idle and absolute expiry.

use crate::error::{AppError, AppResult};
use crate::model::PrincipalKind;
use crate::ssr::Services;
use crate::ssr::crypto::{random_token, sha256_hex};

pub const COOKIE_NAME: &str = "__Host-session";

/// The policy that opens Resource Management to a principal other than the owner.
pub const RD_FULL_ACCESS: &str = "AliyunResourceDirectoryFullAccess";

/// The signed-in principal, resolved from the session on every call.
#[derive(Clone, Debug)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account_id: String,
    pub actor_id: Option<i64>,
    pub via_user_id: Option<i64>,
    /// How the principal is shown and audited: `alice@example.com`, `dev@alice`, `auditor@alice` …
    pub name: String,
    pub policies: Vec<String>,
    /// The directory this principal's account manages, if any.
    pub managed_directory: Option<String>,
    pub session_hash: String,
    /// The owner's chosen language (a RAM user, role or SSO user has none of its own).
    pub language: Option<crate::i18n::Locale>,
}

impl Principal {
    pub fn is_owner(&self) -> bool {
        self.kind == PrincipalKind::Owner
    }

    /// SPEC 1: only the account owner changes the account's own phone.
    pub fn require_owner(&self) -> AppResult<()> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(AppError::OwnerOnly)
        }
    }

    /// The directory this principal may administer: the owner of a management account, or a
    /// principal of that account holding the full-access policy.
    pub fn administered_directory(&self) -> Option<&str> {
        let directory = self.managed_directory.as_deref()?;
        if self.is_owner() || self.policies.iter().any(|p| p == RD_FULL_ACCESS) {
            Some(directory)
        } else {
            None
        }
    }
}

pub struct NewSession<'a> {
    pub kind: PrincipalKind,
    pub account_id: &'a str,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub via_user_id: Option<i64>,
    pub client_ip: &'a str,
}

/// Creates a session and returns its token (the cookie value). A new token every sign-in: rotation.
pub async fn create(
    services: &Services,
    new: NewSession<'_>,
    replacing: Option<&str>,
) -> AppResult<String> {
    let token = random_token();
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    if let Some(old) = replacing {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(old))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO sessions (token_hash, principal_kind, account_id, actor_id, actor_name, via_user_id, created_at, last_seen_at, client_ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(sha256_hex(&token))
    .bind(new.kind.as_str())
    .bind(new.account_id)
    .bind(new.actor_id)
    .bind(new.actor_name)
    .bind(new.via_user_id)
    .bind(now)
    .bind(new.client_ip)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Ends every session of the account, of every kind (owner, RAM users, roles, SSO), in the
/// caller's transaction: after a password reset, an undone change or an approved appeal, no one
/// signed in before may go on. Answers how many ended.
pub async fn end_all(conn: &mut sqlx::AnyConnection, account_id: &str) -> AppResult<u64> {
    let ended = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(ended.rows_affected())
}

/// After a change of the account's factors (phone, authenticator): ends every other session of the
/// account's owner and gives this one a new token, in the caller's transaction. Answers the new
/// token, for the `Set-Cookie` of the answer; the old one is dead from the commit on. A session
/// that another change ended meanwhile (two sessions racing) answers `NotSignedIn`, and the
/// caller's transaction rolls back: an ended session finishes nothing.
pub async fn end_others_and_rotate(
    conn: &mut sqlx::AnyConnection,
    principal: &Principal,
) -> AppResult<String> {
    sqlx::query(
        "DELETE FROM sessions WHERE account_id = $1 AND principal_kind = $2 AND token_hash <> $3",
    )
    .bind(&principal.account_id)
    .bind(PrincipalKind::Owner.as_str())
    .bind(&principal.session_hash)
    .execute(&mut *conn)
    .await?;
    let token = random_token();
    let rotated = sqlx::query("UPDATE sessions SET token_hash = $1 WHERE token_hash = $2")
        .bind(sha256_hex(&token))
        .bind(&principal.session_hash)
        .execute(&mut *conn)
        .await?;
    if rotated.rows_affected() != 1 {
        return Err(AppError::NotSignedIn);
    }
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    principal_kind: String,
    account_id: String,
    actor_id: Option<i64>,
    actor_name: String,
    via_user_id: Option<i64>,
    created_at: i64,
    last_seen_at: i64,
    account_status: String,
    directory_id: Option<String>,
    language: Option<String>,
}

/// Resolves a token to its principal; an unknown, idle or too old session is `NotSignedIn`.
pub async fn load(services: &Services, token: Option<&str>) -> AppResult<Principal> {
    let token = token
        .filter(|t| t.len() == 32)
        .ok_or(AppError::NotSignedIn)?;
    let hash = sha256_hex(token);
    let mut conn = services.db.pool.acquire().await?;
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.principal_kind, s.account_id, s.actor_id, s.actor_name, s.via_user_id, s.created_at, s.last_seen_at, \
                a.status AS account_status, d.id AS directory_id, a.language \
         FROM sessions s JOIN accounts a ON a.id = s.account_id \
         LEFT JOIN resource_directories d ON d.management_account_id = s.account_id \
         WHERE s.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or(AppError::NotSignedIn)?;
    let now = services.now_ms();
    let limits = &services.config.limits;
    let idle = now - row.last_seen_at >= limits.session_idle_secs * 1000;
    let too_old = now - row.created_at >= limits.session_absolute_secs * 1000;
    if idle || too_old || row.account_status != "active" {
        drop(conn);
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .execute(&mut *services.db.write().await?)
            .await?;
        return Err(AppError::NotSignedIn);
    }
    let kind = PrincipalKind::parse(&row.principal_kind).ok_or(AppError::Internal)?;
    let policies = match (kind, row.actor_id) {
        (PrincipalKind::Owner, _) | (_, None) => Vec::new(),
        (kind, Some(actor)) => {
            let principal_type = match kind {
                PrincipalKind::RamUser => "ram_user",
                PrincipalKind::RamRole => "ram_role",
                _ => "sso_user",
            };
            sqlx::query_as::<_, (String,)>(
                "SELECT policy FROM policy_attachments WHERE principal_type = $1 AND principal_id = $2",
            )
            .bind(principal_type)
            .bind(actor)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect()
        }
    };
    // SPEC 1: an SSO session may do what the owner's mapping of policies allows.
    let mut policies = policies;
    if kind == PrincipalKind::Sso {
        policies.extend(crate::ssr::sso::mapped_policies(&mut conn, &row.account_id).await?);
    }
    drop(conn);
    // Touch at most once a minute: the idle clock needs no finer grain, and reads stay reads.
    if now - row.last_seen_at >= 60_000 {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(&mut *services.db.write().await?)
            .await?;
    }
    Ok(Principal {
        kind,
        account_id: row.account_id,
        actor_id: row.actor_id,
        via_user_id: row.via_user_id,
        name: row.actor_name,
        policies,
        managed_directory: row.directory_id,
        session_hash: hash,
        language: row
            .language
            .as_deref()
            .and_then(crate::i18n::Locale::from_tag)
            .filter(|_| kind == PrincipalKind::Owner),
    })
}

pub async fn destroy(services: &Services, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(sha256_hex(token))
        .execute(&mut *services.db.write().await?)
        .await?;
    Ok(())
}

/// The `Set-Cookie` value that carries a session token.
pub fn cookie(token: &str) -> String {
    format!("{COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Finds the session token in a `Cookie` header.
pub fn token_from_cookie_header(header: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let header = "a=1; __Host-session=0123456789abcdef0123456789abcdef; b=2";
        assert_eq!(
            token_from_cookie_header(header).as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(token_from_cookie_header("session=x"), None);
    }

    #[test]
    fn the_cookie_has_the_host_prefix_flags() {
        let c = cookie("t");
        for flag in [
            "__Host-session=t",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
        ] {
            assert!(c.contains(flag), "{flag}");
        }
        assert!(!c.contains("Domain"));
    }
}
