//! Binding and modifying a member's number under every rule of SPEC 3 and 5.

use super::*;

#[tokio::test]
async fn an_administrator_binds_a_number_to_a_resource_account_without_one() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    let sent: CodeSent = app.rd_send_code(&token, SANDBOX, "13100131000").await.ok();
    assert_eq!((sent.expires_in_secs, sent.resend_after_secs), (300, 60));
    // The code goes to the new number, by SMS.
    let code = app
        .latest_code("+8613100131000")
        .await
        .expect("a code to the new number");
    assert_eq!(code.len(), 6);
    let view: MemberView = app
        .rd_bind_phone(&token, SANDBOX, "+86 131 0013 1000", &code)
        .await
        .ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1000"));
    assert_eq!(
        app.phone_of(SANDBOX).await.as_deref(),
        Some("+8613100131000")
    );
    assert_eq!(app.bindings_of("+8613100131000").await, 1);
    // The list and the details read the new number.
    let page: MemberPage = members(&app, &token, &[("search", SANDBOX)]).await.ok();
    assert_eq!(
        page.members[0].masked_phone.as_deref(),
        Some("+86 131****1000")
    );
    // Now the number is the member's own: asking again for it is refused.
    assert_eq!(
        app.rd_bind_phone(&token, SANDBOX, "+8613100131000", &code)
            .await
            .err(),
        AppError::SamePhone
    );
    // The member hears of it by email (it had no number to tell).
    let mails = messages_to(&app, "sandbox@acme.example").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains("+86 131****1000"), "{}", mails[0].0);
    assert_eq!(mails[0].1, None);
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_modifies_a_cloud_accounts_number_and_the_old_number_is_told() {
    let (app, token) = spawn_as("admin@acme.example").await;
    let view = app.bind_member(&token, PARTNER, "+8613100131002").await;
    assert_eq!(view.member_type, MemberType::CloudAccount);
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1002"));
    assert_eq!(
        app.phone_of(PARTNER).await.as_deref(),
        Some("+8613100131002")
    );
    assert_eq!(app.bindings_of(PARTNER_PHONE).await, 0);
    let old = messages_to(&app, PARTNER_PHONE).await;
    assert_eq!(old.len(), 1, "one notice to the old number");
    assert!(
        old[0].0.contains("changed to +86 131****1002"),
        "{}",
        old[0].0
    );
    assert_eq!(
        messages_to(&app, "partner@analytics.example").await.len(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn every_bind_and_modify_is_audited_on_the_member_and_the_management_account() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    app.bind_member(&token, CI, "+8613100131003").await;
    app.bind_member(&token, CI, "+8613100131004").await;

    let member = audit_of(&app, CI).await;
    assert_eq!(member.len(), 2);
    assert_eq!(
        (member[0].0.as_str(), member[0].1.as_str()),
        ("rd-admin@acme", "BindMemberMobilePhone")
    );
    assert!(
        member[0].2.starts_with("none -> +86 131****1003"),
        "{}",
        member[0].2
    );
    assert_eq!(
        (member[1].0.as_str(), member[1].1.as_str()),
        ("rd-admin@acme", "ModifyMemberMobilePhone")
    );
    assert!(
        member[1]
            .2
            .starts_with("+86 131****1003 -> +86 131****1004"),
        "{}",
        member[1].2
    );

    let management = audit_of(&app, ACME_ID).await;
    let about_ci: Vec<_> = management.iter().filter(|e| e.2.contains(CI)).collect();
    assert_eq!(about_ci.len(), 2);
    assert!(about_ci.iter().all(|e| e.0 == "rd-admin@acme"));
    assert_eq!(about_ci[1].1, "ModifyMemberMobilePhone");

    // The details page reads the member's events, newest first.
    let events: Vec<AuditView> = app
        .call("rd_member_events", &[("account_id", CI)], Some(&token))
        .await
        .ok();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, "ModifyMemberMobilePhone");
    assert_eq!(events[0].principal, "rd-admin@acme (ram_user)");
    assert_eq!(events[0].outcome, "success");
    app.stop().await;
}

#[tokio::test]
async fn the_member_region_decides_which_numbers_are_accepted() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    // A US member: a Chinese number, in any form, is another region's.
    for other in ["+8613100131005", "86-13100131005", "8613100131005"] {
        assert_eq!(
            app.rd_send_code(&token, AUDIT_US, other).await.err(),
            AppError::PhoneRegionMismatch,
            "{other}"
        );
    }
    // A CN member: a US number is refused too.
    assert_eq!(
        app.rd_send_code(&token, SANDBOX, "+12025550100")
            .await
            .err(),
        AppError::PhoneRegionMismatch
    );
    assert_eq!(
        outbox_count(&app, "+8613100131005").await + outbox_count(&app, "+12025550100").await,
        0
    );
    // The US member takes a US number, typed nationally or in the cloud's form.
    let view = app
        .bind_member_typed(&token, AUDIT_US, "2025550100", "+12025550100")
        .await;
    assert_eq!(view.masked_phone.as_deref(), Some("+1 202***0100"));
    let view = app
        .bind_member_typed(&token, AUDIT_US, "1-2025550101", "+12025550101")
        .await;
    assert_eq!(view.masked_phone.as_deref(), Some("+1 202***0101"));
    app.stop().await;
}

