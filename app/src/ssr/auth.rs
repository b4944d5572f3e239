//! Sign-in for every kind of principal, with one answer for every wrong credential and throttling.

use crate::error::{AppError, AppResult};
use crate::model::{AccountChoice, Me, PrincipalKind, SignInReply, SignInStep};
use crate::ssr::crypto::{burn_password_check, sha256_hex, verify_password};
use crate::ssr::session::{self, NewSession, Principal};
use crate::ssr::{Services, logon, rate, undo};

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
    international_phone(input).map(|p| Identifier::Phone(p.e164().to_string()))
}

/// A number as people type it in the Account field: E.164 with any spacing (`+86 138 0013 8000`),
/// the cloud's `86-13800138000`, or the calling code with `00` or nothing in front
/// (`008613800138000`, `8613800138000`). Each spelling is one number, so one sign-in budget.
fn international_phone(input: &str) -> Option<crate::domain::PhoneNumber> {
    use crate::domain::PhoneNumber;
    if let Ok(phone) = PhoneNumber::parse(input, None) {
        return Some(phone);
    }
    if !input
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')' | '.'))
    {
        return None;
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix("00").unwrap_or(&digits);
    PhoneNumber::parse(&format!("+{digits}"), None).ok()
}

/// The key of the budget an identifier that matches no account spends: whatever spelling was
/// typed, one key per identifier, so guessing at a name that does not exist is answered exactly
/// as guessing at one that does.
fn identifier_subject(identifier: Option<&Identifier>, typed: &str) -> String {
    let normalised = match identifier {
        Some(Identifier::Email(email)) => format!("email:{email}"),
        Some(Identifier::Phone(e164)) => format!("phone:{e164}"),
        Some(Identifier::RamUser { name, alias }) => format!("ram:{name}@{alias}"),
        None => format!("text:{}", typed.trim().to_lowercase()),
    };
    // Hashed: whatever was typed (1 MB, a NUL byte) makes a short key every database can store.
    format!("id:{}", sha256_hex(&normalised))
}

pub struct SignedIn {
    pub token: String,
}

pub enum Outcome {
    SignedIn(SignedIn),
    ChooseAccount(Vec<AccountChoice>),
    /// The password was right and the account's logon protection asks for more: the pending
    /// sign-in's token (for its cookie) and what its second step asks for.
    SecondStep {
        token: String,
        step: SignInStep,
    },
}

impl Outcome {
    pub fn reply(&self) -> SignInReply {
        match self {
            Outcome::SignedIn(_) => SignInReply::SignedIn,
            Outcome::ChooseAccount(choices) => SignInReply::ChooseAccount(choices.clone()),
            Outcome::SecondStep { step, .. } => SignInReply::SecondStep(step.clone()),
        }
    }
}

