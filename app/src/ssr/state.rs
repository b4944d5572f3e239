//! The shared state: pool, clock, config and the outbox wake-up, handed to routes and server functions.

use crate::ssr::clock::{Clock, SystemClock};
use crate::ssr::config::Config;
use crate::ssr::db::{Db, Tx};
use crate::ssr::metrics::Metrics;
use crate::ssr::pace::Pace;
use crate::ssr::sms_guard::RegionsInUse;
use std::sync::Arc;
use tokio::sync::{Notify, Semaphore};

/// What every service needs. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Wakes this instance's delivery worker as soon as a message is queued.
    pub outbox_wake: Arc<Notify>,
    /// Password hashes computed at once: a burst of sign-ins waits here instead of taking about
    /// 19 MiB of memory each (argon2id).
    pub password_hashing: Arc<Semaphore>,
    /// This instance's metrics, rendered at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The regions the SMS-pumping guard has seen accounts registered in (the default allow list).
    pub sms_regions: Arc<RegionsInUse>,
    /// How long a forgot-password answer that sends a code takes; the others wait as long.
    pub recovery_pace: Arc<Pace>,
    hmac_key: Arc<Vec<u8>>,
}

impl Services {
    pub fn new(db: Db, config: Config, clock: Arc<dyn Clock>) -> Services {
        let hmac_key = Arc::new(config.hmac_key_bytes());
        let password_hashing = Arc::new(Semaphore::new(config.password_hash_permits.max(1)));
        Services {
            db,
            config: Arc::new(config),
            clock,
            outbox_wake: Arc::new(Notify::new()),
            password_hashing,
            metrics: Arc::new(Metrics::new()),
            sms_regions: Arc::new(RegionsInUse::default()),
            recovery_pace: Arc::new(Pace::default()),
            hmac_key,
        }
    }

    pub async fn connect(config: Config) -> Result<Services, sqlx::Error> {
        let wait = std::time::Duration::from_millis(config.db_acquire_timeout_ms);
        let db = Db::connect_with(&config.database_url, wait).await?;
        Ok(Services::new(db, config, Arc::new(SystemClock)))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn hmac_key(&self) -> &[u8] {
        &self.hmac_key
    }

    /// Commits a transaction that queued messages, then wakes the delivery worker for them: they
    /// exist (and are sent) only once the change they tell of does.
    pub async fn commit_and_wake(&self, tx: Tx) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }
}

#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: leptos::config::LeptosOptions,
    pub services: Services,
}
