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

mod common;
#[path = "common/processes.rs"]
mod processes;

use app::error::AppError;
use app::model::{CodeSent, TotpEnrollment};
use app::ssr::clock::Clock;
use app::ssr::seed::{ACME_ID, ALICE_ID, ALICE_TOTP_SECRET, BOB_ID};
use common::{PASSWORD, Reply, TestApp, spawn, spawn_with};
use processes::{assert_same, find_leaks, server_fn_endpoints, snapshot};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const ALICE_PHONE: &str = "+8613800138000";
const BOB_PHONE: &str = "+12025550143";
const SANDBOX: &str = "2000000000000006";
const CI_MEMBER: &str = "2000000000000007";
const GLOBEX_ID: &str = "4000000000000001";
const GLOBEX_MEMBER: &str = "4000000000000002";
const BLOCKED: &str = "Users logged in as a RAM user, with a RAM role, or through Enterprise SSO cannot change the account mobile phone number. Ask the account administrator to make this change.";

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
        "file_appeal" => vec![
            ("new_phone", "13512345678"),
            ("contact_email", "a@b.example"),
            ("reason", "lost"),
        ],
        "switch_role" => vec![("role", "auditor")],
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
        "reset_password" => vec![
            ("account", "bob@example.com"),
            ("code", "123456"),
            ("new_password", "New-pass-456"),
        ],
        _ => return None,
    })
}

/// Server functions that take no session: signing in and out, and password recovery.
const SESSIONLESS: [&str; 4] = ["sign_in", "sign_out", "forgot_password", "reset_password"];

fn endpoints() -> Vec<String> {
    server_fn_endpoints()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(path))
        .header("Content-Type", content_type)
        .header("Accept", "application/json")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("the server answers")
}

fn form_body(form: &[(&str, &str)]) -> Vec<u8> {
    form.iter()
        .map(|(k, v)| {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Calls an automation API operation with a session.
async fn api(app: &TestApp, operation: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/{operation}")))
        .header("Origin", &app.base)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Cookie", format!("__Host-session={token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

fn totp_at(secret: &str, ms: i64) -> String {
    use totp_rs::{Algorithm, Builder, Secret};
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build_noncompliant();
    totp.generate((ms / 1000) as u64).to_string()
}

fn now(app: &TestApp) -> i64 {
    app.clock.now_ms()
}

async fn sso_token(app: &TestApp) -> String {
    let response = app.get("/dev/sso", None).await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    app::ssr::session::token_from_cookie_header(cookie.split(';').next().unwrap()).unwrap()
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
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-recovery="))
        .map(|v| v.split(';').next().unwrap().to_string());
    (status, response.text().await.unwrap(), cookie)
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
        body: response.text().await.unwrap(),
    }
}

/// Globex: a second management account with its own directory and one member without a number.
async fn add_second_directory(app: &TestApp) {
    let now = now(app);
    let hash = app::ssr::crypto::hash_password(PASSWORD);
    let pool = &app.services.db.pool;
    for (id, name, alias, email) in [
        (GLOBEX_ID, "Globex", "globex", "admin@globex.example"),
        (
            GLOBEX_MEMBER,
            "globex-prod",
            "globex-prod",
            "prod@globex.example",
        ),
    ] {
        sqlx::query(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'CN', NULL, 'active', $6, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(alias)
        .bind(email)
        .bind(&hash)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO resource_directories (id, management_account_id, created_at) VALUES ('rd-globex', $1, $2)")
        .bind(GLOBEX_ID)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO folders (id, directory_id, parent_id, name, depth, created_at) VALUES ('fd-globex', 'rd-globex', NULL, 'Root', 1, $1)")
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) \
         VALUES ($1, 'rd-globex', 'fd-globex', 'resource_account', 'globex-prod', $2)",
    )
    .bind(GLOBEX_MEMBER)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn no_call_changes_anything_without_a_live_session() {
    capture();
    let app = spawn().await;
    // Tokens that are no session: forged, malformed, signed out, timed out.
    let signed_out = app.sign_in("alice@example.com").await;
    let _: () = app.call("sign_out", &[], Some(&signed_out)).await.ok();
    let idle = app.sign_in("alice@example.com").await;
    let idle_admin = app.sign_in("rd-admin@acme").await;
    app.clock.advance_secs(31 * 60);
    // The first use of a timed-out session ends it (deletes the row); from then on it is unknown.
    assert_eq!(
        app.call("me", &[], Some(&idle)).await.err(),
        AppError::NotSignedIn
    );
    assert_eq!(
        app.call("me", &[], Some(&idle_admin)).await.err(),
        AppError::NotSignedIn
    );
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
    println!(
        "RESULT [{}] no session: {checked} calls refused with NotSignedIn, database unchanged",
        common::backend()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_change_cannot_be_finished_by_a_session_that_timed_out() {
    capture();
    let app = spawn_with(|c| c.limits.session_idle_secs = 120).await;
    let token = app.sign_in("alice@example.com").await;
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&token))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&token),
        )
        .await
        .ok();
    let _: CodeSent = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&token),
        )
        .await
        .ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    // The configured idle timeout (2 minutes here) ends the session, its ticket and its code.
    app.clock.advance_secs(121);
    let reply = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &code)],
            Some(&token),
        )
        .await;
    assert_eq!(reply.err(), AppError::NotSignedIn);
    // A new session of the same owner cannot use them either.
    let again = app.sign_in("alice@example.com").await;
    let reply = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &code)],
            Some(&again),
        )
        .await;
    assert_eq!(reply.err(), AppError::IdentityNotVerified);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}

