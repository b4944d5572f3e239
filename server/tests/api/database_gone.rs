//! The database going away (issue 15, point 5): a database that cannot take writes (a read-only
//! file, a full disk) answers a clear 503 with `Retry-After`, changes nothing, and the same
//! request succeeds once the database can write again, without a restart.
//!
//! SQLite: the two conditions are set on every pooled connection with pragmas (`query_only`,
//! which refuses writes as a read-only file does, SQLITE_READONLY; `max_page_count`, which stops
//! the file growing as a full disk does, SQLITE_FULL).
//!
//! PostgreSQL: a server of the test's own (`scripts/pg-single.sh`, beside the machine's, which
//! other tests share) is restarted while idle, and stopped as by a crash (`-m immediate`) under
//! load and started again; the same process and pool carry on.

use crate::helpers::{self, Reply, Steps, TestApp, spawn, spawn_with};
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

/// A PostgreSQL server of this test's own (`scripts/pg-single.sh`), removed when dropped.
struct PrivatePg {
    dir: std::path::PathBuf,
    port: u16,
}

fn pg_script() -> std::path::PathBuf {
    crate::helpers::processes::workspace_root().join("scripts/pg-single.sh")
}

impl PrivatePg {
    /// `None` (said, not silent) where the test cannot run: another backend, or no server binaries.
    async fn start() -> Option<PrivatePg> {
        if helpers::backend() != "postgres" {
            println!(
                "skipped on {}: restarts a PostgreSQL server",
                helpers::backend()
            );
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("console-pg-{}", uuid::Uuid::new_v4().simple()));
        let out = tokio::process::Command::new(pg_script())
            .arg("start")
            .arg(&dir)
            .output()
            .await
            .expect("scripts/pg-single.sh runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(3) {
            println!("skipped: {}", stderr.trim());
            return None;
        }
        assert!(out.status.success(), "pg-single.sh start: {stderr}");
        let port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Some(PrivatePg { dir, port })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn run(&self, args: &[&str]) {
        let out = tokio::process::Command::new(pg_script())
            .arg(args[0])
            .arg(&self.dir)
            .args(&args[1..])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "pg-single.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = std::process::Command::new(pg_script())
            .arg("destroy")
            .arg(&self.dir)
            .output();
    }
}

/// What the clients saw: answers, the database's refusals (503 with `Retry-After`) and anything
/// else (a 500, a hang), which must not happen.
#[derive(Default, Debug)]
struct Seen {
    ok: usize,
    unavailable: usize,
    other: Vec<String>,
    slowest: std::time::Duration,
}

impl Seen {
    fn add(&mut self, (reply, took): (Option<Reply>, std::time::Duration)) {
        self.slowest = self.slowest.max(took);
        match reply {
            Some(r) if r.status == 200 => self.ok += 1,
            Some(r) if r.status == 503 && r.retry_after.is_some() => {
                assert_eq!(r.err(), AppError::Unavailable);
                self.unavailable += 1;
            }
            Some(r) => self.other.push(format!("{} {}", r.status, r.body)),
            None => self.other.push("no answer within 10 s".into()),
        }
    }
}

/// A call with a deadline: a request must be answered, never left hanging. Answers the reply
/// and how long it took.
async fn within(
    call: impl std::future::Future<Output = Reply>,
) -> (Option<Reply>, std::time::Duration) {
    let started = std::time::Instant::now();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .ok();
    (reply, started.elapsed())
}

/// Asks `account` with `token` until it answers 200; answers how long that took and what was seen.
async fn until_answered(app: &TestApp, token: &str) -> (std::time::Duration, Seen) {
    let started = std::time::Instant::now();
    let mut seen = Seen::default();
    loop {
        let reply = within(app.call("account", &[], Some(token))).await;
        let ok = reply.0.as_ref().is_some_and(|r| r.status == 200);
        seen.add(reply);
        if ok {
            return (started.elapsed(), seen);
        }
        assert!(started.elapsed().as_secs() < 20, "not recovered: {seen:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn postgresql_restarted_while_idle_is_reconnected_without_a_restart_of_the_product() {
    let Some(pg) = PrivatePg::start().await else {
        return;
    };
    let app = spawn_with(|c| c.database_url = pg.url()).await;
    let alice = app.sign_in("alice@example.com").await;
    let (_, seen) = until_answered(&app, &alice).await;
    assert_eq!(seen.ok, 1);

    pg.run(&["restart"]).await;
    let (took, seen) = until_answered(&app, &alice).await;
    assert!(seen.other.is_empty(), "{seen:?}");
    // A write on the pool after the restart: a new session, and alice's old one still works.
    let again = app.sign_in("alice@example.com").await;
    let (_, seen_after) = until_answered(&app, &again).await;
    assert_eq!((seen_after.ok, seen_after.unavailable), (1, 0));
    helpers::result(&format!(
        "postgres restarted while idle: answered again after {} ms ({} answers 503 before), no other error",
        took.as_millis(),
        seen.unavailable
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopped_hard_under_load_answers_503_then_recovers_with_nothing_lost() {
    let Some(pg) = PrivatePg::start().await else {
        return;
    };
    // A request waits this long for a connection (the default is 5 s); the outage lasts longer.
    const WAIT_MS: u64 = 1000;
    let app = spawn_with(|c| {
        c.database_url = pg.url();
        c.db_acquire_timeout_ms = WAIT_MS;
    })
    .await;
    let accounts = ["alice@example.com", "bob@example.com"];
    let stop = std::sync::atomic::AtomicBool::new(false);
    let seen = std::sync::Mutex::new(Seen::default());
    let tokens = std::sync::Mutex::new(Vec::new());
    // Six clients: each signs in (a write) and reads its account, over and over.
    let client = |i: usize| {
        let (app, stop, seen, tokens) = (&app, &stop, &seen, &tokens);
        async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let form = [
                    ("account", accounts[i % 2]),
                    ("password", helpers::PASSWORD),
                ];
                let reply = within(app.call("sign_in", &form, None)).await;
                let token = reply
                    .0
                    .as_ref()
                    .filter(|r| r.status == 200)
                    .and_then(Reply::session_token);
                seen.lock().unwrap().add(reply);
                if let Some(token) = token {
                    let read = within(app.call("account", &[], Some(&token))).await;
                    seen.lock().unwrap().add(read);
                    tokens.lock().unwrap().push(token);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    let outage = async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        pg.run(&["stop", "immediate"]).await;
        tokio::time::sleep(std::time::Duration::from_millis(3 * WAIT_MS)).await;
        let down = std::mem::take(&mut *seen.lock().unwrap());
        pg.run(&["up"]).await;
        let up_at = std::time::Instant::now();
        // Until the first answer after the start, and then two seconds more of load.
        let mut recovered = None;
        while up_at.elapsed().as_secs() < 20 {
            if recovered.is_none() && seen.lock().unwrap().ok > 0 {
                recovered = Some(up_at.elapsed());
            }
            if recovered.is_some_and(|r| up_at.elapsed() > r + std::time::Duration::from_secs(2)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (down, recovered)
    };
    let (_, _, _, _, _, _, (down, recovered)) = tokio::join!(
        client(0),
        client(1),
        client(2),
        client(3),
        client(4),
        client(5),
        outage
    );
    let after = std::mem::take(&mut *seen.lock().unwrap());
    assert!(down.other.is_empty(), "while down: {:?}", down.other);
    assert!(after.other.is_empty(), "after the start: {:?}", after.other);
    assert!(down.unavailable > 0, "the outage was seen: {down:?}");
    // No hang: a request waits for a connection at most WAIT_MS, then is answered (slack for a
    // sign-in's password hash and a loaded machine).
    let bound = std::time::Duration::from_millis(WAIT_MS + 1500);
    assert!(
        down.slowest < bound,
        "slowest answer while down: {:?}",
        down.slowest
    );
    let recovered = recovered.expect("answers again after the database started");
    assert!(recovered.as_secs() < 10, "recovered in {recovered:?}");
    assert!(after.ok > 0);

    // Nothing lost: every session a sign-in answered with still works, including those answered
    // just before the crash (their commits were flushed before the answer).
    let tokens = std::mem::take(&mut *tokens.lock().unwrap());
    for token in &tokens {
        let reply = app.call("account", &[], Some(token)).await;
        assert_eq!(
            reply.status, 200,
            "a session answered before the crash: {}",
            reply.body
        );
    }
    helpers::result(&format!(
        "postgres stopped hard under load (6 clients): {} answered before the stop, {} refused 503 \
         with Retry-After while down (slowest answer {} ms; pool wait {WAIT_MS} ms), 0 other errors, \
         first answer {} ms after the start, {} sessions answered and all still valid",
        down.ok,
        down.unavailable,
        down.slowest.as_millis(),
        recovered.as_millis(),
        tokens.len()
    ));
    app.stop().await;
}
