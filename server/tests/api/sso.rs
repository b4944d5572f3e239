//! Enterprise SSO end to end against a real OpenID Connect provider: the npm package
//! `oidc-provider` (`tests/oidc/provider.mjs`), started on loopback by each test. The test plays
//! the browser: it starts the sign-in at the console, fills in the provider's own login and
//! consent forms over HTTP, and brings the provider's redirect back to the console's callback.

use crate::helpers::fixtures::{ALICE_EMAIL, BLOCKED};
use crate::helpers::{Method, Steps, TestApp, cookie_starting, spawn};
use app::api::sso::{SsoFailure, SsoSettingsView, UserClaim};
use app::error::AppError;
use app::model::{Me, PrincipalKind};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_ID: &str = "console";
const CLIENT_SECRET: &str = "console-client-secret-0123456789abcdef";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// `npm ci` in `tests/oidc` when its `node_modules` is missing (scripts/install.sh does it too);
/// one test at a time installs, the others wait for it.
fn ensure_provider_installed() {
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = oidc_dir();
    if *done || dir.join("node_modules/oidc-provider/package.json").exists() {
        *done = true;
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm runs (Node.js is needed for the SSO tests)");
    assert!(status.success(), "npm ci in {}", dir.display());
    *done = true;
}

/// A running provider; the process ends when this is dropped.
struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

async fn start_provider(config: serde_json::Value) -> Provider {
    ensure_provider_installed();
    let mut child = tokio::process::Command::new("node")
        .arg(oidc_dir().join("provider.mjs"))
        .arg(config.to_string())
        .current_dir(oidc_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts the provider");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening ") {
                return url.to_string();
            }
        }
        panic!("the provider ended before it listened");
    })
    .await
    .expect("the provider listens within 30 s");
    // Keep reading what it prints: a closed pipe would end it at its next notice.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider {
        issuer,
        _child: child,
    }
}

fn client(id: &str, app: &TestApp) -> serde_json::Value {
    json!({
        "client_id": id,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [app.url("/sso/callback")],
    })
}

/// A provider that knows the console's client.
async fn provider_for(app: &TestApp) -> Provider {
    start_provider(json!({ "clients": [client(CLIENT_ID, app)] })).await
}

/// The owner's save of the settings, as the page sends it.
async fn save_settings(
    app: &TestApp,
    token: &str,
    issuer: &str,
    claim: &str,
    directory_access: bool,
) -> crate::helpers::Reply {
    let mut form = vec![
        ("issuer_url", issuer),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("user_claim", claim),
    ];
    if directory_access {
        form.push(("directory_access", "on"));
    }
    app.call("save_sso_settings", &form, Some(token)).await
}

/// Alice's account set up for SSO through `provider`.
async fn alice_with(app: &TestApp, provider: &Provider) -> String {
    let owner = app.sign_in(ALICE_EMAIL).await;
    let view: SsoSettingsView =
        save_settings(app, &owner, &provider.issuer, "preferred_username", false)
            .await
            .ok();
    assert!(view.configured);
    owner
}

/// A sign-in on its way to the provider: the authorization URL and the attempt's cookie.
struct Started {
    url: String,
    browser: String,
}

/// The SSO page's call: the answer, or the refusal the page would show.
async fn try_begin(app: &TestApp, alias: &str) -> Result<Started, AppError> {
    let response = app
        .http
        .post(app.url("/api/sso_begin"))
        .header("Origin", &app.base)
        .header("Accept", "application/json")
        .form(&[("alias", alias)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cookie = cookie_starting(response.headers(), "__Host-sso-attempt=");
    let body = response.text().await.unwrap();
    if status >= 400 {
        let error: AppError = serde_json::from_str(&body).unwrap();
        assert_eq!(status, error.status(), "the status of {error:?}");
        return Err(error);
    }
    let url: String = serde_json::from_str(&body).unwrap();
    let cookie = cookie.expect("the attempt's cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    let browser = crate::helpers::cookie_value(&cookie);
    Ok(Started { url, browser })
}

async fn begin(app: &TestApp, alias: &str) -> Started {
    try_begin(app, alias)
        .await
        .unwrap_or_else(|e| panic!("SSO start for {alias}: {e:?}"))
}

/// The hidden fields and the action of the (one) form of a provider page.
fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].replace("&amp;", "&").replace("&#x2F;", "/"))
    };
    let form_at = html.find("<form").expect("a form on the provider's page");
    let form_tag = &html[form_at..form_at + html[form_at..].find('>').unwrap()];
    let action = attr(form_tag, "action").expect("the form's action");
    let mut fields = Vec::new();
    for input in html.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if tag.contains("type=\"hidden\"")
            && let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value"))
        {
            fields.push((name, value));
        }
    }
    (action, fields)
}

