//! Configuration: safe development defaults, then an optional TOML file, then `APP_…` variables.

use app::ssr::config::{Config, Mode, TrustedProxies};
use std::env;
use std::net::SocketAddr;

/// Reads `APP_CONFIG` (or `config/app.toml` when present), then the environment.
pub fn load() -> Result<Config, String> {
    let mode = match env::var("APP_MODE").ok().as_deref() {
        None | Some("") | Some("development") => Mode::Development,
        Some("production") => Mode::Production,
        Some(other) => {
            return Err(format!(
                "APP_MODE: expected development or production, got {other:?}"
            ));
        }
    };
    let mut config = match config_file_path() {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            toml::from_str::<Config>(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => defaults_for(mode),
    };
    config.mode = mode;
    apply_env(&mut config, |name| env::var(name).ok())?;
    Ok(config)
}

/// Whether `APP_MODE` was given at all (unset, the mode defaults to development).
pub fn app_mode_is_set() -> bool {
    env::var("APP_MODE").is_ok_and(|v| !v.trim().is_empty())
}

/// What keeps the server from starting on `addr`, each naming its setting. Development mode is
/// for a developer's own machine: its demo accounts share one published password. Left to its
/// default on an address others can reach, it is a mistake, so it is refused; chosen explicitly,
/// it starts there without the development routes (`/dev/outbox*`, `/dev/sso`).
pub fn startup_problems(config: &Config, app_mode_set: bool, addr: SocketAddr) -> Vec<String> {
    let mut problems = Vec::new();
    if !app_mode_set && !addr.ip().is_loopback() {
        problems.push(format!(
            "APP_MODE: not set, so development mode (demo accounts with a published password) \
             would listen on {addr}, beyond this machine. Set APP_MODE=production, or \
             APP_MODE=development to run development mode there without its /dev routes, \
             or listen on 127.0.0.1"
        ));
    }
    if !config.is_development() && config.public_url.trim().is_empty() {
        problems.push(
            "APP_PUBLIC_URL: set the https:// origin browsers reach the console at \
             (cross-site checks compare each request's Origin with it)"
                .into(),
        );
    }
    problems
}

fn config_file_path() -> Option<String> {
    env::var("APP_CONFIG")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            std::path::Path::new("config/app.toml")
                .exists()
                .then(|| "config/app.toml".to_string())
        })
}

/// Sets `$field` from the variable `$name` when `get` has it, parsed as its type (the error names
/// the variable). One definition for every numeric setting.
macro_rules! env_number {
    ($get:expr, $name:literal, $field:expr) => {
        if let Some(v) = $get($name) {
            $field = parse($name, &v)?;
        }
    };
}

/// Production starts with nothing of development switched on; the missing secrets are then refused.
pub fn defaults_for(mode: Mode) -> Config {
    let mut config = Config {
        mode,
        ..Config::default()
    };
    if mode == Mode::Production {
        config.demo_data = false;
        config.dev_outbox = false;
        config.deliver = true;
    }
    config
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name}: cannot read {value:?}"))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name}: expected true or false, got {value:?}")),
    }
}

/// `APP_OPERATORS`: comma-separated logon emails (blank entries skipped), each a valid address.
fn parse_operators(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            app::domain::Email::parse(entry)
                .map(|email| email.as_str().to_string())
                .map_err(|_| format!("APP_OPERATORS: not an email address: {entry:?}"))
        })
        .collect()
}