#[tokio::test]
async fn malformed_numbers_codes_and_ids_are_refused_before_anything_is_sent() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    let long = format!("+86{}", "1".repeat(40));
    for bad in [
        "",
        "abc",
        "+86",
        "12",
        "+861012345678",
        "+8613100131000; DROP TABLE accounts",
        long.as_str(),
    ] {
        assert_eq!(
            app.rd_send_code(&token, SANDBOX, bad).await.err(),
            AppError::InvalidPhone,
            "{bad:?}"
        );
    }
    // "123 456" is a pasted code, taken as 123456 (issue 14.2); five digits with a space are not.
    for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "123 45"] {
        let error = app
            .rd_bind_phone(&token, SANDBOX, "+8613100131000", bad)
            .await
            .err();
        assert_eq!(error, AppError::MalformedCode, "{bad:?}");
    }
    let long_id = "2".repeat(5000);
    for bad in ["", "2000", "200000000000000x", long_id.as_str()] {
        let error = app.rd_send_code(&token, bad, "+8613100131000").await.err();
        assert!(
            matches!(error, AppError::InvalidInput(_)),
            "{bad:?}: {error:?}"
        );
    }
    // A missing field is a malformed request, not a crash.
    let error = app
        .call("rd_send_code", &[("account_id", SANDBOX)], Some(&token))
        .await
        .err();
    assert!(matches!(error, AppError::InvalidInput(_)), "{error:?}");
    assert_eq!(sms_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_current_number_is_refused_as_the_new_one() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    assert_eq!(
        app.rd_send_code(&token, PARTNER, PARTNER_PHONE).await.err(),
        AppError::SamePhone
    );
    assert_eq!(
        app.rd_send_code(&token, PARTNER, "13500135000").await.err(),
        AppError::SamePhone
    );
    assert_eq!(outbox_count(&app, PARTNER_PHONE).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_number_already_on_six_accounts_gets_no_code() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 6);
    for member in [SANDBOX, PARTNER] {
        let reply = app.rd_send_code(&token, member, FULL_NUMBER).await;
        assert_eq!(reply.err(), AppError::PhoneBindingLimit(6), "{member}");
    }
    assert_eq!(outbox_count(&app, FULL_NUMBER).await, 0);
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 6);
    app.stop().await;
}

