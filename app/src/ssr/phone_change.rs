//! Account Center: the owner changes the account's phone after proving identity (SPEC 4).

use crate::domain::mask::mask_email;
use crate::domain::phone::mask_e164;
use crate::domain::{PhoneNumber, Region, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, t, t_with};
use crate::model::IdentityMethod;
use crate::ssr::account::{self, AccountRow};
use crate::ssr::outbox::Channel;
use crate::ssr::phone_binding::{AuditEntry, BindRequest, BindingFlow, Notice};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::{self, Principal};
use crate::ssr::sms_guard::{self, Asker};
use crate::ssr::verification::{
    self, CodeAttempt, CodeRequest, LiveTicket, Purpose, Requester, SentCode, TicketPurpose,
};
use crate::ssr::{Services, phone_binding, totp};
use sqlx::AnyConnection;

fn identity_purpose(ticket: TicketPurpose) -> Purpose {
    match ticket {
        TicketPurpose::ChangePhone => Purpose::IdentityForPhoneChange,
        TicketPurpose::UnbindTotp => Purpose::IdentityForTotpUnbind,
        TicketPurpose::BindTotp => Purpose::IdentityForTotpBind,
        TicketPurpose::LogonProtection => Purpose::IdentityForLogonProtection,
    }
}

/// Where an identity code goes for `method`: the bound phone or the logon email.
fn identity_target(account: &AccountRow, method: IdentityMethod) -> AppResult<(String, Channel)> {
    match method {
        IdentityMethod::Sms => Ok((
            account.phone.clone().ok_or(AppError::NoPhoneBound)?,
            Channel::Sms,
        )),
        IdentityMethod::Email => Ok((account.email.clone(), Channel::Email)),
        IdentityMethod::Totp => Err(AppError::invalid("invalid-totp-not-sent")),
    }
}

/// Step 1: sends an identity code to the old phone or the logon email.
pub async fn send_identity_code(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    method: IdentityMethod,
    ticket: TicketPurpose,
) -> AppResult<SentCode> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let (target, channel) = identity_target(&account, method)?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: identity_purpose(ticket),
            requester: Requester::of(principal),
            account_id: &account.id,
            target: &target,
            channel,
            session_hash: &principal.session_hash,
            client_ip: &meta.client_ip,
            locale: crate::i18n::locale(),
        },
    )
    .await
}

/// Step 1: checks the identity code (or TOTP) and grants this session a ticket for 15 minutes;
/// answers the ticket, so the page can say how long it has to finish.
pub async fn verify_identity(
    services: &Services,
    principal: &Principal,
    method: IdentityMethod,
    code: &VerificationCode,
    ticket: TicketPurpose,
) -> AppResult<LiveTicket> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    if method == IdentityMethod::Totp {
        // A second factor is added only on the word of the phone or the mailbox, never its own.
        if ticket == TicketPurpose::BindTotp {
            return Err(AppError::invalid("invalid-totp-bind-needs-other-method"));
        }
        let state = totp::state(services, &account.id).await?;
        if !state.bound {
            return Err(AppError::TotpNotBound);
        }
        // One bound by a password thief must not vouch for moving the number (issue 11, path 1).
        if ticket == TicketPurpose::ChangePhone && state.fresh {
            return Err(AppError::TotpTooFresh);
        }
        totp::check_totp(services, &account.id, code).await?;
        let mut tx = services.db.begin().await?;
        let granted = verification::grant_ticket(&mut tx, services, principal, ticket).await?;
        tx.commit().await?;
        return Ok(granted);
    }
    let (target, _) = identity_target(&account, method)?;
    let mut tx = services.db.begin().await?;
    let attempt = CodeAttempt {
        purpose: identity_purpose(ticket),
        account_id: &account.id,
        target: &target,
        session_hash: &principal.session_hash,
        code,
    };
    let granted = match verification::consume(&mut tx, services, &attempt).await? {
        Ok(()) => {
            // The phone or the mailbox answered: a TOTP lock from guessing ends here.
            totp::unlock(&mut tx, &account.id).await?;
            Ok(verification::grant_ticket(&mut tx, services, principal, ticket).await?)
        }
        Err(refused) => Err(refused),
    };
    // Committed either way: a wrong code's counted attempt stays counted.
    tx.commit().await?;
    granted
}

/// Parses and checks the new number: the registration region, not today's number, room left.
async fn check_new_number(
    services: &Services,
    account: &AccountRow,
    input: &str,
) -> AppResult<PhoneNumber> {
    phone_binding::check_new_number(services, &account.region, account.phone.as_deref(), input)
        .await
}

