//! The axum server: router, security middleware, development routes and background workers.

pub mod automation;
pub mod config;
pub mod dev;
pub mod guard;
pub mod health;
pub mod memory;
pub mod site;
pub mod sso;
pub mod telemetry;

use app::ssr::Services;
use app::ssr::clock::Clock;
use app::ssr::config::Config;
use app::ssr::delivery::{self, Senders};
use app::ssr::metrics::Refusal;
use app::ssr::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

async fn server_fn_handler(
    State(state): State<AppState>,
    request: Request<Body>,
) -> impl IntoResponse {
    let services = state.services.clone();
    handle_server_fns_with_context(move || provide_context(services.clone()), request).await
}

/// Leptos 0.8 now and then renders a page without the contexts its route provided (the same
/// symptom as "services missing from the server function context", `path=None`). In the
/// end-to-end suite it follows a page the browser left while it was still loading (a second
/// `goto` of the same page): a render dropped half-way seems to take its neighbours' contexts
/// with it (leptos-rs/leptos#4698). Such a page has no Content-Security-Policy of its own, so the
/// guard's strict policy blocks its script nonce and its islands never hydrate: a dead page.
///
/// So a page GET renders in a task of its own and to the end, whether or not the browser still
/// waits (an HTML body is read whole there; SSR is `Async`, so it was ready before its first
/// byte anyway), and a page that still comes back without its policy is rendered again, up to
/// `RENDERS` times in all (a render in a new task mostly finds its context).
async fn render_whole_page(request: Request, next: axum::middleware::Next) -> Response {
    if request.method() != http::Method::GET {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let first = Request::from_parts(parts.clone(), body);
    let mut response = render_in_own_task(next.clone(), first).await;
    for attempt in 2..=RENDERS {
        let has_policy = response
            .headers()
            .contains_key(http::header::CONTENT_SECURITY_POLICY);
        if !is_html(&response) || has_policy {
            break;
        }
        tracing::warn!(path = %parts.uri.path(), attempt, "page rendered without its context; rendered again");
        let again = Request::from_parts(parts.clone(), Body::empty());
        response = render_in_own_task(next.clone(), again).await;
    }
    response
}

/// How many times a page is rendered at most before its answer goes out as it is.
const RENDERS: u32 = 4;

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Runs the route in a spawned task that a client going away does not cancel; an HTML answer is
/// read whole inside it. Other answers (the site's files) stream as before.
async fn render_in_own_task(next: axum::middleware::Next, request: Request) -> Response {
    let task = tokio::spawn(async move {
        let response = next.run(request).await;
        if !is_html(&response) {
            return response;
        }
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
            Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
            Err(_) => (http::StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
        }
    });
    task.await
        .unwrap_or_else(|_| (http::StatusCode::INTERNAL_SERVER_ERROR, "").into_response())
}

/// Leptos answers every server-function error with 500 (and a `serverfnerror` header). The body
/// is the `AppError`, so answer with the status it stands for instead (400 bad input, 401, 403,
/// 404, 429; 500 only for a failure on our side): clients, proxies and logs can then tell a
/// refusal from a fault. The browser's client reads any 4xx/5xx as the error.
async fn with_error_status(response: Response) -> Response {
    if response.status() != http::StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error body is a few hundred bytes; anything larger is not one of ours.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (http::StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        if let Ok(status) = http::StatusCode::from_u16(error.status()) {
            parts.status = status;
        }
        if error == app::error::AppError::Unavailable {
            parts.headers.insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(app::error::RETRY_AFTER_SECS),
            );
        }
        parts.extensions.insert(Refusal(error.reason()));
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn favicon() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "image/svg+xml"),
            (http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../public/favicon.svg"),
    )
        .into_response()
}

/// Which optional routes an instance serves, decided from its mode and listening address.
#[derive(Clone, Debug)]
pub struct Exposure {
    /// `/dev/*` (development mode on a loopback address only).
    pub dev_routes: bool,
    pub metrics: telemetry::MetricsAccess,
}

