//! The SMS-pumping guard (README, "SMS-pumping guard"), replayed step by step as an attacker
//! would run it: a premium-rate number, a block of numbers of one prefix (one after the other
//! and all at once), a country off the allow list, and a run of codes nobody enters until the
//! country's breaker trips. Each refusal is a message of its own, an audit event on the subject,
//! a count in `console_sms_guard_refusals_total`, and nothing in the outbox.

use crate::helpers::fixtures::{ALICE_PHONE, AUDIT_US, SANDBOX, api};
use crate::helpers::{Steps, TestApp, spawn, spawn_with};
use app::error::AppError;
use app::model::CodeSent;
use app::ssr::config::RegionList;
use futures::future::join_all;
use serde_json::json;

/// A premium-rate number of the United States (libphonenumber's own example, NPA 900).
const PREMIUM_US: &str = "+19002345678";
/// A free US mobile number for the US member.
const FREE_US: &str = "+12025550147";

async fn sms_in_outbox(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    n
}

/// Messages in the outbox to numbers starting with `prefix`.
async fn outbox_with_prefix(app: &TestApp, prefix: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM outbox WHERE recipient LIKE $1",
        &format!("{prefix}%"),
    )
    .await
}

/// (outcome, detail) of the guard's audit events on `subject`, oldest first.
async fn guard_events(app: &TestApp, subject: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT outcome, detail FROM audit_events \
         WHERE subject_account_id = $1 AND action = 'SendVerificationCode' ORDER BY id",
    )
    .bind(subject)
    .fetch_all(&app.services.db.pool)
    .await
    .unwrap()
}

async fn guard_refusals(app: &TestApp, check: &str, purpose: &str) -> f64 {
    app.scrape().await.count(
        "console_sms_guard_refusals_total",
        &[("check", check), ("purpose", purpose)],
    )
}

#[tokio::test]
async fn a_run_of_codes_to_a_premium_rate_number_sends_nothing_and_each_is_audited_and_counted() {
    let app = spawn().await;
    let before = sms_in_outbox(&app).await;
    // Bob (US) has proved his identity and asks, again and again, for a code to a 900 number.
    let bob = app.sign_in("bob@example.com").await;
    app.identity_by_email(&bob, "bob@example.com").await;
    // While typing, the number is already refused for what it is.
    assert_eq!(
        app.check_new_phone(&bob, PREMIUM_US).await.err(),
        AppError::SmsNumberType
    );
    for typed in [
        PREMIUM_US,
        "9002345678",
        "1-9002345678",
        PREMIUM_US,
        PREMIUM_US,
    ] {
        let reply = app.send_new_phone_code(&bob, typed).await;
        assert_eq!(reply.err(), AppError::SmsNumberType, "{typed}");
    }
    assert_eq!(
        AppError::SmsNumberType.to_string(),
        "Verification codes cannot be sent to premium-rate, shared-cost, toll-free or unrecognized numbers. Use a mobile phone number."
    );
    // A directory administrator tries the same for a US member, in the console and in the API.
    let admin = app.sign_in("rd-admin@acme").await;
    let reply = app.rd_send_code(&admin, AUDIT_US, PREMIUM_US).await;
    assert_eq!(reply.err(), AppError::SmsNumberType);
    let body = json!({ "AccountId": AUDIT_US, "SecureMobilePhone": "1-9002345678" });
    let (status, answer) = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        body,
        Some(&admin),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["Code"], "InvalidParameter.SecureMobilePhone.NumberType",
        "{answer}"
    );
    assert_eq!(answer["Message"], AppError::SmsNumberType.to_string());

    // Nothing was queued, for that number or any other.
    assert_eq!(app.outbox_count(PREMIUM_US).await, 0);
    assert_eq!(sms_in_outbox(&app).await, before);
    // Every refusal is on the subject's record, with the number masked, and counted.
    let bob_id: (String,) = sqlx::query_as("SELECT id FROM accounts WHERE email = $1")
        .bind("bob@example.com")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    let events = guard_events(&app, &bob_id.0).await;
    assert_eq!(events.len(), 5, "{events:?}");
    for (outcome, detail) in &events {
        assert_eq!(outcome, "refused");
        assert!(detail.contains("+1 900***5678"), "{detail}");
        assert!(detail.contains("premium-rate"), "{detail}");
        assert!(!detail.contains(PREMIUM_US), "{detail}");
    }
    assert_eq!(guard_events(&app, AUDIT_US).await.len(), 2);
    assert_eq!(guard_refusals(&app, "number_type", "new_phone").await, 5.0);
    assert_eq!(
        guard_refusals(&app, "number_type", "member_phone").await,
        2.0
    );
    let scrape = app.scrape().await;
    assert!(
        scrape.count("console_refusals_total", &[("reason", "SmsNumberType")]) >= 7.0,
        "{}",
        scrape.text
    );
    app.stop().await;
}

