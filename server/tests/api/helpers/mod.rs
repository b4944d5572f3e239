//! The in-process harness: spawns the real app on port 0 with a fresh database (SQLite file or
//! PostgreSQL database, chosen by APP_TEST_BACKEND) and a clock the test moves, and talks to it
//! over HTTP. `steps` holds the typed steps every test repeats, `fixtures` the demo data and the
//! raw requests several modules share, `processes` the two-process `Cluster`, `smtp` the relay
//! side of the SMTP stand-ins.
#![allow(dead_code)]

pub mod fixtures;
pub mod ha;
pub mod metrics;
pub mod processes;
pub mod smtp;
pub mod steps;

pub use steps::{Method, Steps};

use app::error::AppError;
use app::ssr::Services;
use app::ssr::clock::{Clock, ManualClock};
use app::ssr::config::Config;
use leptos::config::LeptosOptions;
use serde::de::DeserializeOwned;
use sqlx::Connection;
use std::sync::Arc;

pub const PASSWORD: &str = "Demo-pass-123";

pub fn backend() -> String {
    std::env::var("APP_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

/// Prints a figure for the report, tagged with the backend: `RESULT [sqlite] …`.
pub fn result(line: &str) {
    println!("RESULT [{}] {line}", backend());
}

pub fn pg_admin_url() -> String {
    std::env::var("APP_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test and is removed when it ends, pass or fail.
pub enum TestDb {
    Sqlite { dir: std::path::PathBuf },
    Postgres { name: String, admin: String },
}

impl TestDb {
    pub async fn create() -> (TestDb, String) {
        if backend() == "postgres" {
            TestDb::create_on(&pg_admin_url()).await
        } else {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let dir = std::env::temp_dir().join(format!("console-test-{id}"));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}/test.sqlite", dir.display());
            (TestDb::Sqlite { dir }, url)
        }
    }

    /// A fresh database on the PostgreSQL server that `admin_url` reaches (a superuser's URL to
    /// any of its databases): APP_TEST_PG_URL's, or another server's, such as the failover tests'.
    pub async fn create_on(admin_url: &str) -> (TestDb, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("console_test_{id}");
        let mut admin = sqlx::postgres::PgConnection::connect(admin_url)
            .await
            .expect("PostgreSQL at the admin URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let base = admin_url;
        let url = match base.rfind('/') {
            Some(i)
                if base[..i].contains('@')
                    || base[..i].ends_with(':')
                    || base[..i].contains("//") =>
            {
                format!("{}/{name}", &base[..i])
            }
            _ => format!("{base}/{name}"),
        };
        let admin = admin_url.to_string();
        (TestDb::Postgres { name, admin }, url)
    }
}

/// Runs `work` on a thread with a current-thread runtime of its own: for async work where the
/// test's runtime cannot drive it (a `Drop`, a server that must outlive a blocked test thread).
pub fn on_own_thread(
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDb::Postgres { name, admin } => {
                let (name, admin) = (name.clone(), admin.clone());
                // Drop runs inside the test's runtime: do the async work on a thread of its own.
                let _ = on_own_thread(async move {
                    if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                        let _ = admin.close().await;
                    }
                })
                .join();
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub services: Services,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    running: Option<server::Running>,
    db: Option<TestDb>,
}

pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("console")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .build()
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

/// The app, as `spawn` starts it, and a session of `account` (demo password).
pub async fn spawn_as(account: &str) -> (TestApp, String) {
    let app = spawn().await;
    let token = app.sign_in(account).await;
    (app, token)
}

/// Real delivery: SMS to the provider at `sms_endpoint` (signed with `sms_secret`), email by
/// SMTP to 127.0.0.1:`smtp_port`, without TLS.
pub fn deliver_to(c: &mut Config, sms_endpoint: &str, sms_secret: &str, smtp_port: u16) {
    c.deliver = true;
    c.sms.endpoint = sms_endpoint.to_string();
    c.sms.access_key_id = "LTAI-delivery-test".into();
    c.sms.access_key_secret = app::ssr::config::Secret(sms_secret.into());
    c.sms.sign_name = "Account Center".into();
    c.sms.code_template = "SMS_1".into();
    c.sms.notice_template = "SMS_2".into();
    c.smtp.host = "127.0.0.1".into();
    c.smtp.port = smtp_port;
    c.smtp.security = "none".into();
    c.smtp.from = "Account Center <no-reply@example.test>".into();
}

/// Production mode with test keys, no demo data and real delivery (to nowhere that answers).
pub fn production(c: &mut Config) {
    c.mode = app::ssr::config::Mode::Production;
    c.hmac_key = app::ssr::config::Secret("ab".repeat(32));
    c.secrets_key = app::ssr::config::Secret("cd".repeat(32));
    c.demo_data = false;
    c.dev_outbox = false;
    c.deliver = true;
    c.sms.access_key_id = "test".into();
    c.smtp.host = "127.0.0.1".into();
}

/// Development mode with the demo data, the settings changed by `adjust`.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (db, url) = TestDb::create().await;
    let mut config = Config {
        database_url: url,
        worker_poll_ms: 50,
        ..Config::default()
    };
    adjust(&mut config);
    let clock = ManualClock::new(app::ssr::clock::SystemClock.now_ms());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::start(
        config,
        leptos_options(),
        listener,
        Some(Arc::new(clock.clone())),
    )
    .await
    .expect("the app starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        base: format!("http://{}", running.addr),
        services: running.services.clone(),
        clock,
        http,
        running: Some(running),
        db: Some(db),
    }
}

/// A server function's answer: the value, or the error the page would show.
pub struct Reply {
    pub status: u16,
    pub set_cookie: Option<String>,
    /// The `Retry-After` header, which a 503 carries.
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(
            self.status < 300,
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The error, which must come with the HTTP status it stands for.
    pub fn err(&self) -> AppError {
        assert!(
            self.status >= 400,
            "expected an error, got {}: {}",
            self.status,
            self.body
        );
        let error: AppError =
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        assert_eq!(self.status, error.status(), "the status of {error:?}");
        error
    }

    pub fn session_token(&self) -> Option<String> {
        let cookie = self.set_cookie.as_deref()?;
        app::ssr::session::token_from_cookie_header(cookie.split(';').next()?)
            .filter(|t| !t.is_empty())
    }
}

/// How many of `replies` are refusals with `error` (every one must be a refusal).
pub fn refused_with(replies: &[Reply], error: AppError) -> usize {
    replies.iter().filter(|r| r.err() == error).count()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls a server function as the page does: a same-origin form POST.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], token: Option<&str>) -> Reply {
        post_form(&self.http, &self.base, endpoint, form, token, None)
            .await
            .unwrap_or_else(|e| panic!("the server answers /api/{endpoint}: {e}"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.header("Cookie", format!("__Host-session={token}"));
        }
        request.send().await.expect("the server answers")
    }

    /// The body of a GET of `path`, as text (a page, with the session `token` if any).
    pub async fn page(&self, path: &str, token: Option<&str>) -> String {
        self.get(path, token).await.text().await.unwrap()
    }

    /// The body of a GET of `path`, as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> T {
        self.get(path, token).await.json().await.unwrap()
    }

    /// Signs in and returns the session token.
    pub async fn sign_in(&self, account: &str) -> String {
        Steps::signed_in(self, account).await
    }

    /// The development SSO entry: a same-site POST (a GET only shows its form).
    pub async fn dev_sso(&self) -> reqwest::Response {
        self.http
            .post(self.url("/dev/sso"))
            .header("Origin", &self.base)
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        self.services.db.pool.close().await;
        drop(self.db.take());
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(running);
        }
    }
}

impl TestApp {
    /// The newest code queued for `to` (the development outbox keeps it).
    pub async fn latest_code(&self, to: &str) -> Option<String> {
        latest_code_in(&self.services.db.pool, to).await
    }

    pub async fn outbox_count(&self, to: &str) -> i64 {
        self.count("SELECT COUNT(*) FROM outbox WHERE recipient = $1", to)
            .await
    }

    /// The bodies of the messages queued for `to`, codes and notices, newest first.
    pub async fn bodies_to(&self, to: &str) -> Vec<String> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT body FROM outbox WHERE recipient = $1 ORDER BY id DESC")
                .bind(to)
                .fetch_all(&self.services.db.pool)
                .await
                .unwrap();
        rows.into_iter().map(|(body,)| body).collect()
    }

    /// Waits until the delivery worker has handed over every queued message (at most 5 s).
    pub async fn outbox_settled(&self) {
        let started = std::time::Instant::now();
        loop {
            let (pending,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                    .fetch_one(&self.services.db.pool)
                    .await
                    .unwrap();
            if pending == 0 {
                return;
            }
            assert!(
                started.elapsed().as_secs() < 5,
                "{pending} messages still pending after 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    pub async fn phone_of(&self, account_id: &str) -> Option<String> {
        phone_in(&self.services.db.pool, account_id).await
    }

    pub async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(bind)
            .fetch_one(&self.services.db.pool)
            .await
            .unwrap();
        n
    }

    /// The details of the audit events of `action` on account `subject`, oldest first.
    pub async fn event_details(&self, subject: &str, action: &str) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT detail FROM audit_events WHERE subject_account_id = $1 AND action = $2 ORDER BY id",
        )
        .bind(subject)
        .bind(action)
        .fetch_all(&self.services.db.pool)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    /// How many audit events of `action` the security log holds on account `subject`.
    pub async fn events(&self, subject: &str, action: &str) -> usize {
        self.event_details(subject, action).await.len()
    }

    /// How many active accounts hold `phone` (`phone_binding_counts`; 0 without a row).
    pub async fn bindings_of(&self, phone: &str) -> i64 {
        bindings_in(&self.services.db.pool, phone).await
    }

    /// The most wrong attempts any challenge of `account` has counted.
    pub async fn challenge_attempts(&self, account: &str) -> i64 {
        let sql = "SELECT MAX(attempts) FROM challenges WHERE account_id = $1";
        self.count(sql, account).await
    }

    /// How many sessions `account` has.
    pub async fn sessions_of(&self, account: &str) -> i64 {
        let sql = "SELECT COUNT(*) FROM sessions WHERE account_id = $1";
        self.count(sql, account).await
    }

    /// The test clock's now, in milliseconds.
    pub fn now(&self) -> i64 {
        use app::ssr::clock::Clock as _;
        self.clock.now_ms()
    }
}

/// A same-origin form POST to server function `endpoint` on `base`, as the page sends it; `Err`
/// when the connection fails or breaks, with no answer to read. Shared by `TestApp::call` and
/// `processes::Target::try_call`.
pub async fn post_form(
    http: &reqwest::Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
    token: Option<&str>,
    timeout: Option<std::time::Duration>,
) -> Result<Reply, String> {
    let mut request = http
        .post(format!("{base}/api/{endpoint}"))
        .header("Origin", base)
        .header("Accept", "application/json")
        .form(form);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    if let Some(token) = token {
        request = request.header("Cookie", format!("__Host-session={token}"));
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let set_cookie = cookie_starting(response.headers(), "__Host-session");
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.map_err(|e| format!("{e:?}"))?;
    Ok(Reply {
        status,
        set_cookie,
        retry_after,
        body,
    })
}

/// The first `Set-Cookie` header of `response`, whole.
pub fn set_cookie(response: &reqwest::Response) -> String {
    let header = response
        .headers()
        .get("set-cookie")
        .expect("a Set-Cookie header");
    header.to_str().unwrap().to_string()
}

/// The `Set-Cookie` header that starts with `prefix` (a cookie name, or `name=`), whole.
pub fn cookie_starting(headers: &reqwest::header::HeaderMap, prefix: &str) -> Option<String> {
    let all = headers.get_all("set-cookie").iter();
    all.filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .map(str::to_string)
}

/// The value of the cookie a `Set-Cookie` header sets (`name=value; …` without the name).
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').map(|(_, v)| v.to_string()).unwrap()
}

/// The Content-Security-Policy of a response (`what`), which must have one.
pub fn csp_of(headers: &reqwest::header::HeaderMap, what: &str) -> String {
    let csp = headers.get("content-security-policy");
    let csp = csp.unwrap_or_else(|| panic!("no CSP on {what}"));
    csp.to_str().unwrap().to_string()
}

/// The newest code queued for `to` in the outbox of the database behind `pool`.
pub async fn latest_code_in(pool: &sqlx::AnyPool, to: &str) -> Option<String> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT code FROM outbox WHERE recipient = $1 AND code IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_optional(pool)
    .await
    .unwrap();
    row.and_then(|r| r.0)
}

/// How many active accounts hold `phone`, read from the database behind `pool`.
pub async fn bindings_in(pool: &sqlx::AnyPool, phone: &str) -> i64 {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT accounts FROM phone_binding_counts WHERE phone = $1")
            .bind(phone)
            .fetch_optional(pool)
            .await
            .unwrap();
    row.map(|r| r.0).unwrap_or(0)
}

/// The number account `account_id` holds, read from the database behind `pool`.
pub async fn phone_in(pool: &sqlx::AnyPool, account_id: &str) -> Option<String> {
    let (phone,): (Option<String>,) = sqlx::query_as("SELECT phone FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
        .unwrap();
    phone
}
