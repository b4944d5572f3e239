//! Resource Management over HTTP: who may use it, the folder tree and the member list, binding
//! and modifying a member's number under every rule of SPEC 3 and 5, and the automation API.

use crate::helpers;
use crate::helpers::Steps;

use app::error::AppError;
use app::model::{
    AuditView, CodeSent, DirectoryView, MemberDetails, MemberPage, MemberType, MemberView,
};
use app::ssr::seed::{ACME_ID, FULL_NUMBER};
use helpers::fixtures::{
    AUDIT_US, BIND_OP, CI, DAY_MS, GLOBEX_MEMBER, PARTNER, PARTNER_PHONE, SANDBOX, SEND_OP,
    WEB_PROD, api, spawn_with_second_directory, wrong_code,
};
use helpers::{TestApp, spawn, spawn_as, spawn_with};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers

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

/// (principal name, action, detail) of every audit event on `subject`, oldest first.
async fn audit_of(app: &TestApp, subject: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT principal_name, action, detail FROM audit_events WHERE subject_account_id = $1 ORDER BY id")
        .bind(subject)
        .fetch_all(&app.services.db.pool)
        .await
        .unwrap()
}

/// The details of member `id` (`rd_member`).
async fn member(app: &TestApp, token: &str, id: &str) -> helpers::Reply {
    app.call("rd_member", &[("account_id", id)], Some(token))
        .await
}

async fn members(app: &TestApp, token: &str, form: &[(&str, &str)]) -> helpers::Reply {
    app.call("rd_members", form, Some(token)).await
}

fn ids(page: &MemberPage) -> Vec<String> {
    page.members.iter().map(|m| m.account_id.clone()).collect()
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

mod binding;

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

/// Through session `token`, `id` is no member: neither its details nor a code for it.
async fn assert_not_found_by(app: &TestApp, token: &str, id: &str) {
    assert_eq!(
        member(app, token, id).await.err(),
        AppError::NotFound,
        "{id}"
    );
    let code = app.rd_send_code(token, id, "+8613100131000").await;
    assert_eq!(code.err(), AppError::NotFound, "a code for {id}");
}

#[tokio::test]
async fn an_administrator_never_reaches_another_directorys_members() {
    let app = spawn_with_second_directory().await;
    let acme = app.sign_in("rd-admin@acme").await;
    assert_not_found_by(&app, &acme, GLOBEX_MEMBER).await;
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
        app.rd_bind_phone(&acme, GLOBEX_MEMBER, "+8613100131000", "123456")
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
    assert_eq!(member(&app, &acme, ACME_ID).await.err(), AppError::NotFound);
    assert_eq!(outbox_count(&app, "+8613100131000").await, 0);
    assert_eq!(app.phone_of(GLOBEX_MEMBER).await, None);

    // Globex's owner sees Globex only, and Acme's members are as foreign to it.
    let globex = app.sign_in("admin@globex.example").await;
    let tree: DirectoryView = app.call("rd_tree", &[], Some(&globex)).await.ok();
    assert_eq!(tree.directory_id, "rd-globex");
    let page: MemberPage = members(&app, &globex, &[]).await.ok();
    assert_eq!(ids(&page), [GLOBEX_MEMBER]);
    assert_not_found_by(&app, &globex, SANDBOX).await;
    // And it binds its own member.
    let view = app
        .bind_member(&globex, GLOBEX_MEMBER, "+8613100131001")
        .await;
    assert_eq!(view.masked_phone.as_deref(), Some("+86 131****1001"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The two views

#[tokio::test]
async fn the_folder_tree_has_the_demo_folders_with_their_counts() {
    let (app, token) = spawn_as("rd-admin@acme").await;
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
    let (app, token) = spawn_as("rd-admin@acme").await;
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
    let (app, token) = spawn_as("rd-admin@acme").await;
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
    let (app, token) = spawn_as("rd-admin@acme").await;
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
    let now = app.now();
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
        // One INSERT of many rows: `head`, then a `(…)` of `columns` parameters for each row.
        let insert = |head: &str, columns: usize| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{head} VALUES {}",
                rows(columns)
            )))
        };
        let mut accounts = insert(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, status, created_at, updated_at)",
            9,
        );
        let mut members = insert(
            "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at)",
            6,
        );
        for i in chunk {
            accounts = accounts
                .bind(format!("6{i:015}"))
                .bind(format!("bulk-{i:05}"))
                .bind(format!("bulk-{i}"))
                .bind(format!("bulk-{i}@acme.example"))
                .bind("!")
                .bind("CN")
                .bind("active")
                .bind(now)
                .bind(now);
            members = members
                .bind(format!("6{i:015}"))
                .bind("rd-acme")
                .bind("fd-web")
                .bind("resource_account")
                .bind(format!("bulk-{i:05}"))
                .bind(now + *i as i64);
        }
        accounts.execute(&mut *tx).await.unwrap();
        members.execute(&mut *tx).await.unwrap();
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
    let (app, token) = spawn_as("rd-admin@acme").await;
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
        member(&app, &token, SANDBOX).await.err(),
        AppError::NotFound
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_list_requests_are_refused_with_a_reason() {
    let (app, token) = spawn_as("rd-admin@acme").await;
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
    let (app, token) = spawn_as("rd-admin@acme").await;
    let details: MemberDetails = member(&app, &token, "2000000000000001").await.ok();
    assert_eq!(details.member.display_name, "acme-web-prod");
    assert_eq!(
        details.member.masked_phone.as_deref(),
        Some("+86 139****9000")
    );
    assert_eq!(details.masked_email, "w***@acme.example");
    assert_eq!(details.folder_path, ["Root", "Production", "Web"]);
    for bad in ["", "123", "20000000000000011", "abcdefghijklmnop"] {
        let error = member(&app, &token, bad).await.err();
        assert!(
            matches!(error, AppError::InvalidInput(_)),
            "{bad:?}: {error:?}"
        );
    }
    assert_eq!(
        member(&app, &token, "2999999999999999").await.err(),
        AppError::NotFound
    );
    app.stop().await;
}
