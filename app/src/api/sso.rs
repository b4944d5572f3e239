//! Enterprise SSO: the owner's identity provider settings, and the start of an SSO sign-in.
//! The provider answers at the `/sso/callback` route of the server, which ends the sign-in.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Why an SSO sign-in did not start a session. The callback is a redirect from the provider,
/// not a server-function call, so a failure travels back to the sign-in page as `?error=<code>`;
/// the text users read lives here alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SsoFailure {
    InvalidAlias,
    /// The alias names no account, or the account has no provider set up: one answer for both,
    /// so the page does not tell which aliases exist.
    NotAvailable,
    ProviderUnreachable,
    /// Unknown, altered, reused or expired `state`, or a callback in another browser than the one
    /// that started the sign-in.
    InvalidState,
    ProviderRefused,
    WrongAudience,
    TokenExpired,
    /// Signature, issuer or nonce wrong, or no ID token at all.
    TokenRejected,
    MissingClaim,
    Throttled,
    Internal,
}

impl std::fmt::Display for SsoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(crate::i18n::Locale::En))
    }
}

impl SsoFailure {
    const ALL: [SsoFailure; 11] = [
        SsoFailure::InvalidAlias,
        SsoFailure::NotAvailable,
        SsoFailure::ProviderUnreachable,
        SsoFailure::InvalidState,
        SsoFailure::ProviderRefused,
        SsoFailure::WrongAudience,
        SsoFailure::TokenExpired,
        SsoFailure::TokenRejected,
        SsoFailure::MissingClaim,
        SsoFailure::Throttled,
        SsoFailure::Internal,
    ];

    /// The stable code in the sign-in page's URL and in `AppError::code`.
    pub fn code(self) -> &'static str {
        match self {
            SsoFailure::InvalidAlias => "Sso.InvalidAlias",
            SsoFailure::NotAvailable => "Sso.NotAvailable",
            SsoFailure::ProviderUnreachable => "Sso.ProviderUnreachable",
            SsoFailure::InvalidState => "Sso.InvalidState",
            SsoFailure::ProviderRefused => "Sso.ProviderRefused",
            SsoFailure::WrongAudience => "Sso.WrongAudience",
            SsoFailure::TokenExpired => "Sso.TokenExpired",
            SsoFailure::TokenRejected => "Sso.TokenRejected",
            SsoFailure::MissingClaim => "Sso.MissingClaim",
            SsoFailure::Throttled => "Sso.Throttled",
            SsoFailure::Internal => "Sso.Internal",
        }
    }

    /// What the sign-in page says, in `locale`: the catalogue's `sso-<Variant>`.
    pub fn message(self, locale: crate::i18n::Locale) -> String {
        let key = format!("sso-{}", self.code().trim_start_matches("Sso."));
        crate::i18n::t(locale, &key)
    }

    pub fn parse(code: &str) -> Option<SsoFailure> {
        SsoFailure::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// The claim of the ID token that names the user on the console's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserClaim {
    PreferredUsername,
    Email,
    Sub,
}

impl UserClaim {
    pub const ALL: [UserClaim; 3] = [
        UserClaim::PreferredUsername,
        UserClaim::Email,
        UserClaim::Sub,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserClaim::PreferredUsername => "preferred_username",
            UserClaim::Email => "email",
            UserClaim::Sub => "sub",
        }
    }

    pub fn parse(value: &str) -> Option<UserClaim> {
        UserClaim::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// The settings as the owner's page shows them: never the client secret, only whether one is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettingsView {
    pub configured: bool,
    pub issuer_url: String,
    pub client_id: String,
    pub secret_saved: bool,
    pub user_claim: UserClaim,
    /// SSO sessions hold `AliyunResourceDirectoryFullAccess` (they may use Resource Management
    /// when the account manages a directory).
    pub directory_access: bool,
    /// What to register at the provider as the client's redirect URI.
    pub redirect_uri: String,
    pub updated_at: Option<String>,
}

/// What the owner saves. An empty `client_secret` keeps the one saved before.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettingsInput {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub user_claim: String,
    pub directory_access: bool,
}

impl std::fmt::Debug for SsoSettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSettingsInput")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("user_claim", &self.user_claim)
            .field("directory_access", &self.directory_access)
            .finish_non_exhaustive()
    }
}

#[server(endpoint = "sso_settings")]
pub async fn sso_settings() -> Result<SsoSettingsView, AppError> {
    let (services, _meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::sso::settings(&services, &principal).await
}

/// `directory_access` is a checkbox: present ("on") when ticked.
#[server(endpoint = "save_sso_settings")]
pub async fn save_sso_settings(
    issuer_url: String,
    client_id: String,
    client_secret: String,
    user_claim: String,
    directory_access: Option<String>,
) -> Result<SsoSettingsView, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    let input = SsoSettingsInput {
        issuer_url,
        client_id,
        client_secret,
        user_claim,
        directory_access: directory_access.is_some_and(|v| !v.is_empty() && v != "false"),
    };
    crate::ssr::sso::save(&services, &principal, &meta, input).await
}

#[server(endpoint = "delete_sso_settings")]
pub async fn delete_sso_settings() -> Result<SsoSettingsView, AppError> {
    let (services, meta, principal) = crate::api::ctx::signed_in().await?;
    crate::ssr::sso::delete(&services, &principal, &meta).await
}

/// Starts an SSO sign-in for the account with `alias`: the provider's authorization URL, for the
/// browser to go to. The attempt is bound to this browser by a cookie set with the answer.
#[server(endpoint = "sso_begin")]
pub async fn sso_begin(alias: String) -> Result<String, AppError> {
    let services = crate::api::ctx::services()?;
    let meta = crate::api::ctx::request_meta(&services)?;
    let begun = crate::ssr::sso::begin(&services, &alias, &meta.client_ip)
        .await
        .map_err(AppError::Sso)?;
    crate::api::ctx::set_cookie(crate::ssr::sso::browser_cookie(&begun.browser_token));
    Ok(begun.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_code_reads_back() {
        for failure in SsoFailure::ALL {
            assert_eq!(SsoFailure::parse(failure.code()), Some(failure));
            assert!(!failure.to_string().is_empty());
        }
        assert_eq!(SsoFailure::parse("Sso.Nonsense"), None);
    }

    #[test]
    fn the_user_claim_is_one_of_three() {
        for claim in UserClaim::ALL {
            assert_eq!(UserClaim::parse(claim.as_str()), Some(claim));
        }
        assert_eq!(UserClaim::parse("name"), None);
    }
}