/// The `k`-th of a block of mainland numbers sharing everything but the last 4 digits.
fn in_block(k: usize) -> String {
    format!("+861310013{:04}", 1000 + k)
}
const BLOCK: &str = "+861310013";

#[tokio::test]
async fn fifty_numbers_of_one_prefix_get_exactly_the_hourly_cap_of_codes() {
    let app = spawn().await;
    let cap = app.services.config.sms_guard.codes_per_prefix_per_hour;
    assert_eq!(cap, 10, "the default");
    let admin = app.sign_in("rd-admin@acme").await;
    let mut sent = 0;
    for k in 0..50 {
        let reply = app.rd_send_code(&admin, SANDBOX, &in_block(k)).await;
        if k < cap as usize {
            let _: CodeSent = reply.ok();
            sent += 1;
        } else {
            assert_eq!(reply.err(), AppError::SmsPrefixLimitReached, "number {k}");
        }
    }
    assert_eq!(sent, cap);
    assert_eq!(outbox_with_prefix(&app, BLOCK).await, cap);
    assert_eq!(
        guard_refusals(&app, "prefix_velocity", "member_phone").await,
        (50 - cap) as f64
    );
    let events = guard_events(&app, SANDBOX).await;
    assert_eq!(events.len(), 50 - cap as usize);
    assert!(events[0].1.contains("prefix"), "{events:?}");
    // A number of another block is not held back by this one.
    let _: CodeSent = app
        .rd_send_code(&admin, SANDBOX, "+8613100141000")
        .await
        .ok();
    // The owner's own number shares no budget with the numbers strangers chose (SPEC 3).
    let alice = app.sign_in("alice@example.com").await;
    let _: CodeSent = app
        .send_identity_code(&alice, crate::helpers::Method::Sms)
        .await
        .ok();
    assert_eq!(app.outbox_count(ALICE_PHONE).await, 1);
    // The next hour the block gets codes again.
    app.clock.advance_secs(3600);
    let admin = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = app.rd_send_code(&admin, SANDBOX, &in_block(49)).await.ok();
    assert_eq!(outbox_with_prefix(&app, BLOCK).await, cap + 1);
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_codes_to_one_prefix_stop_exactly_at_the_cap() {
    let app = spawn().await;
    let cap = app.services.config.sms_guard.codes_per_prefix_per_hour;
    let admin = app.sign_in("rd-admin@acme").await;
    let numbers: Vec<String> = (0..50).map(in_block).collect();
    let replies = join_all(
        numbers
            .iter()
            .map(|number| app.rd_send_code(&admin, SANDBOX, number)),
    )
    .await;
    let accepted = replies.iter().filter(|r| r.status < 300).count();
    let refused: Vec<AppError> = replies
        .iter()
        .filter(|r| r.status >= 300)
        .map(|r| r.err())
        .collect();
    assert_eq!(accepted, cap as usize);
    assert!(
        refused
            .iter()
            .all(|e| *e == AppError::SmsPrefixLimitReached),
        "{refused:?}"
    );
    assert_eq!(outbox_with_prefix(&app, BLOCK).await, cap);
    assert_eq!(
        guard_refusals(&app, "prefix_velocity", "member_phone").await,
        (50 - cap) as f64
    );
    app.stop().await;
}

#[tokio::test]
async fn a_region_off_the_purposes_allow_list_gets_no_code() {
    let app = spawn_with(|c| {
        c.sms_guard
            .purpose_regions
            .insert("member_phone".into(), RegionList::Only(vec!["CN".into()]));
    })
    .await;
    let admin = app.sign_in("rd-admin@acme").await;
    let reply = app.rd_send_code(&admin, AUDIT_US, FREE_US).await;
    assert_eq!(reply.err(), AppError::SmsRegionNotAllowed);
    assert_eq!(app.outbox_count(FREE_US).await, 0);
    assert_eq!(guard_refusals(&app, "region", "member_phone").await, 1.0);
    let events = guard_events(&app, AUDIT_US).await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0].1.contains("+1 202***0147") && events[0].1.contains("not allowed"),
        "{events:?}"
    );
    // A CN member still gets its code, and so does Bob's own US number for another purpose.
    let _: CodeSent = app
        .rd_send_code(&admin, SANDBOX, "+8613100131000")
        .await
        .ok();
    let bob = app.sign_in("bob@example.com").await;
    let _: CodeSent = app
        .send_identity_code(&bob, crate::helpers::Method::Sms)
        .await
        .ok();
    app.stop().await;
}

