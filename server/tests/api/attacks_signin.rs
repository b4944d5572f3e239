//! Attack replays against the edge of the app: password guessing (issue 11, path 3), a spoofed
//! `X-Forwarded-For` (path 4), a forged origin and the transport headers, and development mode
//! reached from the network. Each test replays the exploit step by step and asserts where it stops.

use crate::common;
use common::Steps;

use app::error::AppError;
use app::model::{Me, PrincipalKind};
use app::ssr::config::{Config, TrustedProxies};
use app::ssr::seed::{ALICE_ID, ALICE_PHONE_SPELLINGS};
use common::fixtures::SANDBOX;
use common::{PASSWORD, TestApp, spawn, spawn_with};
use std::sync::Arc;

/// One wrong-password attempt; the answer the page would show.
async fn guess(app: &TestApp, account: &str, password: &str) -> Result<(), AppError> {
    let reply = app
        .call(
            "sign_in",
            &[("account", account), ("password", password)],
            None,
        )
        .await;
    if reply.status < 300 {
        Ok(())
    } else {
        Err(reply.err())
    }
}

/// How many of `answers` were a checked, wrong password and how many were turned away unchecked.
fn tally(answers: &[Result<(), AppError>]) -> (usize, usize) {
    let checked = answers
        .iter()
        .filter(|a| matches!(a, Err(AppError::BadCredentials)))
        .count();
    let throttled = answers
        .iter()
        .filter(|a| matches!(a, Err(AppError::SignInThrottled)))
        .count();
    assert_eq!(
        checked + throttled,
        answers.len(),
        "every wrong guess is told one of two things: {answers:?}"
    );
    (checked, throttled)
}

