//! The Resource Management benchmark: seeds a directory of 100,000 members into the database at
//! `APP_DATABASE_URL`, then times member-list pages and searches through the service.
//!
//!   cargo run --release -p server --example seed_bench -- seed [--members 100000]
//!   cargo run --release -p server --example seed_bench -- measure [--iterations 200]
//!
//! `seed` creates the `rd-bench` directory (and refuses a second time); `measure` times pages and
//! searches and prints p50/p95 in ms. The bench accounts get an unusable password hash: nobody
//! can sign in as them. It is an example rather than a second binary of the server package,
//! because cargo-leptos serves the package's only binary.

use app::model::{MemberSort, PrincipalKind};
use app::ssr::Services;
use app::ssr::db::Backend;
use app::ssr::directory::{self, MemberQuery};
use app::ssr::session::Principal;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

const MANAGEMENT_ID: &str = "1900000000000001";
const DIRECTORY: &str = "rd-bench";
const ROOT: &str = "fd-bench-root";
const ENVIRONMENTS: [&str; 4] = ["prod", "staging", "dev", "shared"];
const TEAMS: [&str; 5] = ["payments", "search", "identity", "analytics", "platform"];
const SERVICES: [&str; 8] = [
    "api", "web", "worker", "db", "cache", "queue", "batch", "edge",
];
/// Rows per INSERT statement and per transaction.
const ROWS_PER_STATEMENT: usize = 500;
const ROWS_PER_TRANSACTION: usize = 10_000;

fn usage() -> ExitCode {
    eprintln!("usage: seed_bench seed [--members N] | seed_bench measure [--iterations N]");
    eprintln!("       the database is APP_DATABASE_URL (sqlite://… or postgres://…)");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => return usage(),
    };
    let number = |flag: &str, default: usize| -> Result<usize, String> {
        match rest.iter().position(|a| a == flag) {
            None => Ok(default),
            Some(i) => rest
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} needs a positive number")),
        }
    };
    let config = match server::config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let services = match Services::connect(config).await {
        Ok(services) => services,
        Err(error) => {
            eprintln!("database: {error}");
            return ExitCode::from(1);
        }
    };
    let result = match command {
        "seed" => match number("--members", 100_000) {
            Ok(n) => seed(&services, n).await,
            Err(e) => Err(e),
        },
        "measure" => match number("--iterations", 200) {
            Ok(n) => measure(&services, n).await,
            Err(e) => Err(e),
        },
        _ => return usage(),
    };
    services.db.pool.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seed_bench: {error}");
            ExitCode::from(1)
        }
    }
}

/// A small deterministic generator, so two seeds of the same size hold the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn folder_id(environment: &str, team: &str) -> String {
    format!("fd-bench-{environment}-{team}")
}

struct Member {
    id: String,
    name: String,
    folder: String,
    member_type: &'static str,
    region: &'static str,
    phone: Option<String>,
    joined_at: i64,
}

fn member(i: usize, rng: &mut Lcg, now: i64) -> Member {
    let environment = ENVIRONMENTS[rng.below(4) as usize];
    let team = TEAMS[rng.below(5) as usize];
    let service = SERVICES[rng.below(8) as usize];
    let us = rng.below(5) == 0;
    let phone = match (rng.below(10) < 7, us) {
        (false, _) => None,
        // Distinct, valid mobile numbers: +86 137 xxxx xxxx, +1 202 2xx xxxx.
        (true, false) => Some(format!("+86137{:08}", i)),
        (true, true) => Some(format!("+1202{:07}", 2_000_000 + i)),
    };
    Member {
        id: format!("5{i:015}"),
        name: format!("{team}-{environment}-{service}-{i:06}"),
        folder: folder_id(environment, team),
        member_type: if rng.below(10) == 0 {
            "cloud_account"
        } else {
            "resource_account"
        },
        region: if us { "US" } else { "CN" },
        phone,
        joined_at: now - rng.below(3 * 365 * 86_400) as i64 * 1000,
    }
}

