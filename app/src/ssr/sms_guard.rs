//! The SMS-pumping guard: what an SMS code must pass before anything of its send is written.
//!
//! Pumping fraud makes a console send codes to numbers whose traffic pays the fraudster
//! (premium-rate ranges, or blocks of numbers in a country where termination is expensive). Four
//! checks stop it, each refusal a message of its own, an audit event and a counted metric:
//!
//! 1. the number's libphonenumber type: premium-rate, shared-cost, toll-free and unknown numbers
//!    get no code (every SMS purpose);
//! 2. the purpose's allow list of countries or regions, by default those accounts are registered
//!    in (every SMS purpose);
//! 3. a breaker per country that stops codes there for a cool-down when few of the codes sent
//!    there over a sliding window were ever entered;
//! 4. an hourly cap per number prefix (the number less its last 4 digits), taken atomically with
//!    the other send budgets in `verification::send_code`.
//!
//! The breaker and the prefix cap count the codes sent to numbers the requester chose (a new
//! number, a member's number): those are where a fraudster picks the numbers. A code to the
//! subject's own bound number (the identity step, the second sign-in step, recovery) is never
//! stopped by what strangers requested (SPEC 3), so it is not counted there and not stopped there;
//! its number passed the guard when it was bound, and it still passes the first two checks.
//!
//! Everything is read from the database, so the guard holds across instances.

use crate::domain::phone::mask_e164;
use crate::domain::{PhoneNumber, Region};
use crate::error::{AppError, AppResult};
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::config::RegionList;
use crate::ssr::outbox::Channel;
use crate::ssr::verification::{CodeRequest, Purpose, Requester};
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::sync::Mutex;

/// Which check refused a code: the `check` label of `console_sms_guard_refusals_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    NumberType,
    Region,
    CountryBreaker,
    PrefixVelocity,
}

impl Check {
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::NumberType => "number_type",
            Check::Region => "region",
            Check::CountryBreaker => "country_breaker",
            Check::PrefixVelocity => "prefix_velocity",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Check::NumberType => "premium-rate, shared-cost, toll-free or unknown number",
            Check::Region => "country or region not allowed",
            Check::CountryBreaker => "country breaker open",
            Check::PrefixVelocity => "hourly cap of the number prefix reached",
        }
    }
}

/// Whether codes of `purpose` go to a number the requester chose, rather than to the subject's
/// own bound number: those are counted by the breaker and the prefix cap.
pub fn requester_chooses_number(purpose: Purpose) -> bool {
    matches!(purpose, Purpose::NewPhone | Purpose::MemberPhone)
}

/// What the guard learned about an SMS target that passed.
pub struct Cleared {
    /// The region the code is counted under by the breaker (libphonenumber's region of the number).
    pub region: String,
    /// The prefix budget the send takes last, with the other budgets, when the number was chosen
    /// by the requester: (scope, cap).
    pub prefix_budget: Option<(String, i64)>,
}

/// The regions known to have accounts, as last read, with when: a region once seen keeps
/// passing for `TTL_MS` without a query (accounts keep their registration region), and a region
/// not seen is asked of the database every time, so a new account's region passes at once.
#[derive(Default)]
pub struct RegionsInUse {
    seen: Mutex<HashMap<String, i64>>,
}

const TTL_MS: i64 = 5 * 60_000;

impl RegionsInUse {
    async fn contains(
        &self,
        conn: &mut AnyConnection,
        region: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        if let Some(at) = self
            .seen
            .lock()
            .map(|seen| seen.get(region).copied())
            .ok()
            .flatten()
            && now - at < TTL_MS
        {
            return Ok(true);
        }
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM accounts WHERE region = $1 AND status = 'active' LIMIT 1",
        )
        .bind(region)
        .fetch_optional(&mut *conn)
        .await?;
        if let Ok(mut seen) = self.seen.lock() {
            if row.is_some() {
                seen.insert(region.to_string(), now);
            } else {
                seen.remove(region);
            }
        }
        Ok(row.is_some())
    }
}

