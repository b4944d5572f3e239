//! One file per page or dialog.

pub mod layout;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod resource_directory;
pub mod security;
