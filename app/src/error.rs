//! The one error type users read: every refusal has a variant, and its text is the catalogue's
//! message `error-<Variant>` (`app/locales/<lang>/errors.ftl`), in the reader's language.

use crate::i18n::{self, Locale};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    BadCredentials,
    SignInThrottled,
    NotSignedIn,
    OwnerOnly,
    Forbidden,
    CrossSite,
    /// Input the server cannot use, with the catalogue message that says what is wrong.
    InvalidInput(Invalid),
    InvalidPhone,
    PhoneRegionMismatch,
    SamePhone,
    /// Carries the configured cap (SPEC 2: 6 accounts).
    PhoneBindingLimit(u32),
    MalformedCode,
    CodeIncorrectOrExpired,
    TooManyAttempts,
    ResendTooSoon(u32),
    /// Carries the configured cap (SPEC 3: 100 codes).
    DailyLimitReached(u32),
    TargetLimitReached,
    IpLimitReached,
    AppealLimitReached,
    OperatorOnly,
    AppealNotFound,
    AppealDecided,
    AppealAwaitingAnswer,
    AppealNoQuestion,
    AppealOwnAccount,
    /// The SMS-pumping guard: libphonenumber types the number premium-rate, shared-cost,
    /// toll-free or unknown.
    SmsNumberType,
    /// The SMS-pumping guard: the number's country or region is not on the purpose's allow list.
    SmsRegionNotAllowed,
    /// The SMS-pumping guard: the hourly cap of codes to numbers sharing all but the last 4 digits.
    SmsPrefixLimitReached,
    /// The SMS-pumping guard's per-country breaker is open; carries the minutes left.
    SmsCountryPaused(u32),
    IdentityNotVerified,
    TotpNotBound,
    TotpAlreadyBound,
    TotpTooFresh,
    TotpLocked,
    SignInStepExpired,
    NoPhoneBound,
    PhoneAlreadyBound,
    NotFound,
    UndoLinkInvalid,
    UndoLinkUsed,
    UndoLinkExpired,
    UndoLinkSuperseded,
    PasswordResetRequired,
    /// The automation API binds a first number to resource accounts only (the cloud's rule).
    NotAResourceAccount,
    /// Carries the cap (2, as in the cloud).
    AccessKeyLimit(u32),
    /// An Enterprise SSO sign-in that started no session; its text is in `api::sso`.
    Sso(crate::api::sso::SsoFailure),
    /// The database cannot serve now (unreachable, restarting, failing over, read-only, full):
    /// nothing was changed, and the same request may succeed in a moment (`Retry-After`).
    Unavailable,
    Internal,
    Transport(String),
}

