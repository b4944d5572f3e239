//! Appeals get decided (issue 14, item 8): the platform operator's queue, its three steps (ask
//! for more information, reject, approve), the filer's status page and answer, who is refused,
//! the binding rules an approval keeps, and two operators deciding one appeal at once.

use crate::attacks_recovery::{forgot, reset};
use crate::common;
use common::Steps;

use app::error::AppError;
use app::model::{AppealDetails, Me, QueuedAppeal};
use app::ssr::appeal_decisions::{ANSWER_ACTION, APPROVE_ACTION, ASK_ACTION, REJECT_ACTION};
use app::ssr::seed::{ALICE_ID, BOB_ID, DEMO_OPERATOR_EMAIL, FULL_NUMBER, OPERATOR_ID};
use common::fixtures::{ALICE_EMAIL, ALICE_PHONE, BOB_PHONE, NEW_CN, non_owner_sessions};
use common::processes::{assert_same, snapshot};
use common::{TestApp, spawn, spawn_with};

/// The address Alice's appeals name (none of the other modules writes to it).
const CONTACT: &str = "alice.appeals@example.org";
const BOB_CONTACT: &str = "bob.appeals@example.org";
/// Another free mainland number.
const OTHER_CN: &str = "+8613711112222";
const HOLD_SECS: i64 = 72 * 3600;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The app with Bob as a second operator (`APP_OPERATORS`) beside the demo operator.
async fn spawn_with_two_operators() -> TestApp {
    spawn_with(|c| c.operators = vec!["bob@example.com".into()]).await
}

/// Alice, signed in, files an appeal for `number` (E.164) naming `contact`: (session, reference).
async fn alice_files(app: &TestApp, number: &str, contact: &str) -> (String, String) {
    let alice = app.sign_in(ALICE_EMAIL).await;
    let reference = app.filed_appeal(&alice, number, contact).await;
    (alice, reference)
}

async fn operator(app: &TestApp) -> String {
    app.sign_in(DEMO_OPERATOR_EMAIL).await
}

async fn queue(app: &TestApp, token: &str) -> Vec<QueuedAppeal> {
    app.appeal_queue(token).await.ok()
}

async fn status(app: &TestApp, token: &str, reference: &str) -> AppealDetails {
    app.appeal_status(token, reference).await.ok()
}

/// The appeal's status as stored, and how many steps its history holds after the filing.
async fn stored(app: &TestApp, reference: &str) -> (String, i64) {
    let (status, id): (String, i64) =
        sqlx::query_as("SELECT status, id FROM appeals WHERE reference = $1")
            .bind(reference)
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    let (steps,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM appeal_steps WHERE appeal_id = $1")
        .bind(id)
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    (status, steps)
}

/// The messages queued for `to`: (subject, body), oldest first.
async fn messages(app: &TestApp, to: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT subject, body FROM outbox WHERE recipient = $1 ORDER BY id")
        .bind(to)
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap()
}

async fn told(app: &TestApp, to: &str, subject: &str) -> Vec<String> {
    let all = messages(app, to).await;
    all.into_iter()
        .filter(|(s, _)| s == subject)
        .map(|(_, body)| body)
        .collect()
}

async fn codes_to(app: &TestApp, to: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND code IS NOT NULL",
        to,
    )
    .await
}

/// Everything a refused step must leave as it was: the database's main tables and the appeal.
async fn state(app: &TestApp, reference: &str) -> (Vec<String>, (String, i64)) {
    (
        snapshot(&app.services.db.pool).await,
        stored(app, reference).await,
    )
}

async fn assert_unchanged(app: &TestApp, reference: &str, before: &(Vec<String>, (String, i64))) {
    let after = state(app, reference).await;
    assert_same(&before.0, &after.0);
    assert_eq!(before.1, after.1, "the appeal changed");
}

// ---------------------------------------------------------------------------------------------
// The queue and who reaches it

