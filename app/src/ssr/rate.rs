//! Windowed counters and failure streaks kept in the database, so a limit holds across every
//! server instance.

use sqlx::AnyConnection;

/// Counts one more in `scope` for the window unless it already holds `cap`; false when at the cap.
/// One statement: the row lock of the upsert makes concurrent callers queue, so the cap is exact.
pub async fn take(
    conn: &mut AnyConnection,
    scope: &str,
    window_start: i64,
    cap: i64,
) -> Result<bool, sqlx::Error> {
    if cap <= 0 {
        return Ok(false);
    }
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO rate_counters (scope, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (scope, window_start) DO UPDATE SET hits = rate_counters.hits + 1 \
         WHERE rate_counters.hits < $3 RETURNING hits",
    )
    .bind(scope)
    .bind(window_start)
    .bind(cap)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Gives back a slot `take` counted, for an attempt that turned out not to be a failure.
pub async fn give_back(
    conn: &mut AnyConnection,
    scope: &str,
    window_start: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rate_counters SET hits = hits - 1 WHERE scope = $1 AND window_start = $2 AND hits > 0",
    )
    .bind(scope)
    .bind(window_start)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts one more failure in `subject`'s streak unless it already holds `ceiling`; false at the
/// ceiling. Windows do not end a streak: `end_streak` does, and so does a new `fingerprint` (a
/// streak counted against one password hash is over once the password is reset). One capped
/// upsert, like `take`.
pub async fn take_streak(
    conn: &mut AnyConnection,
    subject: &str,
    fingerprint: &str,
    ceiling: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    if ceiling <= 0 {
        return Ok(true);
    }
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO sign_in_streaks (subject, fingerprint, failures, updated_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (subject) DO UPDATE SET \
           failures = CASE WHEN sign_in_streaks.fingerprint = excluded.fingerprint \
                           THEN sign_in_streaks.failures + 1 ELSE 1 END, \
           fingerprint = excluded.fingerprint, updated_at = excluded.updated_at \
         WHERE sign_in_streaks.failures < $4 OR sign_in_streaks.fingerprint <> excluded.fingerprint \
         RETURNING failures",
    )
    .bind(subject)
    .bind(fingerprint)
    .bind(now_ms)
    .bind(ceiling)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Gives back a failure `take_streak` counted, for an attempt that was no guess after all.
pub async fn give_back_streak(conn: &mut AnyConnection, subject: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sign_in_streaks SET failures = failures - 1 WHERE subject = $1 AND failures > 0",
    )
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends `subject`'s streak: it proved its password.
pub async fn end_streak(conn: &mut AnyConnection, subject: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_streaks WHERE subject = $1")
        .bind(subject)
        .execute(conn)
        .await?;
    Ok(())
}

/// The key a client address is counted under: an IPv4 address as it is, an IPv6 client by its
/// /64, the block one subscriber gets (it can pick any of 2^64 addresses inside it).
pub fn ip_key(client_ip: &str) -> String {
    match client_ip
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_canonical())
    {
        Ok(std::net::IpAddr::V6(v6)) => {
            format!("{}/64", crate::ssr::config::mask(v6.into(), 64))
        }
        Ok(v4) => v4.to_string(),
        Err(_) => client_ip.to_string(),
    }
}

/// Counts one more, with no cap (failures that a later check reads).
pub async fn hit(
    conn: &mut AnyConnection,
    scope: &str,
    window_start: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rate_counters (scope, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (scope, window_start) DO UPDATE SET hits = rate_counters.hits + 1",
    )
    .bind(scope)
    .bind(window_start)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count(
    conn: &mut AnyConnection,
    scope: &str,
    window_start: i64,
) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT hits FROM rate_counters WHERE scope = $1 AND window_start = $2")
            .bind(scope)
            .bind(window_start)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0).unwrap_or(0))
}

/// The start of the fixed window of `len_ms` holding `now_ms`, shifted by `offset_ms`.
pub fn window_start(now_ms: i64, len_ms: i64, offset_ms: i64) -> i64 {
    (now_ms - offset_ms).div_euclid(len_ms) * len_ms + offset_ms
}

#[cfg(test)]
mod tests {
    use super::{ip_key, window_start};

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(ip_key("2001:db8:1:3::1"), ip_key("2001:db8:1:2::1"));
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("unknown"), "unknown");
    }

    #[test]
    fn windows_are_aligned_and_offset() {
        let day = 86_400_000;
        assert_eq!(window_start(day + 5, day, 0), day);
        assert_eq!(window_start(day - 1, day, 0), 0);
        // Days that start at 16:00 UTC (midnight in UTC+8).
        let offset = 16 * 3_600_000;
        assert_eq!(window_start(day + offset - 1, day, offset), offset);
        assert_eq!(window_start(day + offset, day, offset), day + offset);
    }
}
