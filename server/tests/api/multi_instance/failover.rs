//! A PostgreSQL failover under load (issue 15, items 1 and 2): two instances on a real
//! pg_auto_failover cluster (`helpers::ha`), concurrent clients alternating between them, and
//! the primary's machine killed (`kill -9` of its postmaster and keeper) in the middle.
//!
//! Only on `APP_TEST_BACKEND=postgres`; where pg_auto_failover cannot be installed it says
//! `skipped:` and why, and passes.

use super::*;
use crate::helpers::Reply;
use crate::helpers::fixtures::CI;
use crate::helpers::ha::HaPostgres;
use crashes::{assert_nothing_unknown_delivered, deliveries, wait_all_delivered};
use std::sync::Mutex;

/// A request with no answer by then counts as hung (and fails the scenario).
const REQUEST_LIMIT: Duration = Duration::from_secs(15);
/// A client waits this long after a 503 before it asks again: shorter than the 2 s the product's
/// `Retry-After` asks for, so the time to recover is measured to a quarter of a second.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// A step still answered 503 after this long fails the scenario: the product did not recover.
const GIVE_UP: Duration = Duration::from_secs(60);
/// The load runs this long after the kill once the product answers again.
const AFTER_RECOVERY: Duration = Duration::from_secs(4);

const OWNERS: usize = 48;
/// Owners 0..RACERS change to `SHARED`, held by 4 accounts already: 2 places for 8 racers.
const RACERS: usize = 8;
const SHARED: &str = "+8613200132999";
/// Code requests for one member, more than its daily 100.
const MEMBER_SENDS: usize = 130;
const SEND_TARGET: &str = "+8613100131999";
const MEMBER_BINDS: usize = 16;
/// The requests that change a binding.
const WRITES: [&str; 2] = ["confirm_phone_change", "rd_bind_phone"];

fn owner(k: usize) -> Owner {
    Owner::cn(
        format!("70000000000000{k:02}"),
        format!("ha{k}@example.test"),
        Some(format!("+86159100000{k:02}")),
    )
}

fn new_number(k: usize) -> String {
    if k < RACERS {
        SHARED.to_string()
    } else {
        format!("+86158100000{k:02}")
    }
}

fn bind_number(j: usize) -> String {
    format!("+861310020{j:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_fails_over_losing_nothing_and_keeping_every_limit() {
    if !runs_on("postgres") {
        return;
    }
    let ha = match HaPostgres::start().await {
        Ok(ha) => ha,
        Err(reason) => {
            eprintln!("note: skipped: no highly available PostgreSQL on this machine: {reason}");
            return;
        }
    };
    tokio::time::timeout(SCENARIO_LIMIT, scenario(&ha))
        .await
        .expect("the scenario ends in time");
}

/// What one HTTP request got.
#[derive(Clone, Debug)]
enum Answer {
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// No answer: a timeout or a broken connection (the processes never die here).
    Broken(String),
}

#[derive(Clone, Debug)]
struct Call {
    endpoint: &'static str,
    instance: usize,
    sent: Instant,
    answered: Instant,
    answer: Answer,
}

/// A final answer, after `unavailable` answers 503 to the same request.
struct Final {
    reply: Reply,
    unavailable: usize,
}

impl Final {
    fn outcome(&self) -> Result<(), AppError> {
        outcome(&self.reply)
    }
}

/// The clients' side: every request to the instances in turn, every answer kept.
struct Load<'a> {
    cluster: &'a Cluster,
    sms: &'a SmsStandIn,
    smtp: &'a SmtpSink,
    next: AtomicUsize,
    calls: Mutex<Vec<Call>>,
    /// Changes and binds sent and not yet answered: the kill waits for a few, so some commits
    /// are in flight when the primary goes.
    writes_in_flight: AtomicUsize,
    /// Sends to `SHARED` and the reading of their code, one racer at a time (the outbox does
    /// not say which racer a code of the shared number is for).
    shared: tokio::sync::Mutex<()>,
}

