//! Windowed counters kept in the database, so a limit holds across every server instance.

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
    use super::window_start;

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