#[tokio::test]
async fn by_default_codes_go_only_to_regions_accounts_are_registered_in() {
    let app = spawn().await;
    // An account whose bound number is of a region no account is registered in (GB).
    let now = app.now();
    let hash = app::ssr::crypto::hash_password(crate::helpers::PASSWORD);
    let pool = &app.services.db.pool;
    let insert = |id: &'static str, email: &'static str, region: &'static str, phone| {
        sqlx::query(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) \
             VALUES ($1, $1, $1, $2, $3, $4, $5, 'active', $6, $6)",
        )
        .bind(id)
        .bind(email)
        .bind(hash.clone())
        .bind(region)
        .bind(phone)
        .bind(now - 30 * 86_400_000)
        .execute(pool)
    };
    insert(
        "7000000000000001",
        "roamer@example.test",
        "CN",
        Some("+447400123456"),
    )
    .await
    .unwrap();
    let token = app.sign_in("roamer@example.test").await;
    let reply = app
        .send_identity_code(&token, crate::helpers::Method::Sms)
        .await;
    assert_eq!(reply.err(), AppError::SmsRegionNotAllowed);
    assert_eq!(app.outbox_count("+447400123456").await, 0);
    assert_eq!(
        guard_refusals(&app, "region", "identity_change_phone").await,
        1.0
    );
    // Once an account is registered in GB, GB is on the list, at once (no stale cache).
    insert("7000000000000002", "londoner@example.test", "GB", None)
        .await
        .unwrap();
    let _: CodeSent = app
        .send_identity_code(&token, crate::helpers::Method::Sms)
        .await
        .ok();
    assert_eq!(app.outbox_count("+447400123456").await, 1);
    app.stop().await;
}

/// A mainland number of a block of its own (no prefix cap in the way of the breaker's count).
fn lone(k: usize) -> String {
    format!("+86136{k:04}{k:04}")
}

/// A code to `number` for SANDBOX, which must be sent.
async fn send_to_sandbox(app: &TestApp, admin: &str, number: &str) {
    let reply = app.rd_send_code(admin, SANDBOX, number).await;
    assert!(reply.status < 300, "{number}: {}", reply.body);
}