/// Applies every `APP_…` override found by `get`; unknown names are ignored, bad values refused.
pub fn apply_env(config: &mut Config, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if let Some(url) = get("APP_DATABASE_URL")
        .or_else(|| get("DATABASE_URL"))
        .filter(|v| !v.is_empty())
    {
        config.database_url = url;
    }
    macro_rules! text {
        ($name:literal, $field:expr) => {
            if let Some(v) = get($name) {
                $field = v;
            }
        };
    }
    macro_rules! secret {
        ($name:literal, $field:expr) => {
            if let Some(v) = get($name) {
                $field = app::ssr::config::Secret(v);
            }
        };
    }
    macro_rules! flag {
        ($name:literal, $field:expr) => {
            if let Some(v) = get($name) {
                $field = parse_bool($name, &v)?;
            }
        };
    }
    secret!("APP_HMAC_KEY", config.hmac_key);
    secret!("APP_SECRETS_KEY", config.secrets_key);
    secret!("APP_METRICS_TOKEN", config.metrics_token);
    flag!("APP_DEMO_DATA", config.demo_data);
    flag!("APP_DEV_OUTBOX", config.dev_outbox);
    flag!("APP_DELIVER", config.deliver);
    flag!("APP_TRUST_PROXY", config.trust_proxy);
    if let Some(v) = get("APP_TRUSTED_PROXIES") {
        config.trusted_proxies =
            TrustedProxies::parse(&v).map_err(|e| format!("APP_TRUSTED_PROXIES: {e}"))?;
    }
    text!("APP_PUBLIC_URL", config.public_url);
    if let Some(v) = get("APP_OPERATORS") {
        config.operators = parse_operators(&v)?;
    }
    env_number!(
        get,
        "APP_PASSWORD_HASH_PERMITS",
        config.password_hash_permits
    );
    env_number!(get, "APP_WORKER_POLL_MS", config.worker_poll_ms);
    env_number!(get, "APP_MAINTENANCE_SECS", config.maintenance_secs);
    env_number!(
        get,
        "APP_DB_ACQUIRE_TIMEOUT_MS",
        config.db_acquire_timeout_ms
    );
    env_number!(
        get,
        "APP_DELIVERY_MAX_ATTEMPTS",
        config.delivery_max_attempts
    );
    text!("APP_SMS_ENDPOINT", config.sms.endpoint);
    text!("APP_SMS_ACCESS_KEY_ID", config.sms.access_key_id);
    secret!("APP_SMS_ACCESS_KEY_SECRET", config.sms.access_key_secret);
    text!("APP_SMS_SIGN_NAME", config.sms.sign_name);
    text!("APP_SMS_CODE_TEMPLATE", config.sms.code_template);
    text!("APP_SMS_NOTICE_TEMPLATE", config.sms.notice_template);
    text!("APP_SMS_REGION_ID", config.sms.region_id);
    text!("APP_SMTP_HOST", config.smtp.host);
    env_number!(get, "APP_SMTP_PORT", config.smtp.port);
    text!("APP_SMTP_SECURITY", config.smtp.security);
    text!("APP_SMTP_USERNAME", config.smtp.username);
    secret!("APP_SMTP_PASSWORD", config.smtp.password);
    text!("APP_SMTP_FROM", config.smtp.from);
    apply_limits_env(&mut config.limits, &get)?;
    apply_sms_guard_env(&mut config.sms_guard, &get)
}

