//! Crashes and outages: a process killed mid-load or a provider down loses no change and delivers every message once.

use super::*;

fn sender_of(from: &str) -> String {
    from.split("Sender ")
        .nth(1)
        .map(|r| r.chars().take_while(char::is_ascii_alphanumeric).collect())
        .unwrap_or_default()
}

/// Waits (bounded) until no message of the outbox is still to be delivered.
pub(super) async fn wait_all_delivered(cluster: &Cluster, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let pending = cluster
            .count("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")
            .await;
        if pending == 0 {
            return started.elapsed();
        }
        if started.elapsed() > limit {
            let rows: Vec<(i64, String, String, i64, i64, Option<String>)> = sqlx::query_as(
                "SELECT id, channel, status, attempts, claimed_until, last_error FROM outbox WHERE status <> 'sent' ORDER BY id",
            )
            .fetch_all(&cluster.db.pool)
            .await
            .unwrap();
            panic!("{pending} messages not delivered after {limit:?}: {rows:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The identity step by email through instance `i`, with delivery on: the code is read from the
/// outbox while it waits there, else from the SMTP sink (a delivered code is wiped at once).
async fn verified_by_email_delivered(
    cluster: &Cluster,
    smtp: &SmtpSink,
    i: usize,
    email: &str,
) -> String {
    let via = cluster.via(i);
    let token = via.signed_in(email).await;
    let _: CodeSent = via.send_identity_code(&token, Method::Email).await.ok();
    let mut code = None;
    for _ in 0..200 {
        code = match cluster.latest_code(email).await {
            Some(code) => Some(code),
            None => smtp
                .mails()
                .into_iter()
                .rev()
                .find(|m| m.rcpt_to.iter().any(|r| r.contains(email)))
                .and_then(|m| m.code),
        };
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let code =
        code.unwrap_or_else(|| panic!("no code for {email} in the outbox or at the SMTP sink"));
    let _: i64 = via.verify_identity(&token, Method::Email, &code).await.ok();
    token
}

/// Per outbox message: who delivered it and when, from the stand-ins' records.
/// The code sent to `number`: from the outbox while it waits there, else from the SMS stand-in
/// (a delivered code is wiped from the outbox at once).
async fn new_number_code(cluster: &Cluster, sms: &SmsStandIn, number: &str) -> String {
    for _ in 0..200 {
        if let Some(code) = cluster.latest_code(number).await {
            return code;
        }
        let sent = sms
            .hits()
            .into_iter()
            .rev()
            .find(|h| h.phone.ends_with(&number[3..]));
        if let Some(code) = sent.and_then(|h| h.code) {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no code for {number} in the outbox or at the SMS stand-in")
}

pub(super) fn deliveries(
    sms: &SmsStandIn,
    smtp: &SmtpSink,
    id: i64,
    channel: &str,
) -> Vec<(String, Instant)> {
    if channel == "sms" {
        sms.hits()
            .iter()
            .filter(|h| h.out_id == id && h.accepted)
            .map(|h| (h.sender.clone(), h.at))
            .collect()
    } else {
        let wanted = message_id(id);
        smtp.mails()
            .iter()
            .filter(|m| m.message_id == wanted)
            .map(|m| (sender_of(&m.from), m.at))
            .collect()
    }
}

/// Every message the stand-ins got belongs to the outbox; returns (messages, channels count).
pub(super) async fn assert_nothing_unknown_delivered(
    cluster: &Cluster,
    sms: &SmsStandIn,
    smtp: &SmtpSink,
) -> Vec<(i64, String)> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, channel FROM outbox ORDER BY id")
        .fetch_all(&cluster.db.pool)
        .await
        .unwrap();
    let sms_ids: Vec<i64> = rows.iter().filter(|r| r.1 == "sms").map(|r| r.0).collect();
    let mail_ids: Vec<String> = rows
        .iter()
        .filter(|r| r.1 == "email")
        .map(|r| message_id(r.0))
        .collect();
    for hit in sms.hits() {
        assert!(
            hit.signature_ok,
            "the provider could not verify a request: {hit:?}"
        );
        assert!(
            sms_ids.contains(&hit.out_id),
            "an SMS the outbox does not know: {hit:?}"
        );
    }
    for mail in smtp.mails() {
        assert!(
            mail_ids.contains(&mail.message_id),
            "an email the outbox does not know: {mail:?}"
        );
    }
    rows
}

/// A `kill -9` of one instance in the middle of a load of phone changes, with delivery on.
/// Every change is whole (number, audit event and both notices, or none of them); every change
/// answered as done is in the database; a client retrying a lost answer gets the change once;
/// after the restart every queued message is delivered, exactly once per OutId / Message-ID.
/// A message the killed process had handed over in its last instant without marking it sent is
/// looked up first: an SMS the provider took is not sent again; an email (SMTP cannot be asked)
/// goes once more with the same Message-ID, by which mailboxes drop the copy.
pub(super) async fn a_kill_mid_load_loses_no_change_and_delivers_every_message_once() {
    const N: usize = 40;
    let sms = SmsStandIn::start().await;
    let smtp = SmtpSink::start().await;
    let delivery = Delivery {
        sms_endpoint: sms.endpoint.clone(),
        smtp_port: smtp.port,
    };
    let mut cluster = Cluster::start(&race_env(), Some(delivery)).await;
    let owners: Vec<Owner> = (0..N)
        .map(|k| {
            Owner::cn(
                format!("60000000000000{k:02}"),
                format!("crash{k}@example.test"),
                Some(format!("+86159000000{k:02}")),
            )
        })
        .collect();
    let new_number = |k: usize| format!("+86158000000{k:02}");
    cluster.insert_owners(&owners).await;

    // Every owner ready to confirm: signed in, identity verified, a code sent to the new number.
    let prepared: Vec<(String, String)> = {
        let cluster = &cluster;
        let sms = &sms;
        let smtp = &smtp;
        futures::stream::iter(owners.iter().enumerate())
            .map(|(k, owner)| async move {
                let token = verified_by_email_delivered(cluster, smtp, k, &owner.email).await;
                let new = new_number(k);
                let _: CodeSent = cluster
                    .call(
                        k + 1,
                        "send_new_phone_code",
                        &[("number", &new)],
                        Some(&token),
                    )
                    .await
                    .ok();
                (token, new_number_code(cluster, sms, &new).await)
            })
            .buffered(8)
            .collect()
            .await
    };

    // The load: one confirmation every millisecond, alternating instances; b is killed once it
    // has answered a few, with others in flight (some committed, some not) and more to come.
    let b_answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (k, (token, code)) in prepared.iter().enumerate() {
        let target = cluster.target(k);
        let (token, code, new, b_answered) = (
            token.clone(),
            code.clone(),
            new_number(k),
            b_answered.clone(),
        );
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(k as u64)).await;
            let reply = target
                .try_call(
                    "confirm_phone_change",
                    &[("number", &new), ("code", &code)],
                    Some(&token),
                )
                .await;
            if k % 2 == 1 {
                b_answered.fetch_add(1, Ordering::SeqCst);
            }
            reply
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while b_answered.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "instance b answered nothing");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cluster.instances[1].kill9();
    let killed_at = Instant::now();
    let first: Vec<Result<helpers::Reply, String>> = join_all(tasks)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    cluster.instances[1].restart(&cluster.http).await;

    // A client whose answer was lost retries, through the restarted instance.
    let (mut answered_ok, mut lost, mut lost_but_applied, mut retried_ok) = (0, 0, 0, 0);
    for (k, reply) in first.iter().enumerate() {
        match reply {
            Ok(reply) => {
                assert_eq!(
                    outcome(reply),
                    Ok(()),
                    "owner {k}: an answered confirmation failed: {}",
                    reply.body
                );
                answered_ok += 1;
            }
            Err(_) => {
                lost += 1;
                let (token, code) = &prepared[k];
                let retry = cluster
                    .call(
                        1,
                        "confirm_phone_change",
                        &[("number", &new_number(k)), ("code", code)],
                        Some(token),
                    )
                    .await;
                match outcome(&retry) {
                    Ok(()) => retried_ok += 1,
                    // The killed process had committed it: the retry finds the number already
                    // there, or (the change rotated the session token with the commit) finds the
                    // old token dead and signs in again to find the change done.
                    Err(AppError::SamePhone) => lost_but_applied += 1,
                    Err(AppError::NotSignedIn) => {
                        assert_eq!(
                            cluster.phone_of(&owners[k].id).await,
                            Some(new_number(k)),
                            "owner {k}: a dead session without the change"
                        );
                        lost_but_applied += 1;
                    }
                    Err(error) => panic!("owner {k}: the retry got {error:?}"),
                }
            }
        }
    }
    // Every change is whole, and every one asked for is there, once.
    for (k, owner) in owners.iter().enumerate() {
        let old = owner.phone.as_deref().unwrap();
        assert_eq!(
            cluster.phone_of(&owner.id).await,
            Some(new_number(k)),
            "owner {k}"
        );
        let whole = (
            change_audits(&cluster, &owner.id).await,
            change_notices(&cluster, old).await,
            change_notices(&cluster, &owner.email).await,
        );
        assert_eq!(
            whole,
            (1, 1, 1),
            "owner {k}: (audit events, notice to the old number, notice by email)"
        );
    }
    let half_applied = cluster
        .count(
            "SELECT COUNT(*) FROM accounts a WHERE a.id LIKE '6000%' AND ((a.phone LIKE '+86158%') <> \
             EXISTS (SELECT 1 FROM audit_events e WHERE e.subject_account_id = a.id AND e.action = 'ChangeMobilePhone'))",
        )
        .await;
    assert_eq!(half_applied, 0);
    cluster.assert_binding_counts_consistent().await;

    // Delivery: the killed process's claims lapse after the 60 s lease; then every message goes.
    let drained = wait_all_delivered(&cluster, Duration::from_secs(150)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rows = assert_nothing_unknown_delivered(&cluster, &sms, &smtp).await;
    let (mut once, mut resent) = (0, Vec::new());
    for (id, channel) in &rows {
        let got = deliveries(&sms, &smtp, *id, channel);
        match got.as_slice() {
            [_] => once += 1,
            // Handed over by the killed process in its last instant, not marked sent: an email
            // goes again, same Message-ID; an SMS never does (the lookup finds its OutId).
            [(first, at_first), (_, at_second)]
                if channel == "email"
                    && first == "b0"
                    && *at_first <= killed_at
                    && *at_second > killed_at =>
            {
                resent.push(format!("{channel} {id}"))
            }
            other => panic!(
                "message {id} ({channel}) delivered {} times: {other:?}",
                other.len()
            ),
        }
    }
    let tokens: Vec<&str> = prepared.iter().map(|(t, _)| t.as_str()).collect();
    cluster.assert_logs_keep_secrets(&tokens).await;
    report(
        "kill -9 of instance b during 40 phone changes, delivery on",
        format!(
            "answered success {answered_ok}, answers lost in the crash {lost} (retried: applied now {retried_ok}, \
             already applied by the killed process {lost_but_applied}); changes whole 40/40, half-applied 0; \
             messages {} (sms {}, email {}) all delivered {:.1}s after the restart check: exactly once {once}, \
             sms sent twice 0 (lookups of sms in doubt {}), emails sent again with the same Message-ID {} {:?}",
            rows.len(),
            rows.iter().filter(|r| r.1 == "sms").count(),
            rows.iter().filter(|r| r.1 == "email").count(),
            drained.as_secs_f64(),
            sms.lookups(),
            resent.len(),
            resent
        ),
    );
    sms.stop();
    smtp.stop();
}

/// The SMS provider answers HTTP 500 for a while: every message fails, waits its backoff, is
/// retried by either instance and delivered once the provider is back; none lost, none twice.
pub(super) async fn an_sms_outage_delays_but_never_loses_or_repeats_a_message() {
    let _serial = SERIAL.lock().await;
    let sms = SmsStandIn::start().await;
    sms.set_down(true);
    let smtp = SmtpSink::start().await;
    let delivery = Delivery {
        sms_endpoint: sms.endpoint.clone(),
        smtp_port: smtp.port,
    };
    let cluster = Cluster::start(&race_env(), Some(delivery)).await;
    let admin = cluster.sign_in(0, "rd-admin@acme").await;
    let numbers: Vec<String> = (0..30).map(|k| format!("+86131001310{k:02}")).collect();
    let replies = join_all(numbers.iter().enumerate().map(|(k, number)| {
        let admin = admin.as_str();
        let cluster = &cluster;
        async move {
            cluster
                .call(
                    k,
                    "rd_send_code",
                    &[("account_id", SANDBOX), ("phone", number)],
                    Some(admin),
                )
                .await
        }
    }))
    .await;
    for reply in &replies {
        let _: CodeSent = reply.ok();
    }
    // Emails go on meanwhile.
    let bob = verified_by_email_delivered(&cluster, &smtp, 1, "bob@example.com").await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = |sql: &'static str| cluster.count(sql);
    let sms_rows = count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'").await;
    let sms_failed = count("SELECT COUNT(DISTINCT a.outbox_id) FROM outbox_attempts a JOIN outbox o ON o.id = a.outbox_id WHERE a.ok = 0 AND o.channel = 'sms'")
        .await;
    let sms_sent =
        count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'").await;
    let failures_while_down = count("SELECT COUNT(*) FROM outbox_attempts WHERE ok = 0").await;
    assert_eq!(
        (sms_rows, sms_failed, sms_sent),
        (30, 30, 0),
        "(sms messages, failed at least once, sent) while down"
    );
    assert!(sms.hits().iter().all(|h| !h.accepted));

    sms.set_down(false);
    let drained = wait_all_delivered(&cluster, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rows = assert_nothing_unknown_delivered(&cluster, &sms, &smtp).await;
    let hits = sms.hits();
    let mut senders = BTreeMap::<String, usize>::new();
    for (id, channel) in &rows {
        let got = deliveries(&sms, &smtp, *id, channel);
        assert_eq!(
            got.len(),
            1,
            "message {id} ({channel}) delivered {} times: {got:?}",
            got.len()
        );
        *senders.entry(got[0].0.clone()).or_default() += 1;
        if channel == "sms" {
            // Every request the provider saw is an attempt the outbox recorded, and the other way round.
            let requests = hits.iter().filter(|h| h.out_id == *id).count() as i64;
            let (recorded,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM outbox_attempts WHERE outbox_id = $1")
                    .bind(*id)
                    .fetch_one(&cluster.db.pool)
                    .await
                    .unwrap();
            assert_eq!(
                requests, recorded,
                "message {id}: provider requests vs recorded attempts"
            );
        }
    }
    assert_eq!(
        cluster
            .count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            .await,
        0
    );
    cluster.assert_logs_keep_secrets(&[&admin, &bob]).await;
    report(
        "SMS provider down 3 s",
        format!(
            "{} messages ({sms_rows} sms); failed attempts while down {failures_while_down} (every sms at least once, none sent); \
             after recovery all delivered in {:.1}s, each exactly once (by sender {senders:?}); provider requests {} = recorded attempts",
            rows.len(),
            drained.as_secs_f64(),
            hits.len()
        ),
    );
    sms.stop();
    smtp.stop();
}
