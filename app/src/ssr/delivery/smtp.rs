//! Email over SMTP with lettre.

use super::{BoxFuture, DeliveryError, EmailSender, Outbound};
use crate::ssr::config::SmtpConfig;

pub struct SmtpEmail {
    from: String,
}

impl SmtpEmail {
    pub fn new(config: &SmtpConfig) -> Result<SmtpEmail, String> {
        Ok(SmtpEmail { from: config.from.clone() })
    }
}

impl EmailSender for SmtpEmail {
    fn send<'a>(&'a self, _message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let _ = &self.from;
            Err(DeliveryError("not yet implemented".into()))
        })
    }
}
