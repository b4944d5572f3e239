//! Probes for load balancers and orchestrators: `/healthz` (the process answers) and `/readyz`
//! (it can serve: the database answers and carries every migration of this build). Neither needs
//! a session, and neither writes.

use app::ssr::Services;
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use std::time::Duration;

/// A probe answers within this even when the database does not (the pool would wait 30 s).
const READY_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, not_ready(&state.services)).await {
        Ok(None) => (StatusCode::OK, "ready").into_response(),
        Ok(Some(reason)) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in time");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("database: no answer within {} s", READY_TIMEOUT.as_secs()),
            )
                .into_response()
        }
    }
}

/// Why the instance cannot serve, in a few words (the detail goes to the log), or `None`.
async fn not_ready(services: &Services) -> Option<String> {
    if let Err(error) = sqlx::query("SELECT 1").execute(&services.db.pool).await {
        tracing::warn!(%error, "readiness: the database does not answer");
        return Some("database: unreachable".into());
    }
    match services.db.missing_migrations().await {
        Ok(missing) if missing.is_empty() => None,
        Ok(missing) => {
            let versions: Vec<String> = missing.iter().map(i64::to_string).collect();
            tracing::warn!(missing = %versions.join(","), "readiness: migrations not applied");
            Some(format!("migrations not applied: {}", versions.join(", ")))
        }
        Err(error) => {
            tracing::warn!(%error, "readiness: the migrations table cannot be read");
            Some("migrations: the migrations table cannot be read".into())
        }
    }
}
