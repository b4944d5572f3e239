//! The cloud-style endpoint: requests at `/` naming their operation (`Action` in the query, or
//! the `x-acs-action` header), signed with a RAM user's AccessKey, answered as the cloud answers
//! (`{"RequestId", …}`; errors `{"RequestId", "HostId", "Code", "Message", "Recommend"}` with the
//! documented HTTP status), so the official SDKs work unmodified.

use super::api_precheck;
use super::signature::{self, ACS3, Acs3Authorization};
use app::domain::{AccountId, VerificationCode};
use app::error::AppError;
use app::model::{MemberSort, MemberType, MemberView};
use app::ssr::Services;
use app::ssr::access_keys;
use app::ssr::clock::rfc3339;
use app::ssr::directory::{self, MAX_PAGE_SIZE, MemberQuery, Via};
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
            AppError::ResendTooSoon(_)
            | AppError::TargetLimitReached
            | AppError::IpLimitReached => (400, "Throttling.User"),
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

/// The parameters of a call (query and form together) and who signed it.
struct Signed {
    action: String,
    params: Vec<(String, String)>,
    principal: Principal,
    meta: RequestMeta,
}

impl Signed {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &'static str, missing: &'static str) -> Result<&str, CloudError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            refuse(
                400,
                missing,
                format!("{name} is mandatory for this action."),
            )
        })
    }

    fn account_id(&self) -> Result<AccountId, CloudError> {
        let value = self.required("AccountId", "MissingParameter.AccountId")?;
        AccountId::parse(value).map_err(|_| {
            refuse(
                404,
                "EntityNotExists.Account",
                "The specified account does not exist.",
            )
        })
    }
}

fn pairs(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What a request claims (key, timestamp, nonce, action, version) and the check of its
/// signature against a secret, whichever style it is signed in.
struct Claim {
    key_id: String,
    timestamp: String,
    nonce: String,
    action: String,
    version: String,
    check: Box<dyn Fn(&str) -> bool + Send + Sync>,
}

/// A missing or empty value named `name` refused with the cloud's `missing` code.
/// (`what`: "request" for a header, "action" for a parameter, as the cloud words it).
fn mandatory(
    value: Option<&str>,
    name: &str,
    missing: &'static str,
    what: &str,
) -> Result<String, CloudError> {
    value
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            refuse(
                400,
                missing,
                format!("{name} is mandatory for this {what}."),
            )
        })
}

/// Checks the signature, the timestamp, the nonce and the key; then who the caller is.
async fn authenticate(services: &Services, request: Request) -> Result<Signed, CloudError> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(refuse(
            400,
            "UnsupportedHTTPMethod",
            "Specified HTTP method is not supported.",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            refuse(
                413,
                "InvalidParameter.BodyTooLarge",
                "The request body is too large.",
            )
        })?;
    let query = pairs(parts.uri.query().unwrap_or("").as_bytes());
    let is_form = header_text(&parts.headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form { pairs(&bytes) } else { Vec::new() };
    let mut params: Vec<(String, String)> = query.iter().chain(&form).cloned().collect();

    // Which style: the ACS3 Authorization header, or the RPC signature in the parameters.
    let acs3 = header_text(&parts.headers, "authorization").filter(|a| a.starts_with(ACS3));
    let claim = if let Some(authorization) = acs3 {
        // The operation is named by the headers; parameters of those names are not its own.
        params.retain(|(k, _)| k != "Action" && k != "Version");
        acs3_claim(authorization, &parts, &query, &bytes)?
    } else if params.iter().any(|(k, _)| k == "Signature") {
        rpc_claim(parts.method.as_str(), &params)?
    } else {
        return Err(refuse(
            400,
            "MissingParameter.Signature",
            "The request is not signed: Signature or an ACS3-HMAC-SHA256 Authorization header is required.",
        ));
    };
    check_version_and_time(&claim, services.now_ms())?;
    let principal = check_key(services, &claim).await?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let meta = RequestMeta::from_parts(&parts.headers, peer, services.config.proxies());
    access_keys::record_use(services, &claim.key_id, &meta.client_ip).await?;
    // As the cloud requires: a RAM user (or role) of the management account with the policy.
    if principal.managed_directory.is_none()
        || !principal.policies.iter().any(|p| p == RD_FULL_ACCESS)
    {
        return Err(refuse(
            403,
            "CallerIdentityError",
            format!(
                "The caller must be a RAM user or RAM role of the management account of a resource directory with the {RD_FULL_ACCESS} policy."
            ),
        ));
    }
    Ok(Signed {
        action: claim.action,
        params,
        principal,
        meta,
    })
}

