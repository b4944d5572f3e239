//! Issue 11, the authenticator paths, replayed over HTTP as an attacker would run them: each test
//! walks the exploit step by step and asserts the step where it must now stop.

use crate::common;
use common::Steps;

use app::error::AppError;
use app::model::{CodeSent, IdentityOptions, TotpEnrollment};
use app::ssr::clock::Clock;
use app::ssr::seed::{ALICE_ID, ALICE_TOTP_SECRET, BOB_ID};
use common::fixtures::{ALICE_EMAIL, ALICE_PHONE, BOB_PHONE};
use common::{Reply, TestApp, spawn, spawn_as};

const BOB_EMAIL: &str = "bob@example.com";

fn now(app: &TestApp) -> i64 {
    app.clock.now_ms()
}

fn totp_at(secret: &str, ms: i64) -> String {
    use totp_rs::{Algorithm, Builder, Secret};
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build_noncompliant();
    totp.generate((ms / 1000) as u64).to_string()
}

/// Six-digit codes that no step within ±1 of now accepts.
fn wrong_totp_codes(secret: &str, ms: i64, n: usize) -> Vec<String> {
    let near: Vec<String> = (-1..=1).map(|s| totp_at(secret, ms + s * 30_000)).collect();
    (0..)
        .map(|i: u32| format!("{:06}", (i * 7919 + 13) % 1_000_000))
        .filter(|c| !near.contains(c))
        .take(n)
        .collect()
}

/// The owner proves identity by a code sent to `target` (`sms` or `email`) for `intent`.
async fn verify_by_code(app: &TestApp, token: &str, method: &str, target: &str, intent: &str) {
    let _: CodeSent = app
        .call(
            "send_identity_code",
            &[("method", method), ("intent", intent)],
            Some(token),
        )
        .await
        .ok();
    let code = app.latest_code(target).await.expect("an identity code");
    let _: i64 = app
        .call(
            "verify_identity",
            &[("method", method), ("code", &code), ("intent", intent)],
            Some(token),
        )
        .await
        .ok();
}

async fn verify_by_totp(app: &TestApp, token: &str, code: &str, intent: &str) -> Reply {
    app.call(
        "verify_identity",
        &[("method", "totp"), ("code", code), ("intent", intent)],
        Some(token),
    )
    .await
}

async fn notices(app: &TestApp, to: &str, subject: &'static str) -> i64 {
    let sql: &'static str = match subject {
        "An authenticator was added" => {
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND template = 'notice' AND subject = 'An authenticator was added'"
        }
        "An authenticator was removed" => {
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND template = 'notice' AND subject = 'An authenticator was removed'"
        }
        "Authenticator locked" => {
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND template = 'notice' AND subject = 'Authenticator locked'"
        }
        other => panic!("no query for {other}"),
    };
    app.count(sql, to).await
}

/// Binds an authenticator to the signed-in owner after an identity step by `method`.
async fn bind_authenticator(
    app: &TestApp,
    token: &str,
    method: &str,
    target: &str,
) -> (TotpEnrollment, Reply) {
    verify_by_code(app, token, method, target, "bind_totp").await;
    let enrollment: TotpEnrollment = app.call("totp_begin", &[], Some(token)).await.ok();
    let first = totp_at(&enrollment.secret, now(app));
    let reply = app
        .call("totp_confirm", &[("code", &first)], Some(token))
        .await;
    let _: () = reply.ok();
    (enrollment, reply)
}

