//! The samples: every `SOAK_SAMPLE_SECS`, the server's memory, its database connections, the
//! outbox, the latency of the requests answered since the last sample and the size of every table
//! the clean-up bounds (and of the two that grow by design).

use crate::Settings;
use crate::load::Load;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Arrivals are started ten times a second, so a second's load is not one burst.
const TICKS_PER_SECOND: u64 = 10;

/// Tables whose rows live a bounded time: each must reach a steady size.
pub const BOUNDED_TABLES: [&str; 6] = [
    "sessions",
    "challenges",
    "change_tickets",
    "resend_guards",
    "outbox",
    "outbox_attempts",
];
/// Tables that grow with traffic by design: counters live two days (the longest window is a day),
/// the security log is the accounts' history.
pub const GROWING_TABLES: [&str; 2] = ["rate_counters", "audit_events"];

/// One sample: its time and its values, in the order of `Sample::names`.
pub struct Sample {
    pub at_s: f64,
    pub values: Vec<(&'static str, f64)>,
}

impl Sample {
    pub fn get(&self, name: &str) -> f64 {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

/// Runs the load for the whole run, sampling as it goes; answers the samples.
pub async fn run(settings: &Settings, db: &sqlx::AnyPool, load: &Load) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / TICKS_PER_SECOND));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let per_tick = settings.rate / TICKS_PER_SECOND as f64;
    let ticks = settings.run.as_secs() * TICKS_PER_SECOND;
    let every = (settings.every.as_secs() * TICKS_PER_SECOND).max(1);
    for tick in 0..ticks {
        ticker.tick().await;
        load.start_due(per_tick, tick);
        if (tick + 1) % every == 0 {
            let sample = take(settings, db, load, started).await;
            print_line(&sample);
            samples.push(sample);
        }
    }
    samples
}

fn print_line(sample: &Sample) {
    let pick = |n: &str| sample.get(n);
    println!(
        "soak: t={:>4.0}s rss={:.1}MB db_open={} outbox_pending={} p99={:.1}ms sessions={} challenges={} outbox={}",
        sample.at_s,
        pick("rss_mb"),
        pick("db_open"),
        pick("outbox_pending"),
        pick("p99_ms"),
        pick("sessions"),
        pick("challenges"),
        pick("outbox"),
    );
}

async fn take(settings: &Settings, db: &sqlx::AnyPool, load: &Load, started: Instant) -> Sample {
    let mut window = load.stats.take_window();
    window.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if window.is_empty() {
            0.0
        } else {
            window[((window.len() as f64 * p) as usize).min(window.len() - 1)]
        }
    };
    let metrics = scrape(&settings.base).await;
    let stats = &load.stats;
    let mut values = vec![
        ("rss_mb", rss_mb(settings.server_pid)),
        (
            "db_open",
            metric(&metrics, "console_db_connections{state=\"open\"}"),
        ),
        (
            "db_idle",
            metric(&metrics, "console_db_connections{state=\"idle\"}"),
        ),
        (
            "db_server_connections",
            server_connections(settings, db).await,
        ),
        (
            "outbox_pending",
            metric(&metrics, "console_outbox_pending_messages"),
        ),
        ("requests", window.len() as f64),
        ("p50_ms", pct(0.50)),
        ("p99_ms", pct(0.99)),
        (
            "changes_done",
            stats.changes_done.load(Ordering::Relaxed) as f64,
        ),
        (
            "unexpected",
            stats.unexpected.load(Ordering::Relaxed) as f64,
        ),
        ("dropped", stats.dropped.load(Ordering::Relaxed) as f64),
    ];
    for table in BOUNDED_TABLES.iter().chain(GROWING_TABLES.iter()) {
        values.push((table, rows(db, table).await));
    }
    Sample {
        at_s: started.elapsed().as_secs_f64(),
        values,
    }
}

/// The server process's resident memory, from `/proc/<pid>/status`.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await;
    match response {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        _ => String::new(),
    }
}

/// A sample's value from the Prometheus text (the line that starts with `name` and a space).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// PostgreSQL: the connections the database server holds for this database, less the soak's own
/// one asking. SQLite has no server: NaN (left out of the chart and the judgement).
async fn server_connections(settings: &Settings, db: &sqlx::AnyPool) -> f64 {
    if !settings.database_url.starts_with("postgres") {
        return f64::NAN;
    }
    let n: Result<(i64,), _> = sqlx::query_as(
        "SELECT COUNT(*)::BIGINT FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    )
    .fetch_one(db)
    .await;
    n.map_or(f64::NAN, |(n,)| n as f64)
}

async fn rows(db: &sqlx::AnyPool, table: &str) -> f64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n: Result<(i64,), _> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(db).await;
    n.map_or(f64::NAN, |(n,)| n as f64)
}

pub fn write_csv(path: &Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut text = String::from("t_s");
    if let Some(first) = samples.first() {
        for (name, _) in &first.values {
            text.push(',');
            text.push_str(name);
        }
    }
    text.push('\n');
    for sample in samples {
        text.push_str(&format!("{:.1}", sample.at_s));
        for (_, value) in &sample.values {
            text.push_str(&format!(",{value}"));
        }
        text.push('\n');
    }
    std::fs::write(path, text)
}
