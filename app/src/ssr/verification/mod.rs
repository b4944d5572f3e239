//! The verification engine shared by every flow (SPEC 3): codes, their limits and tickets.
//!
//! A code is bound to (purpose, subject account, target, session) by being part of its keyed MAC;
//! only the MAC is stored. Every limit is one conditional statement, so it holds across instances.

use crate::domain::VerificationCode;
use crate::error::{AppError, AppResult};
use crate::ssr::crypto::{constant_time_eq, mac_hex, random_code};
use crate::ssr::db::Tx;
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::{Services, rate, sms_guard};
use sqlx::AnyConnection;

mod message;
mod tickets;

use message::{code_host, code_message};
pub use tickets::{
    LiveTicket, TicketPurpose, grant_ticket, live_ticket, require_ticket, spend_ticket,
};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What a code is for; a code made for one purpose never passes another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Proving identity before changing the phone, by the old phone or the logon email.
    IdentityForPhoneChange,
    /// Proving identity before unbinding the authenticator.
    IdentityForTotpUnbind,
    /// Proving identity, by the phone or the logon email, before binding an authenticator.
    IdentityForTotpBind,
    /// Proving identity before turning logon protection on, off or to another method.
    IdentityForLogonProtection,
    /// Proving ownership of the new number.
    NewPhone,
    ResetPassword,
    /// An administrator binding or modifying a member's number.
    MemberPhone,
    /// Proving that the contact email of an appeal reaches its author.
    AppealContact,
    /// The second sign-in step of an account with logon protection by SMS.
    SignIn,
}

impl Purpose {
    pub const ALL: [Purpose; 9] = [
        Purpose::IdentityForPhoneChange,
        Purpose::IdentityForTotpUnbind,
        Purpose::IdentityForTotpBind,
        Purpose::IdentityForLogonProtection,
        Purpose::NewPhone,
        Purpose::ResetPassword,
        Purpose::MemberPhone,
        Purpose::AppealContact,
        Purpose::SignIn,
    ];

    /// A purpose asked for without a session (password recovery, the second sign-in step), with
    /// budgets of its own.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, Purpose::ResetPassword | Purpose::SignIn)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::IdentityForPhoneChange => "identity_change_phone",
            Purpose::IdentityForTotpUnbind => "identity_unbind_totp",
            Purpose::IdentityForTotpBind => "identity_bind_totp",
            Purpose::IdentityForLogonProtection => "identity_logon_protection",
            Purpose::NewPhone => "new_phone",
            Purpose::ResetPassword => "reset_password",
            Purpose::MemberPhone => "member_phone",
            Purpose::AppealContact => "appeal_contact",
            Purpose::SignIn => "sign_in",
        }
    }
}

/// Who asked for a code, as the audit log names them.
#[derive(Clone, Copy, Debug)]
pub struct Requester<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

impl<'a> Requester<'a> {
    pub fn of(principal: &'a crate::ssr::session::Principal) -> Requester<'a> {
        Requester {
            kind: principal.kind.as_str(),
            name: &principal.name,
        }
    }

    /// Someone on the forgot-password page (no session).
    pub const RECOVERY: Requester<'static> = Requester {
        kind: "owner",
        name: "password recovery",
    };

    /// Someone who gave the account's password, at the second sign-in step (no session yet).
    pub const SIGN_IN: Requester<'static> = Requester {
        kind: "owner",
        name: "sign-in second step",
    };
}

pub struct CodeRequest<'a> {
    pub purpose: Purpose,
    pub requester: Requester<'a>,
    pub account_id: &'a str,
    /// E.164 number or email address the code goes to.
    pub target: &'a str,
    pub channel: Channel,
    pub session_hash: &'a str,
    pub client_ip: &'a str,
    /// The language the message is written in: the requester's.
    pub locale: crate::i18n::Locale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCode {
    pub expires_at_ms: i64,
    pub resend_after_secs: i64,
    /// Where the code went, masked as the pages show it (`+86 135****5678`, `a***@example.com`).
    pub sent_to: String,
}

