//! Sign-in for every kind of principal, with one answer for every wrong credential and throttling.

use crate::error::{AppError, AppResult};
use crate::model::{AccountChoice, Me, PrincipalKind, SignInReply};
use crate::ssr::crypto::{burn_password_check, sha256_hex, verify_password};
use crate::ssr::session::{self, NewSession, Principal};
use crate::ssr::{Services, rate};

/// What the user typed in the Account field.
#[derive(Debug, PartialEq, Eq)]
enum Identifier {
    Email(String),
    Phone(String),
    RamUser { name: String, alias: String },
}

fn classify(input: &str) -> Option<Identifier> {
    let input = input.trim();
    if input.is_empty() || input.len() > 254 || input.chars().any(char::is_control) {
        return None;
    }
    if let Some((name, domain)) = input.rsplit_once('@') {
        if name.is_empty() || domain.is_empty() {
            return None;
        }
        return Some(if domain.contains('.') {
            Identifier::Email(input.to_ascii_lowercase())
        } else {
            Identifier::RamUser {
                name: name.to_ascii_lowercase(),
                alias: domain.to_ascii_lowercase(),
            }
        });
    }
    crate::domain::PhoneNumber::parse(input, None)
        .ok()
        .map(|p| Identifier::Phone(p.e164().to_string()))
}

pub struct SignedIn {
    pub token: String,
}

pub enum Outcome {
    SignedIn(SignedIn),
    ChooseAccount(Vec<AccountChoice>),
}

impl Outcome {
    pub fn reply(&self) -> SignInReply {
        match self {
            Outcome::SignedIn(_) => SignInReply::SignedIn,
            Outcome::ChooseAccount(choices) => SignInReply::ChooseAccount(choices.clone()),
        }
    }
}

async fn check_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

async fn burn(password: String) {
    let _ = tokio::task::spawn_blocking(move || burn_password_check(&password)).await;
}

/// Signs in by logon email, bound phone number or `name@alias`. `previous_token` is ended: a new
/// token is issued at every sign-in.
#[tracing::instrument(skip(services, account, password, chosen_account, previous_token), fields(ip = %client_ip))]
pub async fn sign_in(
    services: &Services,
    account: &str,
    password: &str,
    chosen_account: Option<&str>,
    client_ip: &str,
    previous_token: Option<&str>,
) -> AppResult<Outcome> {
    if password.is_empty() || password.len() > 256 {
        return Err(AppError::BadCredentials);
    }
    let identifier = classify(account);
    let limits = &services.config.limits;
    let now = services.now_ms();
    let window = rate::window_start(now, limits.sign_in_window_secs * 1000, 0);
    // Hashed: whatever was typed (1 MB, a NUL byte) makes a short key every database can store.
    let id_scope = format!(
        "signin:id:{}",
        sha256_hex(&account.trim().to_ascii_lowercase())
    );
    let ip_scope = format!("signin:ip:{client_ip}");
    {
        let mut conn = services.db.pool.acquire().await?;
        if rate::count(&mut conn, &id_scope, window).await? >= limits.sign_in_failures_per_account
            || rate::count(&mut conn, &ip_scope, window).await? >= limits.sign_in_failures_per_ip
        {
            return Err(AppError::SignInThrottled);
        }
    }
    let found = match identifier {
        Some(identifier) => find_and_check(services, identifier, password, chosen_account).await?,
        None => {
            burn(password.to_string()).await;
            None
        }
    };
    let Some(found) = found else {
        let mut conn = services.db.write().await?;
        rate::hit(&mut conn, &id_scope, window).await?;
        rate::hit(&mut conn, &ip_scope, window).await?;
        tracing::info!("sign-in refused");
        return Err(AppError::BadCredentials);
    };
    match found {
        Found::Choose(choices) => Ok(Outcome::ChooseAccount(choices)),
        Found::Principal {
            kind,
            account_id,
            actor_id,
            name,
        } => {
            let token = session::create(
                services,
                NewSession {
                    kind,
                    account_id: &account_id,
                    actor_id,
                    actor_name: &name,
                    via_user_id: None,
                    client_ip,
                },
                previous_token,
            )
            .await?;
            tracing::info!(kind = kind.as_str(), "signed in");
            Ok(Outcome::SignedIn(SignedIn { token }))
        }
    }
}

enum Found {
    Principal {
        kind: PrincipalKind,
        account_id: String,
        actor_id: Option<i64>,
        name: String,
    },
    Choose(Vec<AccountChoice>),
}

