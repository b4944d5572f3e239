//! The soak run (issue 15, item 4): a fixed rate of mixed traffic against a running server for a
//! bounded time, sampled every few seconds. It writes the samples as CSV and as a PNG chart, prints
//! the first and last sample of each series, and judges each series that must stay flat.
//!
//! `scripts/soak.sh` builds and starts the server and runs this; by hand:
//!
//! ```text
//! SOAK_BASE=http://127.0.0.1:3300 SOAK_SERVER_PID=1234 SOAK_DATABASE_URL=sqlite:///tmp/s.sqlite \
//!   SOAK_OUT=/tmp/soak cargo run --release -p soak
//! ```
//!
//! The traffic, per second of `SOAK_RATE` (default 4): that many whole phone changes (sign-in
//! session, identity code by SMS read from the development outbox, verified, a code to a new
//! number, one resend asked too soon and refused, the code confirmed, the rotated cookie kept),
//! half as many fresh sign-ins, and twice as many `GET /overview` page views. Arrivals follow the
//! clock, not the answers (an open loop), so a slow server meets the same load, and a request's
//! latency counts from when it was due.

mod chart;
mod load;
mod sample;
mod verdict;

use std::path::PathBuf;
use std::time::Duration;

/// What a run is told, from the environment.
pub struct Settings {
    pub base: String,
    pub server_pid: u32,
    pub database_url: String,
    pub out: PathBuf,
    pub label: String,
    pub run: Duration,
    pub every: Duration,
    /// Whole phone changes started per second.
    pub rate: f64,
    pub accounts: usize,
    /// After this long every lifetime and the history kept after it have passed once, so the
    /// tables can be at their steady size; the judgement reads only samples after it.
    pub settle: Duration,
}

/// The longest run allowed: the soak is bounded by design (issue 15: ten minutes).
const MAX_RUN_SECS: u64 = 600;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match var(name) {
        Some(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: not a number: {v:?}")),
        None => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let required = |name: &str| var(name).unwrap_or_else(|| panic!("{name} is required"));
        let run_secs: u64 = number("SOAK_SECS", MAX_RUN_SECS);
        assert!(
            (10..=MAX_RUN_SECS).contains(&run_secs),
            "SOAK_SECS: 10 to {MAX_RUN_SECS} seconds, got {run_secs}"
        );
        Settings {
            base: required("SOAK_BASE"),
            server_pid: required("SOAK_SERVER_PID")
                .parse()
                .expect("SOAK_SERVER_PID: a process id"),
            database_url: required("SOAK_DATABASE_URL"),
            out: PathBuf::from(required("SOAK_OUT")),
            label: var("SOAK_LABEL").unwrap_or_else(|| "soak".into()),
            run: Duration::from_secs(run_secs),
            every: Duration::from_secs(number("SOAK_SAMPLE_SECS", 10)),
            rate: number("SOAK_RATE", 4.0),
            accounts: number("SOAK_ACCOUNTS", 800),
            settle: Duration::from_secs(number("SOAK_SETTLE_SECS", 180)),
        }
    }
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    std::fs::create_dir_all(&settings.out).expect("SOAK_OUT can be created");
    sqlx::any::install_default_drivers();
    let db = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&settings.database_url)
        .await
        .expect("the soak reaches the server's database");
    let load = load::Load::prepare(&settings, &db).await;
    println!(
        "soak[{}]: {} s at {} changes/s ({} accounts), a sample every {} s",
        settings.label,
        settings.run.as_secs(),
        settings.rate,
        settings.accounts,
        settings.every.as_secs()
    );
    let samples = sample::run(&settings, &db, &load).await;
    let totals = load.finish().await;
    let csv = settings.out.join(format!("soak-{}.csv", settings.label));
    sample::write_csv(&csv, &samples).expect("the CSV is written");
    let png = settings.out.join(format!("soak-{}.png", settings.label));
    chart::draw(&png, &settings.label, &samples).expect("the chart is drawn");
    println!(
        "soak[{}]: wrote {} and {}",
        settings.label,
        csv.display(),
        png.display()
    );
    let judged = verdict::judge(&settings, &samples, &totals);
    verdict::print(&settings.label, &samples, &judged);
    if !judged.passed() {
        std::process::exit(1);
    }
}
