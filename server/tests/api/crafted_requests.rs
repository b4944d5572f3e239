//! Bad input at every door: each server function (every `#[server(endpoint = …)]` of
//! `app/src/api/*.rs`) and each `/api/v1` operation gets malformed, oversized (1 MB),
//! wrong-typed, missing, duplicated and random fields, with the session of a caller allowed to
//! use it, so the input is read past the session check. Every request is answered (no panic, no
//! reset connection) with a clear refusal: a server function's `AppError` as JSON that is not
//! "Something went wrong", an API operation's 4xx `{"Code", "Message", "RequestId"}`. Nothing in
//! the database changes: accounts, numbers and their counts, audit events, outbox, challenges,
//! tickets, appeals and sessions are the same before and after.

use crate::helpers;
use crate::helpers::processes;

use app::error::AppError;
use helpers::fixtures::SANDBOX;
use helpers::{TestApp, spawn, spawn_as};
use processes::{assert_same, snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MB: usize = 1024 * 1024;

/// Who calls an endpoint here: someone allowed to use it, so the input is what is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Nobody,
    Owner,
    RamUser,
    Admin,
    /// The demo platform operator (appeal decisions).
    Operator,
}

struct Endpoint {
    name: &'static str,
    caller: Caller,
    /// Every field, each with a baseline value: harmless together (nothing is sent, bound,
    /// filed or signed in), so that one crafted field at a time is what the endpoint reads.
    fields: &'static [(&'static str, &'static str)],
    /// A success is a fine answer: the call only reads, or answers alike whatever the input
    /// (forgot password), or ignores a body it does not read (no fields).
    may_succeed: bool,
}

const fn ep(
    name: &'static str,
    caller: Caller,
    fields: &'static [(&'static str, &'static str)],
    may_succeed: bool,
) -> Endpoint {
    Endpoint {
        name,
        caller,
        fields,
        may_succeed,
    }
}

use Caller::*;

