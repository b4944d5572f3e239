//! What the server tells its operators: logs (text, or JSON lines with `APP_LOG_FORMAT=json`),
//! request metrics, and the Prometheus endpoint `/metrics`.

use app::ssr::Services;
use app::ssr::config::Config;
use app::ssr::metrics::Refusal;
use app::ssr::outbox;
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const DEFAULT_FILTER: &str = "info,sqlx=warn,leptos_axum=warn";

/// Installs the process's log subscriber: `RUST_LOG` filters; `format` (`APP_LOG_FORMAT`) is
/// `text` (the default) or `json`, one object per line with the timestamp, level, target, message,
/// the event's fields, the current span and the list of spans around it.
pub fn init_logs(format: Option<&str>) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format.map(str::trim).unwrap_or("") {
        "" | "text" => builder.init(),
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        other => {
            return Err(format!(
                "APP_LOG_FORMAT: expected text or json, got {other:?}"
            ));
        }
    }
    Ok(())
}

/// Who may read `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Development on a loopback address without a token: only this machine reaches it.
    Open,
    /// `Authorization: Bearer <APP_METRICS_TOKEN>`, compared in constant time.
    Token(Arc<str>),
    /// No token beyond a development loopback address: the route does not exist (404).
    Off,
}

impl MetricsAccess {
    pub fn for_config(config: &Config, addr: SocketAddr) -> MetricsAccess {
        let token = config.metrics_token.0.trim();
        if !token.is_empty() {
            MetricsAccess::Token(token.into())
        } else if config.is_development() && addr.ip().is_loopback() {
            MetricsAccess::Open
        } else {
            MetricsAccess::Off
        }
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        match self {
            MetricsAccess::Open => true,
            MetricsAccess::Off => false,
            MetricsAccess::Token(token) => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))),
        }
    }
}

/// `GET /metrics`, unless access is `Off`.
pub fn routes(access: MetricsAccess) -> Router<AppState> {
    if access == MetricsAccess::Off {
        return Router::new();
    }
    Router::new().route(
        "/metrics",
        get(move |State(state): State<AppState>, headers: HeaderMap| {
            let access = access.clone();
            async move { metrics_page(&state.services, &access, &headers).await }
        }),
    )
}

/// How long a scrape waits for the outbox figures before answering without fresh ones.
const OUTBOX_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

async fn metrics_page(
    services: &Services,
    access: &MetricsAccess,
    headers: &HeaderMap,
) -> Response {
    if !access.admits(headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "A bearer token is required.",
        )
            .into_response();
    }
    refresh_outbox(services).await;
    let pool = &services.db.pool;
    services
        .metrics
        .db_connections(pool.size(), pool.num_idle());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        services.metrics.render(),
    )
        .into_response()
}

/// The outbox gauges are read from the database at each scrape, so they are as fresh as the scrape.
async fn refresh_outbox(services: &Services) {
    let read = tokio::time::timeout(
        OUTBOX_QUERY_TIMEOUT,
        outbox::pending_summary(&services.db.pool),
    );
    match read.await {
        Ok(Ok((pending, oldest))) => {
            let age_ms = oldest.map_or(0, |created| (services.now_ms() - created).max(0));
            services.metrics.outbox(pending, age_ms as f64 / 1000.0);
        }
        Ok(Err(error)) => tracing::warn!(%error, "metrics: the outbox could not be read"),
        Err(_) => tracing::warn!("metrics: the outbox query took too long"),
    }
}

/// The outermost middleware: times every answer (to its head) under the route's template, and
/// counts the refusal a response carries.
pub async fn observe(State(services): State<Services>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    services
        .metrics
        .request(&method, route, response.status().as_u16(), seconds);
    if let Some(Refusal(reason)) = response.extensions().get::<Refusal>() {
        services.metrics.refused(reason);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::ssr::config::{Mode, Secret};

    fn config(mode: Mode, token: &str) -> Config {
        Config {
            mode,
            metrics_token: Secret(token.into()),
            ..Config::default()
        }
    }

    #[test]
    fn metrics_are_open_only_in_development_on_loopback() {
        let local: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let lan: SocketAddr = "0.0.0.0:3000".parse().unwrap();
        assert_eq!(
            MetricsAccess::for_config(&config(Mode::Development, ""), local),
            MetricsAccess::Open
        );
        assert_eq!(
            MetricsAccess::for_config(&config(Mode::Development, ""), lan),
            MetricsAccess::Off
        );
        assert_eq!(
            MetricsAccess::for_config(&config(Mode::Production, ""), local),
            MetricsAccess::Off
        );
        assert_eq!(
            MetricsAccess::for_config(&config(Mode::Production, "t0ken-t0ken-t0ken"), lan),
            MetricsAccess::Token("t0ken-t0ken-t0ken".into())
        );
    }

    #[test]
    fn only_the_exact_bearer_token_is_admitted() {
        let access = MetricsAccess::Token("right-token-123456".into());
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            headers
        };
        assert!(access.admits(&with("Bearer right-token-123456")));
        assert!(!access.admits(&with("Bearer right-token-12345")));
        assert!(!access.admits(&with("Bearer right-token-1234567")));
        assert!(!access.admits(&with("Basic right-token-123456")));
        assert!(!access.admits(&with("right-token-123456")));
        assert!(!access.admits(&HeaderMap::new()));
    }
}