/// The app's routes, then the layers every request passes: the server-function error status,
/// the security guard, the signed cloud-style API, and, outermost, the request metrics.
pub fn router(state: AppState, guard: guard::Guard, exposure: Exposure) -> Router {
    let services = state.services.clone();
    let mut router = Router::new()
        .route("/api/{*fn_name}", post(server_fn_handler))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .merge(health::routes())
        .merge(telemetry::routes(exposure.metrics))
        .merge(automation::routes())
        .merge(sso::routes());
    if exposure.dev_routes {
        router = router.merge(dev::routes());
    }
    with_pages(router, &state)
        .layer(axum::middleware::map_response(with_error_status))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        // Outside the guard: a signed cloud-style call at `/` carries no cookie and no Origin.
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            automation::signed_api,
        ))
        // Outermost, so it times and counts every answer, the guard's and the signed API's too.
        .layer(axum::middleware::from_fn_with_state(
            services,
            telemetry::observe,
        ))
        .with_state(state)
}

/// The Leptos pages, and the fallback: a static file of the site (from the binary with
/// `embed-site`, else from `LEPTOS_SITE_ROOT`), or the app's 404 page.
fn with_pages(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    let context = {
        let services = state.services.clone();
        move || provide_context(services.clone())
    };
    let not_found =
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(context.clone(), shell);
    #[cfg(feature = "embed-site")]
    let not_found = site::embedded_first(not_found);
    let pages = Router::new()
        .leptos_routes_with_context(state, routes, context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(not_found)
        .layer(axum::middleware::from_fn(render_whole_page));
    // The site's files are served here, not by Leptos's file handler: for every file it serves,
    // that handler makes an `Owner` outside any request's arena, and page renders running beside
    // it then lose their contexts (a page without its CSP, "services missing"): 21 of 30 rounds
    // of concurrent file and page requests did, against none with this route.
    #[cfg(not(feature = "embed-site"))]
    let pages = {
        let pkg = std::path::Path::new(&*state.leptos_options.site_root)
            .join(&*state.leptos_options.site_pkg_dir);
        pages.nest_service(
            &format!("/{}", state.leptos_options.site_pkg_dir),
            tower_http::services::ServeDir::new(pkg)
                .precompressed_br()
                .precompressed_gzip(),
        )
    };
    router.merge(pages)
}

/// A running server and its workers; dropping `shutdown` stops them.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Services,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
    }
}

/// Connects the database, seeds demo data in development, starts the workers and serves.
pub async fn start(
    mut config: Config,
    leptos_options: LeptosOptions,
    listener: tokio::net::TcpListener,
    clock: Option<Arc<dyn Clock>>,
) -> Result<Running, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let origins = settle_config(&mut config, addr)?;
    let exposure = Exposure {
        // Development routes sign anyone in and show every code: never to the network.
        dev_routes: config.is_development() && config.dev_outbox && addr.ip().is_loopback(),
        metrics: telemetry::MetricsAccess::for_config(&config, addr),
    };
    let services = open_services(config, clock).await?;
    #[cfg(feature = "embed-site")]
    tracing::info!(
        files = site::embedded_count(),
        "site served from the binary"
    );
    let senders = Senders::from_config(&services)?;
    let (shutdown, stop) = watch::channel(false);
    spawn_workers(&services, senders, &shutdown);
    let state = AppState {
        leptos_options,
        services: services.clone(),
    };
    let guard = guard::Guard {
        hsts: !services.config.is_development(),
        services: services.clone(),
        origins: Arc::new(origins),
    };
    let server = serve(listener, router(state, guard, exposure), stop);
    Ok(Running {
        addr,
        services,
        shutdown,
        server,
    })
}

/// Refuses a production configuration with a development default left in it, and settles the
/// origins state-changing requests may come from (`APP_PUBLIC_URL`, else the listening address).
fn settle_config(config: &mut Config, addr: SocketAddr) -> Result<Vec<guard::SiteOrigin>, String> {
    let problems = config.production_problems();
    if !problems.is_empty() {
        return Err(format!(
            "refusing to start in production:\n  {}",
            problems.join("\n  ")
        ));
    }
    let origins = guard::accepted_origins(config, addr)?;
    if config.public_url.trim().is_empty()
        && let Some(first) = origins.first()
    {
        config.public_url = first.to_string();
    }
    if config.is_development() && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "development mode beyond loopback: /dev/outbox and /dev/sso are off");
    }
    Ok(origins)
}

