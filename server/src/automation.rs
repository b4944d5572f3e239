//! The automation API (SPEC 5): the cloud's operations for a member's number. Signed with a RAM
//! user's AccessKey at `/` as the official SDKs call the cloud (see `signed`); and, for the
//! console's own use, as JSON under `/api/v1/` authorised by the session cookie.

pub mod signature;
mod signed;

pub use signed::signed_api;

use app::domain::{AccountId, VerificationCode};
use app::error::AppError;
use app::ssr::Services;
use app::ssr::clock::rfc3339;
use app::ssr::directory::{self, MemberNumber, Via};
use app::ssr::metrics::Refusal;
use app::ssr::request::RequestMeta;
use app::ssr::session::{self, Principal};
use app::ssr::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;

/// Bodies are a few short fields; anything larger is refused unread.
const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/SendVerificationCodeForBindSecureMobilePhone",
            post(send_verification_code),
        )
        .route(
            "/api/v1/BindSecureMobilePhone",
            post(bind_secure_mobile_phone),
        )
}

/// An error as the API answers it: an HTTP status and a stable code with a readable message.
#[derive(Debug)]
struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    /// The `AppError` it came from (its `reason`), counted as a refusal under that name.
    app_error: Option<&'static str>,
}

impl ApiError {
    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "InvalidParameter",
            message: message.into(),
            app_error: None,
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::info!(
            request_id,
            code = self.code,
            status = self.status,
            "automation API call refused"
        );
        let mut response = (
            status,
            Json(json!({ "Code": self.code, "Message": self.message, "RequestId": request_id })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(app::error::RETRY_AFTER_SECS),
            );
        }
        let reason = self.app_error.unwrap_or(self.code);
        response.extensions_mut().insert(Refusal(reason));
        response
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let code = match &error {
            AppError::NotAResourceAccount => "InvalidParameter.AccountType",
            other => other.code(),
        };
        ApiError {
            status: error.status(),
            code,
            message: error.to_string(),
            app_error: Some(error.reason()),
        }
    }
}

/// A random (version 4) UUID naming one call, for the caller's logs and ours.
pub(crate) fn request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A signed-in principal and the JSON object of the body.
struct Call {
    meta: RequestMeta,
    principal: Principal,
    body: Map<String, Value>,
}

async fn read_call(services: &Services, request: Request) -> Result<Call, ApiError> {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let meta = RequestMeta::from_parts(&parts.headers, peer, services.config.proxies());
    // Who asks comes before what is asked: a caller without a session learns nothing more.
    let principal = session::load(services, meta.token.as_deref()).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError {
            status: 413,
            code: "InvalidParameter.BodyTooLarge",
            message: format!("The request body must be at most {MAX_BODY_BYTES} bytes."),
            app_error: None,
        })?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ApiError::invalid("The request body must be a JSON object.")),
        Err(error) => {
            return Err(ApiError::invalid(format!(
                "The request body is not valid JSON: {error}."
            )));
        }
    };
    Ok(Call {
        meta,
        principal,
        body,
    })
}

/// A required string field; a missing, null or non-string value is named in the message.
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::invalid(format!("{name} is required."))),
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(ApiError::invalid(format!("{name} must be a string."))),
    }
}

fn account_id(body: &Map<String, Value>) -> Result<AccountId, ApiError> {
    let value = text(body, "AccountId")?;
    AccountId::parse(value).map_err(|_| ApiError {
        status: 400,
        code: "InvalidParameter.AccountId",
        message: "AccountId must be the member's 16-digit account ID.".into(),
        app_error: None,
    })
}

/// The API gives a first number to a resource account only, as the cloud does: asked before the
/// directory's own checks so that the refusal names the rule (the binding rechecks it).
pub(crate) async fn api_precheck(
    services: &Services,
    principal: &Principal,
    member: &AccountId,
) -> Result<(), AppError> {
    let details = directory::member(services, principal, member).await?;
    if details.member.status != "active" {
        return Ok(());
    }
    if details.member.member_type != app::model::MemberType::ResourceAccount {
        return Err(AppError::NotAResourceAccount);
    }
    if details.member.masked_phone.is_some() {
        return Err(AppError::PhoneAlreadyBound);
    }
    Ok(())
}