#[tokio::test]
async fn the_operator_sees_the_open_appeals_oldest_first_with_what_was_filed() {
    let app = spawn().await;
    let (_, first) = alice_files(&app, NEW_CN, CONTACT).await;
    app.clock.advance_secs(60);
    let bob = app.sign_in("bob@example.com").await;
    let second = app.filed_appeal(&bob, "+12025550177", BOB_CONTACT).await;
    app.clock.advance_secs(60);
    let (_, third) = alice_files(&app, OTHER_CN, "alice.third@example.org").await;
    let op = operator(&app).await;

    let listed = queue(&app, &op).await;
    let order: Vec<&str> = listed.iter().map(|a| a.reference.as_str()).collect();
    assert_eq!(order, [first.as_str(), second.as_str(), third.as_str()]);
    let alice = &listed[0];
    assert_eq!(alice.account_id, ALICE_ID);
    assert_eq!(alice.account_name, "Alice");
    assert_eq!(alice.current_phone.as_deref(), Some("+86 138****8000"));
    assert_eq!(alice.new_phone, NEW_CN);
    assert_eq!(alice.contact_email, CONTACT);
    assert_eq!(alice.reason, "Phone lost and the logon email closed");
    assert_eq!(alice.status, "submitted");
    assert_eq!(alice.history.len(), 1, "{:?}", alice.history);
    assert!(alice.filed_at < listed[1].filed_at);
    assert_eq!(listed[1].current_phone.as_deref(), Some("+1 202***0143"));

    // A decided appeal leaves the queue; the page lists the rest, oldest first, and the header
    // links to it for the operator.
    let _: () = app.reject_appeal(&op, &second, "Not enough").await.ok();
    let order: Vec<String> = queue(&app, &op)
        .await
        .into_iter()
        .map(|a| a.reference)
        .collect();
    assert_eq!(order, [first.clone(), third.clone()]);
    let page = app.page("/operator/appeals", Some(&op)).await;
    let (at_first, at_third) = (page.find(&first).unwrap(), page.find(&third).unwrap());
    assert!(at_first < at_third && !page.contains(&second));
    assert!(page.contains("href=\"/operator/appeals\""));
    let me: Me = app.call("me", &[], Some(&op)).await.ok();
    assert!(me.is_operator);
    app.stop().await;
}

