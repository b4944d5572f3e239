//! The demo data of SPEC section 8, for development mode only. Seeding twice adds nothing.

use crate::ssr::Services;
use crate::ssr::crypto::hash_password;
use sqlx::AnyConnection;

pub const DEMO_PASSWORD: &str = "Demo-pass-123";
pub const ALICE_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const FULL_NUMBER: &str = "+8613900139000";
/// Ways a person may type Alice's number (+8613800138000) at sign-in; each is the same account.
pub const ALICE_PHONE_SPELLINGS: [&str; 7] = [
    "+86 138 0013 8000",
    "86-13800138000",
    "+8613800138000",
    "008613800138000",
    "+86-138-0013-8000",
    "8613800138000",
    " (86) 138.0013.8000 ",
];

pub const ALICE_ID: &str = "1000000000000001";
pub const BOB_ID: &str = "1000000000000002";
pub const ACME_ID: &str = "1000000000000003";
pub const ACME_DIRECTORY: &str = "rd-acme";
/// The demo platform operator (decides appeals; README "Appeals"): an owner account of its own,
/// with no number, outside SPEC 8's table so that nothing it promises changes.
pub const OPERATOR_ID: &str = "1000000000000004";
pub const DEMO_OPERATOR_EMAIL: &str = "operator@example.com";

struct DemoAccount {
    id: &'static str,
    name: &'static str,
    alias: &'static str,
    email: &'static str,
    region: &'static str,
    phone: Option<&'static str>,
    totp: Option<&'static str>,
}

const fn account(
    id: &'static str,
    name: &'static str,
    alias: &'static str,
    email: &'static str,
    region: &'static str,
    phone: Option<&'static str>,
) -> DemoAccount {
    DemoAccount {
        id,
        name,
        alias,
        email,
        region,
        phone,
        totp: None,
    }
}

