//! The server's HTTP-level tests: one test binary (`cargo test -p server`, target `api`), one
//! module per area of the product, all on one harness.
//!
//! # Where things are
//!
//! | module | what it tests |
//! |---|---|
//! | `foundation` | sign-in, sessions, roles, the development routes |
//! | `account_center` | SPEC 3 and 4: identity step, new number, TOTP, appeals, the security log |
//! | `directory` | SPEC 5: Resource Management, binding members, the automation API |
//! | `delivery` | the real SMS and SMTP senders against stand-ins; `never_twice`: a lost answer is looked up, not resent |
//! | `clean_up` | the periodic clean-up: expired rows kept for their history, then deleted; a waiting message never (issue 15, item 4) |
//! | `database_gone` | a database that cannot write answers 503 with `Retry-After` and recovers (issue 15, item 5) |
//! | `security` | issue 5's checks: sessions, CSRF, cookies, codes, enumeration, logs |
//! | `crafted_requests` | every endpoint against malformed, oversized and hostile input |
//! | `multi_instance` | two real `server` processes on one database: races, crashes, outages; `failover`: a PostgreSQL primary killed under load (issue 15) |
//! | `operations` | `/metrics`, `/healthz`, `/readyz`, JSON logs (issue 13, item 6) |
//! | `sms_pumping` | the SMS-pumping guard: number types, allow lists, the prefix cap, the country breaker |
//! | `sso` | Enterprise SSO against a real OpenID Connect provider (`tests/oidc`, Node.js) |
//! | `appeal_decisions` | issue 14, item 8: the operator's appeal queue, asking, answering, rejecting, approving (the binding, its notices, the SMS hold), races of two operators |
//! | `languages` | issue 14, item 1: English and Simplified Chinese, from the owner's setting, the switcher's cookie or `Accept-Language`; codes and notices in the owner's language |
//! | `undo` | the "Not you?" link of a change notice: the takeover undone, stale, expired, raced links |
//!
//! # The helpers (`helpers`, also reachable as `crate::common`)
//!
//! - `helpers` (in-process): `spawn()`, `spawn_with(|config| …)` start the app on port 0 with a
//!   fresh database (`APP_TEST_BACKEND` = `sqlite` | `postgres`) and a `ManualClock`;
//!   `spawn_as(account)` adds a session; `production` and `deliver_to(…)` are settings for
//!   `spawn_with`; `TestApp::{call, get, page, get_json, url, sign_in, latest_code, outbox_count,
//!   phone_of, count, events, event_details, bindings_of, challenge_attempts, sessions_of, now,
//!   stop}`; `Reply::{ok, err, session_token}`, `refused_with(replies, error)`; `PASSWORD`;
//!   `backend()`; `result(line)` (a `RESULT [backend]` line for the report); `set_cookie(&response)`,
//!   `cookie_starting(headers, prefix)`, `cookie_value(set_cookie)`, `csp_of(headers, what)`;
//!   `TestDb`.
//! - `helpers::steps` — the trait `Steps`, implemented by `TestApp` and by `Cluster::via(i)`
//!   (`use crate::helpers::{Method, Steps};`): `sign_in_with(account, password, token)`,
//!   `signed_in(account)`, `signed_in_from(token, account)`, `me(token)`,
//!   `identity_options(token)`, `send_identity_code(token, Method)`, `verify_identity(token, Method, code)`,
//!   `identity_code(token, Method, to)`, `identity_by(token, Method, to)`,
//!   `identity_by_sms(token, phone)`, `identity_by_email(token, email)`,
//!   `identity_by_totp(token, code)`, `verified_by_sms(account, phone)`, `code_for(to)`,
//!   `check_new_phone`, `send_new_phone_code(token, number)`,
//!   `confirm_phone_change(token, number, code)`, `change_number(token, number)`,
//!   `send_appeal_code(token, contact)`, `appeal_code(token, contact)`,
//!   `file_appeal(token, new_phone, contact, reason, code)`,
//!   `rd_send_code(token, member, phone)`, `rd_code(token, member, phone)`,
//!   `rd_bind_phone(token, member, phone, code)`,
//!   `bind_member(token, member, phone)`, `bind_member_typed(token, member, typed, e164)`.
//!   A step that can be refused returns the `Reply`; the composite ones expect success.
//! - `helpers::fixtures` — the demo ids and numbers (`ALICE_PHONE`, `SANDBOX`, `GLOBEX_ID` …),
//!   SPEC 4's `BLOCKED` text, `add_second_directory`, `spawn_with_second_directory`, `api` and
//!   its operations `SEND_OP`, `BIND_OP` (the automation API), `raw_post`, `form_body`,
//!   `appeal_without_code`, `sso_token`, `role_token`, `non_owner_sessions`, `totp_at`,
//!   `wrong_code`.
//! - `helpers::metrics` — `TestApp::scrape()` (`GET /metrics`, open in development on loopback)
//!   and `Scrape::{parse, get, count, all, report_lines}` over its samples.
//! - `helpers::processes` — `Cluster::{start, start_n, start_on, target, call, via, sign_in, latest_code,
//!   scalar, count, phone_of, bindings_of, insert_owners, assert_binding_counts_consistent,
//!   assert_logs_keep_secrets}`, `Owner::cn`, `Instance::{kill9, restart, log}`, `Target::{call, try_call}`,
//!   the SMS and SMTP stand-ins, `snapshot`/`assert_same`, `server_fn_endpoints`. The processes
//!   run the `server` binary cargo builds for this test target (`CARGO_BIN_EXE_server`), or
//!   `APP_TEST_SERVER_BIN` when set (a target directory shared by several checkouts holds the
//!   `server` of whichever built last).
//! - `helpers::ha` — `HaPostgres::{start, admin_url, primary_to_crash, state}` (a pg_auto_failover
//!   monitor, primary and standby from `scripts/ha-postgres.sh`; `Err` = skip, with the reason),
//!   `Crash::now` (`kill -9` of the primary), `Router::{primary, switches}` (the read-write router
//!   in front, since sqlx takes one host); `TestDb::create_on(admin_url)` makes a database there.
//! - `helpers::smtp` — the relay side of every SMTP stand-in: `start(limit, keep)` answers each
//!   sender and hands `keep` every message it receives.
//!
//! # Adding a test module
//!
//! Put `server/tests/api/<area>.rs` (or `<area>/mod.rs` with sub-modules, when it grows past
//! about 900 lines) and declare it below with `mod <area>;`. A file written as its own test
//! binary against `mod common;` moves in by replacing `mod common;` with `use crate::common;`
//! and `#[path = "common/processes.rs"] mod processes;` with `use crate::common::processes;`;
//! its `common::…` paths then work as before. Nothing goes into `Cargo.toml`: cargo finds this
//! file as the test target `api`, and there are no other top-level test files.
//!
//! Everything runs in one process: a test that installs a global tracing subscriber
//! (`security::logs`) sees the logs of every test running beside it.

mod helpers;
// The name the test files had as separate binaries (`mod common;`), for the files moving in.
#[allow(unused_imports)]
use helpers as common;

mod account_center;
mod appeal_decisions;
mod attacks_appeals;
mod attacks_recovery;
mod attacks_signin;
mod attacks_totp;
mod automation_sdk;
mod clean_up;
mod crafted_requests;
mod database_gone;
mod delivery;
mod directory;
mod foundation;
mod languages;
mod logon_protection;
mod multi_instance;
mod operations;
mod security;
mod sms_pumping;
mod sso;
mod undo;
