//! The judgement: every series that must stay flat is compared between the first and the second
//! half of the samples taken after the settling time (when every lifetime and the history kept
//! after it have passed once). A series grows when its second half's mean exceeds the first's by
//! more than its tolerance. The traffic must also have been answered as expected throughout.

use crate::Settings;
use crate::load::Stats;
use crate::sample::{BOUNDED_TABLES, GROWING_TABLES, Sample};
use std::sync::atomic::Ordering;

/// A series that must not grow, and how much growth is noise: absolute and relative to its level.
struct Flat {
    name: &'static str,
    slack: f64,
    share: f64,
}

fn flat_series() -> Vec<Flat> {
    let mut series = vec![
        Flat {
            name: "rss_mb",
            slack: 8.0,
            share: 0.15,
        },
        Flat {
            name: "db_open",
            slack: 2.0,
            share: 0.0,
        },
        Flat {
            name: "db_server_connections",
            slack: 2.0,
            share: 0.0,
        },
        Flat {
            name: "outbox_pending",
            slack: 50.0,
            share: 0.5,
        },
        Flat {
            name: "p99_ms",
            slack: 25.0,
            share: 0.5,
        },
    ];
    for table in BOUNDED_TABLES {
        series.push(Flat {
            name: table,
            slack: 50.0,
            share: 0.2,
        });
    }
    series
}

pub struct Judged {
    pub lines: Vec<(String, bool)>,
}

impl Judged {
    pub fn passed(&self) -> bool {
        self.lines.iter().all(|(_, ok)| *ok)
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

pub fn judge(settings: &Settings, samples: &[Sample], stats: &Stats) -> Judged {
    let mut lines = Vec::new();
    let settled: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at_s >= settings.settle.as_secs_f64())
        .collect();
    if settled.len() < 4 {
        lines.push((
            format!(
                "only {} samples after the settling time: too short to judge",
                settled.len()
            ),
            false,
        ));
    } else {
        let half = settled.len() / 2;
        for flat in flat_series() {
            let values = |part: &[&Sample]| -> Vec<f64> {
                part.iter()
                    .map(|s| s.get(flat.name))
                    .filter(|v| v.is_finite())
                    .collect()
            };
            let (early, late) = (values(&settled[..half]), values(&settled[half..]));
            if early.is_empty() || late.is_empty() {
                continue;
            }
            let (m1, m2) = (mean(&early), mean(&late));
            let tolerance = flat.slack + flat.share * m1;
            let ok = m2 - m1 <= tolerance;
            let word = if ok { "flat" } else { "GROWS" };
            lines.push((
                format!(
                    "{word}: {} mean {m1:.1} then {m2:.1} (tolerance +{tolerance:.1})",
                    flat.name
                ),
                ok,
            ));
        }
    }
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (started, done) = (count(&stats.changes_started), count(&stats.changes_done));
    lines.push((
        format!(
            "answers: {} requests, {} unexpected, {} server errors (5xx)",
            count(&stats.requests),
            count(&stats.unexpected),
            count(&stats.server_errors)
        ),
        count(&stats.unexpected) == 0 && count(&stats.server_errors) == 0,
    ));
    lines.push((
        format!(
            "changes: {done} of {started} started done whole; {} resends refused as too soon",
            count(&stats.refused_as_due)
        ),
        started > 0 && done == started,
    ));
    let due = (settings.rate * settings.run.as_secs_f64()).round() as u64;
    lines.push((
        format!(
            "arrivals: {} of {due} due changes dropped (no idle account or too many in flight)",
            count(&stats.dropped)
        ),
        count(&stats.dropped) * 100 <= due,
    ));
    Judged { lines }
}

pub fn print(label: &str, samples: &[Sample], judged: &Judged) {
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        println!(
            "soak[{label}]: first and last sample of each series (t = {:.0} s, {:.0} s):",
            first.at_s, last.at_s
        );
        for (name, value) in &first.values {
            let growing = if GROWING_TABLES.contains(name) {
                "  (grows by design)"
            } else {
                ""
            };
            println!(
                "  {name:<22} {value:>10.1} {:>10.1}{growing}",
                last.get(name)
            );
        }
    }
    for (line, ok) in &judged.lines {
        println!(
            "soak[{label}]: {} {line}",
            if *ok { "ok  " } else { "FAIL" }
        );
    }
    let verdict = if judged.passed() { "PASSED" } else { "FAILED" };
    println!("soak[{label}]: {verdict}");
}
