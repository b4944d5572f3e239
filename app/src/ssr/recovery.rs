//! Password recovery (SPEC 4): a code to the bound phone sets a new password.

use crate::domain::{Email, PhoneNumber, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::ssr::Services;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::crypto::{hash_password, random_token, sha256_hex};
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::request::RequestMeta;
use crate::ssr::verification::{self, CodeRequest, Purpose};

/// Forgot password, step 1: the same answer whether or not the account exists. Returns the
/// recovery token the browser keeps in a cookie; the code is bound to it.
pub async fn request_reset(
    services: &Services,
    meta: &RequestMeta,
    account_input: &str,
    existing_token: Option<&str>,
) -> AppResult<String> {
    // A repeated request from the same browser keeps its token, so the code already sent stays good.
    let token = existing_token
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .unwrap_or_else(random_token);
    let found = find_for_recovery(services, account_input).await?;
    if let Some((account_id, Some(phone))) = found {
        let sent = verification::send_code(
            services,
            CodeRequest {
                purpose: Purpose::ResetPassword,
                account_id: &account_id,
                target: &phone,
                channel: Channel::Sms,
                session_hash: &sha256_hex(&token),
                client_ip: &meta.client_ip,
            },
        )
        .await;
        // Every outcome but a fault looks alike: a refused resend would tell that the account
        // exists, so within the minute the earlier code simply stays the one to use.
        match sent {
            Err(AppError::Internal) => return Err(AppError::Internal),
            Err(AppError::IpLimitReached) => return Err(AppError::IpLimitReached),
            _ => {}
        }
    }
    Ok(token)
}

async fn find_for_recovery(
    services: &Services,
    input: &str,
) -> AppResult<Option<(String, Option<String>)>> {
    let input = input.trim();
    if let Ok(email) = Email::parse(input) {
        return Ok(sqlx::query_as(
            "SELECT id, phone FROM accounts WHERE email = $1 AND status = 'active'",
        )
        .bind(email.as_str())
        .fetch_optional(&services.db.pool)
        .await?);
    }
    if let Ok(phone) = PhoneNumber::parse(input, None) {
        // A number shared by several accounts cannot say whose password to reset: ask for the email.
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, phone FROM accounts WHERE phone = $1 AND status = 'active' LIMIT 2",
        )
        .bind(phone.e164())
        .fetch_all(&services.db.pool)
        .await?;
        return Ok(if rows.len() == 1 {
            rows.into_iter().next()
        } else {
            None
        });
    }
    Ok(None)
}

/// Forgot password, step 2: the code from the bound phone sets a new password and ends every session.
pub async fn reset_password(
    services: &Services,
    meta: &RequestMeta,
    recovery_token: Option<&str>,
    account_input: &str,
    code: &VerificationCode,
    new_password: &str,
) -> AppResult<()> {
    check_password_policy(new_password)?;
    let token = recovery_token.ok_or(AppError::CodeIncorrectOrExpired)?;
    let Some((account_id, Some(phone))) = find_for_recovery(services, account_input).await? else {
        return Err(AppError::CodeIncorrectOrExpired);
    };
    let hash = {
        let password = new_password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|_| AppError::Internal)?
    };
    let now = services.now_ms();
    let mut tx = verification::consume_keeping_attempt(
        services.db.begin().await?,
        services,
        Purpose::ResetPassword,
        &account_id,
        &phone,
        &sha256_hex(token),
        code,
    )
    .await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(&account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND principal_kind = 'owner'")
        .bind(&account_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            at: now,
            principal_kind: "owner",
            principal_name: "password recovery",
            action: "ResetPassword",
            subject_account_id: &account_id,
            client_ip: &meta.client_ip,
            outcome: "success",
            detail: "",
        },
    )
    .await?;
    let (email,): (String,) = sqlx::query_as("SELECT email FROM accounts WHERE id = $1")
        .bind(&account_id)
        .fetch_one(&mut *tx)
        .await?;
    outbox::enqueue(
        &mut tx,
        NewMessage {
            channel: Channel::Email,
            recipient: &email,
            subject: "Your password was reset",
            body: "The password of your Account Center account was reset with a code sent to your mobile phone. Not you? Contact support at once.",
            template: Template::Notice,
            code: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    services.outbox_wake.notify_one();
    Ok(())
}

pub fn check_password_policy(password: &str) -> AppResult<()> {
    let long_enough = (8..=128).contains(&password.chars().count());
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if long_enough && letters && digits {
        Ok(())
    } else {
        Err(AppError::invalid(
            "The password must be 8 to 128 characters and contain letters and digits.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_password_policy("Demo-pass-123").is_ok());
        for weak in ["short1", "onlyletters", "1234567890", &"a1".repeat(65)] {
            assert!(check_password_policy(weak).is_err(), "{weak}");
        }
    }
}
