//! SMS through Alibaba Cloud SMS (dysmsapi `SendSms`), signed with the RPC signature v1.0.

use super::{BoxFuture, DeliveryError, Outbound, SmsSender};
use crate::ssr::config::SmsConfig;

pub struct AliyunSms {
    config: SmsConfig,
    client: reqwest::Client,
}

impl AliyunSms {
    pub fn new(config: SmsConfig) -> Result<AliyunSms, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(AliyunSms { config, client })
    }
}

impl SmsSender for AliyunSms {
    fn send<'a>(&'a self, _message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let _ = (&self.config, &self.client);
            Err(DeliveryError("not yet implemented".into()))
        })
    }
}