// Path 1: with only Bob's password, bind an authenticator, use it at once as the identity proof of
// a phone change, move the number to the attacker's, reset the password by SMS.
#[tokio::test]
async fn a_password_alone_neither_binds_an_authenticator_nor_moves_the_number_with_a_fresh_one() {
    let (app, attacker) = spawn_as(BOB_EMAIL).await;

    // Step 1, the password thief asks for a secret: refused, no identity was proven.
    let begin = app.call("totp_begin", &[], Some(&attacker)).await;
    assert_eq!(
        begin.err(),
        AppError::IdentityNotVerified,
        "step 1: binding an authenticator with the password alone must be refused"
    );
    // Nor can a confirmation skip the beginning, nor can TOTP vouch for its own binding.
    let confirm = app
        .call("totp_confirm", &[("code", "123456")], Some(&attacker))
        .await;
    assert!(confirm.status >= 400, "{}", confirm.body);
    let by_totp = verify_by_totp(&app, &attacker, "123456", "bind_totp").await;
    assert!(
        matches!(by_totp.err(), AppError::InvalidInput(_)),
        "TOTP is no identity proof for binding TOTP"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM accounts WHERE id = $1 AND totp_secret IS NOT NULL",
            BOB_ID
        )
        .await,
        0,
        "no authenticator was bound"
    );

    // The owner binds one legitimately, with a code to his phone; both channels are told.
    let owner = app.sign_in(BOB_EMAIL).await;
    let (enrollment, bound) = bind_authenticator(&app, &owner, "sms", BOB_PHONE).await;
    let owner = bound.session_token().expect("binding rotates the session");
    assert_eq!(
        notices(&app, BOB_PHONE, "An authenticator was added").await,
        1
    );
    assert_eq!(
        notices(&app, BOB_EMAIL, "An authenticator was added").await,
        1
    );
    // The bind ticket was spent: another enrollment needs a new identity step.
    assert_eq!(
        app.call("totp_begin", &[], Some(&owner)).await.err(),
        AppError::IdentityNotVerified
    );

    // Step 2, a fresh authenticator as the identity proof of a phone change: not offered, refused.
    app.clock.advance_secs(30);
    let options: IdentityOptions = app.identity_options(&owner).await.ok();
    assert!(!options.totp_bound, "a fresh authenticator is not offered");
    let fresh = verify_by_totp(&app, &owner, &totp_at(&enrollment.secret, now(&app)), "").await;
    assert_eq!(
        fresh.err(),
        AppError::TotpTooFresh,
        "step 2: an authenticator bound minutes ago must not prove identity for a phone change"
    );
    // Step 3 therefore has no ticket: no code goes to the attacker's number.
    let send = app.send_new_phone_code(&owner, "2025550199").await;
    assert_eq!(send.err(), AppError::IdentityNotVerified, "step 3");
    assert_eq!(app.outbox_count("+12025550199").await, 0);

    // Just short of 24 hours it is still fresh; after them it is accepted.
    app.clock.advance_secs(24 * 3600 - 120);
    let owner = app.sign_in(BOB_EMAIL).await;
    let still_fresh =
        verify_by_totp(&app, &owner, &totp_at(&enrollment.secret, now(&app)), "").await;
    assert_eq!(still_fresh.err(), AppError::TotpTooFresh);
    app.clock.advance_secs(120);
    let options: IdentityOptions = app.identity_options(&owner).await.ok();
    assert!(options.totp_bound, "after 24 hours it is offered");
    let _: i64 = verify_by_totp(&app, &owner, &totp_at(&enrollment.secret, now(&app)), "")
        .await
        .ok();
    app.stop().await;
}