impl AppError {
    /// A stable machine-readable code, used by the automation API and in audit records.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadCredentials => "InvalidCredentials",
            AppError::SignInThrottled => "Throttling.SignIn",
            AppError::NotSignedIn => "NotSignedIn",
            AppError::OwnerOnly => "Forbidden.OwnerOnly",
            AppError::Forbidden => "Forbidden",
            AppError::CrossSite => "Forbidden.CrossSite",
            AppError::InvalidInput(_) => "InvalidParameter",
            AppError::InvalidPhone => "InvalidParameter.SecureMobilePhone",
            AppError::PhoneRegionMismatch => "InvalidParameter.SecureMobilePhone.Region",
            AppError::SamePhone => "InvalidParameter.SecureMobilePhone.Same",
            AppError::PhoneBindingLimit(_) => "SecureMobilePhone.BindingLimit",
            AppError::MalformedCode => "InvalidParameter.VerificationCode",
            AppError::CodeIncorrectOrExpired => "VerificationCode.Invalid",
            AppError::TooManyAttempts => "VerificationCode.TooManyAttempts",
            AppError::ResendTooSoon(_) => "Throttling.Resend",
            AppError::DailyLimitReached(_) => "Throttling.DailyLimit",
            AppError::TargetLimitReached => "Throttling.TargetLimit",
            AppError::IpLimitReached => "Throttling.IpLimit",
            AppError::AppealLimitReached => "Throttling.Appeal",
            AppError::OperatorOnly => "Forbidden.OperatorOnly",
            AppError::AppealNotFound => "EntityNotExist.Appeal",
            AppError::AppealDecided => "Appeal.Decided",
            AppError::AppealAwaitingAnswer => "Appeal.AwaitingAnswer",
            AppError::AppealNoQuestion => "Appeal.NoQuestion",
            AppError::AppealOwnAccount => "Forbidden.OwnAppeal",
            AppError::SmsNumberType => "InvalidParameter.SecureMobilePhone.NumberType",
            AppError::SmsRegionNotAllowed => "InvalidParameter.SecureMobilePhone.RegionNotAllowed",
            AppError::SmsPrefixLimitReached => "Throttling.PrefixLimit",
            AppError::SmsCountryPaused(_) => "Throttling.CountryPaused",
            AppError::IdentityNotVerified => "IdentityNotVerified",
            AppError::TotpNotBound => "Totp.NotBound",
            AppError::TotpAlreadyBound => "Totp.AlreadyBound",
            AppError::TotpTooFresh => "Totp.TooFresh",
            AppError::TotpLocked => "Totp.Locked",
            AppError::SignInStepExpired => "SignIn.StepExpired",
            AppError::NoPhoneBound => "SecureMobilePhone.NotBound",
            AppError::PhoneAlreadyBound => "SecureMobilePhone.AlreadyBound",
            AppError::NotFound => "EntityNotExist.Account",
            AppError::UndoLinkInvalid => "UndoLink.Invalid",
            AppError::UndoLinkUsed => "UndoLink.Used",
            AppError::UndoLinkExpired => "UndoLink.Expired",
            AppError::UndoLinkSuperseded => "UndoLink.Superseded",
            AppError::PasswordResetRequired => "SignIn.PasswordResetRequired",
            AppError::NotAResourceAccount => "AccountTypeMismatch",
            AppError::AccessKeyLimit(_) => "LimitExceeded.AccessKey",
            AppError::Sso(failure) => failure.code(),
            AppError::Unavailable => "ServiceUnavailable",
            AppError::Internal => "InternalError",
            AppError::Transport(_) => "Transport",
        }
    }

    /// The variant's name, as serde writes it: the `reason` label of `console_refusals_total`
    /// (a fixed set, so a low-cardinality label; the carried values stay out of it).
    pub fn reason(&self) -> &'static str {
        match self {
            AppError::BadCredentials => "BadCredentials",
            AppError::SignInThrottled => "SignInThrottled",
            AppError::NotSignedIn => "NotSignedIn",
            AppError::OwnerOnly => "OwnerOnly",
            AppError::Forbidden => "Forbidden",
            AppError::CrossSite => "CrossSite",
            AppError::InvalidInput(_) => "InvalidInput",
            AppError::InvalidPhone => "InvalidPhone",
            AppError::PhoneRegionMismatch => "PhoneRegionMismatch",
            AppError::SamePhone => "SamePhone",
            AppError::PhoneBindingLimit(_) => "PhoneBindingLimit",
            AppError::MalformedCode => "MalformedCode",
            AppError::CodeIncorrectOrExpired => "CodeIncorrectOrExpired",
            AppError::TooManyAttempts => "TooManyAttempts",
            AppError::ResendTooSoon(_) => "ResendTooSoon",
            AppError::DailyLimitReached(_) => "DailyLimitReached",
            AppError::TargetLimitReached => "TargetLimitReached",
            AppError::IpLimitReached => "IpLimitReached",
            AppError::AppealLimitReached => "AppealLimitReached",
            AppError::OperatorOnly => "OperatorOnly",
            AppError::AppealNotFound => "AppealNotFound",
            AppError::AppealDecided => "AppealDecided",
            AppError::AppealAwaitingAnswer => "AppealAwaitingAnswer",
            AppError::AppealNoQuestion => "AppealNoQuestion",
            AppError::AppealOwnAccount => "AppealOwnAccount",
            AppError::SmsNumberType => "SmsNumberType",
            AppError::SmsRegionNotAllowed => "SmsRegionNotAllowed",
            AppError::SmsPrefixLimitReached => "SmsPrefixLimitReached",
            AppError::SmsCountryPaused(_) => "SmsCountryPaused",
            AppError::IdentityNotVerified => "IdentityNotVerified",
            AppError::TotpNotBound => "TotpNotBound",
            AppError::TotpAlreadyBound => "TotpAlreadyBound",
            AppError::TotpTooFresh => "TotpTooFresh",
            AppError::TotpLocked => "TotpLocked",
            AppError::NoPhoneBound => "NoPhoneBound",
            AppError::PhoneAlreadyBound => "PhoneAlreadyBound",
            AppError::NotFound => "NotFound",
            AppError::UndoLinkInvalid => "UndoLinkInvalid",
            AppError::UndoLinkUsed => "UndoLinkUsed",
            AppError::UndoLinkExpired => "UndoLinkExpired",
            AppError::UndoLinkSuperseded => "UndoLinkSuperseded",
            AppError::PasswordResetRequired => "PasswordResetRequired",
            AppError::NotAResourceAccount => "NotAResourceAccount",
            AppError::AccessKeyLimit(_) => "AccessKeyLimit",
            AppError::SignInStepExpired => "SignInStepExpired",
            AppError::Sso(_) => "Sso",
            AppError::Unavailable => "Unavailable",
            AppError::Internal => "Internal",
            AppError::Transport(_) => "Transport",
        }
    }

    /// The HTTP status the automation API answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotSignedIn => 401,
            AppError::OwnerOnly
            | AppError::Forbidden
            | AppError::CrossSite
            | AppError::OperatorOnly
            | AppError::AppealOwnAccount => 403,
            AppError::NotFound | AppError::UndoLinkInvalid | AppError::AppealNotFound => 404,
            AppError::UndoLinkUsed
            | AppError::UndoLinkExpired
            | AppError::UndoLinkSuperseded
            | AppError::AppealDecided
            | AppError::AppealAwaitingAnswer
            | AppError::AppealNoQuestion => 409,
            AppError::SignInThrottled
            | AppError::ResendTooSoon(_)
            | AppError::DailyLimitReached(_)
            | AppError::TargetLimitReached
            | AppError::IpLimitReached
            | AppError::AppealLimitReached
            | AppError::SmsPrefixLimitReached
            | AppError::SmsCountryPaused(_)
            | AppError::Sso(crate::api::sso::SsoFailure::Throttled) => 429,
            AppError::Internal
            | AppError::Transport(_)
            | AppError::Sso(crate::api::sso::SsoFailure::Internal) => 500,
            AppError::Sso(crate::api::sso::SsoFailure::ProviderUnreachable) => 502,
            AppError::Unavailable => 503,
            _ => 400,
        }
    }

    /// The refusal of a number already bound to `cap` accounts, the configured cap.
    pub fn phone_binding_limit(cap: i64) -> Self {
        AppError::PhoneBindingLimit(u32::try_from(cap).unwrap_or(u32::MAX))
    }

    /// The refusal of a code past the configured `cap` of codes per member account per day.
    pub fn daily_limit(cap: i64) -> Self {
        AppError::DailyLimitReached(u32::try_from(cap).unwrap_or(u32::MAX))
    }

    /// A refusal of input whose text is the catalogue's message `key`.
    pub fn invalid(key: &'static str) -> Self {
        AppError::invalid_with(key, &[])
    }

    /// A refusal of input whose text is the catalogue's message `key` with `args` put in.
    pub fn invalid_with(key: &'static str, args: &[(&'static str, String)]) -> Self {
        AppError::InvalidInput(Invalid {
            key: key.to_string(),
            args: args
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        })
    }

    /// What the refusal says, in `locale`.
    pub fn message(&self, locale: Locale) -> String {
        let n = |value: &u32| [("n", value.to_string())];
        match self {
            AppError::InvalidInput(invalid) => invalid.message(locale),
            AppError::Sso(failure) => failure.message(locale),
            AppError::PhoneBindingLimit(v)
            | AppError::ResendTooSoon(v)
            | AppError::DailyLimitReached(v)
            | AppError::SmsCountryPaused(v)
            | AppError::AccessKeyLimit(v) => {
                i18n::t_with(locale, &format!("error-{}", self.reason()), &n(v))
            }
            _ => i18n::t(locale, &format!("error-{}", self.reason())),
        }
    }

    /// What the refusal says, in the language of the page or request.
    pub fn localized(&self) -> String {
        self.message(i18n::locale())
    }
}

