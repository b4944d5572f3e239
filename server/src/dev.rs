//! Development-only routes: the outbox as HTML and JSON, and the stand-in Enterprise SSO sign-in.
//! They are registered only in development mode on a loopback address, so elsewhere they answer 404.

use app::ssr::Services;
use app::ssr::clock::rfc3339;
use app::ssr::request::RequestMeta;
use app::ssr::state::AppState;
use app::ssr::{auth, outbox, session};
use axum::extract::{ConnectInfo, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/outbox.json", get(outbox_json))
        .route("/dev/outbox", get(outbox_html))
        .route("/dev/sso", get(sso_page).post(sso))
}

#[derive(serde::Deserialize)]
pub struct OutboxQuery {
    to: Option<String>,
}

#[derive(serde::Serialize)]
struct OutboxItem {
    channel: String,
    to: String,
    body: String,
    code: Option<String>,
    created_at: String,
}

async fn items(services: &Services, to: Option<&str>) -> Result<Vec<OutboxItem>, StatusCode> {
    let mut conn = services
        .db
        .pool
        .acquire()
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let rows = outbox::list(&mut conn, to.map(str::trim).filter(|t| !t.is_empty()), 200)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(rows
        .into_iter()
        .map(|r| OutboxItem {
            channel: r.channel,
            to: r.recipient,
            body: r.body,
            code: r.code,
            created_at: rfc3339(r.created_at),
        })
        .collect())
}

async fn outbox_json(State(state): State<AppState>, Query(q): Query<OutboxQuery>) -> Response {
    match items(&state.services, q.to.as_deref()).await {
        Ok(items) => Json(items).into_response(),
        Err(status) => status.into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn outbox_html(State(state): State<AppState>, Query(q): Query<OutboxQuery>) -> Response {
    let items = match items(&state.services, q.to.as_deref()).await {
        Ok(items) => items,
        Err(status) => return status.into_response(),
    };
    let rows: String = items
        .iter()
        .map(|i| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&i.created_at),
                escape(&i.channel),
                escape(&i.to),
                escape(i.code.as_deref().unwrap_or("")),
                escape(&i.body)
            )
        })
        .collect();
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Development outbox</title>\
         <link rel=\"stylesheet\" href=\"/pkg/console.css\"></head><body><main class=\"content\">\
         <h1>Development outbox</h1><p class=\"muted\">Messages are kept here instead of being sent (development mode).</p>\
         <table class=\"table\"><thead><tr><th>Created</th><th>Channel</th><th>To</th><th>Code</th><th>Body</th></tr></thead>\
         <tbody>{rows}</tbody></table></main></body></html>"
    ))
    .into_response()
}

/// The SSO stand-in's page: a button that posts. A GET changes nothing, so a link or an image
/// on another site cannot sign a visitor in (a POST passes the same cross-site check as any write).
async fn sso_page() -> Response {
    Html(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Enterprise SSO (development)</title>\
         <link rel=\"stylesheet\" href=\"/pkg/console.css\"></head><body><main class=\"login\"><section class=\"login-card\">\
         <h1>Enterprise SSO</h1><p class=\"muted\">Development mode: sign in as Alice&#39;s SSO user.</p>\
         <form method=\"post\" action=\"/dev/sso\">\
         <button type=\"submit\" class=\"primary wide\">Sign in as sso-user@alice</button></form>\
         </section></main></body></html>",
    )
    .into_response()
}

/// Signs in `sso-user@alice` as an Enterprise SSO session.
async fn sso(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let services = &state.services;
    let meta = RequestMeta::from_parts(&headers, Some(peer), services.config.proxies());
    match auth::sign_in_sso(services, "alice", "sso-user", &meta.client_ip).await {
        Ok(token) => {
            if let Some(old) = meta.token.as_deref() {
                let _ = session::destroy(services, old).await;
            }
            (
                [(http::header::SET_COOKIE, session::cookie(&token))],
                Redirect::to("/overview"),
            )
                .into_response()
        }
        Err(error) => (StatusCode::NOT_FOUND, error.to_string()).into_response(),
    }
}
