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
    /// Wrong passwords in a row, over any number of windows, after which an account (or an
    /// identifier that matches none) is refused until it signs in or its password is reset; 0: none.
    pub sign_in_consecutive_failures: i64,
    pub totp_failures_per_window: i64,
    /// Appeals filed per account per day (the day of `day_starts_at_utc_minutes`).
    pub appeals_per_account_per_day: i64,
    /// Appeals filed per client address per hour.
    pub appeals_per_ip_per_hour: i64,
    /// An authenticator bound more recently than this is no identity proof for a phone change.
    pub totp_fresh_secs: i64,
    /// Consecutive wrong authenticator codes that lock it as an identity method.
    pub totp_max_failures: i64,
    /// After a number is bound by anyone but the account's owner, SMS password recovery is
    /// refused for this long (the logon email still works).
    pub recovery_hold_secs: i64,
    /// Password recovery's own send budgets, apart from the signed-in ones.
    pub recovery_codes_per_target_per_hour: i64,
    pub recovery_codes_per_account_per_day: i64,
    /// Forgot-password requests per client address, counted for known and unknown accounts alike.
    pub recovery_requests_per_ip_per_hour: i64,
    /// Enterprise SSO sign-ins started per client address per hour (each calls the provider).
    pub sso_starts_per_ip_per_hour: i64,
    /// How long the undo link in the notice of a phone change works (issue 14: 7 days).
    pub undo_link_secs: i64,
    /// How long finished rows are kept after they stop counting, for support: expired challenges,
    /// tickets and undo links, and messages the outbox has sent or given up on.
    pub history_keep_secs: i64,
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
            sign_in_consecutive_failures: 20,
            totp_failures_per_window: 5,
            appeals_per_account_per_day: 5,
            appeals_per_ip_per_hour: 20,
            totp_fresh_secs: 86_400,
            totp_max_failures: 10,
            recovery_hold_secs: 72 * 3600,
            recovery_codes_per_target_per_hour: 5,
            recovery_codes_per_account_per_day: 10,
            recovery_requests_per_ip_per_hour: 20,
            sso_starts_per_ip_per_hour: 60,
            undo_link_secs: 7 * 86_400,
            history_keep_secs: 86_400,
        }
    }
}

/// Where the SMS codes of a purpose may go (the SMS-pumping guard's allow list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RegionList {
    /// The regions accounts are registered in (active accounts), read from the database.
    #[default]
    Accounts,
    /// Any region (the other checks of the guard still apply).
    Any,
    /// These ISO 3166-1 alpha-2 codes, upper case.
    Only(Vec<String>),
}

