//! One pool for either backend: SQLite (embedded default) or PostgreSQL, with the SQL they share.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer at a time. Writers of this process queue here, in order and without
    /// sleeping, instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    /// (Other processes on the same file still meet the busy timeout.)
    writer: Arc<Mutex<()>>,
}

/// A connection, or a transaction on one, that holds this process's writer turn on SQLite.
pub struct Turn<C> {
    // Declared first, so it ends (commit, or the rollback of a drop) before the turn is released.
    inner: C,
    _turn: Option<OwnedMutexGuard<()>>,
}

/// A write transaction. Dropped without `commit`, it rolls back. Never begin one while holding a
/// transaction or a connection of the pool: the turn is taken first, then a connection.
pub type Tx = Turn<Transaction<'static, Any>>;

/// A connection for writes outside a transaction (each statement commits alone). Reads need no
/// turn: use the pool.
pub type WriteConn = Turn<PoolConnection<Any>>;

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}

impl<C: DerefMut<Target = AnyConnection>> Deref for Turn<C> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl<C: DerefMut<Target = AnyConnection>> DerefMut for Turn<C> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

/// How long a request waits for a database connection before it is answered 503: long enough to
/// ride out a restart of the database or a busy moment, short enough that no client hangs.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// Connects with the default wait for a connection (`DEFAULT_ACQUIRE_TIMEOUT`).
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Db::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Connects, creating the SQLite file and its folder when missing, and applies the migrations.
    /// A request waits at most `acquire_timeout` for a connection (the pool reconnecting to a
    /// database that went away counts as waiting), then is answered 503 with `Retry-After`.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Db, sqlx::Error> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(acquire_timeout)
            .idle_timeout(Duration::from_secs(300));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; the busy timeout queues
                            // writers of other processes. Pages are read through a memory map:
                            // every write makes the other connections drop their page caches, and
                            // re-reading them with read() calls cost more than the queries.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                 PRAGMA mmap_size = 268435456;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(&url).await?,
        };
        let db = Db {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&db.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&db.pool).await?,
        }
        Ok(db)
    }

    /// The versions of this build's migrations that the database has not applied successfully
    /// (empty when it is up to date): what `/readyz` asks besides whether the database answers.
    pub async fn missing_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .filter(|version| !applied.iter().any(|(v,)| v == version))
            .collect())
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a read-then-write never fails half-way with a busy snapshot.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                Ok(Turn {
                    inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                })
            }
            Backend::Postgres => Ok(Turn {
                inner: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    /// A connection for single-statement writes. The turn is taken before the connection, and a
    /// caller must not hold another connection of the pool while it waits for either.
    pub async fn write(&self) -> Result<WriteConn, sqlx::Error> {
        let turn = match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        Ok(Turn {
            inner: self.pool.acquire().await?,
            _turn: turn,
        })
    }

    /// ` FOR UPDATE` where the backend has row locks; SQLite's write transaction already excludes others.
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// ` FOR UPDATE SKIP LOCKED` for queue claims on PostgreSQL.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

fn prepare_sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && !path.is_empty()
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
    }
    let mut query = query.to_string();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}
