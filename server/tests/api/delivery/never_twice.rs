//! Never text a user twice: a message handed to the provider whose answer never came back (a cut
//! connection, a crash of the sending process) is looked up with `QuerySendDetails` by its
//! `OutId` before it is sent again, and sent again only when the provider has no record of it.
//!
//! The stand-in here is a raw HTTP endpoint that can hang up after reading a request, which the
//! axum stand-in of `mod.rs` cannot: it either takes the message first (the provider sends it, the
//! answer is lost) or drops it (the provider never got it).

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What the stand-in does with the first `hang_ups` SendSms requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HangUp {
    /// Takes the message (it would reach the phone), then closes without answering.
    AfterTaking,
    /// Closes without answering and without taking it.
    WithoutTaking,
}

#[derive(Clone)]
struct Flaky {
    /// SendSms requests the provider took: the messages that reached a phone.
    taken: Arc<Mutex<Vec<Params>>>,
    /// Every SendSms request that arrived, taken or not.
    sends: Arc<Mutex<Vec<Params>>>,
    lookups: Arc<Mutex<Vec<Params>>>,
    hang_ups: Arc<AtomicUsize>,
    mode: HangUp,
}

impl Flaky {
    async fn start(hang_ups: usize, mode: HangUp) -> (String, Flaky, JoinHandle<()>) {
        let flaky = Flaky {
            taken: Arc::default(),
            sends: Arc::default(),
            lookups: Arc::default(),
            hang_ups: Arc::new(AtomicUsize::new(hang_ups)),
            mode,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let state = flaky.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(state.clone().serve(stream));
            }
        });
        (endpoint, flaky, task)
    }

    fn taken(&self) -> Vec<Params> {
        self.taken.lock().unwrap().clone()
    }
    fn sends(&self) -> Vec<Params> {
        self.sends.lock().unwrap().clone()
    }
    fn lookups(&self) -> Vec<Params> {
        self.lookups.lock().unwrap().clone()
    }

    /// Records a message as taken by the provider (as it would be before a crash of the sender).
    fn take(&self, out_id: i64, phone: &str) {
        self.taken.lock().unwrap().push(vec![
            ("OutId".into(), out_id.to_string()),
            ("PhoneNumbers".into(), phone.into()),
        ]);
    }

    /// One connection: requests read whole, answered one by one, or hung up on.
    async fn serve(self, mut stream: tokio::net::TcpStream) {
        while let Some(params) = read_form(&mut stream).await {
            let signed = aliyun::sign(
                "POST",
                &params
                    .iter()
                    .filter(|(k, _)| k != "Signature")
                    .cloned()
                    .collect::<Vec<_>>(),
                SECRET,
            );
            assert_eq!(
                param(&params, "Signature"),
                Some(signed.as_str()),
                "a request the provider would refuse: {params:?}"
            );
            let answer = match param(&params, "Action") {
                Some("SendSms") => {
                    self.sends.lock().unwrap().push(params.clone());
                    let hang_up = self
                        .hang_ups
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if !hang_up || self.mode == HangUp::AfterTaking {
                        self.taken.lock().unwrap().push(params.clone());
                    }
                    if hang_up {
                        return;
                    }
                    r#"{"Code":"OK","Message":"OK","BizId":"biz","RequestId":"req"}"#.to_string()
                }
                Some("QuerySendDetails") => {
                    self.lookups.lock().unwrap().push(params.clone());
                    self.records(&params)
                }
                other => panic!("unexpected action {other:?}"),
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if stream.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// The QuerySendDetails answer: every taken message to the number asked about, delivered.
    fn records(&self, query: &Params) -> String {
        let number = param(query, "PhoneNumber").unwrap_or_default().to_string();
        let records: Vec<serde_json::Value> = self
            .taken()
            .iter()
            .filter(|p| aliyun::query_number(param(p, "PhoneNumbers").unwrap_or_default()) == number)
            .map(|p| serde_json::json!({"OutId": param(p, "OutId"), "PhoneNum": number, "SendStatus": 3, "ErrCode": "DELIVERED"}))
            .collect();
        serde_json::json!({
            "Code": "OK",
            "Message": "OK",
            "TotalCount": records.len(),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": records},
        })
        .to_string()
    }
}

/// Reads one form-encoded HTTP request; `None` when the client closed the connection.
async fn read_form(stream: &mut tokio::net::TcpStream) -> Option<Params> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buffer[head_end..head_end + length];
    Some(form_urlencoded::parse(body).into_owned().collect())
}

async fn app_on(endpoint: &str) -> TestApp {
    spawn_with(|c| {
        c.deliver = true;
        // Email is not under test; its port is closed.
        providers(c, endpoint, 9);
    })
    .await
}

async fn handed_over_at(app: &TestApp, id: i64) -> i64 {
    let (at,): (i64,) = sqlx::query_as("SELECT handed_over_at FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    at
}

#[tokio::test]
async fn an_sms_whose_answer_was_lost_is_looked_up_and_not_sent_again() {
    let (endpoint, provider, task) = Flaky::start(1, HangUp::AfterTaking).await;
    let app = app_on(&endpoint).await;
    let body = "Your verification code is 604117.";
    let ids = enqueue(&app, &[Msg::sms_code("+8613800138000", "604117", body)]).await;

    // The provider took it and hung up: the attempt failed, in doubt, and the mark stays.
    wait_failures(&app, &ids, 1).await;
    assert!(handed_over_at(&app, ids[0]).await > 0);
    assert_eq!(row(&app, ids[0]).await.status, "pending");

    // The retry asks first, finds the OutId delivered, and marks it sent without sending.
    wait_sent_through_retries(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(provider.sends().len(), 1, "SendSms requests");
    assert_eq!(provider.taken().len(), 1, "messages that reached the phone");
    let lookups = provider.lookups();
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(param(&lookups[0], "PhoneNumber"), Some("13800138000"));
    let today = aliyun::send_dates(app.services.now_ms(), app.services.now_ms());
    assert_eq!(param(&lookups[0], "SendDate"), Some(today[0].as_str()));
    assert_eq!(handed_over_at(&app, ids[0]).await, 0);
    let tries = attempts(&app, ids[0]).await;
    assert_eq!(
        tries.iter().map(|(ok, _)| *ok).collect::<Vec<_>>(),
        [0, 1],
        "{tries:?}"
    );
    assert!(
        app.services
            .metrics
            .render()
            .contains(r#"console_delivery_lookups_total{channel="sms",answer="sent"} 1"#),
        "the lookup is counted"
    );
    task.abort();
}

#[tokio::test]
async fn an_sms_the_provider_never_took_is_sent_once_after_the_lookup() {
    let (endpoint, provider, task) = Flaky::start(1, HangUp::WithoutTaking).await;
    let app = app_on(&endpoint).await;
    let body = "Your verification code is 318842.";
    let ids = enqueue(&app, &[Msg::sms_code("+447700900123", "318842", body)]).await;

    wait_failures(&app, &ids, 1).await;
    wait_sent_through_retries(&app, &ids).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Two requests, one message on the phone: the lookup found nothing, so it went again, once.
    assert_eq!(provider.sends().len(), 2, "SendSms requests");
    assert_eq!(provider.taken().len(), 1, "messages that reached the phone");
    let lookups = provider.lookups();
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(param(&lookups[0], "PhoneNumber"), Some("447700900123"));
    task.abort();
}

#[tokio::test]
async fn after_a_crash_between_hand_over_and_answer_the_next_instance_asks_instead_of_resending() {
    let (endpoint, provider, task) = Flaky::start(0, HangUp::AfterTaking).await;
    let app = app_on(&endpoint).await;
    // What a process killed in the middle of a send leaves: the message claimed by it for the
    // lease, the hand-over recorded, no answer recorded; the provider had taken it.
    let now = app.services.now_ms();
    let id = {
        let mut tx = app.services.db.begin().await.unwrap();
        let message = NewMessage {
            channel: Channel::Sms,
            recipient: "+8613900139000",
            subject: "",
            body: "Your verification code is 775520.",
            template: Template::VerificationCode,
            code: Some("775520"),
        };
        let id = outbox::enqueue(&mut tx, message, now).await.unwrap();
        sqlx::query("UPDATE outbox SET claimed_until = $1, handed_over_at = $2 WHERE id = $3")
            .bind(now + 60_000)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    provider.take(id, "+8613900139000");

    // While the dead process's claim holds, nobody touches it.
    app.services.outbox_wake.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(row(&app, id).await.status, "pending");
    assert!(provider.lookups().is_empty());

    // The claim lapses; this instance takes the message, asks, and does not send it again.
    app.clock.advance_ms(61_000);
    app.services.outbox_wake.notify_one();
    wait_sent(&app, &[id]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        provider.sends().len(),
        0,
        "SendSms requests after the crash"
    );
    assert_eq!(provider.taken().len(), 1, "messages that reached the phone");
    assert_eq!(provider.lookups().len(), 1);
    task.abort();
}
