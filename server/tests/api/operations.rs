//! Issue 13, item 6: what operators read. `/metrics` counts codes, refusals and requests under
//! low-cardinality labels and asks for its token in production; `/healthz` and `/readyz` answer
//! without a session; `APP_LOG_FORMAT=json` writes one JSON object per line and no secret.

use crate::helpers::fixtures::{ALICE_EMAIL, ALICE_PHONE, NEW_CN, SANDBOX, form_body, raw_post};
use crate::helpers::metrics::Scrape;
use crate::helpers::processes::Cluster;
use crate::helpers::{self, PASSWORD, Steps, TestApp, spawn, spawn_with};
use app::error::AppError;
use app::model::CodeSent;
use app::ssr::config::{Mode, Secret};
use sqlx::Connection;
use std::time::{Duration, Instant};

const CODES: &str = "console_codes_sent_total";
const REFUSALS: &str = "console_refusals_total";
const REQUESTS: &str = "console_http_request_duration_seconds_count";
const MEMBER_PAGE: &str = "/resource-directory/members/{account_id}";
const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

fn identity_sms() -> [(&'static str, &'static str); 2] {
    [("purpose", "identity_change_phone"), ("channel", "sms")]
}

fn new_phone_sms() -> [(&'static str, &'static str); 2] {
    [("purpose", "new_phone"), ("channel", "sms")]
}

/// How many requests `/metrics` saw for `route` with `method` and `status`.
fn requests(scrape: &Scrape, method: &str, route: &str, status: &str) -> f64 {
    scrape.count(
        REQUESTS,
        &[("method", method), ("route", route), ("status", status)],
    )
}