async fn send(services: &Services, request: Request) -> Result<Value, ApiError> {
    let call = read_call(services, request).await?;
    let member = account_id(&call.body)?;
    api_precheck(services, &call.principal, &member).await?;
    let phone = text(&call.body, "SecureMobilePhone")?;
    let request = MemberNumber::new(&call.principal, &call.meta, Via::Api, &member, phone);
    Ok(send_member_code(services, &request).await?)
}

async fn bind(services: &Services, request: Request) -> Result<Value, ApiError> {
    let call = read_call(services, request).await?;
    let member = account_id(&call.body)?;
    api_precheck(services, &call.principal, &member).await?;
    let phone = text(&call.body, "SecureMobilePhone")?;
    let code = VerificationCode::parse(text(&call.body, "VerificationCode")?)?;
    let request = MemberNumber::new(&call.principal, &call.meta, Via::Api, &member, phone);
    Ok(bind_member_phone(services, &request, &code).await?)
}

/// Sends the code to a member's new number; both forms of the API answer its expiry alike.
pub(crate) async fn send_member_code(
    services: &Services,
    request: &MemberNumber<'_>,
) -> Result<Value, AppError> {
    let sent = directory::send_code(services, request).await?;
    Ok(json!({ "ExpirationDate": rfc3339(sent.expires_at_ms) }))
}

/// Binds a member's number; both forms of the API answer an empty object.
pub(crate) async fn bind_member_phone(
    services: &Services,
    request: &MemberNumber<'_>,
    code: &VerificationCode,
) -> Result<Value, AppError> {
    directory::bind_phone(services, request, code).await?;
    Ok(json!({}))
}

fn answer(request_id: &str, result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(mut body) => {
            body["RequestId"] = Value::String(request_id.to_string());
            Json(body).into_response()
        }
        Err(error) => error.into_response(request_id),
    }
}

/// `SendVerificationCodeForBindSecureMobilePhone` (`AccountId`, `SecureMobilePhone`) →
/// `{"RequestId", "ExpirationDate"}`: a code to the number a resource account is to get.
async fn send_verification_code(State(state): State<AppState>, request: Request) -> Response {
    let request_id = request_id();
    answer(&request_id, send(&state.services, request).await)
}

/// `BindSecureMobilePhone` (`AccountId`, `SecureMobilePhone`, `VerificationCode`) →
/// `{"RequestId"}`: binds the number to a resource account that has none.
async fn bind_secure_mobile_phone(State(state): State<AppState>, request: Request) -> Response {
    let request_id = request_id();
    answer(&request_id, bind(&state.services, request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = request_id();
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(request_id(), id);
    }

    #[test]
    fn errors_keep_the_stable_codes() {
        let e = ApiError::from(AppError::DailyLimitReached(100));
        assert_eq!((e.status, e.code), (429, "Throttling.DailyLimit"));
        let e = ApiError::from(AppError::NotAResourceAccount);
        assert_eq!((e.status, e.code), (400, "InvalidParameter.AccountType"));
        let e = ApiError::from(AppError::PhoneAlreadyBound);
        assert_eq!((e.status, e.code), (400, "SecureMobilePhone.AlreadyBound"));
    }

    #[test]
    fn fields_must_be_present_strings() {
        let body: Map<String, Value> =
            serde_json::from_str(r#"{"AccountId": 2000000000000006, "SecureMobilePhone": null}"#)
                .unwrap();
        assert_eq!(
            text(&body, "AccountId").unwrap_err().message,
            "AccountId must be a string."
        );
        assert_eq!(
            text(&body, "SecureMobilePhone").unwrap_err().message,
            "SecureMobilePhone is required."
        );
        assert_eq!(
            text(&body, "VerificationCode").unwrap_err().message,
            "VerificationCode is required."
        );
    }
}
