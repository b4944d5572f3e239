//! Types sent to the browser: views of the server's state, never its rows.

use crate::tr;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalKind {
    Owner,
    RamUser,
    RamRole,
    Sso,
}

impl PrincipalKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalKind::Owner => "owner",
            PrincipalKind::RamUser => "ram_user",
            PrincipalKind::RamRole => "ram_role",
            PrincipalKind::Sso => "sso",
        }
    }

    pub fn parse(value: &str) -> Option<PrincipalKind> {
        Some(match value {
            "owner" => PrincipalKind::Owner,
            "ram_user" => PrincipalKind::RamUser,
            "ram_role" => PrincipalKind::RamRole,
            "sso" => PrincipalKind::Sso,
            _ => return None,
        })
    }

    /// The badge in the header, in the page's language.
    pub fn localized(&self) -> String {
        match self {
            PrincipalKind::Owner => tr!("principal-owner"),
            PrincipalKind::RamUser => tr!("principal-ram-user"),
            PrincipalKind::RamRole => tr!("principal-ram-role"),
            PrincipalKind::Sso => tr!("principal-sso"),
        }
    }
}

/// Who is signed in, as the page needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub kind: PrincipalKind,
    pub name: String,
    pub account_id: String,
    pub account_name: String,
    pub can_manage_directory: bool,
    /// Roles this RAM user may switch to.
    pub switchable_roles: Vec<String>,
    /// A platform operator (an owner named by `APP_OPERATORS`): decides appeals.
    pub is_operator: bool,
}

impl Me {
    pub fn is_owner(&self) -> bool {
        self.kind == PrincipalKind::Owner
    }
}

/// The account as the Overview and Security Settings pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub account_id: String,
    pub display_name: String,
    pub alias: String,
    pub masked_email: String,
    pub masked_phone: Option<String>,
    pub region: String,
    pub calling_code: u16,
    pub totp_bound: bool,
    pub logon_protection: LogonProtection,
}

/// What sign-in asks for after the password (SPEC 4, "Logon protection"). Off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogonProtection {
    #[default]
    Off,
    /// A code from the bound authenticator.
    Totp,
    /// A code sent by SMS to the bound phone.
    Sms,
}

impl LogonProtection {
    pub fn as_str(&self) -> &'static str {
        match self {
            LogonProtection::Off => "off",
            LogonProtection::Totp => "totp",
            LogonProtection::Sms => "sms",
        }
    }

    pub fn parse(value: &str) -> Option<LogonProtection> {
        Some(match value {
            "off" => LogonProtection::Off,
            "totp" => LogonProtection::Totp,
            "sms" => LogonProtection::Sms,
            _ => return None,
        })
    }

    /// What the setting is called, in the page's language.
    pub fn localized(&self) -> String {
        match self {
            LogonProtection::Off => tr!("logon-off"),
            LogonProtection::Totp => tr!("logon-totp"),
            LogonProtection::Sms => tr!("logon-sms"),
        }
    }
}

/// The second sign-in step an account with logon protection asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInStep {
    pub method: LogonProtection,
    /// The bound phone, masked, where the SMS code goes.
    pub masked_phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChoice {
    pub account_id: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInReply {
    SignedIn,
    /// The number and password match several accounts: the user picks one.
    ChooseAccount(Vec<AccountChoice>),
    /// The password was right; the account's logon protection asks for a second step.
    SecondStep(SignInStep),
}

/// How the owner proves identity before a sensitive change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityMethod {
    Sms,
    Email,
    Totp,
}

impl IdentityMethod {
    pub fn parse(value: &str) -> Option<IdentityMethod> {
        Some(match value {
            "sms" => IdentityMethod::Sms,
            "email" => IdentityMethod::Email,
            "totp" => IdentityMethod::Totp,
            _ => return None,
        })
    }
}

/// What the identity step of the change flow offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityOptions {
    pub masked_phone: Option<String>,
    pub masked_email: String,
    pub totp_bound: bool,
    pub region: String,
    pub calling_code: u16,
    /// Seconds left on this session's live change ticket, when it holds one: the identity step
    /// is then skipped, and the new-number step counts them down.
    pub ticket_expires_in_secs: Option<i64>,
}

/// The answer to a code request: when the code dies, and when the button may be pressed again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSent {
    pub expires_in_secs: i64,
    pub resend_after_secs: i64,
    /// Where the code went, masked.
    pub sent_to: String,
}

/// A new authenticator's secret, shown once while binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealView {
    pub reference: String,
    pub masked_phone: String,
    pub status: String,
    pub created_at: String,
}