#[tokio::test]
async fn a_planted_token_is_never_adopted_and_signing_in_again_keeps_nothing_of_the_old_session() {
    capture();
    let app = spawn().await;
    // Session fixation: the attacker plants a well-formed token in the victim's browser.
    let planted = "feedfacefeedfacefeedfacefeedface";
    let reply = app
        .call(
            "sign_in",
            &[("account", "alice@example.com"), ("password", PASSWORD)],
            Some(planted),
        )
        .await;
    let issued = reply.session_token().unwrap();
    assert_ne!(issued, planted);
    assert_eq!(
        app.call("me", &[], Some(planted)).await.err(),
        AppError::NotSignedIn
    );

    // Alice verifies her identity, then signs in again (reauthentication) from the same browser.
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&issued))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&issued),
        )
        .await
        .ok();
    let reply = app
        .call(
            "sign_in",
            &[("account", "alice@example.com"), ("password", PASSWORD)],
            Some(&issued),
        )
        .await;
    let rotated = reply.session_token().unwrap();
    assert_ne!(rotated, issued);
    assert_eq!(
        app.call("me", &[], Some(&issued)).await.err(),
        AppError::NotSignedIn,
        "the old token is over"
    );
    // The ticket stayed with the old session.
    let reply = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&rotated),
        )
        .await;
    assert_eq!(reply.err(), AppError::IdentityNotVerified);

    // Signing in as someone else from a signed-in browser ends the first session too.
    let reply = app
        .call(
            "sign_in",
            &[("account", "bob@example.com"), ("password", PASSWORD)],
            Some(&rotated),
        )
        .await;
    let bob = reply.session_token().unwrap();
    assert_eq!(
        app.call("me", &[], Some(&rotated)).await.err(),
        AppError::NotSignedIn
    );
    let me: app::model::Me = app.call("me", &[], Some(&bob)).await.ok();
    assert_eq!(me.account_id, BOB_ID);
    let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE account_id = $1")
        .bind(ALICE_ID)
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "no session of Alice's is left");
    app.stop().await;
}

