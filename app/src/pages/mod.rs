//! One file per page or dialog.

pub mod change_phone;
pub mod forgot_password;
pub mod identity;
pub mod layout;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod resource_directory;
pub mod security;
