//! Enterprise SSO, the owner's side: the identity provider settings (read, save, delete),
//! each change an audit event and a notice to the owner.

use super::*;

/// The settings page is the owner's alone; anyone else is refused on the server too.
pub(super) fn require_owner(principal: &Principal) -> AppResult<()> {
    if principal.is_owner() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub(super) fn view(services: &Services, row: Option<&ProviderRow>) -> SsoSettingsView {
    SsoSettingsView {
        configured: row.is_some(),
        issuer_url: row.map(|r| r.issuer_url.clone()).unwrap_or_default(),
        client_id: row.map(|r| r.client_id.clone()).unwrap_or_default(),
        secret_saved: row.is_some(),
        user_claim: row.map_or(UserClaim::PreferredUsername, ProviderRow::claim),
        directory_access: row.is_some_and(|r| r.policies().iter().any(|p| p == RD_FULL_ACCESS)),
        redirect_uri: redirect_uri(services),
        updated_at: row.map(|r| rfc3339(r.updated_at)),
    }
}

#[tracing::instrument(skip(services, principal), fields(principal = %principal.name))]
pub async fn settings(services: &Services, principal: &Principal) -> AppResult<SsoSettingsView> {
    require_owner(principal)?;
    let mut conn = services.db.pool.acquire().await?;
    let row = provider_of(&mut conn, &principal.account_id).await?;
    Ok(view(services, row.as_ref()))
}

/// An issuer the server may fetch: an absolute `https` URL without credentials, query or
/// fragment; plain `http` only to a loopback address in development mode (a provider on the
/// developer's machine, as the tests start one).
pub fn parse_issuer(services: &Services, text: &str) -> AppResult<String> {
    let text = text.trim();
    let refuse = || AppError::invalid("invalid-sso-issuer");
    if text.is_empty() || text.len() > 512 || text.chars().any(char::is_control) {
        return Err(refuse());
    }
    let url = openidconnect::url::Url::parse(text).map_err(|_| refuse())?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(refuse());
    }
    let loopback = match url.host() {
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(refuse()),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback && services.config.is_development() => {}
        "http" => {
            return Err(AppError::invalid("invalid-sso-issuer-https"));
        }
        _ => return Err(refuse()),
    }
    // The issuer is compared with the provider's own `issuer` as written: keep what was typed.
    Ok(text.to_string())
}

pub(super) fn parse_client_id(text: &str) -> AppResult<String> {
    let text = text.trim();
    if (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(text.to_string())
    } else {
        Err(AppError::invalid("invalid-sso-client-id"))
    }
}

pub(super) fn parse_client_secret(text: &str) -> AppResult<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() <= 512 && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Some(text.to_string()))
    } else {
        Err(AppError::invalid("invalid-sso-client-secret"))
    }
}

/// The owner's notice of a change made here.
const CHANGE_NOTICE: audit::OwnerNotice = audit::OwnerNotice {
    subject: "notice-sso-subject",
    not_you: "notice-sso-advice",
};

