//! Appeals get decided (issue 14, item 8): a platform operator works the queue of open appeals,
//! asks the filer for more information, rejects with a reason or approves; the filer follows
//! each step on the appeal's status page and answers there.
//!
//! Every step is one conditional UPDATE of `appeals.status` (from the states it may leave) in the
//! step's transaction, so of two operators acting on one appeal at once exactly one succeeds and
//! a decided appeal is never decided again, on SQLite and PostgreSQL alike. Approving binds the
//! number through the one binding transaction of `phone_binding`: the claim, the binding (under
//! the 6-account cap), the audit events, the notices, the end of every session of the account
//! and the 72-hour hold on SMS recovery commit together or not at all.

use crate::domain::mask::mask_email;
use crate::domain::phone::mask_e164;
use crate::domain::{PhoneNumber, Region};
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, t, t_with};
use crate::model::{AppealDetails, AppealStepView, QueuedAppeal, appeal_status_label};
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::config::Config;
use crate::ssr::outbox::{self, Channel};
use crate::ssr::phone_binding::{self, AuditEntry, Binding, BindingFlow, Notice};
use crate::ssr::recovery;
use crate::ssr::request::RequestMeta;
use crate::ssr::seed::DEMO_OPERATOR_EMAIL;
use crate::ssr::session::{self, Principal};
use sqlx::AnyConnection;

mod queue;
pub use queue::{details, queue};

/// The longest question, answer or reason, in characters (the filing's reason has the same cap).
pub const NOTE_MAX: usize = 1000;
/// The most appeals the queue shows at once, oldest first.
const QUEUE_PAGE: i64 = 100;

/// The states an appeal is in the queue in: filed, or answered after a question.
const OPEN: &str = "status IN ('submitted', 'answered')";
/// The one state a filer may answer in.
const ASKED: &str = "status = 'info_requested'";

/// The audit actions of the steps (on the appeal's account; an approval also on the operator's).
pub const ASK_ACTION: &str = "RequestAppealInformation";
pub const ANSWER_ACTION: &str = "AnswerAppeal";
pub const REJECT_ACTION: &str = "RejectAppeal";
pub const APPROVE_ACTION: &str = "ApproveAppeal";

/// Whether `email` (an owner's logon email) is a platform operator's: named by `APP_OPERATORS`,
/// or the demo operator in development with the demo data.
pub fn is_operator_email(config: &Config, email: &str) -> bool {
    let email = email.trim();
    config
        .operators
        .iter()
        .any(|operator| operator.eq_ignore_ascii_case(email))
        || (config.is_development()
            && config.demo_data
            && email.eq_ignore_ascii_case(DEMO_OPERATOR_EMAIL))
}

/// Refuses everyone but an operator: RAM users, roles and SSO sessions of an operator's account
/// too (the role belongs to the owner who signs in, not to the account's other principals).
pub async fn require_operator(services: &Services, principal: &Principal) -> AppResult<()> {
    if !principal.is_owner() {
        return Err(AppError::OperatorOnly);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM accounts WHERE id = $1 AND status = 'active'")
            .bind(&principal.account_id)
            .fetch_optional(&services.db.pool)
            .await?;
    match row {
        Some((email,)) if is_operator_email(&services.config, &email) => Ok(()),
        _ => Err(AppError::OperatorOnly),
    }
}

/// An appeal reference as typed (`AP` and 12 hex digits); anything else names no appeal.
fn parse_reference(input: &str) -> AppResult<String> {
    let reference = input.trim().to_ascii_uppercase();
    let digits = reference.strip_prefix("AP").unwrap_or_default();
    if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(reference)
    } else {
        Err(AppError::AppealNotFound)
    }
}

/// A question, an answer or a reason: 1 to 1000 characters of text (line breaks and tabs are
/// text; other control characters are not). `what` names the field in the refusal.
fn parse_note(what: &str, input: &str) -> AppResult<String> {
    let note = input.trim();
    let (length, characters) = match what {
        "message" => ("invalid-message-length", "invalid-message-chars"),
        "answer" => ("invalid-answer-length", "invalid-answer-chars"),
        _ => ("invalid-reason-length", "invalid-reason-chars"),
    };
    if note.is_empty() || note.chars().count() > NOTE_MAX {
        return Err(AppError::invalid_with(
            length,
            &[("max", NOTE_MAX.to_string())],
        ));
    }
    if note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(characters));
    }
    Ok(note.to_string())
}

