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

mod settings;
mod sign_in;

pub use settings::*;
pub use sign_in::*;

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