/// Members of Acme's directory: (account, folder, type).
const MEMBERS: [(DemoAccount, &str, &str); 10] = [
    (
        account(
            "2000000000000001",
            "acme-web-prod",
            "acme-web-prod",
            "web-prod@acme.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        "fd-web",
        "resource_account",
    ),
    (
        account(
            "2000000000000002",
            "acme-web-staging",
            "acme-web-staging",
            "web-staging@acme.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        "fd-web",
        "resource_account",
    ),
    (
        account(
            "2000000000000003",
            "acme-data-warehouse",
            "acme-data-warehouse",
            "warehouse@acme.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        "fd-data",
        "resource_account",
    ),
    (
        account(
            "2000000000000004",
            "acme-data-lake",
            "acme-data-lake",
            "lake@acme.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        "fd-data",
        "resource_account",
    ),
    (
        account(
            "2000000000000005",
            "acme-prod-shared",
            "acme-prod-shared",
            "prod-shared@acme.example",
            "CN",
            Some("+8613600136000"),
        ),
        "fd-production",
        "resource_account",
    ),
    (
        account(
            "2000000000000006",
            "acme-dev-sandbox",
            "acme-dev-sandbox",
            "sandbox@acme.example",
            "CN",
            None,
        ),
        "fd-development",
        "resource_account",
    ),
    (
        account(
            "2000000000000007",
            "acme-dev-ci",
            "acme-dev-ci",
            "ci@acme.example",
            "CN",
            None,
        ),
        "fd-development",
        "resource_account",
    ),
    (
        account(
            "2000000000000008",
            "acme-security-audit",
            "acme-security-audit",
            "audit@acme.example",
            "US",
            None,
        ),
        "fd-root",
        "resource_account",
    ),
    (
        account(
            "2000000000000009",
            "Acme Partner Analytics",
            "acme-partner",
            "partner@analytics.example",
            "CN",
            Some("+8613500135000"),
        ),
        "fd-production",
        "cloud_account",
    ),
    (
        account(
            "2000000000000010",
            "Acme US Subsidiary",
            "acme-us",
            "us@acme.example",
            "US",
            Some("+12025550188"),
        ),
        "fd-root",
        "cloud_account",
    ),
];

/// The root accounts of SPEC 8's demo data (the directory's members are `MEMBERS`), and the
/// demo operator.
fn roots() -> [DemoAccount; 6] {
    [
        DemoAccount {
            totp: Some(ALICE_TOTP_SECRET),
            ..account(
                ALICE_ID,
                "Alice",
                "alice",
                "alice@example.com",
                "CN",
                Some("+8613800138000"),
            )
        },
        account(
            BOB_ID,
            "Bob",
            "bob",
            "bob@example.com",
            "US",
            Some("+12025550143"),
        ),
        account(
            ACME_ID,
            "Acme",
            "acme",
            "admin@acme.example",
            "CN",
            Some("+8613700137000"),
        ),
        account(
            "3000000000000001",
            "Legacy Shop 1",
            "legacy-shop-1",
            "legacy1@shop.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        account(
            "3000000000000002",
            "Legacy Shop 2",
            "legacy-shop-2",
            "legacy2@shop.example",
            "CN",
            Some(FULL_NUMBER),
        ),
        account(
            OPERATOR_ID,
            "Platform Operator",
            "operator",
            DEMO_OPERATOR_EMAIL,
            "CN",
            None,
        ),
    ]
}

/// Seeds the demo data into an empty database; does nothing when Alice is already there.
pub async fn seed_demo(services: &Services) -> Result<bool, sqlx::Error> {
    let mut tx = services.db.begin().await?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM accounts WHERE id = $1")
        .bind(ALICE_ID)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Ok(false);
    }
    let now = services.now_ms();
    let hash = hash_password(DEMO_PASSWORD);
    let conn: &mut AnyConnection = &mut tx;
    let roots = roots();
    for a in roots.iter().chain(MEMBERS.iter().map(|(a, _, _)| a)) {
        insert_account(conn, services, a, &hash, now).await?;
    }

    insert_principals(conn, &hash, now).await?;
    insert_directory(conn, now).await?;
    recount_phone_bindings(conn).await?;
    tx.commit().await?;
    Ok(true)
}

/// Alice's RAM user `dev` (who may take the role `auditor`) and SSO user; Acme's RAM users
/// `rd-admin` (with the directory policy) and `viewer`.
async fn insert_principals(
    conn: &mut AnyConnection,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let dev = insert_ram_user(conn, ALICE_ID, "dev", hash, now).await?;
    let (auditor,): (i64,) = sqlx::query_as(
        "INSERT INTO ram_roles (account_id, name) VALUES ($1, 'auditor') RETURNING id",
    )
    .bind(ALICE_ID)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO ram_role_trust (role_id, ram_user_id) VALUES ($1, $2)")
        .bind(auditor)
        .bind(dev)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO sso_users (account_id, name) VALUES ($1, 'sso-user')")
        .bind(ALICE_ID)
        .execute(&mut *conn)
        .await?;

    let rd_admin = insert_ram_user(conn, ACME_ID, "rd-admin", hash, now).await?;
    insert_ram_user(conn, ACME_ID, "viewer", hash, now).await?;
    sqlx::query("INSERT INTO policy_attachments (principal_type, principal_id, policy) VALUES ('ram_user', $1, $2)")
        .bind(rd_admin)
        .bind(crate::ssr::session::RD_FULL_ACCESS)
        .execute(&mut *conn)
        .await?;

    Ok(())
}

/// Acme's resource directory: its folder tree and its members.
async fn insert_directory(conn: &mut AnyConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO resource_directories (id, management_account_id, created_at) VALUES ($1, $2, $3)")
        .bind(ACME_DIRECTORY)
        .bind(ACME_ID)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let folders = [
        ("fd-root", None, "Root", 1),
        ("fd-production", Some("fd-root"), "Production", 2),
        ("fd-web", Some("fd-production"), "Web", 3),
        ("fd-data", Some("fd-production"), "Data", 3),
        ("fd-development", Some("fd-root"), "Development", 2),
    ];
    for (id, parent, name, depth) in folders {
        sqlx::query(
            "INSERT INTO folders (id, directory_id, parent_id, name, depth, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(ACME_DIRECTORY)
        .bind(parent)
        .bind(name)
        .bind(depth as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    for (member, folder, member_type) in MEMBERS.iter() {
        sqlx::query(
            "INSERT INTO directory_members (account_id, directory_id, folder_id, member_type, display_name, joined_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(member.id)
        .bind(ACME_DIRECTORY)
        .bind(*folder)
        .bind(*member_type)
        .bind(member.name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_account(
    conn: &mut AnyConnection,
    services: &Services,
    a: &DemoAccount,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, totp_secret, totp_bound_at, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, 'active', $9, $9)",
    )
    .bind(a.id)
    .bind(a.name)
    .bind(a.alias)
    .bind(a.email)
    .bind(hash)
    .bind(a.region)
    .bind(a.phone)
    // Sealed like every bound secret: the row never holds it in base32.
    .bind(a.totp.map(|secret| {
        crate::ssr::totp::seal_secret(
            services,
            &crate::ssr::totp::account_context(a.id),
            secret,
        )
    }))
    .bind(now)
    // SPEC 8: every binding of the demo data counts as made 30 days before seeding.
    .bind(a.totp.map(|_| now - 30 * 86_400_000))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_ram_user(
    conn: &mut AnyConnection,
    account_id: &str,
    login_name: &str,
    hash: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO ram_users (account_id, login_name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(account_id)
    .bind(login_name)
    .bind(hash)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Rebuilds the per-number counts from the accounts (used after bulk loads, never on a live path).
pub async fn recount_phone_bindings(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM phone_binding_counts")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO phone_binding_counts (phone, accounts) \
         SELECT phone, COUNT(*) FROM accounts WHERE phone IS NOT NULL AND status = 'active' GROUP BY phone",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An owner account for a load run (the benchmarks, the soak run): region CN, its own number.
pub struct LoadOwner {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// Inserts load-run owners straight into the tables, with their binding counts, one password
/// hash for all, in one transaction: quicker than signing each one up, and the same rows.
pub async fn insert_load_owners(
    pool: &sqlx::AnyPool,
    owners: &[LoadOwner],
    password_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for owner in owners {
        sqlx::query(
            "INSERT INTO accounts (id, display_name, alias, email, password_hash, region, phone, \
             status, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, 'CN', $5, 'active', $6, $6)",
        )
        .bind(&owner.id)
        .bind(&owner.name)
        .bind(&owner.email)
        .bind(password_hash)
        .bind(&owner.phone)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO phone_binding_counts (phone, accounts) VALUES ($1, 1)")
            .bind(&owner.phone)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
