//! SMS through Alibaba Cloud SMS (dysmsapi `SendSms`, API version 2017-05-25), signed with the
//! RPC signature v1.0 (HMAC-SHA1 over the canonicalized, percent-encoded parameters). A message
//! handed over without an answer is looked up with `QuerySendDetails` by its `OutId` (the outbox
//! id) before it is sent again.
//!
//! The signing is pure (`percent_encode`, `canonicalize`, `string_to_sign`, `sign`) so it can be
//! checked against the provider's published example and reused by tests that stand in for it.

use super::{BoxFuture, DeliveryError, Handover, Outbound, SmsSender};
use crate::ssr::config::SmsConfig;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::time::Duration;

pub const ACTION: &str = "SendSms";
pub const QUERY_ACTION: &str = "QuerySendDetails";
/// The most records one `QuerySendDetails` page holds.
const QUERY_PAGE_SIZE: usize = 50;
/// Pages read per send date: the send limits allow far fewer messages to one number a day.
const QUERY_MAX_PAGES: usize = 4;
pub const API_VERSION: &str = "2017-05-25";
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
pub const SIGNATURE_VERSION: &str = "1.0";

/// Percent-encodes per RFC 3986 as the RPC signature wants it: only `A-Z a-z 0-9 - _ . ~` stay,
/// every other byte of the UTF-8 form becomes `%XY` (upper-case hex), so a space is `%20`,
/// `*` is `%2A` and `~` is kept.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &byte in value.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 0x0f) as usize] as char);
            }
        }
    }
    out
}