impl RegionList {
    /// `accounts`, `*`, or a comma-separated list of region codes (`CN,US`).
    pub fn parse(text: &str) -> Result<RegionList, String> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("accounts") {
            return Ok(RegionList::Accounts);
        }
        if text == "*" {
            return Ok(RegionList::Any);
        }
        text.split(',')
            .map(|code| {
                crate::domain::Region::parse(code)
                    .map(|region| region.code().to_string())
                    .map_err(|_| format!("not a country or region code: {:?}", code.trim()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RegionList::Only)
    }
}

impl<'de> serde::Deserialize<'de> for RegionList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RegionList::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The SMS-pumping guard, run before any SMS code is sent (README, "SMS-pumping guard").
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsGuard {
    /// The regions SMS codes may go to, for every purpose without a list of its own.
    pub regions: RegionList,
    /// Lists of their own, by purpose (`new_phone`, `member_phone`, `sign_in` …).
    pub purpose_regions: std::collections::BTreeMap<String, RegionList>,
    /// Codes to numbers chosen by the requester (a new number, a member's number) per number
    /// prefix (the number less its last 4 digits) per hour; 0 sends none.
    pub codes_per_prefix_per_hour: i64,
    /// The sliding window over which the breaker counts codes sent to a country against the
    /// ones entered (at most a day: older challenges are purged).
    pub breaker_window_secs: i64,
    /// Codes a country needs in the window before the breaker may trip (a code counts once it
    /// was entered or its lifetime has passed); 0 turns the breaker off.
    pub breaker_min_codes: i64,
    /// The breaker trips when fewer than this percentage of those codes were entered.
    pub breaker_min_entered_percent: i64,
    /// How long a tripped breaker stops codes to its country.
    pub breaker_cooldown_secs: i64,
}

impl Default for SmsGuard {
    fn default() -> Self {
        SmsGuard {
            regions: RegionList::Accounts,
            purpose_regions: Default::default(),
            codes_per_prefix_per_hour: 10,
            breaker_window_secs: 3600,
            breaker_min_codes: 20,
            breaker_min_entered_percent: 20,
            breaker_cooldown_secs: 1800,
        }
    }
}

impl SmsGuard {
    /// The allow list of `purpose` (`Purpose::as_str`).
    pub fn regions_for(&self, purpose: &str) -> &RegionList {
        self.purpose_regions.get(purpose).unwrap_or(&self.regions)
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
    /// Hex key (32 bytes) that seals secrets at rest, such as TOTP secrets (`APP_SECRETS_KEY`).
    pub secrets_key: Secret,
    pub demo_data: bool,
    pub dev_outbox: bool,
    /// Whether outbound messages go to real providers (production) or stay in the outbox (development).
    pub deliver: bool,
    /// Kept for compatibility: `true` means one trusted proxy hop when `trusted_proxies` is unset.
    pub trust_proxy: bool,
    /// The proxies in front whose `X-Forwarded-For` entries are believed (see `TrustedProxies`).
    pub trusted_proxies: TrustedProxies,
    /// The origin browsers reach the console at (`https://console.example.com`). Cross-site
    /// checks compare `Origin` with it. Empty: derived from the listening address (development).
    pub public_url: String,
    /// Password hashes computed at once (argon2id takes about 19 MiB each).
    pub password_hash_permits: usize,
    pub limits: Limits,
    pub sms_guard: SmsGuard,
    pub sms: SmsConfig,
    pub smtp: SmtpConfig,
    pub worker_poll_ms: u64,
    /// How often the clean-up of expired rows runs (`APP_MAINTENANCE_SECS`).
    pub maintenance_secs: u64,
    /// How long a request waits for a database connection before its 503 (`APP_DB_ACQUIRE_TIMEOUT_MS`).
    pub db_acquire_timeout_ms: u64,
    pub delivery_max_attempts: i64,
    /// The bearer token `/metrics` asks for (`APP_METRICS_TOKEN`). Unset: `/metrics` is open in
    /// development on a loopback address and answers 404 everywhere else.
    pub metrics_token: Secret,
    /// The logon emails of the owner accounts that are platform operators: they decide appeals
    /// (`APP_OPERATORS`, comma-separated). In development with the demo data the demo operator
    /// (`seed::DEMO_OPERATOR_EMAIL`) is one as well.
    pub operators: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Development,
            database_url: "sqlite://data/console.sqlite".into(),
            hmac_key: Secret::default(),
            secrets_key: Secret::default(),
            demo_data: true,
            dev_outbox: true,
            deliver: false,
            trust_proxy: false,
            trusted_proxies: TrustedProxies::None,
            public_url: String::new(),
            password_hash_permits: 4,
            limits: Limits::default(),
            sms_guard: SmsGuard::default(),
            sms: SmsConfig::default(),
            smtp: SmtpConfig::default(),
            worker_poll_ms: 1000,
            maintenance_secs: 300,
            db_acquire_timeout_ms: crate::ssr::db::DEFAULT_ACQUIRE_TIMEOUT.as_millis() as u64,
            delivery_max_attempts: 12,
            metrics_token: Secret::default(),
            operators: Vec::new(),
        }
    }
}

/// Which hops of `X-Forwarded-For` were written by our own proxies. The entries are read from the
/// right (each proxy appends the address it saw), and the first one not written by a trusted proxy
/// is the client; everything to its left is the client's own text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// No proxy: the socket peer is the client and the header is ignored.
    #[default]
    None,
    /// This many proxies in front, the nearest being the socket peer (`1`: one load balancer).
    Hops(usize),
    /// Proxies known by address: the peer must be one of them for the header to be read at all.
    Cidrs(Vec<Cidr>),
}

impl TrustedProxies {
    /// `""`, `0` or `none`; a hop count (`1`); or a comma-separated list of CIDRs or addresses.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let text = text.trim();
        if text.is_empty() || text == "0" || text.eq_ignore_ascii_case("none") {
            return Ok(TrustedProxies::None);
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let hops = text
                .parse::<usize>()
                .ok()
                .filter(|h| *h <= 16)
                .ok_or_else(|| format!("a hop count from 0 to 16, got {text:?}"))?;
            return Ok(TrustedProxies::Hops(hops));
        }
        text.split(',')
            .map(|part| Cidr::parse(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies::Cidrs)
    }
}

impl<'de> serde::Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Hops(usize),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Hops(hops) => TrustedProxies::parse(&hops.to_string()),
            Raw::Text(text) => TrustedProxies::parse(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: std::net::IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("not an address or CIDR: {text:?}"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix length in {text:?}"))?,
        };
        Ok(Cidr {
            network: mask(addr, prefix),
            prefix,
        })
    }

    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        let addr = addr.to_canonical();
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix) == self.network
    }
}

/// `addr` with every bit past the first `prefix` cleared.
pub fn mask(addr: std::net::IpAddr, prefix: u8) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u32::MAX << (32 - u32::from(prefix.min(32))))
            };
            IpAddr::V4(Ipv4Addr::from(kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - u32::from(prefix.min(128))))
            };
            IpAddr::V6(Ipv6Addr::from(kept))
        }
    }
}

/// The shortest `/metrics` token production accepts: a guessable one would open the endpoint.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

/// A fixed key for development only; production refuses to start with it.
pub const DEV_HMAC_KEY: &str =
    "6465762d6f6e6c792d686d61632d6b65792d6e6f742d666f722d70726f64756374696f6e";

