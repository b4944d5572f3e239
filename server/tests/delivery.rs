//! Delivery through the real senders against stand-ins on 127.0.0.1: an HTTP endpoint that checks
//! Alibaba Cloud's RPC signature like the provider does, and a minimal SMTP relay. The outbox
//! worker of the spawned app does the sending; the test moves the app's clock past the backoff.

mod common;

use app::ssr::config::{Config, Secret};
use app::ssr::delivery::aliyun;
use app::ssr::outbox::{self, Channel, NewMessage, Template};
use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use common::{TestApp, spawn_with};
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

// ---------------------------------------------------------------------------------------------
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
    mails: Arc<Mutex<Vec<Mail>>>,
    /// The first `reject_first` messages are deferred with 451 after DATA.
    reject_first: usize,
    connections: Arc<AtomicUsize>,
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

// ---------------------------------------------------------------------------------------------
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
            Instant::now() < deadline,
            "messages {ids:?} not sent in time: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
            rows.iter().all(|r| r.status != "failed"),
            "gave up on a message: {rows:?}"
        );
        assert!(
            Instant::now() < deadline,
            "messages {ids:?} not sent in time: {rows:?}"
        );
        let now = app.services.now_ms();
        if let Some(next) = rows
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
// Tests

#[tokio::test]
async fn sms_is_delivered_once_with_a_valid_signature() {
    let (endpoint, provider, provider_task) = start_provider(0).await;
    let (smtp_port, sink, sink_task) = start_sink(0).await;
    let app = spawn_with(|c| {
        c.deliver = true;
        providers(c, &endpoint, smtp_port);
    })
    .await;

    let ids = enqueue(
        &app,
        &[
            Msg {
                channel: Channel::Sms,
                to: "+8613800138000",
                subject: "",
                body: "Your verification code is 482913. It expires in 5 minutes.",
                template: Template::VerificationCode,
                code: Some("482913"),
            },
            Msg {
                channel: Channel::Sms,
                to: "+447700900123",
                subject: "",
                body: "The phone number of your account was changed.",
                template: Template::PhoneChangedNotice,
                code: None,
            },
        ],
    )
    .await;
    wait_sent(&app, &ids).await;
    // A few more worker cycles: nothing is sent again.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let requests = provider.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in &requests {
        assert!(
            request.signature_ok,
            "the provider could not verify the signature: {request:?}"
        );
        assert!(request.answered_ok);
        assert_eq!(request.get("AccessKeyId"), Some(KEY_ID));
        assert_eq!(request.get("Action"), Some("SendSms"));
        assert_eq!(request.get("Version"), Some("2017-05-25"));
        assert_eq!(request.get("Format"), Some("JSON"));
        assert_eq!(request.get("RegionId"), Some("cn-hangzhou"));
        assert_eq!(request.get("SignName"), Some(SIGN_NAME));
        assert_eq!(request.get("SignatureMethod"), Some("HMAC-SHA1"));
        assert_eq!(request.get("SignatureVersion"), Some("1.0"));
        assert!(
            request.get("SignatureNonce").is_some_and(|n| n.len() >= 16),
            "{request:?}"
        );
        let timestamp = request.get("Timestamp").unwrap();
        assert!(is_api_timestamp(timestamp), "{timestamp}");
    }
    // A fresh nonce per request.
    assert_ne!(
        requests[0].get("SignatureNonce"),
        requests[1].get("SignatureNonce")
    );

    let code = requests
        .iter()
        .find(|r| r.out_id() == ids[0])
        .expect("the code message");
    assert_eq!(code.get("PhoneNumbers"), Some("+8613800138000"));
    assert_eq!(code.get("TemplateCode"), Some(CODE_TEMPLATE));
    let param: serde_json::Value =
        serde_json::from_str(code.get("TemplateParam").unwrap()).unwrap();
    assert_eq!(param, serde_json::json!({ "code": "482913" }));

    let notice = requests
        .iter()
        .find(|r| r.out_id() == ids[1])
        .expect("the notice");
    assert_eq!(notice.get("PhoneNumbers"), Some("+447700900123"));
    assert_eq!(notice.get("TemplateCode"), Some(NOTICE_TEMPLATE));
    let param: serde_json::Value =
        serde_json::from_str(notice.get("TemplateParam").unwrap()).unwrap();
    assert_eq!(
        param,
        serde_json::json!({ "content": "The phone number of your account was changed." })
    );

    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!((r.status.as_str(), r.attempts), ("sent", 1), "{r:?}");
        assert_eq!(attempts(&app, id).await, vec![(1, None)]);
    }
    assert!(sink.mails().is_empty(), "no email was queued");

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}

