//! Binding a member's number: the code to the new number, then the one binding transaction.

use super::{MemberRow, NOT_A_RESOURCE_ACCOUNT, Via, directory_of, find_member};
use crate::domain::{AccountId, PhoneNumber, VerificationCode};
use crate::error::{AppError, AppResult};
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
        return Err(AppError::invalid("The member account is closed."));
    }
    if via == Via::Api {
        if row.member_type()? != MemberType::ResourceAccount {
            return Err(AppError::invalid(NOT_A_RESOURCE_ACCOUNT));
        }
        if row.phone.is_some() {
            return Err(AppError::PhoneAlreadyBound);
        }
    }
    phone_binding::parse_new_number(&row.region, row.phone.as_deref(), input)
}

/// Sends a code to the member's new number (`SendVerificationCodeForBindSecureMobilePhone`):
/// the number must be a mobile number of the member's registration region, not its current
/// one, and have room under the per-number cap. The code counts against the member's daily cap.
#[tracing::instrument(skip(services, principal, meta, account_id, input), fields(principal = %principal.name, member = %account_id, via = via.label()))]
pub async fn send_code(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    via: Via,
    account_id: &AccountId,
    input: &str,
) -> AppResult<SentCode> {
    let directory = directory_of(principal)?;
    let row = {
        let mut conn = services.db.pool.acquire().await?;
        find_member(&mut conn, directory, account_id).await?
    };
    let asker = Asker {
        purpose: Purpose::MemberPhone,
        account_id: &row.account_id,
        requester: Requester::of(principal),
        client_ip: &meta.client_ip,
    };
    let read = check_member_and_number(via, &row, input);
    let number = sms_guard::screen_typed(services, &asker, &row.region, input, read).await?;
    phone_binding::check_room(services, &number).await?;
    verification::send_code(
        services,
        CodeRequest {
            purpose: Purpose::MemberPhone,
            requester: Requester::of(principal),
            account_id: &row.account_id,
            target: number.e164(),
            channel: Channel::Sms,
            session_hash: &principal.session_hash,
            client_ip: &meta.client_ip,
        },
    )
    .await
}

/// The administrator's binding: the member is reread and its rules rechecked; the audit events
/// go on the member and on the management account; the member is told who changed its number.
struct AdminBind<'a> {
    principal: &'a Principal,
    directory: &'a str,
    via: Via,
    account_id: &'a AccountId,
    input: &'a str,
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
        let current = find_member(conn, self.directory, self.account_id).await?;
        check_member_and_number(self.via, &current, self.input)?;
        Ok(current)
    }

    fn events(&self, member: &MemberRow, old: Option<&str>, change: &str) -> Vec<AuditEntry> {
        let action = if old.is_some() {
            "ModifyMemberMobilePhone"
        } else {
            "BindMemberMobilePhone"
        };
        let via = self.via.label();
        vec![
            AuditEntry {
                action,
                subject_account_id: member.account_id.clone(),
                detail: format!(
                    "{change} (by {} of resource directory {}, via the {via}; SMS password recovery on hold)",
                    self.principal.name, self.directory
                ),
            },
            AuditEntry {
                action,
                subject_account_id: self.principal.account_id.clone(),
                detail: format!(
                    "member {} ({}): {change} (by {} of resource directory {}, via the {via})",
                    member.account_id, member.display_name, self.principal.name, self.directory
                ),
            },
        ]
    }

    fn notice(&self, member: &MemberRow, old: Option<&str>) -> Notice {
        Notice {
            email: member.email.clone(),
            text: format!(
                "The mobile phone number of your account {} ({}) was {} {} by {}, an administrator of the resource directory {}. \
                 Not you? Contact your directory administrator at once.",
                member.display_name,
                member.account_id,
                if old.is_some() {
                    "changed to"
                } else {
                    "set to"
                },
                self.number.masked(),
                self.principal.name,
                self.directory,
            ),
        }
    }
}

/// Binds or modifies the member's number (`BindSecureMobilePhone`) in the one binding
/// transaction, with an audit event on the member and on the management account.
#[tracing::instrument(skip(services, principal, meta, account_id, input, code), fields(principal = %principal.name, member = %account_id, via = via.label()))]
pub async fn bind_phone(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    via: Via,
    account_id: &AccountId,
    input: &str,
    code: &VerificationCode,
) -> AppResult<MemberView> {
    let directory = directory_of(principal)?;
    let row = {
        let mut conn = services.db.pool.acquire().await?;
        find_member(&mut conn, directory, account_id).await?
    };
    let number = check_member_and_number(via, &row, input)?;
    let flow = AdminBind {
        principal,
        directory,
        via,
        account_id,
        input,
        number: &number,
    };
    let request = BindRequest {
        principal,
        meta,
        purpose: Purpose::MemberPhone,
        account_id: &row.account_id,
        number: &number,
        code,
    };
    let current = phone_binding::bind(services, request, &flow).await?;
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
