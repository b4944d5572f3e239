//! Enterprise SSO, the user's side: the sign-in started by account alias, and the provider's
//! callback that ends it in an SSO session.

use super::*;

/// An alias as accounts hold it: lowercase letters, digits, `-`, `_` and `.`, at most 64.
pub(super) fn parse_alias(text: &str) -> Result<String, SsoFailure> {
    let alias = text.trim().to_ascii_lowercase();
    if (1..=64).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Ok(alias)
    } else {
        Err(SsoFailure::InvalidAlias)
    }
}

/// A sign-in on its way to the provider: where to send the browser, and the token of the
/// cookie that ties the attempt to it.
pub struct Begun {
    pub url: String,
    pub browser_token: String,
}

impl std::fmt::Debug for Begun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Begun").finish_non_exhaustive()
    }
}

/// Every start writes a row and makes the server call the provider: capped per address.
pub(super) async fn take_start_slot(
    services: &Services,
    client_ip: &str,
    now: i64,
) -> Result<(), SsoFailure> {
    let mut conn = services.db.write().await.map_err(internal)?;
    let window = rate::window_start(now, 3_600_000, 0);
    let scope = format!("sso:start:ip:{}", rate::ip_key(client_ip));
    let cap = services.config.limits.sso_starts_per_ip_per_hour;
    if rate::take(&mut conn, &scope, window, cap)
        .await
        .map_err(internal)?
    {
        Ok(())
    } else {
        Err(SsoFailure::Throttled)
    }
}

/// The provider settings of the active account with `alias`.
pub(super) async fn provider_by_alias(
    services: &Services,
    alias: &str,
) -> Result<ProviderRow, SsoFailure> {
    let row: Option<ProviderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.{} FROM sso_providers p JOIN accounts a ON a.id = p.account_id \
         WHERE a.alias = $1 AND a.status = 'active'",
        PROVIDER_COLUMNS.replace(", ", ", p.")
    )))
    .bind(alias)
    .fetch_optional(&services.db.pool)
    .await
    .map_err(internal)?;
    row.ok_or(SsoFailure::NotAvailable)
}

/// The scope that carries the chosen claim, when the provider offers it (`openid` is always sent).
pub(super) fn claim_scope(row: &ProviderRow, metadata: &CoreProviderMetadata) -> Option<Scope> {
    let scope = match row.claim() {
        UserClaim::PreferredUsername => "profile",
        UserClaim::Email => "email",
        UserClaim::Sub => return None,
    };
    let offered = metadata
        .scopes_supported()
        .is_none_or(|all| all.iter().any(|s| s.as_str() == scope));
    offered.then(|| Scope::new(scope.to_string()))
}

/// Starts an SSO sign-in for the account with `alias`: a fresh state, nonce, PKCE verifier
/// (S256) and browser token; their hashes (the verifier sealed) go into one database row that
/// lives five minutes.
#[tracing::instrument(skip(services), fields(ip = %client_ip))]
pub async fn begin(services: &Services, alias: &str, client_ip: &str) -> Result<Begun, SsoFailure> {
    let alias = parse_alias(alias)?;
    let now = services.now_ms();
    take_start_slot(services, client_ip, now).await?;
    let row = provider_by_alias(services, &alias).await?;
    let (metadata, client) = client_for(services, &row).await?;

    let state = random_token();
    let nonce = random_token();
    let browser_token = random_token();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let state = state.clone();
                move || CsrfToken::new(state)
            },
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        )
        .set_pkce_challenge(challenge);
    if let Some(scope) = claim_scope(&row, &metadata) {
        request = request.add_scope(scope);
    }
    let (url, _, _) = request.url();

    let state_hash = sha256_hex(&state);
    let mut conn = services.db.write().await.map_err(internal)?;
    // Attempts nobody came back for are of no use to anyone past their five minutes.
    sqlx::query("DELETE FROM sso_attempts WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    sqlx::query(
        "INSERT INTO sso_attempts (state_hash, account_id, nonce_hash, browser_hash, pkce_verifier_sealed, provider_updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&state_hash)
    .bind(&row.account_id)
    .bind(sha256_hex(&nonce))
    .bind(sha256_hex(&browser_token))
    .bind(crate::ssr::crypto::seal(
        &services.config.secrets_key_bytes(),
        &pkce_context(&state_hash),
        verifier.secret(),
    ))
    .bind(row.updated_at)
    .bind(now + ATTEMPT_TTL_MS)
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    tracing::info!(account = %row.account_id, "SSO sign-in started");
    Ok(Begun {
        url: url.to_string(),
        browser_token,
    })
}

/// The provider's answer at the callback, as the query string brings it.
#[derive(Clone, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the provider names itself, so an answer from another provider is told apart.
    pub iss: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    account_id: String,
    nonce_hash: String,
    browser_hash: String,
    pkce_verifier_sealed: String,
    provider_updated_at: i64,
    expires_at: i64,
}