/// The development sealing key: SHA-256 of a fixed text, so development data stays readable
/// across restarts. Production refuses to start with it.
pub fn dev_secrets_key() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b"development-only secrets key, never for production").into()
}

impl Config {
    pub fn is_development(&self) -> bool {
        self.mode == Mode::Development
    }

    /// The proxies to believe: `trusted_proxies`, or one hop for the older `trust_proxy = true`.
    pub fn proxies(&self) -> &TrustedProxies {
        static ONE_HOP: TrustedProxies = TrustedProxies::Hops(1);
        match (&self.trusted_proxies, self.trust_proxy) {
            (TrustedProxies::None, true) => &ONE_HOP,
            (proxies, _) => proxies,
        }
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
        match self.secrets_key_from_config() {
            None => problems.push(
                "APP_SECRETS_KEY: set a random 32-byte key, hex-encoded (64 hex digits)".into(),
            ),
            Some(key) if key == dev_secrets_key() => problems
                .push("APP_SECRETS_KEY: the development key must not be used in production".into()),
            Some(_) => {}
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
        let metrics_token = self.metrics_token.0.trim();
        if !metrics_token.is_empty() && metrics_token.len() < MIN_METRICS_TOKEN_LEN {
            problems.push(format!(
                "APP_METRICS_TOKEN: use at least {MIN_METRICS_TOKEN_LEN} random characters (openssl rand -hex 32), or leave it unset to turn /metrics off"
            ));
        }
        if !self.public_url.is_empty() && !self.public_url.starts_with("https://") {
            problems
                .push("APP_PUBLIC_URL: production is served over HTTPS (https://your-host)".into());
        }
        problems
    }

    fn secrets_key_from_config(&self) -> Option<[u8; 32]> {
        hex::decode(self.secrets_key.0.trim())
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
    }

    /// The key that seals secrets at rest; the development key when none is set (development only:
    /// production does not start without one, see `production_problems`).
    pub fn secrets_key_bytes(&self) -> [u8; 32] {
        self.secrets_key_from_config()
            .unwrap_or_else(dev_secrets_key)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_read_a_hop_count_or_a_cidr_list() {
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::None));
        assert_eq!(TrustedProxies::parse("0"), Ok(TrustedProxies::None));
        assert_eq!(TrustedProxies::parse(" 2 "), Ok(TrustedProxies::Hops(2)));
        let TrustedProxies::Cidrs(list) =
            TrustedProxies::parse("10.0.0.0/8, 192.0.2.7,2001:db8::/32").unwrap()
        else {
            panic!("a list");
        };
        assert_eq!(list.len(), 3);
        assert!(list[0].contains(ip("10.200.3.4")));
        assert!(!list[0].contains(ip("11.0.0.1")));
        assert!(list[1].contains(ip("192.0.2.7")) && !list[1].contains(ip("192.0.2.8")));
        assert!(list[2].contains(ip("2001:db8:ffff::1")));
        assert!(!list[2].contains(ip("2001:db9::1")));
        // An IPv4 address written as IPv6 (a dual-stack socket) is the same address.
        assert!(list[0].contains(ip("::ffff:10.1.2.3")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert!(TrustedProxies::parse("99").is_err());
    }

    #[test]
    fn the_older_trust_proxy_flag_means_one_hop() {
        let mut config = Config {
            trust_proxy: true,
            ..Config::default()
        };
        assert_eq!(config.proxies(), &TrustedProxies::Hops(1));
        config.trusted_proxies = TrustedProxies::Hops(2);
        assert_eq!(config.proxies(), &TrustedProxies::Hops(2));
        assert_eq!(Config::default().proxies(), &TrustedProxies::None);
    }

    #[test]
    fn region_lists_read_accounts_any_or_codes() {
        assert_eq!(RegionList::parse(""), Ok(RegionList::Accounts));
        assert_eq!(RegionList::parse("accounts"), Ok(RegionList::Accounts));
        assert_eq!(RegionList::parse(" * "), Ok(RegionList::Any));
        assert_eq!(
            RegionList::parse("cn, US"),
            Ok(RegionList::Only(vec!["CN".into(), "US".into()]))
        );
        assert!(RegionList::parse("CN,XX").is_err());
        let guard = SmsGuard {
            purpose_regions: [("new_phone".to_string(), RegionList::Any)].into(),
            ..SmsGuard::default()
        };
        assert_eq!(guard.regions_for("new_phone"), &RegionList::Any);
        assert_eq!(guard.regions_for("sign_in"), &RegionList::Accounts);
    }

    #[test]
    fn masks_keep_the_prefix_only() {
        assert_eq!(mask(ip("203.0.113.77"), 24), ip("203.0.113.0"));
        assert_eq!(mask(ip("2001:db8:1:2:3:4:5:6"), 64), ip("2001:db8:1:2::"));
        assert_eq!(mask(ip("2001:db8::1"), 0), ip("::"));
    }
}
