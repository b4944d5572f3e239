//! Attacks on appeals and on the codes the outbox keeps (issue 11), each replayed step by step
//! over HTTP against the real app.
//!
//! Appeals: an owner's session alone used to file as many appeals as it liked, naming any
//! contact address; now the address is proven by a code sent to it, and appeals are capped per
//! account and per client address. Secrets at rest: a delivered code used to stay in its outbox
//! row in plain text; now a provider-delivered code is wiped when it is marked sent, and the
//! development inbox keeps one only for the code's lifetime.

use crate::common;
use crate::common::{Method, Steps};

use app::error::AppError;
use app::model::{AppealView, CodeSent};
use app::ssr::config::Config;
use app::ssr::seed::ALICE_ID;
use common::fixtures::{ALICE_PHONE, appeal_without_code, wrong_code as wrong};
use common::processes::{SMS_SECRET, SmsStandIn, SmtpSink};
use common::{TestApp, spawn, spawn_as, spawn_with};
use std::time::{Duration, Instant};

const CONTACT: &str = "alice.backup@example.org";
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers

/// Step 2 of Alice's usual appeal, for her usual new number.
async fn file(app: &TestApp, token: &str, contact: &str, code: &str) -> common::Reply {
    let reason = "Phone lost, email closed";
    app.file_appeal(token, "13512345678", contact, reason, code)
        .await
}

/// Bob's appeal for his number, with `code` sent to `contact`.
async fn bob_files(app: &TestApp, bob: &str, contact: &str, code: &str) -> common::Reply {
    app.file_appeal(bob, "+12025550143", contact, "lost", code)
        .await
}

/// No appeal of Alice's was filed, and no receipt went to the contact.
async fn assert_nothing_filed(app: &TestApp) {
    assert_eq!(appeals(app).await, 0);
    assert_eq!(receipts(app, CONTACT).await, 0);
}

async fn appeals(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM appeals WHERE account_id = $1",
        ALICE_ID,
    )
    .await
}

async fn receipts(app: &TestApp, contact: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND subject = 'Your appeal was received'",
        contact,
    )
    .await
}

/// Runs of six or more digits in `text`: a code, if any is left.
fn six_digit_runs(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 6)
        .map(str::to_string)
        .collect()
}

/// Limits raised so that a test of one appeal budget is not stopped by the code send limits.
fn many_codes(c: &mut Config) {
    c.limits.resend_interval_secs = 0;
    c.limits.codes_per_target_per_hour = 1000;
    c.limits.codes_per_ip_per_hour = 1000;
    c.limits.codes_per_account_per_day = 1000;
}

// ---------------------------------------------------------------------------------------------
// Appeals: the contact email is proven by a code

