//! The security checks of issue 5 that server/tests/foundation.rs, account_center.rs and
//! directory.rs do not already make, each a test: sessions (none, forged, ended, timed out)
//! change nothing; CSRF is refused on every server function and API operation; every cookie
//! is `__Host-`, Secure and HttpOnly; a planted token is never adopted and signing in again
//! keeps nothing of the old session; wrong, used, expired and never-sent codes get one answer;
//! forgot-password and sign-in tell nothing about who exists; a challenge of one session is not
//! completed in another; no RAM user, role, SSO session or directory administrator reaches the
//! owner flow; an administrator's API calls never reach another directory; every response
//! carries the security headers; and a full run of every flow leaves no code, password, token
//! or secret in the logs (a tracing subscriber capturing everything this test binary logs).

use crate::helpers;
use crate::helpers::processes;
use crate::helpers::{Method, Steps};

use app::error::AppError;
use app::model::{CodeSent, TotpEnrollment};
use app::ssr::seed::{ACME_ID, ALICE_ID, ALICE_TOTP_SECRET, BOB_ID};
use helpers::{PASSWORD, Reply, TestApp, spawn, spawn_as, spawn_with};
use processes::{assert_same, find_leaks, server_fn_endpoints, snapshot};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use helpers::fixtures::{
    ALICE_PHONE, BLOCKED, BOB_PHONE, CI as CI_MEMBER, GLOBEX_MEMBER, SANDBOX, add_second_directory,
    api, form_body, non_owner_sessions, raw_post, sso_token, totp_at, wrong_code,
};

// ---------------------------------------------------------------------------------------------
// Log capture: every test of this binary logs into one buffer, at trace level for the app.

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs the capturing subscriber once, as the global default of this test binary.
/// The app, with the logs captured first: every test here feeds the log check.
async fn spawn_logged() -> TestApp {
    capture();
    spawn().await
}

/// As `spawn_logged`, with a session of `account`.
async fn spawn_logged_as(account: &str) -> (TestApp, String) {
    capture();
    spawn_as(account).await
}

fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let sink = captured.0.clone();
            // The product's own crates at trace (more than production's info); the HTTP and TLS
            // plumbing that the test client shares with the server stays at info.
            let filter = tracing_subscriber::EnvFilter::new(
                "trace,hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info,tower=info,tower_http=info,\
                 tokio=info,runtime=info,mio=info,want=info,tachys=info,reactive_graph=info,sqlx=debug",
            );
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .without_time()
                .with_writer(move || CapturedWriter(sink.clone()))
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this test binary");
            captured
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A form that would act if the caller were allowed and signed in, for every server function
/// that needs a session.
fn acting_form(endpoint: &str) -> Option<Vec<(&'static str, &'static str)>> {
    Some(match endpoint {
        "account" | "totp_begin" | "totp_unbind" | "appeals" | "security_log" | "me"
        | "rd_tree" | "rd_members" | "identity_options" => vec![],
        "totp_confirm" => vec![("code", "123456")],
        "send_appeal_code" => vec![("contact_email", "a@b.example")],
        "ram_users" => vec![],
        "create_access_key" => vec![("user_id", "1")],
        "set_access_key_active" => vec![("key_id", "LTAI0000000000000000"), ("active", "false")],
        "delete_access_key" => vec![("key_id", "LTAI0000000000000000")],
        "logon_protection" => vec![("setting", "off")],
        "sign_in_send_code" => vec![],
        "sign_in_verify" => vec![("code", "123456")],
        "sso_settings" | "delete_sso_settings" => vec![],
        "save_sso_settings" => vec![
            ("issuer_url", "http://127.0.0.1:9"),
            ("client_id", "console"),
            ("client_secret", "secret"),
            ("user_claim", "email"),
        ],
        "sso_begin" => vec![("alias", "alice")],
        "file_appeal" => vec![
            ("new_phone", "13512345678"),
            ("contact_email", "a@b.example"),
            ("reason", "lost"),
            ("code", "123456"),
        ],
        "switch_role" => vec![("role", "auditor")],
        "set_language" => vec![("language", "zh-CN")],
        "operator_appeals" => vec![],
        "appeal_approve" | "appeal_status" => vec![("reference", "AP000000000000")],
        "appeal_request_info" => vec![("reference", "AP000000000000"), ("message", "why")],
        "appeal_reject" => vec![("reference", "AP000000000000"), ("reason", "no")],
        "appeal_answer" => vec![("reference", "AP000000000000"), ("answer", "here")],
        "rd_member" | "rd_member_events" => vec![("account_id", SANDBOX)],
        "rd_send_code" => vec![("account_id", SANDBOX), ("phone", "+8613100131000")],
        "rd_bind_phone" => vec![
            ("account_id", SANDBOX),
            ("phone", "+8613100131000"),
            ("code", "123456"),
        ],
        "send_identity_code" => vec![("method", "sms")],
        "verify_identity" => vec![("method", "sms"), ("code", "123456")],
        "check_new_phone" | "send_new_phone_code" => vec![("number", "13512345678")],
        "confirm_phone_change" => vec![("number", "13512345678"), ("code", "123456")],
        "sign_in" => vec![("account", "alice@example.com"), ("password", PASSWORD)],
        "sign_out" => vec![],
        "forgot_password" => vec![("account", "bob@example.com")],
        "undo_link" | "undo_change" => vec![("token", "0123456789abcdef0123456789abcdef")],
        "reset_password" => vec![
            ("account", "bob@example.com"),
            ("code", "123456"),
            ("new_password", "New-pass-456"),
        ],
        _ => return None,
    })
}

