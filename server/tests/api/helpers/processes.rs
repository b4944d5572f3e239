//! Real server processes for the multi-instance tests, and the providers they deliver to.
//!
//! `Cluster` starts two (or more) copies of the already-built `server` binary
//! (`CARGO_BIN_EXE_server`, built by cargo for the integration tests, never by this harness) on
//! free loopback ports against one fresh database (a PostgreSQL database or one SQLite file, from
//! `TestDb`), in development mode with the demo data. The first one seeds; the next ones start
//! once it answers `/healthz`. Every process is killed when its `Instance` is dropped, so a
//! failing or panicking test leaves nothing running; its log is printed when the test failed.
//!
//! Also here, for the tests that turn delivery on: a stand-in for Alibaba Cloud SMS that checks
//! the RPC signature and counts deliveries per `OutId`, and an SMTP sink that counts them per
//! `Message-ID`; both can be told to fail for a while. And the list of every server function
//! endpoint, read from `app/src/api/*.rs`, for the tests that must cover them all.
#![allow(dead_code)]

use super::smtp;
use super::steps::Steps;
use super::{Reply, TestDb, bindings_in, latest_code_in, phone_in, post_form};
use app::error::AppError;
use app::ssr::db::Db;
use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use http::StatusCode;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = super::PASSWORD;
/// How long a process may take to answer `/healthz` after it was started.
pub const STARTUP: Duration = Duration::from_secs(60);
/// No request of these tests waits longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
pub const SMS_SECRET: &str = "multi-instance-sms-secret";
pub const MAIL_DOMAIN: &str = "example.test";

/// The workspace root: the binary's working directory, as `cargo leptos` runs it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The `server` binary to run: `APP_TEST_SERVER_BIN` when set, else the one cargo built for
/// this test target. The override is for a target directory shared by several checkouts,
/// where `target/debug/server` is whichever checkout built last.
pub fn server_binary() -> PathBuf {
    std::env::var_os("APP_TEST_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_server")))
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The providers a cluster delivers to when delivery is on.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub sms_endpoint: String,
    pub smtp_port: u16,
}

/// Who sent a message: instance `a`'s first process is `a0`, `b` restarted once is `b1`. It is
/// the SMS access key id and the display name of the email sender, so the stand-ins can tell.
pub fn sender_id(name: char, generation: u32) -> String {
    format!("{name}{generation}")
}

