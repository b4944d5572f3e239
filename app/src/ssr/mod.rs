//! Everything that runs only on the server: state, storage, services and delivery.

pub mod access_keys;
pub mod account;
pub mod appeal_decisions;
pub mod appeals;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod directory;
pub mod logon;
pub mod maintenance;
pub mod metrics;
pub mod outbox;
pub mod pace;
pub mod phone_binding;
pub mod phone_change;
pub mod rate;
pub mod recovery;
pub mod request;
pub mod seed;
pub mod session;
pub mod sms_guard;
pub mod sso;
pub mod state;
pub mod totp;
pub mod undo;
pub mod verification;

pub use state::Services;