#[rustfmt::skip]
const ENDPOINTS: &[Endpoint] = &[
    // account.rs
    ep("account", Owner, &[], true),
    // account_center.rs (Alice has an authenticator and no pending enrollment or ticket)
    ep("totp_begin", Owner, &[], false),
    ep("totp_confirm", Owner, &[("code", "123456")], false),
    ep("totp_unbind", Owner, &[], false),
    ep("forgot_password", Nobody, &[("account", "nobody@example.com")], true),
    ep("reset_password", Nobody, &[("account", "bob@example.com"), ("code", "123456"), ("new_password", "New-pass-456")], false),
    ep("send_appeal_code", Owner, &[("contact_email", "not-an-email")], false),
    ep("file_appeal", Owner, &[("new_phone", "13512345678"), ("contact_email", "not-an-email"), ("reason", "lost"), ("code", "123456")], false),
    ep("appeals", Owner, &[], true),
    // appeals.rs (no appeal has that reference: nothing is asked, decided or answered)
    ep("operator_appeals", Operator, &[], true),
    ep("appeal_request_info", Operator, &[("reference", "AP000000000000"), ("message", "why")], false),
    ep("appeal_reject", Operator, &[("reference", "AP000000000000"), ("reason", "no")], false),
    ep("appeal_approve", Operator, &[("reference", "AP000000000000")], false),
    ep("appeal_status", Owner, &[("reference", "AP000000000000")], false),
    ep("appeal_answer", Owner, &[("reference", "AP000000000000"), ("answer", "here")], false),
    // access_keys.rs
    ep("ram_users", Owner, &[], true),
    ep("create_access_key", Owner, &[("user_id", "999999")], false),
    ep("set_access_key_active", Owner, &[("key_id", "LTAI0000000000000000"), ("active", "false")], false),
    ep("delete_access_key", Owner, &[("key_id", "LTAI0000000000000000")], false),
    ep("security_log", Owner, &[("before", "100")], true),
    // sso.rs (no provider answers at the baseline issuer, and Bob has no SSO: nothing is saved or started)
    ep("sso_settings", Owner, &[], true),
    ep("save_sso_settings", Owner, &[("issuer_url", "http://127.0.0.1:9"), ("client_id", "console"), ("client_secret", "secret"), ("user_claim", "email"), ("directory_access", "on")], false),
    ep("delete_sso_settings", Owner, &[], true),
    ep("sso_begin", Nobody, &[("alias", "bob")], false),
    // auth.rs
    ep("sign_in", Nobody, &[("account", "alice@example.com"), ("password", "Wrong-pass-999"), ("account_id", "")], false),
    ep("sign_out", Nobody, &[], true),
    ep("sign_in_send_code", Nobody, &[], false),
    ep("sign_in_verify", Nobody, &[("code", "123456")], false),
    ep("logon_protection", Owner, &[("setting", "off")], false),
    ep("me", Owner, &[], true),
    ep("switch_role", RamUser, &[("role", "no-such-role")], false),
    // account.rs: the switcher may be used signed out, and remembers a choice it may keep
    ep("set_language", Owner, &[("language", "fr")], false),
    // directory.rs
    ep("rd_tree", Admin, &[], true),
    ep("rd_members", Admin, &[("search", ""), ("folder", ""), ("sort", "name"), ("order", "asc"), ("offset", "0"), ("limit", "20")], true),
    ep("rd_member", Admin, &[("account_id", SANDBOX)], true),
    ep("rd_member_events", Admin, &[("account_id", SANDBOX)], true),
    ep("rd_send_code", Admin, &[("account_id", SANDBOX), ("phone", "12345")], false),
    ep("rd_bind_phone", Admin, &[("account_id", SANDBOX), ("phone", "+8613100131000"), ("code", "123456")], false),
    // phone.rs
    ep("identity_options", Owner, &[], true),
    ep("send_identity_code", Owner, &[("method", "fax"), ("intent", "change_phone")], false),
    ep("verify_identity", Owner, &[("method", "email"), ("code", "123456"), ("intent", "change_phone")], false),
    ep("check_new_phone", Owner, &[("number", "13512345678")], true),
    ep("send_new_phone_code", Owner, &[("number", "13512345678")], false),
    ep("confirm_phone_change", Owner, &[("number", "13512345678"), ("code", "123456")], false),
    // undo.rs (no link was ever sent: nothing to describe or undo)
    ep("undo_link", Nobody, &[("token", "0123456789abcdef0123456789abcdef")], false),
    ep("undo_change", Nobody, &[("token", "0123456789abcdef0123456789abcdef")], false),
];

/// Values no field should take: empty, blank, control characters, digits of other scripts,
/// injections, markup, signs and numbers out of range, JSON where text is expected.
const JUNK: &[&str] = &[
    "",
    "   ",
    "\u{0}",
    "\u{7}\u{1b}[31m\r\n",
    "１２３４５６",
    "٠١٢٣٤٥",
    "' OR '1'='1' --",
    "%00",
    "<script>alert(1)</script>",
    "\u{202e}654321",
    "😀😀😀",
    "-1",
    "99999999999999999999999",
    "1e3",
    "null",
    "[1,2]",
    "{\"a\":1}",
    "true",
    "+86 138'; DROP TABLE accounts;--",
];

struct Tokens {
    owner: String,
    ram: String,
    admin: String,
    operator: String,
}

impl Tokens {
    async fn new(app: &TestApp) -> Tokens {
        Tokens {
            owner: app.sign_in("alice@example.com").await,
            ram: app.sign_in("dev@alice").await,
            admin: app.sign_in("rd-admin@acme").await,
            operator: app.sign_in(app::ssr::seed::DEMO_OPERATOR_EMAIL).await,
        }
    }

    fn of(&self, caller: Caller) -> Option<&str> {
        match caller {
            Nobody => None,
            Owner => Some(&self.owner),
            RamUser => Some(&self.ram),
            Admin => Some(&self.admin),
            Operator => Some(&self.operator),
        }
    }
}

