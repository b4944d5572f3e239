//! The demo data the tests name (SPEC 8), and what several modules build on it: a second
//! directory, authenticator codes, a wrong code, and requests the typed steps do not make (the
//! automation API, raw bodies, the SSO stand-in).

use super::{PASSWORD, TestApp};
use serde_json::Value;

/// Alice: an owner in mainland China with a number, an email and an authenticator.
pub const ALICE_EMAIL: &str = "alice@example.com";
pub const ALICE_PHONE: &str = "+8613800138000";
/// Bob: an owner in the United States.
pub const BOB_PHONE: &str = "+12025550143";
/// A free mainland number, Alice's usual new one (typed `13512345678`).
pub const NEW_CN: &str = "+8613512345678";

// Demo members of Acme's directory.
/// A resource account without a number (CN).
pub const SANDBOX: &str = "2000000000000006";
/// A resource account without a number (CN).
pub const CI: &str = "2000000000000007";
/// A resource account without a number (US).
pub const AUDIT_US: &str = "2000000000000008";
/// A cloud account with a number of its own, `PARTNER_PHONE`.
pub const PARTNER: &str = "2000000000000009";
pub const PARTNER_PHONE: &str = "+8613500135000";
/// The production account.
pub const WEB_PROD: &str = "2000000000000001";

/// SPEC 4's words for the phone change refused to a RAM user, a role or an SSO session.
pub const BLOCKED: &str = "Users logged in as a RAM user, with a RAM role, or through Enterprise SSO cannot change the account mobile phone number. Ask the account administrator to make this change.";

/// Globex: a second directory, created by `add_second_directory`, and its one member.
pub const GLOBEX_ID: &str = "4000000000000001";
pub const GLOBEX_MEMBER: &str = "4000000000000002";
pub const DAY_MS: i64 = 86_400_000;

/// A code that is not `right`.
pub fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// The authenticator code of `secret` at `ms` (milliseconds since the epoch).
pub fn totp_at(secret: &str, ms: i64) -> String {
    use totp_rs::{Algorithm, Builder, Secret};
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build_noncompliant();
    totp.generate((ms / 1000) as u64).to_string()
}

/// A second management account (Globex, CN) with its own directory and one member without a number.
pub async fn add_second_directory(app: &TestApp) {
    let now = app.now();
    let hash = app::ssr::crypto::hash_password(PASSWORD);
    let pool = &app.services.db.pool;
    for (id, name, alias, email) in [
        (GLOBEX_ID, "Globex", "globex", "admin@globex.example"),
        (
            GLOBEX_MEMBER,
            "globex-prod",
            "globex-prod",
            "prod@globex.example",
        ),
    ] {
        sqlx::query(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'CN', NULL, 'active', $6, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(alias)
        .bind(email)
        .bind(&hash)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    }
    let rows: [(&str, &str); 3] = [
        (
            "INSERT INTO resource_directories (id, management_account_id, created_at) VALUES ('rd-globex', $1, $2)",
            GLOBEX_ID,
        ),
        (
            "INSERT INTO folders (id, directory_id, parent_id, name, depth, created_at) VALUES ('fd-globex', 'rd-globex', $1, 'Root', 1, $2)",
            "",
        ),
        (
            "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) \
             VALUES ($1, 'rd-globex', 'fd-globex', 'resource_account', 'globex-prod', $2)",
            GLOBEX_MEMBER,
        ),
    ];
    for (sql, id) in rows {
        // The root folder has no parent: its `$1` binds NULL.
        let id = (!id.is_empty()).then_some(id);
        sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// The automation API's operations (SPEC 5): a code to the new number, and the binding.
pub const SEND_OP: &str = "SendVerificationCodeForBindSecureMobilePhone";
pub const BIND_OP: &str = "BindSecureMobilePhone";

/// The app, as `spawn` starts it, with Globex's directory added (`add_second_directory`).
pub async fn spawn_with_second_directory() -> TestApp {
    let app = super::spawn().await;
    add_second_directory(&app).await;
    app
}

/// Calls an automation API operation as a script does: JSON, the session cookie, and `Origin`.
pub async fn api(
    app: &TestApp,
    operation: &str,
    body: impl ToString,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/{operation}")))
        .header("Origin", &app.base)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Cookie", format!("__Host-session={token}"));
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// A POST of `body` with the given headers and content type, and nothing else added.
pub async fn raw_post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(path))
        .header("Content-Type", content_type)
        .header("Accept", "application/json")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("the server answers")
}

/// `form` URL-encoded, every byte but ASCII letters and digits escaped.
pub fn form_body(form: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// An appeal in its old one-step form: the three fields and no code.
pub async fn appeal_without_code(
    app: &TestApp,
    token: &str,
    new_phone: &str,
    contact: &str,
    reason: &str,
) -> super::Reply {
    let form = [
        ("new_phone", new_phone),
        ("contact_email", contact),
        ("reason", reason),
    ];
    app.call("file_appeal", &form, Some(token)).await
}

/// A session of `dev@alice`, a RAM user, switched to its role `auditor`.
pub async fn role_token(app: &TestApp) -> String {
    let user = app.sign_in("dev@alice").await;
    let reply = app
        .call("switch_role", &[("role", "auditor")], Some(&user))
        .await;
    reply.session_token().expect("a role session")
}

/// The sessions that are no owner's: `dev@alice` (a RAM user), its role `auditor`, and an
/// SSO session.
pub async fn non_owner_sessions(app: &TestApp) -> [String; 3] {
    let ram = app.sign_in("dev@alice").await;
    [ram, role_token(app).await, sso_token(app).await]
}

/// A session token from the development SSO stand-in (`/dev/sso`).
pub async fn sso_token(app: &TestApp) -> String {
    let response = app.dev_sso().await;
    let cookie = super::set_cookie(&response);
    app::ssr::session::token_from_cookie_header(cookie.split(';').next().unwrap()).unwrap()
}
