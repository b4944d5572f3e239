//! The database going away (issue 15, point 5): a database that cannot take writes (a read-only
//! file, a full disk) answers a clear 503 with `Retry-After`, changes nothing, and the same
//! request succeeds once the database can write again, without a restart.
//!
//! SQLite only: the two conditions are set on every pooled connection with pragmas
//! (`query_only`, which refuses writes as a read-only file does, SQLITE_READONLY; `max_page_count`,
//! which stops the file growing as a full disk does, SQLITE_FULL). PostgreSQL's failures
//! (connection lost, standby read-only) map to the same answer through `AppError::Unavailable`.

use crate::helpers::{self, Reply, Steps, TestApp, spawn};
use app::error::AppError;

const POOL: usize = 8;

/// Runs `sql` on every connection of the app's pool (all held at once, so each is a different one).
async fn on_every_connection(app: &TestApp, sql: &str) {
    let mut held = Vec::new();
    for _ in 0..POOL {
        held.push(app.services.db.pool.acquire().await.unwrap());
    }
    for conn in &mut held {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut **conn)
            .await
            .unwrap();
    }
}

/// Alice with a live change ticket, on SQLite; `None` (said, not silent) on another backend.
async fn alice_ready_to_send() -> Option<(TestApp, String)> {
    if helpers::backend() != "sqlite" {
        println!(
            "skipped on {}: the conditions are SQLite pragmas",
            helpers::backend()
        );
        return None;
    }
    let app = spawn().await;
    let token = app
        .verified_by_sms("alice@example.com", "+8613800138000")
        .await;
    Some((app, token))
}

/// Asks for a code to `number` (national CN digits); a refusal must be the 503 it should be.
async fn send_new_code(app: &TestApp, token: &str, number: &str) -> Reply {
    let reply = app.send_new_phone_code(token, number).await;
    if reply.status == 503 {
        assert_eq!(reply.err(), AppError::Unavailable);
        assert_eq!(reply.retry_after.as_deref(), Some("2"));
    }
    reply
}

async fn codes_sent(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM outbox WHERE template = $1",
        "verification_code",
    )
    .await
}

#[tokio::test]
async fn a_read_only_database_answers_503_with_retry_after_and_recovers_without_a_restart() {
    let Some((app, token)) = alice_ready_to_send().await else {
        return;
    };
    let before = codes_sent(&app).await;

    on_every_connection(&app, "PRAGMA query_only = ON").await;
    let reply = send_new_code(&app, &token, "13512340001").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(
        reply.err().to_string(),
        "The service is briefly unavailable. Nothing was changed; try again in a moment."
    );
    assert_eq!(codes_sent(&app).await, before, "nothing was queued");

    // Writable again: the same request goes through, on the same process and pool.
    on_every_connection(&app, "PRAGMA query_only = OFF").await;
    let reply = send_new_code(&app, &token, "13512340001").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(codes_sent(&app).await, before + 1);
    app.stop().await;
}

#[tokio::test]
async fn a_full_disk_answers_503_changes_nothing_and_recovers_when_space_returns() {
    let Some((app, token)) = alice_ready_to_send().await else {
        return;
    };

    // The disk is full: the file may not grow, and the test takes every free page there is.
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    on_every_connection(&app, &format!("PRAGMA max_page_count = {}", pages + 64)).await;
    {
        let mut conn = app.services.db.write().await.unwrap();
        sqlx::raw_sql("CREATE TABLE filler (b BLOB)")
            .execute(&mut *conn)
            .await
            .unwrap();
        while sqlx::raw_sql("INSERT INTO filler VALUES (randomblob(1000))")
            .execute(&mut *conn)
            .await
            .is_ok()
        {}
    }

    // Each send (to a number block of its own, clear of the prefix cap) needs room for its
    // challenge, its outbox row and its counters: at the latest
    // once the pages' last free bytes are gone, it is refused whole.
    let mut refused = None;
    for k in 0..40 {
        let number = format!("1351{k:03}0000");
        let before = codes_sent(&app).await;
        let reply = send_new_code(&app, &token, &number).await;
        if reply.status == 503 {
            assert_eq!(
                codes_sent(&app).await,
                before,
                "a refused send queued nothing"
            );
            let (challenges,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM challenges WHERE target = $1")
                    .bind(format!("+86{number}"))
                    .fetch_one(&app.services.db.pool)
                    .await
                    .unwrap();
            assert_eq!(challenges, 0, "a refused send left no challenge");
            refused = Some(number);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let number = refused.expect("a send refused once the disk was full");

    // Space returns: the same send succeeds, without a restart.
    {
        let mut conn = app.services.db.write().await.unwrap();
        sqlx::raw_sql("DROP TABLE filler")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let reply = send_new_code(&app, &token, &number).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(app.latest_code(&format!("+86{number}")).await.is_some());
    app.stop().await;
}