/// Runs the checks that read before `send_code` writes anything: the number's type, the allow
/// list and the breaker. Answers `None` for an email code (the guard is for SMS), else what the
/// send records and takes. A refusal is audited and counted here.
pub async fn check(services: &Services, request: &CodeRequest<'_>) -> AppResult<Option<Cleared>> {
    if request.channel != Channel::Sms {
        return Ok(None);
    }
    let Ok(number) = PhoneNumber::parse(request.target, None) else {
        // A stored number that is no mobile number by today's metadata is an unknown one.
        return Err(refuse(
            services,
            request,
            Check::NumberType,
            AppError::SmsNumberType,
        )
        .await);
    };
    let now = services.now_ms();
    let mut conn = services.db.pool.acquire().await?;
    if !allowed(services, &mut conn, request.purpose, &number, now).await? {
        return Err(refuse(
            services,
            request,
            Check::Region,
            AppError::SmsRegionNotAllowed,
        )
        .await);
    }
    let region = number
        .region()
        .map(|r| r.code().to_string())
        .unwrap_or_else(|| "001".into());
    let chosen = requester_chooses_number(request.purpose);
    if chosen && let Some(minutes) = breaker_open(services, &mut conn, &region, now).await? {
        return Err(refuse(
            services,
            request,
            Check::CountryBreaker,
            AppError::SmsCountryPaused(minutes),
        )
        .await);
    }
    let guard = &services.config.sms_guard;
    Ok(Some(Cleared {
        region,
        prefix_budget: chosen.then(|| {
            (
                format!("codes:prefix:{}", number.prefix()),
                guard.codes_per_prefix_per_hour,
            )
        }),
    }))
}

