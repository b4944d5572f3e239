//! Delivery of queued messages: SMS through a provider's HTTP API, email over SMTP, with retries.
//!
//! Never twice: handing a message to a provider and marking it sent cannot be one atomic step, so
//! the hand-over is recorded first, in its own commit (`outbox::hand_over`). When no answer comes
//! back (a timeout, a cut connection, a crash of this process), the next attempt first asks the
//! provider whether the message went out (SMS: `QuerySendDetails` by `OutId`) and sends it again
//! only when it did not. SMTP has no such question: an email goes again with the same Message-ID,
//! by which relays and mailboxes recognise the copy.

pub mod aliyun;
pub mod smtp;

use crate::ssr::Services;
use crate::ssr::outbox::{self, AfterDelivery, OutboxRow};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why one delivery attempt failed; the text goes to the outbox row and the log, never a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DeliveryError {
    pub reason: String,
    /// The request may have reached the provider and no answer says what became of it (a
    /// timeout, a connection cut after the request, an answer cut short): before sending again,
    /// the provider is asked.
    pub in_doubt: bool,
}

impl DeliveryError {
    /// The message did not go out: the provider refused it or was never reached.
    pub fn new(reason: impl Into<String>) -> DeliveryError {
        DeliveryError {
            reason: reason.into(),
            in_doubt: false,
        }
    }

    /// The message may have gone out.
    pub fn in_doubt(reason: impl Into<String>) -> DeliveryError {
        DeliveryError {
            reason: reason.into(),
            in_doubt: true,
        }
    }
}

/// What a provider says of a message handed to it earlier without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handover {
    /// It went out (or is on its way): it must not be sent again.
    Sent,
    /// The provider has no trace of it: sending it again sends it once.
    NotSent,
    /// The provider cannot be asked (SMTP): it is sent again, recognisable as the same message.
    CannotTell,
}

/// One queued message handed to a sender.
pub struct Outbound<'a> {
    /// The outbox id, passed to providers as an idempotency key where they take one.
    pub id: i64,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub template: &'a str,
    pub code: Option<&'a str>,
}

pub trait SmsSender: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>>;

    /// Whether `message`, handed over at `handed_over_ms` without an answer, went out.
    fn look_up<'a>(
        &'a self,
        _message: &'a Outbound<'a>,
        _handed_over_ms: i64,
    ) -> BoxFuture<'a, Result<Handover, DeliveryError>> {
        Box::pin(async { Ok(Handover::CannotTell) })
    }
}

pub trait EmailSender: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

#[derive(Clone)]
pub struct Senders {
    pub sms: Arc<dyn SmsSender>,
    pub email: Arc<dyn EmailSender>,
    /// The messages leave through real providers (SMS, SMTP), not only into the database outbox.
    pub through_providers: bool,
}

/// Development mode: a message is "delivered" by staying in the outbox, where /dev/outbox shows it.
pub struct OutboxOnly;

impl SmsSender for OutboxOnly {
    fn send<'a>(&'a self, _message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async { Ok(()) })
    }
}

impl EmailSender for OutboxOnly {
    fn send<'a>(&'a self, _message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Senders {
    /// The real providers when delivery is on, the outbox alone otherwise.
    pub fn from_config(services: &Services) -> Result<Senders, String> {
        if !services.config.deliver {
            return Ok(Senders {
                sms: Arc::new(OutboxOnly),
                email: Arc::new(OutboxOnly),
                through_providers: false,
            });
        }
        Ok(Senders {
            sms: Arc::new(aliyun::AliyunSms::new(services.config.sms.clone())?),
            email: Arc::new(smtp::SmtpEmail::new(&services.config.smtp)?),
            through_providers: true,
        })
    }
}

const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 32;

/// Delivers every message due now; returns how many were attempted.
pub async fn deliver_due(services: &Services, senders: &Senders) -> Result<usize, sqlx::Error> {
    let now = services.now_ms();
    let batch_until = now + LEASE_MS;
    let batch = outbox::claim_due(&services.db, now, LEASE_MS, BATCH).await?;
    let count = batch.len();
    for row in batch {
        // A slow provider can outlast the batch's lease: renew it per message, and skip a
        // message whose lease lapsed, since another instance may be sending it now.
        let renewed_until = services.now_ms() + LEASE_MS;
        if !outbox::renew_claim(&services.db, row.id, batch_until, renewed_until).await? {
            tracing::info!(
                outbox_id = row.id,
                "claim lapsed; left to the instance that holds it"
            );
            continue;
        }
        deliver_one(services, senders, &row).await?;
    }
    Ok(count)
}

async fn deliver_one(
    services: &Services,
    senders: &Senders,
    row: &OutboxRow,
) -> Result<(), sqlx::Error> {
    let message = Outbound {
        id: row.id,
        recipient: &row.recipient,
        subject: &row.subject,
        body: &row.body,
        template: &row.template,
        code: row.code.as_deref(),
    };
    let after = AfterDelivery::choose(senders.through_providers, services.config.dev_outbox);
    if row.handed_over_at > 0 {
        let answer = match row.channel.as_str() {
            "sms" => senders.sms.look_up(&message, row.handed_over_at).await,
            _ => Ok(Handover::CannotTell),
        };
        services
            .metrics
            .handover_looked_up(&row.channel, answer.as_ref().ok().copied());
        match answer {
            Ok(Handover::Sent) => {
                tracing::info!(outbox_id = row.id, channel = %row.channel, "the provider had it already; not sent again");
                return outbox::mark_sent(&services.db, row.id, services.now_ms(), after).await;
            }
            Ok(Handover::NotSent | Handover::CannotTell) => {}
            Err(error) => return failed(services, row, &error).await,
        }
    }
    outbox::hand_over(&services.db, row.id, services.now_ms()).await?;
    let started = std::time::Instant::now();
    let result = match row.channel.as_str() {
        "sms" => senders.sms.send(&message).await,
        "email" => senders.email.send(&message).await,
        other => Err(DeliveryError::new(format!("unknown channel {other}"))),
    };
    let seconds = started.elapsed().as_secs_f64();
    services
        .metrics
        .delivery_attempt(&row.channel, result.is_ok(), seconds);
    match result {
        Ok(()) => {
            tracing::info!(outbox_id = row.id, channel = %row.channel, "message delivered");
            outbox::mark_sent(&services.db, row.id, services.now_ms(), after).await
        }
        Err(error) => failed(services, row, &error).await,
    }
}

async fn failed(
    services: &Services,
    row: &OutboxRow,
    error: &DeliveryError,
) -> Result<(), sqlx::Error> {
    tracing::warn!(outbox_id = row.id, channel = %row.channel, %error, in_doubt = error.in_doubt, "delivery failed; will retry");
    outbox::mark_failed(
        &services.db,
        row.id,
        services.now_ms(),
        error,
        services.config.delivery_max_attempts,
    )
    .await
}

/// Runs until `shutdown` resolves: delivers what is due, then sleeps until woken or the poll interval.
pub async fn run_worker(
    services: Services,
    senders: Senders,
    shutdown: impl Future<Output = ()> + Send,
) {
    let poll = Duration::from_millis(services.config.worker_poll_ms.max(10));
    tokio::pin!(shutdown);
    loop {
        let delivered = match deliver_due(&services, &senders).await {
            Ok(n) => n,
            Err(error) => {
                tracing::error!(%error, "outbox worker could not read the queue");
                0
            }
        };
        if delivered > 0 {
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = services.outbox_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
