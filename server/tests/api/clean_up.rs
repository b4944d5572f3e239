//! The clean-up bounds every table that grows with traffic (issue 15, item 4): what has expired
//! is kept `history_keep_secs` for support and then deleted, a message still waiting in the outbox
//! is never touched, and the pool's connections are visible in `/metrics`.

use crate::helpers::fixtures::{ALICE_EMAIL, ALICE_PHONE, NEW_CN};
use crate::helpers::{Steps, TestApp, spawn_with};
use app::model::CodeSent;
use std::time::{Duration, Instant};

const KEEP_SECS: i64 = 600;

/// Rows of each table the clean-up bounds, in one line for the assertion messages.
async fn sizes(app: &TestApp) -> [(&'static str, i64); 6] {
    let mut out = [
        ("challenges", 0),
        ("change_tickets", 0),
        ("resend_guards", 0),
        ("outbox", 0),
        ("outbox_attempts", 0),
        ("sessions", 0),
    ];
    for (table, n) in &mut out {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
        *n = count;
    }
    out
}

fn size(sizes: &[(&'static str, i64)], table: &str) -> i64 {
    sizes.iter().find(|(t, _)| *t == table).unwrap().1
}

async fn audit_rows(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    n
}

async fn clean_up(app: &TestApp) {
    app::ssr::maintenance::clean_up(&app.services)
        .await
        .unwrap();
}

/// Waits until the delivery worker has finished every message (development: marked sent).
async fn all_delivered(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .count("SELECT COUNT(*) FROM outbox WHERE status = $1", "pending")
        .await
        > 0
    {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_clean_up_deletes_what_has_expired_after_its_history_and_never_a_waiting_message() {
    let app = spawn_with(|c| c.limits.history_keep_secs = KEEP_SECS).await;
    let limits = app.services.config.limits.clone();
    let alice = app.sign_in(ALICE_EMAIL).await;
    app.identity_by_sms(&alice, ALICE_PHONE).await;
    let _: CodeSent = app.send_new_phone_code(&alice, "13512345678").await.ok();
    let code = app.code_for(NEW_CN).await;
    let _: String = app
        .confirm_phone_change(&alice, "13512345678", &code)
        .await
        .ok();
    all_delivered(&app).await;
    let audit_before = audit_rows(&app).await;
    assert!(audit_before > 0);
    let after_change = sizes(&app).await;
    for table in ["challenges", "change_tickets", "resend_guards", "outbox"] {
        assert!(size(&after_change, table) > 0, "{table}: {after_change:?}");
    }
    // A message still waiting (as if its provider were down for a week) must survive every sweep.
    let queued_at = app.now() - 7 * 86_400_000;
    sqlx::query(
        "INSERT INTO outbox (channel, recipient, subject, body, template, status, attempts, \
         next_attempt_at, created_at) VALUES ('email', 'waiting@example.com', 's', 'b', \
         'notice', 'pending', 3, $1, $2)",
    )
    .bind(app.now() + 86_400_000)
    .bind(queued_at)
    .execute(&app.services.db.pool)
    .await
    .unwrap();

    // Past the resend interval only: the guards go (no row lets the next code through as an old
    // one does); the challenges, tickets and messages are still history to keep.
    app.clock.advance_ms(limits.resend_interval_secs * 1000 + 1);
    clean_up(&app).await;
    let early = sizes(&app).await;
    assert_eq!(size(&early, "resend_guards"), 0, "{early:?}");
    for table in ["challenges", "change_tickets", "outbox"] {
        assert_eq!(
            size(&early, table),
            size(&after_change, table) + i64::from(table == "outbox"),
            "{table} is kept {KEEP_SECS} s: {early:?}"
        );
    }

    // Past the longest lifetime (the change ticket's) and the history kept after it: only the
    // waiting message and alice's session are left.
    let longest = limits.change_ticket_secs.max(limits.code_lifetime_secs);
    app.clock.advance_ms((longest + KEEP_SECS) * 1000);
    clean_up(&app).await;
    let late = sizes(&app).await;
    for table in [
        "challenges",
        "change_tickets",
        "resend_guards",
        "outbox_attempts",
    ] {
        assert_eq!(size(&late, table), 0, "{table}: {late:?}");
    }
    assert_eq!(size(&late, "outbox"), 1, "{late:?}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND status = 'pending'",
            "waiting@example.com"
        )
        .await,
        1
    );
    // The security log is the account's history: the clean-up never shortens it.
    assert_eq!(audit_rows(&app).await, audit_before);
    app.stop().await;
}

#[tokio::test]
async fn metrics_show_the_pools_open_and_idle_connections() {
    let app = crate::helpers::spawn().await;
    let scrape = app.scrape().await;
    let open = scrape
        .get("console_db_connections", &[("state", "open")])
        .expect("open connections are a gauge");
    let idle = scrape
        .get("console_db_connections", &[("state", "idle")])
        .expect("idle connections are a gauge");
    assert!(open >= 1.0, "the scrape itself used a connection: {open}");
    assert!(idle <= open, "idle {idle} of {open}");
    app.stop().await;
}
