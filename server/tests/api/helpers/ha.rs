//! A highly available PostgreSQL for the failover tests: `scripts/ha-postgres.sh` starts a
//! pg_auto_failover monitor, a primary and a hot standby on loopback ports, and `HaPostgres`
//! puts a read-write router in front of them, so the product sees one address whichever node
//! is primary.
//!
//! Why a router and not a multi-host URL (`host=a,b target_session_attrs=read-write`, what
//! pg_auto_failover's docs give applications): sqlx 0.8's PostgreSQL driver takes one host only
//! (launchbadge/sqlx#2290, #3333 are open). The router does what libpq would do for every new
//! connection: it goes to the node that answers `SHOW transaction_read_only` with `off`, found by
//! asking both nodes every 100 ms; while none does (the switch), it closes new connections at
//! once, so the product's pool fails fast and answers 503 instead of waiting; when the primary
//! changes it cuts the connections it holds to the old one, as a dead machine would. It runs on
//! a thread and runtime of its own, so it outlives whatever the test's runtime is blocked on.
//! Dropped, `HaPostgres` stops the router, then every process of the cluster, and removes its
//! folder.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How often the router asks the nodes which one takes writes.
const PROBE_EVERY: Duration = Duration::from_millis(100);

fn script() -> PathBuf {
    super::processes::workspace_root().join("scripts/ha-postgres.sh")
}

/// The three PostgreSQL servers and the router in front of them.
pub struct HaPostgres {
    dir: PathBuf,
    pub monitor_port: u16,
    pub node_ports: [u16; 2],
    pub router: Router,
}

impl HaPostgres {
    /// Installs pg_auto_failover when missing and starts the cluster (about 20 s). `Err` with the
    /// reason when it cannot be installed here (the caller skips, saying so); any other failure
    /// to start panics with the script's output.
    pub async fn start() -> Result<HaPostgres, String> {
        let dir =
            std::env::temp_dir().join(format!("console-ha-{}", uuid::Uuid::new_v4().simple()));
        let run_dir = dir.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(script())
                .arg("start")
                .arg(&run_dir)
                .output()
                .expect("scripts/ha-postgres.sh runs")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        if output.status.code() == Some(3) {
            return Err(stderr.trim().to_string());
        }
        let stopper = Stopper(dir.clone());
        assert!(
            output.status.success(),
            "scripts/ha-postgres.sh start failed ({}):\n{stderr}",
            output.status
        );
        let ports = std::fs::read_to_string(dir.join("ports")).unwrap();
        let port = |key: &str| -> u16 {
            ports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{key} in {ports}"))
        };
        let node_ports = [port("NODE1_PORT"), port("NODE2_PORT")];
        let router = Router::start(node_ports.to_vec());
        router.wait_for_primary(Duration::from_secs(10)).await;
        std::mem::forget(stopper);
        Ok(HaPostgres {
            dir,
            monitor_port: port("MONITOR_PORT"),
            node_ports,
            router,
        })
    }

