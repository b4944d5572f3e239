//! Every request passes here: cross-site writes are refused, and security headers are set.

use app::error::AppError;
use app::ssr::Services;
use app::ssr::request::RequestMeta;
use app::ssr::session;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// A state-changing request must come from this site: `Sec-Fetch-Site` must say so, and
/// `Origin` must name this host; a request with neither header is refused too.
pub fn is_same_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                == Some(host)
        }
        (Some(_), None) => false,
        (None, _) => fetch_site.is_some(),
    }
}

/// Pages that need a signed-in principal; the check here answers before any rendering starts.
fn is_protected_page(path: &str) -> bool {
    matches!(path, "/" | "/overview" | "/security" | "/security-log")
        || path.starts_with("/resource-directory/")
        || path.starts_with("/account/")
}

pub async fn guard(State(services): State<Services>, mut request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if request.method() == Method::GET && is_protected_page(request.uri().path()) {
        let meta = RequestMeta::from_parts(request.headers(), None, false);
        match session::load(&services, meta.token.as_deref()).await {
            // The page's server functions read it back (`api::ctx::signed_in`): one session
            // lookup per page, not one per function the page calls.
            Ok(principal) => {
                request.extensions_mut().insert(principal);
            }
            Err(_) => {
                let mut response = Redirect::to("/login").into_response();
                set_security_headers(response.headers_mut());
                return response;
            }
        }
    }
    if writes && !is_same_site(request.headers()) {
        tracing::warn!(path = %request.uri().path(), "cross-site write refused");
        let error = AppError::CrossSite;
        let body = serde_json::json!({ "Code": error.code(), "Message": error.to_string() });
        let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        set_security_headers(response.headers_mut());
        return response;
    }
    let mut response = next.run(request).await;
    set_security_headers(response.headers_mut());
    response
}

fn set_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    // Pages carry their own policy with a script nonce; everything else gets the strictest one.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"),
        );
    }
    let is_static = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("max-age"));
    if !is_static {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_requests_pass() {
        assert!(is_same_site(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_same_site(&headers(&[
            ("sec-fetch-site", "same-origin"),
            ("host", "127.0.0.1:3000")
        ])));
    }

    #[test]
    fn foreign_or_missing_origins_are_refused() {
        assert!(!is_same_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_site(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_site(&headers(&[("host", "127.0.0.1:3000")])));
        assert!(!is_same_site(&headers(&[
            ("origin", "null"),
            ("host", "127.0.0.1:3000")
        ])));
    }
}