/// The database (migrated) and the services on it; the demo data in development.
async fn open_services(config: Config, clock: Option<Arc<dyn Clock>>) -> Result<Services, String> {
    let mut services = Services::connect(config)
        .await
        .map_err(|e| format!("database: {e}"))?;
    if let Some(clock) = clock {
        services.clock = clock;
    }
    if services.config.is_development() && services.config.demo_data {
        let seeded = app::ssr::seed::seed_demo(&services)
            .await
            .map_err(|e| format!("demo data: {e}"))?;
        if seeded {
            tracing::info!("demo data seeded");
        }
    }
    Ok(services)
}

/// The outbox delivery worker, the periodic clean-up and the metrics' upkeep, until `shutdown`
/// says stop.
fn spawn_workers(services: &Services, senders: Senders, shutdown: &watch::Sender<bool>) {
    {
        let services = services.clone();
        let mut stop = shutdown.subscribe();
        tokio::spawn(delivery::run_worker(services, senders, async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    }
    every(
        shutdown,
        Duration::from_secs(services.config.maintenance_secs.max(1)),
        {
            let services = services.clone();
            move || {
                let services = services.clone();
                async move {
                    if let Err(error) = app::ssr::maintenance::clean_up(&services).await {
                        tracing::warn!(%error, "clean-up failed");
                    }
                }
            }
        },
    );
    let metrics = services.metrics.clone();
    every(shutdown, Duration::from_secs(5), move || {
        metrics.run_upkeep();
        std::future::ready(())
    });
}

/// Runs `job` now and then once per `period`, until `shutdown` says stop.
fn every<F, Fut>(shutdown: &watch::Sender<bool>, period: Duration, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        loop {
            job().await;
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(period) => {}
            }
        }
    });
}

/// Serves `app` on `listener` until `stop` turns true, letting requests in flight finish.
fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    // Pages stream out in several writes; with Nagle's algorithm on, the last one waited for the
    // client's delayed ACK (about 40 ms on Linux) before leaving.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    tokio::spawn(async move {
        let result = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "server stopped");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    /// A page route whose first render loses its policy, as Leptos's sometimes does.
    fn flaky_pages(renders: Arc<AtomicUsize>, content_type: &'static str) -> Router {
        let page = move || {
            let renders = renders.clone();
            async move {
                let first = renders.fetch_add(1, Ordering::SeqCst) == 0;
                let mut response =
                    ([(http::header::CONTENT_TYPE, content_type)], "<html>").into_response();
                if !first {
                    response.headers_mut().insert(
                        http::header::CONTENT_SECURITY_POLICY,
                        http::HeaderValue::from_static("script-src 'nonce-x'"),
                    );
                }
                response
            }
        };
        Router::new()
            .route("/page", get(page.clone()).post(page))
            .layer(axum::middleware::from_fn(render_whole_page))
    }

    async fn call(router: Router, method: http::Method) -> Response {
        let request = Request::builder()
            .method(method)
            .uri("/page")
            .body(Body::empty())
            .unwrap();
        router.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_page_rendered_without_its_policy_is_rendered_once_more() {
        let renders = Arc::new(AtomicUsize::new(0));
        let response = call(
            flaky_pages(renders.clone(), "text/html; charset=utf-8"),
            http::Method::GET,
        )
        .await;
        assert!(
            response
                .headers()
                .contains_key(http::header::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn only_a_page_get_is_rendered_again() {
        let posted = Arc::new(AtomicUsize::new(0));
        let response = call(flaky_pages(posted.clone(), "text/html"), http::Method::POST).await;
        assert!(
            !response
                .headers()
                .contains_key(http::header::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(posted.load(Ordering::SeqCst), 1);
        let file = Arc::new(AtomicUsize::new(0));
        call(
            flaky_pages(file.clone(), "application/wasm"),
            http::Method::GET,
        )
        .await;
        assert_eq!(file.load(Ordering::SeqCst), 1);
    }
}