/// Server functions that take no session: signing in and out, and password recovery.
/// And the second sign-in step, which a pending sign-in's cookie names, and the SSO start; and
/// the undo link of a change notice, whose token is its authority; and the language switcher,
/// which signed out keeps the choice in the browser's cookie only.
const SESSIONLESS: [&str; 10] = [
    "sign_in",
    "sign_out",
    "forgot_password",
    "reset_password",
    "sign_in_send_code",
    "sign_in_verify",
    "sso_begin",
    "undo_link",
    "undo_change",
    "set_language",
];

fn endpoints() -> Vec<String> {
    server_fn_endpoints()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Forgot password by hand, to read the recovery cookie: (status, body, cookie `name=value`).
async fn forgot(app: &TestApp, account: &str) -> (u16, String, Option<String>) {
    let response = raw_post(
        app,
        "/api/forgot_password",
        &[("Origin", &app.base)],
        form_body(&[("account", account)]),
        "application/x-www-form-urlencoded",
    )
    .await;
    let status = response.status().as_u16();
    let cookie = helpers::cookie_starting(response.headers(), "__Host-recovery=")
        .map(|v| v.split(';').next().unwrap().to_string());
    (status, response.text().await.unwrap(), cookie)
}

/// Bob asks for a password reset: the recovery cookie (`name=value`) and the code sent to his
/// phone.
async fn bob_recovers(app: &TestApp) -> (String, String) {
    let (_, _, cookie) = forgot(app, "bob@example.com").await;
    let cookie = cookie.expect("a recovery cookie");
    (cookie, app.code_for(BOB_PHONE).await)
}

async fn reset(
    app: &TestApp,
    recovery_cookie: &str,
    account: &str,
    code: &str,
    password: &str,
) -> Reply {
    let response = raw_post(
        app,
        "/api/reset_password",
        &[("Origin", &app.base), ("Cookie", recovery_cookie)],
        form_body(&[
            ("account", account),
            ("code", code),
            ("new_password", password),
        ]),
        "application/x-www-form-urlencoded",
    )
    .await;
    let status = response.status().as_u16();
    Reply {
        status,
        set_cookie: None,
        retry_after: None,
        body: response.text().await.unwrap(),
    }
}

mod answers;

// ---------------------------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn no_call_changes_anything_without_a_live_session() {
    let app = spawn_logged().await;
    // Tokens that are no session: forged, malformed, signed out, timed out.
    let signed_out = app.sign_in("alice@example.com").await;
    let _: () = app.call("sign_out", &[], Some(&signed_out)).await.ok();
    let idle = app.sign_in("alice@example.com").await;
    let idle_admin = app.sign_in("rd-admin@acme").await;
    app.clock.advance_secs(31 * 60);
    // The first use of a timed-out session ends it (deletes the row); from then on it is unknown.
    assert_eq!(app.me(&idle).await.err(), AppError::NotSignedIn);
    assert_eq!(app.me(&idle_admin).await.err(), AppError::NotSignedIn);
    let forged = "0123456789abcdef0123456789abcdef".to_string();
    let malformed = format!("{}'; --", "f".repeat(40));
    let before = snapshot(&app.services.db.pool).await;
    let mut checked = 0;
    for endpoint in endpoints() {
        if SESSIONLESS.contains(&endpoint.as_str()) {
            continue;
        }
        let form = acting_form(&endpoint)
            .unwrap_or_else(|| panic!("add a form for the new server function {endpoint}"));
        for (what, token) in [
            ("no cookie", None),
            ("a forged token", Some(forged.as_str())),
            ("a malformed token", Some(malformed.as_str())),
            ("a signed-out token", Some(signed_out.as_str())),
            ("an idle owner session", Some(idle.as_str())),
            ("an idle administrator session", Some(idle_admin.as_str())),
        ] {
            let reply = app.call(&endpoint, &form, token).await;
            assert_eq!(reply.err(), AppError::NotSignedIn, "{endpoint} with {what}");
            assert!(
                reply.set_cookie.is_none(),
                "{endpoint} with {what} set a session cookie"
            );
            checked += 1;
        }
    }
    for operation in [
        "SendVerificationCodeForBindSecureMobilePhone",
        "BindSecureMobilePhone",
    ] {
        let body = json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131000", "VerificationCode": "123456"});
        for token in [
            None,
            Some(forged.as_str()),
            Some(signed_out.as_str()),
            Some(idle_admin.as_str()),
        ] {
            let (status, value) = api(&app, operation, body.clone(), token).await;
            assert_eq!(
                (status, value["Code"].as_str()),
                (401, Some("NotSignedIn")),
                "{operation}: {value}"
            );
            checked += 1;
        }
    }
    assert_same(&before, &snapshot(&app.services.db.pool).await);
    helpers::result(&format!(
        "no session: {checked} calls refused with NotSignedIn, database unchanged"
    ));
    app.stop().await;
}