/// Every argon2 check waits for a permit, so a burst of sign-ins queues instead of taking
/// memory for each of them at once.
async fn check_password(services: &Services, password: &str, hash: String) -> bool {
    let Ok(_permit) = services.password_hashing.acquire().await else {
        return false;
    };
    let password = password.to_string();
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

async fn burn(services: &Services, password: &str) {
    let Ok(_permit) = services.password_hashing.acquire().await else {
        return;
    };
    let password = password.to_string();
    let _ = tokio::task::spawn_blocking(move || burn_password_check(&password)).await;
}

/// An account (or RAM user) the identifier names, with its budget's key.
struct Candidate {
    /// `acct:<id>` or `ram:<id>`: the per-account window and the failure streak are keyed here.
    subject: String,
    hash: String,
    kind: PrincipalKind,
    account_id: String,
    actor_id: Option<i64>,
    name: String,
    display_name: String,
}

impl Candidate {
    /// Names the password hash a streak was counted against, so a reset password starts anew.
    fn fingerprint(&self) -> String {
        sha256_hex(&self.hash)[..16].to_string()
    }
}

/// A budget about to be spent: its key, and the password it counts failures against.
struct Budget {
    subject: String,
    fingerprint: String,
}

/// Signs in by logon email, bound phone number or `name@alias`. `previous_token` is ended: a new
/// token is issued at every sign-in.
///
/// Budgets are keyed on who the identifier resolves to, however it was written, and taken before
/// any password is checked, in one capped statement each: concurrent guesses cannot all slip past
/// the cap while the first ones are still hashing. An attempt whose password proves right gives
/// its window slots back; a wrong one keeps them, and adds to a streak that only a successful
/// sign-in ends. Unknown identifiers spend a budget of their own in exactly the same way, so the
/// answers (`BadCredentials`, then `SignInThrottled`) never tell whether an account exists.
/// An owner whose account has logon protection gets a second step instead of a session.
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
    let candidates = match &identifier {
        Some(identifier) => resolve(services, identifier, chosen_account).await?,
        None => Vec::new(),
    };
    let budgets = budgets_of(&candidates, identifier.as_ref(), account);
    let now = services.now_ms();
    let window = rate::window_start(now, services.config.limits.sign_in_window_secs * 1000, 0);
    let ip_scope = format!("signin:ip:{}", rate::ip_key(client_ip));
    let Some(open) = take_slots(services, &ip_scope, &budgets, window, now).await? else {
        tracing::info!("sign-in throttled");
        return Err(AppError::SignInThrottled);
    };
    if !open.iter().any(|o| *o) {
        let mut conn = services.db.write().await?;
        rate::give_back(&mut conn, &ip_scope, window).await?;
        tracing::info!("sign-in throttled");
        return Err(AppError::SignInThrottled);
    }

    let mut matched = Vec::new();
    if candidates.is_empty() {
        burn(services, password).await;
    } else {
        // The password is tried against every account holding the number (whose budget is open).
        for (i, candidate) in candidates.iter().enumerate() {
            if open[i] && check_password(services, password, candidate.hash.clone()).await {
                matched.push(i);
            }
        }
    }
    if matched.is_empty() {
        tracing::info!("sign-in refused");
        return Err(if open.iter().all(|o| *o) {
            AppError::BadCredentials
        } else {
            AppError::SignInThrottled
        });
    }
    give_back_slots(services, &ip_scope, &budgets, &open, &matched, window).await?;
    if matched.len() > 1 {
        return Ok(Outcome::ChooseAccount(
            matched
                .into_iter()
                .map(|i| AccountChoice {
                    account_id: candidates[i].account_id.clone(),
                    display_name: candidates[i].display_name.clone(),
                })
                .collect(),
        ));
    }
    start_session(services, &candidates[matched[0]], client_ip, previous_token).await
}

/// The budgets an attempt spends: one per account the identifier names, or the identifier's own.
fn budgets_of(
    candidates: &[Candidate],
    identifier: Option<&Identifier>,
    typed: &str,
) -> Vec<Budget> {
    if candidates.is_empty() {
        return vec![Budget {
            subject: identifier_subject(identifier, typed),
            fingerprint: String::new(),
        }];
    }
    candidates
        .iter()
        .map(|c| Budget {
            subject: c.subject.clone(),
            fingerprint: c.fingerprint(),
        })
        .collect()
}

/// The password was right: this attempt was no guess, at any of the accounts it was tried on.
async fn give_back_slots(
    services: &Services,
    ip_scope: &str,
    budgets: &[Budget],
    open: &[bool],
    matched: &[usize],
    window: i64,
) -> AppResult<()> {
    let mut conn = services.db.write().await?;
    rate::give_back(&mut conn, ip_scope, window).await?;
    for (i, budget) in budgets.iter().enumerate() {
        if !open[i] {
            continue;
        }
        rate::give_back(&mut conn, &format!("signin:{}", budget.subject), window).await?;
        if matched.contains(&i) {
            rate::end_streak(&mut conn, &budget.subject).await?;
        } else {
            rate::give_back_streak(&mut conn, &budget.subject).await?;
        }
    }
    Ok(())
}

/// The session of the one account the password opened, or its logon protection's second step.
async fn start_session(
    services: &Services,
    candidate: &Candidate,
    client_ip: &str,
    previous_token: Option<&str>,
) -> AppResult<Outcome> {
    // After an undo, the password (perhaps the one whoever made the undone change knew) opens
    // nothing until it is reset. Said only once the password proved right.
    if candidate.kind == PrincipalKind::Owner
        && undo::password_reset_required(services, &candidate.account_id).await?
    {
        tracing::info!("password right; a reset is required first");
        return Err(AppError::PasswordResetRequired);
    }
    if candidate.kind == PrincipalKind::Owner
        && let Some((token, step)) = logon::begin(services, &candidate.account_id).await?
    {
        tracing::info!(
            method = step.method.as_str(),
            "password right; second step asked"
        );
        return Ok(Outcome::SecondStep { token, step });
    }
    let token = session::create(
        services,
        NewSession {
            kind: candidate.kind,
            account_id: &candidate.account_id,
            actor_id: candidate.actor_id,
            actor_name: &candidate.name,
            via_user_id: None,
            client_ip,
        },
        previous_token,
    )
    .await?;
    tracing::info!(kind = candidate.kind.as_str(), "signed in");
    Ok(Outcome::SignedIn(SignedIn { token }))
}

