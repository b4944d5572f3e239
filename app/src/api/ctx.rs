//! What a server function reads from its request: the services, the caller, and the response cookie.

use crate::error::{AppError, AppResult};
use crate::ssr::Services;
use crate::ssr::request::RequestMeta;
use crate::ssr::session::{self, Principal};
use leptos::prelude::*;
use std::net::SocketAddr;

pub fn services() -> AppResult<Services> {
    use_context::<Services>().ok_or_else(|| {
        // Which request (if any) ran a server function outside the context the router provides.
        let path = use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_string());
        tracing::error!(?path, "services missing from the server function context");
        // Nothing was read or changed: the same call in a moment finds its context.
        AppError::Unavailable
    })
}

pub fn request_meta(services: &Services) -> AppResult<RequestMeta> {
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Internal)?;
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    Ok(RequestMeta::from_parts(
        &parts.headers,
        peer,
        services.config.proxies(),
    ))
}

/// The services, the request and its signed-in principal; `NotSignedIn` without a live session.
/// A page request brings the principal its guard resolved from the same cookie moments before.
pub async fn signed_in() -> AppResult<(Services, RequestMeta, Principal)> {
    let services = services()?;
    let meta = request_meta(&services)?;
    let resolved = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned());
    let principal = match resolved {
        Some(principal) => principal,
        None => session::load(&services, meta.token.as_deref()).await?,
    };
    // The owner's language, for the texts this call writes (a code's message).
    if let Some(language) = principal.language {
        provide_context(language);
    }
    Ok((services, meta, principal))
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie(name: &str) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    crate::ssr::request::cookie_in(&parts.headers, name)
}

pub fn set_cookie(value: String) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&value),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}
