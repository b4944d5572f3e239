//! Resource Management over HTTP: who may use it, the folder tree and the member list, binding
//! and modifying a member's number under every rule of SPEC 3 and 5, and the automation API.

mod common;

use app::error::AppError;
use app::model::{
    AuditView, CodeSent, DirectoryView, MemberDetails, MemberPage, MemberType, MemberView,
};
use app::ssr::clock::Clock;
use app::ssr::seed::{ACME_ID, FULL_NUMBER};
use common::{PASSWORD, TestApp, spawn, spawn_with};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;
/// Demo members: resource accounts without a number (CN, CN, US), and a cloud account with one.
const SANDBOX: &str = "2000000000000006";
const CI: &str = "2000000000000007";
const AUDIT_US: &str = "2000000000000008";
const PARTNER: &str = "2000000000000009";
const PARTNER_PHONE: &str = "+8613500135000";
const WEB_PROD: &str = "2000000000000001";
/// Globex: a second directory, created by `add_second_directory`.
const GLOBEX_ID: &str = "4000000000000001";
const GLOBEX_MEMBER: &str = "4000000000000002";

// ---------------------------------------------------------------------------------------------
// Helpers

fn now(app: &TestApp) -> i64 {
    app.clock.now_ms()
}

async fn latest_code(app: &TestApp, to: &str) -> Option<String> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT code FROM outbox WHERE recipient = $1 AND code IS NOT NULL ORDER BY id DESC LIMIT 1")
            .bind(to)
            .fetch_optional(&app.services.db.pool)
            .await
            .unwrap();
    row.and_then(|r| r.0)
}

async fn messages_to(app: &TestApp, to: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT body, code FROM outbox WHERE recipient = $1 ORDER BY id")
        .bind(to)
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap()
}

async fn outbox_count(app: &TestApp, to: &str) -> usize {
    messages_to(app, to).await.len()
}

async fn sms_count(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'")
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    n
}

async fn phone_of(app: &TestApp, account_id: &str) -> Option<String> {
    let (phone,): (Option<String>,) = sqlx::query_as("SELECT phone FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(&app.services.db.pool)
        .await
        .unwrap();
    phone
}

async fn bindings_of(app: &TestApp, phone: &str) -> i64 {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT accounts FROM phone_binding_counts WHERE phone = $1")
            .bind(phone)
            .fetch_optional(&app.services.db.pool)
            .await
            .unwrap();
    row.map(|r| r.0).unwrap_or(0)
}

/// (principal name, action, detail) of every audit event on `subject`, oldest first.
async fn audit_of(app: &TestApp, subject: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT principal_name, action, detail FROM audit_events WHERE subject_account_id = $1 ORDER BY id")
        .bind(subject)
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap()
}

async fn send(app: &TestApp, token: &str, member: &str, phone: &str) -> common::Reply {
    app.call(
        "rd_send_code",
        &[("account_id", member), ("phone", phone)],
        Some(token),
    )
    .await
}

async fn bind(app: &TestApp, token: &str, member: &str, phone: &str, code: &str) -> common::Reply {
    app.call(
        "rd_bind_phone",
        &[("account_id", member), ("phone", phone), ("code", code)],
        Some(token),
    )
    .await
}

/// Sends a code to `phone` (E.164) for `member` and binds it with the code from the outbox.
async fn send_and_bind(app: &TestApp, token: &str, member: &str, phone: &str) -> MemberView {
    send_and_bind_typed(app, token, member, phone, phone).await
}

/// As `send_and_bind`, with the number typed as `typed`.
async fn send_and_bind_typed(
    app: &TestApp,
    token: &str,
    member: &str,
    typed: &str,
    e164: &str,
) -> MemberView {
    let _: CodeSent = send(app, token, member, typed).await.ok();
    let code = latest_code(app, e164).await.expect("a code in the outbox");
    bind(app, token, member, typed, &code).await.ok()
}

async fn members(app: &TestApp, token: &str, form: &[(&str, &str)]) -> common::Reply {
    app.call("rd_members", form, Some(token)).await
}

fn ids(page: &MemberPage) -> Vec<String> {
    page.members.iter().map(|m| m.account_id.clone()).collect()
}

/// A second management account (Globex, CN) with its own directory and one member without a number.
async fn add_second_directory(app: &TestApp) {
    let now = now(app);
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
    sqlx::query("INSERT INTO resource_directories (id, management_account_id, created_at) VALUES ('rd-globex', $1, $2)")
        .bind(GLOBEX_ID)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO folders (id, directory_id, parent_id, name, depth, created_at) VALUES ('fd-globex', 'rd-globex', NULL, 'Root', 1, $1)",
    )
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) \
         VALUES ($1, 'rd-globex', 'fd-globex', 'resource_account', 'globex-prod', $2)",
    )
    .bind(GLOBEX_MEMBER)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
}

