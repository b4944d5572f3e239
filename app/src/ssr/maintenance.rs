//! Periodic clean-up of what has expired: sessions, challenges, tickets, pending sign-ins, undo links, old counters, and the
//! codes that delivered messages kept for the development outbox.

use crate::ssr::Services;

pub async fn clean_up(services: &Services) -> Result<(), sqlx::Error> {
    let now = services.now_ms();
    let limits = &services.config.limits;
    let mut conn = services.db.write().await?;
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(now - limits.session_idle_secs * 1000)
        .bind(now - limits.session_absolute_secs * 1000)
        .execute(&mut *conn)
        .await?;
    // Keep a day of history for support; the rules only read live rows.
    sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(now - 86_400_000)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM change_tickets WHERE expires_at < $1")
        .bind(now - 86_400_000)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // An expired undo link is kept a day, so its page says "expired" rather than "not valid".
    sqlx::query("DELETE FROM undo_links WHERE expires_at < $1")
        .bind(now - 86_400_000)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
        .bind(now - 2 * 86_400_000)
        .execute(&mut *conn)
        .await?;
    // A code whose lifetime has passed opens nothing, but is still a secret at rest.
    let wiped =
        crate::ssr::outbox::wipe_dead_codes(&mut conn, now - limits.code_lifetime_secs * 1000)
            .await?;
    if wiped > 0 {
        tracing::info!(wiped, "codes of expired messages wiped from the outbox");
    }
    Ok(())
}
