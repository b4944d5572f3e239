//! Every request passes here: cross-site writes are refused, and security headers are set.

use app::error::AppError;
use app::ssr::Services;
use app::ssr::config::{Config, TrustedProxies};
use app::ssr::request::RequestMeta;
use app::ssr::session;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::net::SocketAddr;
use std::sync::Arc;

/// Scheme, host and port: what `Origin` names, and what the console is served at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl SiteOrigin {
    /// `https://console.example.com`, `http://127.0.0.1:3000`; a path after it is ignored.
    pub fn parse(text: &str) -> Option<SiteOrigin> {
        let uri: http::Uri = text.trim().parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(SiteOrigin {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
            scheme,
        })
    }
}

impl std::fmt::Display for SiteOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The origins a state-changing request may come from: `APP_PUBLIC_URL`, or, unset, the
/// listening address (`http://127.0.0.1:<port>`, with `http://localhost:<port>` beside it when the
/// server listens on loopback or on every interface). Never the Host header, which the client writes.
pub fn accepted_origins(config: &Config, addr: SocketAddr) -> Result<Vec<SiteOrigin>, String> {
    if !config.public_url.trim().is_empty() {
        let origin = SiteOrigin::parse(&config.public_url).ok_or_else(|| {
            format!(
                "APP_PUBLIC_URL: expected an origin such as https://console.example.com, got {:?}",
                config.public_url
            )
        })?;
        return Ok(vec![origin]);
    }
    let port = addr.port();
    let hosts: Vec<String> = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()]
    } else {
        match addr.ip() {
            std::net::IpAddr::V4(ip) => vec![ip.to_string()],
            std::net::IpAddr::V6(ip) => vec![format!("[{ip}]")],
        }
    };
    Ok(hosts
        .iter()
        .filter_map(|host| SiteOrigin::parse(&format!("http://{host}:{port}")))
        .collect())
}

/// What the guard needs beside the services: where the site is, and whether it is production.
#[derive(Clone)]
pub struct Guard {
    pub services: Services,
    pub origins: Arc<Vec<SiteOrigin>>,
    /// `Strict-Transport-Security` on every response (production).
    pub hsts: bool,
}

/// A state-changing request must come from this site: `Sec-Fetch-Site` must not say otherwise,
/// and `Origin` must be one of `origins` (scheme, host and port); a request with neither header
/// is refused too.
pub fn is_same_site(headers: &HeaderMap, origins: &[SiteOrigin]) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        Some(Ok(origin)) => SiteOrigin::parse(origin).is_some_and(|o| origins.contains(&o)),
        Some(Err(_)) => false,
        None => fetch_site.is_some(),
    }
}

/// Pages that need a signed-in principal; the check here answers before any rendering starts.
fn is_protected_page(path: &str) -> bool {
    matches!(path, "/" | "/overview" | "/security" | "/security-log")
        || path.starts_with("/resource-directory/")
        || path.starts_with("/account/")
}

pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let services = &guard.services;
    let hsts = guard.hsts;
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if request.method() == Method::GET && is_protected_page(request.uri().path()) {
        let meta = RequestMeta::from_parts(request.headers(), None, &TrustedProxies::None);
        match session::load(services, meta.token.as_deref()).await {
            // The page's server functions read it back (`api::ctx::signed_in`): one session
            // lookup per page, not one per function the page calls.
            Ok(principal) => {
                request.extensions_mut().insert(principal);
            }
            Err(_) => {
                let mut response = Redirect::to("/login").into_response();
                set_security_headers(response.headers_mut(), hsts);
                return response;
            }
        }
    }
    if writes && !is_same_site(request.headers(), &guard.origins) {
        tracing::warn!(path = %request.uri().path(), "cross-site write refused");
        let error = AppError::CrossSite;
        let body = serde_json::json!({ "Code": error.code(), "Message": error.to_string() });
        let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(app::ssr::metrics::Refusal(error.reason()));
        set_security_headers(response.headers_mut(), hsts);
        return response;
    }
    let mut response = next.run(request).await;
    set_security_headers(response.headers_mut(), hsts);
    response
}

fn set_security_headers(headers: &mut HeaderMap, hsts: bool) {
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
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

    fn local_3000() -> Vec<SiteOrigin> {
        accepted_origins(&Config::default(), "127.0.0.1:3000".parse().unwrap()).unwrap()
    }

    #[test]
    fn same_origin_requests_pass() {
        let origins = local_3000();
        assert!(is_same_site(
            &headers(&[("origin", "http://127.0.0.1:3000")]),
            &origins
        ));
        assert!(is_same_site(
            &headers(&[("origin", "http://localhost:3000")]),
            &origins
        ));
        assert!(is_same_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &origins
        ));
    }

    #[test]
    fn foreign_or_missing_origins_are_refused() {
        let origins = local_3000();
        for pairs in [
            &[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000"),
            ][..],
            // The Host header is the client's to write: it proves nothing.
            &[("origin", "http://evil.example"), ("host", "evil.example")],
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:3000"),
            ],
            &[("host", "127.0.0.1:3000")],
            &[("origin", "null")],
            // Scheme and port count too.
            &[("origin", "https://127.0.0.1:3000")],
            &[("origin", "http://127.0.0.1:3001")],
            &[("origin", "http://127.0.0.1")],
        ] {
            assert!(!is_same_site(&headers(pairs), &origins), "{pairs:?}");
        }
    }

    #[test]
    fn a_public_url_is_the_only_origin() {
        let config = Config {
            public_url: "https://Console.Example.com/".into(),
            ..Config::default()
        };
        let origins = accepted_origins(&config, "0.0.0.0:8080".parse().unwrap()).unwrap();
        assert!(is_same_site(
            &headers(&[("origin", "https://console.example.com:443")]),
            &origins
        ));
        assert!(!is_same_site(
            &headers(&[("origin", "http://console.example.com")]),
            &origins
        ));
        assert!(!is_same_site(
            &headers(&[("origin", "http://127.0.0.1:8080")]),
            &origins
        ));
        let bad = Config {
            public_url: "console.example.com".into(),
            ..Config::default()
        };
        assert!(accepted_origins(&bad, "0.0.0.0:8080".parse().unwrap()).is_err());
    }
}