/// Takes this attempt's slots: the client address's window, then for each budget its window and
/// its streak. `None` when the address is at its cap; otherwise whether each budget is open (a
/// closed one gets no password check).
async fn take_slots(
    services: &Services,
    ip_scope: &str,
    budgets: &[Budget],
    window: i64,
    now: i64,
) -> AppResult<Option<Vec<bool>>> {
    let limits = &services.config.limits;
    let mut conn = services.db.write().await?;
    if !rate::take(&mut conn, ip_scope, window, limits.sign_in_failures_per_ip).await? {
        return Ok(None);
    }
    let mut open = Vec::with_capacity(budgets.len());
    for budget in budgets {
        let scope = format!("signin:{}", budget.subject);
        let taken = rate::take(
            &mut conn,
            &scope,
            window,
            limits.sign_in_failures_per_account,
        )
        .await?
            && {
                let in_streak = rate::take_streak(
                    &mut conn,
                    &budget.subject,
                    &budget.fingerprint,
                    limits.sign_in_consecutive_failures,
                    now,
                )
                .await?;
                if !in_streak {
                    rate::give_back(&mut conn, &scope, window).await?;
                }
                in_streak
            };
        open.push(taken);
    }
    Ok(Some(open))
}

/// The active accounts (or RAM user) the identifier names; with `chosen_account`, only that one.
async fn resolve(
    services: &Services,
    identifier: &Identifier,
    chosen_account: Option<&str>,
) -> AppResult<Vec<Candidate>> {
    let pool = &services.db.pool;
    Ok(match identifier {
        Identifier::Email(email) => {
            owners(
                services,
                "SELECT id, display_name, password_hash, email FROM accounts WHERE email = $1 AND status = 'active'",
                email,
            )
            .await?
        }
        Identifier::RamUser { name, alias } => {
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT u.id, u.password_hash, u.account_id FROM ram_users u JOIN accounts a ON a.id = u.account_id \
                 WHERE a.alias = $1 AND u.login_name = $2 AND a.status = 'active'",
            )
            .bind(alias)
            .bind(name)
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|(user_id, hash, account_id)| Candidate {
                    subject: format!("ram:{user_id}"),
                    hash,
                    kind: PrincipalKind::RamUser,
                    account_id,
                    actor_id: Some(user_id),
                    name: format!("{name}@{alias}"),
                    display_name: String::new(),
                })
                .collect()
        }
        Identifier::Phone(e164) => owners(
            services,
            "SELECT id, display_name, password_hash, email FROM accounts WHERE phone = $1 AND status = 'active' ORDER BY id",
            e164,
        )
        .await?
        .into_iter()
        .filter(|owner| chosen_account.is_none_or(|chosen| chosen == owner.account_id))
        .collect(),
    })
}

/// The owners of the active accounts `sql` selects by `key` (an email or a phone number), with
/// their password hashes.
async fn owners(services: &Services, sql: &'static str, key: &str) -> AppResult<Vec<Candidate>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(sql)
        .bind(key)
        .fetch_all(&services.db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, hash, email)| Candidate {
            subject: format!("acct:{id}"),
            hash,
            kind: PrincipalKind::Owner,
            account_id: id,
            actor_id: None,
            name: email,
            display_name,
        })
        .collect())
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
    let (account_name, email): (String, String) =
        sqlx::query_as("SELECT display_name, email FROM accounts WHERE id = $1")
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
        is_operator: principal.is_owner()
            && crate::ssr::appeal_decisions::is_operator_email(&services.config, &email),
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

    #[test]
    fn every_spelling_of_a_number_is_one_identifier() {
        for typed in crate::ssr::seed::ALICE_PHONE_SPELLINGS {
            assert_eq!(
                classify(typed),
                Some(Identifier::Phone("+8613800138000".into())),
                "{typed}"
            );
        }
        assert_eq!(classify("12345"), None);
    }

    #[test]
    fn an_unknown_identifier_has_one_key_however_it_is_written() {
        let key = |typed: &str| identifier_subject(classify(typed).as_ref(), typed);
        assert_eq!(key("+86 139 0000 0000"), key("008613900000000"));
        assert_eq!(key("Nobody@Example.com"), key("nobody@example.com "));
        assert_ne!(key("nobody@example.com"), key("somebody@example.com"));
    }
}
