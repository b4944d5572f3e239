//! Types sent to the browser: views of the server's state, never its rows.

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

    pub fn label(&self) -> &'static str {
        match self {
            PrincipalKind::Owner => "Account owner",
            PrincipalKind::RamUser => "RAM user",
            PrincipalKind::RamRole => "RAM role",
            PrincipalKind::Sso => "SSO user",
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
}
