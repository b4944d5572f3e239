//! The read side of the appeals: the operator's queue, oldest first, and one appeal with its
//! history, for the operator or its filer.

use super::*;
use crate::tr;

/// An open appeal with the account it is for, as the queue reads it.
#[derive(sqlx::FromRow)]
struct QueueRow {
    #[sqlx(flatten)]
    appeal: AppealRow,
    display_name: String,
    phone: Option<String>,
}

/// The queue: every open appeal, oldest first, with its account and history.
pub async fn queue(services: &Services, principal: &Principal) -> AppResult<Vec<QueuedAppeal>> {
    require_operator(services, principal).await?;
    let mut conn = services.db.pool.acquire().await?;
    let rows: Vec<QueueRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, a.reference, a.account_id, a.new_phone, a.contact_email, a.reason, a.status, a.created_at, \
         c.display_name, c.phone \
         FROM appeals a JOIN accounts c ON c.id = a.account_id WHERE a.{OPEN} ORDER BY a.created_at, a.id LIMIT {QUEUE_PAGE}"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut queue = Vec::with_capacity(rows.len());
    for QueueRow {
        appeal,
        display_name,
        phone,
    } in rows
    {
        let history = history(&mut conn, appeal.id, appeal.created_at, true).await?;
        queue.push(QueuedAppeal {
            reference: appeal.reference,
            account_id: appeal.account_id,
            account_name: display_name,
            current_phone: phone.as_deref().map(mask_e164),
            new_phone: appeal.new_phone,
            contact_email: appeal.contact_email,
            reason: appeal.reason,
            filed_at: rfc3339(appeal.created_at),
            status: appeal_status_label(&appeal.status).to_string(),
            history,
        });
    }
    Ok(queue)
}

/// The appeal's history, oldest first: its filing, then every step. Operators are named to
/// operators; the filer reads "Platform operator".
async fn history(
    conn: &mut AnyConnection,
    appeal_id: i64,
    filed_at: i64,
    for_operator: bool,
) -> AppResult<Vec<AppealStepView>> {
    let steps: Vec<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT at, actor_kind, actor_name, step, message FROM appeal_steps WHERE appeal_id = $1 ORDER BY id",
    )
    .bind(appeal_id)
    .fetch_all(conn)
    .await?;
    let filing = AppealStepView {
        at: rfc3339(filed_at),
        by: if for_operator {
            tr!("appeal-by-filer")
        } else {
            tr!("appeal-by-you")
        },
        what: appeal_status_label("submitted").to_string(),
        message: String::new(),
    };
    let steps = steps.into_iter().map(|(at, kind, name, step, message)| {
        let by = match (kind.as_str(), for_operator) {
            ("operator", true) => name,
            ("operator", false) => tr!("appeal-by-operator"),
            (_, true) => tr!("appeal-by-filer"),
            (_, false) => tr!("appeal-by-you"),
        };
        AppealStepView {
            at: rfc3339(at),
            by,
            what: appeal_status_label(&step).to_string(),
            message,
        }
    });
    Ok(std::iter::once(filing).chain(steps).collect())
}

/// The filer's view of one appeal of the account: status, history and any open question.
pub async fn details(
    services: &Services,
    principal: &Principal,
    reference: &str,
) -> AppResult<AppealDetails> {
    principal.require_owner()?;
    let reference = parse_reference(reference)?;
    let mut conn = services.db.pool.acquire().await?;
    let appeal = find(&mut conn, &reference).await?;
    // Another account's appeal is as unknown as one never filed.
    if appeal.account_id != principal.account_id {
        return Err(AppError::AppealNotFound);
    }
    let history = history(&mut conn, appeal.id, appeal.created_at, false).await?;
    let question = (appeal.status == "info_requested")
        .then(|| {
            history
                .iter()
                .rev()
                .find(|step| step.what == appeal_status_label("info_requested"))
                .map(|step| step.message.clone())
        })
        .flatten();
    Ok(AppealDetails {
        reference: appeal.reference,
        masked_phone: mask_e164(&appeal.new_phone),
        masked_contact: mask_email(&appeal.contact_email),
        reason: appeal.reason,
        filed_at: rfc3339(appeal.created_at),
        status: appeal_status_label(&appeal.status).to_string(),
        question,
        history,
    })
}