/// Plays the user at the provider: follows its redirects, signs in as `login` on its login
/// form, confirms its consent form, and answers the URL the provider sends the browser back to.
async fn sign_in_at_provider(app: &TestApp, started: &Started, login: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = reqwest::Url::parse(&started.url).unwrap();
    let mut response = browser.get(url.clone()).send().await.unwrap();
    for _ in 0..12 {
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            let next = url.join(&location).unwrap();
            if next.as_str().starts_with(&app.url("/sso/callback")) {
                return next.to_string();
            }
            url = next;
            response = browser.get(url.clone()).send().await.unwrap();
            continue;
        }
        assert!(
            response.status().is_success(),
            "the provider answered {}",
            response.status()
        );
        let html = response.text().await.unwrap();
        let (action, mut fields) = form_of(&html);
        if html.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any password".into()));
        }
        url = url.join(&action).unwrap();
        response = browser
            .post(url.clone())
            .form(&fields)
            .send()
            .await
            .unwrap();
    }
    panic!("the provider never sent the browser back to the console");
}

/// The browser's arrival at the console's callback, with the attempt's cookie when `browser`.
async fn arrive(app: &TestApp, callback: &str, browser: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(callback);
    if let Some(token) = browser {
        request = request.header("Cookie", format!("__Host-sso-attempt={token}"));
    }
    request.send().await.unwrap()
}

/// The session a callback answer started, if any.
fn session_of(response: &reqwest::Response) -> Option<String> {
    let cookie = cookie_starting(response.headers(), "__Host-session=")?;
    app::ssr::session::token_from_cookie_header(cookie.split(';').next()?).filter(|t| !t.is_empty())
}

/// The callback refused with `failure`: back to the SSO page with its code, and no session.
fn assert_refused(response: &reqwest::Response, failure: SsoFailure) {
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("/login/sso?error={}", failure.code())
    );
    assert_eq!(session_of(response), None, "no session after {failure:?}");
}

async fn sso_sessions(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM sessions WHERE principal_kind = $1",
        "sso",
    )
    .await
}

/// A sign-in on its way back from the provider: the URL it sends the browser to, and the
/// attempt's cookie that browser holds.
struct Callback {
    url: String,
    browser: String,
}

impl Callback {
    /// The browser that started the sign-in arrives at the callback.
    async fn arrive(&self, app: &TestApp) -> reqwest::Response {
        arrive(app, &self.url, Some(&self.browser)).await
    }
}

/// A sign-in started at `alias` and done at the provider as `login`, not yet back.
async fn at_the_callback(app: &TestApp, alias: &str, login: &str) -> Callback {
    let started = begin(app, alias).await;
    let url = sign_in_at_provider(app, &started, login).await;
    Callback {
        url,
        browser: started.browser,
    }
}

/// The app and a provider that knows the console.
async fn spawn_with_provider() -> (TestApp, Provider) {
    let app = spawn().await;
    let provider = provider_for(&app).await;
    (app, provider)
}

/// The app and a provider started with the settings `config` gives for it, and Alice's account
/// set up for that provider.
async fn spawn_with_alice_at(
    config: impl FnOnce(&TestApp) -> serde_json::Value,
) -> (TestApp, Provider) {
    let app = spawn().await;
    let provider = start_provider(config(&app)).await;
    alice_with(&app, &provider).await;
    (app, provider)
}

/// The app with a provider that knows the console, and Alice's account set up for it.
async fn spawn_with_alice_sso() -> (TestApp, Provider) {
    spawn_with_alice_at(|app| json!({ "clients": [client(CLIENT_ID, app)] })).await
}

/// How many accounts have SSO settings saved.
async fn saved_providers(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM sso_providers WHERE account_id <> $1",
        "",
    )
    .await
}