#[tokio::test]
async fn a_change_cannot_be_finished_by_a_session_that_timed_out() {
    capture();
    let app = spawn_with(|c| c.limits.session_idle_secs = 120).await;
    let token = app.verified_by_sms("alice@example.com", ALICE_PHONE).await;
    let _: CodeSent = app.send_new_phone_code(&token, "13512345678").await.ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    // The configured idle timeout (2 minutes here) ends the session, its ticket and its code.
    app.clock.advance_secs(121);
    let reply = app.confirm_phone_change(&token, "13512345678", &code).await;
    assert_eq!(reply.err(), AppError::NotSignedIn);
    // A new session of the same owner cannot use them either.
    let again = app.sign_in("alice@example.com").await;
    let reply = app.confirm_phone_change(&again, "13512345678", &code).await;
    assert_eq!(reply.err(), AppError::IdentityNotVerified);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}

#[tokio::test]
async fn a_planted_token_is_never_adopted_and_signing_in_again_keeps_nothing_of_the_old_session() {
    let app = spawn_logged().await;
    // Session fixation: the attacker plants a well-formed token in the victim's browser.
    let planted = "feedfacefeedfacefeedfacefeedface";
    let reply = app
        .sign_in_with("alice@example.com", PASSWORD, Some(planted))
        .await;
    let issued = reply.session_token().unwrap();
    assert_ne!(issued, planted);
    assert_eq!(app.me(planted).await.err(), AppError::NotSignedIn);

    // Alice verifies her identity, then signs in again (reauthentication) from the same browser.
    app.identity_by_sms(&issued, ALICE_PHONE).await;
    let reply = app
        .sign_in_with("alice@example.com", PASSWORD, Some(&issued))
        .await;
    let rotated = reply.session_token().unwrap();
    assert_ne!(rotated, issued);
    assert_eq!(
        app.me(&issued).await.err(),
        AppError::NotSignedIn,
        "the old token is over"
    );
    // The ticket stayed with the old session.
    let reply = app.send_new_phone_code(&rotated, "13512345678").await;
    assert_eq!(reply.err(), AppError::IdentityNotVerified);

    // Signing in as someone else from a signed-in browser ends the first session too.
    let reply = app
        .sign_in_with("bob@example.com", PASSWORD, Some(&rotated))
        .await;
    let bob = reply.session_token().unwrap();
    assert_eq!(app.me(&rotated).await.err(), AppError::NotSignedIn);
    let me: app::model::Me = app.me(&bob).await.ok();
    assert_eq!(me.account_id, BOB_ID);
    let sessions = app.sessions_of(ALICE_ID).await;
    assert_eq!(sessions, 0, "no session of Alice's is left");
    app.stop().await;
}