#[tokio::test]
async fn every_cookie_the_server_sets_is_host_only_secure_and_http_only() {
    capture();
    let app = spawn().await;
    let mut cookies = Vec::new();
    let reply = app
        .call(
            "sign_in",
            &[("account", "dev@alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    cookies.push(("sign_in", reply.set_cookie.clone().unwrap()));
    let ram = reply.session_token().unwrap();
    let reply = app
        .call("switch_role", &[("role", "auditor")], Some(&ram))
        .await;
    cookies.push(("switch_role", reply.set_cookie.clone().unwrap()));
    let role = reply.session_token().unwrap();
    let reply = app.call("sign_out", &[], Some(&role)).await;
    cookies.push(("sign_out", reply.set_cookie.clone().unwrap()));
    let sso = app.get("/dev/sso", None).await;
    cookies.push((
        "/dev/sso",
        sso.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string(),
    ));
    let response = raw_post(
        &app,
        "/api/forgot_password",
        &[("Origin", &app.base)],
        form_body(&[("account", "bob@example.com")]),
        "application/x-www-form-urlencoded",
    )
    .await;
    let recovery = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
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
    cookies.push((
        "reset_password",
        response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string(),
    ));

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
    capture();
    let app = spawn().await;
    let owner = app.sign_in("alice@example.com").await;
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
            assert_eq!(
                (status, value["Code"].as_str()),
                (403, Some("Forbidden.CrossSite")),
                "{path} with {what}: {value}"
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
    println!(
        "RESULT [{}] CSRF: {refused} cross-site calls to {} endpoints refused 403, database unchanged",
        common::backend(),
        targets.len()
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// What answers tell

#[tokio::test]
async fn wrong_used_expired_and_never_sent_codes_get_one_answer() {
    capture();
    let app = spawn().await;
    let expected = "The verification code is incorrect or has expired.";
    let alice = app.sign_in("alice@example.com").await;
    // Never sent: no challenge at all.
    let never = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", "123456")],
            Some(&alice),
        )
        .await;
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&alice))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let wrong = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", wrong_code(&code))],
            Some(&alice),
        )
        .await;
    app.clock.advance_secs(301);
    let expired = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&alice),
        )
        .await;
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&alice))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&alice),
        )
        .await
        .ok();
    let used = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&alice),
        )
        .await;
    for (what, reply) in [("wrong", &wrong), ("expired", &expired), ("used", &used)] {
        assert_eq!(
            (reply.status, &reply.body),
            (never.status, &never.body),
            "{what} vs never sent"
        );
    }
    assert_eq!(never.err().to_string(), expected);

    // The new-number step and the member binding answer alike too.
    let _: CodeSent = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&alice),
        )
        .await
        .ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    let wrong = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", wrong_code(&code))],
            Some(&alice),
        )
        .await;
    app.clock.advance_secs(301);
    let expired = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &code)],
            Some(&alice),
        )
        .await;
    assert_eq!((wrong.status, &wrong.body), (expired.status, &expired.body));
    assert_eq!(wrong.err().to_string(), expected);

    let admin = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = app
        .call(
            "rd_send_code",
            &[("account_id", SANDBOX), ("phone", "+8613100131000")],
            Some(&admin),
        )
        .await
        .ok();
    let code = app.latest_code("+8613100131000").await.unwrap();
    let wrong = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131000"),
                ("code", wrong_code(&code)),
            ],
            Some(&admin),
        )
        .await;
    let (api_wrong_status, api_wrong) = api(
        &app,
        "BindSecureMobilePhone",
        json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131000", "VerificationCode": wrong_code(&code)}),
        Some(&admin),
    )
    .await;
    app.clock.advance_secs(301);
    let expired = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131000"),
                ("code", &code),
            ],
            Some(&admin),
        )
        .await;
    let (api_expired_status, api_expired) = api(
        &app,
        "BindSecureMobilePhone",
        json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131000", "VerificationCode": code}),
        Some(&admin),
    )
    .await;
    assert_eq!((wrong.status, &wrong.body), (expired.status, &expired.body));
    assert_eq!(
        (api_wrong_status, &api_wrong["Code"], &api_wrong["Message"]),
        (
            api_expired_status,
            &api_expired["Code"],
            &api_expired["Message"]
        )
    );
    assert_eq!(api_wrong["Message"], expected);

    // Password recovery: a wrong code and an expired one.
    let (_, _, cookie) = forgot(&app, "bob@example.com").await;
    let cookie = cookie.unwrap();
    let code = app.latest_code(BOB_PHONE).await.unwrap();
    let wrong = reset(
        &app,
        &cookie,
        "bob@example.com",
        wrong_code(&code),
        "New-pass-456",
    )
    .await;
    app.clock.advance_secs(301);
    let expired = reset(&app, &cookie, "bob@example.com", &code, "New-pass-456").await;
    assert_eq!((wrong.status, &wrong.body), (expired.status, &expired.body));
    assert_eq!(wrong.err().to_string(), expected);
    app.stop().await;
}