/// The whole sign-in as `login` at `alias`: the SSO session's token.
async fn sso_sign_in(app: &TestApp, alias: &str, login: &str) -> String {
    let response = at_the_callback(app, alias, login).await.arrive(app).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/overview");
    session_of(&response).expect("an SSO session")
}

#[tokio::test]
async fn an_sso_sign_in_through_the_provider_is_an_sso_session_that_cannot_change_the_phone() {
    let (app, provider) = spawn_with_alice_sso().await;

    let started = begin(&app, "Alice").await;
    assert!(
        started
            .url
            .starts_with(&format!("{}/auth?", provider.issuer))
    );
    for part in [
        "response_type=code",
        "client_id=console",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid+profile",
    ] {
        assert!(started.url.contains(part), "{part} in {}", started.url);
    }
    let callback = sign_in_at_provider(&app, &started, "jane").await;
    let response = arrive(&app, &callback, Some(&started.browser)).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/overview");
    let cleared = cookie_starting(response.headers(), "__Host-sso-attempt=").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let token = session_of(&response).expect("an SSO session");

    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.kind, PrincipalKind::Sso);
    assert_eq!(me.name, "jane@alice");
    assert!(!me.can_manage_directory);
    let page = app.page("/overview", Some(&token)).await;
    assert!(
        page.contains("jane@alice") && page.contains("SSO user"),
        "{page}"
    );

    // SPEC 1: every step of a phone change is refused, with the blocked message.
    let refused = app.send_identity_code(&token, Method::Sms).await.err();
    assert_eq!(refused, AppError::OwnerOnly);
    assert_eq!(refused.to_string(), BLOCKED);
    for (endpoint, form) in [
        ("identity_options", vec![]),
        ("check_new_phone", vec![("number", "13512345678")]),
        ("send_new_phone_code", vec![("number", "13512345678")]),
        (
            "confirm_phone_change",
            vec![("number", "13512345678"), ("code", "123456")],
        ),
    ] {
        assert_eq!(
            app.call(endpoint, &form, Some(&token)).await.err(),
            AppError::OwnerOnly,
            "{endpoint}"
        );
    }
    assert_eq!(app.outbox_count("+8613800138000").await, 0);
    // Nor may it see or change the SSO settings.
    assert_eq!(
        app.call("sso_settings", &[], Some(&token)).await.err(),
        AppError::Forbidden
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'sso_sign_in' AND principal_name = $1",
            "jane@alice"
        )
        .await,
        1
    );
    // The attempt was used up.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sso_attempts WHERE account_id <> $1",
            ""
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn a_tampered_state_a_replayed_callback_and_another_browser_start_no_session() {
    let (app, _provider) = spawn_with_alice_sso().await;

    let callback = at_the_callback(&app, "alice", "jane").await;
    let mut url = reqwest::Url::parse(&callback.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let state = &pairs.iter().find(|(k, _)| k == "state").unwrap().1;
    let mut tampered_state = state.clone();
    let last = tampered_state.pop().unwrap();
    tampered_state.push(if last == '0' { '1' } else { '0' });
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            (
                k.as_str(),
                if k == "state" {
                    tampered_state.as_str()
                } else {
                    v.as_str()
                },
            )
        }));
    assert_refused(
        &arrive(&app, url.as_str(), Some(&callback.browser)).await,
        SsoFailure::InvalidState,
    );
    assert_refused(
        &arrive(
            &app,
            &app.url("/sso/callback?code=x"),
            Some(&callback.browser),
        )
        .await,
        SsoFailure::InvalidState,
    );
    assert_eq!(sso_sessions(&app).await, 0);

    // The untouched answer still signs in, once.
    let response = callback.arrive(&app).await;
    assert!(session_of(&response).is_some());
    assert_refused(&callback.arrive(&app).await, SsoFailure::InvalidState);

    // A victim's browser brought to someone else's callback (login CSRF) is not signed in.
    let callback = at_the_callback(&app, "alice", "mallory").await;
    assert_refused(
        &arrive(&app, &callback.url, None).await,
        SsoFailure::InvalidState,
    );
    assert_refused(
        &arrive(&app, &callback.url, Some(&"0".repeat(32))).await,
        SsoFailure::InvalidState,
    );
    assert_eq!(sso_sessions(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_id_token_issued_for_another_client_is_refused() {
    // The provider signs the console's tokens as if for client `partner`.
    let (app, _provider) = spawn_with_alice_at(|app| {
        json!({
            "clients": [client(CLIENT_ID, app), client("partner", app)],
            "misdirect_audience": { "from": CLIENT_ID, "to": "partner" },
        })
    })
    .await;
    let callback = at_the_callback(&app, "alice", "jane").await;
    assert_refused(&callback.arrive(&app).await, SsoFailure::WrongAudience);
    assert_eq!(sso_sessions(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    // ID tokens live a minute; the console's clock is two minutes on when the browser is back
    // (the attempt itself, five minutes, is still alive).
    let (app, _provider) = spawn_with_alice_at(
        |app| json!({ "clients": [client(CLIENT_ID, app)], "id_token_ttl": 60 }),
    )
    .await;
    let callback = at_the_callback(&app, "alice", "jane").await;
    app.clock.advance_secs(120);
    assert_refused(&callback.arrive(&app).await, SsoFailure::TokenExpired);
    assert_eq!(sso_sessions(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_sign_in_attempt_lives_five_minutes() {
    let (app, _provider) = spawn_with_alice_sso().await;
    let callback = at_the_callback(&app, "alice", "jane").await;
    app.clock.advance_secs(301);
    assert_refused(&callback.arrive(&app).await, SsoFailure::InvalidState);
    app.stop().await;
}

#[tokio::test]
async fn unknown_aliases_accounts_without_sso_and_an_unreachable_provider_are_told_apart_from_success()
 {
    let app = spawn().await;
    assert_eq!(
        try_begin(&app, "no-such-alias").await.err(),
        Some(AppError::Sso(SsoFailure::NotAvailable))
    );
    // Bob has no identity provider: the same answer, so the page does not tell which aliases exist.
    assert_eq!(
        try_begin(&app, "bob").await.err(),
        Some(AppError::Sso(SsoFailure::NotAvailable))
    );
    for bad in ["", "alice@example.com", "a b"] {
        assert_eq!(
            try_begin(&app, bad).await.err(),
            Some(AppError::Sso(SsoFailure::InvalidAlias)),
            "{bad:?}"
        );
    }
    let provider = provider_for(&app).await;
    alice_with(&app, &provider).await;
    let callback = at_the_callback(&app, "alice", "jane").await;
    drop(provider);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Gone between the redirect and the callback, and gone at the next start.
    assert_refused(
        &callback.arrive(&app).await,
        SsoFailure::ProviderUnreachable,
    );
    assert_eq!(
        try_begin(&app, "alice").await.err(),
        Some(AppError::Sso(SsoFailure::ProviderUnreachable))
    );
    assert_eq!(sso_sessions(&app).await, 0);
    // The page shows each reason in an alert.
    let page = app
        .page("/login/sso?error=Sso.ProviderUnreachable", None)
        .await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(
        page.contains("The identity provider could not be reached."),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_the_owner_manages_sso_and_the_client_secret_never_comes_back() {
    let (app, provider) = spawn_with_provider().await;
    let ram = app.sign_in("dev@alice").await;
    let sso = crate::helpers::fixtures::sso_token(&app).await;
    for token in [&ram, &sso] {
        assert_eq!(
            app.call("sso_settings", &[], Some(token)).await.err(),
            AppError::Forbidden
        );
        assert_eq!(
            save_settings(&app, token, &provider.issuer, "email", true)
                .await
                .err(),
            AppError::Forbidden
        );
        assert_eq!(
            app.call("delete_sso_settings", &[], Some(token))
                .await
                .err(),
            AppError::Forbidden
        );
        let page = app.page("/ram/sso", Some(token)).await;
        assert!(page.contains("Access denied"), "{page}");
    }
    assert_eq!(saved_providers(&app).await, 0);

    let owner = app.sign_in(ALICE_EMAIL).await;
    // Bad input is refused with its reason, and nothing is saved.
    for (issuer, claim, reason) in [
        ("not a url", "email", "issuer URL"),
        ("ftp://127.0.0.1/", "email", "issuer URL"),
        ("http://idp.example.com", "email", "https"),
        (provider.issuer.as_str(), "nickname", "claim"),
        ("http://127.0.0.1:9", "email", "could not be reached"),
    ] {
        let error = save_settings(&app, &owner, issuer, claim, false)
            .await
            .err();
        assert!(
            matches!(&error, AppError::InvalidInput(_)) && error.to_string().contains(reason),
            "{issuer} {claim}: {error:?}"
        );
    }
    assert_eq!(saved_providers(&app).await, 0);

    let reply = save_settings(&app, &owner, &provider.issuer, "email", true).await;
    assert!(!reply.body.contains(CLIENT_SECRET));
    let view: SsoSettingsView = reply.ok();
    assert!(view.configured && view.secret_saved && view.directory_access);
    assert_eq!(view.user_claim, UserClaim::Email);
    assert_eq!(view.redirect_uri, app.url("/sso/callback"));
    let read = app.call("sso_settings", &[], Some(&owner)).await;
    assert!(!read.body.contains(CLIENT_SECRET));
    let (sealed,): (String,) = sqlx::query_as("SELECT client_secret_sealed FROM sso_providers")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(CLIENT_SECRET));
    let page = app.page("/ram/sso", Some(&owner)).await;
    assert!(page.contains(&app.url("/sso/callback")) && !page.contains(CLIENT_SECRET));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'sso_settings_saved' AND principal_name = $1",
            ALICE_EMAIL
        )
        .await,
        1
    );
    let notices = app.outbox_count(ALICE_EMAIL).await;
    assert!(notices >= 1);

    // Saving again without a secret keeps the saved one: the sign-in still works, by email.
    let keep = [
        ("issuer_url", provider.issuer.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", ""),
        ("user_claim", "email"),
    ];
    let view: SsoSettingsView = app
        .call("save_sso_settings", &keep, Some(&owner))
        .await
        .ok();
    assert!(view.secret_saved && !view.directory_access);
    assert_eq!(app.outbox_count(ALICE_EMAIL).await, notices + 1);
    let token = sso_sign_in(&app, "alice", "jane").await;
    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.name, "jane@idp.example@alice");

    // Turning SSO off ends the account's SSO sessions.
    let _: SsoSettingsView = app
        .call("delete_sso_settings", &[], Some(&owner))
        .await
        .ok();
    assert_eq!(app.me(&token).await.err(), AppError::NotSignedIn);
    assert_eq!(
        try_begin(&app, "alice").await.err(),
        Some(AppError::Sso(SsoFailure::NotAvailable))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_mapped_directory_policy_opens_resource_management_to_sso_sessions() {
    let (app, provider) = spawn_with_provider().await;
    let owner = app.sign_in("admin@acme.example").await;
    let _: SsoSettingsView =
        save_settings(&app, &owner, &provider.issuer, "preferred_username", true)
            .await
            .ok();
    let token = sso_sign_in(&app, "acme", "ops").await;
    let me: Me = app.me(&token).await.ok();
    assert_eq!(
        (me.kind, me.name.as_str()),
        (PrincipalKind::Sso, "ops@acme")
    );
    assert!(me.can_manage_directory);
    let page = app
        .page("/resource-directory/management", Some(&token))
        .await;
    assert!(!page.contains("Access denied"), "{page}");
    // Still no phone change of the account itself.
    assert_eq!(
        app.send_identity_code(&token, Method::Sms).await.err(),
        AppError::OwnerOnly
    );

    // The owner takes the policy away: the live session loses it at its next request.
    let _: SsoSettingsView =
        save_settings(&app, &owner, &provider.issuer, "preferred_username", false)
            .await
            .ok();
    let me: Me = app.me(&token).await.ok();
    assert!(!me.can_manage_directory);
    let page = app
        .page("/resource-directory/management", Some(&token))
        .await;
    assert!(page.contains("Access denied"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn the_sign_in_page_links_to_enterprise_sso() {
    let app = spawn().await;
    let page = app.page("/login", None).await;
    assert!(page.contains("href=\"/login/sso\"") && page.contains("Enterprise SSO"));
    let page = app.page("/login/sso", None).await;
    assert!(page.contains("Account alias") && !page.contains("role=\"alert\""));
    let page = app.page("/login/sso?error=Sso.WrongAudience", None).await;
    assert!(
        page.contains("issued this sign-in for another application"),
        "{page}"
    );
    app.stop().await;
}