#[tokio::test]
async fn no_owner_ram_user_role_or_sso_session_reaches_any_operator_step() {
    let app = spawn().await;
    let (alice, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let bob = app.sign_in("bob@example.com").await;
    let rd_admin = app.sign_in("rd-admin@acme").await;
    let [dev, role, sso] = non_owner_sessions(&app).await;
    let before = state(&app, &reference).await;

    for token in [&alice, &bob, &rd_admin, &dev, &role, &sso] {
        let replies = [
            app.appeal_queue(token).await,
            app.ask_appeal_info(token, &reference, "Send a photo of your ID")
                .await,
            app.reject_appeal(token, &reference, "No").await,
            app.approve_appeal(token, &reference).await,
        ];
        for reply in replies {
            assert_eq!(reply.status, 403);
            assert_eq!(reply.err(), AppError::OperatorOnly);
        }
        let me: Me = app.call("me", &[], Some(token)).await.ok();
        assert!(!me.is_operator);
        let page = app.page("/operator/appeals", Some(token)).await;
        assert!(page.contains(&AppError::OperatorOnly.to_string()));
        assert!(!page.contains(&reference) && !page.contains("href=\"/operator/appeals\""));
    }
    // Nor signed out.
    let reply = app
        .call("appeal_approve", &[("reference", &reference)], None)
        .await;
    assert_eq!(reply.err(), AppError::NotSignedIn);
    // The filer's own page is the owner's: the account's RAM user and SSO session are refused.
    for token in [&dev, &sso] {
        assert_eq!(
            app.appeal_status(token, &reference).await.err(),
            AppError::OwnerOnly
        );
        let reply = app.answer_appeal(token, &reference, "me").await;
        assert_eq!(reply.err(), AppError::OwnerOnly);
    }
    assert_unchanged(&app, &reference, &before).await;
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}

#[tokio::test]
async fn the_operators_are_the_owners_app_operators_names() {
    let app = spawn_with_two_operators().await;
    let (_, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let bob = app.sign_in("bob@example.com").await;
    let listed = queue(&app, &bob).await;
    assert_eq!(listed[0].reference, reference);
    let me: Me = app.call("me", &[], Some(&bob)).await.ok();
    assert!(me.is_operator);
    // The demo operator still is one (development with the demo data); Alice is not.
    assert_eq!(queue(&app, &operator(&app).await).await.len(), 1);
    let alice = app.sign_in(ALICE_EMAIL).await;
    assert_eq!(app.appeal_queue(&alice).await.err(), AppError::OperatorOnly);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The steps

#[tokio::test]
async fn asked_for_more_information_the_filer_answers_and_the_appeal_is_back_in_the_queue() {
    let app = spawn().await;
    let (alice, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let op = operator(&app).await;
    let question = "Which city did you open the account in?";

    let _: () = app.ask_appeal_info(&op, &reference, question).await.ok();
    assert!(
        queue(&app, &op).await.is_empty(),
        "out of the queue while it waits"
    );
    let mail = told(&app, CONTACT, "Your appeal needs more information").await;
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains(question) && mail[0].contains(&format!("/appeals/{reference}")));
    // Not decidable while it waits for the answer.
    let reply = app.approve_appeal(&op, &reference).await;
    assert_eq!(reply.err(), AppError::AppealAwaitingAnswer);

    // The filer sees the question on the status page and its page, and answers there.
    let seen = status(&app, &alice, &reference).await;
    assert_eq!(seen.status, "information requested");
    assert_eq!(seen.question.as_deref(), Some(question));
    assert_eq!(seen.history.last().unwrap().by, "Platform operator");
    let page = app
        .page(&format!("/appeals/{reference}"), Some(&alice))
        .await;
    assert!(page.contains(question) && page.contains("Send answer"));
    // Bob knows nothing of Alice's appeal.
    let bob = app.sign_in("bob@example.com").await;
    assert_eq!(
        app.appeal_status(&bob, &reference).await.err(),
        AppError::AppealNotFound
    );
    assert_eq!(
        app.answer_appeal(&bob, &reference, "Shanghai").await.err(),
        AppError::AppealNotFound
    );
    let _: () = app.answer_appeal(&alice, &reference, "Shanghai").await.ok();
    let again = app.answer_appeal(&alice, &reference, "Beijing").await;
    assert_eq!(again.err(), AppError::AppealNoQuestion);

    let seen = status(&app, &alice, &reference).await;
    assert_eq!((seen.status.as_str(), seen.question), ("answered", None));
    let listed = queue(&app, &op).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, "answered");
    let steps: Vec<(&str, &str, &str)> = listed[0]
        .history
        .iter()
        .map(|s| (s.what.as_str(), s.by.as_str(), s.message.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("submitted", "the filer", ""),
            ("information requested", DEMO_OPERATOR_EMAIL, question),
            ("answered", "the filer", "Shanghai"),
        ]
    );
    assert_eq!(app.events(ALICE_ID, ASK_ACTION).await, 1);
    assert_eq!(app.events(ALICE_ID, ANSWER_ACTION).await, 1);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}

#[tokio::test]
async fn a_rejection_with_its_reason_reaches_the_filer_and_the_number_stays() {
    let app = spawn().await;
    let (alice, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let op = operator(&app).await;
    let reason = "The contact address is not one we have on file.";

    let _: () = app.reject_appeal(&op, &reference, reason).await.ok();
    let seen = status(&app, &alice, &reference).await;
    assert_eq!(seen.status, "rejected");
    let last = seen.history.last().unwrap();
    assert_eq!(
        (last.what.as_str(), last.message.as_str()),
        ("rejected", reason)
    );
    let mail = told(&app, CONTACT, "Your appeal was rejected").await;
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains(reason) && mail[0].contains(&reference));
    assert_eq!(app.events(ALICE_ID, REJECT_ACTION).await, 1);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    assert!(queue(&app, &op).await.is_empty());
    let list: Vec<app::model::AppealView> = app.call("appeals", &[], Some(&alice)).await.ok();
    assert_eq!(list[0].status, "rejected");
    app.stop().await;
}

#[tokio::test]
async fn an_approval_binds_the_number_tells_everyone_ends_every_session_and_holds_sms_recovery() {
    let app = spawn().await;
    let (alice, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let _other_device = app.sign_in(ALICE_EMAIL).await;
    let _ram_user = app.sign_in("dev@alice").await;
    assert_eq!(app.sessions_of(ALICE_ID).await, 3);
    let full_before = app.bindings_of(ALICE_PHONE).await;
    let op = operator(&app).await;

    let _: () = app.approve_appeal(&op, &reference).await.ok();

    // Bound, under the count of the number, in place of the old one.
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    assert_eq!(app.bindings_of(NEW_CN).await, 1);
    assert_eq!(app.bindings_of(ALICE_PHONE).await, full_before - 1);
    // Every session of the account ended: the filer's, the other device's, the RAM user's.
    assert_eq!(app.sessions_of(ALICE_ID).await, 0);
    assert_eq!(
        app.appeal_status(&alice, &reference).await.err(),
        AppError::NotSignedIn
    );
    // The audit events: on the account and on the operator's own.
    let on_alice = app.event_details(ALICE_ID, APPROVE_ACTION).await;
    assert_eq!(on_alice.len(), 1);
    assert!(on_alice[0].contains(&reference) && on_alice[0].contains("+86 135****5678"));
    assert_eq!(app.events(OPERATOR_ID, APPROVE_ACTION).await, 1);
    // The notices: the old number by SMS, the logon email, the appeal's contact email.
    let by_sms = messages(&app, ALICE_PHONE)
        .await
        .into_iter()
        .map(|(_, body)| body);
    let by_sms: Vec<String> = by_sms.filter(|body| body.contains(&reference)).collect();
    let by_email = told(&app, ALICE_EMAIL, "Your mobile phone number was changed").await;
    for (to, notice) in [(ALICE_PHONE, by_sms), (ALICE_EMAIL, by_email)] {
        assert_eq!(notice.len(), 1, "{to}: {notice:?}");
        let text = &notice[0];
        assert!(
            text.contains(&reference) && text.contains("on hold until"),
            "{to}: {text}"
        );
    }
    let approved = told(&app, CONTACT, "Your appeal was approved").await;
    assert_eq!(approved.len(), 1);
    assert!(approved[0].contains("+86 135****5678") && approved[0].contains("on hold until"));

    // The filer signs in again and reads the decision.
    let alice = app.sign_in(ALICE_EMAIL).await;
    let seen = status(&app, &alice, &reference).await;
    assert_eq!(seen.status, "approved");
    assert_eq!(seen.history.last().unwrap().what, "approved");

    // SMS recovery is held for 72 hours (no code goes to the new number); the email works.
    let (_, _) = forgot(&app, ALICE_EMAIL, Some("sms")).await;
    assert_eq!(
        codes_to(&app, NEW_CN).await,
        0,
        "no SMS code during the hold"
    );
    app.clock.advance_secs(HOLD_SECS - 60);
    let (_, _) = forgot(&app, ALICE_EMAIL, Some("sms")).await;
    assert_eq!(
        codes_to(&app, NEW_CN).await,
        0,
        "a minute before the end, still none"
    );
    let (_, cookie) = forgot(&app, ALICE_EMAIL, Some("email")).await;
    let code = app.latest_code(ALICE_EMAIL).await.expect("a code by email");
    let done = reset(
        &app,
        &cookie,
        ALICE_EMAIL,
        &code,
        "Appeal-pass-456",
        Some("email"),
    )
    .await;
    assert!(done.status < 300, "{}", done.body);
    app.clock.advance_secs(61);
    let (_, _) = forgot(&app, ALICE_EMAIL, Some("sms")).await;
    assert_eq!(
        codes_to(&app, NEW_CN).await,
        1,
        "after the hold, SMS recovery works"
    );
    app.stop().await;
}

#[tokio::test]
async fn approving_a_number_at_its_six_account_cap_is_refused_and_changes_nothing() {
    let app = spawn().await;
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 6);
    let (alice, reference) = alice_files(&app, FULL_NUMBER, CONTACT).await;
    let op = operator(&app).await;
    let before = state(&app, &reference).await;

    let refused = app.approve_appeal(&op, &reference).await;
    assert_eq!(refused.err(), AppError::phone_binding_limit(6));
    assert!(
        AppError::phone_binding_limit(6)
            .to_string()
            .contains("already bound to 6 accounts")
    );

    assert_unchanged(&app, &reference, &before).await;
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    assert_eq!(app.bindings_of(FULL_NUMBER).await, 6);
    assert!(
        told(&app, CONTACT, "Your appeal was approved")
            .await
            .is_empty()
    );
    // The filer's session lives on, and the appeal is still open for another decision.
    assert_eq!(status(&app, &alice, &reference).await.status, "submitted");
    assert_eq!(queue(&app, &op).await.len(), 1);
    let _: () = app
        .reject_appeal(&op, &reference, "That number is full.")
        .await
        .ok();
    app.stop().await;
}

#[tokio::test]
async fn a_decided_appeal_cannot_be_decided_again() {
    let app = spawn().await;
    let (_, approved) = alice_files(&app, NEW_CN, CONTACT).await;
    let (_, rejected) = alice_files(&app, OTHER_CN, "alice.second@example.org").await;
    let op = operator(&app).await;
    let _: () = app.reject_appeal(&op, &rejected, "Duplicate").await.ok();
    let _: () = app.approve_appeal(&op, &approved).await.ok();

    for reference in [&approved, &rejected] {
        let before = state(&app, reference).await;
        let replies = [
            app.approve_appeal(&op, reference).await,
            app.reject_appeal(&op, reference, "Changed my mind").await,
            app.ask_appeal_info(&op, reference, "One more thing").await,
        ];
        for reply in replies {
            assert_eq!(reply.status, 409);
            assert_eq!(reply.err(), AppError::AppealDecided);
        }
        assert_unchanged(&app, reference, &before).await;
    }
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let app = spawn().await;
    let (alice, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let op = operator(&app).await;
    // The operator's own appeal, which the operator may not decide.
    let own = app
        .filed_appeal(&op, OTHER_CN, "operator.backup@example.org")
        .await;
    let before = state(&app, &reference).await;
    let too_long = "x".repeat(1001);

    for (reply, what) in [
        (app.ask_appeal_info(&op, &reference, "").await, "message"),
        (app.ask_appeal_info(&op, &reference, "   ").await, "message"),
        (
            app.ask_appeal_info(&op, &reference, &too_long).await,
            "message",
        ),
        (app.reject_appeal(&op, &reference, "").await, "reason"),
        (
            app.reject_appeal(&op, &reference, &too_long).await,
            "reason",
        ),
        (
            app.reject_appeal(&op, &reference, "a\u{0}b").await,
            "reason",
        ),
    ] {
        match reply.err() {
            refused @ AppError::InvalidInput(_) => {
                let text = refused.to_string();
                assert!(text.contains(what), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
    for unknown in ["AP000000000000", "nope", "", "AP12345678'--"] {
        assert_eq!(
            app.approve_appeal(&op, unknown).await.err(),
            AppError::AppealNotFound
        );
        assert_eq!(
            app.reject_appeal(&op, unknown, "no").await.err(),
            AppError::AppealNotFound
        );
        let asked = app.ask_appeal_info(&op, unknown, "why").await;
        assert_eq!(asked.err(), AppError::AppealNotFound);
        assert_eq!(
            app.appeal_status(&alice, unknown).await.err(),
            AppError::AppealNotFound
        );
    }
    // Answering with nothing asked, and answering with nothing.
    let reply = app.answer_appeal(&alice, &reference, "here you go").await;
    assert_eq!(reply.err(), AppError::AppealNoQuestion);
    assert!(matches!(
        app.answer_appeal(&alice, &reference, "").await.err(),
        AppError::InvalidInput(_)
    ));
    // An operator's own appeal goes to another operator.
    assert_eq!(
        app.approve_appeal(&op, &own).await.err(),
        AppError::AppealOwnAccount
    );
    assert_unchanged(&app, &reference, &before).await;
    assert_eq!(stored(&app, &own).await, ("submitted".to_string(), 0));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Two operators at once

/// Which of two replies succeeded; the other must be refused as already decided.
fn one_winner(first: &common::Reply, second: &common::Reply) -> usize {
    let wins: Vec<usize> = [first, second]
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status < 300)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        wins.len(),
        1,
        "exactly one applies: {} / {}",
        first.body,
        second.body
    );
    let loser = [first, second][1 - wins[0]];
    assert_eq!(loser.err(), AppError::AppealDecided);
    wins[0]
}

#[tokio::test]
async fn two_operators_deciding_one_appeal_at_once_apply_exactly_one_decision() {
    let app = spawn_with_two_operators().await;
    let first = operator(&app).await;
    let second = app.sign_in("bob@example.com").await;

    // Two approvals: the number is bound once, with one event and one notice.
    let (_, both_approve) = alice_files(&app, NEW_CN, CONTACT).await;
    let (a, b) = tokio::join!(
        app.approve_appeal(&first, &both_approve),
        app.approve_appeal(&second, &both_approve)
    );
    one_winner(&a, &b);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    assert_eq!(app.bindings_of(NEW_CN).await, 1);
    assert_eq!(app.events(ALICE_ID, APPROVE_ACTION).await, 1);
    assert_eq!(
        told(&app, CONTACT, "Your appeal was approved").await.len(),
        1
    );
    assert_eq!(
        stored(&app, &both_approve).await,
        ("approved".to_string(), 1)
    );

    // An approval against a rejection, a few times over: whichever wins is the whole outcome.
    for round in 0..3 {
        let contact = format!("alice.race{round}@example.org");
        // A number of its own each round, never the one bound by the round before.
        let number = format!("+861371111300{round}");
        let number = number.as_str();
        let before = app.phone_of(ALICE_ID).await;
        let (_, reference) = alice_files(&app, number, &contact).await;
        let (a, b) = tokio::join!(
            app.approve_appeal(&first, &reference),
            app.reject_appeal(&second, &reference, "Raced")
        );
        let winner = one_winner(&a, &b);
        let (status, steps) = stored(&app, &reference).await;
        assert_eq!(steps, 1, "one step recorded");
        if winner == 0 {
            assert_eq!(status, "approved");
            assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(number));
        } else {
            assert_eq!(status, "rejected");
            assert_eq!(app.phone_of(ALICE_ID).await, before);
        }
        common::result(&format!("approve vs reject, round {round}: {status}"));
    }
    app.stop().await;
}

#[tokio::test]
async fn two_operators_rejecting_or_asking_at_once_apply_exactly_one_step() {
    let app = spawn_with_two_operators().await;
    let first = operator(&app).await;
    let second = app.sign_in("bob@example.com").await;
    let bob_phone_before = app.phone_of(BOB_ID).await;
    assert_eq!(bob_phone_before.as_deref(), Some(BOB_PHONE));

    let (_, reference) = alice_files(&app, NEW_CN, CONTACT).await;
    let (a, b) = tokio::join!(
        app.reject_appeal(&first, &reference, "One"),
        app.reject_appeal(&second, &reference, "Two")
    );
    one_winner(&a, &b);
    assert_eq!(stored(&app, &reference).await, ("rejected".to_string(), 1));
    assert_eq!(
        told(&app, CONTACT, "Your appeal was rejected").await.len(),
        1
    );
    assert_eq!(app.events(ALICE_ID, REJECT_ACTION).await, 1);

    // A question against a rejection: the loser of a question is refused as decided or
    // (a question won first) the rejection is refused while the answer is awaited.
    let (_, reference) = alice_files(&app, OTHER_CN, "alice.ask@example.org").await;
    let (asked, rejected) = tokio::join!(
        app.ask_appeal_info(&first, &reference, "Why?"),
        app.reject_appeal(&second, &reference, "No")
    );
    let wins = [&asked, &rejected]
        .iter()
        .filter(|r| r.status < 300)
        .count();
    assert_eq!(wins, 1, "{} / {}", asked.body, rejected.body);
    let (status, steps) = stored(&app, &reference).await;
    assert_eq!(steps, 1);
    if asked.status < 300 {
        assert_eq!(status, "info_requested");
        assert_eq!(rejected.err(), AppError::AppealAwaitingAnswer);
    } else {
        assert_eq!(status, "rejected");
        assert_eq!(asked.err(), AppError::AppealDecided);
    }
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    app.stop().await;
}
