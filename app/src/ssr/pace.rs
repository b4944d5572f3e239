//! An answer that takes about as long as another kind of answer: the time of a reply must not
//! tell which of two paths ran (forgot-password for a known account sends a code; for an unknown
//! one it does not). The slow path reports how long it took; the fast path, done, waits out the
//! rest of the median of those times. Matching the work statement for statement was not enough:
//! a send runs about a dozen statements, and the unknown path answered in about 60 % of the time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a fast answer waits: a stalled send must not hold every unknown answer with it.
const MOST: Duration = Duration::from_millis(250);

/// How many of the slow path's latest times the median is taken over.
const KEPT: usize = 15;

/// The slow path's latest times; their median is what the fast path waits for (a median, so a
/// cold first request or a stall does not hold the fast answers for long).
#[derive(Default)]
pub struct Pace {
    latest: Mutex<Latest>,
}

#[derive(Default)]
struct Latest {
    micros: [u32; KEPT],
    seen: usize,
}

impl Pace {
    /// The slow path ran, started at `started`.
    pub fn observe(&self, started: Instant) {
        let took = started.elapsed().min(MOST).as_micros() as u32;
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let at = latest.seen % KEPT;
        latest.micros[at] = took;
        latest.seen += 1;
    }

    /// How long the slow path takes: the median of its latest times (zero before any).
    pub fn typical(&self) -> Duration {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let mut times = latest.micros;
        let times = &mut times[..latest.seen.min(KEPT)];
        drop(latest);
        times.sort_unstable();
        times
            .get(times.len() / 2)
            .map_or(Duration::ZERO, |&m| Duration::from_micros(u64::from(m)))
    }

    /// The fast path ran, started at `started`: waits until it has taken as long as the slow
    /// path typically does.
    pub async fn wait_out(&self, started: Instant) {
        if let Some(rest) = self.typical().checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fast_path_waits_for_the_slow_paths_typical_time() {
        let pace = Pace::default();
        for _ in 0..4 {
            let started = Instant::now();
            tokio::time::sleep(Duration::from_millis(30)).await;
            pace.observe(started);
        }
        let started = Instant::now();
        pace.wait_out(started).await;
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn nothing_observed_means_no_wait_and_a_stall_counts_as_the_cap_at_most() {
        let pace = Pace::default();
        let started = Instant::now();
        pace.wait_out(started).await;
        assert!(started.elapsed() < Duration::from_millis(20));
        pace.observe(Instant::now() - Duration::from_secs(10));
        assert_eq!(pace.typical(), MOST);
    }

    #[test]
    fn the_median_of_the_latest_times_so_one_stall_does_not_count() {
        let pace = Pace::default();
        let ago = |ms| Instant::now() - Duration::from_millis(ms);
        pace.observe(ago(200));
        for _ in 0..KEPT * 2 {
            pace.observe(ago(8));
        }
        pace.observe(ago(200));
        let typical = pace.typical();
        assert!(
            typical >= Duration::from_millis(8) && typical < Duration::from_millis(20),
            "{typical:?}"
        );
    }
}
