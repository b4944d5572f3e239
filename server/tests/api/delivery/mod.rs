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
use helpers::{TestApp, spawn_with};
use http::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
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

struct Msg<'a> {
    channel: Channel,
    to: &'a str,
    subject: &'a str,
    body: &'a str,
    template: Template,
    code: Option<&'a str>,
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

#[derive(Clone, Debug)]
struct Mail {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
    accepted: bool,
}

impl Mail {
    fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].to_string())
    }
    fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.replace("\r\n", "\n"))
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Sink {
    connections: Arc<AtomicUsize>,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// The first `reject_first` messages are deferred with 451 after DATA.
    reject_first: usize,
}

impl Sink {
    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn smtp_session(stream: tokio::net::TcpStream, sink: Sink) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(b"220 sink.test ESMTP test relay\r\n")
        .await?;
    let (mut mail_from, mut rcpt_to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = command["MAIL FROM:".len()..].trim().to_string();
            rcpt_to.clear();
            write.write_all(b"250 2.1.0 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(command["RCPT TO:".len()..].trim().to_string());
            write.write_all(b"250 2.1.5 OK\r\n").await?;
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                // Undo dot-stuffing.
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            let data = data.strip_suffix("\r\n").unwrap_or(&data).to_string();
            let accepted = {
                let mut mails = sink.mails.lock().unwrap();
                let accepted = mails.len() >= sink.reject_first;
                mails.push(Mail {
                    mail_from: mail_from.clone(),
                    rcpt_to: rcpt_to.clone(),
                    data,
                    accepted,
                });
                accepted
            };
            if accepted {
                write.write_all(b"250 2.0.0 queued\r\n").await?;
            } else {
                write.write_all(b"451 4.3.0 try again later\r\n").await?;
            }
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 2.0.0 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            write
                .write_all(b"502 5.5.2 command not recognised\r\n")
                .await?;
        }
    }
}

async fn start_sink(reject_first: usize) -> (u16, Sink, JoinHandle<()>) {
    let sink = Sink {
        mails: Arc::default(),
        reject_first,
        connections: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = sink.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepting.connections.fetch_add(1, Ordering::SeqCst);
            let sink = accepting.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(30), smtp_session(stream, sink)).await;
            });
        }
    });
    (port, sink, task)
}
