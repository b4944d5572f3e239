//! Server functions only: parse the input, call one service, map the error.

pub mod account;
pub mod account_center;
pub mod auth;
pub mod phone;
#[cfg(feature = "ssr")]
pub mod ctx;
