//! Benchmark: complete phone changes per second over HTTP, identity step included.
//!
//! Starts the real app in-process on a loopback port (development mode: messages stay in the
//! outbox, where the benchmark reads the codes), creates `BENCH_ACCOUNTS` owner accounts with
//! sessions, then runs the whole flow for each with `BENCH_CONCURRENCY` clients at once:
//! send identity code → verify it → send a code to the new number → confirm. Prints changes/s
//! and the latency of a whole change (p50/p99). `APP_DATABASE_URL` picks the database
//! (default: a fresh SQLite file in a temporary folder).
//!
//! cargo run --release -p server --bin bench_changes

use app::model::PrincipalKind;
use app::ssr::crypto::hash_password;
use app::ssr::seed::{LoadOwner, insert_load_owners};
use app::ssr::session::{self, NewSession};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let accounts = env_or("BENCH_ACCOUNTS", 2000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let dir = std::env::temp_dir().join(format!("bench-changes-{}", std::process::id()));
    let url = std::env::var("APP_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.sqlite", dir.display()));
    let mut config = app::ssr::config::Config {
        database_url: url.clone(),
        demo_data: false,
        ..Default::default()
    };
    config.limits.codes_per_ip_per_hour = 1_000_000;
    let options = leptos::config::LeptosOptions::builder()
        .output_name("console")
        .site_root("target/site")
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::start(config, options, listener, None)
        .await
        .expect("the app starts");
    let base = format!("http://{}", running.addr);
    let services = running.services.clone();

    let tokens = seed_owners(&services, accounts).await;
    let started = Instant::now();
    let mut lat = run_changes(&base, &services, tokens, concurrency).await;
    let elapsed = started.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let backend = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "bench_changes: backend={backend} accounts={accounts} concurrency={concurrency} elapsed={:.2}s \
         changes_per_sec={:.0} p50={:.1}ms p99={:.1}ms (4 HTTP calls per change, identity step included)",
        elapsed.as_secs_f64(),
        accounts as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.99)),
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Owner accounts with distinct numbers, each signed in once (sign-in is not part of a change).
async fn seed_owners(services: &app::ssr::Services, accounts: usize) -> Vec<(usize, String)> {
    let hash = hash_password("Bench-pass-123");
    let now = services.now_ms();
    let owners: Vec<LoadOwner> = (0..accounts)
        .map(|i| LoadOwner {
            id: format!("9{:015}", i),
            name: format!("bench-{i}"),
            email: format!("bench-{i}@bench.example"),
            phone: format!("+86135{:08}", i),
        })
        .collect();
    insert_load_owners(&services.db.pool, &owners, &hash, now)
        .await
        .unwrap();
    let mut tokens = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let id = format!("9{:015}", i);
        let token = session::create(
            services,
            NewSession {
                kind: PrincipalKind::Owner,
                account_id: &id,
                actor_id: None,
                actor_name: &format!("bench-{i}@bench.example"),
                via_user_id: None,
                client_ip: "127.0.0.1",
            },
            None,
        )
        .await
        .unwrap();
        tokens.push((i, token));
    }
    tokens
}

/// Runs one whole change per account with `concurrency` clients; answers each change's latency.
async fn run_changes(
    base: &str,
    services: &app::ssr::Services,
    tokens: Vec<(usize, String)>,
    concurrency: usize,
) -> Vec<Duration> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let accounts = tokens.len();
    let queue = Arc::new(tokio::sync::Mutex::new(tokens));
    let latencies = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(accounts)));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, latencies, http, base, services) = (
            queue.clone(),
            latencies.clone(),
            http.clone(),
            base.to_string(),
            services.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some((i, token)) = queue.lock().await.pop() else {
                    break;
                };
                let t = Instant::now();
                change(&http, &base, &services, i, &token).await;
                latencies.lock().await.push(t.elapsed());
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    latencies.lock().await.clone()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    endpoint: &str,
    token: &str,
    form: &[(&str, &str)],
) {
    let response = http
        .post(format!("{base}/api/{endpoint}"))
        .header("Origin", base)
        .header("Cookie", format!("__Host-session={token}"))
        .form(form)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    if !status.is_success() {
        panic!(
            "{endpoint}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }
}

async fn latest_code(services: &app::ssr::Services, to: &str) -> String {
    let (code,): (String,) =
        sqlx::query_as("SELECT code FROM outbox WHERE recipient = $1 AND code IS NOT NULL ORDER BY id DESC LIMIT 1")
            .bind(to)
            .fetch_one(&services.db.pool)
            .await
            .unwrap();
    code
}

async fn change(
    http: &reqwest::Client,
    base: &str,
    services: &app::ssr::Services,
    i: usize,
    token: &str,
) {
    let old = format!("+86135{:08}", i);
    let new_national = format!("136{:08}", i);
    let new = format!("+86{new_national}");
    call(
        http,
        base,
        "send_identity_code",
        token,
        &[("method", "sms")],
    )
    .await;
    let code = latest_code(services, &old).await;
    call(
        http,
        base,
        "verify_identity",
        token,
        &[("method", "sms"), ("code", &code)],
    )
    .await;
    call(
        http,
        base,
        "send_new_phone_code",
        token,
        &[("number", &new_national)],
    )
    .await;
    let code = latest_code(services, &new).await;
    call(
        http,
        base,
        "confirm_phone_change",
        token,
        &[("number", &new_national), ("code", &code)],
    )
    .await;
}
