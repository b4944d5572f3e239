//! Appeals (SPEC 4): when neither the phone nor the email can be reached, a person decides.

use crate::domain::{Email, PhoneNumber, Region};
use crate::error::{AppError, AppResult};
use crate::model::AppealView;
use crate::ssr::Services;
use crate::ssr::account;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::crypto::random_token;
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;

const REASON_MAX: usize = 1000;

/// Files an appeal when neither the phone nor the email can be reached. It never changes the number.
pub async fn file_appeal(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    new_phone: &str,
    contact_email: &str,
    reason: &str,
) -> AppResult<String> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let number = PhoneNumber::parse_in_region(new_phone, Region::parse(&account.region)?)?;
    let email = Email::parse(contact_email)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(AppError::invalid(
            "Describe the reason in 1 to 1000 characters.",
        ));
    }
    // Line breaks and tabs are text; other control characters (a NUL byte: PostgreSQL refuses it) are not.
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            "The reason contains characters that are not allowed.",
        ));
    }
    let now = services.now_ms();
    let reference = format!("AP{}", &random_token()[..12].to_ascii_uppercase());
    let mut tx = services.db.begin().await?;
    sqlx::query(
        "INSERT INTO appeals (reference, account_id, new_phone, contact_email, reason, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6)",
    )
    .bind(&reference)
    .bind(&account.id)
    .bind(number.e164())
    .bind(email.as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::by(principal, now, &meta.client_ip, "FileAppeal", &account.id)
            .detail(&reference),
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        NewMessage {
            channel: Channel::Email,
            recipient: email.as_str(),
            subject: "Your appeal was received",
            body: &format!("We received your appeal {reference} to change the mobile phone number. We will contact you at this address."),
            template: Template::Notice,
            code: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    services.outbox_wake.notify_one();
    Ok(reference)
}

pub async fn list_appeals(
    services: &Services,
    principal: &Principal,
) -> AppResult<Vec<AppealView>> {
    principal.require_owner()?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT reference, new_phone, status, created_at FROM appeals WHERE account_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(&principal.account_id)
    .fetch_all(&services.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(reference, phone, status, at)| AppealView {
            reference,
            masked_phone: crate::domain::phone::mask_e164(&phone),
            status,
            created_at: rfc3339(at),
        })
        .collect())
}
