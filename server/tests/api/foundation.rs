//! Sign-in for every principal, sessions, CSRF, headers, the dev outbox and the demo data.

use crate::helpers;
use crate::helpers::Steps;

use app::error::AppError;
use app::model::{Me, PrincipalKind, SignInReply};
use helpers::{PASSWORD, spawn, spawn_as, spawn_with};

#[tokio::test]
async fn each_demo_principal_signs_in_and_sees_the_right_navigation() {
    let app = spawn().await;
    let cases = [
        ("alice@example.com", PrincipalKind::Owner, false),
        ("bob@example.com", PrincipalKind::Owner, false),
        ("admin@acme.example", PrincipalKind::Owner, true),
        ("rd-admin@acme", PrincipalKind::RamUser, true),
        ("viewer@acme", PrincipalKind::RamUser, false),
        ("dev@alice", PrincipalKind::RamUser, false),
    ];
    for (account, kind, manages) in cases {
        let token = app.sign_in(account).await;
        let me: Me = app.me(&token).await.ok();
        assert_eq!(me.kind, kind, "{account}");
        assert_eq!(me.can_manage_directory, manages, "{account}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_and_http_only() {
    let app = spawn().await;
    let reply = app.sign_in_with("alice@example.com", PASSWORD, None).await;
    let cookie = reply.set_cookie.clone().expect("a cookie");
    for flag in [
        "__Host-session=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
    ] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert_eq!(reply.session_token().unwrap().len(), 32);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let app = spawn().await;
    let wrong = app.sign_in_with("alice@example.com", "nope", None).await;
    let unknown = app.sign_in_with("nobody@example.com", "nope", None).await;
    let ram = app.sign_in_with("ghost@alice", "nope", None).await;
    let phone = app.sign_in_with("+8613100131000", "nope", None).await;
    for reply in [&wrong, &unknown, &ram, &phone] {
        assert_eq!(reply.err(), AppError::BadCredentials);
        assert!(reply.set_cookie.is_none());
    }
    assert_eq!(wrong.body, unknown.body);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let app = spawn_with(|c| c.limits.sign_in_failures_per_account = 3).await;
    for _ in 0..3 {
        let reply = app.sign_in_with("bob@example.com", "wrong", None).await;
        assert_eq!(reply.err(), AppError::BadCredentials);
    }
    let reply = app.sign_in_with("bob@example.com", PASSWORD, None).await;
    assert_eq!(reply.err(), AppError::SignInThrottled);
    app.clock
        .advance_secs(app.services.config.limits.sign_in_window_secs);
    app.sign_in("bob@example.com").await;
    app.stop().await;
}

#[tokio::test]
async fn the_bound_phone_signs_in_its_owner() {
    let (app, token) = spawn_as("+8613800138000").await;
    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.account_id, app::ssr::seed::ALICE_ID);
    app.stop().await;
}

#[tokio::test]
async fn a_number_bound_to_several_accounts_asks_which_one() {
    let app = spawn().await;
    let reply = app.sign_in_with("+8613900139000", PASSWORD, None).await;
    let SignInReply::ChooseAccount(choices) = reply.ok() else {
        panic!("expected a choice")
    };
    assert_eq!(choices.len(), 6);
    assert!(reply.set_cookie.is_none());
    let chosen = choices[2].account_id.clone();
    let reply = app
        .call(
            "sign_in",
            &[
                ("account", "+8613900139000"),
                ("password", PASSWORD),
                ("account_id", &chosen),
            ],
            None,
        )
        .await;
    assert_eq!(reply.ok::<SignInReply>(), SignInReply::SignedIn);
    let me: Me = app
        .call("me", &[], reply.session_token().as_deref())
        .await
        .ok();
    assert_eq!(me.account_id, chosen);
    app.stop().await;
}

#[tokio::test]
async fn a_ram_user_switches_to_a_role_with_a_new_token() {
    let (app, token) = spawn_as("dev@alice").await;
    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.switchable_roles, vec!["auditor".to_string()]);
    let reply = app
        .call("switch_role", &[("role", "auditor")], Some(&token))
        .await;
    let _: () = reply.ok();
    let role_token = reply.session_token().unwrap();
    assert_ne!(role_token, token);
    let me: Me = app.me(&role_token).await.ok();
    assert_eq!(me.kind, PrincipalKind::RamRole);
    // The RAM user session it came from is over.
    assert_eq!(app.me(&token).await.err(), AppError::NotSignedIn);
    // A role the user is not trusted for is refused.
    let other = app.sign_in("viewer@acme").await;
    assert_eq!(
        app.call("switch_role", &[("role", "auditor")], Some(&other))
            .await
            .err(),
        AppError::Forbidden
    );
    app.stop().await;
}

