//! Change tickets: what a session may do for 15 minutes after proving identity (SPEC 4), granted
//! by the identity step and spent, once, by the change it allows.

use crate::error::{AppError, AppResult};
use crate::ssr::Services;
use crate::ssr::session::Principal;
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

/// A ticket this session holds: its row, and when it dies (ms since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveTicket {
    pub id: i64,
    pub expires_at: i64,
}

impl LiveTicket {
    /// Whole seconds until the ticket dies, seen at `now_ms`: what the page counts down.
    pub fn seconds_left(&self, now_ms: i64) -> i64 {
        (self.expires_at - now_ms).max(0) / 1000
    }
}

/// Grants this session a ticket for `purpose` in the caller's transaction; answers it.
pub async fn grant_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    principal: &Principal,
    purpose: TicketPurpose,
) -> Result<LiveTicket, sqlx::Error> {
    let now = services.now_ms();
    let expires_at = now + services.config.limits.change_ticket_secs * 1000;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO change_tickets (session_hash, account_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&principal.session_hash)
    .bind(&principal.account_id)
    .bind(purpose.as_str())
    .bind(now)
    .bind(expires_at)
    .fetch_one(conn)
    .await?;
    Ok(LiveTicket { id, expires_at })
}

/// The live ticket of this session for `purpose`, if any.
pub async fn live_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    principal: &Principal,
    purpose: TicketPurpose,
) -> Result<Option<LiveTicket>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, expires_at FROM change_tickets WHERE session_hash = $1 AND account_id = $2 \
         AND purpose = $3 AND used_at IS NULL AND expires_at > $4 ORDER BY id DESC LIMIT 1",
    )
    .bind(&principal.session_hash)
    .bind(&principal.account_id)
    .bind(purpose.as_str())
    .bind(services.now_ms())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id, expires_at)| LiveTicket { id, expires_at }))
}

/// Refuses with `IdentityNotVerified` unless this session holds a live ticket for `purpose`;
/// spends nothing.
pub async fn require_ticket(
    services: &Services,
    principal: &Principal,
    purpose: TicketPurpose,
) -> AppResult<LiveTicket> {
    let mut conn = services.db.pool.acquire().await?;
    live_ticket(&mut conn, services, principal, purpose)
        .await?
        .ok_or(AppError::IdentityNotVerified)
}

/// Spends this session's live ticket for `purpose` inside the caller's transaction; without one
/// (or when a racing request spent it first) the answer is `IdentityNotVerified`.
pub async fn spend_ticket(
    conn: &mut AnyConnection,
    services: &Services,
    principal: &Principal,
    purpose: TicketPurpose,
) -> AppResult<()> {
    let ticket = live_ticket(conn, services, principal, purpose)
        .await?
        .ok_or(AppError::IdentityNotVerified)?;
    // Conditional: of several requests racing to spend one ticket, one row update wins.
    let spent =
        sqlx::query("UPDATE change_tickets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(services.now_ms())
            .bind(ticket.id)
            .execute(conn)
            .await?;
    if spent.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::IdentityNotVerified)
    }
}