/// Whether the allow list of `purpose` holds one of the regions `number` belongs to.
async fn allowed(
    services: &Services,
    conn: &mut AnyConnection,
    purpose: Purpose,
    number: &PhoneNumber,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let regions = number.regions();
    match services.config.sms_guard.regions_for(purpose.as_str()) {
        RegionList::Any => Ok(true),
        RegionList::Only(list) => Ok(regions.iter().any(|r| list.iter().any(|c| c == r.code()))),
        RegionList::Accounts => {
            for region in regions {
                if services
                    .sms_regions
                    .contains(conn, region.code(), now)
                    .await?
                {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// The minutes left when the breaker of `region` is open (tripping it first when the codes of
/// the window call for it), else `None`.
async fn breaker_open(
    services: &Services,
    conn: &mut AnyConnection,
    region: &str,
    now: i64,
) -> Result<Option<u32>, sqlx::Error> {
    let guard = &services.config.sms_guard;
    if guard.breaker_min_codes <= 0 {
        return Ok(None);
    }
    let last: Option<(i64,)> =
        sqlx::query_as("SELECT open_until FROM sms_breakers WHERE region = $1")
            .bind(region)
            .fetch_optional(&mut *conn)
            .await?;
    let last_open_until = last.map(|r| r.0).unwrap_or(i64::MIN);
    if last_open_until > now {
        return Ok(Some(minutes_left(last_open_until, now)));
    }
    // Challenges are kept a day past their expiry, so the window reaches back a day at most. It
    // starts after the last cool-down: the codes that tripped the breaker do not trip it again.
    let window_ms = guard.breaker_window_secs.clamp(1, 86_400) * 1000;
    let since = (now - window_ms).max(last_open_until);
    // A code counts once it was entered or its lifetime has passed: until then it may still be
    // entered, even when a resend replaced it (the user may type the first code that arrives).
    let lifetime_ms = services.config.limits.code_lifetime_secs.max(0) * 1000;
    let (codes, entered): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(CASE WHEN status = 'used' THEN 1 END) FROM challenges \
         WHERE sms_region = $1 AND created_at >= $2 AND purpose IN ($3, $4) \
         AND (status = 'used' OR created_at <= $5)",
    )
    .bind(region)
    .bind(since)
    .bind(Purpose::NewPhone.as_str())
    .bind(Purpose::MemberPhone.as_str())
    .bind(now - lifetime_ms)
    .fetch_one(&mut *conn)
    .await?;
    if codes < guard.breaker_min_codes || entered * 100 >= codes * guard.breaker_min_entered_percent
    {
        return Ok(None);
    }
    let open_until = now + guard.breaker_cooldown_secs.max(1) * 1000;
    // Of several instances tripping it at once, the first one's cool-down stands.
    sqlx::query(
        "INSERT INTO sms_breakers (region, opened_at, open_until, codes, entered) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (region) DO UPDATE SET opened_at = excluded.opened_at, \
           open_until = excluded.open_until, codes = excluded.codes, entered = excluded.entered \
         WHERE sms_breakers.open_until <= excluded.opened_at",
    )
    .bind(region)
    .bind(now)
    .bind(open_until)
    .bind(codes)
    .bind(entered)
    .execute(&mut *conn)
    .await?;
    tracing::warn!(
        region,
        codes,
        entered,
        cooldown_secs = guard.breaker_cooldown_secs,
        "SMS-pumping guard: the country breaker tripped"
    );
    Ok(Some(minutes_left(open_until, now)))
}

fn minutes_left(until: i64, now: i64) -> u32 {
    u32::try_from(((until - now).max(0) + 59_999) / 60_000)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Who asked for a code of which purpose for which account, from where: what a refusal records.
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    pub purpose: Purpose,
    pub account_id: &'a str,
    pub requester: Requester<'a>,
    pub client_ip: &'a str,
}

impl<'a> CodeRequest<'a> {
    pub fn asker(&self) -> Asker<'a> {
        Asker {
            purpose: self.purpose,
            account_id: self.account_id,
            requester: self.requester,
            client_ip: self.client_ip,
        }
    }
}

/// Records a refusal of the guard (the audit event on the subject account, the metric, the log)
/// and answers the error the user is shown. Nothing of the send was written.
pub async fn refuse(
    services: &Services,
    request: &CodeRequest<'_>,
    check: Check,
    error: AppError,
) -> AppError {
    let to = mask_e164(request.target);
    refuse_number(services, &request.asker(), &to, check, error).await
}

/// As `refuse`, for a number refused while it was read (`to` is what the audit shows of it).
pub async fn refuse_number(
    services: &Services,
    request: &Asker<'_>,
    to: &str,
    check: Check,
    error: AppError,
) -> AppError {
    let purpose = request.purpose.as_str();
    services.metrics.sms_guard_refused(check.as_str(), purpose);
    tracing::info!(
        check = check.as_str(),
        purpose,
        account = request.account_id,
        "SMS-pumping guard refused a code"
    );
    let detail = format!(
        "A verification code ({purpose}) to {to} was not sent: {}",
        check.label()
    );
    let event = AuditEvent {
        at: services.now_ms(),
        principal_kind: request.requester.kind,
        principal_name: request.requester.name,
        action: "SendVerificationCode",
        subject_account_id: request.account_id,
        client_ip: request.client_ip,
        outcome: "refused",
        detail: &detail,
    };
    let recorded = match services.db.write().await {
        Ok(mut conn) => audit::record(&mut conn, event).await,
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        // The refusal stands either way: nothing was sent.
        tracing::error!(error = %e, "the audit event of an SMS-pumping guard refusal was not written");
    }
    error
}

/// For a send to a number the requester typed (national digits of `region`, or international):
/// a number refused for its type while it was read is a refusal of the guard like any other,
/// audited and counted, though no `CodeRequest` was made for it.
pub async fn screen_typed<T>(
    services: &Services,
    asker: &Asker<'_>,
    region: &str,
    typed: &str,
    read: AppResult<T>,
) -> AppResult<T> {
    match read {
        Err(AppError::SmsNumberType) => {
            let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
            let international = typed.trim_start().starts_with('+') || typed.contains('-');
            let to = match Region::parse(region) {
                Ok(region) if !international => {
                    mask_e164(&format!("+{}{digits}", region.calling_code()))
                }
                _ => mask_e164(&format!("+{digits}")),
            };
            let error = AppError::SmsNumberType;
            Err(refuse_number(services, asker, &to, Check::NumberType, error).await)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chosen_numbers_are_counted_by_the_breaker_and_the_prefix_cap() {
        assert!(requester_chooses_number(Purpose::NewPhone));
        assert!(requester_chooses_number(Purpose::MemberPhone));
        for own in [
            Purpose::IdentityForPhoneChange,
            Purpose::SignIn,
            Purpose::ResetPassword,
        ] {
            assert!(!requester_chooses_number(own));
        }
    }

    #[test]
    fn minutes_left_round_up() {
        assert_eq!(minutes_left(60_000, 0), 1);
        assert_eq!(minutes_left(60_001, 0), 2);
        assert_eq!(minutes_left(0, 0), 1);
        assert_eq!(minutes_left(1_800_000, 0), 30);
    }
}