#[tokio::test]
async fn the_country_breaker_trips_on_unentered_codes_and_closes_after_the_cool_down() {
    let app = spawn().await;
    let guard = app.services.config.sms_guard.clone();
    assert_eq!(
        (
            guard.breaker_min_codes,
            guard.breaker_min_entered_percent,
            guard.breaker_cooldown_secs
        ),
        (20, 20, 1800),
        "the defaults"
    );
    let admin = app.sign_in("rd-admin@acme").await;
    // A run of 20 codes to mainland numbers, none entered.
    for k in 0..20 {
        send_to_sandbox(&app, &admin, &lone(k)).await;
    }
    // The last one may still be entered: until it expires, the breaker does not count it.
    send_to_sandbox(&app, &admin, &lone(20)).await;
    app.clock.advance_secs(301);
    let before = sms_in_outbox(&app).await;
    let reply = app.rd_send_code(&admin, SANDBOX, &lone(21)).await;
    assert_eq!(reply.err(), AppError::SmsCountryPaused(30));
    assert_eq!(
        AppError::SmsCountryPaused(30).to_string(),
        "Verification codes to this country or region are paused for 30 minutes because few of the codes sent there recently were entered. Try again later."
    );
    // Open: every code a requester chose for CN is refused, for any member, by any path.
    app.clock.advance_secs(60);
    let admin = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        app.rd_send_code(&admin, SANDBOX, &lone(22)).await.err(),
        AppError::SmsCountryPaused(29)
    );
    assert_eq!(sms_in_outbox(&app).await, before);
    assert_eq!(
        guard_refusals(&app, "country_breaker", "member_phone").await,
        2.0
    );
    let events = guard_events(&app, SANDBOX).await;
    assert!(
        events
            .iter()
            .all(|(o, d)| o == "refused" && d.contains("breaker")),
        "{events:?}"
    );
    let tripped: (i64, i64) =
        sqlx::query_as("SELECT codes, entered FROM sms_breakers WHERE region = 'CN'")
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    assert_eq!(tripped, (21, 0));
    // Another country is not held back, nor is an owner's code to their own number (SPEC 3).
    let _: CodeSent = app.rd_send_code(&admin, AUDIT_US, FREE_US).await.ok();
    let alice = app.sign_in("alice@example.com").await;
    let _: CodeSent = app
        .send_identity_code(&alice, crate::helpers::Method::Sms)
        .await
        .ok();
    // After the cool-down, codes go again, and the codes that tripped it are not counted again.
    app.clock.advance_secs(29 * 60);
    let admin = app.sign_in("rd-admin@acme").await;
    send_to_sandbox(&app, &admin, &lone(23)).await;
    app.clock.advance_secs(301);
    send_to_sandbox(&app, &admin, &lone(24)).await;
    app.stop().await;
}

#[tokio::test]
async fn entered_codes_keep_the_breaker_closed_down_to_the_threshold() {
    let app = spawn().await;
    let admin = app.sign_in("rd-admin@acme").await;
    // 5 codes entered: each binds (then modifies) the member's number.
    for k in 0..5 {
        app.bind_member(&admin, SANDBOX, &lone(k)).await;
    }
    // 19 more, none entered (each replaces the one before it): 5 of 24 entered, 20.8 %.
    for k in 5..24 {
        send_to_sandbox(&app, &admin, &lone(k)).await;
    }
    app.clock.advance_secs(301);
    let admin = app.sign_in("rd-admin@acme").await;
    // 5 of 24, then 5 of 25 (exactly 20 %): still closed.
    send_to_sandbox(&app, &admin, &lone(24)).await;
    app.clock.advance_secs(301);
    let admin = app.sign_in("rd-admin@acme").await;
    send_to_sandbox(&app, &admin, &lone(25)).await;
    app.clock.advance_secs(301);
    // 5 of 26 is under 20 %: open.
    let admin = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        app.rd_send_code(&admin, SANDBOX, &lone(26)).await.err(),
        AppError::SmsCountryPaused(30)
    );
    app.stop().await;
}