/// The canonicalized query string: parameters (without `Signature`) sorted by name, each name and
/// value percent-encoded, joined as `k=v` with `&`.
pub fn canonicalize(params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&percentEncode(canonicalized)`.
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        method,
        percent_encode("/"),
        percent_encode(&canonicalize(params))
    )
}

/// `base64(HMAC-SHA1(key = AccessKeySecret + "&", StringToSign))`.
pub fn sign(method: &str, params: &[(String, String)], access_key_secret: &str) -> String {
    let key = format!("{access_key_secret}&");
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(string_to_sign(method, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// UTC ISO 8601 as the API wants it: `YYYY-MM-DDThh:mm:ssZ`.
pub fn timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The `TemplateParam` JSON: the code for verification messages, the text for any other notice.
pub fn template_param(message: &Outbound<'_>) -> Result<String, DeliveryError> {
    let value = if message.template == "verification_code" {
        let code = message
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DeliveryError::new("verification message without a code"))?;
        serde_json::json!({ "code": code })
    } else {
        serde_json::json!({ "content": message.body })
    };
    Ok(value.to_string())
}

/// The parameters every call carries (all but `Signature`), for `action`.
fn common_params<'a>(
    config: &'a SmsConfig,
    action: &'a str,
    nonce: &'a str,
    timestamp: &'a str,
) -> [(&'static str, &'a str); 9] {
    [
        ("AccessKeyId", config.access_key_id.as_str()),
        ("Action", action),
        ("Format", "JSON"),
        ("RegionId", config.region_id.as_str()),
        ("SignatureMethod", SIGNATURE_METHOD),
        ("SignatureNonce", nonce),
        ("SignatureVersion", SIGNATURE_VERSION),
        ("Timestamp", timestamp),
        ("Version", API_VERSION),
    ]
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every request parameter except `Signature`, for one message.
pub fn request_params(
    config: &SmsConfig,
    message: &Outbound<'_>,
    nonce: &str,
    timestamp: &str,
) -> Result<Vec<(String, String)>, DeliveryError> {
    let template_code = if message.template == "verification_code" {
        &config.code_template
    } else {
        &config.notice_template
    };
    let out_id = message.id.to_string();
    let template_param = template_param(message)?;
    let mut params = owned(&common_params(config, ACTION, nonce, timestamp));
    params.extend(owned(&[
        ("OutId", &out_id),
        // E.164 as stored: the provider takes the +cc form for international numbers.
        ("PhoneNumbers", message.recipient),
        ("SignName", config.sign_name.as_str()),
        ("TemplateCode", template_code.as_str()),
        ("TemplateParam", &template_param),
    ]));
    Ok(params)
}

/// The number as `QuerySendDetails` takes it: 11 digits for a number of the Chinese mainland,
/// the country code and number without `+` for any other.
pub fn query_number(e164: &str) -> String {
    let digits = e164.trim_start_matches('+');
    match digits.strip_prefix("86") {
        Some(national) if national.len() == 11 => national.to_string(),
        _ => digits.to_string(),
    }
}

/// The send dates (`yyyyMMdd`, China Standard Time, as the provider files its records) to look
/// through for a message handed over at `handed_over_ms`, up to now.
pub fn send_dates(handed_over_ms: i64, now_ms: i64) -> Vec<String> {
    let cst = time::UtcOffset::from_hms(8, 0, 0).expect("UTC+8 is a valid offset");
    let date = |ms: i64| {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(cst);
        format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day())
    };
    let mut dates = vec![date(handed_over_ms)];
    let today = date(now_ms.max(handed_over_ms));
    if today != dates[0] {
        dates.push(today);
    }
    dates
}

/// Every `QuerySendDetails` parameter except `Signature`: one page of one number's records of a day.
pub fn query_params(
    config: &SmsConfig,
    recipient: &str,
    send_date: &str,
    page: usize,
    nonce: &str,
    timestamp: &str,
) -> Vec<(String, String)> {
    let number = query_number(recipient);
    let (page, size) = (page.to_string(), QUERY_PAGE_SIZE.to_string());
    let mut params = owned(&common_params(config, QUERY_ACTION, nonce, timestamp));
    params.extend(owned(&[
        ("CurrentPage", &page),
        ("PageSize", &size),
        ("PhoneNumber", &number),
        ("SendDate", send_date),
    ]));
    params
}

/// What one page of `QuerySendDetails` says of outbox message `out_id`: `Some(true)` when a
/// record with that `OutId` is delivered or awaiting its receipt (SendStatus 3 or 1), and how many
/// records the page held.
pub fn find_out_id(answer: &serde_json::Value, out_id: i64) -> (bool, usize) {
    let records = answer
        .pointer("/SmsSendDetailDTOs/SmsSendDetailDTO")
        .and_then(|r| r.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let out_id = out_id.to_string();
    let went_out = records.iter().any(|r| {
        let same = match r.get("OutId") {
            Some(serde_json::Value::String(s)) => *s == out_id,
            Some(serde_json::Value::Number(n)) => n.to_string() == out_id,
            _ => false,
        };
        let status = r.get("SendStatus").and_then(|s| s.as_i64());
        same && matches!(status, Some(1) | Some(3))
    });
    (went_out, records.len())
}

/// The provider's answer code, kept only when it looks like one (`isv.BUSINESS_LIMIT_CONTROL`),
/// so nothing the provider echoes back reaches the log or the outbox row.
fn provider_code(code: &str, message: &Outbound<'_>) -> String {
    let clean = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
    let echoes = message
        .code
        .is_some_and(|c| !c.is_empty() && code.contains(c));
    if clean && !echoes {
        code.to_string()
    } else {
        "unrecognised".into()
    }
}

pub struct AliyunSms {
    config: SmsConfig,
    client: reqwest::Client,
}

impl AliyunSms {
    pub fn new(config: SmsConfig) -> Result<AliyunSms, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("SMS client: {e}"))?;
        Ok(AliyunSms { config, client })
    }

    /// Signs and posts one call; answers the provider's JSON when its `Code` is `OK`.
    /// `message` is there to keep its code out of any error text.
    async fn call(
        &self,
        mut params: Vec<(String, String)>,
        message: &Outbound<'_>,
    ) -> Result<serde_json::Value, DeliveryError> {
        let signature = sign("POST", &params, &self.config.access_key_secret.0);
        params.push(("Signature".into(), signature));

        let response = self
            .client
            .post(&self.config.endpoint)
            .form(&params)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    // Never reached: nothing went out.
                    DeliveryError::new("sms provider unreachable")
                } else if e.is_timeout() {
                    DeliveryError::in_doubt("sms provider timed out")
                } else {
                    DeliveryError::in_doubt("sms request failed")
                }
            })?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(DeliveryError::new(format!(
                "sms provider answered HTTP {}",
                status.as_u16()
            )));
        }
        let answer: serde_json::Value = response.json().await.map_err(|_| {
            DeliveryError::in_doubt("sms provider answered something other than JSON")
        })?;
        match answer.get("Code").and_then(|c| c.as_str()) {
            Some("OK") => Ok(answer),
            Some(code) => Err(DeliveryError::new(format!(
                "sms provider refused: {}",
                provider_code(code, message)
            ))),
            None => Err(DeliveryError::in_doubt(
                "sms provider answered without a Code",
            )),
        }
    }

    async fn deliver(&self, message: &Outbound<'_>) -> Result<(), DeliveryError> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let now = timestamp(time::OffsetDateTime::now_utc());
        let params = request_params(&self.config, message, &nonce, &now)?;
        self.call(params, message).await.map(|_| ())
    }

    /// Looks through the number's records of the hand-over's day (and today's) for the outbox id.
    async fn find(
        &self,
        message: &Outbound<'_>,
        handed_over_ms: i64,
    ) -> Result<Handover, DeliveryError> {
        let now = time::OffsetDateTime::now_utc();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        for date in send_dates(handed_over_ms, now_ms) {
            for page in 1..=QUERY_MAX_PAGES {
                let nonce = uuid::Uuid::new_v4().to_string();
                let params = query_params(
                    &self.config,
                    message.recipient,
                    &date,
                    page,
                    &nonce,
                    &timestamp(now),
                );
                let answer = self.call(params, message).await.map_err(|e| {
                    // Whatever the lookup's trouble, the message stays in doubt.
                    DeliveryError::in_doubt(format!("lookup: {}", e.reason))
                })?;
                let (went_out, records) = find_out_id(&answer, message.id);
                if went_out {
                    return Ok(Handover::Sent);
                }
                if records < QUERY_PAGE_SIZE {
                    break;
                }
            }
        }
        Ok(Handover::NotSent)
    }
}

impl SmsSender for AliyunSms {
    fn send<'a>(&'a self, message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver(message))
    }

    fn look_up<'a>(
        &'a self,
        message: &'a Outbound<'a>,
        handed_over_ms: i64,
    ) -> BoxFuture<'a, Result<Handover, DeliveryError>> {
        Box::pin(self.find(message, handed_over_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_follows_rfc_3986() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("="), "%3D");
        assert_eq!(percent_encode("&"), "%26");
        assert_eq!(percent_encode("%"), "%25");
        assert_eq!(percent_encode(":"), "%3A");
        assert_eq!(
            percent_encode("{\"code\":\"123456\"}"),
            "%7B%22code%22%3A%22123456%22%7D"
        );
        assert_eq!(percent_encode("+8613800138000"), "%2B8613800138000");
        // UTF-8 bytes, upper-case hex.
        assert_eq!(percent_encode("阿里"), "%E9%98%BF%E9%87%8C");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn canonicalization_sorts_and_drops_the_signature() {
        let params = owned(&[("b", "2 3"), ("Signature", "x"), ("a", "1*"), ("B", "~")]);
        assert_eq!(canonicalize(&params), "B=~&a=1%2A&b=2%203");
        assert_eq!(
            string_to_sign("POST", &params),
            "POST&%2F&B%3D~%26a%3D1%252A%26b%3D2%25203"
        );
    }

    /// Alibaba Cloud SMS's published example ("HTTP协议及签名", help.aliyun.com document 56189):
    /// AccessKeyId testId, AccessKeySecret testSecret, GET, signature zJDF+Lrzhj/ThnlvIToysFRq6t4=.
    fn published_example() -> Vec<(String, String)> {
        owned(&[
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ])
    }

    #[test]
    fn signature_matches_the_published_example() {
        let mut params = published_example();
        params.reverse(); // order of input must not matter
        assert_eq!(
            string_to_sign("GET", &params),
            "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001\
             %26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF\
             %25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1\
             %26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007\
             %26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z\
             %26Version%3D2017-05-25"
        );
        assert_eq!(
            sign("GET", &params, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn post_signature_of_the_example() {
        // Not published: computed independently with Python's hmac/hashlib/base64 over
        // "POST&%2F&" + the same canonicalized string, key "testSecret&".
        assert_eq!(
            sign("POST", &published_example(), "testSecret"),
            "Xvhv7fPXrPkLVSnlt0jIr08o8NQ="
        );
    }

    #[test]
    fn timestamp_is_utc_iso_8601_to_the_second() {
        let at = time::macros::datetime!(2017-07-12 10:42:19.678 +08:00);
        assert_eq!(timestamp(at), "2017-07-12T02:42:19Z");
    }

    fn config() -> SmsConfig {
        SmsConfig {
            endpoint: "http://127.0.0.1:9/".into(),
            access_key_id: "key-id".into(),
            access_key_secret: crate::ssr::config::Secret("secret".into()),
            sign_name: "Account Center".into(),
            code_template: "SMS_CODE".into(),
            notice_template: "SMS_NOTICE".into(),
            region_id: "cn-hangzhou".into(),
        }
    }

    fn message<'a>(template: &'a str, body: &'a str, code: Option<&'a str>) -> Outbound<'a> {
        Outbound {
            id: 42,
            recipient: "+8613800138000",
            subject: "",
            body,
            template,
            code,
        }
    }

    /// The value of the request parameter `key`.
    fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no parameter {key}"))
    }

    #[test]
    fn parameters_pick_the_template_and_carry_the_code() {
        let m = message("verification_code", "Your code is 123456", Some("123456"));
        let params = request_params(&config(), &m, "nonce", "2024-01-02T03:04:05Z").unwrap();
        let get = |k: &str| param(&params, k);
        assert_eq!(get("TemplateCode"), "SMS_CODE");
        assert_eq!(get("TemplateParam"), "{\"code\":\"123456\"}");
        assert_eq!(get("PhoneNumbers"), "+8613800138000");
        assert_eq!(get("OutId"), "42");
        assert_eq!(get("Action"), "SendSms");
        assert_eq!(get("Version"), "2017-05-25");
        assert_eq!(get("Format"), "JSON");
        assert!(!params.iter().any(|(k, _)| k == "Signature"));

        let m = message("phone_changed", "Your phone number was changed.", None);
        let params = request_params(&config(), &m, "nonce", "2024-01-02T03:04:05Z").unwrap();
        let get = |k: &str| param(&params, k);
        assert_eq!(get("TemplateCode"), "SMS_NOTICE");
        assert_eq!(
            get("TemplateParam"),
            "{\"content\":\"Your phone number was changed.\"}"
        );

        let m = message("verification_code", "no code", None);
        assert!(request_params(&config(), &m, "nonce", "2024-01-02T03:04:05Z").is_err());
    }

    #[test]
    fn a_lookup_asks_for_the_number_and_day_as_the_provider_files_them() {
        assert_eq!(query_number("+8613800138000"), "13800138000");
        assert_eq!(query_number("+12025550143"), "12025550143");
        assert_eq!(query_number("+85261234567"), "85261234567");
        // 2024-01-02 15:59:59 UTC is 23:59:59 in Beijing; a minute later it is the 3rd there.
        let before_midnight = 1_704_211_199_000;
        assert_eq!(send_dates(before_midnight, before_midnight), ["20240102"]);
        assert_eq!(
            send_dates(before_midnight, before_midnight + 60_000),
            ["20240102", "20240103"]
        );
        let params = query_params(&config(), "+8613800138000", "20240102", 2, "n", "t");
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Action"), Some("QuerySendDetails"));
        assert_eq!(get("PhoneNumber"), Some("13800138000"));
        assert_eq!(get("SendDate"), Some("20240102"));
        assert_eq!(get("CurrentPage"), Some("2"));
        assert_eq!(get("PageSize"), Some("50"));
    }

    #[test]
    fn only_a_record_of_this_out_id_that_went_out_counts() {
        let page = serde_json::json!({
            "Code": "OK",
            "TotalCount": 3,
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [
                {"OutId": "41", "SendStatus": 3},
                {"OutId": "42", "SendStatus": 2},
                {"OutId": "43", "SendStatus": 1},
            ]}
        });
        assert_eq!(find_out_id(&page, 41), (true, 3));
        // Status 2: the provider failed it, so a new send is the only copy.
        assert_eq!(find_out_id(&page, 42), (false, 3));
        assert_eq!(find_out_id(&page, 43), (true, 3));
        assert_eq!(find_out_id(&page, 44), (false, 3));
        let empty = serde_json::json!({"Code": "OK", "TotalCount": 0, "SmsSendDetailDTOs": {"SmsSendDetailDTO": []}});
        assert_eq!(find_out_id(&empty, 41), (false, 0));
    }

    #[test]
    fn provider_codes_are_kept_only_when_harmless() {
        let m = message("verification_code", "Your code is 123456", Some("123456"));
        assert_eq!(
            provider_code("isv.BUSINESS_LIMIT_CONTROL", &m),
            "isv.BUSINESS_LIMIT_CONTROL"
        );
        assert_eq!(provider_code("bad code 123456", &m), "unrecognised");
        assert_eq!(provider_code("X123456", &m), "unrecognised");
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_a_short_error() {
        // A loopback port that was free a moment ago: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sms = AliyunSms::new(SmsConfig {
            endpoint: format!("http://127.0.0.1:{port}/"),
            ..config()
        })
        .unwrap();
        let m = message("verification_code", "Your code is 123456", Some("123456"));
        let error = sms.send(&m).await.unwrap_err();
        assert!(!error.reason.contains("123456"), "{error}");
        assert!(error.reason.starts_with("sms "), "{error}");
        // Refused at connect: nothing went out, so the retry needs no lookup.
        assert!(!error.in_doubt, "{error}");
    }
}