#[tokio::test]
async fn the_six_account_limit_is_checked_again_when_binding() {
    let number = "+8613100131006";
    let (app, token, code) = sandbox_code(number).await;
    // Meanwhile six other accounts take the number.
    sqlx::query("INSERT INTO phone_binding_counts (phone, accounts) VALUES ($1, 6)")
        .bind(number)
        .execute(&app.services.db.pool)
        .await
        .unwrap();
    assert_eq!(
        app.rd_bind_phone(&token, SANDBOX, number, &code)
            .await
            .err(),
        AppError::PhoneBindingLimit(6)
    );
    assert_eq!(app.phone_of(SANDBOX).await, None);
    assert!(audit_of(&app, SANDBOX).await.is_empty());
    assert_eq!(messages_to(&app, "sandbox@acme.example").await.len(), 0);
    // Nothing was spent: once a place frees up, the same code binds.
    sqlx::query("UPDATE phone_binding_counts SET accounts = 5 WHERE phone = $1")
        .bind(number)
        .execute(&app.services.db.pool)
        .await
        .unwrap();
    let view: MemberView = app.rd_bind_phone(&token, SANDBOX, number, &code).await.ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1006"));
    assert_eq!(app.bindings_of(number).await, 6);
    app.stop().await;
}

#[tokio::test]
async fn moving_a_member_off_the_full_number_frees_a_place_on_it() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    app.bind_member(&token, WEB_PROD, "+8613100131007").await;
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 5);
    let view = app.bind_member(&token, SANDBOX, FULL_NUMBER).await;
    assert_eq!(view.masked_phone.as_deref(), Some("+86 139****9000"));
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 6);
    assert_eq!(
        app.rd_send_code(&token, CI, FULL_NUMBER).await.err(),
        AppError::PhoneBindingLimit(6)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_code_binds_only_its_member_number_and_session() {
    let number = "+8613100131008";
    let (app, token, code) = sandbox_code(number).await;
    // Another member, another number, another administrator's session: all refused.
    assert_eq!(
        app.rd_bind_phone(&token, CI, number, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    assert_eq!(
        app.rd_bind_phone(&token, SANDBOX, "+8613100131009", &code)
            .await
            .err(),
        AppError::CodeIncorrectOrExpired
    );
    let owner = app.sign_in("admin@acme.example").await;
    assert_eq!(
        app.rd_bind_phone(&owner, SANDBOX, number, &code)
            .await
            .err(),
        AppError::CodeIncorrectOrExpired
    );
    // A wrong code counts but leaves the right one usable.
    let wrong = wrong_code(&code);
    assert_eq!(
        app.rd_bind_phone(&token, SANDBOX, number, wrong)
            .await
            .err(),
        AppError::CodeIncorrectOrExpired
    );
    let view: MemberView = app.rd_bind_phone(&token, SANDBOX, number, &code).await.ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1008"));
    assert_eq!(app.phone_of(CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_and_an_expired_code_fails() {
    let number = "+8613100131010";
    let (app, token, code) = sandbox_code(number).await;
    let wrong = wrong_code(&code);
    for _ in 0..5 {
        assert_eq!(
            app.rd_bind_phone(&token, SANDBOX, number, wrong)
                .await
                .err(),
            AppError::CodeIncorrectOrExpired
        );
    }
    assert_eq!(
        app.rd_bind_phone(&token, SANDBOX, number, &code)
            .await
            .err(),
        AppError::TooManyAttempts
    );
    assert_eq!(app.phone_of(SANDBOX).await, None);

    let number = "+8613100131011";
    let code = app.rd_code(&token, CI, number).await;
    app.clock.advance_secs(301);
    assert_eq!(
        app.rd_bind_phone(&token, CI, number, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    assert_eq!(app.phone_of(CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn a_second_code_to_the_same_number_waits_sixty_seconds() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    let number = "+8613100131012";
    let _: CodeSent = app.rd_send_code(&token, SANDBOX, number).await.ok();
    app.clock.advance_secs(1);
    assert_eq!(
        app.rd_send_code(&token, SANDBOX, number).await.err(),
        AppError::ResendTooSoon(59)
    );
    assert_eq!(outbox_count(&app, number).await, 1);
    app.clock.advance_secs(59);
    let _: CodeSent = app.rd_send_code(&token, SANDBOX, number).await.ok();
    assert_eq!(outbox_count(&app, number).await, 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 100 codes per member account per day

/// The body of the automation API's request for a code to `phone` for `account`.
fn send_body(account: &str, phone: &str) -> Value {
    json!({"AccountId": account, "SecureMobilePhone": phone})
}

/// The app, an administrator's session, and a code sent for Sandbox to `number`.
async fn sandbox_code(number: &str) -> (TestApp, String, String) {
    let (app, token) = spawn_as("rd-admin@acme").await;
    let code = app.rd_code(&token, SANDBOX, number).await;
    (app, token, code)
}

/// The `i`-th of a run of distinct CN mobile numbers (so the 60-second rule never interferes),
/// each in a block of its own (so the SMS-pumping guard's cap per number prefix does not either).
fn nth_number(i: usize) -> String {
    format!("+861310{i:03}2000")
}

/// A code for Sandbox to the `i`-th number.
async fn send_nth(app: &TestApp, token: &str, i: usize) -> helpers::Reply {
    app.rd_send_code(token, SANDBOX, &nth_number(i)).await
}

#[tokio::test]
async fn the_101st_code_of_a_day_for_one_member_is_refused_and_the_next_day_is_allowed() {
    let app = spawn_with(|c| {
        c.limits.codes_per_target_per_hour = 1000;
        c.limits.codes_per_ip_per_hour = 1000;
    })
    .await;
    // 01:00 UTC tomorrow: all 101 sends fall in one UTC day.
    app.clock
        .set_ms((app.now().div_euclid(DAY_MS) + 1) * DAY_MS + 3_600_000);
    let token = app.sign_in("rd-admin@acme").await;
    for i in 0..100 {
        let reply = send_nth(&app, &token, i).await;
        assert!(reply.status < 300, "code {} refused: {}", i + 1, reply.body);
    }
    let refused = send_nth(&app, &token, 100).await;
    assert_eq!(refused.err(), AppError::DailyLimitReached(100));
    assert_eq!(
        AppError::DailyLimitReached(100).to_string(),
        "A maximum of 100 verification codes can be sent to each member account per day."
    );
    assert_eq!(
        outbox_count(&app, &nth_number(100)).await,
        0,
        "nothing queued for the 101st"
    );
    assert_eq!(outbox_count(&app, &nth_number(99)).await, 1);
    // The limit is per member: another member still gets codes today.
    let _: CodeSent = app.rd_send_code(&token, CI, &nth_number(101)).await.ok();
    // Still refused late in the same day.
    app.clock
        .set_ms((app.now().div_euclid(DAY_MS) + 1) * DAY_MS - 60_000);
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        send_nth(&app, &token, 102).await.err(),
        AppError::DailyLimitReached(100)
    );
    // A new UTC day: allowed again.
    app.clock.advance_secs(60);
    let _: CodeSent = app
        .rd_send_code(&token, SANDBOX, &nth_number(102))
        .await
        .ok();
    assert_eq!(outbox_count(&app, &nth_number(102)).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_daily_window_starts_at_the_configured_minute() {
    // Days start at 16:00 UTC (midnight in UTC+8); two codes a day keep the test short.
    let app = spawn_with(|c| {
        c.limits.day_starts_at_utc_minutes = 16 * 60;
        c.limits.codes_per_account_per_day = 2;
    })
    .await;
    let today = (app.now().div_euclid(DAY_MS) + 1) * DAY_MS;
    app.clock.set_ms(today + 15 * 3_600_000 + 59 * 60_000); // 15:59 UTC
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send_nth(&app, &token, 0).await.ok();
    let _: CodeSent = send_nth(&app, &token, 1).await.ok();
    assert_eq!(
        send_nth(&app, &token, 2).await.err(),
        AppError::DailyLimitReached(2)
    );
    // 16:00 UTC: a new day.
    app.clock.set_ms(today + 16 * 3_600_000);
    let _: CodeSent = send_nth(&app, &token, 2).await.ok();
    let _: CodeSent = send_nth(&app, &token, 3).await.ok();
    assert_eq!(
        send_nth(&app, &token, 4).await.err(),
        AppError::DailyLimitReached(2)
    );
    // UTC midnight is no boundary here.
    app.clock.set_ms(today + DAY_MS + 60_000);
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        send_nth(&app, &token, 4).await.err(),
        AppError::DailyLimitReached(2)
    );
    // The next 16:00 UTC is.
    app.clock.set_ms(today + DAY_MS + 16 * 3_600_000);
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send_nth(&app, &token, 4).await.ok();
    assert_eq!(outbox_count(&app, &nth_number(4)).await, 1);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The automation API

#[tokio::test]
async fn the_api_sends_a_code_and_binds_a_resource_account() {
    let (app, token) = spawn_as("rd-admin@acme").await;
    let body = send_body(SANDBOX, "86-13100131020").to_string();
    let (status, reply) = api(&app, SEND_OP, &body, Some(&token)).await;
    assert_eq!(status, 200, "{reply}");
    assert!(is_uuid_v4(&reply["RequestId"]), "{reply}");
    let expires = app::ssr::clock::rfc3339(app.now() + 300_000);
    assert_eq!(reply["ExpirationDate"].as_str(), Some(expires.as_str()));
    assert!(reply.get("Code").is_none());

    let code = app.latest_code("+8613100131020").await.unwrap();
    let body = json!({ "AccountId": SANDBOX, "SecureMobilePhone": "+8613100131020", "VerificationCode": code });
    let (status, reply) = api(&app, BIND_OP, &body, Some(&token)).await;
    assert_eq!(status, 200, "{reply}");
    assert!(is_uuid_v4(&reply["RequestId"]), "{reply}");
    assert_eq!(reply.as_object().unwrap().len(), 1, "{reply}");
    assert_eq!(
        app.phone_of(SANDBOX).await.as_deref(),
        Some("+8613100131020")
    );
    let events = audit_of(&app, SANDBOX).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].2.contains("via the API"), "{}", events[0].2);
    assert_eq!(
        audit_of(&app, ACME_ID)
            .await
            .iter()
            .filter(|e| e.2.contains(SANDBOX))
            .count(),
        1
    );

    // Bound now: the API does not change a bound number (the console does).
    let body = send_body(SANDBOX, "+8613100131021").to_string();
    let reply = api(&app, SEND_OP, &body, Some(&token)).await;
    assert_api_error(&reply, 400, "SecureMobilePhone.AlreadyBound");
    assert_eq!(outbox_count(&app, "+8613100131021").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_what_the_cloud_refuses() {
    let app = spawn_with_second_directory().await;
    let token = app.sign_in("rd-admin@acme").await;
    let cases: Vec<(Value, u16, &str)> = vec![
        // A cloud account, or a member with a number.
        (
            send_body(PARTNER, "+8613100131022"),
            400,
            "InvalidParameter.AccountType",
        ),
        (
            send_body(WEB_PROD, "+8613100131022"),
            400,
            "SecureMobilePhone.AlreadyBound",
        ),
        // Numbers: malformed, a landline, another region's, the full one.
        (
            send_body(CI, "1-abc"),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            send_body(CI, "+861012345678"),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            send_body(CI, &"x".repeat(10_000)),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            send_body(CI, "1-2025550143"),
            400,
            "InvalidParameter.SecureMobilePhone.Region",
        ),
        (
            send_body(CI, FULL_NUMBER),
            400,
            "SecureMobilePhone.BindingLimit",
        ),
        // Ids: malformed, wrong type, missing, not in this directory.
        (
            send_body("20000000000000071", "+8613100131022"),
            400,
            "InvalidParameter.AccountId",
        ),
        (
            json!({"AccountId": 2000000000000007_i64, "SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter",
        ),
        (json!({"AccountId": CI}), 400, "InvalidParameter"),
        (
            send_body(GLOBEX_MEMBER, "+8613100131022"),
            404,
            "EntityNotExist.Account",
        ),
    ];
    for (body, status, code) in cases {
        let reply = api(&app, SEND_OP, &body, Some(&token)).await;
        assert_api_error(&reply, status, code);
    }
    // Not JSON, or not an object.
    for body in ["{\"AccountId\": ", "not json", "[1, 2]", ""] {
        let reply = api(&app, SEND_OP, body, Some(&token)).await;
        assert_api_error(&reply, 400, "InvalidParameter");
    }
    let (_, reply) = api(&app, SEND_OP, "{", Some(&token)).await;
    assert!(
        reply["Message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{reply}"
    );
    let (_, reply) = api(
        &app,
        SEND_OP,
        &json!({"AccountId": 1}).to_string(),
        Some(&token),
    )
    .await;
    assert_eq!(reply["Message"], "AccountId must be a string.");
    // An oversized body is refused unread.
    let huge = json!({"AccountId": CI, "SecureMobilePhone": "1".repeat(20_000)}).to_string();
    let reply = api(&app, SEND_OP, &huge, Some(&token)).await;
    assert_api_error(&reply, 413, "InvalidParameter.BodyTooLarge");
    assert_eq!(sms_count(&app).await, 0, "nothing was sent");

    // Codes: malformed, wrong.
    let codes = [
        (json!("12a456"), "InvalidParameter.VerificationCode"),
        (json!(123456), "InvalidParameter"),
        (json!("123456"), "VerificationCode.Invalid"),
    ];
    for (code, expected) in codes {
        let body = json!({"AccountId": CI, "SecureMobilePhone": "+8613100131022", "VerificationCode": code});
        let reply = api(&app, BIND_OP, &body, Some(&token)).await;
        assert_api_error(&reply, 400, expected);
    }
    assert_eq!(app.phone_of(CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn the_api_is_authorised_like_the_console() {
    let app = spawn().await;
    let body = send_body(SANDBOX, "+8613100131023").to_string();
    assert_api_error(&api(&app, SEND_OP, &body, None).await, 401, "NotSignedIn");
    assert_api_error(
        &api(
            &app,
            SEND_OP,
            &body,
            Some("0123456789abcdef0123456789abcdef"),
        )
        .await,
        401,
        "NotSignedIn",
    );
    for account in ["viewer@acme", "dev@alice", "alice@example.com"] {
        let token = app.sign_in(account).await;
        assert_api_error(
            &api(&app, SEND_OP, &body, Some(&token)).await,
            403,
            "Forbidden",
        );
        let bind = json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131023", "VerificationCode": "123456"});
        assert_api_error(
            &api(&app, BIND_OP, &bind, Some(&token)).await,
            403,
            "Forbidden",
        );
    }
    // The CSRF guard: a script must name this origin; a foreign or missing Origin is refused.
    let token = app.sign_in("rd-admin@acme").await;
    for origin in [Some("https://evil.example"), None] {
        let mut request = app
            .http
            .post(app.url(&format!("/api/v1/{SEND_OP}")))
            .header("Content-Type", "application/json")
            .header("Cookie", format!("__Host-session={token}"))
            .body(body.clone());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{origin:?}");
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["Code"], "Forbidden.CrossSite");
    }
    // Only POST.
    let response = app.get(&format!("/api/v1/{SEND_OP}"), Some(&token)).await;
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(outbox_count(&app, "+8613100131023").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_api_and_the_console_share_the_daily_limit() {
    let app = spawn_with(|c| c.limits.codes_per_account_per_day = 2).await;
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send_nth(&app, &token, 0).await.ok();
    let body = send_body(SANDBOX, &nth_number(1)).to_string();
    let (status, reply) = api(&app, SEND_OP, &body, Some(&token)).await;
    assert_eq!(status, 200, "{reply}");
    let body = send_body(SANDBOX, &nth_number(2)).to_string();
    let reply = api(&app, SEND_OP, &body, Some(&token)).await;
    assert_api_error(&reply, 429, "Throttling.DailyLimit");
    assert_eq!(
        reply.1["Message"],
        AppError::DailyLimitReached(2).to_string()
    );
    assert_eq!(
        send_nth(&app, &token, 3).await.err(),
        AppError::DailyLimitReached(2)
    );
    app.stop().await;
}
