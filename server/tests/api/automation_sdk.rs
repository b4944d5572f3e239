//! The signed cloud-style automation API, driven by requests this test signs itself and by the
//! official Alibaba Cloud Python SDK (ResourceDirectoryMaster 2022-04-19), unmodified: the owner
//! creates AccessKeys in the console, and a RAM user's key binds a member's number.

use crate::common;

use app::api::access_keys::{NewAccessKey, RamUserKeys};
use app::error::AppError;
use app::ssr::clock::rfc3339;
use common::fixtures::AUDIT_US as US_MEMBER;
use common::{TestApp, spawn_with};
use serde_json::Value;
use server::automation::signature::{percent_encode, rpc_signature};
use std::path::PathBuf;
use std::process::Command;

const OWNER: &str = "admin@acme.example";

/// The owner's console session and the AccessKeys it made.
struct Keys {
    owner: String,
    admin: NewAccessKey,
    disabled: NewAccessKey,
    viewer: NewAccessKey,
}

fn user_id(users: &[RamUserKeys], login: &str) -> String {
    users
        .iter()
        .find(|u| u.login_name == login)
        .unwrap_or_else(|| panic!("RAM user {login}"))
        .user_id
        .to_string()
}

/// Through the console's server functions, as the RAM users page calls them.
async fn create_keys(app: &TestApp) -> Keys {
    let owner = app.sign_in(OWNER).await;
    let users: Vec<RamUserKeys> = app.call("ram_users", &[], Some(&owner)).await.ok();
    let (admin_id, viewer_id) = (user_id(&users, "rd-admin"), user_id(&users, "viewer"));
    let create = |id: String| {
        let owner = owner.clone();
        async move {
            app.call("create_access_key", &[("user_id", &id)], Some(&owner))
                .await
        }
    };
    let admin: NewAccessKey = create(admin_id.clone()).await.ok();
    let disabled: NewAccessKey = create(admin_id.clone()).await.ok();
    let viewer: NewAccessKey = create(viewer_id).await.ok();
    let _: () = app
        .call(
            "set_access_key_active",
            &[("key_id", &disabled.id), ("active", "false")],
            Some(&owner),
        )
        .await
        .ok();
    Keys {
        owner,
        admin,
        disabled,
        viewer,
    }
}

async fn app() -> TestApp {
    spawn_with(|config| {
        config.limits.resend_interval_secs = 0;
        config.limits.codes_per_account_per_day = 2;
    })
    .await
}

/// A GET in the RPC style, signed here with `secret` at the app's clock moved by `skew_secs`.
fn rpc_url(app: &TestApp, key_id: &str, secret: &str, nonce: &str, skew_secs: i64) -> String {
    let now = app::ssr::clock::Clock::now_ms(&app.clock) + skew_secs * 1000;
    let timestamp = rfc3339(now - now % 1000).replace(".000Z", "Z");
    let mut params: Vec<(String, String)> = [
        ("Action", "GetAccount"),
        ("AccountId", US_MEMBER),
        ("Format", "JSON"),
        ("Version", "2022-04-19"),
        ("AccessKeyId", key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", &timestamp),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = rpc_signature("GET", &params, secret);
    params.push(("Signature".into(), signature));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    app.url(&format!("/?{}", query.join("&")))
}

async fn answer(app: &TestApp, url: &str) -> (u16, Value) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_owner_manages_access_keys_and_a_ram_user_cannot() {
    let app = app().await;
    let notices_before = app.outbox_count(OWNER).await;
    let keys = create_keys(&app).await;
    let users: Vec<RamUserKeys> = app.call("ram_users", &[], Some(&keys.owner)).await.ok();
    let admin = users.iter().find(|u| u.login_name == "rd-admin").unwrap();
    assert_eq!(admin.keys.len(), 2);
    assert!(admin.keys.iter().any(|k| k.id == keys.admin.id && k.active));
    assert!(
        admin
            .keys
            .iter()
            .any(|k| k.id == keys.disabled.id && !k.active)
    );
    assert!(
        !serde_json::to_string(&users)
            .unwrap()
            .contains(&keys.admin.secret)
    );

    let third = app
        .call(
            "create_access_key",
            &[("user_id", &admin.user_id.to_string())],
            Some(&keys.owner),
        )
        .await;
    assert_eq!(third.err(), AppError::AccessKeyLimit(2));

    // Four changes (three keys made, one disabled): four audit events and four notices.
    assert_eq!(app.outbox_count(OWNER).await - notices_before, 4);
    let audited = app
        .count(
            "SELECT COUNT(*) FROM audit_events WHERE action IN ('CreateAccessKey', 'UpdateAccessKey') AND subject_account_id = $1",
            app::ssr::seed::ACME_ID,
        )
        .await;
    assert_eq!(audited, 4);
    let sealed = app
        .count(
            "SELECT COUNT(*) FROM access_keys WHERE secret_sealed LIKE '%' || $1 || '%'",
            &keys.admin.secret,
        )
        .await;
    assert_eq!(sealed, 0, "the secret is stored sealed, never in clear");

    let ram_user = app.sign_in("rd-admin@acme").await;
    let refused = app.call("ram_users", &[], Some(&ram_user)).await;
    assert_eq!(refused.err(), AppError::OwnerOnly);
    let refused = app
        .call(
            "delete_access_key",
            &[("key_id", &keys.admin.id)],
            Some(&ram_user),
        )
        .await;
    assert_eq!(refused.err(), AppError::OwnerOnly);
    app.stop().await;
}

#[tokio::test]
async fn hand_signed_requests_pass_once_in_time_with_a_live_key() {
    let app = app().await;
    let keys = create_keys(&app).await;
    let (id, secret) = (&keys.admin.id, &keys.admin.secret);

    let url = rpc_url(&app, id, secret, "nonce-1", 0);
    let (status, body) = answer(&app, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Account"]["AccountId"], US_MEMBER);
    assert_eq!(body["Account"]["HasSecureMobilePhone"], false);

    // The replay: the very same signed request again.
    let (status, body) = answer(&app, &url).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );
    for field in ["RequestId", "HostId", "Message", "Recommend"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }

    let stale = rpc_url(&app, id, secret, "nonce-2", -16 * 60);
    let (status, body) = answer(&app, &stale).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );
    let early = rpc_url(&app, id, secret, "nonce-3", 16 * 60);
    let (status, body) = answer(&app, &early).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );

    let forged = rpc_url(&app, id, "a-guessed-secret", "nonce-4", 0);
    let (status, body) = answer(&app, &forged).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    // A forged request spends no nonce: the real key can still use it.
    let (status, _) = answer(&app, &rpc_url(&app, id, secret, "nonce-4", 0)).await;
    assert_eq!(status, 200);

    let disabled = rpc_url(&app, &keys.disabled.id, &keys.disabled.secret, "nonce-5", 0);
    let (status, body) = answer(&app, &disabled).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidAccessKeyId.Inactive"))
    );

    let viewer = rpc_url(&app, &keys.viewer.id, &keys.viewer.secret, "nonce-6", 0);
    let (status, body) = answer(&app, &viewer).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (403, Some("CallerIdentityError"))
    );

    let _: () = app
        .call("delete_access_key", &[("key_id", id)], Some(&keys.owner))
        .await
        .ok();
    let (status, body) = answer(&app, &rpc_url(&app, id, secret, "nonce-7", 0)).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );

    let used = app
        .count(
            "SELECT COUNT(*) FROM access_keys WHERE id = $1 AND last_used_at IS NOT NULL AND last_used_ip = '127.0.0.1'",
            &keys.disabled.id,
        )
        .await;
    assert_eq!(used, 0, "a refused key is not marked as used");
    app.stop().await;
}