#[tokio::test]
async fn forgot_password_and_sign_in_tell_nothing_about_who_exists() {
    capture();
    let app = spawn().await;
    let cases = [
        "bob@example.com",    // exists, with a phone
        "nobody@example.com", // no such account
        BOB_PHONE,            // the only account on this number
        "+8613100131999",     // nobody's number
        "+8613900139000",     // six accounts' number: cannot tell whose password
        "dev@alice",          // a RAM user: recovers through the account administrator
        "not an account",
    ];
    let mut answers = Vec::new();
    for account in cases {
        // Each request a minute after the last: the first request for a number (see below for
        // a repeated one).
        app.clock.advance_secs(61);
        let (status, body, cookie) = forgot(&app, account).await;
        let cookie = cookie.unwrap_or_else(|| panic!("{account}: no recovery cookie"));
        let value = cookie.split_once('=').unwrap().1.to_string();
        assert!(
            value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()),
            "{account}: {cookie}"
        );
        answers.push((account, status, body));
    }
    for (account, status, body) in &answers {
        assert_eq!(
            (*status, body),
            (answers[0].1, &answers[0].2),
            "{account} answers differently from {}",
            answers[0].0
        );
    }
    // Sign-in: an existing RAM user with a wrong password, an unknown user of a known alias,
    // and an unknown alias.
    let mut bodies = Vec::new();
    for account in [
        "dev@alice",
        "nobody@alice",
        "dev@no-such-alias",
        "bob@example.com",
        "+12025550143",
    ] {
        let reply = app
            .call(
                "sign_in",
                &[("account", account), ("password", "Wrong-pass-999")],
                None,
            )
            .await;
        assert!(reply.set_cookie.is_none());
        bodies.push((account, reply.status, reply.body.clone()));
        assert_eq!(reply.err(), AppError::BadCredentials, "{account}");
    }
    for (account, status, body) in &bodies {
        assert_eq!((*status, body), (bodies[0].1, &bodies[0].2), "{account}");
    }
    app.stop().await;
}

