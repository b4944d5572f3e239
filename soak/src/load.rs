//! The traffic: owner accounts seeded straight into the database, then an open loop of whole phone
//! changes, sign-ins and page views at fixed rates, each request timed from when it was due.

use crate::Settings;
use app::error::AppError;
use app::ssr::seed::{LoadOwner, insert_load_owners};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

pub const PASSWORD: &str = "Soak-pass-123";
/// Accounts that only sign in once and then read pages, so page views always have a live session.
const VIEWERS: usize = 8;
/// Requests in flight at most; past it a due arrival is counted as dropped, not queued.
const MAX_IN_FLIGHT: usize = 256;

/// What the traffic did, since the start (counters) and since the last sample (latencies).
#[derive(Default)]
pub struct Stats {
    window: Mutex<Vec<f64>>,
    pub requests: AtomicU64,
    /// Answers that were not the expected one (an error where success was due, a 5xx anywhere).
    pub unexpected: AtomicU64,
    pub server_errors: AtomicU64,
    pub changes_started: AtomicU64,
    pub changes_done: AtomicU64,
    /// A resend asked within the interval, refused as SPEC 3 says (`ResendTooSoon`).
    pub refused_as_due: AtomicU64,
    /// Due arrivals not started: every account busy, or too many requests in flight.
    pub dropped: AtomicU64,
}

impl Stats {
    /// The latencies (ms) of the requests answered since the last call.
    pub fn take_window(&self) -> Vec<f64> {
        std::mem::take(&mut *self.window.lock().unwrap())
    }

    fn answered(&self, due: Instant, status: u16, expected: bool) {
        let ms = due.elapsed().as_secs_f64() * 1000.0;
        self.window.lock().unwrap().push(ms);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if !expected {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            if self.unexpected.load(Ordering::Relaxed) <= 5 {
                eprintln!("soak: unexpected answer {status}");
            }
        }
    }
}

/// An owner account the changes are made on: its number now.
struct Actor {
    email: String,
    phone: String,
}

pub struct Load {
    http: reqwest::Client,
    base: String,
    pub stats: Arc<Stats>,
    actors: Arc<Mutex<VecDeque<Actor>>>,
    viewers: Vec<String>,
    next_number: Arc<AtomicU64>,
    tasks: Mutex<JoinSet<()>>,
}

/// A Chinese mobile number whose prefix (all but the last four digits) is its own: the SMS-pumping
/// guard caps codes per prefix, and real users' numbers do not share one either.
fn mobile(head: &str, n: u64) -> String {
    format!("+86{head}{:04}{:04}", n % 10_000, (n / 10_000) % 10_000)
}

impl Load {
    /// Seeds the accounts and signs the viewers in.
    pub async fn prepare(settings: &Settings, db: &sqlx::AnyPool) -> Load {
        seed(db, settings.accounts + VIEWERS).await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let actors = (0..settings.accounts)
            .map(|index| Actor {
                email: email(index),
                phone: mobile("135", index as u64),
            })
            .collect();
        let mut load = Load {
            http,
            base: settings.base.trim_end_matches('/').to_string(),
            stats: Arc::default(),
            actors: Arc::new(Mutex::new(actors)),
            viewers: Vec::new(),
            next_number: Arc::default(),
            tasks: Mutex::new(JoinSet::new()),
        };
        for v in 0..VIEWERS {
            let client = load.client();
            let cookie = client
                .sign_in(&email(settings.accounts + v), Instant::now())
                .await
                .expect("a viewer signs in");
            load.viewers.push(cookie);
        }
        load
    }

    fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Starts what is due in tick number `tick`, where `rate` changes are due per tick (so many
    /// sign-ins and page views with them), spread evenly over the ticks.
    pub fn start_due(&self, rate: f64, tick: u64) {
        let due = |per_tick: f64| -> u64 {
            let until = ((tick + 1) as f64 * per_tick).floor() as u64;
            until - (tick as f64 * per_tick).floor() as u64
        };
        let now = Instant::now();
        let mut tasks = self.tasks.lock().unwrap();
        while tasks.try_join_next().is_some() {}
        let room = |tasks: &JoinSet<()>| tasks.len() < MAX_IN_FLIGHT;
        for _ in 0..due(rate) {
            let actor = self.actors.lock().unwrap().pop_front();
            match actor {
                Some(actor) if room(&tasks) => {
                    let (client, actors) = (self.client(), self.actors.clone());
                    let number = self.next_number.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(async move {
                        let actor = client.change(actor, mobile("139", number), now).await;
                        actors.lock().unwrap().push_back(actor);
                    });
                }
                Some(actor) => {
                    self.actors.lock().unwrap().push_front(actor);
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for n in 0..due(rate / 2.0) {
            let client = self.client();
            let who = email((tick as usize * 7 + n as usize) % self.actor_count());
            tasks.spawn(async move {
                let _ = client.sign_in(&who, now).await;
            });
        }
        for n in 0..due(rate * 2.0) {
            let client = self.client();
            let cookie = self.viewers[(tick as usize + n as usize) % self.viewers.len()].clone();
            tasks.spawn(async move { client.page(&cookie, now).await });
        }
    }

    fn actor_count(&self) -> usize {
        self.actors.lock().unwrap().len().max(1)
    }

    /// Waits for what is still in flight and answers the totals.
    pub async fn finish(&self) -> Arc<Stats> {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        while tasks.join_next().await.is_some() {}
        self.stats.clone()
    }
}

fn email(index: usize) -> String {
    format!("soak-{index}@soak.example")
}

/// Owner accounts in region CN, each with its own number, inserted by the product's own
/// load-run seeding (as `bench_changes` does; one password hash for all).
async fn seed(db: &sqlx::AnyPool, accounts: usize) {
    let hash = app::ssr::crypto::hash_password(PASSWORD);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let owners: Vec<LoadOwner> = (0..accounts)
        .map(|i| LoadOwner {
            id: format!("7{i:015}"),
            name: format!("soak-{i}"),
            email: email(i),
            phone: mobile("135", i as u64),
        })
        .collect();
    insert_load_owners(db, &owners, &hash, now)
        .await
        .expect("the soak accounts are inserted (run on a fresh database)");
}

/// One client's view of the server: form posts with the session cookie and this origin.
struct Client {
    http: reqwest::Client,
    base: String,
    stats: Arc<Stats>,
}

/// An answer: its status, the session cookie it set (if any) and its body.
struct Answer {
    status: u16,
    cookie: Option<String>,
    body: String,
}

impl Client {
    async fn post(&self, endpoint: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        let mut request = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("Origin", &self.base)
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let cookie = response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find(|v| {
                        v.starts_with("__Host-session=") && !v.starts_with("__Host-session=;")
                    })
                    .and_then(|v| v.split(';').next())
                    .map(str::to_string);
                let body = response.text().await.unwrap_or_default();
                Answer {
                    status,
                    cookie,
                    body,
                }
            }
            Err(error) => Answer {
                status: 599,
                cookie: None,
                body: error.to_string(),
            },
        }
    }

    /// Signs in; answers the session cookie.
    async fn sign_in(&self, email: &str, due: Instant) -> Option<String> {
        let answer = self
            .post(
                "sign_in",
                None,
                &[("account", email), ("password", PASSWORD)],
            )
            .await;
        let ok = answer.status == 200 && answer.cookie.is_some();
        self.stats.answered(due, answer.status, ok);
        answer.cookie.filter(|_| ok)
    }

    async fn page(&self, cookie: &str, due: Instant) {
        let answer = self
            .http
            .get(format!("{}/overview", self.base))
            .header("Cookie", cookie)
            .send()
            .await;
        let status = answer.map_or(599, |r| r.status().as_u16());
        self.stats.answered(due, status, status == 200);
    }

    /// Calls `endpoint`, expecting success; false (counted) otherwise.
    async fn step(&self, endpoint: &str, cookie: &str, form: &[(&str, &str)]) -> Option<Answer> {
        let due = Instant::now();
        let answer = self.post(endpoint, Some(cookie), form).await;
        let ok = answer.status == 200;
        self.stats.answered(due, answer.status, ok);
        if !ok && self.stats.unexpected.load(Ordering::Relaxed) <= 5 {
            eprintln!("soak: {endpoint}: {} {}", answer.status, answer.body);
        }
        ok.then_some(answer)
    }

    /// The newest code the development outbox holds for `to`.
    async fn code_for(&self, to: &str) -> Option<String> {
        let due = Instant::now();
        let url = format!(
            "{}/dev/outbox.json?to={}",
            self.base,
            to.replace('+', "%2B")
        );
        let answer = self.http.get(url).send().await;
        let status = answer.as_ref().map_or(599, |r| r.status().as_u16());
        let items: Vec<serde_json::Value> = match answer {
            Ok(r) if status == 200 => r.json().await.unwrap_or_default(),
            _ => Vec::new(),
        };
        let code = items
            .iter()
            .find_map(|m| m["code"].as_str().map(str::to_string));
        self.stats.answered(due, status, code.is_some());
        code
    }

    /// A whole change of `actor`'s number to `new`, signed in first; answers the actor with its
    /// number now (unchanged when a step failed).
    async fn change(&self, mut actor: Actor, new: String, due: Instant) -> Actor {
        self.stats.changes_started.fetch_add(1, Ordering::Relaxed);
        if self.change_steps(&actor, &new, due).await.is_some() {
            actor.phone = new;
            self.stats.changes_done.fetch_add(1, Ordering::Relaxed);
        }
        actor
    }

    async fn change_steps(&self, actor: &Actor, new: &str, due: Instant) -> Option<()> {
        let cookie = self.sign_in(&actor.email, due).await?;
        self.step("send_identity_code", &cookie, &[("method", "sms")])
            .await?;
        let code = self.code_for(&actor.phone).await?;
        self.step(
            "verify_identity",
            &cookie,
            &[("method", "sms"), ("code", &code)],
        )
        .await?;
        let national = new.trim_start_matches("+86");
        self.step("send_new_phone_code", &cookie, &[("number", national)])
            .await?;
        self.resend_too_soon(&cookie, national).await;
        let code = self.code_for(new).await?;
        let confirmed = self
            .step(
                "confirm_phone_change",
                &cookie,
                &[("number", national), ("code", &code)],
            )
            .await?;
        // The change rotates the session token: the new cookie must work, the old one not.
        let rotated = confirmed.cookie?;
        self.page(&rotated, Instant::now()).await;
        Some(())
    }

    /// A second code asked for at once must be refused with `ResendTooSoon`, and nothing sent.
    async fn resend_too_soon(&self, cookie: &str, national: &str) {
        let due = Instant::now();
        let answer = self
            .post("send_new_phone_code", Some(cookie), &[("number", national)])
            .await;
        let refused = matches!(
            serde_json::from_str::<AppError>(&answer.body),
            Ok(AppError::ResendTooSoon(_))
        );
        self.stats.answered(due, answer.status, refused);
        if refused {
            self.stats.refused_as_due.fetch_add(1, Ordering::Relaxed);
        }
    }
}