fn mac(
    services: &Services,
    purpose: Purpose,
    account_id: &str,
    target: &str,
    session_hash: &str,
    code: &str,
) -> String {
    mac_hex(
        services.hmac_key(),
        &[purpose.as_str(), account_id, target, session_hash, code],
    )
}

/// One send budget: (scope, window start, cap, refusal).
type Budget = (String, i64, i64, AppError);

/// The per-account daily and per-target hourly budgets of `scope`, with their caps.
fn account_and_target(
    scope: &str,
    request: &CodeRequest<'_>,
    (day, per_day): (i64, i64),
    (hour, per_hour): (i64, i64),
) -> [Budget; 2] {
    [
        (
            format!("{scope}:account:{}", request.account_id),
            day,
            per_day,
            AppError::daily_limit(per_day),
        ),
        (
            format!("{scope}:target:{}", request.target),
            hour,
            per_hour,
            AppError::TargetLimitReached,
        ),
    ]
}

/// The send budgets a code takes, counted last in `send_code`.
fn budgets(
    limits: &crate::ssr::config::Limits,
    request: &CodeRequest<'_>,
    prefix_budget: Option<&(String, i64)>,
    day: i64,
    hour: i64,
) -> Vec<Budget> {
    if request.purpose.is_unauthenticated() {
        // Anyone can ask for a recovery code, so its budgets are its own and smaller, in scopes
        // no signed-in purpose uses: a stranger never spends the owner's. The per-client budget
        // is taken by the recovery request itself, for known and unknown accounts alike. The
        // second sign-in step (someone who knows the password) has budgets of the same size,
        // apart from recovery's.
        let scope = if request.purpose == Purpose::SignIn {
            "signin_code"
        } else {
            "recovery"
        };
        let per_day = (day, limits.recovery_codes_per_account_per_day);
        let per_hour = (hour, limits.recovery_codes_per_target_per_hour);
        account_and_target(scope, request, per_day, per_hour).into()
    } else {
        // A number the requester chose also takes the SMS-pumping guard's prefix budget.
        let prefix = prefix_budget
            .map(|(scope, cap)| (scope.clone(), hour, *cap, AppError::SmsPrefixLimitReached));
        let per_day = (day, limits.codes_per_account_per_day);
        let per_hour = (hour, limits.codes_per_target_per_hour);
        let ip = (
            format!("codes:ip:{}", rate::ip_key(request.client_ip)),
            hour,
            limits.codes_per_ip_per_hour,
            AppError::IpLimitReached,
        );
        account_and_target("codes", request, per_day, per_hour)
            .into_iter()
            .chain([ip])
            .chain(prefix)
            .collect()
    }
}

/// Sends a new code, replacing any pending one for the same (purpose, subject, session).
/// An SMS code first passes the SMS-pumping guard (`sms_guard::check`), which reads only. The
/// resend interval and the send limits (with the guard's prefix cap) are taken in the same
/// transaction as the challenge and its outbox message: a refused send counts nothing and
/// sends nothing.
#[tracing::instrument(skip(services, request), fields(purpose = request.purpose.as_str(), account = request.account_id))]
pub async fn send_code(services: &Services, request: CodeRequest<'_>) -> AppResult<SentCode> {
    let cleared = sms_guard::check(services, &request).await?;
    let limits = &services.config.limits;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    let conn: &mut AnyConnection = &mut tx;

    take_resend_slot(conn, limits, &request, now).await?;

    let day = rate::window_start(now, DAY_MS, limits.day_starts_at_utc_minutes * 60_000);
    let hour = rate::window_start(now, HOUR_MS, 0);
    let prefix_budget = cleared.as_ref().and_then(|c| c.prefix_budget.as_ref());
    let checks = budgets(limits, &request, prefix_budget, day, hour);
    let sms_region = cleared.as_ref().map(|c| c.region.as_str());
    let (code, expires_at) = insert_challenge(conn, services, &request, sms_region, now).await?;

    let host = code_host(&services.config.public_url);
    let body = code_message(
        request.locale,
        request.purpose,
        request.channel,
        &code,
        limits.code_lifetime_secs,
        host.as_deref(),
    );
    outbox::enqueue(
        conn,
        NewMessage {
            channel: request.channel,
            recipient: request.target,
            subject: &crate::i18n::t(request.locale, "code-subject"),
            body: &body,
            template: Template::VerificationCode,
            code: Some(&code),
        },
        now,
    )
    .await?;
    // The limits come last: a counter row shared by many senders (one client address) stays
    // locked only from its update to the commit. A refused send rolls all of the above back.
    for (scope, window, cap, error) in checks {
        if !rate::take(conn, &scope, window, cap).await? {
            tracing::info!(limit = %error.code(), "code refused by a send limit");
            if error == AppError::SmsPrefixLimitReached {
                drop(tx);
                let check = sms_guard::Check::PrefixVelocity;
                return Err(sms_guard::refuse(services, &request, check, error).await);
            }
            return Err(error);
        }
    }
    tx.commit().await?;
    services.outbox_wake.notify_one();
    services
        .metrics
        .code_sent(request.purpose.as_str(), request.channel.as_str());
    tracing::info!("verification code queued");
    let sent_to = match request.channel {
        Channel::Sms => crate::domain::phone::mask_e164(request.target),
        Channel::Email => crate::domain::mask::mask_email(request.target),
    };
    Ok(SentCode {
        expires_at_ms: expires_at,
        resend_after_secs: limits.resend_interval_secs,
        sent_to,
    })
}

