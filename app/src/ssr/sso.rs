//! Enterprise SSO through OpenID Connect: the owner's identity provider settings, and the
//! sign-in by the authorization-code flow with PKCE, its state, nonce and verifier waiting in the
//! database so that the provider's callback may land on any instance.

use crate::api::sso::{SsoFailure, SsoSettingsInput, SsoSettingsView, UserClaim};
use crate::error::{AppError, AppResult};
use crate::model::PrincipalKind;
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::ssr::db::Tx;
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::rate;
use crate::ssr::request::RequestMeta;
use crate::ssr::session::{self, NewSession, Principal, RD_FULL_ACCESS};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, IdTokenClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use std::sync::OnceLock;
use std::time::Duration;

/// A sign-in attempt lives this long between the redirect to the provider and its callback.
pub const ATTEMPT_TTL_MS: i64 = 5 * 60 * 1000;
/// The cookie that binds an attempt to the browser that started it: a callback carrying someone
/// else's `state` (a link an attacker sent) does not sign this browser in.
pub const BROWSER_COOKIE: &str = "__Host-sso-attempt";
/// The route of the provider's callback; `<public URL>/sso/callback` is the redirect URI.
pub const CALLBACK_PATH: &str = "/sso/callback";
/// The policies the owner may map to SSO sessions.
pub const MAPPABLE_POLICIES: &[&str] = &[RD_FULL_ACCESS];

/// The redirect URI to register at the provider: the console's public URL and the callback.
pub fn redirect_uri(services: &Services) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        services.config.public_url.trim().trim_end_matches('/')
    )
}

/// The `Set-Cookie` value that carries an attempt's browser token, for as long as the attempt lives.
pub fn browser_cookie(token: &str) -> String {
    format!(
        "{BROWSER_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        ATTEMPT_TTL_MS / 1000
    )
}

/// The `Set-Cookie` value that removes the attempt's cookie once the callback has used it.
pub fn clearing_browser_cookie() -> String {
    format!("{BROWSER_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The attempt's browser token in a `Cookie` header.
pub fn browser_token_from_cookie_header(header: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// One client for every provider call: no redirects (a provider's answer that points elsewhere
/// must not make the server fetch it), and bounded waits so a dead provider fails fast.
fn http_client() -> &'static openidconnect::reqwest::Client {
    static CLIENT: OnceLock<openidconnect::reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a reqwest client with these settings builds")
    })
}

fn internal(error: impl std::fmt::Display) -> SsoFailure {
    tracing::error!(%error, "SSO sign-in failed on our side");
    SsoFailure::Internal
}

fn seal_secret(services: &Services, account_id: &str, secret: &str) -> String {
    crate::ssr::crypto::seal(
        &services.config.secrets_key_bytes(),
        &format!("sso_client_secret:{account_id}"),
        secret,
    )
}

fn open_secret(services: &Services, account_id: &str, sealed: &str) -> Option<String> {
    // Client secrets were never stored in clear: a value without the seal's prefix is no secret.
    if !sealed.starts_with("v1:") {
        return None;
    }
    crate::ssr::crypto::open(
        &services.config.secrets_key_bytes(),
        &format!("sso_client_secret:{account_id}"),
        sealed,
    )
}

fn pkce_context(state_hash: &str) -> String {
    format!("sso_pkce:{state_hash}")
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    account_id: String,
    issuer_url: String,
    client_id: String,
    client_secret_sealed: String,
    user_claim: String,
    mapped_policies: String,
    updated_at: i64,
}

impl ProviderRow {
    fn policies(&self) -> Vec<String> {
        parse_policies(&self.mapped_policies)
    }

    fn claim(&self) -> UserClaim {
        UserClaim::parse(&self.user_claim).unwrap_or(UserClaim::PreferredUsername)
    }
}

/// Only policies the owner may map are honoured, whatever the column holds.
fn parse_policies(stored: &str) -> Vec<String> {
    stored
        .split_whitespace()
        .filter(|p| MAPPABLE_POLICIES.contains(p))
        .map(str::to_string)
        .collect()
}

const PROVIDER_COLUMNS: &str = "account_id, issuer_url, client_id, client_secret_sealed, user_claim, mapped_policies, updated_at";