/// How an appeal's status reads (`appeals.status`): `submitted`, `information requested` …, in
/// the language of the page.
pub fn appeal_status_label(status: &str) -> String {
    match status {
        "submitted" => tr!("appeal-status-submitted"),
        "info_requested" => tr!("appeal-status-info-requested"),
        "answered" => tr!("appeal-status-answered"),
        "rejected" => tr!("appeal-status-rejected"),
        "approved" => tr!("appeal-status-approved"),
        _ => tr!("appeal-status-unknown"),
    }
}

/// One step in an appeal's history: filed, information requested, answered, rejected, approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealStepView {
    pub at: String,
    /// Who took it, as the reader may see it: the filer, or the operator (named to operators only).
    pub by: String,
    /// `submitted`, `information requested` … (`appeal_status_label` of the status it set).
    pub what: String,
    /// The question, the answer or the reason, as typed ("" for the filing and an approval).
    pub message: String,
}

/// An open appeal as an operator's queue shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedAppeal {
    pub reference: String,
    pub account_id: String,
    pub account_name: String,
    /// The account's number today, masked (None: no number bound).
    pub current_phone: Option<String>,
    /// The number asked for, in full (E.164): the operator checks it.
    pub new_phone: String,
    pub contact_email: String,
    pub reason: String,
    pub filed_at: String,
    /// The status label (`submitted`, `answered`).
    pub status: String,
    pub history: Vec<AppealStepView>,
}

/// One appeal as its filer's status page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealDetails {
    pub reference: String,
    pub masked_phone: String,
    pub masked_contact: String,
    pub reason: String,
    pub filed_at: String,
    /// The status label.
    pub status: String,
    /// The operator's question while it waits for the filer's answer.
    pub question: Option<String>,
    pub history: Vec<AppealStepView>,
}

/// Whether an undo link can still undo its change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UndoState {
    Ready,
    /// Used, or voided by another undo of the account.
    Used,
    Expired,
    /// The account's number changed again since, or a later change has a link of its own.
    Superseded,
}

/// The change an undo link names, masked: what its page shows before the one confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoView {
    pub display_name: String,
    pub previous_phone: String,
    pub new_phone: String,
    pub changed_by: String,
    pub changed_at: String,
    pub expires_at: String,
    pub state: UndoState,
}

/// Events on one page of the Security Settings log.
pub const SECURITY_LOG_PAGE: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub principal: String,
    pub action: String,
    pub client_ip: String,
    pub outcome: String,
    pub detail: String,
}

/// The two kinds of member of a resource directory (SPEC 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberType {
    /// Created in the directory.
    ResourceAccount,
    /// An existing account invited in.
    CloudAccount,
}

impl MemberType {
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberType::ResourceAccount => "resource_account",
            MemberType::CloudAccount => "cloud_account",
        }
    }

    pub fn parse(value: &str) -> Option<MemberType> {
        match value {
            "resource_account" => Some(MemberType::ResourceAccount),
            "cloud_account" => Some(MemberType::CloudAccount),
            _ => None,
        }
    }

    /// The member's type, in the page's language.
    pub fn localized(&self) -> String {
        match self {
            MemberType::ResourceAccount => tr!("member-type-resource"),
            MemberType::CloudAccount => tr!("member-type-cloud"),
        }
    }
}

/// The orders the member list offers; each one is served by an index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberSort {
    #[default]
    DisplayName,
    AccountId,
    JoinedAt,
}

impl MemberSort {
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberSort::DisplayName => "name",
            MemberSort::AccountId => "id",
            MemberSort::JoinedAt => "joined",
        }
    }

    pub fn parse(value: &str) -> Option<MemberSort> {
        match value {
            "" | "name" => Some(MemberSort::DisplayName),
            "id" => Some(MemberSort::AccountId),
            "joined" => Some(MemberSort::JoinedAt),
            _ => None,
        }
    }
}

/// A folder of the directory, with its own members and those of everything below it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderView {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub depth: i64,
    pub members: i64,
    pub total_members: i64,
}

/// The folder tree, parents before children, siblings by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryView {
    pub directory_id: String,
    pub folders: Vec<FolderView>,
}

/// One member as the lists and the details page show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub account_id: String,
    pub display_name: String,
    pub member_type: MemberType,
    pub folder_id: String,
    pub folder_name: String,
    pub masked_phone: Option<String>,
    pub status: String,
    pub region: String,
    pub calling_code: u16,
    pub joined_at: String,
}

/// A page of the member list. `total` counts the members that match, exactly when
/// `total_exact`; otherwise it is a lower bound (counting stops a fixed number past the page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPage {
    pub members: Vec<MemberView>,
    pub total: i64,
    pub total_exact: bool,
    pub offset: i64,
    pub limit: i64,
}

/// The member details page: the member, its masked logon email and its folder path from the root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDetails {
    pub member: MemberView,
    pub masked_email: String,
    pub folder_path: Vec<String>,
}
