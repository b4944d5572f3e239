//! Delivery through the real senders against stand-ins on 127.0.0.1: an HTTP endpoint that checks
//! Alibaba Cloud's RPC signature like the provider does, and a minimal SMTP relay. The outbox
//! worker of the spawned app does the sending; the test moves the app's clock past the backoff.

use crate::helpers;

use app::ssr::config::{Config, Secret};
use app::ssr::delivery::aliyun;
use app::ssr::outbox::{self, Channel, NewMessage, Template};
use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use helpers::{TestApp, smtp, spawn_with};
use http::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const KEY_ID: &str = "LTAI-test-key-id";
const SECRET: &str = "test-access-key-secret";
const CODE_TEMPLATE: &str = "SMS_100001";
const NOTICE_TEMPLATE: &str = "SMS_100002";
const SIGN_NAME: &str = "Account Center";
const FROM: &str = "Account Center <no-reply@example.test>";
const WAIT: Duration = Duration::from_secs(10);

mod never_twice;
mod sending;

// Helpers

/// Points the app at the stand-ins; `deliver` decides whether they are used at all.
fn providers(config: &mut Config, endpoint: &str, smtp_port: u16) {
    config.sms.endpoint = endpoint.to_string();
    config.sms.access_key_id = KEY_ID.into();
    config.sms.access_key_secret = Secret(SECRET.into());
    config.sms.sign_name = SIGN_NAME.into();
    config.sms.code_template = CODE_TEMPLATE.into();
    config.sms.notice_template = NOTICE_TEMPLATE.into();
    config.smtp.host = "127.0.0.1".into();
    config.smtp.port = smtp_port;
    config.smtp.security = "none".into();
    config.smtp.from = FROM.into();
}

/// Delivery on: the outbox worker sends through the stand-ins.
fn deliver(config: &mut Config) {
    config.deliver = true;
}

/// The stand-ins an app delivers to, and their tasks.
struct StandIns {
    provider: Provider,
    sink: Sink,
    tasks: [JoinHandle<()>; 2],
}

impl StandIns {
    /// Stops the app, then the stand-ins.
    async fn stop_with(self, app: TestApp) {
        app.stop().await;
        for task in self.tasks {
            task.abort();
        }
    }
}

/// The app pointed at fresh stand-ins, its settings then changed by `adjust` (`deliver` turns
/// delivery on): the provider fails its first `fail_first` requests, the relay defers its first
/// `reject_first` messages.
async fn spawn_against(
    fail_first: usize,
    reject_first: usize,
    adjust: impl FnOnce(&mut Config),
) -> (TestApp, StandIns) {
    let (endpoint, provider, provider_task) = start_provider(fail_first).await;
    let (smtp_port, sink, sink_task) = start_sink(reject_first).await;
    let app = spawn_with(|c| {
        providers(c, &endpoint, smtp_port);
        adjust(c);
    })
    .await;
    let tasks = [provider_task, sink_task];
    (
        app,
        StandIns {
            provider,
            sink,
            tasks,
        },
    )
}

struct Msg<'a> {
    channel: Channel,
    to: &'a str,
    subject: &'a str,
    body: &'a str,
    template: Template,
    code: Option<&'a str>,
}

impl<'a> Msg<'a> {
    /// A verification code by SMS.
    fn sms_code(to: &'a str, code: &'a str, body: &'a str) -> Msg<'a> {
        Msg {
            channel: Channel::Sms,
            to,
            subject: "",
            body,
            template: Template::VerificationCode,
            code: Some(code),
        }
    }

    /// A verification code by email.
    fn email_code(to: &'a str, subject: &'a str, code: &'a str, body: &'a str) -> Msg<'a> {
        Msg {
            channel: Channel::Email,
            subject,
            ..Msg::sms_code(to, code, body)
        }
    }
}