pub(super) type Claims = IdTokenClaims<EmptyAdditionalClaims, CoreGenderClaim>;

/// The value of the chosen claim, if it is one a session can be named by.
pub(super) fn claim_value(claims: &Claims, claim: UserClaim) -> Option<String> {
    let value = match claim {
        UserClaim::PreferredUsername => claims.preferred_username().map(|v| v.as_str().to_string()),
        UserClaim::Email => claims.email().map(|v| v.as_str().to_string()),
        UserClaim::Sub => Some(claims.subject().as_str().to_string()),
    }?;
    let value = value.trim().to_string();
    let printable = !value.is_empty()
        && value.chars().count() <= 128
        && !value.chars().any(|c| c.is_control() || c.is_whitespace());
    printable.then_some(value)
}

/// Ends an SSO sign-in: the attempt named by `state` is taken (once, and only in the browser
/// that started it), the code is exchanged with the PKCE verifier, and the ID token is checked
/// (signature against the provider's JWKS, issuer, audience = client id, expiry by the services'
/// clock, nonce). The chosen claim names the session `<claim value>@<alias>`; its kind is SSO.
/// Answers the new session's token.
#[tracing::instrument(skip(services, browser_token, previous_token), fields(ip = %client_ip))]
pub async fn finish(
    services: &Services,
    callback: &Callback,
    browser_token: Option<&str>,
    client_ip: &str,
    previous_token: Option<&str>,
) -> Result<String, SsoFailure> {
    let (state, attempt) = take_attempt(services, callback, browser_token).await?;
    if let Some(error) = &callback.error {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "the provider refused the SSO sign-in");
        return Err(SsoFailure::ProviderRefused);
    }
    let code = callback
        .code
        .as_deref()
        .filter(|c| (1..=2048).contains(&c.len()))
        .ok_or(SsoFailure::ProviderRefused)?;
    let row = {
        let mut conn = services.db.pool.acquire().await.map_err(internal)?;
        provider_of(&mut conn, &attempt.account_id)
            .await
            .map_err(internal)?
    };
    let row = row.ok_or(SsoFailure::NotAvailable)?;
    if row.updated_at != attempt.provider_updated_at {
        tracing::info!("SSO callback refused: the settings changed since the sign-in started");
        return Err(SsoFailure::InvalidState);
    }
    if callback
        .iss
        .as_deref()
        .is_some_and(|iss| iss != row.issuer_url)
    {
        tracing::warn!("SSO callback names another issuer");
        return Err(SsoFailure::TokenRejected);
    }
    let (_, client) = client_for(services, &row).await?;
    let tokens = exchange_code(services, &client, state, &attempt, code).await?;
    let name = verified_name(services, &client, &tokens, &attempt, &row)?;
    start_session(services, &row.account_id, &name, client_ip, previous_token).await
}

/// Takes the attempt named by the callback's state: single use (the row is gone the moment one
/// callback takes it, on whichever instance), in time, and only in the browser that started it.
pub(super) async fn take_attempt<'a>(
    services: &Services,
    callback: &'a Callback,
    browser_token: Option<&str>,
) -> Result<(&'a str, AttemptRow), SsoFailure> {
    let state = callback
        .state
        .as_deref()
        .filter(|s| (1..=256).contains(&s.len()))
        .ok_or(SsoFailure::InvalidState)?;
    let attempt: Option<AttemptRow> = {
        let mut conn = services.db.write().await.map_err(internal)?;
        sqlx::query_as(
            "DELETE FROM sso_attempts WHERE state_hash = $1 \
             RETURNING account_id, nonce_hash, browser_hash, pkce_verifier_sealed, provider_updated_at, expires_at",
        )
        .bind(sha256_hex(state))
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?
    };
    let Some(attempt) = attempt else {
        tracing::info!("SSO callback with an unknown state");
        return Err(SsoFailure::InvalidState);
    };
    let same_browser = browser_token
        .is_some_and(|token| constant_time_eq(&sha256_hex(token), &attempt.browser_hash));
    if attempt.expires_at <= services.now_ms() || !same_browser {
        tracing::info!(
            same_browser,
            "SSO callback refused: expired or another browser"
        );
        return Err(SsoFailure::InvalidState);
    }
    Ok((state, attempt))
}

