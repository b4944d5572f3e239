//! What answers tell: wrong, used, expired and never-sent codes get one answer; forgot-password and sign-in tell nothing about who exists; a challenge of one session is not completed in another.

use super::*;

#[tokio::test]
async fn wrong_used_expired_and_never_sent_codes_get_one_answer() {
    let app = spawn_logged().await;
    let expected = "The verification code is incorrect or has expired.";
    let alice = app.sign_in("alice@example.com").await;
    // Never sent: no challenge at all.
    let never = app.verify_identity(&alice, Method::Sms, "123456").await;
    let code = app.identity_code(&alice, Method::Sms, ALICE_PHONE).await;
    let wrong = app
        .verify_identity(&alice, Method::Sms, wrong_code(&code))
        .await;
    app.clock.advance_secs(301);
    let expired = app.verify_identity(&alice, Method::Sms, &code).await;
    let code = app.identity_code(&alice, Method::Sms, ALICE_PHONE).await;
    let _: i64 = app.verify_identity(&alice, Method::Sms, &code).await.ok();
    let used = app.verify_identity(&alice, Method::Sms, &code).await;
    for (what, reply) in [("wrong", &wrong), ("expired", &expired), ("used", &used)] {
        assert_eq!(
            (reply.status, &reply.body),
            (never.status, &never.body),
            "{what} vs never sent"
        );
    }
    assert_eq!(never.err().to_string(), expected);

    // The new-number step and the member binding answer alike too.
    let _: CodeSent = app.send_new_phone_code(&alice, "13512345678").await.ok();
    let code = app.latest_code("+8613512345678").await.unwrap();
    let wrong = app
        .confirm_phone_change(&alice, "13512345678", wrong_code(&code))
        .await;
    app.clock.advance_secs(301);
    let expired = app.confirm_phone_change(&alice, "13512345678", &code).await;
    assert_eq!((wrong.status, &wrong.body), (expired.status, &expired.body));
    assert_eq!(wrong.err().to_string(), expected);

    let admin = app.sign_in("rd-admin@acme").await;
    let code = app.rd_code(&admin, SANDBOX, "+8613100131000").await;
    let wrong = app
        .rd_bind_phone(&admin, SANDBOX, "+8613100131000", wrong_code(&code))
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
        .rd_bind_phone(&admin, SANDBOX, "+8613100131000", &code)
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
    let (cookie, code) = bob_recovers(&app).await;
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
    let app = spawn_logged().await;
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
        let reply = app.sign_in_with(account, "Wrong-pass-999", None).await;
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
    let app = spawn_logged().await;
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
    let (app, first) = spawn_logged_as("alice@example.com").await;
    let second = app.sign_in("alice@example.com").await;

    // Identity: the first tab's code, typed in the second tab, is refused and counts nothing there.
    let code = app.identity_code(&first, Method::Sms, ALICE_PHONE).await;
    let reply = app.verify_identity(&second, Method::Sms, &code).await;
    assert_eq!(reply.err(), AppError::CodeIncorrectOrExpired);
    let attempts = app.challenge_attempts(ALICE_ID).await;
    assert_eq!(attempts, 0, "the first tab's challenge is untouched");
    let _: i64 = app.verify_identity(&first, Method::Sms, &code).await.ok();

    // New number: both tabs verified and waiting for a code to the same number.
    let code = app
        .identity_code(&second, Method::Email, "alice@example.com")
        .await;
    let _: i64 = app
        .verify_identity(&second, Method::Email, &code)
        .await
        .ok();
    let _: CodeSent = app.send_new_phone_code(&first, "13512345678").await.ok();
    let first_code = app.latest_code("+8613512345678").await.unwrap();
    let first_code_in_the_second_tab =
        || app.confirm_phone_change(&second, "13512345678", &first_code);
    assert_eq!(
        first_code_in_the_second_tab().await.err(),
        AppError::CodeIncorrectOrExpired,
        "no challenge of the second tab"
    );
    app.clock.advance_secs(61);
    let _: CodeSent = app.send_new_phone_code(&second, "13512345678").await.ok();
    let second_code = app.latest_code("+8613512345678").await.unwrap();
    if second_code != first_code {
        assert_eq!(
            first_code_in_the_second_tab().await.err(),
            AppError::CodeIncorrectOrExpired,
            "the first tab's code against the second tab's challenge"
        );
    }
    // The second tab's new code did not replace the first tab's.
    let masked: String = app
        .confirm_phone_change(&first, "13512345678", &first_code)
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
    let code = app.rd_code(&admin_one, SANDBOX, "+8613100131000").await;
    let reply = app
        .rd_bind_phone(&admin_two, SANDBOX, "+8613100131000", &code)
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
        .rd_bind_phone(&admin_one, SANDBOX, "+8613100131000", &code)
        .await
        .ok();
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Who reaches what

#[tokio::test]
async fn no_ram_user_role_sso_session_or_directory_administrator_reaches_the_owner_flow() {
    let app = spawn_logged().await;
    let [dev, role, sso] = non_owner_sessions(&app).await;
    let rd_admin = app.sign_in("rd-admin@acme").await;
    let viewer = app.sign_in("viewer@acme").await;
    let totp = totp_at(ALICE_TOTP_SECRET, app.now());

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
    helpers::result(&format!(
        "owner flow: {refused} calls by RAM users, roles, SSO and administrators refused (OwnerOnly)"
    ));
    app.stop().await;
}

#[tokio::test]
async fn an_administrators_api_calls_never_reach_another_directory() {
    let app = spawn_logged().await;
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

/// An empty form POST to `path`, with `headers` and nothing else.
async fn empty_post(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let form = "application/x-www-form-urlencoded";
    raw_post(app, path, headers, Vec::new(), form).await
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (app, alice) = spawn_logged_as("alice@example.com").await;
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
        empty_post(
            &app,
            "/api/me",
            &[("Origin", &app.base), ("Cookie", &cookie)],
        )
        .await,
    ));
    responses.push((
        "POST /api/me signed out".into(),
        empty_post(&app, "/api/me", &[("Origin", &app.base)]).await,
    ));
    responses.push((
        "POST /api/me cross-site".into(),
        empty_post(&app, "/api/me", &[("Origin", "https://evil.example")]).await,
    ));
    responses.push((
        "POST /api/no_such_fn".into(),
        empty_post(&app, "/api/no_such_fn", &[("Origin", &app.base)]).await,
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
        let csp = helpers::csp_of(h, what);
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
    helpers::result(&format!(
        "headers: {} responses (pages, redirects, 404, API and errors) all carry CSP, nosniff, referrer-policy, frame denial",
        responses.len()
    ));
    app.stop().await;
}
