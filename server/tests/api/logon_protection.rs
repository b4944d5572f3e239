//! Logon protection (SPEC 4, issue 11): with it on, a right password opens no session until the
//! authenticator's code (or the SMS code to the bound phone) is given, with the same replay and
//! attempt rules as everywhere else. Off by default: the demo accounts sign in with the password.

use crate::common;

use app::error::AppError;
use app::model::{AccountSummary, CodeSent, LogonProtection, SignInReply, SignInStep};
use app::ssr::clock::Clock;
use app::ssr::seed::{ALICE_ID, ALICE_TOTP_SECRET};
use common::fixtures::{ALICE_EMAIL, ALICE_PHONE, totp_at, wrong_code};
use common::{Method, Steps};
use common::{PASSWORD, Reply, TestApp, spawn, spawn_as};

const STEP_COOKIE: &str = "__Host-signin-step";

/// A server-function call from a browser that holds the pending sign-in's cookie `step`.
async fn call_with_step(app: &TestApp, endpoint: &str, form: &[(&str, &str)], step: &str) -> Reply {
    let response = app
        .http
        .post(app.url(&format!("/api/{endpoint}")))
        .header("Origin", app.url(""))
        .header("Accept", "application/json")
        .header("Cookie", format!("{STEP_COOKIE}={step}"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let set_cookie = common::cookie_starting(response.headers(), "__Host-session");
    Reply {
        status,
        set_cookie,
        retry_after: None,
        body: response.text().await.unwrap(),
    }
}

/// Signs in with the password: the second step asked for and the pending sign-in's cookie value.
/// No session cookie comes with it.
async fn password_step(app: &TestApp, account: &str) -> (SignInStep, String) {
    let response = app
        .http
        .post(app.url("/api/sign_in"))
        .header("Origin", app.url(""))
        .header("Accept", "application/json")
        .form(&[("account", account), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        common::cookie_starting(response.headers(), "__Host-session=").is_none(),
        "a right password alone must not start a session"
    );
    let cookie = common::cookie_starting(response.headers(), STEP_COOKIE)
        .expect("the pending sign-in's cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let value = common::cookie_value(&cookie);
    let reply: SignInReply = response.json().await.unwrap();
    let SignInReply::SecondStep(step) = reply else {
        panic!("expected the second step, got {reply:?}");
    };
    (step, value)
}

/// The identity step for logon protection, by a code sent by `method` to `to`.
async fn identity_for_logon(app: &TestApp, token: &str, method: Method, to: &str) {
    let form = [("method", method.as_str()), ("intent", "logon_protection")];
    let _: CodeSent = app
        .call("send_identity_code", &form, Some(token))
        .await
        .ok();
    let code = app.code_for(to).await;
    let form = [
        ("method", method.as_str()),
        ("code", code.as_str()),
        ("intent", "logon_protection"),
    ];
    let _: i64 = app.call("verify_identity", &form, Some(token)).await.ok();
}

/// The owner's change of the setting to `setting` (`off`, `totp`, `sms`).
async fn set_protection(app: &TestApp, token: &str, setting: &str) -> Reply {
    let form = [("setting", setting)];
    app.call("logon_protection", &form, Some(token)).await
}

/// The app with Alice's logon protection turned to `setting`, after her identity step by SMS.
async fn spawn_protected(setting: LogonProtection) -> TestApp {
    let (app, token) = spawn_as(ALICE_EMAIL).await;
    identity_for_logon(&app, &token, Method::Sms, ALICE_PHONE).await;
    let _: () = set_protection(&app, &token, setting.as_str()).await.ok();
    app
}

/// The second step with `code` (an authenticator's) from the browser holding `pending`.
async fn second_step(app: &TestApp, code: &str, pending: &str) -> Reply {
    call_with_step(app, "sign_in_verify", &[("code", code)], pending).await
}

/// The second step with a `code` sent by SMS to the bound phone.
async fn second_step_by_sms(app: &TestApp, code: &str, pending: &str) -> Reply {
    let form = [("code", code), ("by_sms", "true")];
    call_with_step(app, "sign_in_verify", &form, pending).await
}

/// The second step's request for an SMS code to the bound phone.
async fn send_step_code(app: &TestApp, pending: &str) -> Reply {
    call_with_step(app, "sign_in_send_code", &[], pending).await
}

fn now(app: &TestApp) -> i64 {
    app.clock.now_ms()
}

/// Moves the clock past the authenticator step Alice's last code used.
fn next_step(app: &TestApp) {
    app.clock.advance_secs(30);
}

#[tokio::test]
async fn logon_protection_is_off_by_default_and_the_demo_accounts_sign_in_with_the_password() {
    let app = spawn().await;
    let reply = app.sign_in_with(ALICE_EMAIL, PASSWORD, None).await;
    assert_eq!(reply.ok::<SignInReply>(), SignInReply::SignedIn);
    let token = reply.session_token().unwrap();
    let summary: AccountSummary = app.call("account", &[], Some(&token)).await.ok();
    assert_eq!(summary.logon_protection, LogonProtection::Off);
    app.stop().await;
}

#[tokio::test]
async fn turning_logon_protection_on_or_off_needs_the_identity_step_and_tells_the_owner() {
    let (app, token) = spawn_as(ALICE_EMAIL).await;
    // A session alone (a borrowed laptop) cannot change it.
    let refused = set_protection(&app, &token, "totp").await;
    assert_eq!(refused.err(), AppError::IdentityNotVerified);
    let bad = set_protection(&app, &token, "always").await;
    assert!(matches!(bad.err(), AppError::InvalidInput(_)));

    let phone_notices = app.outbox_count(ALICE_PHONE).await;
    let email_notices = app.outbox_count(ALICE_EMAIL).await;
    // An identity ticket for another purpose does not do.
    app.identity_by(&token, Method::Email, ALICE_EMAIL).await;
    let other = set_protection(&app, &token, "totp").await;
    assert_eq!(other.err(), AppError::IdentityNotVerified);
    identity_for_logon(&app, &token, Method::Sms, ALICE_PHONE).await;
    let _: () = set_protection(&app, &token, "totp").await.ok();
    let summary: AccountSummary = app.call("account", &[], Some(&token)).await.ok();
    assert_eq!(summary.logon_protection, LogonProtection::Totp);
    // The ticket is spent: turning it off again needs a new identity step.
    let again = set_protection(&app, &token, "off").await;
    assert_eq!(again.err(), AppError::IdentityNotVerified);
    // The identity codes went to the email and the phone, then a notice to both.
    assert_eq!(app.outbox_count(ALICE_PHONE).await, phone_notices + 2);
    assert_eq!(app.outbox_count(ALICE_EMAIL).await, email_notices + 2);
    assert_eq!(app.events(ALICE_ID, "SetLogonProtection").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn with_the_authenticator_required_a_password_alone_opens_no_session() {
    let app = spawn_protected(LogonProtection::Totp).await;
    next_step(&app);

    // The attacker knows the password: sign-in answers with the second step and no session.
    let (step, pending) = password_step(&app, ALICE_EMAIL).await;
    assert_eq!(step.method, LogonProtection::Totp);
    // No code is sent for an authenticator, and none without a pending sign-in.
    let no_sms = send_step_code(&app, &pending).await;
    assert!(matches!(no_sms.err(), AppError::InvalidInput(_)));
    let forged = second_step(&app, "123456", "forged").await;
    assert_eq!(forged.err(), AppError::SignInStepExpired);
    // A wrong code is refused and starts nothing.
    let right = totp_at(ALICE_TOTP_SECRET, now(&app));
    let wrong = wrong_code(&right);
    let refused = second_step(&app, wrong, &pending).await;
    assert_eq!(refused.err(), AppError::CodeIncorrectOrExpired);
    assert!(refused.session_token().is_none());

    // The owner's code opens the session, once.
    let opened = second_step(&app, &right, &pending).await;
    let _: () = opened.ok();
    let token = opened
        .session_token()
        .expect("a session after the second step");
    let me: app::model::Me = app.me(&token).await.ok();
    assert_eq!(me.name, ALICE_EMAIL);
    let reused = second_step(&app, &right, &pending).await;
    assert_eq!(reused.err(), AppError::SignInStepExpired);

    // The same authenticator code cannot be replayed on a new pending sign-in.
    let (_, second) = password_step(&app, ALICE_EMAIL).await;
    let replay = second_step(&app, &right, &second).await;
    assert_eq!(replay.err(), AppError::CodeIncorrectOrExpired);
    // Every spelling of the number is asked the same.
    let (by_number, _) = password_step(&app, "+86 138 0013 8000").await;
    assert_eq!(by_number.method, LogonProtection::Totp);
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_guesses_at_the_second_step_get_at_most_five_checks() {
    let app = spawn_protected(LogonProtection::Totp).await;
    next_step(&app);
    let (_, pending) = password_step(&app, ALICE_EMAIL).await;
    let right = totp_at(ALICE_TOTP_SECRET, now(&app));
    let guesses: Vec<String> = (0..20)
        .map(|i| format!("{:06}", 100_000 + i * 37))
        .filter(|g| *g != right)
        .collect();
    let (app_ref, pending_ref) = (&app, &pending);
    let answers = futures::future::join_all(
        guesses
            .iter()
            .map(|g| async move { second_step(app_ref, g, pending_ref).await }),
    )
    .await;
    let checked = common::refused_with(&answers, AppError::CodeIncorrectOrExpired);
    let refused = common::refused_with(&answers, AppError::TooManyAttempts);
    println!(
        "second-step guesses checked under {} concurrent requests: {checked} (cap 5)",
        guesses.len()
    );
    assert_eq!(checked, 5);
    assert_eq!(refused, guesses.len() - 5);
    // The pending sign-in is spent: even the right code opens nothing now.
    let late = second_step(&app, &right, &pending).await;
    assert_eq!(late.err(), AppError::TooManyAttempts);
    app.stop().await;
}

#[tokio::test]
async fn sms_protection_signs_in_with_a_code_to_the_bound_phone_from_budgets_of_its_own() {
    let app = spawn_protected(LogonProtection::Sms).await;
    let (step, pending) = password_step(&app, ALICE_EMAIL).await;
    assert_eq!(step.method, LogonProtection::Sms);
    assert_eq!(step.masked_phone.as_deref(), Some("+86 138****8000"));
    let before = app.outbox_count(ALICE_PHONE).await;
    let _: CodeSent = send_step_code(&app, &pending).await.ok();
    assert_eq!(app.outbox_count(ALICE_PHONE).await, before + 1);
    let code = app.code_for(ALICE_PHONE).await;
    // The code is bound to this pending sign-in: another one cannot use it.
    let (_, other) = password_step(&app, ALICE_EMAIL).await;
    let elsewhere = second_step_by_sms(&app, &code, &other).await;
    assert_eq!(elsewhere.err(), AppError::CodeIncorrectOrExpired);
    let opened = second_step_by_sms(&app, &code, &pending).await;
    let _: () = opened.ok();
    assert!(opened.session_token().is_some());
    // Those sends spent the sign-in step's own budgets, never the owner's identity-code budget.
    let owners = app
        .count(
            "SELECT CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM rate_counters WHERE scope LIKE 'signin_code:account:' || $1",
            ALICE_ID,
        )
        .await;
    assert_eq!(owners, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_pending_sign_in_dies_with_its_code_lifetime() {
    let app = spawn_protected(LogonProtection::Totp).await;
    let (_, pending) = password_step(&app, ALICE_EMAIL).await;
    app.clock.advance_secs(301);
    let right = totp_at(ALICE_TOTP_SECRET, now(&app));
    let late = second_step(&app, &right, &pending).await;
    assert_eq!(late.err(), AppError::SignInStepExpired);
    app.stop().await;
}

#[tokio::test]
async fn a_locked_authenticator_lets_the_bound_phone_stand_in_and_opens_again() {
    let app = spawn_protected(LogonProtection::Totp).await;
    next_step(&app);
    // A stranger with the password guesses until the authenticator locks (10 in a row).
    let right = totp_at(ALICE_TOTP_SECRET, now(&app));
    let mut wrong = (0..)
        .map(|i: u32| format!("{:06}", 200_000 + i * 11))
        .filter(|g| *g != right);
    let mut guesses = 0;
    'lock: loop {
        let (_, pending) = password_step(&app, ALICE_EMAIL).await;
        for _ in 0..5 {
            let guess = wrong.next().unwrap();
            let answer = second_step(&app, &guess, &pending).await.err();
            if answer == AppError::TotpLocked {
                break 'lock;
            }
            assert_eq!(answer, AppError::CodeIncorrectOrExpired);
            guesses += 1;
        }
    }
    assert_eq!(guesses, 10);
    // The owner, with the right authenticator code, is told it is locked...
    let (_, pending) = password_step(&app, ALICE_EMAIL).await;
    let locked = second_step(&app, &right, &pending).await;
    assert_eq!(locked.err(), AppError::TotpLocked);
    // ...and signs in with an SMS code to the bound phone instead, which unlocks it.
    let _: CodeSent = send_step_code(&app, &pending).await.ok();
    let code = app.code_for(ALICE_PHONE).await;
    let opened = second_step_by_sms(&app, &code, &pending).await;
    let _: () = opened.ok();
    let failures = app
        .count("SELECT totp_failures FROM accounts WHERE id = $1", ALICE_ID)
        .await;
    assert_eq!(failures, 0);
    app.stop().await;
}

#[tokio::test]
async fn an_unlocked_authenticator_cannot_be_skipped_with_an_sms_code() {
    let app = spawn_protected(LogonProtection::Totp).await;
    let (_, pending) = password_step(&app, ALICE_EMAIL).await;
    let no_sms = send_step_code(&app, &pending).await;
    assert!(matches!(no_sms.err(), AppError::InvalidInput(_)));
    let skip = second_step_by_sms(&app, "123456", &pending).await;
    assert!(matches!(skip.err(), AppError::InvalidInput(_)));
    app.stop().await;
}