/// The ACS3-HMAC-SHA256 style: the claim in the `x-acs-` headers, every one of them signed, and
/// the body's hash as the client declared it.
fn acs3_claim(
    authorization: &str,
    parts: &http::request::Parts,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Claim, CloudError> {
    let headers = &parts.headers;
    let auth = Acs3Authorization::parse(authorization).ok_or_else(|| {
        refuse(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    })?;
    let required = [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ];
    if required
        .iter()
        .any(|h| !auth.signed_headers.iter().any(|s| s == h))
    {
        return Err(refuse(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards: sign host and every x-acs- header.",
        ));
    }
    let payload_hash = header_text(headers, "x-acs-content-sha256")
        .unwrap_or("")
        .to_string();
    if !signature::same_signature(&signature::sha256_hex(body), &payload_hash) {
        return Err(refuse(
            400,
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header does not match the request body.",
        ));
    }
    let value =
        |name: &str, missing| mandatory(header_text(headers, name), name, missing, "request");
    let action = value("x-acs-action", "MissingParameter.Action")?;
    let version = value("x-acs-version", "MissingParameter.Version")?;
    let timestamp = value("x-acs-date", "MissingParameter.Timestamp")?;
    let nonce = value("x-acs-signature-nonce", "MissingParameter.SignatureNonce")?;
    let (method, path, query, headers) = (
        parts.method.to_string(),
        parts.uri.path().to_string(),
        query.to_vec(),
        headers.clone(),
    );
    let (signed_headers, given) = (auth.signed_headers, auth.signature);
    let check = Box::new(move |secret: &str| {
        let expected = signature::acs3_signature(
            &method,
            &path,
            &query,
            &headers,
            &signed_headers,
            &payload_hash,
            secret,
        );
        signature::same_signature(&expected, &given)
    });
    Ok(Claim {
        key_id: auth.access_key_id,
        timestamp,
        nonce,
        action,
        version,
        check,
    })
}

/// The RPC style: HMAC-SHA1 v1.0 over the parameters, the claim among them.
fn rpc_claim(method: &str, params: &[(String, String)]) -> Result<Claim, CloudError> {
    let value = |name: &'static str, missing| {
        let given = params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        mandatory(given, name, missing, "action")
    };
    let key_id = value("AccessKeyId", "MissingParameter.AccessKeyId")?;
    if value("SignatureMethod", "MissingParameter.SignatureMethod")? != "HMAC-SHA1" {
        return Err(refuse(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not supported (use HMAC-SHA1).",
        ));
    }
    if value("SignatureVersion", "MissingParameter.SignatureVersion")? != "1.0" {
        return Err(refuse(
            400,
            "InvalidSignatureVersion",
            "Specified signature version is not supported (use 1.0).",
        ));
    }
    let timestamp = value("Timestamp", "MissingParameter.Timestamp")?;
    let nonce = value("SignatureNonce", "MissingParameter.SignatureNonce")?;
    let action = value("Action", "MissingParameter.Action")?;
    let version = value("Version", "MissingParameter.Version")?;
    let given = value("Signature", "MissingParameter.Signature")?;
    let (method, signed) = (method.to_string(), params.to_vec());
    let check = Box::new(move |secret: &str| {
        signature::same_signature(&signature::rpc_signature(&method, &signed, secret), &given)
    });
    Ok(Claim {
        key_id,
        timestamp,
        nonce,
        action,
        version,
        check,
    })
}

/// The version served, and a timestamp within the window either side of the server's clock.
fn check_version_and_time(claim: &Claim, now_ms: i64) -> Result<(), CloudError> {
    if claim.version != VERSION {
        return Err(refuse(
            400,
            "InvalidVersion",
            format!("Specified parameter Version is not valid: this server serves {VERSION}."),
        ));
    }
    let sent_at = signature::parse_timestamp(&claim.timestamp).ok_or_else(|| {
        refuse(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    })?;
    if (now_ms - sent_at).abs() > TIMESTAMP_WINDOW_MS {
        return Err(refuse(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(())
}

/// The key exists, the signature holds with its secret, it is active, and the nonce is new;
/// answers who holds the key.
async fn check_key(services: &Services, claim: &Claim) -> Result<Principal, CloudError> {
    let holder = access_keys::holder(services, &claim.key_id)
        .await?
        .ok_or_else(|| {
            refuse(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })?;
    if !(claim.check)(holder.secret()) {
        return Err(refuse(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.",
        ));
    }
    if !holder.active {
        return Err(refuse(
            400,
            "InvalidAccessKeyId.Inactive",
            "Specified access key is disabled.",
        ));
    }
    // Only a request whose signature holds spends its nonce: a forger cannot burn others' nonces.
    if !access_keys::claim_nonce(
        services,
        &claim.key_id,
        &claim.nonce,
        2 * TIMESTAMP_WINDOW_MS,
    )
    .await?
    {
        return Err(refuse(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(holder.principal)
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
    let sent = directory::send_code(
        services,
        &signed.principal,
        &signed.meta,
        Via::Api,
        &member,
        phone,
    )
    .await?;
    Ok(json!({ "ExpirationDate": rfc3339(sent.expires_at_ms) }))
}

async fn bind(services: &Services, signed: &Signed) -> Result<Value, CloudError> {
    let member = signed.account_id()?;
    let phone = signed.required("SecureMobilePhone", "MissingParameter.SecureMobilePhone")?;
    let code = signed.required("VerificationCode", "MissingParameter.VerificationCode")?;
    api_precheck(services, &signed.principal, &member).await?;
    let code = VerificationCode::parse(code)?;
    directory::bind_phone(
        services,
        &signed.principal,
        &signed.meta,
        Via::Api,
        &member,
        phone,
        &code,
    )
    .await?;
    Ok(json!({}))
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
