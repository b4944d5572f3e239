//! Types parsed once at the edge; everything inside takes them, never a bare `String`.

pub mod account_id;
pub mod code;
pub mod email;
pub mod mask;
#[cfg(feature = "ssr")]
pub mod member_search;
#[cfg(feature = "ssr")]
pub mod phone;
#[cfg(test)]
mod proptests;

pub use account_id::AccountId;
pub use code::VerificationCode;
pub use email::Email;
#[cfg(feature = "ssr")]
pub use member_search::MemberSearch;
#[cfg(feature = "ssr")]
pub use phone::{PhoneNumber, Region};