async fn seed(services: &Services, members: usize) -> Result<(), String> {
    let started = Instant::now();
    let db = |e: sqlx::Error| format!("database: {e}");
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM resource_directories WHERE id = $1")
            .bind(DIRECTORY)
            .fetch_optional(&services.db.pool)
            .await
            .map_err(db)?;
    if exists.is_some() {
        return Err(format!(
            "the directory {DIRECTORY} is already seeded; use a fresh database"
        ));
    }
    let now = services.now_ms();
    let mut tx = services.db.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) \
         VALUES ($1, 'Bench Corp', 'bench-corp', 'admin@bench.example', '!', 'CN', NULL, 'active', $2, $2)",
    )
    .bind(MANAGEMENT_ID)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query("INSERT INTO resource_directories (id, management_account_id, created_at) VALUES ($1, $2, $3)")
        .bind(DIRECTORY)
        .bind(MANAGEMENT_ID)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let mut folders = vec![(ROOT.to_string(), None, "Root".to_string(), 1i64)];
    for environment in ENVIRONMENTS {
        let parent = format!("fd-bench-{environment}");
        folders.push((
            parent.clone(),
            Some(ROOT.to_string()),
            environment.to_string(),
            2,
        ));
        for team in TEAMS {
            folders.push((
                folder_id(environment, team),
                Some(parent.clone()),
                team.to_string(),
                3,
            ));
        }
    }
    for (id, parent, name, depth) in &folders {
        sqlx::query(
            "INSERT INTO folders (id, directory_id, parent_id, name, depth, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(DIRECTORY)
        .bind(parent.as_deref())
        .bind(name)
        .bind(depth)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;

    let mut rng = Lcg(42);
    let all: Vec<Member> = (0..members).map(|i| member(i, &mut rng, now)).collect();
    for (n, batch) in all.chunks(ROWS_PER_TRANSACTION).enumerate() {
        let mut tx = services.db.begin().await.map_err(db)?;
        for rows in batch.chunks(ROWS_PER_STATEMENT) {
            insert_accounts(&mut tx, rows, now).await.map_err(db)?;
            insert_members(&mut tx, rows).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        eprintln!(
            "  {} members",
            (n * ROWS_PER_TRANSACTION + batch.len()).min(members)
        );
    }
    let mut tx = services.db.begin().await.map_err(db)?;
    app::ssr::seed::recount_phone_bindings(&mut tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    // Fresh statistics, as a long-running database has; PostgreSQL also sets its visibility map,
    // which index-only scans need.
    let analyze = match services.db.backend {
        Backend::Sqlite => "ANALYZE",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze)
        .execute(&services.db.pool)
        .await
        .map_err(db)?;
    println!(
        "seeded {DIRECTORY}: {members} members in {} folders in {:.1} s",
        folders.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_accounts(
    conn: &mut sqlx::AnyConnection,
    rows: &[Member],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) VALUES {}",
        placeholders(rows.len(), 10)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for m in rows {
        query = query
            .bind(m.id.clone())
            .bind(m.name.clone())
            .bind(format!("bench-{}", m.id))
            .bind(format!("{}@bench.example", m.id))
            .bind("!")
            .bind(m.region)
            .bind(m.phone.clone())
            .bind("active")
            .bind(now)
            .bind(now);
    }
    query.execute(conn).await?;
    Ok(())
}

async fn insert_members(
    conn: &mut sqlx::AnyConnection,
    rows: &[Member],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) VALUES {}",
        placeholders(rows.len(), 6)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for m in rows {
        query = query
            .bind(m.id.clone())
            .bind(DIRECTORY)
            .bind(m.folder.clone())
            .bind(m.member_type)
            .bind(m.name.clone())
            .bind(m.joined_at);
    }
    query.execute(conn).await?;
    Ok(())
}

/// The directory's owner, as the service sees a signed-in principal.
fn bench_principal() -> Principal {
    Principal {
        kind: PrincipalKind::Owner,
        account_id: MANAGEMENT_ID.into(),
        actor_id: None,
        via_user_id: None,
        name: "bench".into(),
        policies: Vec::new(),
        managed_directory: Some(DIRECTORY.into()),
        session_hash: String::new(),
        language: None,
    }
}

/// One kind of request the console makes, varied by `i`.
fn scenario(i: usize, members: i64, rng: &mut Lcg) -> (&'static str, MemberQuery) {
    let page = |offset: i64| MemberQuery {
        search: String::new(),
        folder_id: None,
        sort: MemberSort::DisplayName,
        descending: false,
        offset,
        limit: 20,
    };
    let last_page = (members - 1).max(0) / 20 * 20;
    let random_page = |rng: &mut Lcg| rng.below((members as u64 / 20).max(1)) as i64 * 20;
    let some_member = |rng: &mut Lcg| rng.below(members.max(1) as u64) as usize;
    match i % 10 {
        0 => ("first page, by name", page(0)),
        1 => ("deep page (any offset), by name", page(random_page(rng))),
        2 => (
            "last page (offset 99,980), by joining date",
            MemberQuery {
                sort: MemberSort::JoinedAt,
                descending: true,
                ..page(last_page)
            },
        ),
        3 => (
            "deep page (any offset), by account id desc",
            MemberQuery {
                sort: MemberSort::AccountId,
                descending: true,
                ..page(random_page(rng))
            },
        ),
        4 => {
            let team = TEAMS[rng.below(5) as usize];
            (
                "name search, many matches, first page",
                MemberQuery {
                    search: format!("{team}-prod"),
                    ..page(0)
                },
            )
        }
        5 => {
            let n = some_member(rng);
            (
                "name search, one match",
                MemberQuery {
                    search: format!("-{n:06}"),
                    ..page(0)
                },
            )
        }
        6 => (
            "name search, no match",
            MemberQuery {
                search: "no-such-member".into(),
                ..page(0)
            },
        ),
        7 => (
            "exact account id",
            MemberQuery {
                search: format!("5{:015}", some_member(rng)),
                ..page(0)
            },
        ),
        8 => {
            // Roughly 56% of members hold +86 137…; the search finds the one that does, or none.
            (
                "phone number (E.164)",
                MemberQuery {
                    search: format!("+86137{:08}", some_member(rng)),
                    ..page(0)
                },
            )
        }
        _ => {
            let folder = folder_id(
                ENVIRONMENTS[rng.below(4) as usize],
                TEAMS[rng.below(5) as usize],
            );
            // About 1/20 of the members are in each team folder.
            let offset = rng.below((members as u64 / 400).max(1)) as i64 * 20;
            (
                "folder page, by name",
                MemberQuery {
                    folder_id: Some(folder),
                    ..page(offset)
                },
            )
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn measure(services: &Services, iterations: usize) -> Result<(), String> {
    let principal = bench_principal();
    // The tree counts every member exactly (the list stops counting past a cap).
    let tree = directory::tree(services, &principal)
        .await
        .map_err(|e| format!("{e} (seed first: seed_bench seed)"))?;
    let members: i64 = tree
        .folders
        .iter()
        .filter(|f| f.parent_id.is_none())
        .map(|f| f.total_members)
        .sum();
    if members == 0 {
        return Err("the bench directory is empty; run seed_bench seed first".into());
    }
    let mut rng = Lcg(7);
    // Warm the pool and the caches, as a running server has them.
    for i in 0..20 {
        let (_, query) = scenario(i, members, &mut rng);
        directory::list_members(services, &principal, &query)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut all = Vec::with_capacity(iterations);
    let mut by_kind: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for i in 0..iterations {
        let (kind, query) = scenario(i, members, &mut rng);
        let started = Instant::now();
        let page = directory::list_members(services, &principal, &query)
            .await
            .map_err(|e| e.to_string())?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        std::hint::black_box(page);
        all.push(ms);
        by_kind.entry(kind).or_default().push(ms);
    }
    let backend = match services.db.backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!(
        "{backend}, {members} members, {iterations} member-list requests through directory::list_members"
    );
    println!(
        "{:<45} {:>5} {:>9} {:>9} {:>9}",
        "request", "n", "p50 ms", "p95 ms", "max ms"
    );
    for (kind, times) in by_kind.iter_mut() {
        times.sort_by(f64::total_cmp);
        println!(
            "{kind:<45} {:>5} {:>9.2} {:>9.2} {:>9.2}",
            times.len(),
            percentile(times, 50.0),
            percentile(times, 95.0),
            times.last().copied().unwrap_or_default()
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "{:<45} {:>5} {:>9.2} {:>9.2} {:>9.2}",
        "all",
        all.len(),
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        all.last().copied().unwrap_or_default()
    );
    Ok(())
}