#[tokio::test]
async fn unbinding_the_authenticator_tells_the_phone_and_the_email() {
    let (app, alice) = spawn_as(ALICE_EMAIL).await;
    verify_by_code(&app, &alice, "email", ALICE_EMAIL, "unbind_totp").await;
    let _: () = app.call("totp_unbind", &[], Some(&alice)).await.ok();
    assert_eq!(
        notices(&app, ALICE_PHONE, "An authenticator was removed").await,
        1
    );
    assert_eq!(
        notices(&app, ALICE_EMAIL, "An authenticator was removed").await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM accounts WHERE id = $1 AND totp_secret IS NULL AND totp_bound_at IS NULL",
            ALICE_ID
        )
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn the_demo_authenticator_counts_as_bound_thirty_days_ago() {
    let (app, alice) = spawn_as(ALICE_EMAIL).await;
    let _: i64 = verify_by_totp(&app, &alice, &totp_at(ALICE_TOTP_SECRET, now(&app)), "")
        .await
        .ok();
    app.stop().await;
}

// Path 5: a burst of authenticator guesses. Before, the count was read before and written after
// the check, so concurrent guesses all passed a cap, and the window reset every 5 minutes.
#[tokio::test]
async fn forty_concurrent_totp_guesses_get_at_most_ten_checks_then_only_sms_or_email_unlocks() {
    let (app, alice) = spawn_as(ALICE_EMAIL).await;
    let guesses = wrong_totp_codes(ALICE_TOTP_SECRET, now(&app), 40);
    let replies = futures::future::join_all(
        guesses
            .iter()
            .map(|code| verify_by_totp(&app, &alice, code, "")),
    )
    .await;
    let checked = common::refused_with(&replies, AppError::CodeIncorrectOrExpired);
    let locked = common::refused_with(&replies, AppError::TotpLocked);
    println!("40 concurrent wrong TOTP codes: {checked} checked, {locked} refused as locked");
    assert!(checked <= 10, "{checked} guesses were checked");
    assert_eq!(checked + locked, 40);
    assert_eq!(
        app.count("SELECT totp_failures FROM accounts WHERE id = $1", ALICE_ID)
            .await,
        10
    );

    // Even the right code is refused now, with a message that says what to do.
    let right = verify_by_totp(&app, &alice, &totp_at(ALICE_TOTP_SECRET, now(&app)), "").await;
    let error = right.err();
    assert_eq!(error, AppError::TotpLocked);
    assert!(error.to_string().contains("locked"), "{error}");
    // Waiting does not unlock it (no resetting window), and it is no longer offered.
    app.clock.advance_secs(20 * 60);
    let alice = app.sign_in(ALICE_EMAIL).await;
    let later = verify_by_totp(&app, &alice, &totp_at(ALICE_TOTP_SECRET, now(&app)), "").await;
    assert_eq!(later.err(), AppError::TotpLocked);
    let options: IdentityOptions = app.identity_options(&alice).await.ok();
    assert!(!options.totp_bound);
    // The phone and the email were told once.
    assert_eq!(notices(&app, ALICE_PHONE, "Authenticator locked").await, 1);
    assert_eq!(notices(&app, ALICE_EMAIL, "Authenticator locked").await, 1);

    // A success by SMS unlocks it; the authenticator works again.
    verify_by_code(&app, &alice, "sms", ALICE_PHONE, "change_phone").await;
    app.clock.advance_secs(30);
    let _: i64 = verify_by_totp(&app, &alice, &totp_at(ALICE_TOTP_SECRET, now(&app)), "")
        .await
        .ok();
    app.stop().await;
}

/// The owner changes the phone by SMS; answers the reply of `confirm_phone_change`.
async fn change_phone(app: &TestApp, token: &str, national: &str, e164: &str) -> Reply {
    verify_by_code(app, token, "sms", ALICE_PHONE, "change_phone").await;
    let _: CodeSent = app.send_new_phone_code(token, national).await.ok();
    let code = app
        .latest_code(e164)
        .await
        .expect("a code to the new number");
    app.confirm_phone_change(token, national, &code).await
}

// A session opened with a stolen password must not outlive the owner's change of a factor.
#[tokio::test]
async fn a_phone_change_ends_the_other_sessions_and_rotates_this_one() {
    let (app, thief) = spawn_as(ALICE_EMAIL).await;
    let alice = app.sign_in(ALICE_EMAIL).await;
    let ram_user = app.sign_in("dev@alice").await;
    let bob = app.sign_in(BOB_EMAIL).await;

    let reply = change_phone(&app, &alice, "13512345678", "+8613512345678").await;
    let masked: String = reply.ok();
    assert_eq!(masked, "+86 135****5678");
    let rotated = reply
        .session_token()
        .expect("the answer carries a new session cookie");
    assert_ne!(rotated, alice);

    let dead = app.identity_options(&thief).await;
    assert_eq!(
        dead.err(),
        AppError::NotSignedIn,
        "the other session of Alice must be signed out"
    );
    let old = app.identity_options(&alice).await;
    assert_eq!(
        old.err(),
        AppError::NotSignedIn,
        "the old token must be dead"
    );
    let _: IdentityOptions = app.identity_options(&rotated).await.ok();
    // Other principals are not the owner's sessions; other accounts are untouched.
    let _: serde_json::Value = app.me(&ram_user).await.ok();
    let _: IdentityOptions = app.identity_options(&bob).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn binding_and_unbinding_the_authenticator_end_the_other_sessions() {
    let (app, bob) = spawn_as(BOB_EMAIL).await;
    let other = app.sign_in(BOB_EMAIL).await;
    let (_, reply) = bind_authenticator(&app, &bob, "email", BOB_EMAIL).await;
    let bob = reply
        .session_token()
        .expect("a rotated session after binding");
    assert_eq!(
        app.identity_options(&other).await.err(),
        AppError::NotSignedIn
    );

    let other = app.sign_in(BOB_EMAIL).await;
    app.clock.advance_secs(61);
    verify_by_code(&app, &bob, "email", BOB_EMAIL, "unbind_totp").await;
    let reply = app.call("totp_unbind", &[], Some(&bob)).await;
    let _: () = reply.ok();
    let rotated = reply
        .session_token()
        .expect("a rotated session after unbinding");
    assert_eq!(
        app.identity_options(&other).await.err(),
        AppError::NotSignedIn
    );
    assert_eq!(
        app.identity_options(&bob).await.err(),
        AppError::NotSignedIn
    );
    let _: IdentityOptions = app.identity_options(&rotated).await.ok();
    app.stop().await;
}

async fn stored_secret(app: &TestApp, id: &str) -> String {
    let (stored,): (Option<String>,) =
        sqlx::query_as("SELECT totp_secret FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    stored.expect("a bound authenticator")
}

// Secrets at rest: a copy of the database must not hand out the authenticator.
#[tokio::test]
async fn the_accounts_row_holds_no_base32_secret_and_totp_still_verifies() {
    let app = spawn().await;
    // The seeded secret is stored sealed.
    let alice_row = stored_secret(&app, ALICE_ID).await;
    assert!(alice_row.starts_with("v1:"), "{alice_row}");
    assert!(!alice_row.contains(ALICE_TOTP_SECRET));

    // A new binding too, and the enrollment on its way.
    let bob = app.sign_in(BOB_EMAIL).await;
    verify_by_code(&app, &bob, "email", BOB_EMAIL, "bind_totp").await;
    let enrollment: TotpEnrollment = app.call("totp_begin", &[], Some(&bob)).await.ok();
    let pending = app
        .count(
            "SELECT COUNT(*) FROM totp_enrollments WHERE account_id = $1 AND secret LIKE 'v1:%'",
            BOB_ID,
        )
        .await;
    assert_eq!(pending, 1, "the enrollment's secret is sealed");
    let first = totp_at(&enrollment.secret, now(&app));
    let reply = app
        .call("totp_confirm", &[("code", &first)], Some(&bob))
        .await;
    let _: () = reply.ok();
    let bob = reply.session_token().unwrap();
    let bob_row = stored_secret(&app, BOB_ID).await;
    assert!(bob_row.starts_with("v1:"), "{bob_row}");
    assert!(!bob_row.contains(&enrollment.secret));
    assert!(!bob_row.contains(enrollment.secret.trim_end_matches('=')));

    // The authenticator still verifies (unbinding a fresh one may use it).
    app.clock.advance_secs(30);
    let _: i64 = verify_by_totp(
        &app,
        &bob,
        &totp_at(&enrollment.secret, now(&app)),
        "unbind_totp",
    )
    .await
    .ok();
    // A row written before sealing (plain base32) is still read.
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2")
        .bind(ALICE_TOTP_SECRET)
        .bind(ALICE_ID)
        .execute(&app.services.db.pool)
        .await
        .unwrap();
    let alice = app.sign_in(ALICE_EMAIL).await;
    let _: i64 = verify_by_totp(&app, &alice, &totp_at(ALICE_TOTP_SECRET, now(&app)), "")
        .await
        .ok();
    app.stop().await;
}

/// An SSO session of Alice's account, through the development route (GET, or POST once it is a form).
async fn sso_token(app: &TestApp) -> String {
    let mut response = app.get("/dev/sso", None).await;
    if response.headers().get("set-cookie").is_none() {
        response = app
            .http
            .post(app.url("/dev/sso"))
            .header("Origin", &app.base)
            .form(&[("user", "sso-user@alice")])
            .send()
            .await
            .unwrap();
    }
    let cookie = common::cookie_starting(response.headers(), "__Host-session")
        .expect("an SSO session cookie");
    app::ssr::session::token_from_cookie_header(cookie.split(';').next().unwrap()).unwrap()
}

// The security log tells what was done to the account: only its owner reads it.
#[tokio::test]
async fn only_the_owner_reads_the_security_log() {
    let (app, alice) = spawn_as(ALICE_EMAIL).await;
    let _: Vec<app::model::AuditView> = app.call("security_log", &[], Some(&alice)).await.ok();

    let ram_user = app.sign_in("dev@alice").await;
    let role = app
        .call(
            "switch_role",
            &[("role", "auditor")],
            Some(&app.sign_in("dev@alice").await),
        )
        .await
        .session_token()
        .expect("a role session");
    let sso = sso_token(&app).await;
    for (who, token) in [
        ("RAM user without a policy", &ram_user),
        ("RAM role session", &role),
        ("SSO session", &sso),
    ] {
        let reply = app.call("security_log", &[], Some(token)).await;
        assert_eq!(reply.err(), AppError::Forbidden, "{who}");
        // The page does not render the log for them.
        let page = app.page("/security", Some(token)).await;
        assert!(!page.contains("Security log"), "{who} sees the log section");
    }
    let page = app.page("/security", Some(&alice)).await;
    assert!(page.contains("Security log"));
    app.stop().await;
}
