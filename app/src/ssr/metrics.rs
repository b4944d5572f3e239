//! The instance's Prometheus metrics: codes sent, refusals, deliveries, the outbox and request
//! latency, named `console_…` with the unit in the name and only low-cardinality labels (never
//! an account id, a number, an address or a code).
//!
//! Each `Services` owns its recorder, and every metric is recorded through it
//! (`metrics::with_local_recorder`) rather than through a process-wide one: a server process has
//! one `Services`, so nothing changes there, and several apps in one process (the test binary)
//! each count only their own work.

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const CODES_SENT: &str = "console_codes_sent_total";
pub const REFUSALS: &str = "console_refusals_total";
pub const SMS_GUARD_REFUSALS: &str = "console_sms_guard_refusals_total";
pub const DELIVERY_ATTEMPTS: &str = "console_delivery_attempts_total";
pub const DELIVERY_SECONDS: &str = "console_delivery_seconds";
pub const DELIVERY_LOOKUPS: &str = "console_delivery_lookups_total";
pub const OUTBOX_PENDING: &str = "console_outbox_pending_messages";
pub const OUTBOX_OLDEST_AGE: &str = "console_outbox_oldest_pending_age_seconds";
pub const DB_CONNECTIONS: &str = "console_db_connections";
pub const HTTP_REQUEST_SECONDS: &str = "console_http_request_duration_seconds";

/// A page or an API call: most answer in milliseconds, a sign-in hashes a password (~50 ms).
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// A provider's HTTP API or an SMTP server: tens of milliseconds to the senders' timeouts.
const DELIVERY_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Set on a response that refuses a request, with the reason it is counted under: the
/// `AppError` variant (`AppError::reason`), or the stable code of a refusal that is not one
/// (the signed API's signature checks). The request middleware counts it, once per response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_SECONDS.into()), REQUEST_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(DELIVERY_SECONDS.into()), DELIVERY_BUCKETS)
            })
            .expect("the bucket lists are fixed and not empty")
            .build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics { recorder, handle };
        metrics.record(describe);
        metrics
    }

    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds the latency samples recorded since the last call into their buckets. A scrape does
    /// it too; the server also runs it every few seconds, so an instance nobody scrapes (no
    /// token set) keeps a bounded buffer.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// A code was queued for delivery (counted after its transaction committed).
    pub fn code_sent(&self, purpose: &'static str, channel: &'static str) {
        self.record(|| {
            counter!(CODES_SENT, "purpose" => purpose, "channel" => channel).increment(1);
        });
    }

    pub fn refused(&self, reason: &'static str) {
        self.record(|| counter!(REFUSALS, "reason" => reason).increment(1));
    }

    /// An SMS code the SMS-pumping guard refused, by the check that refused it and the purpose.
    pub fn sms_guard_refused(&self, check: &'static str, purpose: &'static str) {
        self.record(|| {
            counter!(SMS_GUARD_REFUSALS, "check" => check, "purpose" => purpose).increment(1);
        });
    }

    /// One attempt of the delivery worker to hand a message to its provider.
    pub fn delivery_attempt(&self, channel: &str, delivered: bool, seconds: f64) {
        let channel = known_channel(channel);
        let outcome = if delivered { "delivered" } else { "failed" };
        self.record(|| {
            counter!(DELIVERY_ATTEMPTS, "channel" => channel, "outcome" => outcome).increment(1);
            histogram!(DELIVERY_SECONDS, "channel" => channel).record(seconds);
        });
    }

    /// One question to a provider about a message handed over without an answer; `None`: the
    /// question itself failed.
    pub fn handover_looked_up(
        &self,
        channel: &str,
        answer: Option<crate::ssr::delivery::Handover>,
    ) {
        use crate::ssr::delivery::Handover;
        let channel = known_channel(channel);
        let answer = match answer {
            Some(Handover::Sent) => "sent",
            Some(Handover::NotSent) => "not_sent",
            Some(Handover::CannotTell) => "cannot_tell",
            None => "failed",
        };
        self.record(|| {
            counter!(DELIVERY_LOOKUPS, "channel" => channel, "answer" => answer).increment(1)
        });
    }

    /// The outbox as the database holds it now (shared by every instance on the database).
    pub fn outbox(&self, pending: i64, oldest_pending_age_seconds: f64) {
        self.record(|| {
            gauge!(OUTBOX_PENDING).set(pending as f64);
            gauge!(OUTBOX_OLDEST_AGE).set(oldest_pending_age_seconds);
        });
    }

    /// This instance's database pool: connections open, and of those how many are idle.
    pub fn db_connections(&self, open: u32, idle: usize) {
        self.record(|| {
            gauge!(DB_CONNECTIONS, "state" => "open").set(f64::from(open));
            gauge!(DB_CONNECTIONS, "state" => "idle").set(idle as f64);
        });
    }

    /// One answered request. `route` is the router's template (`/resource-directory/members/{account_id}`)
    /// or `unmatched`, never the path the client sent.
    pub fn request(&self, method: &http::Method, route: String, status: u16, seconds: f64) {
        let method = known_method(method);
        let status = status.to_string();
        self.record(|| {
            histogram!(HTTP_REQUEST_SECONDS, "method" => method, "route" => route, "status" => status)
                .record(seconds);
        });
    }
}

