//! Who signed a cloud-style request: the ACS3-HMAC-SHA256 and the RPC (HMAC-SHA1) styles, the
//! timestamp window, the nonce used once across instances, the key and its holder.

use super::*;
/// The parameters of a call (query and form together) and who signed it.
pub(super) struct Signed {
    pub(super) action: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) principal: Principal,
    pub(super) meta: RequestMeta,
}

impl Signed {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn required(
        &self,
        name: &'static str,
        missing: &'static str,
    ) -> Result<&str, CloudError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            refuse(
                400,
                missing,
                format!("{name} is mandatory for this action."),
            )
        })
    }

    pub(super) fn account_id(&self) -> Result<AccountId, CloudError> {
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
pub(super) async fn authenticate(
    services: &Services,
    request: Request,
) -> Result<Signed, CloudError> {
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