/// Ends the account's SSO sessions: they came from a provider the owner no longer trusts.
pub(super) async fn end_sso_sessions(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND principal_kind = $2")
        .bind(account_id)
        .bind(PrincipalKind::Sso.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM sso_attempts WHERE account_id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Saves the account's identity provider. The provider must answer OpenID Connect discovery at
/// the issuer before anything is saved. A new issuer or client ends the SSO sessions and the
/// sign-ins in flight; a new mapping of policies applies to live sessions at their next request.
#[tracing::instrument(skip(services, principal, meta), fields(principal = %principal.name))]
pub async fn save(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    input: SsoSettingsInput,
) -> AppResult<SsoSettingsView> {
    require_owner(principal)?;
    let Settings {
        issuer_url,
        client_id,
        new_secret,
        user_claim,
        policies,
    } = parse_settings(services, &input)?;
    let existing = {
        let mut conn = services.db.pool.acquire().await?;
        provider_of(&mut conn, &principal.account_id).await?
    };
    let sealed = match (&new_secret, &existing) {
        (Some(secret), _) => seal_secret(services, &principal.account_id, secret),
        (None, Some(row)) => row.client_secret_sealed.clone(),
        (None, None) => {
            return Err(AppError::invalid("invalid-sso-client-secret-missing"));
        }
    };
    if let Err(failure) = discover(&issuer_url).await {
        tracing::info!(?failure, "SSO settings refused: discovery failed");
        return Err(AppError::invalid_with(
            "invalid-sso-discovery",
            &[("issuer", issuer_url.to_string())],
        ));
    }
    let now = services.now_ms();
    // Strictly later than the settings it replaces: attempts started under those are refused.
    let updated_at = existing
        .as_ref()
        .map_or(now, |row| now.max(row.updated_at + 1));
    let mut tx = services.db.begin().await?;
    let settings = (
        issuer_url.as_str(),
        client_id.as_str(),
        sealed.as_str(),
        user_claim,
        policies,
    );
    upsert_provider(&mut tx, &principal.account_id, settings, updated_at).await?;
    let trust_changed = existing
        .as_ref()
        .is_some_and(|row| row.issuer_url != issuer_url || row.client_id != client_id);
    if trust_changed {
        end_sso_sessions(&mut tx, &principal.account_id).await?;
    }
    let detail = saved_detail(
        &issuer_url,
        &client_id,
        user_claim,
        policies,
        new_secret.is_some(),
    );
    let action = "sso_settings_saved";
    CHANGE_NOTICE
        .record(&mut tx, services, principal, meta, action, &detail)
        .await?;
    tx.commit().await?;
    tracing::info!(trust_changed, "SSO settings saved");
    let mut conn = services.db.pool.acquire().await?;
    let row = provider_of(&mut conn, &principal.account_id).await?;
    Ok(view(services, row.as_ref()))
}

/// The settings as the owner entered them, each checked.
pub(super) struct Settings {
    issuer_url: String,
    client_id: String,
    /// A new client secret; none keeps the saved one.
    new_secret: Option<String>,
    user_claim: UserClaim,
    /// The policies SSO sessions get: the directory policy, or none.
    policies: &'static str,
}

pub(super) fn parse_settings(services: &Services, input: &SsoSettingsInput) -> AppResult<Settings> {
    let user_claim = UserClaim::parse(input.user_claim.trim())
        .ok_or_else(|| AppError::invalid("invalid-sso-claim"))?;
    Ok(Settings {
        issuer_url: parse_issuer(services, &input.issuer_url)?,
        client_id: parse_client_id(&input.client_id)?,
        new_secret: parse_client_secret(&input.client_secret)?,
        user_claim,
        policies: if input.directory_access {
            RD_FULL_ACCESS
        } else {
            ""
        },
    })
}

/// Writes the account's provider row: (issuer, client id, sealed secret, claim, policies).
pub(super) async fn upsert_provider(
    tx: &mut Tx,
    account_id: &str,
    (issuer_url, client_id, sealed, user_claim, policies): (&str, &str, &str, UserClaim, &str),
    updated_at: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO sso_providers (account_id, issuer_url, client_id, client_secret_sealed, user_claim, mapped_policies, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (account_id) DO UPDATE SET issuer_url = $2, client_id = $3, client_secret_sealed = $4, \
         user_claim = $5, mapped_policies = $6, updated_at = $7",
    )
    .bind(account_id)
    .bind(issuer_url)
    .bind(client_id)
    .bind(sealed)
    .bind(user_claim.as_str())
    .bind(policies)
    .bind(updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The audit detail of saved settings (never the secret itself).
pub(super) fn saved_detail(
    issuer_url: &str,
    client_id: &str,
    user_claim: UserClaim,
    policies: &str,
    new_secret: bool,
) -> String {
    format!(
        "Enterprise SSO provider set: issuer {issuer_url}, client {client_id}, user claim {}, policies for SSO sessions: {}{}",
        user_claim.as_str(),
        if policies.is_empty() {
            "none"
        } else {
            policies
        },
        if new_secret {
            ", new client secret"
        } else {
            ""
        }
    )
}

/// Turns Enterprise SSO off for the account: the settings go, and so do its SSO sessions.
#[tracing::instrument(skip(services, principal, meta), fields(principal = %principal.name))]
pub async fn delete(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
) -> AppResult<SsoSettingsView> {
    require_owner(principal)?;
    let mut tx = services.db.begin().await?;
    let removed = sqlx::query("DELETE FROM sso_providers WHERE account_id = $1")
        .bind(&principal.account_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() > 0 {
        end_sso_sessions(&mut tx, &principal.account_id).await?;
        let detail = "Enterprise SSO turned off";
        let action = "sso_settings_deleted";
        CHANGE_NOTICE
            .record(&mut tx, services, principal, meta, action, detail)
            .await?;
    }
    tx.commit().await?;
    Ok(view(services, None))
}

// -- the sign-in ------------------------------------------------------------------------------
