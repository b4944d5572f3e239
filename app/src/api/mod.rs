//! Server functions only: parse the input, call one service, map the error.

pub mod access_keys;
pub mod account;
pub mod account_center;
pub mod appeals;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod ctx;
pub mod directory;
pub mod phone;
pub mod sso;
pub mod undo;