/// Calls an automation API operation as a script does: JSON, the session cookie, and `Origin`.
async fn api(app: &TestApp, operation: &str, body: &str, token: Option<&str>) -> (u16, Value) {
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

fn is_uuid_v4(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && groups[2].starts_with('4')
}

/// An API error: the status, its `Code`, a `Message` and a `RequestId`.
#[track_caller]
fn assert_api_error(reply: &(u16, Value), status: u16, code: &str) {
    let (got, body) = reply;
    assert_eq!(
        (*got, body["Code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert!(
        body["Message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(is_uuid_v4(&body["RequestId"]), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Who may use it

#[tokio::test]
async fn only_the_management_account_and_full_access_principals_reach_the_directory() {
    let app = spawn().await;
    for account in ["admin@acme.example", "rd-admin@acme"] {
        let token = app.sign_in(account).await;
        let tree: DirectoryView = app.call("rd_tree", &[], Some(&token)).await.ok();
        assert_eq!(tree.directory_id, "rd-acme", "{account}");
        let page: MemberPage = members(&app, &token, &[]).await.ok();
        assert_eq!(page.total, 10, "{account}");
    }
    // A RAM user without the policy, another account's RAM user, owners of ordinary accounts.
    for account in [
        "viewer@acme",
        "dev@alice",
        "alice@example.com",
        "bob@example.com",
    ] {
        let token = app.sign_in(account).await;
        let calls: [(&str, Vec<(&str, &str)>); 6] = [
            ("rd_tree", vec![]),
            ("rd_members", vec![]),
            ("rd_member", vec![("account_id", SANDBOX)]),
            ("rd_member_events", vec![("account_id", SANDBOX)]),
            (
                "rd_send_code",
                vec![("account_id", SANDBOX), ("phone", "+8613100131000")],
            ),
            (
                "rd_bind_phone",
                vec![
                    ("account_id", SANDBOX),
                    ("phone", "+8613100131000"),
                    ("code", "123456"),
                ],
            ),
        ];
        for (endpoint, form) in calls {
            let reply = app.call(endpoint, &form, Some(&token)).await;
            assert_eq!(reply.err(), AppError::Forbidden, "{account} {endpoint}");
        }
    }
    assert_eq!(outbox_count(&app, "+8613100131000").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_caller_without_a_session_is_told_to_sign_in() {
    let app = spawn().await;
    for endpoint in [
        "rd_tree",
        "rd_members",
        "rd_member",
        "rd_send_code",
        "rd_bind_phone",
    ] {
        let reply = app
            .call(
                endpoint,
                &[
                    ("account_id", SANDBOX),
                    ("phone", "+8613100131000"),
                    ("code", "123456"),
                ],
                None,
            )
            .await;
        assert_eq!(reply.err(), AppError::NotSignedIn, "{endpoint}");
    }
    let forged = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        app.call("rd_tree", &[], Some(forged)).await.err(),
        AppError::NotSignedIn
    );
    app.stop().await;
}

#[tokio::test]
async fn the_management_pages_refuse_a_signed_out_visitor() {
    let app = spawn().await;
    for path in [
        "/resource-directory/management",
        &format!("/resource-directory/members/{SANDBOX}"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/login", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_never_reaches_another_directorys_members() {
    let app = spawn().await;
    add_second_directory(&app).await;
    let acme = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        app.call("rd_member", &[("account_id", GLOBEX_MEMBER)], Some(&acme))
            .await
            .err(),
        AppError::NotFound
    );
    assert_eq!(
        app.call(
            "rd_member_events",
            &[("account_id", GLOBEX_MEMBER)],
            Some(&acme)
        )
        .await
        .err(),
        AppError::NotFound
    );
    assert_eq!(
        send(&app, &acme, GLOBEX_MEMBER, "+8613100131000")
            .await
            .err(),
        AppError::NotFound
    );
    assert_eq!(
        bind(&app, &acme, GLOBEX_MEMBER, "+8613100131000", "123456")
            .await
            .err(),
        AppError::NotFound
    );
    // Nor by searching for it, nor through its folder, nor by naming the management account itself.
    let page: MemberPage = members(&app, &acme, &[("search", GLOBEX_MEMBER)])
        .await
        .ok();
    assert_eq!(page.total, 0);
    let page: MemberPage = members(&app, &acme, &[("search", "globex")]).await.ok();
    assert_eq!(page.total, 0);
    let page: MemberPage = members(&app, &acme, &[("folder", "fd-globex")]).await.ok();
    assert_eq!(page.total, 0);
    assert_eq!(
        app.call("rd_member", &[("account_id", ACME_ID)], Some(&acme))
            .await
            .err(),
        AppError::NotFound
    );
    assert_eq!(outbox_count(&app, "+8613100131000").await, 0);
    assert_eq!(phone_of(&app, GLOBEX_MEMBER).await, None);

    // Globex's owner sees Globex only, and Acme's members are as foreign to it.
    let globex = app.sign_in("admin@globex.example").await;
    let tree: DirectoryView = app.call("rd_tree", &[], Some(&globex)).await.ok();
    assert_eq!(tree.directory_id, "rd-globex");
    let page: MemberPage = members(&app, &globex, &[]).await.ok();
    assert_eq!(ids(&page), [GLOBEX_MEMBER]);
    assert_eq!(
        app.call("rd_member", &[("account_id", SANDBOX)], Some(&globex))
            .await
            .err(),
        AppError::NotFound
    );
    assert_eq!(
        send(&app, &globex, SANDBOX, "+8613100131000").await.err(),
        AppError::NotFound
    );
    // And it binds its own member.
    let view = send_and_bind(&app, &globex, GLOBEX_MEMBER, "+8613100131001").await;
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1001"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The two views

#[tokio::test]
async fn the_folder_tree_has_the_demo_folders_with_their_counts() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let tree: DirectoryView = app.call("rd_tree", &[], Some(&token)).await.ok();
    let rows: Vec<(&str, Option<&str>, i64, i64)> = tree
        .folders
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.parent_id.as_deref(),
                f.members,
                f.total_members,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Root", None, 2, 10),
            ("Development", Some("fd-root"), 2, 2),
            ("Production", Some("fd-root"), 2, 6),
            ("Data", Some("fd-production"), 2, 2),
            ("Web", Some("fd-production"), 2, 2),
        ]
    );
    // The selected folder's own members.
    let page: MemberPage = members(&app, &token, &[("folder", "fd-web")]).await.ok();
    assert_eq!(ids(&page), ["2000000000000001", "2000000000000002"]);
    assert!(page.members.iter().all(|m| m.folder_name == "Web"));
    let page: MemberPage = members(&app, &token, &[("folder", "fd-root")]).await.ok();
    assert_eq!(
        ids(&page),
        ["2000000000000010", AUDIT_US],
        "Acme US Subsidiary, acme-security-audit"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_member_list_shows_every_column_and_sorts_by_name_id_and_joining() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let page: MemberPage = members(&app, &token, &[("limit", "100")]).await.ok();
    assert_eq!((page.total, page.members.len()), (10, 10));
    let names: Vec<String> = page
        .members
        .iter()
        .map(|m| m.display_name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "sorted by name, case-insensitively");

    let partner = page
        .members
        .iter()
        .find(|m| m.account_id == PARTNER)
        .unwrap();
    assert_eq!(partner.display_name, "Acme Partner Analytics");
    assert_eq!(partner.member_type, MemberType::CloudAccount);
    assert_eq!(partner.folder_name, "Production");
    assert_eq!(partner.masked_phone.as_deref(), Some("+86 135****5000"));
    assert_eq!(partner.status, "active");
    let audit = page
        .members
        .iter()
        .find(|m| m.account_id == AUDIT_US)
        .unwrap();
    assert_eq!(
        (audit.member_type, audit.masked_phone.clone()),
        (MemberType::ResourceAccount, None)
    );
    assert_eq!((audit.region.as_str(), audit.calling_code), ("US", 1));
    assert_eq!(
        page.members
            .iter()
            .filter(|m| m.member_type == MemberType::ResourceAccount)
            .count(),
        8
    );

    let by_id: MemberPage = members(&app, &token, &[("sort", "id"), ("order", "desc")])
        .await
        .ok();
    let expected: Vec<String> = (1..=10)
        .rev()
        .map(|i| format!("20000000000000{i:02}"))
        .collect();
    assert_eq!(ids(&by_id), expected);
    let by_joined: MemberPage = members(&app, &token, &[("sort", "joined")]).await.ok();
    assert_eq!(by_joined.total, 10);
    app.stop().await;
}

#[tokio::test]
async fn the_member_list_pages_on_the_server() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let all: MemberPage = members(&app, &token, &[("sort", "id")]).await.ok();
    let mut paged = Vec::new();
    for offset in ["0", "3", "6", "9"] {
        let page: MemberPage = members(
            &app,
            &token,
            &[("sort", "id"), ("limit", "3"), ("offset", offset)],
        )
        .await
        .ok();
        assert_eq!(page.total, 10, "offset {offset}");
        assert_eq!(page.limit, 3);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&all));
    let past_the_end: MemberPage = members(&app, &token, &[("offset", "50")]).await.ok();
    assert!(past_the_end.members.is_empty());
    assert_eq!(past_the_end.total, 10);
    app.stop().await;
}

#[tokio::test]
async fn the_member_list_searches_by_name_id_and_phone() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let search = |text: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            members(app, &token, &[("search", text), ("sort", "id")])
                .await
                .ok::<MemberPage>()
        }
    };
    assert_eq!(
        ids(&search("DEV").await),
        [SANDBOX, CI],
        "a name part, any case"
    );
    assert_eq!(
        ids(&search("acme-data").await),
        ["2000000000000003", "2000000000000004"]
    );
    assert_eq!(ids(&search("Partner").await), [PARTNER]);
    assert_eq!(
        ids(&search(" 2000000000000009 ").await),
        [PARTNER],
        "an exact account id"
    );
    let full = [
        "2000000000000001",
        "2000000000000002",
        "2000000000000003",
        "2000000000000004",
    ];
    assert_eq!(
        ids(&search("+8613900139000").await),
        full,
        "E.164: the directory's four, not the other two"
    );
    assert_eq!(ids(&search("86-13900139000").await), full);
    assert_eq!(
        ids(&search("13900139000").await),
        full,
        "national digits in the home region"
    );
    assert_eq!(ids(&search("1-2025550188").await), ["2000000000000010"]);
    // LIKE's wildcards are plain characters here.
    assert!(search("%").await.members.is_empty());
    assert!(search("_").await.members.is_empty());
    assert!(search("nobody").await.members.is_empty());
    app.stop().await;
}

/// Adds `n` resource accounts named `bulk-00000` … to Acme's Web folder, in one transaction.
async fn add_bulk_members(app: &TestApp, n: usize) {
    let now = now(app);
    let mut tx = app.services.db.begin().await.unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let rows = |columns: usize| {
            (0..chunk.len())
                .map(|r| {
                    format!(
                        "({})",
                        (1..=columns)
                            .map(|c| format!("${}", r * columns + c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, status, created_at, updated_at) VALUES {}",
            rows(9)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            query = query
                .bind(format!("6{i:015}"))
                .bind(format!("bulk-{i:05}"))
                .bind(format!("bulk-{i}"))
                .bind(format!("bulk-{i}@acme.example"))
                .bind("!")
                .bind("CN")
                .bind("active")
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await.unwrap();
        let sql = format!(
            "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) VALUES {}",
            rows(6)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            query = query
                .bind(format!("6{i:015}"))
                .bind("rd-acme")
                .bind("fd-web")
                .bind("resource_account")
                .bind(format!("bulk-{i:05}"))
                .bind(now + *i as i64);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn name_searches_page_through_many_matches_and_stop_counting_past_a_cap() {
    let app = spawn().await;
    add_bulk_members(&app, 1_100).await;
    let token = app.sign_in("rd-admin@acme").await;
    // One match, found through the trigram index.
    let page: MemberPage = members(&app, &token, &[("search", "BULK-00777")])
        .await
        .ok();
    assert_eq!(
        (ids(&page), page.total, page.total_exact),
        (vec!["6000000000000777".to_string()], 1, true)
    );
    // 100 matches (bulk-01000 … bulk-01099): few enough to sort, all of them counted.
    let page: MemberPage = members(&app, &token, &[("search", "k-01"), ("limit", "100")])
        .await
        .ok();
    assert_eq!(
        (page.total, page.total_exact, page.members.len()),
        (100, true, 100)
    );
    let page: MemberPage = members(&app, &token, &[("search", "10")]).await.ok();
    assert!(page.total_exact && page.total > 20, "{}", page.total);
    // 1,100 matches: the count stops 1,000 past the page, and the pages still follow one another.
    let first: MemberPage = members(&app, &token, &[("search", "bulk"), ("limit", "50")])
        .await
        .ok();
    assert_eq!((first.total, first.total_exact), (1_050, false));
    let names: Vec<String> = first
        .members
        .iter()
        .map(|m| m.display_name.clone())
        .collect();
    assert_eq!(
        names,
        (0..50).map(|i| format!("bulk-{i:05}")).collect::<Vec<_>>()
    );
    let last: MemberPage = members(
        &app,
        &token,
        &[
            ("search", "bulk"),
            ("limit", "50"),
            ("offset", "1050"),
            ("order", "asc"),
        ],
    )
    .await
    .ok();
    assert_eq!(
        (last.members.len(), last.total, last.total_exact),
        (50, 1_100, true)
    );
    assert_eq!(last.members[49].display_name, "bulk-01099");
    // The plain list counts up to 10,000 past the page: 1,110 members, exactly.
    let all: MemberPage = members(&app, &token, &[]).await.ok();
    assert_eq!((all.total, all.total_exact), (1_110, true));
    // The folder view pages on the server too.
    let web: MemberPage = members(
        &app,
        &token,
        &[("folder", "fd-web"), ("offset", "1000"), ("limit", "100")],
    )
    .await
    .ok();
    assert_eq!((web.total, web.members.len()), (1_102, 100));
    app.stop().await;
}

#[tokio::test]
async fn a_renamed_or_removed_member_is_searched_by_what_it_is_now() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let pool = &app.services.db.pool;
    sqlx::query(
        "UPDATE directory_members SET display_name = 'acme-renamed-box' WHERE account_id = $1",
    )
    .bind(SANDBOX)
    .execute(pool)
    .await
    .unwrap();
    let page: MemberPage = members(&app, &token, &[("search", "renamed")]).await.ok();
    assert_eq!(ids(&page), [SANDBOX]);
    let page: MemberPage = members(&app, &token, &[("search", "sandbox")]).await.ok();
    assert_eq!(page.total, 0);
    sqlx::query("DELETE FROM directory_members WHERE account_id = $1")
        .bind(SANDBOX)
        .execute(pool)
        .await
        .unwrap();
    let page: MemberPage = members(&app, &token, &[("search", "renamed")]).await.ok();
    assert_eq!(page.total, 0);
    assert_eq!(
        app.call("rd_member", &[("account_id", SANDBOX)], Some(&token))
            .await
            .err(),
        AppError::NotFound
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_list_requests_are_refused_with_a_reason() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let long = "a".repeat(65);
    let cases: [&[(&str, &str)]; 8] = [
        &[("limit", "0")],
        &[("limit", "101")],
        &[("offset", "-1")],
        &[("sort", "password")],
        &[("order", "sideways")],
        &[("search", long.as_str())],
        &[("folder", "fd-web' OR 1=1 --")],
        &[("limit", "many")],
    ];
    for form in cases {
        let error = members(&app, &token, form).await.err();
        assert!(
            matches!(error, AppError::InvalidInput(_)),
            "{form:?}: {error:?}"
        );
    }
    let page: MemberPage = members(&app, &token, &[("limit", "100")]).await.ok();
    assert_eq!(page.limit, 100);
    app.stop().await;
}

#[tokio::test]
async fn the_member_details_show_basic_information() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let details: MemberDetails = app
        .call(
            "rd_member",
            &[("account_id", "2000000000000001")],
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(details.member.display_name, "acme-web-prod");
    assert_eq!(
        details.member.masked_phone.as_deref(),
        Some("+86 139****9000")
    );
    assert_eq!(details.masked_email, "w***@acme.example");
    assert_eq!(details.folder_path, ["Root", "Production", "Web"]);
    for bad in ["", "123", "20000000000000011", "abcdefghijklmnop"] {
        let error = app
            .call("rd_member", &[("account_id", bad)], Some(&token))
            .await
            .err();
        assert!(
            matches!(error, AppError::InvalidInput(_)),
            "{bad:?}: {error:?}"
        );
    }
    assert_eq!(
        app.call(
            "rd_member",
            &[("account_id", "2999999999999999")],
            Some(&token)
        )
        .await
        .err(),
        AppError::NotFound
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Binding and modifying

#[tokio::test]
async fn an_administrator_binds_a_number_to_a_resource_account_without_one() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let sent: CodeSent = send(&app, &token, SANDBOX, "13100131000").await.ok();
    assert_eq!((sent.expires_in_secs, sent.resend_after_secs), (300, 60));
    // The code goes to the new number, by SMS.
    let code = latest_code(&app, "+8613100131000")
        .await
        .expect("a code to the new number");
    assert_eq!(code.len(), 6);
    let view: MemberView = bind(&app, &token, SANDBOX, "+86 131 0013 1000", &code)
        .await
        .ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1000"));
    assert_eq!(
        phone_of(&app, SANDBOX).await.as_deref(),
        Some("+8613100131000")
    );
    assert_eq!(bindings_of(&app, "+8613100131000").await, 1);
    // The list and the details read the new number.
    let page: MemberPage = members(&app, &token, &[("search", SANDBOX)]).await.ok();
    assert_eq!(
        page.members[0].masked_phone.as_deref(),
        Some("+86 131****1000")
    );
    // Now the number is the member's own: asking again for it is refused.
    assert_eq!(
        bind(&app, &token, SANDBOX, "+8613100131000", &code)
            .await
            .err(),
        AppError::SamePhone
    );
    // The member hears of it by email (it had no number to tell).
    let mails = messages_to(&app, "sandbox@acme.example").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains("+86 131****1000"), "{}", mails[0].0);
    assert_eq!(mails[0].1, None);
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_modifies_a_cloud_accounts_number_and_the_old_number_is_told() {
    let app = spawn().await;
    let token = app.sign_in("admin@acme.example").await;
    let view = send_and_bind(&app, &token, PARTNER, "+8613100131002").await;
    assert_eq!(view.member_type, MemberType::CloudAccount);
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1002"));
    assert_eq!(
        phone_of(&app, PARTNER).await.as_deref(),
        Some("+8613100131002")
    );
    assert_eq!(bindings_of(&app, PARTNER_PHONE).await, 0);
    let old = messages_to(&app, PARTNER_PHONE).await;
    assert_eq!(old.len(), 1, "one notice to the old number");
    assert!(
        old[0].0.contains("changed to +86 131****1002"),
        "{}",
        old[0].0
    );
    assert_eq!(
        messages_to(&app, "partner@analytics.example").await.len(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn every_bind_and_modify_is_audited_on_the_member_and_the_management_account() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    send_and_bind(&app, &token, CI, "+8613100131003").await;
    send_and_bind(&app, &token, CI, "+8613100131004").await;

    let member = audit_of(&app, CI).await;
    assert_eq!(member.len(), 2);
    assert_eq!(
        (member[0].0.as_str(), member[0].1.as_str()),
        ("rd-admin@acme", "BindMemberMobilePhone")
    );
    assert!(
        member[0].2.starts_with("none -> +86 131****1003"),
        "{}",
        member[0].2
    );
    assert_eq!(
        (member[1].0.as_str(), member[1].1.as_str()),
        ("rd-admin@acme", "ModifyMemberMobilePhone")
    );
    assert!(
        member[1]
            .2
            .starts_with("+86 131****1003 -> +86 131****1004"),
        "{}",
        member[1].2
    );

    let management = audit_of(&app, ACME_ID).await;
    let about_ci: Vec<_> = management.iter().filter(|e| e.2.contains(CI)).collect();
    assert_eq!(about_ci.len(), 2);
    assert!(about_ci.iter().all(|e| e.0 == "rd-admin@acme"));
    assert_eq!(about_ci[1].1, "ModifyMemberMobilePhone");

    // The details page reads the member's events, newest first.
    let events: Vec<AuditView> = app
        .call("rd_member_events", &[("account_id", CI)], Some(&token))
        .await
        .ok();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, "ModifyMemberMobilePhone");
    assert_eq!(events[0].principal, "rd-admin@acme (ram_user)");
    assert_eq!(events[0].outcome, "success");
    app.stop().await;
}

#[tokio::test]
async fn the_member_region_decides_which_numbers_are_accepted() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    // A US member: a Chinese number, in any form, is another region's.
    for other in ["+8613100131005", "86-13100131005", "8613100131005"] {
        assert_eq!(
            send(&app, &token, AUDIT_US, other).await.err(),
            AppError::PhoneRegionMismatch,
            "{other}"
        );
    }
    // A CN member: a US number is refused too.
    assert_eq!(
        send(&app, &token, SANDBOX, "+12025550100").await.err(),
        AppError::PhoneRegionMismatch
    );
    assert_eq!(
        outbox_count(&app, "+8613100131005").await + outbox_count(&app, "+12025550100").await,
        0
    );
    // The US member takes a US number, typed nationally or in the cloud's form.
    let view = send_and_bind_typed(&app, &token, AUDIT_US, "2025550100", "+12025550100").await;
    assert_eq!(view.masked_phone.as_deref(), Some("+1 202***0100"));
    let view = send_and_bind_typed(&app, &token, AUDIT_US, "1-2025550101", "+12025550101").await;
    assert_eq!(view.masked_phone.as_deref(), Some("+1 202***0101"));
    app.stop().await;
}

#[tokio::test]
async fn malformed_numbers_codes_and_ids_are_refused_before_anything_is_sent() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let long = format!("+86{}", "1".repeat(40));
    for bad in [
        "",
        "abc",
        "+86",
        "12",
        "+861012345678",
        "+8613100131000; DROP TABLE accounts",
        long.as_str(),
    ] {
        assert_eq!(
            send(&app, &token, SANDBOX, bad).await.err(),
            AppError::InvalidPhone,
            "{bad:?}"
        );
    }
    for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "123 456"] {
        let error = bind(&app, &token, SANDBOX, "+8613100131000", bad)
            .await
            .err();
        assert_eq!(error, AppError::MalformedCode, "{bad:?}");
    }
    let long_id = "2".repeat(5000);
    for bad in ["", "2000", "200000000000000x", long_id.as_str()] {
        let error = send(&app, &token, bad, "+8613100131000").await.err();
        assert!(
            matches!(error, AppError::InvalidInput(_)),
            "{bad:?}: {error:?}"
        );
    }
    // A missing field is a malformed request, not a crash.
    let error = app
        .call("rd_send_code", &[("account_id", SANDBOX)], Some(&token))
        .await
        .err();
    assert!(matches!(error, AppError::InvalidInput(_)), "{error:?}");
    assert_eq!(sms_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_current_number_is_refused_as_the_new_one() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        send(&app, &token, PARTNER, PARTNER_PHONE).await.err(),
        AppError::SamePhone
    );
    assert_eq!(
        send(&app, &token, PARTNER, "13500135000").await.err(),
        AppError::SamePhone
    );
    assert_eq!(outbox_count(&app, PARTNER_PHONE).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_number_already_on_six_accounts_gets_no_code() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(bindings_of(&app, FULL_NUMBER).await, 6);
    for member in [SANDBOX, PARTNER] {
        let reply = send(&app, &token, member, FULL_NUMBER).await;
        assert_eq!(reply.err(), AppError::PhoneBindingLimit(6), "{member}");
    }
    assert_eq!(outbox_count(&app, FULL_NUMBER).await, 0);
    assert_eq!(bindings_of(&app, FULL_NUMBER).await, 6);
    app.stop().await;
}

#[tokio::test]
async fn the_six_account_limit_is_checked_again_when_binding() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let number = "+8613100131006";
    let _: CodeSent = send(&app, &token, SANDBOX, number).await.ok();
    let code = latest_code(&app, number).await.unwrap();
    // Meanwhile six other accounts take the number.
    sqlx::query("INSERT INTO phone_binding_counts (phone, accounts) VALUES ($1, 6)")
        .bind(number)
        .execute(&app.services.db.pool)
        .await
        .unwrap();
    assert_eq!(
        bind(&app, &token, SANDBOX, number, &code).await.err(),
        AppError::PhoneBindingLimit(6)
    );
    assert_eq!(phone_of(&app, SANDBOX).await, None);
    assert!(audit_of(&app, SANDBOX).await.is_empty());
    assert_eq!(messages_to(&app, "sandbox@acme.example").await.len(), 0);
    // Nothing was spent: once a place frees up, the same code binds.
    sqlx::query("UPDATE phone_binding_counts SET accounts = 5 WHERE phone = $1")
        .bind(number)
        .execute(&app.services.db.pool)
        .await
        .unwrap();
    let view: MemberView = bind(&app, &token, SANDBOX, number, &code).await.ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1006"));
    assert_eq!(bindings_of(&app, number).await, 6);
    app.stop().await;
}

#[tokio::test]
async fn moving_a_member_off_the_full_number_frees_a_place_on_it() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    send_and_bind(&app, &token, WEB_PROD, "+8613100131007").await;
    assert_eq!(bindings_of(&app, FULL_NUMBER).await, 5);
    let view = send_and_bind(&app, &token, SANDBOX, FULL_NUMBER).await;
    assert_eq!(view.masked_phone.as_deref(), Some("+86 139****9000"));
    assert_eq!(bindings_of(&app, FULL_NUMBER).await, 6);
    assert_eq!(
        send(&app, &token, CI, FULL_NUMBER).await.err(),
        AppError::PhoneBindingLimit(6)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_code_binds_only_its_member_number_and_session() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let number = "+8613100131008";
    let _: CodeSent = send(&app, &token, SANDBOX, number).await.ok();
    let code = latest_code(&app, number).await.unwrap();
    // Another member, another number, another administrator's session: all refused.
    assert_eq!(
        bind(&app, &token, CI, number, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    assert_eq!(
        bind(&app, &token, SANDBOX, "+8613100131009", &code)
            .await
            .err(),
        AppError::CodeIncorrectOrExpired
    );
    let owner = app.sign_in("admin@acme.example").await;
    assert_eq!(
        bind(&app, &owner, SANDBOX, number, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    // A wrong code counts but leaves the right one usable.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        bind(&app, &token, SANDBOX, number, wrong).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    let view: MemberView = bind(&app, &token, SANDBOX, number, &code).await.ok();
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1008"));
    assert_eq!(phone_of(&app, CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_and_an_expired_code_fails() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let number = "+8613100131010";
    let _: CodeSent = send(&app, &token, SANDBOX, number).await.ok();
    let code = latest_code(&app, number).await.unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            bind(&app, &token, SANDBOX, number, wrong).await.err(),
            AppError::CodeIncorrectOrExpired
        );
    }
    assert_eq!(
        bind(&app, &token, SANDBOX, number, &code).await.err(),
        AppError::TooManyAttempts
    );
    assert_eq!(phone_of(&app, SANDBOX).await, None);

    let number = "+8613100131011";
    let _: CodeSent = send(&app, &token, CI, number).await.ok();
    let code = latest_code(&app, number).await.unwrap();
    app.clock.advance_secs(301);
    assert_eq!(
        bind(&app, &token, CI, number, &code).await.err(),
        AppError::CodeIncorrectOrExpired
    );
    assert_eq!(phone_of(&app, CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn a_second_code_to_the_same_number_waits_sixty_seconds() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let number = "+8613100131012";
    let _: CodeSent = send(&app, &token, SANDBOX, number).await.ok();
    app.clock.advance_secs(1);
    assert_eq!(
        send(&app, &token, SANDBOX, number).await.err(),
        AppError::ResendTooSoon(59)
    );
    assert_eq!(outbox_count(&app, number).await, 1);
    app.clock.advance_secs(59);
    let _: CodeSent = send(&app, &token, SANDBOX, number).await.ok();
    assert_eq!(outbox_count(&app, number).await, 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 100 codes per member account per day

/// The `i`-th of a run of distinct CN mobile numbers (so the 60-second rule never interferes).
fn nth_number(i: usize) -> String {
    format!("+86131002{i:05}")
}

#[tokio::test]
async fn the_101st_code_of_a_day_for_one_member_is_refused_and_the_next_day_is_allowed() {
    let app = spawn_with(|c| {
        c.limits.codes_per_target_per_hour = 1000;
        c.limits.codes_per_ip_per_hour = 1000;
    })
    .await;
    // 01:00 UTC tomorrow: all 101 sends fall in one UTC day.
    app.clock
        .set_ms((now(&app).div_euclid(DAY_MS) + 1) * DAY_MS + 3_600_000);
    let token = app.sign_in("rd-admin@acme").await;
    for i in 0..100 {
        let reply = send(&app, &token, SANDBOX, &nth_number(i)).await;
        assert!(reply.status < 300, "code {} refused: {}", i + 1, reply.body);
    }
    let refused = send(&app, &token, SANDBOX, &nth_number(100)).await;
    assert_eq!(refused.err(), AppError::DailyLimitReached(100));
    assert_eq!(
        AppError::DailyLimitReached(100).to_string(),
        "A maximum of 100 verification codes can be sent to each member account per day."
    );
    assert_eq!(
        outbox_count(&app, &nth_number(100)).await,
        0,
        "nothing queued for the 101st"
    );
    assert_eq!(outbox_count(&app, &nth_number(99)).await, 1);
    // The limit is per member: another member still gets codes today.
    let _: CodeSent = send(&app, &token, CI, &nth_number(101)).await.ok();
    // Still refused late in the same day.
    app.clock
        .set_ms((now(&app).div_euclid(DAY_MS) + 1) * DAY_MS - 60_000);
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        send(&app, &token, SANDBOX, &nth_number(102)).await.err(),
        AppError::DailyLimitReached(100)
    );
    // A new UTC day: allowed again.
    app.clock.advance_secs(60);
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(102)).await.ok();
    assert_eq!(outbox_count(&app, &nth_number(102)).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_daily_window_starts_at_the_configured_minute() {
    // Days start at 16:00 UTC (midnight in UTC+8); two codes a day keep the test short.
    let app = spawn_with(|c| {
        c.limits.day_starts_at_utc_minutes = 16 * 60;
        c.limits.codes_per_account_per_day = 2;
    })
    .await;
    let today = (now(&app).div_euclid(DAY_MS) + 1) * DAY_MS;
    app.clock.set_ms(today + 15 * 3_600_000 + 59 * 60_000); // 15:59 UTC
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(0)).await.ok();
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(1)).await.ok();
    assert_eq!(
        send(&app, &token, SANDBOX, &nth_number(2)).await.err(),
        AppError::DailyLimitReached(2)
    );
    // 16:00 UTC: a new day.
    app.clock.set_ms(today + 16 * 3_600_000);
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(2)).await.ok();
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(3)).await.ok();
    assert_eq!(
        send(&app, &token, SANDBOX, &nth_number(4)).await.err(),
        AppError::DailyLimitReached(2)
    );
    // UTC midnight is no boundary here.
    app.clock.set_ms(today + DAY_MS + 60_000);
    let token = app.sign_in("rd-admin@acme").await;
    assert_eq!(
        send(&app, &token, SANDBOX, &nth_number(4)).await.err(),
        AppError::DailyLimitReached(2)
    );
    // The next 16:00 UTC is.
    app.clock.set_ms(today + DAY_MS + 16 * 3_600_000);
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(4)).await.ok();
    assert_eq!(outbox_count(&app, &nth_number(4)).await, 1);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The automation API

#[tokio::test]
async fn the_api_sends_a_code_and_binds_a_resource_account() {
    let app = spawn().await;
    let token = app.sign_in("rd-admin@acme").await;
    let body = json!({ "AccountId": SANDBOX, "SecureMobilePhone": "86-13100131020" }).to_string();
    let (status, reply) = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        &body,
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(is_uuid_v4(&reply["RequestId"]), "{reply}");
    let expires = app::ssr::clock::rfc3339(now(&app) + 300_000);
    assert_eq!(reply["ExpirationDate"].as_str(), Some(expires.as_str()));
    assert!(reply.get("Code").is_none());

    let code = latest_code(&app, "+8613100131020").await.unwrap();
    let body = json!({ "AccountId": SANDBOX, "SecureMobilePhone": "+8613100131020", "VerificationCode": code });
    let (status, reply) = api(
        &app,
        "BindSecureMobilePhone",
        &body.to_string(),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(is_uuid_v4(&reply["RequestId"]), "{reply}");
    assert_eq!(reply.as_object().unwrap().len(), 1, "{reply}");
    assert_eq!(
        phone_of(&app, SANDBOX).await.as_deref(),
        Some("+8613100131020")
    );
    let events = audit_of(&app, SANDBOX).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].2.contains("via the API"), "{}", events[0].2);
    assert_eq!(
        audit_of(&app, ACME_ID)
            .await
            .iter()
            .filter(|e| e.2.contains(SANDBOX))
            .count(),
        1
    );

    // Bound now: the API does not change a bound number (the console does).
    let body = json!({ "AccountId": SANDBOX, "SecureMobilePhone": "+8613100131021" }).to_string();
    let reply = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        &body,
        Some(&token),
    )
    .await;
    assert_api_error(&reply, 400, "SecureMobilePhone.AlreadyBound");
    assert_eq!(outbox_count(&app, "+8613100131021").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_what_the_cloud_refuses() {
    let app = spawn().await;
    add_second_directory(&app).await;
    let token = app.sign_in("rd-admin@acme").await;
    let send_op = "SendVerificationCodeForBindSecureMobilePhone";
    let cases: Vec<(Value, u16, &str)> = vec![
        // A cloud account, or a member with a number.
        (
            json!({"AccountId": PARTNER, "SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter.AccountType",
        ),
        (
            json!({"AccountId": WEB_PROD, "SecureMobilePhone": "+8613100131022"}),
            400,
            "SecureMobilePhone.AlreadyBound",
        ),
        // Numbers: malformed, a landline, another region's, the full one.
        (
            json!({"AccountId": CI, "SecureMobilePhone": "1-abc"}),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            json!({"AccountId": CI, "SecureMobilePhone": "+861012345678"}),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            json!({"AccountId": CI, "SecureMobilePhone": "x".repeat(10_000)}),
            400,
            "InvalidParameter.SecureMobilePhone",
        ),
        (
            json!({"AccountId": CI, "SecureMobilePhone": "1-2025550143"}),
            400,
            "InvalidParameter.SecureMobilePhone.Region",
        ),
        (
            json!({"AccountId": CI, "SecureMobilePhone": FULL_NUMBER}),
            400,
            "SecureMobilePhone.BindingLimit",
        ),
        // Ids: malformed, wrong type, missing, not in this directory.
        (
            json!({"AccountId": "20000000000000071", "SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter.AccountId",
        ),
        (
            json!({"AccountId": 2000000000000007_i64, "SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter",
        ),
        (
            json!({"SecureMobilePhone": "+8613100131022"}),
            400,
            "InvalidParameter",
        ),
        (json!({"AccountId": CI}), 400, "InvalidParameter"),
        (
            json!({"AccountId": GLOBEX_MEMBER, "SecureMobilePhone": "+8613100131022"}),
            404,
            "EntityNotExist.Account",
        ),
    ];
    for (body, status, code) in cases {
        let reply = api(&app, send_op, &body.to_string(), Some(&token)).await;
        assert_api_error(&reply, status, code);
    }
    // Not JSON, or not an object.
    for body in ["{\"AccountId\": ", "not json", "[1, 2]", ""] {
        let reply = api(&app, send_op, body, Some(&token)).await;
        assert_api_error(&reply, 400, "InvalidParameter");
    }
    let (_, reply) = api(&app, send_op, "{", Some(&token)).await;
    assert!(
        reply["Message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{reply}"
    );
    let (_, reply) = api(
        &app,
        send_op,
        &json!({"AccountId": 1}).to_string(),
        Some(&token),
    )
    .await;
    assert_eq!(reply["Message"], "AccountId must be a string.");
    // An oversized body is refused unread.
    let huge = json!({"AccountId": CI, "SecureMobilePhone": "1".repeat(20_000)}).to_string();
    let reply = api(&app, send_op, &huge, Some(&token)).await;
    assert_api_error(&reply, 413, "InvalidParameter.BodyTooLarge");
    assert_eq!(sms_count(&app).await, 0, "nothing was sent");

    // Codes: malformed, wrong.
    let bind_op = "BindSecureMobilePhone";
    let body = json!({"AccountId": CI, "SecureMobilePhone": "+8613100131022", "VerificationCode": "12a456"});
    assert_api_error(
        &api(&app, bind_op, &body.to_string(), Some(&token)).await,
        400,
        "InvalidParameter.VerificationCode",
    );
    let body =
        json!({"AccountId": CI, "SecureMobilePhone": "+8613100131022", "VerificationCode": 123456});
    assert_api_error(
        &api(&app, bind_op, &body.to_string(), Some(&token)).await,
        400,
        "InvalidParameter",
    );
    let body = json!({"AccountId": CI, "SecureMobilePhone": "+8613100131022", "VerificationCode": "123456"});
    assert_api_error(
        &api(&app, bind_op, &body.to_string(), Some(&token)).await,
        400,
        "VerificationCode.Invalid",
    );
    assert_eq!(phone_of(&app, CI).await, None);
    app.stop().await;
}

#[tokio::test]
async fn the_api_is_authorised_like_the_console() {
    let app = spawn().await;
    let body = json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131023"}).to_string();
    let op = "SendVerificationCodeForBindSecureMobilePhone";
    assert_api_error(&api(&app, op, &body, None).await, 401, "NotSignedIn");
    assert_api_error(
        &api(&app, op, &body, Some("0123456789abcdef0123456789abcdef")).await,
        401,
        "NotSignedIn",
    );
    for account in ["viewer@acme", "dev@alice", "alice@example.com"] {
        let token = app.sign_in(account).await;
        assert_api_error(&api(&app, op, &body, Some(&token)).await, 403, "Forbidden");
        let bind = json!({"AccountId": SANDBOX, "SecureMobilePhone": "+8613100131023", "VerificationCode": "123456"});
        assert_api_error(
            &api(
                &app,
                "BindSecureMobilePhone",
                &bind.to_string(),
                Some(&token),
            )
            .await,
            403,
            "Forbidden",
        );
    }
    // The CSRF guard: a script must name this origin; a foreign or missing Origin is refused.
    let token = app.sign_in("rd-admin@acme").await;
    for origin in [Some("https://evil.example"), None] {
        let mut request = app
            .http
            .post(app.url(&format!("/api/v1/{op}")))
            .header("Content-Type", "application/json")
            .header("Cookie", format!("__Host-session={token}"))
            .body(body.clone());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{origin:?}");
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["Code"], "Forbidden.CrossSite");
    }
    // Only POST.
    let response = app.get(&format!("/api/v1/{op}"), Some(&token)).await;
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(outbox_count(&app, "+8613100131023").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_api_and_the_console_share_the_daily_limit() {
    let app = spawn_with(|c| c.limits.codes_per_account_per_day = 2).await;
    let token = app.sign_in("rd-admin@acme").await;
    let _: CodeSent = send(&app, &token, SANDBOX, &nth_number(0)).await.ok();
    let body = json!({"AccountId": SANDBOX, "SecureMobilePhone": nth_number(1)}).to_string();
    let (status, reply) = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        &body,
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let body = json!({"AccountId": SANDBOX, "SecureMobilePhone": nth_number(2)}).to_string();
    let reply = api(
        &app,
        "SendVerificationCodeForBindSecureMobilePhone",
        &body,
        Some(&token),
    )
    .await;
    assert_api_error(&reply, 429, "Throttling.DailyLimit");
    assert_eq!(
        reply.1["Message"],
        AppError::DailyLimitReached(2).to_string()
    );
    assert_eq!(
        send(&app, &token, SANDBOX, &nth_number(3)).await.err(),
        AppError::DailyLimitReached(2)
    );
    app.stop().await;
}