/// The code exchanged at the provider's token endpoint, with the attempt's PKCE verifier.
pub(super) async fn exchange_code(
    services: &Services,
    client: &ConsoleClient,
    state: &str,
    attempt: &AttemptRow,
    code: &str,
) -> Result<CoreTokenResponse, SsoFailure> {
    let verifier_secret = crate::ssr::crypto::open(
        &services.config.secrets_key_bytes(),
        &pkce_context(&sha256_hex(state)),
        &attempt.pkce_verifier_sealed,
    )
    .ok_or_else(|| internal("the PKCE verifier does not open"))?;
    client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|error| {
            tracing::warn!(%error, "the provider has no token endpoint");
            SsoFailure::ProviderUnreachable
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier_secret))
        .request_async(http_client())
        .await
        .map_err(|error| match error {
            RequestTokenError::ServerResponse(answer) => {
                tracing::info!(error = %answer.error(), "the provider refused the code");
                SsoFailure::ProviderRefused
            }
            RequestTokenError::Request(error) => {
                tracing::warn!(%error, "the token endpoint could not be reached");
                SsoFailure::ProviderUnreachable
            }
            other => {
                tracing::warn!(error = %other, "the token endpoint answered something unreadable");
                SsoFailure::TokenRejected
            }
        })
}

/// The ID token checked (signature, issuer, audience, expiry by the services' clock, this
/// attempt's nonce, the access token's hash), and the value of the chosen claim.
pub(super) fn verified_name(
    services: &Services,
    client: &ConsoleClient,
    tokens: &CoreTokenResponse,
    attempt: &AttemptRow,
    row: &ProviderRow,
) -> Result<String, SsoFailure> {
    let id_token = tokens.id_token().ok_or_else(|| {
        tracing::warn!("the token response has no ID token");
        SsoFailure::TokenRejected
    })?;
    let clock = services.clock.clone();
    let verifier = client.id_token_verifier().set_time_fn(move || {
        chrono::DateTime::from_timestamp_millis(clock.now_ms()).unwrap_or_default()
    });
    let nonce_hash = attempt.nonce_hash.clone();
    let claims = id_token
        .claims(&verifier, |nonce: Option<&Nonce>| match nonce {
            Some(nonce) if constant_time_eq(&sha256_hex(nonce.secret()), &nonce_hash) => Ok(()),
            _ => Err("the nonce is missing or is not this sign-in's".to_string()),
        })
        .map_err(|error| {
            tracing::warn!(%error, "ID token refused");
            match error {
                ClaimsVerificationError::Expired(_) => SsoFailure::TokenExpired,
                ClaimsVerificationError::InvalidAudience(_) => SsoFailure::WrongAudience,
                _ => SsoFailure::TokenRejected,
            }
        })?;
    // The access token must be the one the ID token was issued with (no substitution).
    if let Some(expected) = claims.access_token_hash() {
        let actual = id_token
            .signing_alg()
            .ok()
            .zip(id_token.signing_key(&verifier).ok())
            .and_then(|(alg, key)| {
                AccessTokenHash::from_token(tokens.access_token(), alg, key).ok()
            });
        if actual.as_ref() != Some(expected) {
            tracing::warn!("the access token does not match the ID token's at_hash");
            return Err(SsoFailure::TokenRejected);
        }
    }
    claim_value(claims, row.claim()).ok_or_else(|| {
        tracing::info!(
            claim = row.claim().as_str(),
            "the ID token lacks the chosen claim"
        );
        SsoFailure::MissingClaim
    })
}

/// The SSO identity `name` of the account (created at its first sign-in), an audit event, and
/// a session of kind SSO named `<name>@<alias>`.
pub(super) async fn start_session(
    services: &Services,
    account_id: &str,
    name: &str,
    client_ip: &str,
    previous_token: Option<&str>,
) -> Result<String, SsoFailure> {
    let now = services.now_ms();
    let mut tx = services.db.begin().await.map_err(internal)?;
    let alias: Option<(String,)> =
        sqlx::query_as("SELECT alias FROM accounts WHERE id = $1 AND status = 'active'")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
    let (alias,) = alias.ok_or(SsoFailure::NotAvailable)?;
    sqlx::query(
        "INSERT INTO sso_users (account_id, name) VALUES ($1, $2) ON CONFLICT (account_id, name) DO NOTHING",
    )
    .bind(account_id)
    .bind(name)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    let (sso_user_id,): (i64,) =
        sqlx::query_as("SELECT id FROM sso_users WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
    let session_name = format!("{name}@{alias}");
    audit::record(
        &mut tx,
        AuditEvent {
            at: now,
            principal_kind: PrincipalKind::Sso.as_str(),
            principal_name: &session_name,
            action: "sso_sign_in",
            subject_account_id: account_id,
            client_ip,
            outcome: "success",
            detail: "Signed in through Enterprise SSO (OpenID Connect)",
        },
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let token = session::create(
        services,
        NewSession {
            kind: PrincipalKind::Sso,
            account_id,
            actor_id: Some(sso_user_id),
            actor_name: &session_name,
            via_user_id: None,
            client_ip,
        },
        previous_token,
    )
    .await
    .map_err(|_| SsoFailure::Internal)?;
    tracing::info!(account = %account_id, "signed in through SSO");
    Ok(token)
}