#[tokio::test]
async fn a_failing_sms_provider_is_retried_until_it_recovers() {
    // Requests 0 and 2 get HTTP 500, request 1 gets Code != OK, then the provider recovers.
    let (endpoint, provider, provider_task) = start_provider(3).await;
    let (smtp_port, _sink, sink_task) = start_sink(0).await;
    let app = spawn_with(|c| {
        c.deliver = true;
        providers(c, &endpoint, smtp_port);
    })
    .await;

    let ids = enqueue(
        &app,
        &[
            Msg {
                channel: Channel::Sms,
                to: "+8613800138001",
                subject: "",
                body: "Your verification code is 907311.",
                template: Template::VerificationCode,
                code: Some("907311"),
            },
            Msg {
                channel: Channel::Sms,
                to: "+8613800138002",
                subject: "",
                body: "Your verification code is 118604.",
                template: Template::VerificationCode,
                code: Some("118604"),
            },
        ],
    )
    .await;

    // Both first attempts fail; the retries wait for the backoff, which only the clock ends.
    wait_failures(&app, &ids, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        provider.requests().len(),
        2,
        "no retry before the backoff has passed"
    );
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "pending");
        assert!(r.next_attempt_at > app.services.now_ms(), "{r:?}");
    }

    wait_sent_through_retries(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let requests = provider.requests();
    assert!(requests.iter().all(|r| r.signature_ok), "{requests:?}");
    assert_eq!(requests.iter().filter(|r| !r.answered_ok).count(), 3);
    let mut total_attempts = 0;
    for (&id, code) in ids.iter().zip(["907311", "118604"]) {
        let sent: Vec<&SmsRequest> = requests.iter().filter(|r| r.out_id() == id).collect();
        assert_eq!(
            sent.iter().filter(|r| r.answered_ok).count(),
            1,
            "exactly one delivery of {id}"
        );
        assert!(
            sent.last().unwrap().answered_ok,
            "nothing is sent after the delivery of {id}"
        );
        for r in &sent {
            // Every retry sends the same message with a fresh signature.
            let param: serde_json::Value =
                serde_json::from_str(r.get("TemplateParam").unwrap()).unwrap();
            assert_eq!(param, serde_json::json!({ "code": code }));
        }

        let recorded = attempts(&app, id).await;
        assert_eq!(
            recorded.len(),
            sent.len(),
            "one recorded attempt per request for {id}: {recorded:?}"
        );
        assert_eq!(recorded.last().unwrap(), &(1, None));
        let failures: Vec<&str> = recorded
            .iter()
            .filter(|(ok, _)| *ok == 0)
            .map(|(_, e)| e.as_deref().unwrap())
            .collect();
        assert_eq!(failures.len(), sent.len() - 1);
        for error in failures {
            assert!(
                error == "sms provider answered HTTP 500"
                    || error == "sms provider refused: isv.BUSINESS_LIMIT_CONTROL",
                "{error}"
            );
            assert!(!error.contains(code));
        }

        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert_eq!(r.attempts as usize, sent.len());
        total_attempts += sent.len();
    }
    assert_eq!(
        total_attempts,
        requests.len(),
        "no request the outbox does not know of"
    );

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}

#[tokio::test]
async fn email_is_delivered_through_smtp() {
    let (endpoint, provider, provider_task) = start_provider(0).await;
    let (smtp_port, sink, sink_task) = start_sink(0).await;
    let app = spawn_with(|c| {
        c.deliver = true;
        providers(c, &endpoint, smtp_port);
    })
    .await;

    let ids = enqueue(
        &app,
        &[Msg {
            channel: Channel::Email,
            to: "ada@example.test",
            subject: "Your verification code",
            body: "Your verification code is 550271.\nIt expires in 5 minutes.",
            template: Template::VerificationCode,
            code: Some("550271"),
        }],
    )
    .await;
    wait_sent(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.accepted);
    assert_eq!(mail.mail_from, "<no-reply@example.test>");
    assert_eq!(mail.rcpt_to, vec!["<ada@example.test>".to_string()]);
    assert_eq!(mail.header("To").as_deref(), Some("ada@example.test"));
    assert_eq!(
        mail.header("From").as_deref(),
        Some("\"Account Center\" <no-reply@example.test>")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your verification code")
    );
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<outbox-{}@example.test>", ids[0]))
    );
    assert!(
        mail.header("Content-Type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{mail:?}"
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(
        mail.body(),
        "Your verification code is 550271.\nIt expires in 5 minutes."
    );

    let r = row(&app, ids[0]).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 1), "{r:?}");
    assert_eq!(attempts(&app, ids[0]).await, vec![(1, None)]);
    assert!(provider.requests().is_empty(), "no SMS was queued");

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}

