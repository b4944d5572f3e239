//! One file per page or dialog. Pages render on the server; the parts a user acts on are
//! islands (`#[island]`), hydrated in the browser. An island used on one page only is
//! `#[island(lazy)]`: its code is a WASM chunk of its own, fetched when a page shows it.

pub mod appeal_status;
pub mod change_phone;
pub mod forgot_password;
pub mod identity;
pub mod layout;
pub mod login;
pub mod not_found;
pub mod operator_appeals;
pub mod overview;
pub mod ram_users;
pub mod resource_directory;
pub mod security;
pub mod sso;
pub mod undo;