#[tokio::test]
async fn dev_sso_signs_in_an_sso_session() {
    let app = spawn().await;
    let response = app.dev_sso().await;
    assert_eq!(response.status().as_u16(), 303);
    let cookie = helpers::set_cookie(&response);
    let token =
        app::ssr::session::token_from_cookie_header(cookie.split(';').next().unwrap()).unwrap();
    let me: Me = app.me(&token).await.ok();
    assert_eq!(me.kind, PrincipalKind::Sso);
    assert_eq!(me.name, "sso-user@alice");
    app.stop().await;
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let (app, token) = spawn_as("alice@example.com").await;
    let reply = app.call("sign_out", &[], Some(&token)).await;
    assert!(reply.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(app.me(&token).await.err(), AppError::NotSignedIn);
    app.stop().await;
}

#[tokio::test]
async fn signing_in_again_rotates_the_token() {
    let (app, first) = spawn_as("alice@example.com").await;
    let second = app.signed_in_from(&first, "alice@example.com").await;
    assert_ne!(first, second);
    assert_eq!(app.me(&first).await.err(), AppError::NotSignedIn);
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_after_12_hours() {
    let (app, token) = spawn_as("alice@example.com").await;
    app.clock.advance_secs(29 * 60);
    let _: Me = app.me(&token).await.ok();
    app.clock.advance_secs(30 * 60);
    assert_eq!(app.me(&token).await.err(), AppError::NotSignedIn);

    // Active all along, a session still ends at 12 hours.
    let token = app.sign_in("alice@example.com").await;
    for _ in 0..26 {
        app.clock.advance_secs(29 * 60);
        if app.me(&token).await.status >= 400 {
            break;
        }
    }
    assert_eq!(app.me(&token).await.err(), AppError::NotSignedIn);
    app.stop().await;
}

#[tokio::test]
async fn cross_site_and_headerless_writes_are_refused() {
    let app = spawn().await;
    let form = [("account", "alice@example.com"), ("password", PASSWORD)];
    let sign_in_with = |headers: &[(&str, &str)]| {
        let mut request = app.http.post(app.url("/api/sign_in")).form(&form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { request.send().await.unwrap() }
    };
    let foreign = sign_in_with(&[("Origin", "https://evil.example")]).await;
    assert_eq!(foreign.status().as_u16(), 403);
    assert!(foreign.headers().get("set-cookie").is_none());
    let bare = sign_in_with(&[]).await;
    assert_eq!(bare.status().as_u16(), 403);
    let cross = sign_in_with(&[
        ("Origin", app.base.as_str()),
        ("Sec-Fetch-Site", "cross-site"),
    ])
    .await;
    assert_eq!(cross.status().as_u16(), 403);
    app.stop().await;
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let (app, token) = spawn_as("alice@example.com").await;
    for path in [
        "/login",
        "/overview",
        "/security",
        "/dev/outbox.json",
        "/no-such-page",
    ] {
        let response = app.get(path, Some(&token)).await;
        let h = response.headers();
        let csp = helpers::csp_of(h, path);
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert!(h.get("referrer-policy").is_some(), "{path}");
    }
    let page = app.get("/login", None).await;
    let csp = helpers::csp_of(page.headers(), "/login");
    assert!(
        csp.contains("'nonce-"),
        "pages allow only their own scripts: {csp}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_the_login_page() {
    let app = spawn().await;
    let response = app.get("/overview", None).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers().get("location").unwrap(), "/login");
    app.stop().await;
}

#[tokio::test]
async fn the_dev_outbox_answers_json_in_development() {
    let app = spawn().await;
    let response = app.get("/dev/outbox.json", None).await;
    assert_eq!(response.status().as_u16(), 200);
    let items: Vec<serde_json::Value> = response.json().await.unwrap();
    assert!(items.is_empty());
    assert_eq!(app.get("/dev/outbox", None).await.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn development_routes_are_404_in_production() {
    let app = spawn_with(helpers::production).await;
    for path in ["/dev/outbox", "/dev/outbox.json", "/dev/sso"] {
        assert_eq!(app.get(path, None).await.status().as_u16(), 404, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn seeding_twice_adds_nothing() {
    let app = spawn().await;
    let count = |table: &'static str| {
        let pool = app.services.db.pool.clone();
        async move {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n
        }
    };
    let before = (
        count("accounts").await,
        count("directory_members").await,
        count("ram_users").await,
    );
    assert!(!app::ssr::seed::seed_demo(&app.services).await.unwrap());
    let after = (
        count("accounts").await,
        count("directory_members").await,
        count("ram_users").await,
    );
    assert_eq!(before, after);
    assert_eq!(before.1, 10);
    let (bound,): (i64,) =
        sqlx::query_as("SELECT accounts FROM phone_binding_counts WHERE phone = '+8613900139000'")
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    assert_eq!(bound, 6);
    app.stop().await;
}
