//! "Not you?" undo (issue 14, item 3): the notice of a phone change carries a link that puts the
//! replaced number back. The attack tests replay a takeover (whoever holds the owner's session and
//! inbox, or a directory administrator over a member) and the owner's way back through the link.

use crate::attacks_recovery::{forgot, reset};
use crate::common;
use common::{Method, Steps};

use app::error::AppError;
use app::model::{UndoState, UndoView};
use app::ssr::seed::ALICE_ID;
use common::fixtures::{ALICE_EMAIL, ALICE_PHONE, DAY_MS, NEW_CN, PARTNER, PARTNER_PHONE, SANDBOX};
use common::{PASSWORD, TestApp, spawn};

/// The partner member's logon email (Acme's invited cloud account).
const PARTNER_EMAIL: &str = "partner@analytics.example";
/// A second free mainland number.
const OTHER_CN: &str = "+8613912345678";
const ACTION: &str = app::ssr::undo::ACTION;

/// The token of the undo link in the newest message to `to` that has one.
async fn undo_token(app: &TestApp, to: &str) -> Option<String> {
    app.bodies_to(to).await.into_iter().find_map(|body| {
        let (_, after) = body.split_once(app::ssr::undo::PATH)?;
        Some(after.chars().take(32).collect())
    })
}

async fn describe(app: &TestApp, token: &str) -> common::Reply {
    app.call("undo_link", &[("token", token)], None).await
}

async fn undo(app: &TestApp, token: &str) -> common::Reply {
    app.call("undo_change", &[("token", token)], None).await
}

/// Alice, signed in, changes her number to `number` after an identity step by email (whoever
/// holds her password and her inbox can do as much).
async fn alice_changes_to(app: &TestApp, number: &str) {
    let token = app.sign_in(ALICE_EMAIL).await;
    app.identity_by(&token, Method::Email, ALICE_EMAIL).await;
    app.change_number(&token, number).await.unwrap();
}

#[tokio::test]
async fn a_takeover_is_undone_by_the_link_in_the_notice_to_the_old_number() {
    let app = spawn().await;
    // The attacker holds Alice's password and inbox, signs in and moves the number to theirs.
    let attacker = app.sign_in(ALICE_EMAIL).await;
    app.identity_by(&attacker, Method::Email, ALICE_EMAIL).await;
    let attacker = app.change_number_keeping_session(&attacker, NEW_CN).await;
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));

    // The notice to the old number and the one to the logon email carry the same link.
    let link = undo_token(&app, ALICE_PHONE)
        .await
        .expect("an undo link by SMS");
    assert_eq!(
        undo_token(&app, ALICE_EMAIL).await.as_deref(),
        Some(link.as_str())
    );
    assert!(
        app.page(&format!("/undo/{link}"), None)
            .await
            .contains("+86 138****8000")
    );

    // Opening the page (or a mail scanner fetching it) changes nothing.
    let shown: UndoView = describe(&app, &link).await.ok();
    assert_eq!(shown.state, UndoState::Ready);
    assert_eq!(
        (shown.previous_phone.as_str(), shown.new_phone.as_str()),
        ("+86 138****8000", "+86 135****5678")
    );
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));

    // Alice confirms from her old phone: the number is hers again, and everything the attacker
    // held is gone.
    let restored: UndoView = undo(&app, &link).await.ok();
    assert_eq!(restored.state, UndoState::Used);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(ALICE_PHONE));
    assert_eq!(app.bindings_of(ALICE_PHONE).await, 1);
    assert_eq!(app.bindings_of(NEW_CN).await, 0);
    assert_eq!(app.sessions_of(ALICE_ID).await, 0);
    assert_eq!(app.me(&attacker).await.err(), AppError::NotSignedIn);
    assert_eq!(app.events(ALICE_ID, ACTION).await, 1);
    // The password the attacker knows opens nothing; a wrong one still reads as wrong.
    let refused = app.sign_in_with(ALICE_EMAIL, PASSWORD, None).await;
    assert_eq!(refused.err(), AppError::PasswordResetRequired);
    assert!(refused.session_token().is_none());
    let wrong = app.sign_in_with(ALICE_EMAIL, "Wrong-pass-999", None).await;
    assert_eq!(wrong.err(), AppError::BadCredentials);
    // The restored number and the logon email are told.
    let told = app
        .count(
            "SELECT COUNT(*) FROM outbox WHERE body LIKE '%was undone%' AND recipient = $1",
            ALICE_PHONE,
        )
        .await;
    assert_eq!(told, 1);

    // The link works once.
    assert_eq!(undo(&app, &link).await.err(), AppError::UndoLinkUsed);
    assert_eq!(app.events(ALICE_ID, ACTION).await, 1);

    // A reset by SMS to the restored number lets Alice in again.
    let (_, cookie) = forgot(&app, ALICE_EMAIL, None).await;
    let code = app.code_for(ALICE_PHONE).await;
    let _: () = reset(&app, &cookie, ALICE_EMAIL, &code, "Mine-again-456", None)
        .await
        .ok();
    assert!(
        app.sign_in_with(ALICE_EMAIL, "Mine-again-456", None)
            .await
            .status
            < 300
    );
    app.stop().await;
}

