//! Binding a number to an account under the per-number cap (SPEC 2: at most 6 accounts).
//!
//! `phone_binding_counts` holds one row per number; the capped upsert on it is the lock that
//! keeps the cap exact when many bindings race, on one instance or many.

use crate::error::AppError;
use crate::ssr::Services;
use sqlx::AnyConnection;

/// Whether one more account may take `phone` now; a check before sending a code, not a promise.
pub async fn has_room(
    conn: &mut AnyConnection,
    services: &Services,
    phone: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT accounts FROM phone_binding_counts WHERE phone = $1")
            .bind(phone)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0).unwrap_or(0) < services.config.limits.accounts_per_phone)
}

/// Moves `account_id` from `old` (if any) to `new` inside the caller's transaction.
/// The inner error is `PhoneBindingLimit` when `new` is full; the caller then rolls back.
pub async fn rebind(
    conn: &mut AnyConnection,
    services: &Services,
    account_id: &str,
    old: Option<&str>,
    new: &str,
) -> Result<Result<(), AppError>, sqlx::Error> {
    let taken: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO phone_binding_counts (phone, accounts) VALUES ($1, 1) \
         ON CONFLICT (phone) DO UPDATE SET accounts = phone_binding_counts.accounts + 1 \
         WHERE phone_binding_counts.accounts < $2 RETURNING accounts",
    )
    .bind(new)
    .bind(services.config.limits.accounts_per_phone)
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_none() {
        return Ok(Err(AppError::PhoneBindingLimit));
    }
    if let Some(old) = old {
        sqlx::query("UPDATE phone_binding_counts SET accounts = accounts - 1 WHERE phone = $1 AND accounts > 0")
            .bind(old)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE accounts SET phone = $1, updated_at = $2 WHERE id = $3")
        .bind(new)
        .bind(services.now_ms())
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(Ok(()))
}