/// The venv's python with the pinned SDK, or `None` (after a SKIPPED line) when it cannot be made.
fn sdk_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new("bash")
        .arg(root.join("scripts/sdk-venv.sh"))
        .status()
        .expect("bash runs");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match status.code() {
        Some(0) => {}
        Some(3) => {
            println!("SKIPPED: the Python SDK could not be installed (no package registry)");
            return None;
        }
        _ if ci => panic!("scripts/sdk-venv.sh failed: {status}"),
        _ => {
            println!("SKIPPED: scripts/sdk-venv.sh failed ({status})");
            return None;
        }
    }
    let home = std::env::var("SDK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".cache/phone-console/sdk-venv")
        });
    Some(home.join("bin/python"))
}

async fn run_sdk(style: &str) {
    let Some(python) = sdk_python() else { return };
    let app = app().await;
    let keys = create_keys(&app).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/bind_with_sdk.py");
    let endpoint = app.base.trim_start_matches("http://").to_string();
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("SDK_STYLE", style)
        .env("SDK_ENDPOINT", &endpoint)
        .env("SDK_KEY_ID", &keys.admin.id)
        .env("SDK_KEY_SECRET", &keys.admin.secret)
        .env("SDK_DISABLED_KEY_ID", &keys.disabled.id)
        .env("SDK_DISABLED_KEY_SECRET", &keys.disabled.secret)
        .env("SDK_VIEWER_KEY_ID", &keys.viewer.id)
        .env("SDK_VIEWER_KEY_SECRET", &keys.viewer.secret)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("ALL PASSED"),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        app.phone_of(US_MEMBER).await.as_deref(),
        Some("+12025550147")
    );
    report_metrics(&app, style, &keys).await;
    app.stop().await;
}

/// What `/metrics` saw of the SDK's run (this app's own recorder: no other test's work in it),
/// printed for the closing note; the codes and refusals must be there, under names only.
async fn report_metrics(app: &TestApp, style: &str, keys: &Keys) {
    let scrape = app.scrape().await;
    println!("METRICS after the SDK run ({style} signatures):");
    for line in scrape.report_lines() {
        println!("  {line}");
    }
    let sent = scrape.count(
        "console_codes_sent_total",
        &[("purpose", "member_phone"), ("channel", "sms")],
    );
    assert!(sent >= 1.0, "{}", scrape.text);
    for reason in [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.Inactive",
        "PhoneAlreadyBound",
    ] {
        assert!(
            scrape.count("console_refusals_total", &[("reason", reason)]) >= 1.0,
            "{reason}: {}",
            scrape.text
        );
    }
    for secret in [US_MEMBER, &keys.admin.id, &keys.admin.secret] {
        assert!(!scrape.text.contains(secret), "{secret} in /metrics");
    }
}

#[tokio::test]
async fn the_official_sdk_binds_a_number_with_acs3_signatures() {
    run_sdk("ACS3").await;
}

#[tokio::test]
async fn the_official_sdk_binds_a_number_with_rpc_signatures() {
    run_sdk("RPC").await;
}
