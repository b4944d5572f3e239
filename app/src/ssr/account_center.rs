//! The rest of the Account Center: authenticator binding, password recovery, appeals, security log.

use crate::domain::{Email, PhoneNumber, Region, VerificationCode};
use crate::error::{AppError, AppResult};
use crate::model::{AppealView, AuditView, TotpEnrollment};
use crate::ssr::Services;
use crate::ssr::account;
use crate::ssr::audit::{self, AuditEvent};
use crate::ssr::clock::rfc3339;
use crate::ssr::crypto::{hash_password, random_token, sha256_hex};
use crate::ssr::outbox::{self, Channel, NewMessage, Template};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use crate::ssr::verification::{self, CodeRequest, Purpose, TicketPurpose};

const ENROLLMENT_SECS: i64 = 600;

/// Renders a QR code of `text` as an SVG image (dark modules as one path).
fn qr_svg(text: &str) -> AppResult<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| AppError::Internal)?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"200\" height=\"200\" role=\"img\" aria-label=\"QR code for the authenticator app\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// Starts binding an authenticator: a new secret, shown once, waiting for its first code.
pub async fn begin_totp(services: &Services, principal: &Principal) -> AppResult<TotpEnrollment> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    if account.totp_bound != 0 {
        return Err(AppError::TotpAlreadyBound);
    }
    let secret = totp_rs::Secret::generate().to_base32();
    let uri = verification::totp_uri(&secret, &account.email)?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    sqlx::query("DELETE FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2")
        .bind(&principal.session_hash)
        .bind(&account.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO totp_enrollments (session_hash, account_id, secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&principal.session_hash)
    .bind(&account.id)
    .bind(&secret)
    .bind(now)
    .bind(now + ENROLLMENT_SECS * 1000)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(TotpEnrollment {
        qr_svg: qr_svg(&uri)?,
        uri,
        secret,
    })
}

/// Confirms the authenticator with its first code; the code's step is the last one accepted.
pub async fn confirm_totp(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    code: &VerificationCode,
) -> AppResult<()> {
    principal.require_owner()?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2 AND expires_at > $3",
    )
    .bind(&principal.session_hash)
    .bind(&principal.account_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (secret,) = row.ok_or(AppError::CodeIncorrectOrExpired)?;
    let step =
        verification::totp_step(&secret, code, now)?.ok_or(AppError::CodeIncorrectOrExpired)?;
    let bound = sqlx::query(
        "UPDATE accounts SET totp_secret = $1, totp_last_step = $2, updated_at = $3 WHERE id = $4 AND totp_secret IS NULL",
    )
    .bind(&secret)
    .bind(step)
    .bind(now)
    .bind(&principal.account_id)
    .execute(&mut *tx)
    .await?;
    if bound.rows_affected() != 1 {
        return Err(AppError::TotpAlreadyBound);
    }
    sqlx::query("DELETE FROM totp_enrollments WHERE session_hash = $1 AND account_id = $2")
        .bind(&principal.session_hash)
        .bind(&principal.account_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditEvent::by(
            principal,
            now,
            &meta.client_ip,
            "BindTotp",
            &principal.account_id,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Unbinds the authenticator; needs a live identity ticket for that purpose.
pub async fn unbind_totp(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
) -> AppResult<()> {
    principal.require_owner()?;
    let now = services.now_ms();
    let mut tx = services.db.begin().await?;
    let ticket = verification::live_ticket(
        &mut tx,
        services,
        &principal.session_hash,
        &principal.account_id,
        TicketPurpose::UnbindTotp,
    )
    .await?
    .ok_or(AppError::IdentityNotVerified)?;
    if !verification::use_ticket(&mut tx, services, ticket).await? {
        return Err(AppError::IdentityNotVerified);
    }
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2 AND totp_secret IS NOT NULL",
    )
    .bind(now)
    .bind(&principal.account_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::TotpNotBound);
    }
    audit::record(
        &mut tx,
        AuditEvent::by(
            principal,
            now,
            &meta.client_ip,
            "UnbindTotp",
            &principal.account_id,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

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
    let mut tx = services.db.begin().await?;
    let outcome = verification::consume(
        &mut tx,
        services,
        Purpose::ResetPassword,
        &account_id,
        &phone,
        &sha256_hex(token),
        code,
    )
    .await?;
    if let Err(error) = outcome {
        tx.commit().await?;
        return Err(error);
    }
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

const REASON_MAX: usize = 1000;

/// Files an appeal when neither the phone nor the email can be reached. It never changes the number.
pub async fn file_appeal(
    services: &Services,
    principal: &Principal,
    meta: &RequestMeta,
    new_phone: &str,
    contact_email: &str,
    reason: &str,
) -> AppResult<String> {
    principal.require_owner()?;
    let account = account::find(services, &principal.account_id).await?;
    let number = PhoneNumber::parse_in_region(new_phone, Region::parse(&account.region)?)?;
    let email = Email::parse(contact_email)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(AppError::invalid(
            "Describe the reason in 1 to 1000 characters.",
        ));
    }
    // Line breaks and tabs are text; other control characters (a NUL byte: PostgreSQL refuses it) are not.
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            "The reason contains characters that are not allowed.",
        ));
    }
    let now = services.now_ms();
    let reference = format!("AP{}", &random_token()[..12].to_ascii_uppercase());
    let mut tx = services.db.begin().await?;
    sqlx::query(
        "INSERT INTO appeals (reference, account_id, new_phone, contact_email, reason, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6)",
    )
    .bind(&reference)
    .bind(&account.id)
    .bind(number.e164())
    .bind(email.as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::by(principal, now, &meta.client_ip, "FileAppeal", &account.id)
            .detail(&reference),
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        NewMessage {
            channel: Channel::Email,
            recipient: email.as_str(),
            subject: "Your appeal was received",
            body: &format!("We received your appeal {reference} to change the mobile phone number. We will contact you at this address."),
            template: Template::Notice,
            code: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    services.outbox_wake.notify_one();
    Ok(reference)
}

pub async fn list_appeals(
    services: &Services,
    principal: &Principal,
) -> AppResult<Vec<AppealView>> {
    principal.require_owner()?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT reference, new_phone, status, created_at FROM appeals WHERE account_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(&principal.account_id)
    .fetch_all(&services.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(reference, phone, status, at)| AppealView {
            reference,
            masked_phone: crate::domain::phone::mask_e164(&phone),
            status,
            created_at: rfc3339(at),
        })
        .collect())
}

/// The account's own audit events, newest first, a page at a time.
pub async fn security_log(
    services: &Services,
    principal: &Principal,
    before: Option<i64>,
) -> AppResult<Vec<AuditView>> {
    let mut conn = services.db.pool.acquire().await?;
    let rows = audit::list_for_subject(
        &mut conn,
        &principal.account_id,
        before,
        crate::model::SECURITY_LOG_PAGE as i64,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            at: rfc3339(r.at),
            principal: format!("{} ({})", r.principal_name, r.principal_kind),
            action: r.action,
            client_ip: r.client_ip,
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("otpauth://totp/Account%20Center:alice?secret=JBSWY3DP").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_password_policy("Demo-pass-123").is_ok());
        for weak in ["short1", "onlyletters", "1234567890", &"a1".repeat(65)] {
            assert!(check_password_policy(weak).is_err(), "{weak}");
        }
    }
}