/// The `APP_SMS_GUARD_…` overrides (README, "SMS-pumping guard"). The allow list of one purpose
/// is `APP_SMS_GUARD_REGIONS_<PURPOSE>` (`APP_SMS_GUARD_REGIONS_NEW_PHONE`, `…_MEMBER_PHONE`,
/// `…_SIGN_IN` …); `APP_SMS_GUARD_REGIONS` is every other purpose's.
fn apply_sms_guard_env(
    g: &mut app::ssr::config::SmsGuard,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    use app::ssr::config::RegionList;
    use app::ssr::verification::Purpose;
    if let Some(v) = get("APP_SMS_GUARD_REGIONS") {
        g.regions = RegionList::parse(&v).map_err(|e| format!("APP_SMS_GUARD_REGIONS: {e}"))?;
    }
    for purpose in Purpose::ALL {
        let name = format!(
            "APP_SMS_GUARD_REGIONS_{}",
            purpose.as_str().to_ascii_uppercase()
        );
        if let Some(v) = get(&name) {
            let list = RegionList::parse(&v).map_err(|e| format!("{name}: {e}"))?;
            g.purpose_regions.insert(purpose.as_str().to_string(), list);
        }
    }
    if let Some(unknown) = g
        .purpose_regions
        .keys()
        .find(|key| !Purpose::ALL.iter().any(|p| p.as_str() == key.as_str()))
    {
        return Err(format!(
            "sms_guard.purpose_regions: no purpose is named {unknown:?}"
        ));
    }
    env_number!(
        get,
        "APP_SMS_GUARD_CODES_PER_PREFIX_PER_HOUR",
        g.codes_per_prefix_per_hour
    );
    env_number!(
        get,
        "APP_SMS_GUARD_BREAKER_WINDOW_SECS",
        g.breaker_window_secs
    );
    env_number!(get, "APP_SMS_GUARD_BREAKER_MIN_CODES", g.breaker_min_codes);
    env_number!(
        get,
        "APP_SMS_GUARD_BREAKER_MIN_ENTERED_PERCENT",
        g.breaker_min_entered_percent
    );
    env_number!(
        get,
        "APP_SMS_GUARD_BREAKER_COOLDOWN_SECS",
        g.breaker_cooldown_secs
    );
    Ok(())
}