#[tokio::test]
async fn every_cookie_the_server_sets_is_host_only_secure_and_http_only() {
    let app = spawn_logged().await;
    let mut cookies = Vec::new();
    let reply = app.sign_in_with("dev@alice", PASSWORD, None).await;
    cookies.push(("sign_in", reply.set_cookie.clone().unwrap()));
    let ram = reply.session_token().unwrap();
    let reply = app
        .call("switch_role", &[("role", "auditor")], Some(&ram))
        .await;
    cookies.push(("switch_role", reply.set_cookie.clone().unwrap()));
    let role = reply.session_token().unwrap();
    let reply = app.call("sign_out", &[], Some(&role)).await;
    cookies.push(("sign_out", reply.set_cookie.clone().unwrap()));
    let sso = app.dev_sso().await;
    cookies.push(("/dev/sso", helpers::set_cookie(&sso)));
    let response = raw_post(
        &app,
        "/api/forgot_password",
        &[("Origin", &app.base)],
        form_body(&[("account", "bob@example.com")]),
        "application/x-www-form-urlencoded",
    )
    .await;
    let recovery = helpers::set_cookie(&response);
    cookies.push(("forgot_password", recovery.clone()));
    let code = app.latest_code(BOB_PHONE).await.unwrap();
    let response = raw_post(
        &app,
        "/api/reset_password",
        &[
            ("Origin", &app.base),
            ("Cookie", recovery.split(';').next().unwrap()),
        ],
        form_body(&[
            ("account", "bob@example.com"),
            ("code", &code),
            ("new_password", "New-pass-456"),
        ]),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    cookies.push(("reset_password", helpers::set_cookie(&response)));

    for (source, cookie) in &cookies {
        let parts: Vec<String> = cookie
            .split(';')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        assert!(cookie.starts_with("__Host-"), "{source}: {cookie}");
        for flag in ["secure", "httponly", "path=/"] {
            assert!(
                parts.iter().any(|p| p == flag),
                "{source}: {flag} missing from {cookie}"
            );
        }
        assert!(
            parts
                .iter()
                .any(|p| p == "samesite=lax" || p == "samesite=strict"),
            "{source}: {cookie}"
        );
        assert!(
            !parts.iter().any(|p| p.starts_with("domain=")),
            "{source}: {cookie}"
        );
    }
    // Session values are 128-bit random tokens, different each time.
    let values: Vec<String> = cookies
        .iter()
        .filter(|(s, _)| ["sign_in", "switch_role", "/dev/sso"].contains(s))
        .map(|(_, c)| {
            c.split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string()
        })
        .collect();
    for value in &values {
        assert!(
            value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()),
            "{value}"
        );
    }
    assert_eq!(
        values
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        values.len()
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// CSRF

#[tokio::test]
async fn cross_site_requests_are_refused_by_every_server_function_and_api_operation() {
    let (app, owner) = spawn_logged_as("alice@example.com").await;
    let admin = app.sign_in("rd-admin@acme").await;
    let ram = app.sign_in("dev@alice").await;
    let before = snapshot(&app.services.db.pool).await;
    let host = app.base.trim_start_matches("http://").to_string();
    let right = app.base.clone();
    let sibling = format!("http://{host}.evil.example");
    let other_port = format!("http://{}:1", host.split(':').next().unwrap());
    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("a foreign Origin", vec![("Origin", "https://evil.example")]),
        ("no Origin and no Sec-Fetch-Site", vec![]),
        (
            "Sec-Fetch-Site: cross-site",
            vec![("Origin", &right), ("Sec-Fetch-Site", "cross-site")],
        ),
        (
            "Sec-Fetch-Site: same-site",
            vec![("Origin", &right), ("Sec-Fetch-Site", "same-site")],
        ),
        ("Origin: null", vec![("Origin", "null")]),
        ("a look-alike Origin", vec![("Origin", &sibling)]),
        ("another port", vec![("Origin", &other_port)]),
        (
            "Sec-Fetch-Site: cross-site alone",
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
    ];
    let mut refused = 0;
    let mut targets: Vec<(String, Vec<u8>, &str, Option<&str>)> = Vec::new();
    for endpoint in endpoints() {
        let form = acting_form(&endpoint)
            .unwrap_or_else(|| panic!("add a form for the new server function {endpoint}"));
        let token = if endpoint.starts_with("rd_") {
            Some(admin.as_str())
        } else if endpoint == "switch_role" {
            Some(ram.as_str())
        } else if SESSIONLESS.contains(&endpoint.as_str()) {
            None
        } else {
            Some(owner.as_str())
        };
        targets.push((
            format!("/api/{endpoint}"),
            form_body(&form),
            "application/x-www-form-urlencoded",
            token,
        ));
    }
    for operation in [
        "SendVerificationCodeForBindSecureMobilePhone",
        "BindSecureMobilePhone",
    ] {
        let body = json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131000", "VerificationCode": "123456"});
        targets.push((
            format!("/api/v1/{operation}"),
            body.to_string().into_bytes(),
            "application/json",
            Some(admin.as_str()),
        ));
    }
    for (path, body, content_type, token) in &targets {
        for (what, headers) in &attempts {
            let cookie = token.map(|t| format!("__Host-session={t}"));
            let mut all: Vec<(&str, &str)> = headers.clone();
            if let Some(cookie) = cookie.as_deref() {
                all.push(("Cookie", cookie));
            }
            let response = raw_post(&app, path, &all, body.clone(), content_type).await;
            let status = response.status().as_u16();
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{path} with {what} set a cookie"
            );
            let value: Value = response.json().await.unwrap_or(Value::Null);
            let code = value["Code"].as_str();
            assert!(
                status == 403 && code == Some("Forbidden.CrossSite"),
                "{path} with {what}: {status} {value}"
            );
            refused += 1;
        }
    }
    assert_same(&before, &snapshot(&app.services.db.pool).await);
    // The same calls from the page itself go through (the refusal is the headers' doing).
    let me = raw_post(
        &app,
        "/api/me",
        &[
            ("Origin", &right),
            ("Cookie", &format!("__Host-session={owner}")),
        ],
        Vec::new(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(me.status().as_u16(), 200);
    helpers::result(&format!(
        "CSRF: {refused} cross-site calls to {} endpoints refused 403, database unchanged",
        targets.len()
    ));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Every flow, with delivery on and both providers unreachable (so failures are logged too);
/// then no code, password, session or recovery token, token hash, authenticator secret, HMAC
/// key or provider secret appears in anything logged, at trace level for the app's crates.
#[tokio::test]
async fn a_full_run_logs_no_code_password_token_or_secret() {
    let captured = capture();
    let sms_secret = "sms-secret-that-must-never-be-logged";
    let app = spawn_with(|c| {
        helpers::deliver_to(c, "http://127.0.0.1:9/", sms_secret, 9);
    })
    .await;
    let mut tokens: Vec<String> = Vec::new();
    let mut typed_codes: Vec<String> = Vec::new();
    let wrong_password = "Wrong-pass-999";
    let new_password = "New-pass-456";

    // Sign-in, right and wrong.
    let alice = app.sign_in("alice@example.com").await;
    tokens.push(alice.clone());
    let _ = app
        .call(
            "sign_in",
            &[
                ("account", "alice@example.com"),
                ("password", wrong_password),
            ],
            None,
        )
        .await;

    // Change of number: identity by SMS (a wrong code first), new number, confirmation.
    let code = app.identity_code(&alice, Method::Sms, ALICE_PHONE).await;
    let _ = app
        .verify_identity(&alice, Method::Sms, wrong_code(&code))
        .await;
    let _: i64 = app.verify_identity(&alice, Method::Sms, &code).await.ok();
    let _: CodeSent = app.send_new_phone_code(&alice, "13512345678").await.ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    let changed = app.confirm_phone_change(&alice, "13512345678", &code).await;
    let _: String = changed.ok();
    // A phone change rotates the session token (issue 11): go on with the new one.
    let alice = changed.session_token().unwrap();
    tokens.push(alice.clone());

    // Authenticator: unbind (identity by email), bind a new one, then identity by it.
    let _: CodeSent = app
        .call(
            "send_identity_code",
            &[("method", "email"), ("intent", "unbind_totp")],
            Some(&alice),
        )
        .await
        .ok();
    let code = app.latest_code("alice@example.com").await.unwrap();
    let _: i64 = app
        .call(
            "verify_identity",
            &[
                ("method", "email"),
                ("code", &code),
                ("intent", "unbind_totp"),
            ],
            Some(&alice),
        )
        .await
        .ok();
    let unbound = app.call("totp_unbind", &[], Some(&alice)).await;
    let _: () = unbound.ok();
    let alice = unbound.session_token().unwrap();
    tokens.push(alice.clone());
    // Binding needs its own identity step (issue 11, path 1).
    app.clock.advance_secs(61);
    let bind_intent = [("method", "email"), ("intent", "bind_totp")];
    let _: CodeSent = app
        .call("send_identity_code", &bind_intent, Some(&alice))
        .await
        .ok();
    let code = app.latest_code("alice@example.com").await.unwrap();
    let form = [
        ("method", "email"),
        ("code", &code),
        ("intent", "bind_totp"),
    ];
    let _: i64 = app.call("verify_identity", &form, Some(&alice)).await.ok();
    let enrollment: TotpEnrollment = app.call("totp_begin", &[], Some(&alice)).await.ok();
    let first = totp_at(&enrollment.secret, app.now());
    typed_codes.push(first.clone());
    let bound = app
        .call("totp_confirm", &[("code", &first)], Some(&alice))
        .await;
    let _: () = bound.ok();
    let alice = bound.session_token().unwrap();
    tokens.push(alice.clone());
    app.clock.advance_secs(30);
    let next = totp_at(&enrollment.secret, app.now());
    typed_codes.push(next.clone());
    // A fresh authenticator proves nothing for a phone change; for unbinding it again it may.
    let form = [
        ("method", "totp"),
        ("code", &next),
        ("intent", "unbind_totp"),
    ];
    let _: i64 = app.call("verify_identity", &form, Some(&alice)).await.ok();
    let replay = app.call("verify_identity", &form, Some(&alice)).await;
    assert_eq!(replay.err(), AppError::CodeIncorrectOrExpired);
    let contact = "alice.backup@example.org";
    let appeal_code = app.appeal_code(&alice, contact).await;
    let _: String = app
        .file_appeal(&alice, "13612345601", contact, "lost", &appeal_code)
        .await
        .ok();

    // Password recovery for Bob, then his new password.
    let (recovery, code) = bob_recovers(&app).await;
    tokens.push(recovery.split_once('=').unwrap().1.to_string());
    let _ = reset(
        &app,
        &recovery,
        "bob@example.com",
        wrong_code(&code),
        new_password,
    )
    .await;
    let done = reset(&app, &recovery, "bob@example.com", &code, new_password).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let bob = app
        .sign_in_with("bob@example.com", new_password, None)
        .await;
    tokens.push(bob.session_token().unwrap());

    // RAM user, role, SSO.
    let dev = app.sign_in("dev@alice").await;
    let role = app
        .call("switch_role", &[("role", "auditor")], Some(&dev))
        .await
        .session_token()
        .unwrap();
    let sso = sso_token(&app).await;
    tokens.extend([dev, role.clone(), sso]);
    let _ = app.send_identity_code(&role, Method::Sms).await;

    // Resource Management: the console and the API, a wrong code included.
    let admin = app.sign_in("rd-admin@acme").await;
    tokens.push(admin.clone());
    let code = app.rd_code(&admin, SANDBOX, "+8613100131235").await;
    let _ = app
        .rd_bind_phone(&admin, SANDBOX, "+8613100131235", wrong_code(&code))
        .await;
    let _: app::model::MemberView = app
        .rd_bind_phone(&admin, SANDBOX, "+8613100131235", &code)
        .await
        .ok();
    let (status, _) = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        json!({"AccountId": CI_MEMBER, "SecureMobilePhone": "86-13100131234"}),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200);
    let code = app.latest_code("+8613100131234").await.unwrap();
    let (status, _) = api(&app, "BindSecureMobilePhone", json!({"AccountId": CI_MEMBER, "SecureMobilePhone": "+8613100131234", "VerificationCode": code}), Some(&admin)).await;
    assert_eq!(status, 200);

    // Refusals: a forged session, a cross-site write.
    let _ = app.me("0123456789abcdef0123456789abcdef").await;
    let _ = raw_post(
        &app,
        "/api/me",
        &[
            ("Origin", "https://evil.example"),
            ("Cookie", &format!("__Host-session={alice}")),
        ],
        Vec::new(),
        "application/x-www-form-urlencoded",
    )
    .await;

    // Let the worker try (and fail) to deliver everything, and log why.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (failed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox_attempts WHERE ok = 0")
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
        if failed >= 5 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let codes: Vec<(String,)> = sqlx::query_as("SELECT code FROM outbox WHERE code IS NOT NULL")
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap();
    let mut codes: Vec<String> = codes.into_iter().map(|r| r.0).collect();
    assert!(codes.len() >= 6, "{} codes", codes.len());
    codes.extend(typed_codes);
    let hashes: Vec<String> = tokens
        .iter()
        .map(|t| app::ssr::crypto::sha256_hex(t))
        .collect();
    let mut secrets: Vec<&str> = vec![
        PASSWORD,
        wrong_password,
        new_password,
        ALICE_TOTP_SECRET,
        &enrollment.secret,
        sms_secret,
        app::ssr::config::DEV_HMAC_KEY,
    ];
    secrets.extend(tokens.iter().map(String::as_str));
    secrets.extend(hashes.iter().map(String::as_str));

    let logs = captured.text();
    if let Ok(path) = std::env::var("SECURITY_LOG_DUMP") {
        std::fs::write(path, &logs).unwrap();
    }
    // The capture saw the flows (so an empty log cannot pass for a clean one).
    for evidence in [
        "verification code queued",
        "mobile phone number changed",
        "delivery failed",
        "cross-site write refused",
        "member mobile phone number bound",
    ] {
        assert!(
            logs.contains(evidence),
            "the logs never mention {evidence:?}: is the capture working?"
        );
    }
    let leaks = find_leaks(&logs, &codes, &secrets);
    assert!(
        leaks.is_empty(),
        "secrets in the logs:\n{}",
        leaks.join("\n")
    );
    helpers::result(&format!(
        "logs: {} lines captured at trace level, checked for {} codes and {} secrets: none found",
        logs.lines().count(),
        codes.len(),
        secrets.len()
    ));
    app.stop().await;
}
