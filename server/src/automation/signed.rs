//! The cloud-style endpoint: requests at `/` naming their operation (`Action` in the query, or
//! the `x-acs-action` header), signed with a RAM user's AccessKey, answered as the cloud answers
//! (`{"RequestId", …}`; errors `{"RequestId", "HostId", "Code", "Message", "Recommend"}` with the
//! documented HTTP status), so the official SDKs work unmodified.

use super::signature::{self, ACS3, Acs3Authorization};
use super::{api_precheck, bind_member_phone, send_member_code};
use app::domain::{AccountId, VerificationCode};
use app::error::AppError;
use app::model::{MemberSort, MemberType, MemberView};
use app::ssr::Services;
use app::ssr::access_keys;
use app::ssr::directory::{self, MAX_PAGE_SIZE, MemberNumber, MemberQuery, Via};
use app::ssr::metrics::Refusal;
use app::ssr::request::RequestMeta;
use app::ssr::session::{Principal, RD_FULL_ACCESS};
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use std::net::SocketAddr;

mod authenticate;

use authenticate::{Signed, authenticate};

/// The only version of the API served (ResourceDirectoryMaster 2022-04-19).
pub const VERSION: &str = "2022-04-19";
/// A signed request is valid this long either side of the server's clock, as in the cloud.
pub const TIMESTAMP_WINDOW_MS: i64 = 15 * 60 * 1000;
const MAX_BODY_BYTES: usize = 16 * 1024;

/// A refusal as the cloud words it.
#[derive(Debug)]
pub struct CloudError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// What `console_refusals_total` counts it under: the `AppError`'s name when it came from
    /// one, else the code (`SignatureDoesNotMatch`, `SignatureNonceUsed` …).
    pub reason: &'static str,
}

fn refuse(status: u16, code: &'static str, message: impl Into<String>) -> CloudError {
    CloudError {
        status,
        code,
        message: message.into(),
        reason: code,
    }
}

impl From<AppError> for CloudError {
    fn from(error: AppError) -> CloudError {
        let (status, code) = match &error {
            AppError::CodeIncorrectOrExpired
            | AppError::TooManyAttempts
            | AppError::MalformedCode => (409, "Invalid.VerificationCode"),
            AppError::PhoneAlreadyBound => (409, "AccountSecureMobileAlreadyExists"),
            AppError::NotAResourceAccount => (409, "AccountTypeMismatch"),
            AppError::DailyLimitReached(_) => (409, "SendValidateCodeExceedsLimitForAccount"),
            AppError::PhoneRegionMismatch => (409, "InvalidParameter.MobileCountryCode"),
            AppError::InvalidPhone => (400, "InvalidParameter.SecureMobilePhone"),
            AppError::PhoneBindingLimit(_) => (409, "SecureMobilePhoneBindingLimitExceeded"),
            AppError::SmsNumberType => (400, "InvalidParameter.SecureMobilePhone"),
            AppError::SmsRegionNotAllowed => (409, "InvalidParameter.MobileCountryCode"),
            AppError::ResendTooSoon(_)
            | AppError::TargetLimitReached
            | AppError::IpLimitReached
            | AppError::SmsPrefixLimitReached
            | AppError::SmsCountryPaused(_) => (400, "Throttling.User"),
            AppError::NotFound => (404, "EntityNotExists.Account"),
            AppError::Forbidden | AppError::OwnerOnly => (403, "CallerIdentityError"),
            AppError::Internal | AppError::Transport(_) => (500, "InternalError"),
            _ => (400, "InvalidParameter"),
        };
        let reason = error.reason();
        let message = match error {
            AppError::NotFound => "The specified account does not exist.".to_string(),
            AppError::Internal | AppError::Transport(_) => {
                "The request processing has failed due to some unknown error.".to_string()
            }
            other => other.to_string(),
        };
        CloudError {
            status,
            code,
            message,
            reason,
        }
    }
}

/// Whether a request is addressed to the cloud-style API: `/`, naming an operation.
fn is_signed_api(request: &Request) -> bool {
    request.uri().path() == "/"
        && (request.headers().contains_key("x-acs-action")
            || request
                .uri()
                .query()
                .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "Action")))
}

/// The middleware in front of the router: cloud-style calls are answered here (they carry no
/// cookie and no `Origin`, so they never reach the console's CSRF guard); all else passes on.
pub async fn signed_api(
    State(services): State<Services>,
    request: Request,
    next: Next,
) -> Response {
    if !is_signed_api(&request) {
        return next.run(request).await;
    }
    let request_id = super::request_id().to_uppercase();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let result = call(&services, request).await;
    let refusal = result.as_ref().err().map(|error| Refusal(error.reason));
    let (status, mut body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(error) => {
            tracing::info!(
                request_id,
                code = error.code,
                status = error.status,
                "signed API call refused"
            );
            (
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                json!({
                    "HostId": host,
                    "Code": error.code,
                    "Message": error.message,
                    "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product=ResourceDirectoryMaster", error.code),
                }),
            )
        }
    };
    body["RequestId"] = Value::String(request_id);
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(refusal) = refusal {
        response.extensions_mut().insert(refusal);
    }
    response
}

