//! Periodic clean-up of what has expired: sessions, challenges, tickets, pending sign-ins, undo
//! links, resend guards, old counters, finished outbox messages, and the codes that delivered
//! messages kept for the development outbox. Every table that grows with traffic shrinks here,
//! except the security log (`audit_events`), which is the account's history.

use crate::ssr::Services;

pub async fn clean_up(services: &Services) -> Result<(), sqlx::Error> {
    let now = services.now_ms();
    let limits = &services.config.limits;
    // Finished rows are kept this long after they stop counting (a day by default), for support.
    let keep_ms = limits.history_keep_secs * 1000;
    let mut conn = services.db.write().await?;
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(now - limits.session_idle_secs * 1000)
        .bind(now - limits.session_absolute_secs * 1000)
        .execute(&mut *conn)
        .await?;
    // The rules only read live rows.
    sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(now - keep_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM change_tickets WHERE expires_at < $1")
        .bind(now - keep_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // An expired undo link is kept a while, so its page says "expired" rather than "not valid".
    sqlx::query("DELETE FROM undo_links WHERE expires_at < $1")
        .bind(now - keep_ms)
        .execute(&mut *conn)
        .await?;
    // A guard older than the resend interval lets the next code through, as no row does.
    sqlx::query("DELETE FROM resend_guards WHERE last_sent_at < $1")
        .bind(now - limits.resend_interval_secs * 1000)
        .execute(&mut *conn)
        .await?;
    // Counters live two days: the longest window is a day, and it may start at any minute.
    sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
        .bind(now - 2 * 86_400_000)
        .execute(&mut *conn)
        .await?;
    let purged = crate::ssr::outbox::purge_finished(&mut conn, now - keep_ms).await?;
    if purged > 0 {
        tracing::info!(purged, "finished outbox messages purged");
    }
    // A code whose lifetime has passed opens nothing, but is still a secret at rest.
    let wiped =
        crate::ssr::outbox::wipe_dead_codes(&mut conn, now - limits.code_lifetime_secs * 1000)
            .await?;
    if wiped > 0 {
        tracing::info!(wiped, "codes of expired messages wiped from the outbox");
    }
    Ok(())
}