    /// A superuser's URL through the router.
    pub fn admin_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.router.port
        )
    }

    /// The primary, ready to be killed at a moment of the caller's choosing (`Crash::now`).
    pub fn primary_to_crash(&self) -> Crash {
        let output = self.script("primary-pids");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let fields: Vec<u32> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap_or_else(|_| panic!("primary-pids: {text}")))
            .collect();
        let [port, keeper_session, postmaster] = fields[..] else {
            panic!("primary-pids: {text}")
        };
        Crash {
            port: port as u16,
            keeper_session,
            postmaster,
        }
    }

    /// The monitor's view: node, port, reported state, goal state, health.
    pub fn state(&self) -> String {
        String::from_utf8_lossy(&self.script("state").stdout)
            .trim()
            .replace('\n', "; ")
    }

    fn script(&self, command: &str) -> std::process::Output {
        let output = Command::new(script())
            .arg(command)
            .arg(&self.dir)
            .output()
            .expect("scripts/ha-postgres.sh runs");
        assert!(
            output.status.success(),
            "scripts/ha-postgres.sh {command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

/// The primary's processes: its pg_autoctl keeper's session and its postmaster.
pub struct Crash {
    pub port: u16,
    keeper_session: u32,
    postmaster: u32,
}

impl Crash {
    /// `kill -9` of the postmaster and of the keeper, in one call (the keeper alone would
    /// restart the postmaster within a second, and no failover would happen): the primary's
    /// machine is gone. Returns when the signals are sent.
    pub fn now(&self) {
        let status = Command::new("kill")
            .arg("-9")
            .arg("--")
            .arg(format!("-{}", self.keeper_session))
            .arg(self.postmaster.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -9 of the primary: {status}");
    }
}

impl Drop for HaPostgres {
    fn drop(&mut self) {
        self.router.stop();
        if std::thread::panicking() {
            eprintln!(
                "==== the HA cluster when the test failed ====\n{}",
                self.state()
            );
        }
        drop(Stopper(self.dir.clone()));
    }
}

/// Stops and removes the cluster in a folder when dropped (also after a failed start).
struct Stopper(PathBuf);

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.0).status();
    }
}

/// Each change of the node the router routes to, with when it saw it.
type Switches = Arc<Mutex<Vec<(Instant, Option<u16>)>>>;

/// A TCP router to whichever node takes writes.
pub struct Router {
    pub port: u16,
    primary: watch::Receiver<Option<u16>>,
    switches: Switches,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Router {
    fn start(nodes: Vec<u16>) -> Router {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, primary) = watch::channel(None);
        let switches: Switches = Arc::default();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let seen = switches.clone();
        let thread = super::on_own_thread(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            let tx = Arc::new(tx);
            tokio::select! {
                _ = probe(nodes, tx.clone(), seen) => {}
                _ = accept(listener, tx) => {}
                _ = stopped => {}
            }
        });
        Router {
            port,
            primary,
            switches,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The node it routes new connections to now, if any takes writes.
    pub fn primary(&self) -> Option<u16> {
        *self.primary.borrow()
    }

    pub fn switches(&self) -> Vec<(Instant, Option<u16>)> {
        self.switches.lock().unwrap().clone()
    }

    async fn wait_for_primary(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.primary().is_none() {
            assert!(
                Instant::now() < deadline,
                "no node takes writes after {limit:?}"
            );
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the node on `port` answers and takes writes (libpq's `read-write`).
async fn takes_writes(port: u16) -> bool {
    use sqlx::Connection;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let ask = async {
        let mut conn = sqlx::postgres::PgConnection::connect(&url).await?;
        let (read_only,): (String,) = sqlx::query_as("SHOW transaction_read_only")
            .fetch_one(&mut conn)
            .await?;
        let _ = conn.close().await;
        Ok::<_, sqlx::Error>(read_only == "off")
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(800), ask).await,
        Ok(Ok(true))
    )
}

/// Keeps `tx` on the node that takes writes: the current one while it still does, else the
/// first that does, else none.
async fn probe(nodes: Vec<u16>, tx: Arc<watch::Sender<Option<u16>>>, switches: Switches) {
    loop {
        let current = *tx.borrow();
        let mut found = None;
        let others = nodes.iter().copied().filter(|p| Some(*p) != current);
        for port in current.into_iter().chain(others) {
            if takes_writes(port).await {
                found = Some(port);
                break;
            }
        }
        if found != current {
            tx.send_replace(found);
            switches.lock().unwrap().push((Instant::now(), found));
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

async fn accept(listener: TcpListener, tx: Arc<watch::Sender<Option<u16>>>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let mut primary = tx.subscribe();
        tokio::spawn(async move {
            // No node takes writes: the client's connection ends at once (dropped).
            let Some(port) = *primary.borrow_and_update() else {
                return;
            };
            let connect = TcpStream::connect(("127.0.0.1", port));
            let Ok(Ok(mut server)) = tokio::time::timeout(Duration::from_secs(1), connect).await
            else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = primary.wait_for(|p| *p != Some(port)) => {}
            }
        });
    }
}