async fn find_and_check(
    services: &Services,
    identifier: Identifier,
    password: &str,
    chosen_account: Option<&str>,
) -> AppResult<Option<Found>> {
    let pool = &services.db.pool;
    match identifier {
        Identifier::Email(email) => {
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT id, password_hash, email FROM accounts WHERE email = $1 AND status = 'active'",
            )
            .bind(&email)
            .fetch_optional(pool)
            .await?;
            let Some((id, hash, email)) = row else {
                burn(password.to_string()).await;
                return Ok(None);
            };
            Ok(check_password(password.to_string(), hash)
                .await
                .then_some(Found::Principal {
                    kind: PrincipalKind::Owner,
                    account_id: id,
                    actor_id: None,
                    name: email,
                }))
        }
        Identifier::RamUser { name, alias } => {
            let row: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT u.id, u.password_hash, u.account_id FROM ram_users u JOIN accounts a ON a.id = u.account_id \
                 WHERE a.alias = $1 AND u.login_name = $2 AND a.status = 'active'",
            )
            .bind(&alias)
            .bind(&name)
            .fetch_optional(pool)
            .await?;
            let Some((user_id, hash, account_id)) = row else {
                burn(password.to_string()).await;
                return Ok(None);
            };
            Ok(check_password(password.to_string(), hash)
                .await
                .then_some(Found::Principal {
                    kind: PrincipalKind::RamUser,
                    account_id,
                    actor_id: Some(user_id),
                    name: format!("{name}@{alias}"),
                }))
        }
        Identifier::Phone(e164) => {
            let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT id, display_name, password_hash, email FROM accounts WHERE phone = $1 AND status = 'active' ORDER BY id",
            )
            .bind(&e164)
            .fetch_all(pool)
            .await?;
            if rows.is_empty() {
                burn(password.to_string()).await;
                return Ok(None);
            }
            // The password is tried against every account holding the number.
            let mut matches = Vec::new();
            for (id, display_name, hash, email) in rows {
                if check_password(password.to_string(), hash).await {
                    matches.push((id, display_name, email));
                }
            }
            if let Some(chosen) = chosen_account {
                matches.retain(|(id, _, _)| id == chosen);
            }
            Ok(match matches.len() {
                0 => None,
                1 => {
                    let (id, _, email) = matches.remove(0);
                    Some(Found::Principal {
                        kind: PrincipalKind::Owner,
                        account_id: id,
                        actor_id: None,
                        name: email,
                    })
                }
                _ => Some(Found::Choose(
                    matches
                        .into_iter()
                        .map(|(account_id, display_name, _)| AccountChoice {
                            account_id,
                            display_name,
                        })
                        .collect(),
                )),
            })
        }
    }
}

/// "Switch Role": a RAM user takes a role it is trusted for; the session token is rotated.
pub async fn switch_role(
    services: &Services,
    principal: &Principal,
    role: &str,
    client_ip: &str,
    token: &str,
) -> AppResult<String> {
    if principal.kind != PrincipalKind::RamUser {
        return Err(AppError::Forbidden);
    }
    let user_id = principal.actor_id.ok_or(AppError::Forbidden)?;
    // Role names are short and printable; anything else is no role (and never reaches the query).
    if role.len() > 64 || role.chars().any(char::is_control) {
        return Err(AppError::Forbidden);
    }
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT r.id, a.alias FROM ram_roles r JOIN ram_role_trust t ON t.role_id = r.id \
         JOIN accounts a ON a.id = r.account_id \
         WHERE r.account_id = $1 AND r.name = $2 AND t.ram_user_id = $3",
    )
    .bind(&principal.account_id)
    .bind(role.trim())
    .bind(user_id)
    .fetch_optional(&services.db.pool)
    .await?;
    let (role_id, alias) = row.ok_or(AppError::Forbidden)?;
    session::create(
        services,
        NewSession {
            kind: PrincipalKind::RamRole,
            account_id: &principal.account_id,
            actor_id: Some(role_id),
            actor_name: &format!("{}@{alias} (role, via {})", role.trim(), principal.name),
            via_user_id: Some(user_id),
            client_ip,
        },
        Some(token),
    )
    .await
}

/// The Enterprise SSO sign-in used by development mode's `/dev/sso`.
pub async fn sign_in_sso(
    services: &Services,
    alias: &str,
    name: &str,
    client_ip: &str,
) -> AppResult<String> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT s.id, s.account_id FROM sso_users s JOIN accounts a ON a.id = s.account_id WHERE a.alias = $1 AND s.name = $2",
    )
    .bind(alias)
    .bind(name)
    .fetch_optional(&services.db.pool)
    .await?;
    let (sso_id, account_id) = row.ok_or(AppError::NotFound)?;
    session::create(
        services,
        NewSession {
            kind: PrincipalKind::Sso,
            account_id: &account_id,
            actor_id: Some(sso_id),
            actor_name: &format!("{name}@{alias}"),
            via_user_id: None,
            client_ip,
        },
        None,
    )
    .await
}

pub async fn me(services: &Services, principal: &Principal) -> AppResult<Me> {
    let (account_name,): (String,) =
        sqlx::query_as("SELECT display_name FROM accounts WHERE id = $1")
            .bind(&principal.account_id)
            .fetch_one(&services.db.pool)
            .await?;
    let switchable_roles = match (principal.kind, principal.actor_id) {
        (PrincipalKind::RamUser, Some(user_id)) => sqlx::query_as::<_, (String,)>(
            "SELECT r.name FROM ram_roles r JOIN ram_role_trust t ON t.role_id = r.id WHERE t.ram_user_id = $1 ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&services.db.pool)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect(),
        _ => Vec::new(),
    };
    Ok(Me {
        kind: principal.kind,
        name: principal.name.clone(),
        account_id: principal.account_id.clone(),
        account_name,
        can_manage_directory: principal.administered_directory().is_some(),
        switchable_roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_field_is_read_three_ways() {
        assert_eq!(
            classify("Alice@Example.com"),
            Some(Identifier::Email("alice@example.com".into()))
        );
        assert_eq!(
            classify("dev@alice"),
            Some(Identifier::RamUser {
                name: "dev".into(),
                alias: "alice".into()
            })
        );
        assert_eq!(
            classify("+8613800138000"),
            Some(Identifier::Phone("+8613800138000".into()))
        );
        assert_eq!(classify("not a thing"), None);
        assert_eq!(classify("@alice"), None);
    }
}
