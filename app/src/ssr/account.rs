//! Reading an account for display.

use crate::domain::Region;
use crate::domain::mask::mask_email;
use crate::domain::phone::mask_e164;
use crate::error::{AppError, AppResult};
use crate::model::{AccountSummary, LogonProtection};
use crate::ssr::Services;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub display_name: String,
    pub alias: String,
    pub email: String,
    pub region: String,
    pub phone: Option<String>,
    pub totp_bound: i64,
    pub logon_protection: String,
}

pub async fn find(services: &Services, account_id: &str) -> AppResult<AccountRow> {
    sqlx::query_as(
        "SELECT id, display_name, alias, email, region, phone, \
                CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS totp_bound, logon_protection \
         FROM accounts WHERE id = $1",
    )
    .bind(account_id)
    .fetch_optional(&services.db.pool)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn summary(services: &Services, account_id: &str) -> AppResult<AccountSummary> {
    let row = find(services, account_id).await?;
    let calling_code = Region::parse(&row.region)
        .map(|r| r.calling_code())
        .unwrap_or_default();
    Ok(AccountSummary {
        account_id: row.id,
        display_name: row.display_name,
        alias: row.alias,
        masked_email: mask_email(&row.email),
        masked_phone: row.phone.as_deref().map(mask_e164),
        region: row.region,
        calling_code,
        totp_bound: row.totp_bound != 0,
        logon_protection: LogonProtection::parse(&row.logon_protection).unwrap_or_default(),
    })
}

/// Remembers the owner's language (the switcher's choice).
pub async fn set_language(
    services: &Services,
    account_id: &str,
    locale: crate::i18n::Locale,
) -> AppResult<()> {
    sqlx::query("UPDATE accounts SET language = $1, updated_at = $2 WHERE id = $3")
        .bind(locale.tag())
        .bind(services.now_ms())
        .bind(account_id)
        .execute(&mut *services.db.write().await?)
        .await?;
    Ok(())
}

/// The language the account's notices are written in: the owner's choice, else `fallback`.
pub async fn language(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    fallback: crate::i18n::Locale,
) -> AppResult<crate::i18n::Locale> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT language FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row
        .and_then(|(tag,)| tag)
        .and_then(|tag| crate::i18n::Locale::from_tag(&tag))
        .unwrap_or(fallback))
}