/// Takes the resend slot of (purpose, target): refused with the wait when the last code to that
/// target for that purpose left less than the resend interval ago.
async fn take_resend_slot(
    conn: &mut AnyConnection,
    limits: &crate::ssr::config::Limits,
    request: &CodeRequest<'_>,
    now: i64,
) -> AppResult<()> {
    let interval_ms = limits.resend_interval_secs * 1000;
    // An interval of 0 turns the rule off. Otherwise a request that waited for the row lock
    // could be refused by a send that started after it (its `now` is earlier than that one's).
    let sent_by = if interval_ms > 0 {
        now - interval_ms
    } else {
        i64::MAX
    };
    let guard: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO resend_guards (purpose, target, last_sent_at) VALUES ($1, $2, $3) \
         ON CONFLICT (purpose, target) DO UPDATE SET last_sent_at = $3 \
         WHERE resend_guards.last_sent_at <= $4 RETURNING last_sent_at",
    )
    .bind(request.purpose.as_str())
    .bind(request.target)
    .bind(now)
    .bind(sent_by)
    .fetch_optional(&mut *conn)
    .await?;
    if guard.is_none() {
        let (last,): (i64,) = sqlx::query_as(
            "SELECT last_sent_at FROM resend_guards WHERE purpose = $1 AND target = $2",
        )
        .bind(request.purpose.as_str())
        .bind(request.target)
        .fetch_one(&mut *conn)
        .await?;
        let wait_ms = (last + interval_ms - now).max(1000);
        return Err(AppError::ResendTooSoon(((wait_ms + 999) / 1000) as u32));
    }
    Ok(())
}

/// The new challenge of `request`, replacing its pending one; answers the code and its expiry.
async fn insert_challenge(
    conn: &mut AnyConnection,
    services: &Services,
    request: &CodeRequest<'_>,
    sms_region: Option<&str>,
    now: i64,
) -> AppResult<(String, i64)> {
    let limits = &services.config.limits;
    sqlx::query(
        "UPDATE challenges SET status = 'replaced' \
         WHERE session_hash = $1 AND purpose = $2 AND account_id = $3 AND status = 'pending'",
    )
    .bind(request.session_hash)
    .bind(request.purpose.as_str())
    .bind(request.account_id)
    .execute(&mut *conn)
    .await?;

    let code = random_code();
    let expires_at = now + limits.code_lifetime_secs * 1000;
    sqlx::query(
        "INSERT INTO challenges (purpose, account_id, target, session_hash, code_mac, attempts, status, created_at, expires_at, sms_region) \
         VALUES ($1, $2, $3, $4, $5, 0, 'pending', $6, $7, $8)",
    )
    .bind(request.purpose.as_str())
    .bind(request.account_id)
    .bind(request.target)
    .bind(request.session_hash)
    .bind(mac(services, request.purpose, request.account_id, request.target, request.session_hash, &code))
    .bind(now)
    .bind(expires_at)
    .bind(sms_region)
    .execute(&mut *conn)
    .await?;
    Ok((code, expires_at))
}