async fn provider_of(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<Option<ProviderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROVIDER_COLUMNS} FROM sso_providers WHERE account_id = $1"
    )))
    .bind(account_id)
    .fetch_optional(conn)
    .await
}

/// The policies the owner mapped to every SSO session of the account (`session::load` adds them).
pub async fn mapped_policies(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT mapped_policies FROM sso_providers WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| parse_policies(&r.0)).unwrap_or_default())
}

// -- the owner's settings ---------------------------------------------------------------------

/// The settings page is the owner's alone; anyone else is refused on the server too.
fn require_owner(principal: &Principal) -> AppResult<()> {
    if principal.is_owner() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn view(services: &Services, row: Option<&ProviderRow>) -> SsoSettingsView {
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
    let refuse = || {
        AppError::invalid(
            "Enter the issuer URL of the identity provider, for example https://idp.example.com.",
        )
    };
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
            return Err(AppError::invalid(
                "The issuer URL must use https (plain http only to this machine in development mode).",
            ));
        }
        _ => return Err(refuse()),
    }
    // The issuer is compared with the provider's own `issuer` as written: keep what was typed.
    Ok(text.to_string())
}

fn parse_client_id(text: &str) -> AppResult<String> {
    let text = text.trim();
    if (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(text.to_string())
    } else {
        Err(AppError::invalid(
            "Enter the client ID the identity provider gave the console (letters, digits and symbols, no spaces).",
        ))
    }
}

fn parse_client_secret(text: &str) -> AppResult<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() <= 512 && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Some(text.to_string()))
    } else {
        Err(AppError::invalid(
            "The client secret must be at most 512 characters, without spaces.",
        ))
    }
}