#[derive(sqlx::FromRow)]
struct AppealRow {
    id: i64,
    reference: String,
    account_id: String,
    new_phone: String,
    contact_email: String,
    reason: String,
    status: String,
    created_at: i64,
}

const APPEAL_COLUMNS: &str =
    "id, reference, account_id, new_phone, contact_email, reason, status, created_at";

async fn find(conn: &mut AnyConnection, reference: &str) -> AppResult<AppealRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals WHERE reference = $1"
    )))
    .bind(reference)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::AppealNotFound)
}

/// Why a step from `status` is refused, for an operator's step (`for_filer` false) or the filer's.
fn refusal(status: &str, for_filer: bool) -> AppError {
    match status {
        "approved" | "rejected" => AppError::AppealDecided,
        "info_requested" if !for_filer => AppError::AppealAwaitingAnswer,
        _ if for_filer => AppError::AppealNoQuestion,
        _ => AppError::Internal,
    }
}

/// Moves the appeal to `to` if it is in one of the states `from` (an SQL condition on `status`)
/// allows; the one statement that makes concurrent steps exclusive. Refuses, naming why, when
/// another step got there first.
async fn claim(
    conn: &mut AnyConnection,
    appeal_id: i64,
    from: &'static str,
    to: &'static str,
    now: i64,
) -> AppResult<()> {
    let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE appeals SET status = $1, updated_at = $2 WHERE id = $3 AND {from}"
    )))
    .bind(to)
    .bind(now)
    .bind(appeal_id)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() == 1 {
        return Ok(());
    }
    let (status,): (String,) = sqlx::query_as("SELECT status FROM appeals WHERE id = $1")
        .bind(appeal_id)
        .fetch_one(&mut *conn)
        .await?;
    Err(refusal(&status, from == ASKED))
}

