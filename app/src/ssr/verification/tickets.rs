//! Change tickets: what a session may do for 15 minutes after proving identity (SPEC 4), granted
//! by the identity step and spent, once, by the change it allows.

use crate::error::{AppError, AppResult};
use crate::ssr::Services;
use sqlx::AnyConnection;

/// What a ticket lets the session do after proving identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketPurpose {
    ChangePhone,
    UnbindTotp,
    /// Earned by the bound phone or the logon email only: a password alone never binds one.
    BindTotp,
    LogonProtection,
}

impl TicketPurpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            TicketPurpose::ChangePhone => "change_phone",
            TicketPurpose::UnbindTotp => "unbind_totp",
            TicketPurpose::BindTotp => "bind_totp",
            TicketPurpose::LogonProtection => "logon_protection",
        }
    }
}

pub async fn grant_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    session_hash: &str,
    account_id: &str,
    purpose: TicketPurpose,
) -> Result<(), sqlx::Error> {
    let now = services.now_ms();
    sqlx::query(
        "INSERT INTO change_tickets (session_hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session_hash)
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(now)
    .bind(now + services.config.limits.change_ticket_secs * 1000)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live ticket of this session for `purpose`, if any.
pub async fn live_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    session_hash: &str,
    account_id: &str,
    purpose: TicketPurpose,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM change_tickets WHERE session_hash = $1 AND account_id = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $4 ORDER BY id DESC LIMIT 1",
    )
    .bind(session_hash)
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(services.now_ms())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Spends the ticket; false when it was already spent (a racing request won).
pub async fn use_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    ticket_id: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE change_tickets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(services.now_ms())
            .bind(ticket_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Refuses with `IdentityNotVerified` unless this session holds a live ticket for `purpose`.
pub async fn require_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    session_hash: &str,
    account_id: &str,
    purpose: TicketPurpose,
) -> AppResult<()> {
    check_ticket(conn, services, session_hash, account_id, purpose, false).await
}

/// Spends this session's live ticket for `purpose` inside the caller's transaction; without one
/// (or when a racing request spent it first) the answer is `IdentityNotVerified`.
pub async fn spend_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    session_hash: &str,
    account_id: &str,
    purpose: TicketPurpose,
) -> AppResult<()> {
    check_ticket(conn, services, session_hash, account_id, purpose, true).await
}

/// The live ticket's check, and with `spend` its use, each refusing with `IdentityNotVerified`.
async fn check_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    session_hash: &str,
    account_id: &str,
    purpose: TicketPurpose,
    spend: bool,
) -> AppResult<()> {
    let ticket = live_ticket(conn, services, session_hash, account_id, purpose)
        .await?
        .ok_or(AppError::IdentityNotVerified)?;
    if !spend || use_ticket(conn, services, ticket).await? {
        Ok(())
    } else {
        Err(AppError::IdentityNotVerified)
    }
}
