//! The Enterprise SSO callback: the identity provider sends the browser back here with a code,
//! and the sign-in ends with a session of kind SSO or with the reason shown on the SSO sign-in page.

use app::ssr::request::RequestMeta;
use app::ssr::session;
use app::ssr::sso::{self, CALLBACK_PATH, Callback};
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use http::HeaderMap;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(callback))
}

/// A GET, as the provider redirects the browser; the attempt's state and the cookie of the
/// browser that started it make it safe to sign in here.
async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let services = &state.services;
    let meta = RequestMeta::from_parts(&headers, Some(peer), services.config.proxies());
    let browser_token = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(sso::browser_token_from_cookie_header);
    let callback = parse_query(query.as_deref().unwrap_or(""));
    let outcome = sso::finish(
        services,
        &callback,
        browser_token.as_deref(),
        &meta.client_ip,
        meta.token.as_deref(),
    )
    .await;
    let clear = (http::header::SET_COOKIE, sso::clearing_browser_cookie());
    match outcome {
        Ok(token) => (
            AppendHeaders([clear, (http::header::SET_COOKIE, session::cookie(&token))]),
            Redirect::to("/overview"),
        )
            .into_response(),
        Err(failure) => (
            AppendHeaders([clear]),
            Redirect::to(&format!("/login/sso?error={}", failure.code())),
        )
            .into_response(),
    }
}

/// `code`, `state`, `error` and `iss` of the query; a name given twice keeps its first value.
fn parse_query(query: &str) -> Callback {
    let mut callback = Callback::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "code" => &mut callback.code,
            "state" => &mut callback.state,
            "error" => &mut callback.error,
            "iss" => &mut callback.iss,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    callback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gives_code_state_and_error() {
        let c = parse_query("code=a%2Bb&state=s1&state=s2&iss=x");
        assert_eq!(c.code.as_deref(), Some("a+b"));
        assert_eq!(c.state.as_deref(), Some("s1"));
        assert_eq!(c.error, None);
        assert_eq!(c.iss.as_deref(), Some("x"));
        assert_eq!(parse_query("").state, None);
    }
}