/// The English text, as the automation API, the logs and the tests read it.
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Locale::En))
    }
}

impl std::error::Error for AppError {}

/// Input the server refused: a catalogue message (`invalid-…` in `errors.ftl`) and the values
/// it names (a length, a URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalid {
    pub key: String,
    pub args: Vec<(String, String)>,
}

impl Invalid {
    pub fn message(&self, locale: Locale) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        i18n::t_with(locale, &self.key, &args)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => {
                AppError::invalid_with("invalid-malformed-request", &[("detail", detail)])
            }
            ServerFnErrorErr::Request(detail) | ServerFnErrorErr::Response(detail) => {
                AppError::Transport(detail)
            }
            _ => AppError::Internal,
        }
    }
}

/// Seconds a client is asked to wait (`Retry-After`) after `AppError::Unavailable`.
pub const RETRY_AFTER_SECS: u32 = 2;

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if database_unavailable(&error) {
            tracing::warn!(%error, "database unavailable");
            AppError::Unavailable
        } else {
            tracing::error!(%error, "database error");
            AppError::Internal
        }
    }
}

/// Whether a database error says the database cannot serve now, rather than that this request
/// is wrong: the connection is gone or refused, the pool could not get one, the server is
/// shutting down or starting, it is a read-only standby (after a failover), it ran out of space,
/// or a serializable transaction lost a race. Each rolled the transaction back.
#[cfg(feature = "ssr")]
pub fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i32>() {
                // SQLite result codes (extended; the low byte is the primary code): BUSY, LOCKED,
                // READONLY, IOERR, FULL, CANTOPEN.
                Ok(sqlite) => matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
                // PostgreSQL SQLSTATE: connection exceptions (08), insufficient resources (53,
                // disk full 53100), operator intervention (57P01 admin shutdown, 57P03 cannot
                // connect now), read-only transaction on a standby (25006), serialization
                // failure and deadlock (40001, 40P01).
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || matches!(code.as_ref(), "25006" | "40001" | "40P01")
                }
            }
        }
        _ => false,
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn a_lost_connection_is_unavailable_and_a_missing_row_is_not() {
        let gone = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(database_unavailable(&gone));
        assert_eq!(AppError::from(gone), AppError::Unavailable);
        assert!(database_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(!database_unavailable(&sqlx::Error::RowNotFound));
        assert_eq!(AppError::from(sqlx::Error::RowNotFound), AppError::Internal);
        assert_eq!(AppError::Unavailable.status(), 503);
    }

    #[test]
    fn the_reason_is_the_name_serde_gives_the_variant() {
        let all = [
            AppError::BadCredentials,
            AppError::SignInThrottled,
            AppError::NotSignedIn,
            AppError::OwnerOnly,
            AppError::Forbidden,
            AppError::CrossSite,
            AppError::invalid("invalid-input-too-long"),
            AppError::InvalidPhone,
            AppError::PhoneRegionMismatch,
            AppError::SamePhone,
            AppError::PhoneBindingLimit(6),
            AppError::MalformedCode,
            AppError::CodeIncorrectOrExpired,
            AppError::TooManyAttempts,
            AppError::ResendTooSoon(59),
            AppError::DailyLimitReached(100),
            AppError::TargetLimitReached,
            AppError::IpLimitReached,
            AppError::AppealLimitReached,
            AppError::OperatorOnly,
            AppError::AppealNotFound,
            AppError::AppealDecided,
            AppError::AppealAwaitingAnswer,
            AppError::AppealNoQuestion,
            AppError::AppealOwnAccount,
            AppError::SmsNumberType,
            AppError::SmsRegionNotAllowed,
            AppError::SmsPrefixLimitReached,
            AppError::SmsCountryPaused(30),
            AppError::IdentityNotVerified,
            AppError::TotpNotBound,
            AppError::TotpAlreadyBound,
            AppError::TotpTooFresh,
            AppError::TotpLocked,
            AppError::NoPhoneBound,
            AppError::PhoneAlreadyBound,
            AppError::NotFound,
            AppError::UndoLinkInvalid,
            AppError::UndoLinkUsed,
            AppError::UndoLinkExpired,
            AppError::UndoLinkSuperseded,
            AppError::PasswordResetRequired,
            AppError::NotAResourceAccount,
            AppError::AccessKeyLimit(2),
            AppError::Unavailable,
            AppError::Internal,
            AppError::Transport("x".into()),
        ];
        for error in all {
            let name = match serde_json::to_value(&error).unwrap() {
                serde_json::Value::String(name) => name,
                serde_json::Value::Object(map) => map.keys().next().unwrap().clone(),
                other => panic!("{other}"),
            };
            assert_eq!(error.reason(), name);
        }
    }

    #[test]
    fn the_limit_refusals_name_the_configured_caps() {
        assert_eq!(
            AppError::phone_binding_limit(6).to_string(),
            "This phone number is already bound to 6 accounts. Use a different number or close unused accounts."
        );
        assert_eq!(
            AppError::daily_limit(100).to_string(),
            "A maximum of 100 verification codes can be sent to each member account per day."
        );
        assert!(
            AppError::phone_binding_limit(3)
                .to_string()
                .contains(" 3 accounts")
        );
        assert!(
            AppError::daily_limit(20)
                .to_string()
                .contains(" 20 verification codes")
        );
    }
}