impl Load<'_> {
    /// One request as a patient client makes it: a 503 is asked again after `RETRY_PAUSE`, so
    /// is a request without an answer (counted: there must be none); anything else is final.
    async fn call(
        &self,
        endpoint: &'static str,
        form: &[(&str, &str)],
        token: Option<&str>,
    ) -> Final {
        let started = Instant::now();
        let mut unavailable = 0;
        loop {
            let instance = self.next.fetch_add(1, Ordering::SeqCst) % 2;
            let target = self.cluster.target(instance);
            let sent = Instant::now();
            let write = WRITES.contains(&endpoint);
            if write {
                self.writes_in_flight.fetch_add(1, Ordering::SeqCst);
            }
            let reply = post_with_limit(&target, endpoint, form, token).await;
            if write {
                self.writes_in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            let answer = match &reply {
                Ok(r) => Answer::Status {
                    status: r.status,
                    retry_after: r.retry_after.clone(),
                },
                Err(e) => Answer::Broken(e.clone()),
            };
            self.calls.lock().unwrap().push(Call {
                endpoint,
                instance,
                sent,
                answered: Instant::now(),
                answer,
            });
            match reply {
                Ok(reply) if reply.status != 503 => return Final { reply, unavailable },
                Ok(_) => unavailable += 1,
                Err(_) => {}
            }
            assert!(
                started.elapsed() < GIVE_UP,
                "/api/{endpoint} still unavailable after {GIVE_UP:?}"
            );
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// The code of the newest code message to `to`: from the outbox while it waits there, else
    /// from the stand-in it was delivered to (delivery wipes it from the row). Read through the
    /// router, patiently: the test's own pool meets the failover too.
    async fn code(&self, to: &str) -> String {
        let started = Instant::now();
        loop {
            let row: Result<Option<(i64, Option<String>)>, _> = sqlx::query_as(
                "SELECT id, code FROM outbox WHERE recipient = $1 AND template = 'verification_code' ORDER BY id DESC LIMIT 1",
            )
            .bind(to)
            .fetch_optional(&self.cluster.db.pool)
            .await;
            if let Ok(Some((id, code))) = row
                && let Some(code) = code.or_else(|| self.delivered_code(id))
            {
                return code;
            }
            assert!(started.elapsed() < GIVE_UP, "no code for {to}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn delivered_code(&self, id: i64) -> Option<String> {
        let sms = self
            .sms
            .hits()
            .into_iter()
            .find(|h| h.out_id == id && h.accepted);
        let wanted = message_id(id);
        sms.and_then(|h| h.code).or_else(|| {
            let mail = self
                .smtp
                .mails()
                .into_iter()
                .find(|m| m.message_id == wanted);
            mail.and_then(|m| m.code)
        })
    }

    async fn phone_of(&self, account_id: &str) -> Option<String> {
        let started = Instant::now();
        loop {
            let row: Result<(Option<String>,), _> =
                sqlx::query_as("SELECT phone FROM accounts WHERE id = $1")
                    .bind(account_id)
                    .fetch_one(&self.cluster.db.pool)
                    .await;
            if let Ok((phone,)) = row {
                return phone;
            }
            assert!(started.elapsed() < GIVE_UP, "the database stays away");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn signed_in(&self, account: &str) -> String {
        let form = [("account", account), ("password", processes::PASSWORD)];
        let reply = self.call("sign_in", &form, None).await.reply;
        assert!(reply.status < 300, "sign-in of {account}: {}", reply.body);
        reply.session_token().expect("a session cookie")
    }

    fn ok(&self, what: &str, answer: &Final) {
        assert_eq!(answer.outcome(), Ok(()), "{what}: {}", answer.reply.body);
    }
}

async fn post_with_limit(
    target: &processes::Target,
    endpoint: &str,
    form: &[(&str, &str)],
    token: Option<&str>,
) -> Result<Reply, String> {
    helpers::post_form(
        &target.http,
        &target.base,
        endpoint,
        form,
        token,
        Some(REQUEST_LIMIT),
    )
    .await
}

/// How an owner's change ended.
#[derive(Clone, Debug, PartialEq)]
enum Change {
    /// Answered success.
    Answered,
    /// Its answer was a 503 but the change had committed (a retry found it done).
    AppliedUnanswered,
    /// Refused for a reason of SPEC 2/3 (the 6-account cap).
    Refused(AppError),
}

/// Sign in, prove identity by email, send a code to the new number, confirm it twice at once
/// (through both instances: single use); started again from the sign-in when a 503 leaves a
/// step in doubt.
async fn change_journey(load: &Load<'_>, k: usize) -> Change {
    let owner = owner(k);
    let number = new_number(k);
    for _ in 0..5 {
        let token = load.signed_in(&owner.email).await;
        let sent = load
            .call("send_identity_code", &[("method", "email")], Some(&token))
            .await;
        load.ok("identity code", &sent);
        let code = load.code(&owner.email).await;
        let verified = load
            .call(
                "verify_identity",
                &[("method", "email"), ("code", &code)],
                Some(&token),
            )
            .await;
        if verified.outcome().is_err() {
            // Only after a 503: the first try used the code and its answer was lost.
            assert!(
                verified.unavailable > 0,
                "owner {k}: identity refused: {}",
                verified.reply.body
            );
            continue;
        }
        let code = {
            let _shared = if number == SHARED {
                Some(load.shared.lock().await)
            } else {
                None
            };
            let sent = load
                .call("send_new_phone_code", &[("number", &number)], Some(&token))
                .await;
            match sent.outcome() {
                Ok(()) => {}
                Err(AppError::PhoneBindingLimit(6)) => {
                    return Change::Refused(AppError::PhoneBindingLimit(6));
                }
                Err(error) => panic!("owner {k}: new-number code refused: {error:?}"),
            }
            load.code(&number).await
        };
        let form = [("number", number.as_str()), ("code", code.as_str())];
        let (a, b) = tokio::join!(
            load.call("confirm_phone_change", &form, Some(&token)),
            load.call("confirm_phone_change", &form, Some(&token)),
        );
        let outcomes = [a.outcome(), b.outcome()];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert!(
            won <= 1,
            "owner {k}: one code confirmed twice: {outcomes:?}"
        );
        if won == 1 {
            return Change::Answered;
        }
        if outcomes.contains(&Err(AppError::PhoneBindingLimit(6))) {
            return Change::Refused(AppError::PhoneBindingLimit(6));
        }
        for error in outcomes.iter().filter_map(|o| o.clone().err()) {
            assert!(
                lost_to_the_winner(&error),
                "owner {k}: a confirmation got {error:?}"
            );
        }
        assert!(
            a.unavailable + b.unavailable > 0,
            "owner {k}: neither confirmation succeeded, and no 503 explains it: {outcomes:?}"
        );
        if load.phone_of(&owner.id).await.as_deref() == Some(number.as_str()) {
            return Change::AppliedUnanswered;
        }
    }
    panic!("owner {k}: five journeys, none definite")
}

/// SPEC 3's 100 codes per member per day: `MEMBER_SENDS` requests, one after another.
async fn member_sends(load: &Load<'_>, admin: &str) -> (usize, usize) {
    let (mut sent, mut limited) = (0, 0);
    for i in 0..MEMBER_SENDS {
        let form = [("account_id", SANDBOX), ("phone", SEND_TARGET)];
        let answer = load.call("rd_send_code", &form, Some(admin)).await;
        match answer.outcome() {
            Ok(()) => sent += 1,
            Err(AppError::DailyLimitReached(100)) => limited += 1,
            Err(error) => panic!("member code request {i}: {error:?}"),
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    (sent, limited)
}

/// Member binds: the administrator binds member CI to one new number after another.
/// Returns, per number, whether its bind answered success.
async fn member_binds(load: &Load<'_>, admin: &str) -> Vec<bool> {
    let mut answered = Vec::new();
    for j in 0..MEMBER_BINDS {
        let number = bind_number(j);
        let form = [("account_id", CI), ("phone", number.as_str())];
        let sent = load.call("rd_send_code", &form, Some(admin)).await;
        load.ok("member bind code", &sent);
        let code = load.code(&number).await;
        let form = [
            ("account_id", CI),
            ("phone", number.as_str()),
            ("code", code.as_str()),
        ];
        let bound = load.call("rd_bind_phone", &form, Some(admin)).await;
        match bound.outcome() {
            Ok(()) => answered.push(true),
            // A refused retry after a 503: the first try may have committed (its code is spent,
            // the number already there) or not; the events checked below tell which.
            Err(_) if bound.unavailable > 0 => answered.push(false),
            Err(error) => panic!("member bind {j}: {error:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    answered
}

/// SPEC 3's 5 wrong attempts, round after round until `stop`: wrong codes until the code is
/// dead, then the right one must fail too. Returns per round (answered as counted, stored).
async fn attempt_rounds(
    load: &Load<'_>,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<(usize, i64)> {
    let token = load.signed_in(ALICE_EMAIL).await;
    let mut rounds = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let sent = load
            .call("send_identity_code", &[("method", "sms")], Some(&token))
            .await;
        load.ok("alice's identity code", &sent);
        let right = load.code(ALICE_PHONE).await;
        let wrong = wrong_code(&right);
        let mut counted = 0;
        loop {
            let form = [("method", "sms"), ("code", wrong)];
            let answer = load.call("verify_identity", &form, Some(&token)).await;
            match answer.outcome() {
                Err(AppError::CodeIncorrectOrExpired) => counted += 1,
                Err(AppError::TooManyAttempts) => break,
                other => panic!("a wrong code got {other:?}"),
            }
            assert!(counted <= 5, "a sixth wrong code was counted");
        }
        let form = [("method", "sms"), ("code", right.as_str())];
        let last = load.call("verify_identity", &form, Some(&token)).await;
        assert_eq!(
            last.outcome(),
            Err(AppError::TooManyAttempts),
            "the right code after 5 wrong ones"
        );
        let stored = loop {
            let row: Result<(i64,), _> = sqlx::query_as(
                "SELECT attempts FROM challenges WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(ALICE_ID)
            .fetch_one(&load.cluster.db.pool)
            .await;
            if let Ok((n,)) = row {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        rounds.push((counted, stored));
    }
    rounds
}

async fn scenario(ha: &HaPostgres) {
    let _serial = SERIAL.lock().await;
    let sms = SmsStandIn::start().await;
    let smtp = SmtpSink::start().await;
    let delivery = Delivery {
        sms_endpoint: sms.endpoint.clone(),
        smtp_port: smtp.port,
    };
    let cluster = Cluster::start_on(&ha.admin_url(), &race_env(), Some(delivery)).await;
    let primary_before = ha.router.primary().expect("a primary");
    let holders: Vec<Owner> = (1..=4)
        .map(|k| {
            Owner::cn(
                format!("710000000000000{k}"),
                format!("haholder{k}@example.test"),
                Some(SHARED.into()),
            )
        })
        .collect();
    let owners: Vec<Owner> = (0..OWNERS).map(owner).collect();
    cluster
        .insert_owners(&[holders, owners.clone()].concat())
        .await;
    let admin = cluster.sign_in(0, "rd-admin@acme").await;

    let load = Load {
        cluster: &cluster,
        sms: &sms,
        smtp: &smtp,
        next: AtomicUsize::new(0),
        calls: Mutex::new(Vec::new()),
        shared: tokio::sync::Mutex::new(()),
        writes_in_flight: AtomicUsize::new(0),
    };
    let next_owner = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let killed_at: Mutex<Option<Instant>> = Mutex::new(None);
    let load_started = Instant::now();

    let changes = async {
        let clients = (0..6).map(|_| async {
            let mut done = Vec::new();
            loop {
                let k = next_owner.fetch_add(1, Ordering::SeqCst);
                if k >= OWNERS {
                    return done;
                }
                done.push((k, change_journey(&load, k).await));
            }
        });
        let mut all: Vec<(usize, Change)> = join_all(clients).await.into_iter().flatten().collect();
        all.sort_by_key(|(k, _)| *k);
        all
    };
    let crash = ha.primary_to_crash();
    let killer = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while load.writes_in_flight.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let in_flight = load.writes_in_flight.load(Ordering::SeqCst);
        tokio::task::block_in_place(|| crash.now());
        *killed_at.lock().unwrap() = Some(Instant::now());
        (crash.port, in_flight)
    };
    let stopper = async {
        // Stop the attempt rounds once the product has answered for a while after the kill.
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Some(at) = *killed_at.lock().unwrap() else {
                continue;
            };
            let recovered = first_success_after(&load.calls.lock().unwrap(), at);
            if recovered.is_some_and(|r| r.elapsed() > AFTER_RECOVERY) || at.elapsed() > GIVE_UP {
                stop.store(true, Ordering::SeqCst);
                return;
            }
        }
    };
    let (changes, sends, binds, rounds, (killed_port, in_flight), ()) = tokio::join!(
        changes,
        member_sends(&load, &admin),
        member_binds(&load, &admin),
        attempt_rounds(&load, &stop),
        killer,
        stopper,
    );
    let load_took = load_started.elapsed();
    let killed_at = killed_at.lock().unwrap().unwrap();
    let calls = load.calls.lock().unwrap().clone();
    let primary_after = ha.router.primary().expect("a primary after the failover");
    assert_eq!(
        killed_port, primary_before,
        "the node killed was the primary"
    );
    assert_ne!(primary_after, primary_before, "the standby took over");

    // Every answer: a definite one, or a 503 with Retry-After; never a 500, never none.
    let broken: Vec<String> = calls
        .iter()
        .filter_map(|c| match &c.answer {
            Answer::Broken(error) => Some(format!("/api/{}: {error}", c.endpoint)),
            Answer::Status { .. } => None,
        })
        .collect();
    assert!(
        broken.is_empty(),
        "requests without an answer (hung or cut): {broken:?}"
    );
    let status = |c: &Call| match &c.answer {
        Answer::Status { status, .. } => *status,
        Answer::Broken(_) => 0,
    };
    let internal: Vec<&Call> = calls
        .iter()
        .filter(|c| status(c) >= 500 && status(c) != 503)
        .collect();
    assert!(
        internal.is_empty(),
        "5xx answers other than 503: {internal:?}"
    );
    let unavailable: Vec<&Call> = calls.iter().filter(|c| status(c) == 503).collect();
    let without_retry_after = unavailable
        .iter()
        .filter(|c| !matches!(&c.answer, Answer::Status { retry_after: Some(s), .. } if s == "2"))
        .count();
    assert_eq!(without_retry_after, 0, "503 answers without Retry-After: 2");
    let slowest = calls
        .iter()
        .map(|c| c.answered - c.sent)
        .max()
        .unwrap_or_default();
    let recovered = first_success_after(&calls, killed_at).expect("a success after the kill");
    let per_instance: Vec<f64> = (0..2)
        .map(|i| {
            let first = calls
                .iter()
                .filter(|c| c.instance == i && c.sent > killed_at && status(c) < 300)
                .map(|c| c.answered)
                .min()
                .expect("each instance answers success after the kill");
            (first - killed_at).as_secs_f64()
        })
        .collect();
    let last_503 = unavailable.iter().map(|c| c.answered).max();
    let mut unavailable_by_endpoint = BTreeMap::<&str, usize>::new();
    for call in &unavailable {
        *unavailable_by_endpoint.entry(call.endpoint).or_default() += 1;
    }

    // Phone changes: each whole or absent; every one answered success is there.
    let mut answered = 0;
    let mut applied_unanswered = 0;
    let mut refused = 0;
    let mut half_applied = Vec::new();
    for (k, change) in &changes {
        let owner = &owners[*k];
        let old = owner.phone.as_deref().unwrap();
        let changed = cluster.phone_of(&owner.id).await.as_deref() == Some(new_number(*k).as_str());
        let whole = (
            change_audits(&cluster, &owner.id).await,
            change_notices(&cluster, old).await,
            change_notices(&cluster, &owner.email).await,
        );
        let n = changed as i64;
        if whole != (n, n, n) {
            half_applied.push(format!(
                "owner {k}: changed {changed}, (audits, notices) {whole:?}"
            ));
        }
        match change {
            Change::Answered => {
                answered += 1;
                assert!(changed, "owner {k}: answered success, not in the database");
            }
            Change::AppliedUnanswered => {
                applied_unanswered += 1;
                assert!(changed, "owner {k}");
            }
            Change::Refused(_) => {
                refused += 1;
                assert!(!changed, "owner {k}: refused, yet changed");
            }
        }
    }
    assert!(
        half_applied.is_empty(),
        "half-applied changes: {half_applied:?}"
    );
    assert_eq!(changes.len(), OWNERS);
    // SPEC 2: 6 accounts per number, exactly, with 8 racers for the last 2 places.
    let on_shared = cluster
        .scalar("SELECT COUNT(*) FROM accounts WHERE phone = $1", SHARED)
        .await;
    assert_eq!(on_shared, 6, "accounts on the shared number");
    assert_eq!(cluster.bindings_of(SHARED).await, 6);
    assert_eq!(refused, RACERS - 2, "racers refused PhoneBindingLimit");
    cluster.assert_binding_counts_consistent().await;

    // SPEC 3: 100 codes per member per day, exactly, across the failover.
    let (sent, limited) = sends;
    let (queued, challenges, counted) = member_codes(&cluster, SANDBOX, SEND_TARGET).await;
    assert_eq!(
        (queued, challenges, counted),
        (100, 100, 100),
        "member codes (outbox, challenges, counter)"
    );
    assert!(
        sent <= 100 && sent + limited == MEMBER_SENDS,
        "answered sent {sent}, limited {limited}"
    );

    // Member binds: each bind whole (an event on the member and on the management account, a
    // notice to the member, one to the number it replaced); every one answered success there.
    let mut binds_applied = 0;
    let mut last_bound = None;
    for (j, answered) in binds.iter().enumerate() {
        let masked = format!("%{}", mask_e164(&bind_number(j)));
        let (events,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_events WHERE subject_account_id = $1 AND action IN ('BindMemberMobilePhone', 'ModifyMemberMobilePhone') AND detail LIKE $2 || ' (by%'",
        )
        .bind(CI)
        .bind(&masked)
        .fetch_one(&cluster.db.pool)
        .await
        .unwrap();
        assert!(events <= 1, "bind {j}: {events} events");
        if *answered {
            assert_eq!(events, 1, "bind {j}: answered success, no event");
        }
        binds_applied += events;
        if events == 1 {
            last_bound = Some(bind_number(j));
        }
    }
    let ci_email: (String,) = sqlx::query_as("SELECT email FROM accounts WHERE id = $1")
        .bind(CI)
        .fetch_one(&cluster.db.pool)
        .await
        .unwrap();
    let bind_notices = cluster
        .scalar(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND template = 'phone_changed'",
            &ci_email.0,
        )
        .await;
    let principal_events = cluster
        .scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action IN ('BindMemberMobilePhone', 'ModifyMemberMobilePhone') AND detail LIKE 'member ' || $1 || ' %'",
            CI,
        )
        .await;
    let old_number_notices = cluster
        .count("SELECT COUNT(*) FROM outbox WHERE recipient LIKE '+861310020%' AND template = 'phone_changed'")
        .await;
    assert_eq!(
        (bind_notices, principal_events, old_number_notices),
        (binds_applied, binds_applied, binds_applied - 1),
        "member binds applied {binds_applied}: (notices to the member, events on the management account, notices to the replaced number)"
    );
    assert_eq!(
        cluster.phone_of(CI).await,
        last_bound,
        "the member's number: its last bind's"
    );

    // SPEC 3: 5 attempts per code, exactly, in every round.
    for (i, (counted, stored)) in rounds.iter().enumerate() {
        assert_eq!(*stored, 5, "round {i}: attempts stored");
        assert!(*counted <= 5, "round {i}: answered as counted {counted}");
    }
    assert!(rounds.len() >= 2, "attempt rounds: {rounds:?}");

    // Delivery: every message reaches its phone or mailbox once. One handed to its provider as
    // the database went away keeps its claim until the 60 s lease lapses; then an SMS is looked
    // up (QuerySendDetails), not sent again, and an email may go again with its Message-ID
    // (SMTP cannot be asked), by which mailboxes drop the copy.
    let drained = wait_all_delivered(&cluster, Duration::from_secs(150)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let messages = assert_nothing_unknown_delivered(&cluster, &sms, &smtp).await;
    let (mut once, mut emails_again, mut wrong) = (0, Vec::new(), Vec::new());
    for (id, channel) in &messages {
        let got = deliveries(&sms, &smtp, *id, channel);
        match got.as_slice() {
            [_] => once += 1,
            [(_, first), _] if channel == "email" && *first <= recovered => emails_again.push(*id),
            other => wrong.push(format!("{channel} {id} delivered {} times", other.len())),
        }
    }
    assert!(wrong.is_empty(), "messages lost or sent twice: {wrong:?}");
    let sms_count = messages.iter().filter(|m| m.1 == "sms").count();
    // Claimed in a batch when the database went away: they wait for the lease (finding).
    let held_by_the_lease = cluster
        .count("SELECT COUNT(*) FROM outbox WHERE sent_at - created_at > 30000")
        .await;

    let tokens: Vec<&str> = vec![admin.as_str()];
    cluster.assert_logs_keep_secrets(&tokens).await;
    let ok = calls.iter().filter(|c| status(c) < 300).count();
    let refusals = calls.len() - ok - unavailable.len();
    report(
        "failover of the PostgreSQL primary (pg_auto_failover, kill -9 of postmaster and keeper) under load",
        format!(
            "changes and binds in flight at the kill {in_flight}; requests {} (success {ok}, refusals {refusals}, 503 with Retry-After {} of which sent after the kill {} {unavailable_by_endpoint:?}, 500 0, unanswered 0, slowest {:.2}s); \
             time to recover {:.2}s (first success after the kill; instance a {:.2}s, b {:.2}s; last 503 {:.2}s after the kill; router switched {:?}); \
             phone changes {OWNERS}: answered success {answered} all whole, applied with the answer lost {applied_unanswered}, refused PhoneBindingLimit {refused}, half-applied 0; \
             number cap: 6 on the shared number; member codes: answered sent {sent}, DailyLimitReached {limited}, challenges/outbox/counter 100/100/100; \
             member binds {}: answered success {}, applied {binds_applied}, whole; attempts: {} rounds, 5 stored each; load {:.1}s; \
             messages {} (sms {sms_count}, email {}) all delivered {:.1}s after the load: exactly once {once}, sms sent twice 0 (lookups {}), \
             emails sent again with the same Message-ID {}, lost 0; delivered over 30 s late (a claim held by the lease) {held_by_the_lease}",
            calls.len(),
            unavailable.len(),
            unavailable.iter().filter(|c| c.sent >= killed_at).count(),
            slowest.as_secs_f64(),
            (recovered - killed_at).as_secs_f64(),
            per_instance[0],
            per_instance[1],
            last_503
                .map(|t| (t.max(killed_at) - killed_at).as_secs_f64())
                .unwrap_or(0.0),
            ha.router
                .switches()
                .iter()
                .map(|(at, p)| format!(
                    "{:+.2}s->{}",
                    signed_secs(*at, killed_at),
                    p.map(|p| if p == primary_before { "old" } else { "new" })
                        .unwrap_or("none")
                ))
                .collect::<Vec<_>>(),
            binds.len(),
            binds.iter().filter(|b| **b).count(),
            rounds.len(),
            load_took.as_secs_f64(),
            messages.len(),
            messages.len() - sms_count,
            drained.as_secs_f64(),
            sms.lookups(),
            emails_again.len(),
        ),
    );
    sms.stop();
    smtp.stop();
}

/// When the first request sent after `at` answered success.
fn first_success_after(calls: &[Call], at: Instant) -> Option<Instant> {
    calls
        .iter()
        .filter(|c| {
            c.sent > at && matches!(c.answer, Answer::Status { status, .. } if status < 300)
        })
        .map(|c| c.answered)
        .min()
}

fn signed_secs(t: Instant, origin: Instant) -> f64 {
    if t >= origin {
        (t - origin).as_secs_f64()
    } else {
        -(origin - t).as_secs_f64()
    }
}