/// The same request twice within a minute, for an account that exists and for one that does
/// not: the answers must not differ either (a refused resend used to tell that the account exists).
#[tokio::test]
async fn a_repeated_forgot_password_request_tells_nothing_either() {
    capture();
    let app = spawn().await;
    let mut seconds = Vec::new();
    for account in [
        "bob@example.com",
        "nobody@example.com",
        BOB_PHONE,
        "+8613100131999",
    ] {
        app.clock.advance_secs(61);
        let first = forgot(&app, account).await;
        let second = forgot(&app, account).await;
        assert_eq!(
            (first.0, &first.1),
            (200, &"null".to_string()),
            "{account}: the first request"
        );
        seconds.push((account, second.0, second.1, second.2.is_some()));
    }
    for (account, status, body, cookie) in &seconds {
        assert_eq!(
            (*status, body, *cookie),
            (seconds[1].1, &seconds[1].2, seconds[1].3),
            "the second request for {account} vs a made-up account"
        );
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Challenges belong to their session

#[tokio::test]
async fn a_challenge_made_in_one_session_cannot_be_completed_in_another() {
    capture();
    let app = spawn().await;
    let first = app.sign_in("alice@example.com").await;
    let second = app.sign_in("alice@example.com").await;

    // Identity: the first tab's code, typed in the second tab, is refused and counts nothing there.
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&first))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let reply = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&second),
        )
        .await;
    assert_eq!(reply.err(), AppError::CodeIncorrectOrExpired);
    let (attempts,): (i64,) =
        sqlx::query_as("SELECT MAX(attempts) FROM challenges WHERE account_id = $1")
            .bind(ALICE_ID)
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 0, "the first tab's challenge is untouched");
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&first),
        )
        .await
        .ok();

    // New number: both tabs verified and waiting for a code to the same number.
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "email")], Some(&second))
        .await
        .ok();
    let code = app.latest_code("alice@example.com").await.unwrap();
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "email"), ("code", &code)],
            Some(&second),
        )
        .await
        .ok();
    let _: CodeSent = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&first),
        )
        .await
        .ok();
    let first_code = app.latest_code("+8613512345678").await.unwrap();
    let reply = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &first_code)],
            Some(&second),
        )
        .await;
    assert_eq!(
        reply.err(),
        AppError::CodeIncorrectOrExpired,
        "no challenge of the second tab"
    );
    app.clock.advance_secs(61);
    let _: CodeSent = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&second),
        )
        .await
        .ok();
    let second_code = app.latest_code("+8613512345678").await.unwrap();
    if second_code != first_code {
        let reply = app
            .call(
                "confirm_phone_change",
                &[("number", "13512345678"), ("code", &first_code)],
                Some(&second),
            )
            .await;
        assert_eq!(
            reply.err(),
            AppError::CodeIncorrectOrExpired,
            "the first tab's code against the second tab's challenge"
        );
    }
    // The second tab's new code did not replace the first tab's.
    let masked: String = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &first_code)],
            Some(&first),
        )
        .await
        .ok();
    assert_eq!(masked, "+86 135****5678");

    // Password recovery: the code is bound to the recovery cookie it was requested with.
    let (_, _, one) = forgot(&app, "bob@example.com").await;
    let first_code = app.latest_code(BOB_PHONE).await.unwrap();
    app.clock.advance_secs(61);
    let (_, _, two) = forgot(&app, "bob@example.com").await;
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_ne!(one, two);
    let reply = reset(&app, &two, "bob@example.com", &first_code, "New-pass-456").await;
    if app.latest_code(BOB_PHONE).await.unwrap() != first_code {
        assert_eq!(
            reply.err(),
            AppError::CodeIncorrectOrExpired,
            "a code requested under another recovery cookie"
        );
    }
    let reply = reset(&app, &one, "bob@example.com", &first_code, "New-pass-456").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A member code asked for in one administrator session is refused in another of the same user.
    let admin_one = app.sign_in("rd-admin@acme").await;
    let admin_two = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = app
        .call(
            "rd_send_code",
            &[("account_id", SANDBOX), ("phone", "+8613100131000")],
            Some(&admin_one),
        )
        .await
        .ok();
    let code = app.latest_code("+8613100131000").await.unwrap();
    let reply = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131000"),
                ("code", &code),
            ],
            Some(&admin_two),
        )
        .await;
    assert_eq!(reply.err(), AppError::CodeIncorrectOrExpired);
    let (status, value) =
        api(&app, "BindSecureMobilePhone", json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131000", "VerificationCode": code}), Some(&admin_two)).await;
    assert_eq!(
        (status, value["Code"].as_str()),
        (400, Some("VerificationCode.Invalid")),
        "{value}"
    );
    let _: app::model::MemberView = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131000"),
                ("code", &code),
            ],
            Some(&admin_one),
        )
        .await
        .ok();
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Who reaches what

