//! Binding a member's number: the code to the new number, then the one binding transaction.

use super::{MemberRow, Via, directory_of, find_member};
use crate::domain::{AccountId, PhoneNumber, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::i18n::{Locale, t, t_with};
use crate::model::{MemberType, MemberView};
use crate::ssr::Services;
use crate::ssr::outbox::Channel;
use crate::ssr::phone_binding::{self, AuditEntry, BindRequest, BindingFlow, Notice};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use crate::ssr::sms_guard::{self, Asker};
use crate::ssr::verification::{self, CodeRequest, Purpose, Requester, SentCode};
use sqlx::AnyConnection;

/// The rules of who may get which number, shared by the code request and the confirmation.
fn check_member_and_number(via: Via, row: &MemberRow, input: &str) -> AppResult<PhoneNumber> {
    if row.status != "active" {
        return Err(AppError::invalid("invalid-member-closed"));
    }
    if via == Via::Api {
        if row.member_type()? != MemberType::ResourceAccount {
            return Err(AppError::invalid("invalid-not-a-resource-account"));
        }
        if row.phone.is_some() {
            return Err(AppError::PhoneAlreadyBound);
        }
    }
    phone_binding::parse_new_number(&row.region, row.phone.as_deref(), input)
}

/// A request about a member's new number: who asks, from where and through what, for which
/// member, and the number as typed.
pub struct MemberNumber<'a> {
    principal: &'a Principal,
    meta: &'a RequestMeta,
    via: Via,
    account_id: &'a AccountId,
    input: &'a str,
}

impl<'a> MemberNumber<'a> {
    pub fn new(
        principal: &'a Principal,
        meta: &'a RequestMeta,
        via: Via,
        account_id: &'a AccountId,
        input: &'a str,
    ) -> Self {
        MemberNumber {
            principal,
            meta,
            via,
            account_id,
            input,
        }
    }

    /// The directory the principal administers and the member as it is now.
    async fn member(&self, services: &Services) -> AppResult<(&'a str, MemberRow)> {
        let directory = directory_of(self.principal)?;
        let mut conn = services.db.pool.acquire().await?;
        let row = find_member(&mut conn, directory, self.account_id).await?;
        Ok((directory, row))
    }

    /// The directory, the member as it is now, and the new number, checked against the member's rules.
    async fn check(&self, services: &Services) -> AppResult<(&'a str, MemberRow, PhoneNumber)> {
        let (directory, row) = self.member(services).await?;
        let number = check_member_and_number(self.via, &row, self.input)?;
        Ok((directory, row, number))
    }
}

/// Sends a code to the member's new number (`SendVerificationCodeForBindSecureMobilePhone`):
/// the number must be a mobile number of the member's registration region, not its current
/// one, and have room under the per-number cap. The code counts against the member's daily cap.
#[tracing::instrument(skip(services, request), fields(principal = %request.principal.name, member = %request.account_id, via = request.via.label()))]
pub async fn send_code(services: &Services, request: &MemberNumber<'_>) -> AppResult<SentCode> {
    let (_, row) = request.member(services).await?;
    let asker = Asker {
        purpose: Purpose::MemberPhone,
        account_id: &row.account_id,
        requester: Requester::of(request.principal),
        client_ip: &request.meta.client_ip,
    };
    let read = check_member_and_number(request.via, &row, request.input);
    let number =
        sms_guard::screen_typed(services, &asker, &row.region, request.input, read).await?;
    phone_binding::check_room(services, &number).await?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::MemberPhone,
            requester: Requester::of(request.principal),
            account_id: &row.account_id,
            target: number.e164(),
            channel: Channel::Sms,
            session_hash: &request.principal.session_hash,
            client_ip: &request.meta.client_ip,
            locale: crate::i18n::locale(),
        },
    )
    .await
}

/// The administrator's binding: the member is reread and its rules rechecked; the audit events
/// go on the member and on the management account; the member is told who changed its number.
struct AdminBind<'a> {
    request: &'a MemberNumber<'a>,
    directory: &'a str,
    number: &'a PhoneNumber,
}

impl BindingFlow for AdminBind<'_> {
    type Subject = MemberRow;

    async fn recheck(
        &self,
        conn: &mut AnyConnection,
        _services: &Services,
        _old: Option<&str>,
    ) -> AppResult<MemberRow> {
        let request = self.request;
        let current = find_member(conn, self.directory, request.account_id).await?;
        check_member_and_number(request.via, &current, request.input)?;
        Ok(current)
    }

    fn events(&self, member: &MemberRow, old: Option<&str>, change: &str) -> Vec<AuditEntry> {
        let action = if old.is_some() {
            "ModifyMemberMobilePhone"
        } else {
            "BindMemberMobilePhone"
        };
        let via = self.request.via.label();
        let principal = self.request.principal;
        vec![
            AuditEntry {
                action,
                subject_account_id: member.account_id.clone(),
                detail: format!(
                    "{change} (by {} of resource directory {}, via the {via}; SMS password recovery on hold)",
                    principal.name, self.directory
                ),
            },
            AuditEntry {
                action,
                subject_account_id: principal.account_id.clone(),
                detail: format!(
                    "member {} ({}): {change} (by {} of resource directory {}, via the {via})",
                    member.account_id, member.display_name, principal.name, self.directory
                ),
            },
        ]
    }

    fn notice(&self, member: &MemberRow, old: Option<&str>, locale: Locale) -> Notice {
        let key = if old.is_some() {
            "notice-admin-changed"
        } else {
            "notice-admin-set"
        };
        Notice {
            email: member.email.clone(),
            text: t_with(
                locale,
                key,
                &[
                    ("account", member.display_name.clone()),
                    ("id", member.account_id.clone()),
                    ("phone", self.number.masked()),
                    ("by", self.request.principal.name.clone()),
                    ("directory", self.directory.to_string()),
                ],
            ),
            not_you: t(locale, "notice-not-expected-admin"),
        }
    }
}

/// Binds or modifies the member's number (`BindSecureMobilePhone`) in the one binding
/// transaction, with an audit event on the member and on the management account.
#[tracing::instrument(skip(services, request, code), fields(principal = %request.principal.name, member = %request.account_id, via = request.via.label()))]
pub async fn bind_phone(
    services: &Services,
    request: &MemberNumber<'_>,
    code: &VerificationCode,
) -> AppResult<MemberView> {
    let (directory, row, number) = request.check(services).await?;
    let flow = AdminBind {
        request,
        directory,
        number: &number,
    };
    let binding = BindRequest {
        principal: request.principal,
        meta: request.meta,
        purpose: Purpose::MemberPhone,
        account_id: &row.account_id,
        number: &number,
        code,
    };
    let current = phone_binding::bind(services, binding, &flow).await?;
    let action = if current.phone.is_some() {
        "ModifyMemberMobilePhone"
    } else {
        "BindMemberMobilePhone"
    };
    tracing::info!(action, "member mobile phone number bound");
    let mut view = current.view()?;
    view.masked_phone = Some(number.masked());
    Ok(view)
}