/// Queues the messages in one transaction, as a change and its notices are, then wakes the worker.
async fn enqueue(app: &TestApp, messages: &[Msg<'_>]) -> Vec<i64> {
    let mut tx = app.services.db.begin().await.unwrap();
    let mut ids = Vec::new();
    for m in messages {
        let message = NewMessage {
            channel: m.channel,
            recipient: m.to,
            subject: m.subject,
            body: m.body,
            template: m.template,
            code: m.code,
        };
        ids.push(
            outbox::enqueue(&mut tx, message, app.services.now_ms())
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    app.services.outbox_wake.notify_one();
    ids
}

#[derive(Debug)]
struct Row {
    status: String,
    body: String,
    code: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
}

async fn row(app: &TestApp, id: i64) -> Row {
    let (status, body, code, attempts, next_attempt_at, last_error): (
        String,
        String,
        Option<String>,
        i64,
        i64,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT status, body, code, attempts, next_attempt_at, last_error FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.services.db.pool)
    .await
    .unwrap();
    Row {
        status,
        body,
        code,
        attempts,
        next_attempt_at,
        last_error,
    }
}

/// (ok, error) of every recorded attempt at one message, oldest first.
async fn attempts(app: &TestApp, id: i64) -> Vec<(i64, Option<String>)> {
    sqlx::query_as("SELECT ok, error FROM outbox_attempts WHERE outbox_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap()
}

async fn failed_attempts(app: &TestApp, ids: &[i64]) -> usize {
    let mut n = 0;
    for &id in ids {
        n += attempts(app, id)
            .await
            .iter()
            .filter(|(ok, _)| *ok == 0)
            .count();
    }
    n
}

/// Waits (bounded) until every message is sent, without moving the clock.
async fn wait_sent(app: &TestApp, ids: &[i64]) {
    wait_until_sent(app, ids, false).await
}

/// Waits (bounded) until at least `n` failed attempts are recorded for the messages.
async fn wait_failures(app: &TestApp, ids: &[i64], n: usize) {
    let deadline = Instant::now() + WAIT;
    while failed_attempts(app, ids).await < n {
        assert!(
            Instant::now() < deadline,
            "expected {n} failed attempts for {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until every message is sent, moving the app's clock to each retry as it
/// comes due, as time would pass in production.
async fn wait_sent_through_retries(app: &TestApp, ids: &[i64]) {
    wait_until_sent(app, ids, true).await
}

/// Waits (bounded) until every message is sent; `through_retries`: no message may give up, and
/// the clock moves to each retry as it comes due.
async fn wait_until_sent(app: &TestApp, ids: &[i64], through_retries: bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut rows = Vec::new();
        for &id in ids {
            rows.push(row(app, id).await);
        }
        if rows.iter().all(|r| r.status == "sent") {
            return;
        }
        assert!(
            !through_retries || rows.iter().all(|r| r.status != "failed"),
            "gave up on a message: {rows:?}"
        );
        assert!(
            Instant::now() < deadline,
            "messages {ids:?} not sent in time: {rows:?}"
        );
        let now = app.services.now_ms();
        if through_retries
            && let Some(next) = rows
                .iter()
                .filter(|r| r.status == "pending")
                .map(|r| r.next_attempt_at)
                .min()
            && next > now
        {
            app.clock.advance_ms(next - now);
            app.services.outbox_wake.notify_one();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Queues a code by SMS to `sms.0` and one by email to `email.0` (each code `.1`) in one
/// transaction, and waits until both are sent.
async fn sent_a_code_each_way(app: &TestApp, sms: (&str, &str), email: (&str, &str)) -> Vec<i64> {
    let sms_body = format!("Your verification code is {}.", sms.1);
    let email_body = format!("Your verification code is {}.", email.1);
    let messages = [
        Msg::sms_code(sms.0, sms.1, &sms_body),
        Msg::email_code(email.0, "Your verification code", email.1, &email_body),
    ];
    let ids = enqueue(app, &messages).await;
    wait_sent(app, &ids).await;
    ids
}

/// The request that carried outbox message `id`.
fn request_for(requests: &[SmsRequest], id: i64) -> &SmsRequest {
    let found = requests.iter().find(|r| r.out_id() == id);
    found.unwrap_or_else(|| panic!("a request for message {id}: {requests:?}"))
}

/// The item of a `/dev/outbox.json` listing addressed to `to`.
fn listed<'a>(items: &'a [serde_json::Value], to: &str) -> &'a serde_json::Value {
    let found = items.iter().find(|i| i["to"] == to);
    found.unwrap_or_else(|| panic!("a message to {to} is listed: {items:?}"))
}

/// Sent, at the first attempt, and that attempt recorded as the only one.
async fn assert_sent_once(app: &TestApp, id: i64) {
    let r = row(app, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 1), "{r:?}");
    assert_eq!(attempts(app, id).await, vec![(1, None)]);
}

/// A few more worker cycles, for what should not happen to have had its chance.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn is_api_timestamp(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

// ---------------------------------------------------------------------------------------------
// The stand-ins: Alibaba Cloud's SendSms with the signature checked, and a minimal SMTP relay

// The SMS provider stand-in

#[derive(Clone, Debug)]
struct SmsRequest {
    params: Vec<(String, String)>,
    signature_ok: bool,
    answered_ok: bool,
}

impl SmsRequest {
    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The template's parameters, as JSON.
    fn template_param(&self) -> serde_json::Value {
        serde_json::from_str(self.get("TemplateParam").unwrap()).unwrap()
    }
    fn out_id(&self) -> i64 {
        self.get("OutId")
            .and_then(|v| v.parse().ok())
            .expect("an OutId")
    }
}

#[derive(Clone)]
struct Provider {
    requests: Arc<Mutex<Vec<SmsRequest>>>,
    /// The first `fail_first` requests fail: even ones with HTTP 500, odd ones with Code != OK.
    fail_first: usize,
    seen: Arc<AtomicUsize>,
}

impl Provider {
    fn requests(&self) -> Vec<SmsRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn sms_endpoint(
    State(provider): State<Provider>,
    Form(params): Form<Vec<(String, String)>>,
) -> (StatusCode, String) {
    // Verify as the provider does: recompute over everything but Signature with the shared secret.
    let signature = params
        .iter()
        .find(|(k, _)| k == "Signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let unsigned: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    let signature_ok =
        !signature.is_empty() && aliyun::sign("POST", &unsigned, SECRET) == signature;
    let n = provider.seen.fetch_add(1, Ordering::SeqCst);
    let (status, body, answered_ok) = if !signature_ok {
        (
            StatusCode::OK,
            r#"{"Code":"SignatureDoesNotMatch","Message":"bad signature"}"#.to_string(),
            false,
        )
    } else if n < provider.fail_first && n % 2 == 0 {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"Code":"InternalError"}"#.to_string(),
            false,
        )
    } else if n < provider.fail_first {
        (
            StatusCode::OK,
            r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"busy","RequestId":"r"}"#.to_string(),
            false,
        )
    } else {
        (
            StatusCode::OK,
            format!(r#"{{"Code":"OK","Message":"OK","BizId":"biz-{n}","RequestId":"req-{n}"}}"#),
            true,
        )
    };
    provider.requests.lock().unwrap().push(SmsRequest {
        params,
        signature_ok,
        answered_ok,
    });
    (status, body)
}

async fn start_provider(fail_first: usize) -> (String, Provider, JoinHandle<()>) {
    let provider = Provider {
        requests: Arc::default(),
        fail_first,
        seen: Arc::default(),
    };
    let router = Router::new()
        .route("/", post(sms_endpoint))
        .with_state(provider.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (endpoint, provider, task)
}

// ---------------------------------------------------------------------------------------------
// The SMTP relay stand-in

/// A message the relay got, and whether it accepted it.
#[derive(Clone, Debug)]
struct Mail {
    message: smtp::Received,
    accepted: bool,
}

impl std::ops::Deref for Mail {
    type Target = smtp::Received;
    fn deref(&self) -> &smtp::Received {
        &self.message
    }
}

#[derive(Clone)]
struct Sink {
    connections: Arc<AtomicUsize>,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl Sink {
    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// A relay that defers its first `reject_first` messages with 451 after DATA.
async fn start_sink(reject_first: usize) -> (u16, Sink, JoinHandle<()>) {
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let kept = mails.clone();
    let relay = smtp::start(Duration::from_secs(30), move |message| {
        let mut mails = kept.lock().unwrap();
        let accepted = mails.len() >= reject_first;
        mails.push(Mail { message, accepted });
        accepted
    })
    .await;
    let sink = Sink {
        connections: relay.connections,
        mails,
    };
    (relay.port, sink, relay.task)
}
