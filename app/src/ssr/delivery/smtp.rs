//! Email over SMTP with lettre: STARTTLS (`starttls`), implicit TLS (`tls`) or, for a relay on the
//! same host and for tests only, plain text (`none`).

use super::{BoxFuture, DeliveryError, EmailSender, Outbound};
use crate::ssr::config::SmtpConfig;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub const DEFAULT_SUBJECT: &str = "Account Center";
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct SmtpEmail {
    /// `None` when no host is configured: every attempt then fails (and is retried) with a clear
    /// error instead of the server refusing to start in development.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    id_domain: String,
}

impl SmtpEmail {
    /// Builds the pooled transport; must run inside the Tokio runtime (the pool spawns its reaper).
    pub fn new(config: &SmtpConfig) -> Result<SmtpEmail, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("APP_SMTP_FROM: not a valid address ({e})"))?;
        let id_domain = from.email.domain().to_string();
        let host = config.host.trim();
        let transport = if host.is_empty() {
            None
        } else {
            let builder = match config.security.trim().to_ascii_lowercase().as_str() {
                "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                    .map_err(|e| format!("APP_SMTP_HOST: {e}"))?,
                "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                    .map_err(|e| format!("APP_SMTP_HOST: {e}"))?,
                "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                other => {
                    return Err(format!(
                        "APP_SMTP_SECURITY: expected starttls, tls or none, not {other:?}"
                    ));
                }
            };
            let mut builder = builder.port(config.port).timeout(Some(TIMEOUT));
            if !config.username.is_empty() {
                builder = builder.credentials(Credentials::new(
                    config.username.clone(),
                    config.password.0.clone(),
                ));
            }
            Some(builder.build())
        };
        Ok(SmtpEmail {
            transport,
            from,
            id_domain,
        })
    }
}

/// The Message-ID of an outbox message: the same on every attempt, so a retry after an
/// ambiguous failure can be recognised as a duplicate by the relay and the recipient.
/// The domain is the sender's (the From address), which every instance sharing the queue has in
/// common, unlike the machine's host name.
pub fn message_id(outbox_id: i64, domain: &str) -> String {
    format!("<outbox-{outbox_id}@{domain}>")
}

/// The email for one outbox message: plain text, From the configured sender.
pub fn build_message(
    from: &Mailbox,
    id_domain: &str,
    message: &Outbound<'_>,
) -> Result<Message, DeliveryError> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|_| DeliveryError::new("invalid recipient address"))?;
    let subject = if message.subject.trim().is_empty() {
        DEFAULT_SUBJECT
    } else {
        message.subject
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(message_id(message.id, id_domain)))
        .header(ContentType::TEXT_PLAIN)
        .body(message.body.to_string())
        .map_err(|_| DeliveryError::new("could not build the email"))
}

/// A short description of a failure: never the message, never the server's free text.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let code = error.status().map(|c| c.to_string()).unwrap_or_default();
    if error.is_timeout() {
        "smtp timed out".into()
    } else if error.is_permanent() {
        format!("smtp rejected the message ({code})")
    } else if error.is_transient() {
        format!("smtp deferred the message ({code})")
    } else if error.is_tls() {
        "smtp tls failed".into()
    } else if error.is_transport_shutdown() {
        "smtp transport shut down".into()
    } else if error.is_response() {
        "smtp server answered something unexpected".into()
    } else {
        "smtp connection failed".into()
    }
}

impl EmailSender for SmtpEmail {
    fn send<'a>(&'a self, message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let Some(transport) = &self.transport else {
                return Err(DeliveryError::new("smtp host is not configured"));
            };
            let email = build_message(&self.from, &self.id_domain, message)?;
            transport.send(email).await.map(|_| ()).map_err(|e| {
                // No answer to the message: it may have been taken. It goes again with the
                // same Message-ID (SMTP cannot be asked).
                if e.is_timeout() || e.status().is_none() {
                    DeliveryError::in_doubt(describe(&e))
                } else {
                    DeliveryError::new(describe(&e))
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound<'a>(recipient: &'a str, subject: &'a str, body: &'a str) -> Outbound<'a> {
        Outbound {
            id: 7,
            recipient,
            subject,
            body,
            template: "verification_code",
            code: Some("123456"),
        }
    }

    #[test]
    fn the_message_has_sender_recipient_subject_and_a_stable_id() {
        let from: Mailbox = "Account Center <no-reply@example.test>".parse().unwrap();
        let m = outbound("ada@example.test", "Your code", "Your code is 123456.");
        let text = String::from_utf8(
            build_message(&from, "example.test", &m)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            text.contains("From: \"Account Center\" <no-reply@example.test>\r\n"),
            "{text}"
        );
        assert!(text.contains("To: ada@example.test\r\n"), "{text}");
        assert!(text.contains("Subject: Your code\r\n"), "{text}");
        assert!(
            text.contains("Message-ID: <outbox-7@example.test>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nYour code is 123456."), "{text}");
        // A retry builds the same id.
        let again = String::from_utf8(
            build_message(&from, "example.test", &m)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(again.contains("Message-ID: <outbox-7@example.test>\r\n"));
    }

    #[test]
    fn an_empty_subject_gets_the_default() {
        let from: Mailbox = "no-reply@example.test".parse().unwrap();
        let m = outbound("ada@example.test", "", "Hello");
        let text = String::from_utf8(
            build_message(&from, "example.test", &m)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(text.contains("Subject: Account Center\r\n"), "{text}");
    }

    #[test]
    fn a_bad_recipient_is_an_error_without_the_body() {
        let from: Mailbox = "no-reply@example.test".parse().unwrap();
        let m = outbound("not an address", "Code", "Your code is 123456.");
        let error = build_message(&from, "example.test", &m).unwrap_err();
        assert!(!error.reason.contains("123456"));
    }

    #[tokio::test]
    async fn configuration_is_checked() {
        let base = SmtpConfig {
            host: "127.0.0.1".into(),
            ..SmtpConfig::default()
        };
        assert!(SmtpEmail::new(&base).is_ok());
        assert!(
            SmtpEmail::new(&SmtpConfig {
                security: "tls".into(),
                ..base.clone()
            })
            .is_ok()
        );
        assert!(
            SmtpEmail::new(&SmtpConfig {
                security: "none".into(),
                ..base.clone()
            })
            .is_ok()
        );
        assert!(
            SmtpEmail::new(&SmtpConfig {
                security: "ssl3".into(),
                ..base.clone()
            })
            .is_err()
        );
        assert!(
            SmtpEmail::new(&SmtpConfig {
                from: "nobody".into(),
                ..base.clone()
            })
            .is_err()
        );
        // No host: the server still starts; each attempt fails clearly.
        let unset = SmtpEmail::new(&SmtpConfig::default()).unwrap();
        let error = unset
            .send(&outbound("ada@example.test", "", "Your code is 123456."))
            .await
            .unwrap_err();
        assert_eq!(error.reason, "smtp host is not configured");
    }

    #[tokio::test]
    async fn an_unreachable_relay_is_a_short_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: "none".into(),
            ..SmtpConfig::default()
        };
        let email = SmtpEmail::new(&config).unwrap();
        let error = email
            .send(&outbound("ada@example.test", "", "Your code is 123456."))
            .await
            .unwrap_err();
        assert!(error.reason.starts_with("smtp "), "{error}");
        assert!(!error.reason.contains("123456"), "{error}");
    }
}
