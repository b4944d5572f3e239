//! Audit events: who did what to which account, from where, and how it ended; and the logs that show them.

use crate::error::{AppError, AppResult};
use crate::model::AuditView;
use crate::ssr::Services;
use crate::ssr::clock::rfc3339;
use crate::ssr::outbox::{self, Channel};
use crate::ssr::request::RequestMeta;
use crate::ssr::session::Principal;
use sqlx::AnyConnection;

pub struct AuditEvent<'a> {
    pub at: i64,
    pub principal_kind: &'a str,
    pub principal_name: &'a str,
    pub action: &'a str,
    pub subject_account_id: &'a str,
    pub client_ip: &'a str,
    pub outcome: &'a str,
    pub detail: &'a str,
}

impl<'a> AuditEvent<'a> {
    pub fn by(
        principal: &'a Principal,
        at: i64,
        client_ip: &'a str,
        action: &'a str,
        subject: &'a str,
    ) -> Self {
        AuditEvent {
            at,
            principal_kind: principal.kind.as_str(),
            principal_name: &principal.name,
            action,
            subject_account_id: subject,
            client_ip,
            outcome: "success",
            detail: "",
        }
    }

    pub fn outcome(mut self, outcome: &'a str) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = detail;
        self
    }
}

pub async fn record(conn: &mut AnyConnection, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (at, principal_kind, principal_name, action, subject_account_id, client_ip, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.at)
    .bind(event.principal_kind)
    .bind(event.principal_name)
    .bind(event.action)
    .bind(event.subject_account_id)
    .bind(event.client_ip)
    .bind(event.outcome)
    .bind(event.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// What the owner's notice of a change to its settings says: the subject, and what to do if it
/// was not them.
pub struct OwnerNotice {
    /// Catalogue messages, written in the owner's language.
    pub subject: &'static str,
    pub not_you: &'static str,
}

impl OwnerNotice {
    /// The audit event of a change the owner (or its RAM user) made to the account's settings,
    /// and this notice of it to the owner's logon email, in the caller's transaction.
    pub async fn record(
        &self,
        conn: &mut AnyConnection,
        services: &Services,
        principal: &Principal,
        meta: &RequestMeta,
        action: &str,
        detail: &str,
    ) -> AppResult<()> {
        let now = services.now_ms();
        let event = AuditEvent::by(
            principal,
            now,
            &meta.client_ip,
            action,
            &principal.account_id,
        );
        record(conn, event.detail(detail)).await?;
        let (email,): (String,) = sqlx::query_as("SELECT email FROM accounts WHERE id = $1")
            .bind(&principal.account_id)
            .fetch_one(&mut *conn)
            .await?;
        let locale =
            crate::ssr::account::language(conn, &principal.account_id, crate::i18n::locale())
                .await?;
        let body = crate::i18n::t_with(
            locale,
            "notice-settings-changed",
            &[
                ("detail", detail.to_string()),
                ("by", principal.name.clone()),
                ("ip", meta.client_ip.clone()),
                ("advice", crate::i18n::t(locale, self.not_you)),
            ],
        );
        let subject = crate::i18n::t(locale, self.subject);
        outbox::enqueue_notice(conn, (Channel::Email, &email), &subject, &body, now).await?;
        Ok(())
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub principal_kind: String,
    pub principal_name: String,
    pub action: String,
    pub subject_account_id: String,
    pub client_ip: String,
    pub outcome: String,
    pub detail: String,
}

/// The subject's events, newest first; `before_id` pages backwards.
pub async fn list_for_subject(
    conn: &mut AnyConnection,
    subject: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, principal_kind, principal_name, action, subject_account_id, client_ip, outcome, detail \
         FROM audit_events WHERE subject_account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(subject)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(conn)
    .await
}

impl From<AuditRow> for AuditView {
    fn from(r: AuditRow) -> AuditView {
        AuditView {
            id: r.id,
            at: rfc3339(r.at),
            principal: format!("{} ({})", r.principal_name, r.principal_kind),
            action: r.action,
            client_ip: r.client_ip,
            outcome: r.outcome,
            detail: r.detail,
        }
    }
}

/// The subject's events as the pages show them, newest first; `before_id` pages backwards.
pub async fn views_for_subject(
    conn: &mut AnyConnection,
    subject: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditView>, sqlx::Error> {
    let rows = list_for_subject(conn, subject, before_id, limit).await?;
    Ok(rows.into_iter().map(AuditView::from).collect())
}

/// The account's own audit events, newest first, a page at a time. Only the owner reads them: a
/// RAM user, a role session or an SSO session of the account is refused (`Forbidden`). A member
/// account's directory administrators read its events through `directory::member_events`,
/// which checks that the member is in the directory they administer.
pub async fn security_log(
    services: &Services,
    principal: &Principal,
    before: Option<i64>,
) -> AppResult<Vec<AuditView>> {
    if !principal.is_owner() {
        return Err(AppError::Forbidden);
    }
    let mut conn = services.db.pool.acquire().await?;
    Ok(views_for_subject(
        &mut conn,
        &principal.account_id,
        before,
        crate::model::SECURITY_LOG_PAGE as i64,
    )
    .await?)
}