#[tokio::test]
async fn a_link_no_longer_applies_once_the_number_changed_again() {
    let app = spawn().await;
    alice_changes_to(&app, NEW_CN).await;
    let first = undo_token(&app, ALICE_PHONE).await.unwrap();
    app.clock.advance_secs(61);
    alice_changes_to(&app, OTHER_CN).await;
    let second = undo_token(&app, NEW_CN).await.unwrap();
    assert_ne!(first, second);

    // The first link would put back a number the account no longer moved from.
    let shown: UndoView = describe(&app, &first).await.ok();
    assert_eq!(shown.state, UndoState::Superseded);
    assert_eq!(undo(&app, &first).await.err(), AppError::UndoLinkSuperseded);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(OTHER_CN));
    assert_eq!(app.events(ALICE_ID, ACTION).await, 0);

    // The latest one works, and voids the first for good.
    let _: UndoView = undo(&app, &second).await.ok();
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    assert_eq!(undo(&app, &first).await.err(), AppError::UndoLinkUsed);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    app.stop().await;
}

#[tokio::test]
async fn a_link_expires_after_its_lifetime() {
    let app = spawn().await;
    alice_changes_to(&app, NEW_CN).await;
    let link = undo_token(&app, ALICE_EMAIL).await.unwrap();
    app.clock.advance_ms(7 * DAY_MS);
    assert_eq!(undo(&app, &link).await.err(), AppError::UndoLinkExpired);
    let shown: UndoView = describe(&app, &link).await.ok();
    assert_eq!(shown.state, UndoState::Expired);
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    assert!(app.sign_in_with(ALICE_EMAIL, PASSWORD, None).await.status < 300);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_or_unknown_link_is_refused_and_changes_nothing() {
    let app = spawn().await;
    alice_changes_to(&app, NEW_CN).await;
    let link = undo_token(&app, ALICE_PHONE).await.unwrap();
    let unknown = "0123456789abcdef0123456789abcdef";
    let altered: String = link.chars().rev().collect();
    for token in [
        "",
        "abc",
        unknown,
        &altered,
        &link.to_uppercase(),
        &format!("{link}0"),
    ] {
        assert_eq!(
            undo(&app, token).await.err(),
            AppError::UndoLinkInvalid,
            "{token:?}"
        );
        assert_eq!(
            describe(&app, token).await.err(),
            AppError::UndoLinkInvalid,
            "{token:?}"
        );
    }
    assert_eq!(app.phone_of(ALICE_ID).await.as_deref(), Some(NEW_CN));
    assert_eq!(app.events(ALICE_ID, ACTION).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn many_clicks_on_one_link_at_once_undo_it_once() {
    let app = spawn().await;
    alice_changes_to(&app, NEW_CN).await;
    let link = undo_token(&app, ALICE_PHONE).await.unwrap();
    let replies = futures::future::join_all((0..8).map(|_| undo(&app, &link))).await;
    let done = replies.iter().filter(|r| r.status < 300).count();
    assert_eq!(
        done,
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status >= 300) {
        assert_eq!(reply.err(), AppError::UndoLinkUsed);
    }
    assert_eq!(app.events(ALICE_ID, ACTION).await, 1);
    assert_eq!(app.bindings_of(ALICE_PHONE).await, 1);
    assert_eq!(app.bindings_of(NEW_CN).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_member_undoes_the_change_an_administrator_made() {
    let app = spawn().await;
    let admin = app.sign_in("rd-admin@acme").await;
    // A first binding replaces no number: its notice has nothing to undo.
    app.bind_member(&admin, SANDBOX, OTHER_CN).await;
    let sandbox_email: (String,) = sqlx::query_as("SELECT email FROM accounts WHERE id = $1")
        .bind(SANDBOX)
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    assert_eq!(undo_token(&app, &sandbox_email.0).await, None);

    // The administrator moves the invited cloud account's number to one they hold.
    app.bind_member(&admin, PARTNER, NEW_CN).await;
    let link = undo_token(&app, PARTNER_PHONE)
        .await
        .expect("a link to the member's old number");
    assert_eq!(
        undo_token(&app, PARTNER_EMAIL).await.as_deref(),
        Some(link.as_str())
    );
    let shown: UndoView = describe(&app, &link).await.ok();
    assert_eq!(shown.changed_by, "rd-admin@acme");

    let _: UndoView = undo(&app, &link).await.ok();
    assert_eq!(app.phone_of(PARTNER).await.as_deref(), Some(PARTNER_PHONE));
    assert_eq!(app.bindings_of(NEW_CN).await, 0);
    assert_eq!(app.events(PARTNER, ACTION).await, 1);
    let refused = app.sign_in_with(PARTNER_EMAIL, PASSWORD, None).await;
    assert_eq!(refused.err(), AppError::PasswordResetRequired);
    app.stop().await;
}
