//! Server functions only: parse the input, call one service, map the error.

pub mod account;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod ctx;