/// No label of any sample holds one of `secrets` (ids, numbers, codes, tokens).
fn assert_no_label_holds(scrape: &Scrape, secrets: &[&str]) {
    for sample in &scrape.samples {
        for (key, value) in &sample.labels {
            for secret in secrets {
                assert!(
                    !value.contains(secret),
                    "{key}={value:?} of {} holds {secret:?}",
                    sample.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_phone_change_counts_its_codes_refusals_and_route_templates() {
    let app = spawn().await;
    let before = app.scrape().await;
    let alice = app.sign_in(ALICE_EMAIL).await;
    let wrong = app
        .call(
            "sign_in",
            &[("account", ALICE_EMAIL), ("password", "Wrong-pass-999")],
            None,
        )
        .await;
    assert_eq!(wrong.err(), AppError::BadCredentials);
    app.identity_by_sms(&alice, ALICE_PHONE).await;
    let _: CodeSent = app.send_new_phone_code(&alice, "13512345678").await.ok();
    let again = app.send_new_phone_code(&alice, "13512345678").await;
    assert!(matches!(again.err(), AppError::ResendTooSoon(_)));
    let code = app.code_for(NEW_CN).await;
    let changed = app.confirm_phone_change(&alice, "13512345678", &code).await;
    let _: String = changed.ok();
    let admin = app.sign_in("rd-admin@acme").await;
    let page = app
        .get(
            &format!("/resource-directory/members/{SANDBOX}"),
            Some(&admin),
        )
        .await;
    assert_eq!(page.status().as_u16(), 200);
    // A JSON API call without a session, and a write without an Origin: refused by the API's
    // error mapping and by the guard, each counted where it became a response.
    let unsigned = raw_post(
        &app,
        "/api/v1/BindSecureMobilePhone",
        &[("Origin", &app.base)],
        b"{}".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(unsigned.status().as_u16(), 401);
    let cross = raw_post(
        &app,
        "/api/sign_in",
        &[],
        form_body(&[("account", ALICE_EMAIL), ("password", PASSWORD)]),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(cross.status().as_u16(), 403);
    // A path no route matches, carrying an account id: counted as `unmatched`, the id nowhere.
    let stray = app
        .get(&format!("/no-such-page/{}", app::ssr::seed::BOB_ID), None)
        .await;
    assert_eq!(stray.status().as_u16(), 404);

    let after = app.scrape().await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.count(name, labels) - before.count(name, labels)
    };
    // One code to the old number (identity), one to the new one; the refused resend sent nothing.
    assert_eq!(grew(CODES, &identity_sms()), 1.0, "{}", after.text);
    assert_eq!(grew(CODES, &new_phone_sms()), 1.0, "{}", after.text);
    for reason in [
        "ResendTooSoon",
        "BadCredentials",
        "NotSignedIn",
        "CrossSite",
    ] {
        assert_eq!(
            grew(REFUSALS, &[("reason", reason)]),
            1.0,
            "{reason}: {}",
            after.text
        );
    }
    assert_eq!(
        requests(&after, "GET", MEMBER_PAGE, "200"),
        1.0,
        "{}",
        after.text
    );
    // Each server function is a route of its own (a fixed set, named by the app, not the client).
    assert_eq!(
        requests(&after, "POST", "/api/send_new_phone_code", "429"),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        requests(&after, "POST", "/api/send_new_phone_code", "200"),
        1.0
    );
    assert_eq!(requests(&after, "POST", "/api/sign_in", "200"), 2.0);
    assert_eq!(requests(&after, "POST", "/api/sign_in", "400"), 1.0);
    assert_eq!(requests(&after, "POST", "/api/sign_in", "403"), 1.0);
    assert_eq!(
        requests(&after, "POST", "/api/v1/BindSecureMobilePhone", "401"),
        1.0
    );
    assert_eq!(requests(&after, "GET", "unmatched", "404"), 1.0);
    let account_ids = [
        SANDBOX,
        app::ssr::seed::ALICE_ID,
        app::ssr::seed::ACME_ID,
        app::ssr::seed::BOB_ID,
    ];
    assert_no_label_holds(&after, &account_ids);
    assert_no_label_holds(
        &after,
        &["13512345678", "13800138000", &code, &alice, &admin],
    );
    helpers::result(&format!(
        "metrics: {} samples after a phone change; codes, refusals and route templates counted exactly",
        after.samples.len()
    ));
    app.stop().await;
}

/// Production, every provider pointed at a closed port (nothing is sent in these tests).
async fn production(token: &str) -> TestApp {
    spawn_with(|c| {
        c.mode = Mode::Production;
        c.hmac_key = Secret("ab".repeat(32));
        c.secrets_key = Secret("cd".repeat(32));
        c.demo_data = false;
        c.dev_outbox = false;
        c.public_url = "https://console.example.test".into();
        helpers::deliver_to(c, "http://127.0.0.1:9/", "sms-secret", 9);
        c.metrics_token = Secret(token.into());
    })
    .await
}

async fn metrics_with(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn production_metrics_are_404_without_a_token_and_401_without_the_right_one() {
    let closed = production("").await;
    assert_eq!(metrics_with(&closed, None).await.status().as_u16(), 404);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        metrics_with(&closed, Some(&bearer)).await.status().as_u16(),
        404
    );
    closed.stop().await;

    let app = production(TOKEN).await;
    let missing = metrics_with(&app, None).await;
    assert_eq!(missing.status().as_u16(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"metrics\""
    );
    for wrong in [
        "Bearer metrics-token-for-the-tests-012345678",
        "Bearer metrics-token-for-the-tests-01234567890",
        "Basic bWV0cmljczp0b2tlbg==",
        TOKEN,
    ] {
        let refused = metrics_with(&app, Some(wrong)).await;
        assert_eq!(refused.status().as_u16(), 401, "{wrong}");
    }
    let answer = metrics_with(&app, Some(&bearer)).await;
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let scrape = Scrape::parse(&answer.text().await.unwrap());
    assert_eq!(
        requests(&scrape, "GET", "/metrics", "401"),
        5.0,
        "{}",
        scrape.text
    );
    assert_eq!(
        scrape.get("console_outbox_pending_messages", &[]),
        Some(0.0)
    );
    assert_no_label_holds(&scrape, &[TOKEN]);
    app.stop().await;
}

/// Rows of the tables a request could write to: sessions, audit events, rate counters, outbox.
async fn written_rows(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["sessions", "audit_events", "rate_counters", "outbox"] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&app.services.db.pool)
                .await
                .unwrap();
        counts.push(n);
    }
    counts
}

#[tokio::test]
async fn the_probes_answer_without_a_session_and_change_nothing() {
    let app = production(TOKEN).await;
    let before = written_rows(&app).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    assert!(
        app.get("/readyz", None)
            .await
            .headers()
            .get("set-cookie")
            .is_none()
    );
    assert_eq!(written_rows(&app).await, before);
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_while_a_migration_is_missing() {
    let app = spawn().await;
    assert_eq!(app.get("/readyz", None).await.status().as_u16(), 200);
    let pool = &app.services.db.pool;
    let (latest,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(latest)
        .execute(pool)
        .await
        .unwrap();
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status().as_u16(), 503);
    assert_eq!(
        ready.text().await.unwrap(),
        format!("migrations not applied: {latest}")
    );
    assert_eq!(app.get("/healthz", None).await.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_dropped_under_it() {
    if helpers::backend() != "postgres" {
        eprintln!(
            "note: skipped: dropping the database needs PostgreSQL (APP_TEST_BACKEND=postgres); \
             on SQLite the missing-migration case covers the 503"
        );
        return;
    }
    let app = spawn().await;
    assert_eq!(app.get("/readyz", None).await.status().as_u16(), 200);
    let url = app.services.config.database_url.clone();
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut admin = sqlx::postgres::PgConnection::connect(&helpers::pg_admin_url())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    let asked = Instant::now();
    let ready = app.get("/readyz", None).await;
    let waited = asked.elapsed();
    assert_eq!(ready.status().as_u16(), 503);
    let reason = ready.text().await.unwrap();
    assert!(reason.starts_with("database: "), "{reason}");
    assert!(
        waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    assert_eq!(app.get("/healthz", None).await.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_hold_no_secret() {
    let env = [("APP_LOG_FORMAT".to_string(), "json".to_string())];
    let cluster = Cluster::start_n(1, &env, None).await;
    let via = cluster.via(0);
    let token = via.verified_by_sms(ALICE_EMAIL, ALICE_PHONE).await;
    let token = via
        .change_number_keeping_session(&token, "13512345678")
        .await;

    // The process's own /metrics: exactly this run's codes.
    let text = cluster
        .http
        .get(format!("{}/metrics", cluster.instances[0].base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = Scrape::parse(&text);
    assert_eq!(scrape.count(CODES, &identity_sms()), 1.0, "{text}");
    assert_eq!(scrape.count(CODES, &new_phone_sms()), 1.0, "{text}");

    // Let the worker log its deliveries before the log is read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = cluster.instances[0].log();
    let mut objects = 0;
    let mut in_spans = 0;
    for line in log.lines().filter(|l| !l.starts_with("---- server")) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
        let object = value.as_object().unwrap_or_else(|| panic!("{line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.contains_key(key), "no {key}: {line}");
        }
        objects += 1;
        if object.get("span").is_some_and(|s| s.get("name").is_some()) {
            in_spans += 1;
        }
    }
    assert!(objects >= 5, "{log}");
    let queued = log
        .lines()
        .find(|l| l.contains("verification code queued"))
        .expect("the code's log line");
    let queued: serde_json::Value = serde_json::from_str(queued).unwrap();
    assert_eq!(queued["span"]["name"], "send_code", "{queued}");
    assert!(queued["spans"].is_array(), "{queued}");
    assert!(in_spans >= 2, "{log}");
    cluster.assert_logs_keep_secrets(&[&token]).await;
    for number in ["13512345678", "13800138000"] {
        assert!(
            !log.contains(number),
            "the full number {number} is logged:\n{log}"
        );
    }
    helpers::result(&format!(
        "JSON logs: {objects} lines, each one object ({in_spans} inside a span), no code, password, token or full number"
    ));
}