fn describe() {
    describe_counter!(
        CODES_SENT,
        Unit::Count,
        "Verification codes queued for delivery, by purpose and channel."
    );
    describe_counter!(
        REFUSALS,
        Unit::Count,
        "Requests refused, by reason (the error's name)."
    );
    describe_counter!(
        SMS_GUARD_REFUSALS,
        Unit::Count,
        "SMS codes the SMS-pumping guard refused, by check and purpose; none of them was sent."
    );
    describe_counter!(
        DELIVERY_ATTEMPTS,
        Unit::Count,
        "Attempts to hand a message to its provider, by channel and outcome."
    );
    describe_counter!(
        DELIVERY_LOOKUPS,
        Unit::Count,
        "Questions to a provider whether a message handed over without an answer went out, by channel and answer."
    );
    describe_histogram!(
        DELIVERY_SECONDS,
        Unit::Seconds,
        "Time one delivery attempt took, by channel."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        Unit::Count,
        "Messages waiting in the outbox (all instances), refreshed when scraped."
    );
    describe_gauge!(
        OUTBOX_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest message waiting in the outbox; 0 when none waits."
    );
    describe_gauge!(
        DB_CONNECTIONS,
        Unit::Count,
        "This instance's database connections: open, and idle among them; refreshed when scraped."
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer a request, by method, route template and status."
    );
}

/// The outbox's channels; anything else (a row written by a newer version) is counted apart.
fn known_channel(channel: &str) -> &'static str {
    match channel {
        "sms" => "sms",
        "email" => "email",
        _ => "other",
    }
}

/// A client can send any method name: only the standard ones become label values.
fn known_method(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(start))
    }

    #[test]
    fn counters_render_with_their_labels_and_each_instance_counts_alone() {
        let one = Metrics::new();
        let two = Metrics::new();
        one.code_sent("new_phone", "sms");
        one.code_sent("new_phone", "sms");
        one.refused("ResendTooSoon");
        let text = one.render();
        let sent = line_of(&text, "console_codes_sent_total{").expect(&text);
        assert!(
            sent.contains("purpose=\"new_phone\"") && sent.contains("channel=\"sms\""),
            "{sent}"
        );
        assert!(sent.ends_with(" 2"), "{sent}");
        assert!(
            line_of(&text, "console_refusals_total{reason=\"ResendTooSoon\"} 1").is_some(),
            "{text}"
        );
        assert!(text.contains("# HELP console_codes_sent_total"), "{text}");
        assert!(line_of(&two.render(), "console_codes_sent_total{").is_none());
    }

    #[test]
    fn latencies_are_histograms_and_odd_methods_and_channels_are_folded() {
        let metrics = Metrics::new();
        let method = http::Method::from_bytes(b"BREW").unwrap();
        metrics.request(&method, "unmatched".into(), 404, 0.003);
        metrics.delivery_attempt("pigeon", false, 0.2);
        let text = metrics.render();
        assert!(
            text.contains("console_http_request_duration_seconds_bucket{method=\"other\",route=\"unmatched\",status=\"404\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "console_delivery_attempts_total{channel=\"other\",outcome=\"failed\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("console_delivery_seconds_count{channel=\"other\"} 1"),
            "{text}"
        );
    }
}