// ---------------------------------------------------------------------------------------------
// Path 3: unlimited password guessing.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn forty_concurrent_wrong_guesses_let_at_most_the_cap_reach_the_password_check() {
    let app = Arc::new(spawn().await);
    let cap = app.services.config.limits.sign_in_failures_per_account as usize;
    // The attacker fires 40 guesses at once, so none of them can see another's failure.
    let guesses = (0..40).map(|i| {
        let app = app.clone();
        async move { guess(&app, "alice@example.com", &format!("guess-{i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let (checked, throttled) = tally(&answers);
    println!(
        "40 concurrent wrong guesses: {checked} reached the password check, {throttled} throttled (cap {cap})"
    );
    assert!(
        checked <= cap,
        "{checked} guesses reached the password check, cap {cap}"
    );
    assert!(checked > 0);
    // The account's window counter says the same: one slot per password checked.
    let slots = app
        .count(
            "SELECT COALESCE(MAX(hits), 0) FROM rate_counters WHERE scope = $1",
            &format!("signin:acct:{ALICE_ID}"),
        )
        .await;
    assert_eq!(slots as usize, checked);
    // And the owner's right password is now refused too, in the same words, until the window ends.
    assert_eq!(
        guess(&app, "alice@example.com", PASSWORD).await,
        Err(AppError::SignInThrottled)
    );
    Arc::into_inner(app).unwrap().stop().await;
}

#[tokio::test]
async fn seven_spellings_of_one_number_and_the_email_share_one_budget() {
    let app = spawn().await;
    let cap = app.services.config.limits.sign_in_failures_per_account as usize;
    let mut spellings = ALICE_PHONE_SPELLINGS.to_vec();
    spellings.push("Alice@Example.com");
    // The attacker rotates through every way of writing Alice's account, five rounds.
    let mut answers = Vec::new();
    for round in 0..5 {
        for &account in &spellings {
            answers.push(guess(&app, account, &format!("guess-{round}")).await);
        }
    }
    let (checked, throttled) = tally(&answers);
    println!(
        "{} guesses over 7 spellings and the email: {checked} reached the password check, {throttled} throttled (cap {cap})",
        answers.len()
    );
    assert_eq!(
        checked, cap,
        "one budget for the account, however it is written"
    );
    // Bob's budget is his own: Alice's attacker did not lock him out.
    app.sign_in("bob@example.com").await;
    app.stop().await;
}

#[tokio::test]
async fn every_spelling_of_the_number_signs_its_owner_in() {
    let app = spawn().await;
    for account in ["+86 138 0013 8000", "008613800138000", "86-13800138000"] {
        let token = app.sign_in(account).await;
        let me: Me = app.me(&token).await.ok();
        assert_eq!(me.account_id, ALICE_ID, "{account}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_consecutive_failure_ceiling_holds_across_windows_and_a_success_resets_it() {
    let app = spawn().await;
    let limits = app.services.config.limits.clone();
    let per_window = limits.sign_in_failures_per_account as usize;
    let ceiling = limits.sign_in_consecutive_failures as usize;
    assert_eq!(ceiling, 20, "the default ceiling");
    let next_window = || app.clock.advance_secs(limits.sign_in_window_secs);

    // Alice's attacker spends each window's budget, then waits for the next window.
    let mut checked = 0;
    for window in 0..4 {
        let mut answers = Vec::new();
        for i in 0..per_window {
            answers.push(guess(&app, "alice@example.com", &format!("w{window}-{i}")).await);
        }
        checked += tally(&answers).0;
        next_window();
    }
    println!("wrong guesses allowed over 4 windows: {checked} (ceiling {ceiling})");
    assert_eq!(checked, ceiling, "the ceiling outlives the windows");
    // Locked: a fresh window does not help, and not even the right password passes.
    assert_eq!(
        guess(&app, "alice@example.com", "one-more").await,
        Err(AppError::SignInThrottled)
    );
    assert_eq!(
        guess(&app, "alice@example.com", PASSWORD).await,
        Err(AppError::SignInThrottled)
    );

    // Bob fails one short of the ceiling, over two windows, then signs in: his streak is over.
    let mut left = ceiling - 1;
    while left > 0 {
        for i in 0..left.min(per_window) {
            assert_eq!(
                guess(&app, "bob@example.com", &format!("{left}-{i}")).await,
                Err(AppError::BadCredentials)
            );
        }
        left -= left.min(per_window);
        next_window();
    }
    app.sign_in("bob@example.com").await;
    // A whole ceiling of wrong guesses again, window by window, before he is refused.
    let mut answers = Vec::new();
    for window in 0..ceiling.div_ceil(per_window) + 1 {
        for i in 0..per_window {
            answers.push(guess(&app, "bob@example.com", &format!("again-{window}-{i}")).await);
        }
        next_window();
    }
    assert_eq!(
        tally(&answers).0,
        ceiling,
        "a success started the streak anew"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_account_is_answered_exactly_like_a_known_one() {
    let app = spawn().await;
    let per_window = app.services.config.limits.sign_in_failures_per_account as usize;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..per_window + 3 {
        known.push(guess(&app, "bob@example.com", &format!("g{i}")).await);
        unknown.push(guess(&app, "nobody@example.com", &format!("g{i}")).await);
    }
    assert_eq!(known, unknown);
    assert_eq!(tally(&known), (per_window, 3));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Path 4: a spoofed X-Forwarded-For.
// ---------------------------------------------------------------------------------------------

/// The directory administrator asks for codes to fresh numbers, each request claiming a new client
/// address in the leftmost `X-Forwarded-For` entry; the one proxy in front (the test client, from
/// 127.0.0.1) appends the address it really saw. Returns how many codes were sent.
async fn codes_sent_under_a_rotating_forwarded_for(app: &TestApp, requests: usize) -> usize {
    let admin = app.sign_in("rd-admin@acme").await;
    let mut sent = 0;
    for i in 0..requests {
        let phone = format!("+86131001310{i:02}");
        let response = app
            .http
            .post(app.url("/api/rd_send_code"))
            .header("Origin", &app.base)
            .header("Accept", "application/json")
            .header("Cookie", format!("__Host-session={admin}"))
            .header(
                "X-Forwarded-For",
                format!("198.51.100.{}, 203.0.113.7", i + 1),
            )
            .form(&[("account_id", SANDBOX), ("phone", phone.as_str())])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        if status < 300 {
            sent += 1;
        } else {
            let error: AppError = serde_json::from_str(&body).unwrap();
            assert_eq!(error, AppError::IpLimitReached, "request {i}");
        }
    }
    sent
}

/// Five codes per client address an hour, with the proxies `trusted` (CIDRs) trusted.
fn five_per_address_behind(trusted: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c| {
        c.trusted_proxies = TrustedProxies::parse(trusted).unwrap();
        c.limits.codes_per_ip_per_hour = 5;
    }
}

/// Twelve code requests under rotating X-Forwarded-For values (the proxy setting `behind`)
/// get five codes: the per-IP limit stops the rotation.
async fn assert_the_rotation_is_stopped(app: &TestApp, behind: &str) {
    let sent = codes_sent_under_a_rotating_forwarded_for(app, 12).await;
    println!("codes sent under 12 rotating X-Forwarded-For values ({behind}, cap 5): {sent}");
    assert_eq!(sent, 5, "the per-IP limit stops the rotation");
}

#[tokio::test]
async fn a_rotating_forwarded_for_behind_one_trusted_proxy_counts_against_one_address() {
    let app = spawn_with(|c| {
        c.trust_proxy = true;
        c.limits.codes_per_ip_per_hour = 5;
    })
    .await;
    assert_the_rotation_is_stopped(&app, "APP_TRUST_PROXY=true").await;
    app.stop().await;
}

#[tokio::test]
async fn a_rotating_forwarded_for_behind_trusted_cidrs_counts_against_one_address() {
    let app = spawn_with(five_per_address_behind("127.0.0.0/8, 10.0.0.0/8")).await;
    assert_the_rotation_is_stopped(&app, "APP_TRUSTED_PROXIES=127.0.0.0/8").await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_is_no_trusted_proxy_cannot_speak_for_others() {
    // Only 10.0.0.0/8 is trusted: the test client at 127.0.0.1 is a client like any other, and
    // every X-Forwarded-For it writes is ignored.
    let app = spawn_with(five_per_address_behind("10.0.0.0/8")).await;
    assert_eq!(codes_sent_under_a_rotating_forwarded_for(&app, 8).await, 5);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Transport and origin.
// ---------------------------------------------------------------------------------------------

/// Refused as cross-site (403), with no cookie set.
fn assert_refused_without_a_cookie(response: &reqwest::Response) {
    assert_eq!(response.status().as_u16(), 403);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_forged_origin_with_a_rewritten_host_is_refused() {
    let app = spawn().await;
    let response = app
        .http
        .post(app.url("/api/sign_in"))
        .header("Origin", "http://evil.example")
        .header("Host", "evil.example")
        .form(&[("account", "alice@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_refused_without_a_cookie(&response);
    app.stop().await;
}

#[tokio::test]
async fn production_sends_strict_transport_security_on_every_response() {
    let app = spawn_with(common::production).await;
    let mut responses = Vec::new();
    for path in ["/login", "/healthz", "/no-such-page", "/overview"] {
        responses.push((format!("GET {path}"), app.get(path, None).await));
    }
    responses.push((
        "POST /api/sign_in".into(),
        app.http
            .post(app.url("/api/sign_in"))
            .header("Origin", &app.base)
            .form(&[("account", "nobody@example.com"), ("password", "x")])
            .send()
            .await
            .unwrap(),
    ));
    for (what, response) in responses {
        assert_eq!(
            response
                .headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=63072000; includeSubDomains"),
            "{what}"
        );
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Development mode.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dev_sso_shows_a_form_and_only_a_post_signs_in() {
    let app = spawn().await;
    let page = app.get("/dev/sso", None).await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers().get("set-cookie").is_none(),
        "GET signs no one in"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("method=\"post\""), "{html}");
    assert!(html.contains("action=\"/dev/sso\""), "{html}");

    let response = app
        .http
        .post(app.url("/dev/sso"))
        .header("Origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    let token =
        app::ssr::session::token_from_cookie_header(cookie.split(';').next().unwrap()).unwrap();
    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.kind, PrincipalKind::Sso);
    app.stop().await;
}

#[tokio::test]
async fn dev_sso_from_another_site_is_refused() {
    let app = spawn().await;
    let response = app
        .http
        .post(app.url("/dev/sso"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_refused_without_a_cookie(&response);
    app.stop().await;
}

/// Development mode started on every interface (0.0.0.0), reached here through 127.0.0.1.
async fn spawn_on_all_interfaces() -> (server::Running, common::TestDb, String) {
    let (db, url) = common::TestDb::create().await;
    let config = app::ssr::config::Config {
        database_url: url,
        worker_poll_ms: 50,
        ..app::ssr::config::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let running = server::start(config, common::leptos_options(), listener, None)
        .await
        .expect("an explicit development mode starts there");
    let base = format!("http://127.0.0.1:{}", running.addr.port());
    (running, db, base)
}

#[tokio::test]
async fn development_routes_are_404_when_the_server_listens_beyond_loopback() {
    let (running, db, base) = spawn_on_all_interfaces().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/dev/outbox", "/dev/outbox.json", "/dev/sso"] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 404, "GET {path}");
    }
    let status = http
        .post(format!("{base}/dev/sso"))
        .header("Origin", &base)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404, "POST /dev/sso");
    running.stop().await;
    drop(db);
}