/// The owner's logon email, for the notices about the settings.
async fn owner_email(conn: &mut sqlx::AnyConnection, account_id: &str) -> AppResult<String> {
    let (email,): (String,) = sqlx::query_as("SELECT email FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(conn)
        .await?;
    Ok(email)
}

/// The audit event and the owner's notice of a change to the settings, in the caller's transaction.
async fn record_change(
    conn: &mut sqlx::AnyConnection,
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    action: &str,
    detail: &str,
) -> AppResult<()> {
    let now = services.now_ms();
    audit::record(
        conn,
        AuditEvent::by(
            principal,
            now,
            &meta.client_ip,
            action,
            &principal.account_id,
        )
        .detail(detail),
    )
    .await?;
    let email = owner_email(conn, &principal.account_id).await?;
    let body = format!(
        "{detail}, by {} from {}. Not you? Sign in and check Enterprise SSO at once.",
        principal.name, meta.client_ip
    );
    outbox::enqueue(
        conn,
        NewMessage {
            channel: Channel::Email,
            recipient: &email,
            subject: "The Enterprise SSO settings of your account changed",
            body: &body,
            template: Template::Notice,
            code: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Ends the account's SSO sessions: they came from a provider the owner no longer trusts.
async fn end_sso_sessions(conn: &mut sqlx::AnyConnection, account_id: &str) -> AppResult<()> {
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
            return Err(AppError::invalid(
                "Enter the client secret the identity provider gave the console.",
            ));
        }
    };
    if let Err(failure) = discover(&issuer_url).await {
        tracing::info!(?failure, "SSO settings refused: discovery failed");
        return Err(AppError::invalid(format!(
            "The identity provider at {issuer_url} could not be reached, or does not answer OpenID Connect discovery. Nothing was saved."
        )));
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
    record_change(
        &mut tx,
        services,
        principal,
        meta,
        "sso_settings_saved",
        &detail,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(trust_changed, "SSO settings saved");
    let mut conn = services.db.pool.acquire().await?;
    let row = provider_of(&mut conn, &principal.account_id).await?;
    Ok(view(services, row.as_ref()))
}

/// The settings as the owner entered them, each checked.
struct Settings {
    issuer_url: String,
    client_id: String,
    /// A new client secret; none keeps the saved one.
    new_secret: Option<String>,
    user_claim: UserClaim,
    /// The policies SSO sessions get: the directory policy, or none.
    policies: &'static str,
}

fn parse_settings(services: &Services, input: &SsoSettingsInput) -> AppResult<Settings> {
    let user_claim = UserClaim::parse(input.user_claim.trim()).ok_or_else(|| {
        AppError::invalid("Choose the claim that names the user: preferred_username, email or sub.")
    })?;
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
async fn upsert_provider(
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
fn saved_detail(
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
        record_change(
            &mut tx,
            services,
            principal,
            meta,
            "sso_settings_deleted",
            "Enterprise SSO turned off",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(view(services, None))
}

// -- the sign-in ------------------------------------------------------------------------------

async fn discover(issuer_url: &str) -> Result<CoreProviderMetadata, SsoFailure> {
    let issuer = IssuerUrl::new(issuer_url.to_string()).map_err(|error| {
        tracing::warn!(%error, "SSO issuer URL does not parse");
        SsoFailure::ProviderUnreachable
    })?;
    // Fetches the discovery document (whose `issuer` must be this one) and the provider's JWKS.
    CoreProviderMetadata::discover_async(issuer, http_client())
        .await
        .map_err(|error| {
            tracing::warn!(%error, issuer = issuer_url, "SSO discovery failed");
            SsoFailure::ProviderUnreachable
        })
}

/// The client as discovery leaves it: the authorization endpoint set, the token and user-info
/// endpoints as the provider's metadata names them.
type ConsoleClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The provider's client for the console, as the account's settings describe it.
async fn client_for(
    services: &Services,
    row: &ProviderRow,
) -> Result<(CoreProviderMetadata, ConsoleClient), SsoFailure> {
    let secret =
        open_secret(services, &row.account_id, &row.client_secret_sealed).ok_or_else(|| {
            internal("the SSO client secret does not open (APP_SECRETS_KEY changed?)")
        })?;
    let metadata = discover(&row.issuer_url).await?;
    let redirect = RedirectUrl::new(redirect_uri(services)).map_err(internal)?;
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(row.client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(redirect);
    Ok((metadata, client))
}

/// An alias as accounts hold it: lowercase letters, digits, `-`, `_` and `.`, at most 64.
fn parse_alias(text: &str) -> Result<String, SsoFailure> {
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
async fn take_start_slot(services: &Services, client_ip: &str, now: i64) -> Result<(), SsoFailure> {
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
async fn provider_by_alias(services: &Services, alias: &str) -> Result<ProviderRow, SsoFailure> {
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
fn claim_scope(row: &ProviderRow, metadata: &CoreProviderMetadata) -> Option<Scope> {
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
struct AttemptRow {
    account_id: String,
    nonce_hash: String,
    browser_hash: String,
    pkce_verifier_sealed: String,
    provider_updated_at: i64,
    expires_at: i64,
}

type Claims = IdTokenClaims<EmptyAdditionalClaims, CoreGenderClaim>;

/// The value of the chosen claim, if it is one a session can be named by.
fn claim_value(claims: &Claims, claim: UserClaim) -> Option<String> {
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
async fn take_attempt<'a>(
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
async fn exchange_code(
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
fn verified_name(
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
async fn start_session(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_read_as_accounts_hold_them() {
        assert_eq!(parse_alias(" Alice ").as_deref(), Ok("alice"));
        assert_eq!(parse_alias("acme-prod.1").as_deref(), Ok("acme-prod.1"));
        for bad in ["", "alice@example.com", "a b", "x\0", &"a".repeat(65)] {
            assert_eq!(parse_alias(bad), Err(SsoFailure::InvalidAlias), "{bad:?}");
        }
    }

    #[test]
    fn only_mappable_policies_are_honoured() {
        assert_eq!(
            parse_policies("AliyunResourceDirectoryFullAccess AdministratorAccess"),
            vec![RD_FULL_ACCESS.to_string()]
        );
        assert!(parse_policies("").is_empty());
    }

    #[test]
    fn the_attempt_cookie_is_host_bound_and_found_among_others() {
        let cookie = browser_cookie("abc");
        for flag in [
            "__Host-sso-attempt=abc",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Max-Age=300",
        ] {
            assert!(cookie.contains(flag), "{flag}");
        }
        assert_eq!(
            browser_token_from_cookie_header("a=1; __Host-sso-attempt=xyz; __Host-session=s")
                .as_deref(),
            Some("xyz")
        );
        assert_eq!(
            browser_token_from_cookie_header("__Host-sso-attempt="),
            None
        );
    }
}