/// One row of the appeal's history.
async fn record_step(
    conn: &mut AnyConnection,
    appeal_id: i64,
    (actor_kind, actor_name): (&str, &str),
    step: &str,
    message: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO appeal_steps (appeal_id, at, actor_kind, actor_name, step, message) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(appeal_id)
    .bind(now)
    .bind(actor_kind)
    .bind(actor_name)
    .bind(step)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where the filer reads and answers the appeal.
fn status_page(services: &Services, reference: &str) -> String {
    format!(
        "{}/appeals/{reference}",
        services.config.public_url.trim().trim_end_matches('/')
    )
}

/// The operator's step on `appeal`: refused for an operator's own account, and for a state the
/// step cannot leave before anything is written (the claim rechecks it in the transaction).
fn check_operator_step(principal: &Principal, appeal: &AppealRow) -> AppResult<()> {
    if appeal.account_id == principal.account_id {
        return Err(AppError::AppealOwnAccount);
    }
    match appeal.status.as_str() {
        "submitted" | "answered" => Ok(()),
        other => Err(refusal(other, false)),
    }
}

/// The appeal an operator acts on, read before the step's transaction.
/// The email to the appeal's contact address about the operator's step, in the account's
/// language: `email` names the catalogue's subject and body, `note` the step's own text.
async fn tell_filer(
    conn: &mut AnyConnection,
    services: &Services,
    appeal: &AppealRow,
    email: (&str, &str),
    note: (&str, &str),
    now: i64,
) -> AppResult<()> {
    let locale = crate::ssr::account::language(conn, &appeal.account_id, Locale::En).await?;
    let body = t_with(
        locale,
        email.1,
        &[
            ("reference", appeal.reference.clone()),
            (note.0, note.1.to_string()),
            ("page", status_page(services, &appeal.reference)),
        ],
    );
    let to = (Channel::Email, appeal.contact_email.as_str());
    outbox::enqueue_notice(conn, to, &t(locale, email.0), &body, now).await?;
    Ok(())
}

async fn operator_target(
    services: &Services,
    principal: &Principal,
    reference: &str,
) -> AppResult<AppealRow> {
    require_operator(services, principal).await?;
    let reference = parse_reference(reference)?;
    let mut conn = services.db.pool.acquire().await?;
    let appeal = find(&mut conn, &reference).await?;
    check_operator_step(principal, &appeal)?;
    Ok(appeal)
}

/// The operator asks the filer for more information: the appeal leaves the queue until the
/// filer answers; the filer is told at the contact email.
#[tracing::instrument(skip_all, fields(operator = %principal.name))]
pub async fn request_information(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    reference: &str,
    message: &str,
) -> AppResult<()> {
    let message = parse_note("message", message)?;
    let appeal = operator_target(services, principal, reference).await?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    claim(&mut tx, appeal.id, OPEN, "info_requested", now).await?;
    let actor = ("operator", principal.name.as_str());
    record_step(&mut tx, appeal.id, actor, "info_requested", &message, now).await?;
    let detail = format!("appeal {}", appeal.reference);
    let event = AuditEvent::by(
        principal,
        now,
        &meta.client_ip,
        ASK_ACTION,
        &appeal.account_id,
    );
    audit::record(&mut tx, event.detail(&detail)).await?;
    let email = ("notice-appeal-question-subject", "notice-appeal-question");
    tell_filer(
        &mut tx,
        services,
        &appeal,
        email,
        ("message", &message),
        now,
    )
    .await?;
    services.commit_and_wake(tx).await?;
    tracing::info!(appeal = %appeal.reference, "appeal: information requested");
    Ok(())
}

/// The filer answers the operator's question in text: the appeal is back in the queue.
#[tracing::instrument(skip_all, fields(account = %principal.account_id))]
pub async fn answer(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    reference: &str,
    text: &str,
) -> AppResult<()> {
    principal.require_owner()?;
    let text = parse_note("answer", text)?;
    let reference = parse_reference(reference)?;
    let appeal = find(&mut *services.db.pool.acquire().await?, &reference).await?;
    if appeal.account_id != principal.account_id {
        return Err(AppError::AppealNotFound);
    }
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    claim(&mut tx, appeal.id, ASKED, "answered", now).await?;
    let actor = ("filer", principal.name.as_str());
    record_step(&mut tx, appeal.id, actor, "answered", &text, now).await?;
    let detail = format!("appeal {}", appeal.reference);
    let event = AuditEvent::by(
        principal,
        now,
        &meta.client_ip,
        ANSWER_ACTION,
        &appeal.account_id,
    );
    audit::record(&mut tx, event.detail(&detail)).await?;
    services.commit_and_wake(tx).await?;
    tracing::info!(appeal = %appeal.reference, "appeal: answered");
    Ok(())
}

/// The operator rejects the appeal with a reason; the number stays as it is, the filer is told.
#[tracing::instrument(skip_all, fields(operator = %principal.name))]
pub async fn reject(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    reference: &str,
    reason: &str,
) -> AppResult<()> {
    let reason = parse_note("reason", reason)?;
    let appeal = operator_target(services, principal, reference).await?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    claim(&mut tx, appeal.id, OPEN, "rejected", now).await?;
    let actor = ("operator", principal.name.as_str());
    record_step(&mut tx, appeal.id, actor, "rejected", &reason, now).await?;
    let detail = format!("appeal {}", appeal.reference);
    let event = AuditEvent::by(
        principal,
        now,
        &meta.client_ip,
        REJECT_ACTION,
        &appeal.account_id,
    );
    audit::record(&mut tx, event.detail(&detail)).await?;
    let email = ("notice-appeal-rejected-subject", "notice-appeal-rejected");
    tell_filer(&mut tx, services, &appeal, email, ("reason", &reason), now).await?;
    services.commit_and_wake(tx).await?;
    tracing::info!(appeal = %appeal.reference, "appeal: rejected");
    Ok(())
}

/// The account as an approval rereads it, inside the binding's transaction.
pub struct Approved {
    display_name: String,
    email: String,
    sessions_ended: u64,
}

/// The approval as a binding flow: its proof is the claim of the appeal, made in `recheck` with
/// the account row locked; there too every session of the account ends and the contact email is
/// told, so a refused binding (the number at its cap) undoes all of it.
struct Approval<'a> {
    principal: &'a Principal,
    appeal: &'a AppealRow,
    number: &'a PhoneNumber,
}