#[derive(sqlx::FromRow)]
struct PendingChallenge {
    id: i64,
    target: String,
    code_mac: String,
    attempts: i64,
    expires_at: i64,
}

/// A code given back, and what it is checked against: the flow, the account, where the code was
/// sent and the session (or pending sign-in) that asked for it.
pub struct CodeAttempt<'a> {
    pub purpose: Purpose,
    pub account_id: &'a str,
    pub target: &'a str,
    pub session_hash: &'a str,
    pub code: &'a VerificationCode,
}

/// Checks and consumes a code inside the caller's transaction.
///
/// The outer error is the database's. The inner one is the user's answer: on a wrong code the
/// attempt has been counted in `conn`, so the caller must commit before returning it.
pub async fn consume(
    conn: &mut AnyConnection,
    services: &Services,
    attempt: &CodeAttempt<'_>,
) -> Result<Result<(), AppError>, sqlx::Error> {
    let CodeAttempt {
        purpose,
        account_id,
        target,
        session_hash,
        code,
    } = *attempt;
    let max = services.config.limits.code_max_attempts;
    let now = services.now_ms();
    let sql = format!(
        "SELECT id, target, code_mac, attempts, expires_at FROM challenges \
         WHERE session_hash = $1 AND purpose = $2 AND account_id = $3 AND status = 'pending' \
         ORDER BY id DESC LIMIT 1{}",
        services.db.for_update()
    );
    let challenge: Option<PendingChallenge> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(session_hash)
        .bind(purpose.as_str())
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(challenge) = challenge else {
        return Ok(Err(AppError::CodeIncorrectOrExpired));
    };
    if challenge.attempts >= max {
        return Ok(Err(AppError::TooManyAttempts));
    }
    if now >= challenge.expires_at {
        return Ok(Err(AppError::CodeIncorrectOrExpired));
    }
    let expected = mac(
        services,
        purpose,
        account_id,
        target,
        session_hash,
        code.as_str(),
    );
    let right = challenge.target == target && constant_time_eq(&expected, &challenge.code_mac);
    if !right {
        sqlx::query(
            "UPDATE challenges SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2",
        )
        .bind(challenge.id)
        .bind(max)
        .execute(&mut *conn)
        .await?;
        tracing::info!(purpose = purpose.as_str(), "wrong verification code");
        return Ok(Err(AppError::CodeIncorrectOrExpired));
    }
    // Conditional: of several requests racing with the right code, one row update wins.
    let used = sqlx::query(
        "UPDATE challenges SET status = 'used' WHERE id = $1 AND status = 'pending' AND attempts < $2",
    )
    .bind(challenge.id)
    .bind(max)
    .execute(&mut *conn)
    .await?;
    Ok(if used.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::CodeIncorrectOrExpired)
    })
}

/// Checks and consumes a code inside `tx`, for a flow that writes more after it. On a refused
/// code `tx` is committed, so a counted wrong attempt stays counted, and the refusal returned;
/// otherwise `tx` comes back for the rest of the flow.
pub async fn consume_keeping_attempt(
    mut tx: Tx,
    services: &Services,
    attempt: &CodeAttempt<'_>,
) -> AppResult<Tx> {
    match consume(&mut tx, services, attempt).await? {
        Ok(()) => Ok(tx),
        Err(error) => {
            tx.commit().await?;
            Err(error)
        }
    }
}

/// Checks and consumes a code in a transaction of its own; for flows with nothing else to write.
pub async fn consume_alone(services: &Services, attempt: &CodeAttempt<'_>) -> AppResult<()> {
    let tx = consume_keeping_attempt(services.db.begin().await?, services, attempt).await?;
    tx.commit().await?;
    Ok(())
}
