//! Settings every service reads; loaded by the server from a file plus `APP_…` overrides.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

/// A secret that never prints.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub code_lifetime_secs: i64,
    pub code_max_attempts: i64,
    pub resend_interval_secs: i64,
    pub codes_per_account_per_day: i64,
    pub codes_per_target_per_hour: i64,
    pub codes_per_ip_per_hour: i64,
    /// Offset of the daily window from UTC midnight, in minutes (0 = days start at 00:00 UTC).
    pub day_starts_at_utc_minutes: i64,
    pub accounts_per_phone: i64,
    pub change_ticket_secs: i64,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub sign_in_failures_per_account: i64,
    pub sign_in_failures_per_ip: i64,
    pub sign_in_window_secs: i64,
    pub totp_failures_per_window: i64,
    /// After a number is bound by anyone but the account's owner, SMS password recovery is
    /// refused for this long (the logon email still works).
    pub recovery_hold_secs: i64,
    /// Password recovery's own send budgets, apart from the signed-in ones.
    pub recovery_codes_per_target_per_hour: i64,
    pub recovery_codes_per_account_per_day: i64,
    /// Forgot-password requests per client address, counted for known and unknown accounts alike.
    pub recovery_requests_per_ip_per_hour: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            code_lifetime_secs: 300,
            code_max_attempts: 5,
            resend_interval_secs: 60,
            codes_per_account_per_day: 100,
            codes_per_target_per_hour: 10,
            codes_per_ip_per_hour: 200,
            day_starts_at_utc_minutes: 0,
            accounts_per_phone: 6,
            change_ticket_secs: 900,
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            sign_in_failures_per_account: 10,
            sign_in_failures_per_ip: 100,
            sign_in_window_secs: 900,
            totp_failures_per_window: 5,
            recovery_hold_secs: 72 * 3600,
            recovery_codes_per_target_per_hour: 5,
            recovery_codes_per_account_per_day: 10,
            recovery_requests_per_ip_per_hour: 20,
        }
    }
}

/// SMS through Alibaba Cloud SMS (dysmsapi `SendSms`, RPC signature v1.0).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub sign_name: String,
    pub code_template: String,
    pub notice_template: String,
    pub region_id: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            endpoint: "https://dysmsapi.aliyuncs.com/".into(),
            access_key_id: String::new(),
            access_key_secret: Secret::default(),
            sign_name: String::new(),
            code_template: String::new(),
            notice_template: String::new(),
            region_id: "cn-hangzhou".into(),
        }
    }
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` or `none` (only for a relay on the same host or in tests).
    pub security: String,
    pub username: String,
    pub password: Secret,
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: Secret::default(),
            from: "Account Center <no-reply@localhost>".into(),
        }
    }
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    pub database_url: String,
    /// Hex key for the HMAC of verification codes (at least 32 bytes in production).
    pub hmac_key: Secret,
    pub demo_data: bool,
    pub dev_outbox: bool,
    /// Whether outbound messages go to real providers (production) or stay in the outbox (development).
    pub deliver: bool,
    /// Trust `X-Forwarded-For` from a load balancer in front.
    pub trust_proxy: bool,
    pub limits: Limits,
    pub sms: SmsConfig,
    pub smtp: SmtpConfig,
    pub worker_poll_ms: u64,
    pub delivery_max_attempts: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Development,
            database_url: "sqlite://data/console.sqlite".into(),
            hmac_key: Secret::default(),
            demo_data: true,
            dev_outbox: true,
            deliver: false,
            trust_proxy: false,
            limits: Limits::default(),
            sms: SmsConfig::default(),
            smtp: SmtpConfig::default(),
            worker_poll_ms: 1000,
            delivery_max_attempts: 12,
        }
    }
}

/// A fixed key for development only; production refuses to start with it.
pub const DEV_HMAC_KEY: &str =
    "6465762d6f6e6c792d686d61632d6b65792d6e6f742d666f722d70726f64756374696f6e";

impl Config {
    pub fn is_development(&self) -> bool {
        self.mode == Mode::Development
    }

    /// The problems that keep a production server from starting, each naming its setting.
    pub fn production_problems(&self) -> Vec<String> {
        if self.is_development() {
            return Vec::new();
        }
        let mut problems = Vec::new();
        let key = self.hmac_key.0.trim();
        if key.is_empty() || key == DEV_HMAC_KEY {
            problems
                .push("APP_HMAC_KEY: set a random key of at least 32 bytes, hex-encoded".into());
        } else if hex::decode(key).map(|k| k.len() < 32).unwrap_or(true) {
            problems.push("APP_HMAC_KEY: must be hex and at least 32 bytes".into());
        }
        if self.demo_data {
            problems.push("APP_DEMO_DATA: demo data must be off in production".into());
        }
        if self.dev_outbox {
            problems
                .push("APP_DEV_OUTBOX: the development outbox must be off in production".into());
        }
        if !self.deliver {
            problems
                .push("APP_DELIVER: production must deliver messages through the providers".into());
        }
        if self.deliver && self.sms.access_key_id.is_empty() {
            problems.push("APP_SMS_ACCESS_KEY_ID: the SMS provider needs credentials".into());
        }
        if self.deliver && self.smtp.host.is_empty() {
            problems.push("APP_SMTP_HOST: email delivery needs an SMTP server".into());
        }
        problems
    }

    pub fn hmac_key_bytes(&self) -> Vec<u8> {
        let key = if self.hmac_key.0.trim().is_empty() {
            DEV_HMAC_KEY
        } else {
            self.hmac_key.0.trim()
        };
        hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec())
    }
}