async fn call(services: &Services, request: Request) -> Result<Value, CloudError> {
    let signed = authenticate(services, request).await?;
    match signed.action.as_str() {
        "SendVerificationCodeForBindSecureMobilePhone" => send_code(services, &signed).await,
        "BindSecureMobilePhone" => bind(services, &signed).await,
        "GetAccount" => get_account(services, &signed).await,
        "ListAccounts" => list_accounts(services, &signed).await,
        other => Err(refuse(
            404,
            "InvalidAction.NotFound",
            format!("Specified api is not found, please check your url and method: {other}."),
        )),
    }
}

async fn send_code(services: &Services, signed: &Signed) -> Result<Value, CloudError> {
    let member = signed.account_id()?;
    let phone = signed.required("SecureMobilePhone", "MissingParameter.SecureMobilePhone")?;
    api_precheck(services, &signed.principal, &member).await?;
    let request = MemberNumber::new(&signed.principal, &signed.meta, Via::Api, &member, phone);
    Ok(send_member_code(services, &request).await?)
}

async fn bind(services: &Services, signed: &Signed) -> Result<Value, CloudError> {
    let member = signed.account_id()?;
    let phone = signed.required("SecureMobilePhone", "MissingParameter.SecureMobilePhone")?;
    let code = signed.required("VerificationCode", "MissingParameter.VerificationCode")?;
    api_precheck(services, &signed.principal, &member).await?;
    let code = VerificationCode::parse(code)?;
    let request = MemberNumber::new(&signed.principal, &signed.meta, Via::Api, &member, phone);
    Ok(bind_member_phone(services, &request, &code).await?)
}

/// A member as the cloud's `Account` object shows it: whether a number is bound, never which.
fn account(member: &MemberView, directory_id: &str) -> Value {
    let (kind, join_method, joined_status) = match member.member_type {
        MemberType::ResourceAccount => ("ResourceAccount", "created", "CreateSuccess"),
        MemberType::CloudAccount => ("CloudAccount", "invited", "InviteSuccess"),
    };
    json!({
        "AccountId": member.account_id,
        "DisplayName": member.display_name,
        "Type": kind,
        "JoinMethod": join_method,
        "Status": if member.status == "active" { joined_status } else { "Removed" },
        "FolderId": member.folder_id,
        "ResourceDirectoryId": directory_id,
        "JoinTime": member.joined_at,
        "ModifyTime": member.joined_at,
        "HasSecureMobilePhone": member.masked_phone.is_some(),
    })
}

async fn get_account(services: &Services, signed: &Signed) -> Result<Value, CloudError> {
    let member = signed.account_id()?;
    let details = directory::member(services, &signed.principal, &member).await?;
    let directory_id = signed
        .principal
        .managed_directory
        .as_deref()
        .unwrap_or_default();
    Ok(json!({ "Account": account(&details.member, directory_id) }))
}

/// A positive page parameter, or the cloud's `InvalidParameter` refusal naming it.
fn page_param(
    signed: &Signed,
    name: &'static str,
    default: i64,
    max: i64,
) -> Result<i64, CloudError> {
    match signed.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => value
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                refuse(
                    400,
                    "InvalidParameter",
                    format!("{name} must be a number from 1 to {max}."),
                )
            }),
    }
}

async fn list_accounts(services: &Services, signed: &Signed) -> Result<Value, CloudError> {
    let page_number = page_param(signed, "PageNumber", 1, 100_000)?;
    let page_size = page_param(signed, "PageSize", 10, MAX_PAGE_SIZE)?;
    let query = MemberQuery {
        search: signed.get("QueryKeyword").unwrap_or("").to_string(),
        folder_id: None,
        sort: MemberSort::AccountId,
        descending: false,
        offset: (page_number - 1) * page_size,
        limit: page_size,
    };
    let page = directory::list_members(services, &signed.principal, &query).await?;
    let directory_id = signed
        .principal
        .managed_directory
        .as_deref()
        .unwrap_or_default();
    let accounts: Vec<Value> = page
        .members
        .iter()
        .map(|m| account(m, directory_id))
        .collect();
    Ok(json!({
        "PageNumber": page_number,
        "PageSize": page_size,
        "TotalCount": page.total,
        "Accounts": { "Account": accounts },
    }))
}