#[tokio::test]
async fn no_ram_user_role_sso_session_or_directory_administrator_reaches_the_owner_flow() {
    capture();
    let app = spawn().await;
    let dev = app.sign_in("dev@alice").await;
    let role = app
        .call(
            "switch_role",
            &[("role", "auditor")],
            Some(&app.sign_in("dev@alice").await),
        )
        .await
        .session_token()
        .unwrap();
    let sso = sso_token(&app).await;
    let rd_admin = app.sign_in("rd-admin@acme").await;
    let viewer = app.sign_in("viewer@acme").await;
    let totp = totp_at(ALICE_TOTP_SECRET, now(&app));

    // The owner flow: every server function of the change flow and the account's security
    // settings, read from the source so a new one cannot be forgotten here.
    let not_owner_flow = ["forgot_password", "reset_password", "security_log"];
    let owner_flow: Vec<String> = server_fn_endpoints()
        .into_iter()
        .filter(|(name, file)| {
            (file == "phone.rs" || file == "account_center.rs")
                && !not_owner_flow.contains(&name.as_str())
        })
        .map(|(name, _)| name)
        .collect();
    assert!(owner_flow.len() >= 11, "{owner_flow:?}");
    let mut calls: Vec<(String, Vec<(&str, String)>)> = Vec::new();
    for endpoint in &owner_flow {
        let form = acting_form(endpoint)
            .unwrap_or_else(|| panic!("add a form for the new server function {endpoint}"));
        calls.push((
            endpoint.clone(),
            form.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        ));
    }
    // The other ways in: identity by email, by a valid authenticator code, for unbinding too.
    calls.push((
        "send_identity_code".into(),
        vec![("method", "email".into()), ("intent", "unbind_totp".into())],
    ));
    calls.push((
        "verify_identity".into(),
        vec![("method", "totp".into()), ("code", totp.clone())],
    ));
    calls.push((
        "verify_identity".into(),
        vec![
            ("method", "email".into()),
            ("code", "123456".into()),
            ("intent", "unbind_totp".into()),
        ],
    ));
    calls.push((
        "check_new_phone".into(),
        vec![("number", "+8613900139000".into())],
    ));

    let before = snapshot(&app.services.db.pool).await;
    let mut refused = 0;
    for (who, token) in [
        ("RAM user", &dev),
        ("RAM role", &role),
        ("SSO", &sso),
        ("directory administrator (RAM)", &rd_admin),
        ("RAM viewer", &viewer),
    ] {
        for (endpoint, form) in &calls {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = app.call(endpoint, &form, Some(token)).await;
            let error = reply.err();
            assert_eq!(error, AppError::OwnerOnly, "{who} {endpoint} {form:?}");
            assert_eq!(error.to_string(), BLOCKED);
            refused += 1;
        }
    }
    // Nor through the directory: the management account is not its own member.
    for form in [
        vec![("account_id", ACME_ID), ("phone", "+8613100131000")],
        vec![
            ("account_id", ACME_ID),
            ("phone", "+8613100131000"),
            ("code", "123456"),
        ],
    ] {
        let endpoint = if form.len() == 2 {
            "rd_send_code"
        } else {
            "rd_bind_phone"
        };
        assert_eq!(
            app.call(endpoint, &form, Some(&rd_admin)).await.err(),
            AppError::NotFound,
            "{endpoint}"
        );
    }
    for operation in [
        "SendVerificationCodeForBindSecureMobilePhone",
        "BindSecureMobilePhone",
    ] {
        let body = json!({"AccountId": ACME_ID, "SecureMobilePhone": "+8613100131000", "VerificationCode": "123456"});
        let (status, value) = api(&app, operation, body, Some(&rd_admin)).await;
        assert_eq!(status, 404, "{operation}: {value}");
    }
    assert_same(&before, &snapshot(&app.services.db.pool).await);
    println!(
        "RESULT [{}] owner flow: {refused} calls by RAM users, roles, SSO and administrators refused (OwnerOnly)",
        common::backend()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_administrators_api_calls_never_reach_another_directory() {
    capture();
    let app = spawn().await;
    add_second_directory(&app).await;
    let acme = app.sign_in("rd-admin@acme").await;
    let globex = app.sign_in("admin@globex.example").await;
    let before = snapshot(&app.services.db.pool).await;
    for (token, member, who) in [
        (
            &acme,
            GLOBEX_MEMBER,
            "Acme's administrator on Globex's member",
        ),
        (&globex, SANDBOX, "Globex's owner on Acme's member"),
    ] {
        for operation in [
            "SendVerificationCodeForBindSecureMobilePhone",
            "BindSecureMobilePhone",
        ] {
            let body = json!({"AccountId": member, "SecureMobilePhone": "+8613100131000", "VerificationCode": "123456"});
            let (status, value) = api(&app, operation, body, Some(token)).await;
            assert_eq!(
                (status, value["Code"].as_str()),
                (404, Some("EntityNotExist.Account")),
                "{who} {operation}: {value}"
            );
        }
        // Not even by the member's phone in the console's search, nor its events.
        let reply = app
            .call("rd_member_events", &[("account_id", member)], Some(token))
            .await;
        assert_eq!(reply.err(), AppError::NotFound, "{who}");
    }
    assert_same(&before, &snapshot(&app.services.db.pool).await);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Headers

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    capture();
    let app = spawn().await;
    let alice = app.sign_in("alice@example.com").await;
    let admin = app.sign_in("rd-admin@acme").await;
    let mut responses: Vec<(String, reqwest::Response)> = Vec::new();
    for (path, token) in [
        ("/login", None),
        ("/overview", Some(&alice)),
        ("/security", Some(&alice)),
        ("/overview", None),
        ("/resource-directory/management", Some(&admin)),
        (
            &*format!("/resource-directory/members/{SANDBOX}"),
            Some(&admin),
        ),
        ("/resource-directory/management", Some(&alice)),
        ("/dev/outbox", None),
        ("/dev/outbox.json", None),
        ("/dev/sso", None),
        ("/healthz", None),
        ("/favicon.svg", None),
        ("/no-such-page", None),
    ] {
        responses.push((
            format!("GET {path}"),
            app.get(path, token.map(String::as_str)).await,
        ));
    }
    let cookie = format!("__Host-session={alice}");
    responses.push((
        "POST /api/me".into(),
        raw_post(
            &app,
            "/api/me",
            &[("Origin", &app.base), ("Cookie", &cookie)],
            Vec::new(),
            "application/x-www-form-urlencoded",
        )
        .await,
    ));
    responses.push((
        "POST /api/me signed out".into(),
        raw_post(
            &app,
            "/api/me",
            &[("Origin", &app.base)],
            Vec::new(),
            "application/x-www-form-urlencoded",
        )
        .await,
    ));
    responses.push((
        "POST /api/me cross-site".into(),
        raw_post(
            &app,
            "/api/me",
            &[("Origin", "https://evil.example")],
            Vec::new(),
            "application/x-www-form-urlencoded",
        )
        .await,
    ));
    responses.push((
        "POST /api/no_such_fn".into(),
        raw_post(
            &app,
            "/api/no_such_fn",
            &[("Origin", &app.base)],
            Vec::new(),
            "application/x-www-form-urlencoded",
        )
        .await,
    ));
    responses.push((
        "POST /api/v1 signed out".into(),
        raw_post(
            &app,
            "/api/v1/BindSecureMobilePhone",
            &[("Origin", &app.base)],
            b"{}".to_vec(),
            "application/json",
        )
        .await,
    ));
    let admin_cookie = format!("__Host-session={admin}");
    responses.push((
        "POST /api/v1 refused".into(),
        raw_post(
            &app,
            "/api/v1/BindSecureMobilePhone",
            &[("Origin", &app.base), ("Cookie", &admin_cookie)],
            b"{}".to_vec(),
            "application/json",
        )
        .await,
    ));
    for (what, response) in &responses {
        let h = response.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("no CSP on {what}"))
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(
            csp.contains("default-src") && csp.contains("object-src 'none'"),
            "{what}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}"
        );
        assert!(h.get("referrer-policy").is_some(), "{what}");
        assert_eq!(
            h.get("x-frame-options").map(|v| v.to_str().unwrap()),
            Some("DENY"),
            "{what}"
        );
        if !what.contains("favicon") {
            assert_eq!(
                h.get("cache-control").map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{what}"
            );
        }
    }
    println!(
        "RESULT [{}] headers: {} responses (pages, redirects, 404, API and errors) all carry CSP, nosniff, referrer-policy, frame denial",
        common::backend(),
        responses.len()
    );
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
        c.deliver = true;
        c.sms.endpoint = "http://127.0.0.1:9/".into();
        c.sms.access_key_id = "LTAI-log-test".into();
        c.sms.access_key_secret = app::ssr::config::Secret(sms_secret.into());
        c.sms.sign_name = "Account Center".into();
        c.sms.code_template = "SMS_1".into();
        c.sms.notice_template = "SMS_2".into();
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = 9;
        c.smtp.security = "none".into();
        c.smtp.from = "Account Center <no-reply@example.test>".into();
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
    let _: CodeSent = app
        .call("send_identity_code", &[("method", "sms")], Some(&alice))
        .await
        .ok();
    let code = app.latest_code(ALICE_PHONE).await.unwrap();
    let _ = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", wrong_code(&code))],
            Some(&alice),
        )
        .await;
    let _: () = app
        .call(
            "verify_identity",
            &[("method", "sms"), ("code", &code)],
            Some(&alice),
        )
        .await
        .ok();
    let _: CodeSent = app
        .call(
            "send_new_phone_code",
            &[("number", "13512345678")],
            Some(&alice),
        )
        .await
        .ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    let changed = app
        .call(
            "confirm_phone_change",
            &[("number", "13512345678"), ("code", &code)],
            Some(&alice),
        )
        .await;
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
    let _: () = app
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
    let _: CodeSent = app
        .call(
            "send_identity_code",
            &[("method", "email"), ("intent", "bind_totp")],
            Some(&alice),
        )
        .await
        .ok();
    let code = app.latest_code("alice@example.com").await.unwrap();
    let _: () = app
        .call(
            "verify_identity",
            &[
                ("method", "email"),
                ("code", &code),
                ("intent", "bind_totp"),
            ],
            Some(&alice),
        )
        .await
        .ok();
    let enrollment: TotpEnrollment = app.call("totp_begin", &[], Some(&alice)).await.ok();
    let first = totp_at(&enrollment.secret, now(&app));
    typed_codes.push(first.clone());
    let bound = app
        .call("totp_confirm", &[("code", &first)], Some(&alice))
        .await;
    let _: () = bound.ok();
    let alice = bound.session_token().unwrap();
    tokens.push(alice.clone());
    app.clock.advance_secs(30);
    let next = totp_at(&enrollment.secret, now(&app));
    typed_codes.push(next.clone());
    // A fresh authenticator proves nothing for a phone change; unbinding it again it may.
    let _: () = app
        .call(
            "verify_identity",
            &[
                ("method", "totp"),
                ("code", &next),
                ("intent", "unbind_totp"),
            ],
            Some(&alice),
        )
        .await
        .ok();
    let replay = app
        .call(
            "verify_identity",
            &[
                ("method", "totp"),
                ("code", &next),
                ("intent", "unbind_totp"),
            ],
            Some(&alice),
        )
        .await;
    assert_eq!(replay.err(), AppError::CodeIncorrectOrExpired);
    let _: String = app
        .call(
            "file_appeal",
            &[
                ("new_phone", "13612345601"),
                ("contact_email", "alice.backup@example.org"),
                ("reason", "lost"),
            ],
            Some(&alice),
        )
        .await
        .ok();

    // Password recovery for Bob, then his new password.
    let (_, _, recovery) = forgot(&app, "bob@example.com").await;
    let recovery = recovery.unwrap();
    tokens.push(recovery.split_once('=').unwrap().1.to_string());
    let code = app.latest_code(BOB_PHONE).await.unwrap();
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
        .call(
            "sign_in",
            &[("account", "bob@example.com"), ("password", new_password)],
            None,
        )
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
    let _ = app
        .call("send_identity_code", &[("method", "sms")], Some(&role))
        .await;

    // Resource Management: the console and the API, a wrong code included.
    let admin = app.sign_in("rd-admin@acme").await;
    tokens.push(admin.clone());
    let _: CodeSent = app
        .call(
            "rd_send_code",
            &[("account_id", SANDBOX), ("phone", "+8613100131235")],
            Some(&admin),
        )
        .await
        .ok();
    let code = app.latest_code("+8613100131235").await.unwrap();
    let _ = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131235"),
                ("code", wrong_code(&code)),
            ],
            Some(&admin),
        )
        .await;
    let _: app::model::MemberView = app
        .call(
            "rd_bind_phone",
            &[
                ("account_id", SANDBOX),
                ("phone", "+8613100131235"),
                ("code", &code),
            ],
            Some(&admin),
        )
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
    let _ = app
        .call("me", &[], Some("0123456789abcdef0123456789abcdef"))
        .await;
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
    println!(
        "RESULT [{}] logs: {} lines captured at trace level, checked for {} codes and {} secrets: none found",
        common::backend(),
        logs.lines().count(),
        codes.len(),
        secrets.len()
    );
    app.stop().await;
}