/// The `APP_LIMITS_…` overrides: one per number of SPEC 3 and the rules built on it.
fn apply_limits_env(
    l: &mut app::ssr::config::Limits,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    // Every limit is a whole number: one table from variable (less its `APP_LIMITS_` prefix) to
    // field, read in one loop; one row a line.
    #[rustfmt::skip]
    let fields: [(&str, &mut i64); 26] = [
        ("CODE_LIFETIME_SECS", &mut l.code_lifetime_secs),
        ("CODE_MAX_ATTEMPTS", &mut l.code_max_attempts),
        ("RESEND_INTERVAL_SECS", &mut l.resend_interval_secs),
        ("CODES_PER_ACCOUNT_PER_DAY", &mut l.codes_per_account_per_day),
        ("CODES_PER_TARGET_PER_HOUR", &mut l.codes_per_target_per_hour),
        ("CODES_PER_IP_PER_HOUR", &mut l.codes_per_ip_per_hour),
        ("DAY_STARTS_AT_UTC_MINUTES", &mut l.day_starts_at_utc_minutes),
        ("ACCOUNTS_PER_PHONE", &mut l.accounts_per_phone),
        ("CHANGE_TICKET_SECS", &mut l.change_ticket_secs),
        ("SESSION_IDLE_SECS", &mut l.session_idle_secs),
        ("SESSION_ABSOLUTE_SECS", &mut l.session_absolute_secs),
        ("SIGN_IN_FAILURES_PER_ACCOUNT", &mut l.sign_in_failures_per_account),
        ("SIGN_IN_FAILURES_PER_IP", &mut l.sign_in_failures_per_ip),
        ("SIGN_IN_WINDOW_SECS", &mut l.sign_in_window_secs),
        ("SIGN_IN_CONSECUTIVE_FAILURES", &mut l.sign_in_consecutive_failures),
        ("TOTP_FAILURES_PER_WINDOW", &mut l.totp_failures_per_window),
        ("TOTP_FRESH_SECS", &mut l.totp_fresh_secs),
        ("TOTP_MAX_FAILURES", &mut l.totp_max_failures),
        ("RECOVERY_HOLD_SECS", &mut l.recovery_hold_secs),
        ("RECOVERY_CODES_PER_TARGET_PER_HOUR", &mut l.recovery_codes_per_target_per_hour),
        ("RECOVERY_CODES_PER_ACCOUNT_PER_DAY", &mut l.recovery_codes_per_account_per_day),
        ("RECOVERY_REQUESTS_PER_IP_PER_HOUR", &mut l.recovery_requests_per_ip_per_hour),
        ("APPEALS_PER_ACCOUNT_PER_DAY", &mut l.appeals_per_account_per_day),
        ("APPEALS_PER_IP_PER_HOUR", &mut l.appeals_per_ip_per_hour),
        ("SSO_STARTS_PER_IP_PER_HOUR", &mut l.sso_starts_per_ip_per_hour),
        ("UNDO_LINK_SECS", &mut l.undo_link_secs),
    ];
    for (name, field) in fields {
        let name = format!("APP_LIMITS_{name}");
        if let Some(v) = get(&name) {
            *field = parse(&name, &v)?;
        }
    }
    if let Some(v) = get("APP_HISTORY_KEEP_SECS") {
        l.history_keep_secs = parse("APP_HISTORY_KEEP_SECS", &v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)], mode: Mode) -> Result<Config, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut config = defaults_for(mode);
        apply_env(&mut config, |name| map.get(name).cloned())?;
        Ok(config)
    }

    #[test]
    fn operators_are_a_list_of_emails_and_a_bad_one_is_named() {
        let config = with(
            &[("APP_OPERATORS", " Ops@Example.com, ,second@example.org ")],
            Mode::Development,
        )
        .unwrap();
        assert_eq!(config.operators, ["ops@example.com", "second@example.org"]);
        let err = with(
            &[("APP_OPERATORS", "ops@example.com,nobody")],
            Mode::Development,
        )
        .unwrap_err();
        assert!(
            err.contains("APP_OPERATORS") && err.contains("nobody"),
            "{err}"
        );
        assert!(with(&[], Mode::Development).unwrap().operators.is_empty());
    }

    #[test]
    fn development_defaults_need_nothing() {
        let config = with(&[], Mode::Development).unwrap();
        assert!(config.production_problems().is_empty());
        assert!(config.demo_data && config.dev_outbox);
    }

    #[test]
    fn production_names_each_missing_setting() {
        let problems = with(&[], Mode::Production).unwrap().production_problems();
        let text = problems.join("\n");
        assert!(text.contains("APP_HMAC_KEY"), "{text}");
        assert!(text.contains("APP_SMS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("APP_SMTP_HOST"), "{text}");
    }

    #[test]
    fn production_refuses_demo_data_and_the_dev_outbox() {
        let key = "ab".repeat(32);
        let config = with(
            &[
                ("APP_HMAC_KEY", key.as_str()),
                ("APP_DEMO_DATA", "true"),
                ("APP_DEV_OUTBOX", "1"),
                ("APP_SMS_ACCESS_KEY_ID", "id"),
                ("APP_SMTP_HOST", "smtp.example"),
            ],
            Mode::Production,
        )
        .unwrap();
        let text = config.production_problems().join("\n");
        assert!(
            text.contains("APP_DEMO_DATA") && text.contains("APP_DEV_OUTBOX"),
            "{text}"
        );
        assert!(!text.contains("APP_HMAC_KEY"), "{text}");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let err = with(
            &[("APP_LIMITS_CODE_LIFETIME_SECS", "five")],
            Mode::Development,
        )
        .unwrap_err();
        assert!(err.contains("APP_LIMITS_CODE_LIFETIME_SECS"));
        let err = with(&[("APP_DEMO_DATA", "maybe")], Mode::Development).unwrap_err();
        assert!(err.contains("APP_DEMO_DATA"));
    }

    #[test]
    fn the_sms_guard_reads_its_knobs_and_an_allow_list_per_purpose() {
        use app::ssr::config::RegionList;
        let config = with(&[], Mode::Development).unwrap();
        assert_eq!(config.sms_guard.codes_per_prefix_per_hour, 10);
        assert_eq!(
            config.sms_guard.regions_for("new_phone"),
            &RegionList::Accounts
        );
        let config = with(
            &[
                ("APP_SMS_GUARD_REGIONS", "*"),
                ("APP_SMS_GUARD_REGIONS_MEMBER_PHONE", "cn,US"),
                ("APP_SMS_GUARD_CODES_PER_PREFIX_PER_HOUR", "3"),
                ("APP_SMS_GUARD_BREAKER_MIN_CODES", "0"),
            ],
            Mode::Development,
        )
        .unwrap();
        let guard = &config.sms_guard;
        assert_eq!(guard.regions_for("sign_in"), &RegionList::Any);
        assert_eq!(
            guard.regions_for("member_phone"),
            &RegionList::Only(vec!["CN".into(), "US".into()])
        );
        assert_eq!(
            (guard.codes_per_prefix_per_hour, guard.breaker_min_codes),
            (3, 0)
        );
        let err = with(
            &[("APP_SMS_GUARD_REGIONS_NEW_PHONE", "CN,Mars")],
            Mode::Development,
        )
        .unwrap_err();
        assert!(err.contains("APP_SMS_GUARD_REGIONS_NEW_PHONE"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_a_hop_count_or_cidrs_and_bad_ones_are_named() {
        let config = with(&[("APP_TRUSTED_PROXIES", "1")], Mode::Development).unwrap();
        assert_eq!(config.proxies(), &TrustedProxies::Hops(1));
        let config = with(
            &[("APP_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")],
            Mode::Development,
        )
        .unwrap();
        assert!(matches!(config.proxies(), TrustedProxies::Cidrs(list) if list.len() == 2));
        let config = with(&[("APP_TRUST_PROXY", "true")], Mode::Development).unwrap();
        assert_eq!(config.proxies(), &TrustedProxies::Hops(1));
        let err = with(&[("APP_TRUSTED_PROXIES", "lb.internal")], Mode::Development).unwrap_err();
        assert!(err.contains("APP_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn an_unset_mode_beyond_loopback_refuses_to_start_and_says_why() {
        let config = with(&[], Mode::Development).unwrap();
        let lan: SocketAddr = "0.0.0.0:3000".parse().unwrap();
        let problems = startup_problems(&config, false, lan).join("\n");
        assert!(
            problems.contains("APP_MODE") && problems.contains("0.0.0.0:3000"),
            "{problems}"
        );
        // On loopback the default is fine, and an explicit development mode may listen anywhere.
        assert!(startup_problems(&config, false, "127.0.0.1:3000".parse().unwrap()).is_empty());
        assert!(startup_problems(&config, true, lan).is_empty());
    }

    #[test]
    fn production_needs_its_public_url() {
        let config = with(&[], Mode::Production).unwrap();
        let addr: SocketAddr = "0.0.0.0:443".parse().unwrap();
        let problems = startup_problems(&config, true, addr).join("\n");
        assert!(problems.contains("APP_PUBLIC_URL"), "{problems}");
        let config = with(
            &[("APP_PUBLIC_URL", "https://console.example.com")],
            Mode::Production,
        )
        .unwrap();
        assert!(startup_problems(&config, true, addr).is_empty());
        let plain = with(
            &[("APP_PUBLIC_URL", "http://console.example.com")],
            Mode::Production,
        )
        .unwrap();
        assert!(
            plain
                .production_problems()
                .join("\n")
                .contains("APP_PUBLIC_URL")
        );
    }

    #[test]
    fn a_short_metrics_token_is_refused_in_production_by_name() {
        let short = with(&[("APP_METRICS_TOKEN", "secret")], Mode::Production).unwrap();
        let text = short.production_problems().join("\n");
        assert!(text.contains("APP_METRICS_TOKEN"), "{text}");
        let long = with(
            &[("APP_METRICS_TOKEN", "0123456789abcdef0123")],
            Mode::Production,
        )
        .unwrap();
        let text = long.production_problems().join("\n");
        assert!(!text.contains("APP_METRICS_TOKEN"), "{text}");
        // Unset is fine too: /metrics then answers 404.
        let unset = with(&[], Mode::Production).unwrap();
        assert!(
            !unset
                .production_problems()
                .join("\n")
                .contains("APP_METRICS_TOKEN")
        );
    }

    #[test]
    fn database_url_comes_from_either_variable() {
        let config = with(&[("DATABASE_URL", "postgres://db/x")], Mode::Development).unwrap();
        assert_eq!(config.database_url, "postgres://db/x");
    }
}