#[tokio::test]
async fn a_deferred_email_is_retried_with_the_same_message_id() {
    let (endpoint, _provider, provider_task) = start_provider(0).await;
    let (smtp_port, sink, sink_task) = start_sink(1).await;
    let app = spawn_with(|c| {
        c.deliver = true;
        providers(c, &endpoint, smtp_port);
    })
    .await;

    let ids = enqueue(
        &app,
        &[Msg {
            channel: Channel::Email,
            to: "grace@example.test",
            subject: "",
            body: "Your password was changed.",
            template: Template::Notice,
            code: None,
        }],
    )
    .await;
    wait_failures(&app, &ids, 1).await;
    wait_sent_through_retries(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mails = sink.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(!mails[0].accepted && mails[1].accepted);
    let id = format!("<outbox-{}@example.test>", ids[0]);
    assert_eq!(mails[0].header("Message-ID"), Some(id.clone()));
    assert_eq!(mails[1].header("Message-ID"), Some(id));
    // No subject given: the default one.
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Account Center")
    );
    assert_eq!(mails[1].body(), "Your password was changed.");

    assert_eq!(
        attempts(&app, ids[0]).await,
        vec![
            (0, Some("smtp deferred the message (451)".to_string())),
            (1, None)
        ]
    );
    let r = row(&app, ids[0]).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 2), "{r:?}");

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}

#[tokio::test]
async fn the_development_outbox_keeps_messages_without_network_calls() {
    let (endpoint, provider, provider_task) = start_provider(0).await;
    let (smtp_port, sink, sink_task) = start_sink(0).await;
    // Delivery off (the development default), even though providers are configured.
    let app = spawn_with(|c| providers(c, &endpoint, smtp_port)).await;
    assert!(!app.services.config.deliver && app.services.config.dev_outbox);

    let ids = enqueue(
        &app,
        &[
            Msg {
                channel: Channel::Sms,
                to: "+8613800138009",
                subject: "",
                body: "Your verification code is 730512.",
                template: Template::VerificationCode,
                code: Some("730512"),
            },
            Msg {
                channel: Channel::Email,
                to: "lin@example.test",
                subject: "Your verification code",
                body: "Your verification code is 264408.",
                template: Template::VerificationCode,
                code: Some("264408"),
            },
        ],
    )
    .await;
    wait_sent(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        provider.requests().is_empty(),
        "no SMS request in development"
    );
    assert_eq!(
        sink.connections.load(Ordering::SeqCst),
        0,
        "no SMTP connection in development"
    );
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert!(
            r.code.is_some() && r.body.starts_with("Your verification code is "),
            "{r:?}"
        );
        assert_eq!(attempts(&app, id).await, vec![(1, None)]);
    }

    let items: Vec<serde_json::Value> = app
        .get("/dev/outbox.json", None)
        .await
        .json()
        .await
        .unwrap();
    let sms = items
        .iter()
        .find(|i| i["to"] == "+8613800138009")
        .expect("the SMS is listed");
    assert_eq!(sms["channel"], "sms");
    assert_eq!(sms["body"], "Your verification code is 730512.");
    assert_eq!(sms["code"], "730512");
    assert!(
        sms["created_at"].as_str().is_some_and(|t| t.contains('T')),
        "{sms}"
    );
    let email = items
        .iter()
        .find(|i| i["to"] == "lin@example.test")
        .expect("the email is listed");
    assert_eq!(email["channel"], "email");
    assert_eq!(email["body"], "Your verification code is 264408.");
    assert_eq!(email["code"], "264408");

    let only: Vec<serde_json::Value> = app
        .get("/dev/outbox.json?to=lin@example.test", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["code"], "264408");

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}

#[tokio::test]
async fn production_style_delivery_erases_the_body_once_sent() {
    let (endpoint, provider, provider_task) = start_provider(0).await;
    let (smtp_port, sink, sink_task) = start_sink(0).await;
    let app = spawn_with(|c| {
        c.deliver = true;
        c.dev_outbox = false;
        providers(c, &endpoint, smtp_port);
    })
    .await;

    let ids = enqueue(
        &app,
        &[
            Msg {
                channel: Channel::Sms,
                to: "+8613800138010",
                subject: "",
                body: "Your verification code is 391827.",
                template: Template::VerificationCode,
                code: Some("391827"),
            },
            Msg {
                channel: Channel::Email,
                to: "erin@example.test",
                subject: "Your verification code",
                body: "Your verification code is 604513.",
                template: Template::VerificationCode,
                code: Some("604513"),
            },
        ],
    )
    .await;
    wait_sent(&app, &ids).await;

    // The code reached the recipient…
    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].get("TemplateParam").unwrap().contains("391827"));
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body().contains("604513"));
    // …and is no longer stored.
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert_eq!(r.code, None, "{r:?}");
        assert_eq!(r.body, "[delivered]");
        assert!(r.last_error.is_none());
    }
    // Without the development outbox its pages are not served.
    assert_eq!(
        app.get("/dev/outbox.json", None).await.status().as_u16(),
        404
    );

    app.stop().await;
    provider_task.abort();
    sink_task.abort();
}