#[tokio::test]
async fn an_appeal_without_a_code_files_nothing() {
    let (app, alice) = spawn_as("alice@example.com").await;

    // The old one-step appeal: the three fields and no code.
    let reason = "Phone lost, email closed";
    let reply = appeal_without_code(&app, &alice, "13512345678", CONTACT, reason).await;
    assert_eq!(reply.err(), AppError::MalformedCode);
    // A well-formed code that was never sent.
    assert_eq!(
        file(&app, &alice, CONTACT, "123456").await.err(),
        AppError::CodeIncorrectOrExpired
    );

    assert_nothing_filed(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_code_files_nothing_and_five_kill_the_code() {
    let (app, alice) = spawn_as("alice@example.com").await;
    let code = app.appeal_code(&alice, CONTACT).await;

    for _ in 0..5 {
        assert_eq!(
            file(&app, &alice, CONTACT, wrong(&code)).await.err(),
            AppError::CodeIncorrectOrExpired
        );
    }
    // The right code now fails too: the wrong tries were counted.
    assert_eq!(
        file(&app, &alice, CONTACT, &code).await.err(),
        AppError::TooManyAttempts
    );
    assert_nothing_filed(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_code_sent_to_one_address_does_not_file_an_appeal_naming_another() {
    let (app, alice) = spawn_as("alice@example.com").await;
    // The attacker proves a mailbox they hold, then names the address they want to be believed.
    let code = app.appeal_code(&alice, "mine@attacker.example").await;

    assert_eq!(
        file(&app, &alice, CONTACT, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    assert_eq!(appeals(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_code_sent_in_one_session_does_not_file_in_another() {
    let (app, first) = spawn_as("alice@example.com").await;
    let second = app.sign_in("alice@example.com").await;
    let code = app.appeal_code(&first, CONTACT).await;

    assert_eq!(
        file(&app, &second, CONTACT, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    // Nor does Bob's session file with Alice's code.
    let bob = app.sign_in("bob@example.com").await;
    let reply = bob_files(&app, &bob, CONTACT, &code).await;
    assert_eq!(reply.err(), AppError::CodeIncorrectOrExpired);
    let naming_the_contact = app
        .count(
            "SELECT COUNT(*) FROM appeals WHERE contact_email = $1",
            CONTACT,
        )
        .await;
    assert_eq!(naming_the_contact, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_emailed_code_files_one_appeal_that_changes_nothing() {
    let (app, alice) = spawn_as("alice@example.com").await;
    let code = app.appeal_code(&alice, CONTACT).await;

    let reference: String = file(&app, &alice, CONTACT, &code).await.ok();
    assert!(reference.starts_with("AP"), "{reference}");
    // The code was used once: replaying it files nothing more.
    assert_eq!(
        file(&app, &alice, CONTACT, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    let list: Vec<AppealView> = app.call("appeals", &[], Some(&alice)).await.ok();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reference, reference);
    assert_eq!(receipts(&app, CONTACT).await, 1);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}

#[tokio::test]
async fn a_ram_user_can_neither_get_an_appeal_code_nor_file() {
    let (app, dev) = spawn_as("dev@alice").await;
    let reply = app.send_appeal_code(&dev, CONTACT).await;
    assert_eq!(reply.err(), AppError::OwnerOnly);
    assert_eq!(app.outbox_count(CONTACT).await, 0);
    assert_eq!(
        file(&app, &dev, CONTACT, "123456").await.err(),
        AppError::OwnerOnly
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Appeals: throttled per account and per client address

#[tokio::test]
async fn appeals_stop_at_five_per_account_per_day() {
    let app = spawn_with(many_codes).await;
    let alice = app.sign_in("alice@example.com").await;
    assert_eq!(app.services.config.limits.appeals_per_account_per_day, 5);

    for _ in 0..5 {
        let code = app.appeal_code(&alice, CONTACT).await;
        let _: String = file(&app, &alice, CONTACT, &code).await.ok();
    }
    let code = app.appeal_code(&alice, CONTACT).await;
    let refused = file(&app, &alice, CONTACT, &code).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.err(), AppError::AppealLimitReached);
    assert_eq!(appeals(&app).await, 5);
    assert_eq!(receipts(&app, CONTACT).await, 5);

    // The next day's budget is a new one.
    app.clock.advance_ms(86_400_000);
    let alice = app.sign_in("alice@example.com").await;
    let code = app.appeal_code(&alice, CONTACT).await;
    let _: String = file(&app, &alice, CONTACT, &code).await.ok();
    assert_eq!(appeals(&app).await, 6);
    app.stop().await;
}

#[tokio::test]
async fn appeals_from_one_client_address_stop_at_its_hourly_cap() {
    let app = spawn_with(|c| {
        many_codes(c);
        c.limits.appeals_per_ip_per_hour = 3;
    })
    .await;
    // Two accounts, one client address (every test request comes from 127.0.0.1).
    let alice = app.sign_in("alice@example.com").await;
    let bob = app.sign_in("bob@example.com").await;
    for _ in 0..3 {
        let code = app.appeal_code(&alice, CONTACT).await;
        let _: String = file(&app, &alice, CONTACT, &code).await.ok();
    }
    let code = app.appeal_code(&bob, "bob.backup@example.org").await;
    let reply = bob_files(&app, &bob, "bob.backup@example.org", &code).await;
    assert_eq!(reply.err(), AppError::AppealLimitReached);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM appeals WHERE account_id <> $1",
            ALICE_ID
        )
        .await,
        0
    );
    assert_eq!(appeals(&app).await, 3);
    app.stop().await;
}

/// The cap is one conditional statement: many sessions, each with a valid code, filing at once
/// get exactly the cap through.
#[tokio::test]
async fn concurrent_appeals_cannot_pass_the_account_cap() {
    const SESSIONS: usize = 12;
    let app = spawn_with(many_codes).await;
    let mut ready = Vec::new();
    for k in 0..SESSIONS {
        let token = app.sign_in("alice@example.com").await;
        let contact = format!("alice.{k}@example.org");
        let code = app.appeal_code(&token, &contact).await;
        ready.push((token, contact, code));
    }
    let replies = futures::future::join_all(
        ready
            .iter()
            .map(|(token, contact, code)| file(&app, token, contact, code)),
    )
    .await;
    let filed = replies.iter().filter(|r| r.status < 300).count();
    let refused = replies
        .iter()
        .filter(|r| r.status >= 400 && r.err() == AppError::AppealLimitReached)
        .count();
    println!(
        "RESULT [{}] concurrent appeals of one account: {filed} filed, {refused} refused (cap 5)",
        common::backend()
    );
    assert_eq!((filed, refused), (5, SESSIONS - 5));
    assert_eq!(appeals(&app).await, 5);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Secrets at rest: the outbox forgets a delivered code

#[derive(Debug)]
struct Row {
    status: String,
    body: String,
    code: Option<String>,
}

/// The newest outbox row for `to`.
async fn newest(app: &TestApp, to: &str) -> Row {
    let (status, body, code): (String, String, Option<String>) = sqlx::query_as(
        "SELECT status, body, code FROM outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(&app.services.db.pool)
    .await
    .unwrap();
    Row { status, body, code }
}

async fn wait_sent(app: &TestApp, to: &str) -> Row {
    let deadline = Instant::now() + WAIT;
    loop {
        let row = newest(app, to).await;
        if row.status == "sent" {
            return row;
        }
        assert!(Instant::now() < deadline, "not delivered in time: {row:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What /dev/outbox.json shows for `to`, newest first.
async fn listed(app: &TestApp, to: &str) -> Vec<serde_json::Value> {
    let to = to.replace('+', "%2B");
    app.get_json(&format!("/dev/outbox.json?to={to}"), None)
        .await
}

#[tokio::test]
async fn a_code_delivered_by_sms_or_smtp_is_not_kept_in_the_outbox() {
    let sms = SmsStandIn::start().await;
    let sink = SmtpSink::start().await;
    // Development mode with the development outbox on, and delivery through the providers.
    let app = spawn_with(|c| common::deliver_to(c, &sms.endpoint, SMS_SECRET, sink.port)).await;
    assert!(app.services.config.dev_outbox);
    let alice = app.sign_in("alice@example.com").await;

    // A code by SMS (identity for a phone change) and one by email (an appeal's contact).
    let _: CodeSent = app.send_identity_code(&alice, Method::Sms).await.ok();
    let _: CodeSent = app.send_appeal_code(&alice, CONTACT).await.ok();
    let sms_row = wait_sent(&app, ALICE_PHONE).await;
    let email_row = wait_sent(&app, CONTACT).await;

    // Each code reached its recipient…
    let sms_code = sms.hits().iter().find_map(|hit| hit.code.clone());
    let sms_code = sms_code.expect("the code in the SMS");
    let email_code = sink.mails().iter().find_map(|mail| mail.code.clone());
    let email_code = email_code.expect("the code in the email");
    // …and is kept in neither row: no code column, no code in the body.
    for (row, code) in [(&sms_row, &sms_code), (&email_row, &email_code)] {
        assert_eq!(row.code, None, "{row:?}");
        assert!(!row.body.contains(code.as_str()), "{row:?}");
        assert!(six_digit_runs(&row.body).is_empty(), "{row:?}");
        assert!(row.body.contains("******"), "{row:?}");
    }
    // The development outbox lists the messages, without the codes.
    for to in [ALICE_PHONE, CONTACT] {
        let items = listed(&app, to).await;
        assert_eq!(items[0]["code"], serde_json::Value::Null, "{items:?}");
        assert!(six_digit_runs(items[0]["body"].as_str().unwrap()).is_empty());
    }
    // The code still works: it was only forgotten by the outbox.
    let _: i64 = app
        .verify_identity(&alice, Method::Sms, &sms_code)
        .await
        .ok();
    let _: String = file(&app, &alice, CONTACT, &email_code).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn the_development_inbox_shows_a_code_for_its_lifetime_and_then_wipes_it() {
    let app = spawn().await;
    assert!(app.services.config.dev_outbox && !app.services.config.deliver);
    let lifetime_ms = app.services.config.limits.code_lifetime_secs * 1000;
    let alice = app.sign_in("alice@example.com").await;
    let _: CodeSent = app.send_appeal_code(&alice, CONTACT).await.ok();
    let row = wait_sent(&app, CONTACT).await;
    let code = row
        .code
        .clone()
        .expect("the development inbox keeps the code");
    assert!(row.body.contains(&code));

    // Within its lifetime the clean-up leaves it, and /dev/outbox.json shows it (SPEC 8).
    app.clock.advance_ms(lifetime_ms - 1000);
    app::ssr::maintenance::clean_up(&app.services)
        .await
        .unwrap();
    let items = listed(&app, CONTACT).await;
    assert_eq!(items[0]["code"], code.as_str());
    assert!(items[0]["body"].as_str().unwrap().contains(&code));

    // Once the code is dead, the clean-up wipes it from the column and the body.
    app.clock.advance_ms(1000);
    app::ssr::maintenance::clean_up(&app.services)
        .await
        .unwrap();
    let row = newest(&app, CONTACT).await;
    assert_eq!(row.code, None, "{row:?}");
    assert!(six_digit_runs(&row.body).is_empty(), "{row:?}");
    assert!(row.body.contains("******"), "{row:?}");
    let items = listed(&app, CONTACT).await;
    assert_eq!(items[0]["code"], serde_json::Value::Null);
    // And the code itself is dead, as the wipe assumed.
    assert_eq!(
        file(&app, &alice, CONTACT, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    app.stop().await;
}