/// One crafted request: a raw body with its content type.
struct Crafted {
    label: String,
    content_type: &'static str,
    body: Vec<u8>,
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn form<K: AsRef<str>>(pairs: &[(K, String)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k.as_ref()), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn crafted_for(endpoint: &Endpoint) -> Vec<Crafted> {
    let urlencoded = "application/x-www-form-urlencoded";
    let baseline: Vec<(&str, String)> = endpoint
        .fields
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    let with = |name: &str, value: String| -> Vec<(&str, String)> {
        baseline
            .iter()
            .map(|(k, v)| (*k, if *k == name { value.clone() } else { v.clone() }))
            .collect()
    };
    let mut out = vec![
        Crafted {
            label: "empty body".into(),
            content_type: urlencoded,
            body: Vec::new(),
        },
        Crafted {
            label: "invalid UTF-8".into(),
            content_type: urlencoded,
            body: b"\xff\xfe=\xfa\xfb&code=\xc3\x28".to_vec(),
        },
        Crafted {
            label: "bad percent escapes".into(),
            content_type: urlencoded,
            body: b"%ZZ=%&%%%=%G0&=&==".to_vec(),
        },
        Crafted {
            label: "separators only".into(),
            content_type: urlencoded,
            body: "&".repeat(MB).into_bytes(),
        },
        Crafted {
            label: "1 MB unknown field".into(),
            content_type: urlencoded,
            body: format!("junk={}", "x".repeat(MB)).into_bytes(),
        },
        Crafted {
            label: "JSON where a form is expected".into(),
            content_type: "application/json",
            body: serde_json::to_vec(
                &endpoint
                    .fields
                    .iter()
                    .map(|(k, _)| (k.to_string(), json!([1, {"x": null}])))
                    .collect::<serde_json::Map<_, _>>(),
            )
            .unwrap(),
        },
        Crafted {
            label: "multipart with a made-up boundary".into(),
            content_type: "multipart/form-data; boundary=zzz",
            body: b"--zzz\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n1\r\n--zz"
                .to_vec(),
        },
        Crafted {
            label: "plain text".into(),
            content_type: "text/plain",
            body: b"hello".to_vec(),
        },
    ];
    for (name, _) in endpoint.fields {
        let missing: Vec<(&str, String)> = baseline
            .iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect();
        out.push(Crafted {
            label: format!("{name} missing"),
            content_type: urlencoded,
            body: form(&missing),
        });
        for (filler, what) in [("A", "letters"), ("9", "digits")] {
            out.push(Crafted {
                label: format!("{name} 1 MB of {what}"),
                content_type: urlencoded,
                body: form(&with(name, filler.repeat(MB))),
            });
        }
        for junk in JUNK {
            out.push(Crafted {
                label: format!("{name} = {junk:?}"),
                content_type: urlencoded,
                body: form(&with(name, junk.to_string())),
            });
        }
        let mut twice = baseline.clone();
        twice.push((name, "123456".to_string()));
        out.push(Crafted {
            label: format!("{name} twice"),
            content_type: urlencoded,
            body: form(&twice),
        });
    }
    out
}

/// Sends one raw request to a server function; `Err` when no answer came back.
async fn send_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let mut request = app
        .http
        .post(app.url(path))
        .header("Origin", &app.base)
        .header("Accept", "application/json")
        .header("Content-Type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.header("Cookie", format!("__Host-session={token}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("the answer broke off: {e:?}"))?;
    Ok((status, text))
}

/// What is wrong with a server function's answer to a crafted request, if anything.
fn judge_server_fn(
    endpoint: &Endpoint,
    answer: &Result<(u16, String), String>,
    seen: &mut BTreeMap<String, usize>,
) -> Option<String> {
    let key = match answer {
        Ok((status, _)) if *status < 300 => "success".to_string(),
        Ok((_, body)) => serde_json::from_str::<AppError>(body)
            .map(|e| e.code().to_string())
            .unwrap_or_else(|_| "not JSON".into()),
        Err(_) => "no answer".into(),
    };
    *seen.entry(key).or_default() += 1;
    let (status, body) = match answer {
        Err(e) => return Some(e.clone()),
        Ok(answer) => answer,
    };
    if *status < 300 {
        return (!endpoint.may_succeed).then(|| format!("accepted ({status}): {}", short(body)));
    }
    if *status < 400 {
        return Some(format!("answered {status}"));
    }
    match serde_json::from_str::<AppError>(body) {
        Err(_) => Some(format!(
            "{status} without an error as JSON: {}",
            short(body)
        )),
        Ok(AppError::Internal) => Some(format!("{status} Internal (\"Something went wrong\")")),
        Ok(AppError::Transport(detail)) => Some(format!(
            "{status} Transport ({detail:?}): says the network failed"
        )),
        Ok(error) if error.to_string().trim().is_empty() => {
            Some(format!("{status} {error:?} with an empty message"))
        }
        Ok(error) if *status != error.status() => Some(format!(
            "{status} for {error:?}, whose status is {}",
            error.status()
        )),
        Ok(_) if body.len() > 2048 => Some(format!(
            "{status}: an answer of {} bytes echoes the input",
            body.len()
        )),
        Ok(_) => None,
    }
}

/// None of the `sent` requests (`what` they were) was mishandled, and the database is as it
/// was `before` them.
async fn assert_none_mishandled(
    app: &TestApp,
    problems: &[String],
    sent: usize,
    what: &str,
    before: &[String],
) {
    assert!(
        problems.is_empty(),
        "{} of {sent} {what} were mishandled:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_same(before, &snapshot(&app.services.db.pool).await);
}

/// The server still answers its health check.
async fn assert_still_up(app: &TestApp) {
    assert_eq!(
        app.get("/healthz", None).await.status().as_u16(),
        200,
        "the server is still up"
    );
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

#[tokio::test]
async fn the_list_of_server_functions_is_complete() {
    let found: Vec<String> = processes::server_fn_endpoints()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut listed: Vec<String> = ENDPOINTS.iter().map(|e| e.name.to_string()).collect();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    listed.sort();
    assert_eq!(
        found_sorted, listed,
        "a server function is missing from this test (or gone from the app)"
    );
}

#[tokio::test]
async fn every_server_function_refuses_malformed_oversized_and_missing_fields_clearly() {
    let app = spawn().await;
    let tokens = Tokens::new(&app).await;
    let before = snapshot(&app.services.db.pool).await;
    let mut problems = Vec::new();
    let mut sent = 0;
    let mut seen = BTreeMap::new();
    for endpoint in ENDPOINTS {
        for crafted in crafted_for(endpoint) {
            let path = format!("/api/{}", endpoint.name);
            let answer = send_raw(
                &app,
                &path,
                tokens.of(endpoint.caller),
                crafted.content_type,
                crafted.body,
            )
            .await;
            sent += 1;
            if let Some(problem) = judge_server_fn(endpoint, &answer, &mut seen) {
                problems.push(format!("{} [{}]: {problem}", endpoint.name, crafted.label));
            }
        }
    }
    assert_still_up(&app).await;
    assert_none_mishandled(&app, &problems, sent, "crafted requests", &before).await;
    helpers::result(&format!(
        "crafted requests to {} server functions: {sent} answered clearly ({seen:?}), database unchanged",
        ENDPOINTS.len()
    ));
    app.stop().await;
}

/// Random bodies (well-formed forms of random text, and raw random bytes) to every server
/// function, from a fixed seed so a failure repeats: the same rules as the crafted ones.
#[tokio::test]
async fn random_payloads_never_break_a_server_function() {
    let seed: u64 = std::env::var("FUZZ_SEED").map_or(0x5eed_2026, |s| s.parse().unwrap());
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn().await;
    let tokens = Tokens::new(&app).await;
    let before = snapshot(&app.services.db.pool).await;
    let alphabet: Vec<char> =
        "0123456789abcXYZ+-_ .@%&=#?/\\'\"()[]{}<>\u{0}\u{1f}\u{7f}\u{a0}é中٣１😀\u{202e}\u{fffd}"
            .chars()
            .collect();
    let mut problems = Vec::new();
    let mut sent = 0;
    let mut seen = BTreeMap::new();
    for endpoint in ENDPOINTS {
        for _ in 0..24 {
            let (content_type, body) = if rng.gen_bool(0.7) {
                let pairs: Vec<(String, String)> = (0..rng.gen_range(0..6))
                    .map(|_| {
                        let key = if !endpoint.fields.is_empty() && rng.gen_bool(0.8) {
                            endpoint.fields[rng.gen_range(0..endpoint.fields.len())]
                                .0
                                .to_string()
                        } else {
                            (0..rng.gen_range(0..8))
                                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                                .collect()
                        };
                        let len = if rng.gen_bool(0.05) {
                            rng.gen_range(1000..70_000)
                        } else {
                            rng.gen_range(0..40)
                        };
                        let value: String = (0..len)
                            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                            .collect();
                        (key, value)
                    })
                    .collect();
                ("application/x-www-form-urlencoded", form(&pairs))
            } else {
                let len = rng.gen_range(0..300);
                (
                    "application/x-www-form-urlencoded",
                    (0..len).map(|_| rng.r#gen::<u8>()).collect(),
                )
            };
            let summary = String::from_utf8_lossy(&body)
                .chars()
                .take(120)
                .collect::<String>();
            let answer = send_raw(
                &app,
                &format!("/api/{}", endpoint.name),
                tokens.of(endpoint.caller),
                content_type,
                body,
            )
            .await;
            sent += 1;
            if let Some(problem) = judge_server_fn(endpoint, &answer, &mut seen) {
                problems.push(format!("{} [{summary:?}]: {problem}", endpoint.name));
            }
        }
    }
    assert_still_up(&app).await;
    let what = format!("random requests (seed {seed})");
    assert_none_mishandled(&app, &problems, sent, &what, &before).await;
    helpers::result(&format!(
        "random payloads (seed {seed}): {sent} answered clearly ({seen:?}), database unchanged"
    ));
    app.stop().await;
}

const API_OPERATIONS: [(&str, &[&str]); 2] = [
    (
        "SendVerificationCodeForBindSecureMobilePhone",
        &["AccountId", "SecureMobilePhone"],
    ),
    (
        "BindSecureMobilePhone",
        &["AccountId", "SecureMobilePhone", "VerificationCode"],
    ),
];

fn api_baseline() -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("AccountId".into(), json!(SANDBOX));
    map.insert("SecureMobilePhone".into(), json!("12345"));
    map.insert("VerificationCode".into(), json!("123456"));
    map
}

fn crafted_api(fields: &[&str]) -> Vec<Crafted> {
    let jsonct = "application/json";
    let base = api_baseline();
    let with = |name: &str, value: Value| {
        let mut map = base.clone();
        map.retain(|k, _| fields.contains(&k.as_str()));
        map.insert(name.to_string(), value);
        serde_json::to_vec(&Value::Object(map)).unwrap()
    };
    let mut out: Vec<Crafted> = [
        ("empty body", jsonct, Vec::new()),
        ("null", jsonct, b"null".to_vec()),
        ("an array", jsonct, b"[1,2,3]".to_vec()),
        ("a string", jsonct, b"\"AccountId\"".to_vec()),
        ("a number", jsonct, b"2000000000000006".to_vec()),
        ("cut short", jsonct, b"{\"AccountId\": \"20000".to_vec()),
        (
            "invalid UTF-8",
            jsonct,
            b"{\"AccountId\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "nested 100000 deep",
            jsonct,
            "[".repeat(100_000).into_bytes(),
        ),
        (
            "a number too large",
            jsonct,
            b"{\"AccountId\": 1e400}".to_vec(),
        ),
        (
            "a form",
            "application/x-www-form-urlencoded",
            b"AccountId=2000000000000006&SecureMobilePhone=12345".to_vec(),
        ),
        (
            "1 MB",
            jsonct,
            format!("{{\"AccountId\": \"{}\"}}", "1".repeat(MB)).into_bytes(),
        ),
    ]
    .into_iter()
    .map(|(label, content_type, body)| Crafted {
        label: label.into(),
        content_type,
        body,
    })
    .collect();
    for name in fields {
        let mut missing = base.clone();
        missing.retain(|k, _| fields.contains(&k.as_str()) && k != name);
        out.push(Crafted {
            label: format!("{name} missing"),
            content_type: jsonct,
            body: serde_json::to_vec(&missing).unwrap(),
        });
        let typed: [(&str, Value); 7] = [
            ("null", Value::Null),
            ("a number", json!(2000000000000006u64)),
            ("a negative number", json!(-1)),
            ("a boolean", json!(true)),
            ("an array", json!(["2000000000000006"])),
            ("an object", json!({"value": "2000000000000006"})),
            ("8 KB of text", json!("9".repeat(8 * 1024))),
        ];
        for (what, value) in typed {
            out.push(Crafted {
                label: format!("{name} {what}"),
                content_type: jsonct,
                body: with(name, value),
            });
        }
        for junk in JUNK {
            out.push(Crafted {
                label: format!("{name} = {junk:?}"),
                content_type: jsonct,
                body: with(name, json!(junk)),
            });
        }
    }
    out
}

#[tokio::test]
async fn every_api_operation_refuses_malformed_oversized_and_wrong_typed_fields_clearly() {
    let (app, admin) = spawn_as("rd-admin@acme").await;
    let before = snapshot(&app.services.db.pool).await;
    let mut problems = Vec::new();
    let mut sent = 0;
    let mut codes = BTreeMap::<String, usize>::new();
    for (operation, fields) in API_OPERATIONS {
        for crafted in crafted_api(fields) {
            let answer = send_raw(
                &app,
                &format!("/api/v1/{operation}"),
                Some(&admin),
                crafted.content_type,
                crafted.body,
            )
            .await;
            sent += 1;
            let problem = match &answer {
                Err(e) => Some(e.clone()),
                Ok((status, body)) => match serde_json::from_str::<Value>(body) {
                    Err(_) => Some(format!("{status} without JSON: {}", short(body))),
                    Ok(value) => {
                        let code = value["Code"].as_str().unwrap_or_default().to_string();
                        *codes.entry(code.clone()).or_default() += 1;
                        if !(400..500).contains(status) {
                            Some(format!("answered {status}: {value}"))
                        } else if code.is_empty() || code == "InternalError" {
                            Some(format!("{status} with Code {code:?}"))
                        } else if value["Message"]
                            .as_str()
                            .is_none_or(|m| m.trim().is_empty())
                        {
                            Some(format!("{status} {code} without a message"))
                        } else if value["RequestId"].as_str().is_none_or(|r| r.len() != 36) {
                            Some(format!("{status} {code} without a RequestId"))
                        } else if body.len() > 2048 {
                            Some(format!(
                                "{status} {code}: an answer of {} bytes echoes the input",
                                body.len()
                            ))
                        } else {
                            None
                        }
                    }
                },
            };
            if let Some(problem) = problem {
                problems.push(format!("{operation} [{}]: {problem}", crafted.label));
            }
        }
    }
    assert_none_mishandled(&app, &problems, sent, "crafted API calls", &before).await;
    helpers::result(&format!(
        "crafted API calls: {sent} answered 4xx with a Code ({codes:?}), database unchanged"
    ));
    app.stop().await;
}

/// The one free text that is stored as typed, an appeal's reason: control characters (a NUL
/// byte, which PostgreSQL cannot store) are refused with a reason, line breaks are kept.
#[tokio::test]
async fn an_appeal_reason_with_control_characters_is_refused_clearly() {
    let (app, alice) = spawn_as("alice@example.com").await;
    let before = snapshot(&app.services.db.pool).await;
    for reason in [
        "lost\u{0}phone",
        "lost \u{1b}[31m phone",
        "\u{7}",
        "lost\u{85}phone",
    ] {
        let reply = app
            .call(
                "file_appeal",
                &[
                    ("new_phone", "13512345678"),
                    ("contact_email", "alice.backup@example.org"),
                    ("reason", reason),
                ],
                Some(&alice),
            )
            .await;
        assert!(
            matches!(reply.err(), AppError::InvalidInput(_)),
            "{reason:?}: {}",
            reply.body
        );
    }
    assert_same(&before, &snapshot(&app.services.db.pool).await);
    let _: app::model::CodeSent = app
        .call(
            "send_appeal_code",
            &[("contact_email", "alice.backup@example.org")],
            Some(&alice),
        )
        .await
        .ok();
    let code = app.latest_code("alice.backup@example.org").await.unwrap();
    let reference: String = app
        .call(
            "file_appeal",
            &[
                ("new_phone", "13512345678"),
                ("contact_email", "alice.backup@example.org"),
                ("reason", "Phone lost.\r\nEmail closed.\tThanks"),
                ("code", &code),
            ],
            Some(&alice),
        )
        .await
        .ok();
    assert!(reference.starts_with("AP"));
    app.stop().await;
}