/// While typing: is this a number the account could move to? Answers the masked E.164 form.
pub async fn validate_new_number(
    services: &Services,
    principal: &Principal,
    input: &str,
) -> AppResult<String> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    Ok(check_new_number(services, &account, input).await?.masked())
}

/// Step 2: with a live ticket, sends a code to the new number after every check passes.
pub async fn send_new_number_code(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    input: &str,
) -> AppResult<SentCode> {
    principal.require_owner()?;
    verification::require_ticket(services, principal, TicketPurpose::ChangePhone).await?;
    let account = account::find(services, &principal.account_id).await?;
    let asker = Asker {
        purpose: Purpose::NewPhone,
        account_id: &account.id,
        requester: Requester::of(principal),
        client_ip: &meta.client_ip,
    };
    let read = check_new_number(services, &account, input).await;
    let number = sms_guard::screen_typed(services, &asker, &account.region, input, read).await?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::NewPhone,
            requester: Requester::of(principal),
            account_id: &account.id,
            target: number.e164(),
            channel: Channel::Sms,
            session_hash: &principal.session_hash,
            client_ip: &meta.client_ip,
            locale: crate::i18n::locale(),
        },
    )
    .await
}

/// The owner's binding: the ticket is spent, the owner's own phone and email get the notice.
struct OwnerChange<'a> {
    principal: &'a Principal,
    account: &'a AccountRow,
    number: &'a PhoneNumber,
}

impl BindingFlow for OwnerChange<'_> {
    /// The session's new token: whoever else was signed in (perhaps the one who knew the
    /// password) is signed out in the same transaction.
    type Subject = String;

    async fn recheck(
        &self,
        conn: &mut AnyConnection,
        services: &Services,
        _old: Option<&str>,
    ) -> AppResult<String> {
        verification::spend_ticket(conn, services, self.principal, TicketPurpose::ChangePhone)
            .await?;
        session::end_others_and_rotate(conn, self.principal).await
    }

    fn events(&self, _: &String, _old: Option<&str>, change: &str) -> Vec<AuditEntry> {
        vec![AuditEntry {
            action: "ChangeMobilePhone",
            subject_account_id: self.account.id.clone(),
            detail: change.to_string(),
        }]
    }

    fn notice(&self, _: &String, _old: Option<&str>, locale: Locale) -> Notice {
        Notice {
            email: self.account.email.clone(),
            text: t_with(
                locale,
                "notice-owner-changed",
                &[
                    ("phone", self.number.masked()),
                    ("account", self.account.display_name.clone()),
                ],
            ),
            not_you: t(locale, "notice-not-you-support"),
        }
    }
}

/// Step 3: in one transaction, the code is checked, the ticket spent, the cap rechecked, the
/// number bound, the audit event written, the notices queued, the account's other sessions ended
/// and this one given a new token. Answers the new masked number and that token.
// `input` is the new number as typed: never a span field (no full number in the logs).
#[tracing::instrument(skip(services, principal, meta, input, code), fields(account = %principal.account_id))]
pub async fn confirm_change(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    input: &str,
    code: &VerificationCode,
) -> AppResult<(String, String)> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let number = phone_binding::parse_new_number(&account.region, account.phone.as_deref(), input)?;
    // Checked before the code, so a session without a ticket spends no attempt.
    verification::require_ticket(services, principal, TicketPurpose::ChangePhone).await?;
    let flow = OwnerChange {
        principal,
        account: &account,
        number: &number,
    };
    let request = BindRequest {
        principal,
        meta,
        purpose: Purpose::NewPhone,
        account_id: &account.id,
        number: &number,
        code,
    };
    let token = phone_binding::bind(services, request, &flow).await?;
    tracing::info!("mobile phone number changed");
    Ok((number.masked(), token))
}

/// The masked targets the identity step offers.
pub async fn identity_options(
    services: &Services,
    principal: &Principal,
) -> AppResult<crate::model::IdentityOptions> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let calling_code = Region::parse(&account.region)
        .map(|r| r.calling_code())
        .unwrap_or_default();
    let ticket = {
        let mut conn = services.db.pool.acquire().await?;
        verification::live_ticket(&mut conn, services, principal, TicketPurpose::ChangePhone)
            .await?
    };
    let totp = totp::state(services, &account.id).await?;
    Ok(crate::model::IdentityOptions {
        masked_phone: account.phone.as_deref().map(mask_e164),
        masked_email: mask_email(&account.email),
        // Offered only where it is accepted: bound, not fresh, not locked.
        totp_bound: totp.bound && !totp.fresh && !totp.locked,
        region: account.region.clone(),
        calling_code,
        ticket_expires_in_secs: ticket.map(|t| t.seconds_left(services.now_ms())),
    })
}