/// One server process, restartable on the same port.
pub struct Instance {
    pub name: char,
    pub port: u16,
    pub base: String,
    /// How many times this instance was started before the current process.
    pub generation: u32,
    env: Vec<(String, String)>,
    delivery: Option<Delivery>,
    log_dir: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn log_path(&self, generation: u32) -> PathBuf {
        self.log_dir.join(format!("{}{generation}.log", self.name))
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.log_path(self.generation)).expect("a log file");
        let mut command = Command::new(server_binary());
        command
            .current_dir(workspace_root())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", self.port.to_string())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(delivery) = &self.delivery {
            let sender = sender_id(self.name, self.generation);
            command
                .env("APP_DELIVER", "true")
                .env("APP_SMS_ENDPOINT", &delivery.sms_endpoint)
                .env("APP_SMS_ACCESS_KEY_ID", &sender)
                .env("APP_SMS_ACCESS_KEY_SECRET", SMS_SECRET)
                .env("APP_SMS_SIGN_NAME", "Account Center")
                .env("APP_SMS_CODE_TEMPLATE", "SMS_100001")
                .env("APP_SMS_NOTICE_TEMPLATE", "SMS_100002")
                .env("APP_SMTP_HOST", "127.0.0.1")
                .env("APP_SMTP_PORT", delivery.smtp_port.to_string())
                .env("APP_SMTP_SECURITY", "none")
                .env(
                    "APP_SMTP_FROM",
                    format!("Sender {sender} <no-reply@{MAIL_DOMAIN}>"),
                );
        }
        self.child = Some(command.spawn().expect("the server binary starts"));
    }

    /// Waits (bounded) until the process answers `/healthz`; panics with its log if it dies.
    async fn wait_ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "server {} exited during start ({status}):\n{}",
                    self.name,
                    self.log()
                );
            }
            let probe = http
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server {} not ready after {STARTUP:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a new process on the same port, the same database and settings, and waits for it.
    pub async fn restart(&mut self, http: &reqwest::Client) {
        self.kill9();
        self.generation += 1;
        self.spawn();
        self.wait_ready(http).await;
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Everything every process of this instance wrote so far.
    pub fn log(&self) -> String {
        (0..=self.generation)
            .map(|g| {
                let text = std::fs::read_to_string(self.log_path(g)).unwrap_or_default();
                format!("---- server {}{g} ----\n{text}", self.name)
            })
            .collect()
    }

    pub fn target(&self, http: &reqwest::Client) -> Target {
        Target {
            http: http.clone(),
            base: self.base.clone(),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Where to send one request: owned, so a spawned task can carry it while an instance is killed.
#[derive(Clone)]
pub struct Target {
    pub http: reqwest::Client,
    pub base: String,
}

impl Target {
    /// Calls a server function as the page does (same-origin form POST); `Err` when the
    /// connection fails or breaks (the process died), with no answer to read.
    pub async fn try_call(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        token: Option<&str>,
    ) -> Result<Reply, String> {
        post_form(
            &self.http,
            &self.base,
            endpoint,
            form,
            token,
            Some(REQUEST_TIMEOUT),
        )
        .await
    }

    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], token: Option<&str>) -> Reply {
        self.try_call(endpoint, form, token)
            .await
            .unwrap_or_else(|e| panic!("{} /api/{endpoint} did not answer: {e}", self.base))
    }
}

/// A server function's answer as a result: the error parsed from the body, or `Transport` with
/// the body when it is not an `AppError` at all.
pub fn outcome(reply: &Reply) -> Result<(), AppError> {
    if reply.status < 300 {
        Ok(())
    } else {
        Err(serde_json::from_str(&reply.body)
            .unwrap_or_else(|_| AppError::Transport(reply.body.clone())))
    }
}

/// Several server processes sharing one fresh database.
pub struct Cluster {
    /// Dropped first: every process is killed before the database goes.
    pub instances: Vec<Instance>,
    pub http: reqwest::Client,
    /// A pool of the test's own on the same database, for preparing state and checking it.
    pub db: Db,
    pub url: String,
    log_dir: PathBuf,
    test_db: Option<TestDb>,
}

impl Cluster {
    /// Two instances, in development mode with the demo data, with `env` on top.
    pub async fn start(env: &[(String, String)], delivery: Option<Delivery>) -> Cluster {
        Cluster::start_n(2, env, delivery).await
    }

    pub async fn start_n(
        n: usize,
        env: &[(String, String)],
        delivery: Option<Delivery>,
    ) -> Cluster {
        let (test_db, url) = TestDb::create().await;
        Cluster::start_in(test_db, url, n, env, delivery).await
    }

    /// Two instances on a fresh database of the PostgreSQL server behind `admin_url` (a
    /// superuser's URL), rather than APP_TEST_PG_URL's: the failover tests' HA cluster.
    pub async fn start_on(
        admin_url: &str,
        env: &[(String, String)],
        delivery: Option<Delivery>,
    ) -> Cluster {
        let (test_db, url) = TestDb::create_on(admin_url).await;
        Cluster::start_in(test_db, url, 2, env, delivery).await
    }

    async fn start_in(
        test_db: TestDb,
        url: String,
        n: usize,
        env: &[(String, String)],
        delivery: Option<Delivery>,
    ) -> Cluster {
        let log_dir =
            std::env::temp_dir().join(format!("console-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&log_dir).unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut base_env: Vec<(String, String)> = [
            ("APP_MODE", "development"),
            ("APP_DEMO_DATA", "true"),
            ("APP_DEV_OUTBOX", "true"),
            ("APP_DELIVER", "false"),
            ("APP_WORKER_POLL_MS", "50"),
            ("LEPTOS_OUTPUT_NAME", "console"),
            ("LEPTOS_SITE_ROOT", "target/site"),
            ("LEPTOS_SITE_PKG_DIR", "pkg"),
            ("LEPTOS_ENV", "DEV"),
            ("NO_COLOR", "1"),
            (
                "RUST_LOG",
                "info,app=debug,server=debug,sqlx=warn,leptos_axum=warn",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        base_env.push(("APP_DATABASE_URL".into(), url.clone()));
        base_env.extend(env.iter().cloned());
        let names = ['a', 'b', 'c', 'd'];
        let mut instances: Vec<Instance> = Vec::new();
        let mut ports = Vec::new();
        while ports.len() < n {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        for (i, port) in ports.into_iter().enumerate() {
            let mut instance = Instance {
                name: names[i],
                port,
                base: format!("http://127.0.0.1:{port}"),
                generation: 0,
                env: base_env.clone(),
                delivery: delivery.clone(),
                log_dir: log_dir.clone(),
                child: None,
            };
            // One at a time: the first migrates and seeds, the next find it done.
            instance.spawn();
            instance.wait_ready(&http).await;
            instances.push(instance);
        }
        let db = Db::connect(&url)
            .await
            .expect("the test connects to the cluster's database");
        Cluster {
            instances,
            http,
            db,
            url,
            log_dir,
            test_db: Some(test_db),
        }
    }

    /// The instance request number `i` goes to: requests alternate between the instances.
    pub fn target(&self, i: usize) -> Target {
        self.instances[i % self.instances.len()].target(&self.http)
    }

    pub async fn call(
        &self,
        i: usize,
        endpoint: &str,
        form: &[(&str, &str)],
        token: Option<&str>,
    ) -> Reply {
        self.target(i).call(endpoint, form, token).await
    }

    /// Signs in through instance `i` and returns the session token.
    pub async fn sign_in(&self, i: usize, account: &str) -> String {
        self.via(i).signed_in(account).await
    }

    /// The newest code queued for `to` (the development outbox keeps it).
    pub async fn latest_code(&self, to: &str) -> Option<String> {
        latest_code_in(&self.db.pool, to).await
    }

    /// The typed `Steps` through the instances in turn, starting with instance `i`: the first
    /// call goes to `i`, the next to `i + 1`, and so on.
    pub fn via(&self, i: usize) -> Via<'_> {
        Via {
            cluster: self,
            next: std::cell::Cell::new(i),
        }
    }

    /// One number from a query with one text parameter.
    pub async fn scalar(&self, sql: &'static str, bind: &str) -> i64 {
        let row: Option<(i64,)> = sqlx::query_as(sql)
            .bind(bind)
            .fetch_optional(&self.db.pool)
            .await
            .unwrap();
        row.map(|r| r.0).unwrap_or(0)
    }

    /// One number from a query without parameters.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let row: Option<(i64,)> = sqlx::query_as(sql)
            .fetch_optional(&self.db.pool)
            .await
            .unwrap();
        row.map(|r| r.0).unwrap_or(0)
    }

    pub async fn phone_of(&self, account_id: &str) -> Option<String> {
        phone_in(&self.db.pool, account_id).await
    }

    /// How many active accounts hold `phone`, by `phone_binding_counts`.
    pub async fn bindings_of(&self, phone: &str) -> i64 {
        bindings_in(&self.db.pool, phone).await
    }

    /// `phone_binding_counts` says, for every number, exactly how many active accounts hold it.
    pub async fn assert_binding_counts_consistent(&self) {
        let held: Vec<(String, i64)> = sqlx::query_as(
            "SELECT phone, COUNT(*) FROM accounts WHERE phone IS NOT NULL AND status = 'active' GROUP BY phone",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap();
        let counted: Vec<(String, i64)> =
            sqlx::query_as("SELECT phone, accounts FROM phone_binding_counts")
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
        let held: BTreeMap<String, i64> = held.into_iter().collect();
        let counted: BTreeMap<String, i64> = counted.into_iter().filter(|(_, n)| *n != 0).collect();
        assert_eq!(
            held, counted,
            "phone_binding_counts disagrees with the accounts"
        );
        let cap = 6;
        assert!(
            held.values().all(|n| *n <= cap),
            "a number is over the cap: {held:?}"
        );
    }

    /// Inserts ordinary owner accounts (password `PASSWORD`) and recounts the bindings, in one
    /// transaction, as a bulk load would.
    pub async fn insert_owners(&self, owners: &[Owner]) {
        let hash = tokio::task::spawn_blocking(|| app::ssr::crypto::hash_password(PASSWORD))
            .await
            .unwrap();
        let now = app::ssr::clock::SystemClock.now_ms();
        let mut tx = self.db.begin().await.unwrap();
        for owner in owners {
            sqlx::query(
                "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8)",
            )
            .bind(&owner.id)
            .bind(format!("Owner {}", owner.id))
            .bind(format!("owner-{}", owner.id))
            .bind(&owner.email)
            .bind(&hash)
            .bind(&owner.region)
            .bind(owner.phone.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        app::ssr::seed::recount_phone_bindings(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Every 6-digit code ever queued, for the log check.
    pub async fn all_codes(&self) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT code FROM outbox WHERE code IS NOT NULL")
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    /// No process wrote a code, a password, a message body or one of `tokens` to its log.
    pub async fn assert_logs_keep_secrets(&self, tokens: &[impl AsRef<str>]) {
        let codes = self.all_codes().await;
        let logs: String = self.instances.iter().map(|i| i.log()).collect();
        let mut secrets: Vec<&str> = tokens.iter().map(AsRef::as_ref).collect();
        secrets.push(PASSWORD);
        let leaks = find_leaks(&logs, &codes, &secrets);
        assert!(
            leaks.is_empty(),
            "secrets in the server logs:\n{}",
            leaks.join("\n")
        );
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }
}

/// A cluster seen through its instances in turn (`Cluster::via`).
pub struct Via<'a> {
    pub cluster: &'a Cluster,
    next: std::cell::Cell<usize>,
}

impl Steps for Via<'_> {
    async fn call(&self, endpoint: &str, form: &[(&str, &str)], token: Option<&str>) -> Reply {
        let i = self.next.get();
        self.next.set(i + 1);
        self.cluster.call(i, endpoint, form, token).await
    }

    async fn latest_code(&self, to: &str) -> Option<String> {
        self.cluster.latest_code(to).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            instance.kill9();
        }
        if std::thread::panicking() {
            for instance in &self.instances {
                let log = instance.log();
                let tail: String = log
                    .lines()
                    .rev()
                    .take(80)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                eprintln!(
                    "==== last lines of server {} (all in {}) ====\n{tail}",
                    instance.name,
                    self.log_dir.display()
                );
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
        drop(self.test_db.take());
    }
}

use app::ssr::clock::Clock as _;

/// An owner account to insert.
#[derive(Clone, Debug)]
pub struct Owner {
    pub id: String,
    pub email: String,
    pub region: String,
    pub phone: Option<String>,
}

impl Owner {
    /// An owner in mainland China.
    pub fn cn(id: String, email: String, phone: Option<String>) -> Owner {
        Owner {
            id,
            email,
            region: "CN".into(),
            phone,
        }
    }
}

/// Where `secret` text (a code as a whole number, a password, a token) appears in `text`.
/// Log lines start with a timestamp whose fraction of a second is six digits: it is skipped.
pub fn find_leaks(text: &str, codes: &[String], secrets: &[&str]) -> Vec<String> {
    let mut leaks = Vec::new();
    for line in text.lines() {
        let body = match line.split_once(' ') {
            Some((first, rest))
                if first.len() >= 20 && first.as_bytes()[4] == b'-' && first.ends_with('Z') =>
            {
                rest
            }
            _ => line,
        };
        if body.contains("verification code is") {
            leaks.push(format!("a message body: {line}"));
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if body.contains(secret) {
                leaks.push(format!("secret {secret:?}: {line}"));
            }
        }
        for run in digit_runs(body) {
            if run.len() == 6 && codes.iter().any(|c| c == run) {
                leaks.push(format!("code {run}: {line}"));
            }
        }
    }
    leaks
}

/// The maximal runs of ASCII digits in `text`.
pub fn digit_runs(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(&text[s..]);
    }
    runs
}

// ---------------------------------------------------------------------------------------------
// The SMS provider stand-in: Alibaba Cloud's SendSms, with the signature checked

#[derive(Clone, Debug)]
pub struct SmsHit {
    pub out_id: i64,
    /// The AccessKeyId: which process sent it (`sender_id`).
    pub sender: String,
    pub phone: String,
    pub at: Instant,
    pub signature_ok: bool,
    /// Answered `{"Code":"OK"}`: the message reached the phone.
    pub accepted: bool,
    /// The verification code of the message, if it carried one (a delivered code is wiped from
    /// the outbox, so a test that races the worker reads it here).
    pub code: Option<String>,
}

#[derive(Clone)]
pub struct SmsStandIn {
    pub endpoint: String,
    hits: Arc<Mutex<Vec<SmsHit>>>,
    /// `QuerySendDetails` calls: a sender asking whether a message it lost the answer of went out.
    lookups: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

async fn sms_endpoint(
    State(sms): State<SmsStandIn>,
    Form(params): Form<Vec<(String, String)>>,
) -> (StatusCode, String) {
    let get = |key: &str| -> String {
        let found = params.iter().find(|(k, _)| k == key);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    if get("Action") == "QuerySendDetails" {
        return (StatusCode::OK, sms.records(&get("PhoneNumber")));
    }
    let signature = get("Signature");
    let unsigned: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    let signature_ok = !signature.is_empty()
        && app::ssr::delivery::aliyun::sign("POST", &unsigned, SMS_SECRET) == signature;
    let down = sms.down.load(Ordering::SeqCst);
    let accepted = signature_ok && !down;
    let hit = SmsHit {
        out_id: get("OutId").parse().unwrap_or(-1),
        sender: get("AccessKeyId"),
        phone: get("PhoneNumbers"),
        at: Instant::now(),
        signature_ok,
        accepted,
        code: serde_json::from_str::<serde_json::Value>(&get("TemplateParam"))
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string)),
    };
    let n = {
        let mut hits = sms.hits.lock().unwrap();
        hits.push(hit);
        hits.len()
    };
    if !signature_ok {
        (
            StatusCode::OK,
            r#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched."}"#
                .into(),
        )
    } else if down {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"Code":"InternalError","Message":"The request processing has failed."}"#.into(),
        )
    } else {
        (
            StatusCode::OK,
            format!(r#"{{"Code":"OK","Message":"OK","BizId":"biz-{n}","RequestId":"req-{n}"}}"#),
        )
    }
}

impl SmsStandIn {
    pub async fn start() -> SmsStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let hits: Arc<Mutex<Vec<SmsHit>>> = Arc::default();
        let lookups: Arc<AtomicUsize> = Arc::default();
        let down: Arc<AtomicBool> = Arc::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<SmsStandIn>();
        let task = tokio::spawn(async move {
            let state = rx.await.unwrap();
            let router = Router::new()
                .route("/", post(sms_endpoint))
                .with_state(state);
            let _ = axum::serve(listener, router).await;
        });
        let sms = SmsStandIn {
            endpoint,
            hits,
            lookups,
            down,
            task: Arc::new(task),
        };
        let _ = tx.send(sms.clone());
        sms
    }

    /// While down, every request is answered HTTP 500 and nothing is delivered.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<SmsHit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    /// The `QuerySendDetails` answer for one number: every message to it that was accepted.
    fn records(&self, number: &str) -> String {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let records: Vec<serde_json::Value> = self
            .hits()
            .iter()
            .filter(|h| h.accepted && app::ssr::delivery::aliyun::query_number(&h.phone) == number)
            .map(|h| serde_json::json!({"OutId": h.out_id.to_string(), "SendStatus": 3}))
            .collect();
        serde_json::json!({"Code": "OK", "TotalCount": records.len(), "SmsSendDetailDTOs": {"SmsSendDetailDTO": records}})
            .to_string()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// The SMTP sink

#[derive(Clone, Debug)]
pub struct Mail {
    pub message_id: String,
    /// The display name of the sender: which process sent it (`Sender a0`).
    pub from: String,
    pub rcpt_to: Vec<String>,
    /// The verification code the message carries, if it is a code message.
    pub code: Option<String>,
    pub at: Instant,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    task: Arc<tokio::task::JoinHandle<()>>,
    mails: Arc<Mutex<Vec<Mail>>>,
    connections: Arc<AtomicUsize>,
}

/// The code of a verification-code message ("… verification code is 123456. …").
fn code_in(data: &str) -> Option<String> {
    let rest = data.split("verification code is ").nth(1)?;
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (code.len() == 6).then_some(code)
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let kept = mails.clone();
        let relay = smtp::start(Duration::from_secs(120), move |message| {
            let header = |name| message.header(name).unwrap_or_default();
            kept.lock().unwrap().push(Mail {
                message_id: header("Message-ID"),
                from: header("From"),
                rcpt_to: message.rcpt_to.clone(),
                code: code_in(&message.data),
                at: Instant::now(),
            });
            true
        })
        .await;
        SmtpSink {
            task: Arc::new(relay.task),
            port: relay.port,
            mails,
            connections: relay.connections,
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

/// The Message-ID the product gives outbox message `id` (see `delivery::smtp::message_id`).
pub fn message_id(id: i64) -> String {
    app::ssr::delivery::smtp::message_id(id, MAIL_DOMAIN)
}

// ---------------------------------------------------------------------------------------------
// What must not change

/// The rows that must not change, as text: counts of every table a request could write, and
/// the accounts' numbers, passwords, authenticators and statuses.
pub async fn snapshot(pool: &sqlx::AnyPool) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "accounts",
        "phone_binding_counts",
        "audit_events",
        "outbox",
        "challenges",
        "change_tickets",
        "appeals",
        "sessions",
        "totp_enrollments",
        "resend_guards",
        "ram_users",
        "directory_members",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        out.push(format!("{table}: {n}"));
    }
    type AccountRow = (String, Option<String>, String, Option<String>, String);
    let rows: Vec<AccountRow> = sqlx::query_as(
        "SELECT id, phone, password_hash, totp_secret, status FROM accounts ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    out.extend(rows.into_iter().map(|r| format!("{r:?}")));
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT phone, accounts FROM phone_binding_counts ORDER BY phone")
            .fetch_all(pool)
            .await
            .unwrap();
    out.extend(counts.into_iter().map(|r| format!("{r:?}")));
    out
}

pub fn assert_same(before: &[String], after: &[String]) {
    let changed: Vec<String> = before
        .iter()
        .zip(after)
        .filter(|(b, a)| b != a)
        .map(|(b, a)| format!("{b}  ->  {a}"))
        .collect();
    assert!(
        changed.is_empty() && before.len() == after.len(),
        "the database changed:\n{}",
        changed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The server functions

/// Every `#[server(endpoint = "…")]` of `app/src/api/*.rs`, with the file it is in.
pub fn server_fn_endpoints() -> Vec<(String, String)> {
    let dir = workspace_root().join("app/src/api");
    let mut found = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for part in text.split("#[server(").skip(1) {
            if let Some((_, rest)) = part.split_once("endpoint = \"")
                && let Some((name, _)) = rest.split_once('"')
            {
                found.push((name.to_string(), file.clone()));
            }
        }
    }
    found
}