impl BindingFlow for Approval<'_> {
    type Subject = Approved;

    async fn recheck(
        &self,
        conn: &mut AnyConnection,
        services: &Services,
        _old: Option<&str>,
    ) -> AppResult<Approved> {
        let now = services.now_ms();
        let appeal = self.appeal;
        claim(conn, appeal.id, OPEN, "approved", now).await?;
        let actor = ("operator", self.principal.name.as_str());
        record_step(conn, appeal.id, actor, "approved", "", now).await?;
        let (display_name, email): (String, String) =
            sqlx::query_as("SELECT display_name, email FROM accounts WHERE id = $1")
                .bind(&appeal.account_id)
                .fetch_one(&mut *conn)
                .await?;
        // Whoever was signed in is not who asked for the appeal: every session ends.
        let sessions_ended = session::end_all(&mut *conn, &appeal.account_id).await?;
        if !appeal.contact_email.eq_ignore_ascii_case(&email) {
            let until = recovery::hold_until(services, now);
            let locale =
                crate::ssr::account::language(conn, &appeal.account_id, Locale::En).await?;
            let body = t_with(
                locale,
                "notice-appeal-approved",
                &[
                    ("reference", appeal.reference.clone()),
                    ("phone", self.number.masked()),
                    ("account", display_name.clone()),
                    ("until", recovery::format_utc(until)),
                    ("page", status_page(services, &appeal.reference)),
                ],
            );
            let to = (Channel::Email, appeal.contact_email.as_str());
            let subject = t(locale, "notice-appeal-approved-subject");
            outbox::enqueue_notice(conn, to, &subject, &body, now).await?;
        }
        Ok(Approved {
            display_name,
            email,
            sessions_ended,
        })
    }

    fn events(&self, subject: &Approved, _old: Option<&str>, change: &str) -> Vec<AuditEntry> {
        let appeal = self.appeal;
        vec![
            AuditEntry {
                action: APPROVE_ACTION,
                subject_account_id: appeal.account_id.clone(),
                detail: format!(
                    "appeal {}: {change}; {} sessions ended; SMS password recovery on hold",
                    appeal.reference, subject.sessions_ended
                ),
            },
            AuditEntry {
                action: APPROVE_ACTION,
                subject_account_id: self.principal.account_id.clone(),
                detail: format!(
                    "appeal {} of account {}: {change}",
                    appeal.reference, appeal.account_id
                ),
            },
        ]
    }

    fn notice(&self, subject: &Approved, _old: Option<&str>, locale: Locale) -> Notice {
        Notice {
            email: subject.email.clone(),
            text: t_with(
                locale,
                "notice-appeal-changed",
                &[
                    ("account", subject.display_name.clone()),
                    ("phone", self.number.masked()),
                    ("reference", self.appeal.reference.clone()),
                ],
            ),
            not_you: t(locale, "notice-not-you-support"),
        }
    }
}

/// The operator approves: in one transaction the appeal is claimed, its number bound under
/// every binding rule (a number now at its cap is refused and nothing changes), the audit
/// events and notices written, every session of the account ended and SMS recovery put on hold.
#[tracing::instrument(skip_all, fields(operator = %principal.name))]
pub async fn approve(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    reference: &str,
) -> AppResult<()> {
    let appeal = operator_target(services, principal, reference).await?;
    let (region,): (String,) = sqlx::query_as("SELECT region FROM accounts WHERE id = $1")
        .bind(&appeal.account_id)
        .fetch_one(&services.db.pool)
        .await?;
    // Checked again as filed: the registration region's rule holds for this binding as for any.
    let number = PhoneNumber::parse_in_region(&appeal.new_phone, Region::parse(&region)?)?;
    let flow = Approval {
        principal,
        appeal: &appeal,
        number: &number,
    };
    let binding = Binding {
        principal,
        meta,
        account_id: &appeal.account_id,
        number: &number,
    };
    let tx = services.db.begin().await?;
    phone_binding::bind_proven(tx, services, binding, &flow).await?;
    tracing::info!(appeal = %appeal.reference, "appeal: approved, number bound");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reference_of_ap_and_12_hex_digits_names_an_appeal() {
        assert_eq!(
            parse_reference(" ap0123456789ab "),
            Ok("AP0123456789AB".into())
        );
        for bad in [
            "",
            "AP",
            "AP0123456789A",
            "AP0123456789ABC",
            "XX0123456789AB",
            "AP01234567'--",
        ] {
            assert_eq!(
                parse_reference(bad),
                Err(AppError::AppealNotFound),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_note_is_1_to_1000_characters_of_text() {
        assert_eq!(parse_note("reason", "  why \n "), Ok("why".into()));
        assert!(parse_note("reason", &"é".repeat(NOTE_MAX)).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "x".repeat(NOTE_MAX + 1),
            "a\u{0}b".into(),
        ] {
            let refused = parse_note("reason", &bad).unwrap_err();
            assert!(refused.to_string().contains("reason"), "{refused}");
        }
    }

    #[test]
    fn the_demo_operator_is_one_only_in_development_with_the_demo_data() {
        let mut config = Config::default();
        assert!(is_operator_email(&config, "Operator@Example.com"));
        assert!(!is_operator_email(&config, "alice@example.com"));
        config.demo_data = false;
        assert!(!is_operator_email(&config, DEMO_OPERATOR_EMAIL));
        config.operators = vec!["ops@example.org".into()];
        assert!(is_operator_email(&config, "OPS@example.org"));
    }
}
