//! SMS through Alibaba Cloud SMS (dysmsapi `SendSms`, API version 2017-05-25), signed with the
//! RPC signature v1.0 (HMAC-SHA1 over the canonicalized, percent-encoded parameters).
//!
//! The signing is pure (`percent_encode`, `canonicalize`, `string_to_sign`, `sign`) so it can be
//! checked against the provider's published example and reused by tests that stand in for it.

use super::{BoxFuture, DeliveryError, Outbound, SmsSender};
use crate::ssr::config::SmsConfig;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::time::Duration;

pub const ACTION: &str = "SendSms";
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
            .ok_or_else(|| DeliveryError("verification message without a code".into()))?;
        serde_json::json!({ "code": code })
    } else {
        serde_json::json!({ "content": message.body })
    };
    Ok(value.to_string())
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
    let params = [
        ("AccessKeyId", config.access_key_id.as_str()),
        ("Action", ACTION),
        ("Format", "JSON"),
        ("OutId", &message.id.to_string()),
        // E.164 as stored: the provider takes the +cc form for international numbers.
        ("PhoneNumbers", message.recipient),
        ("RegionId", config.region_id.as_str()),
        ("SignName", config.sign_name.as_str()),
        ("SignatureMethod", SIGNATURE_METHOD),
        ("SignatureNonce", nonce),
        ("SignatureVersion", SIGNATURE_VERSION),
        ("TemplateCode", template_code.as_str()),
        ("TemplateParam", &template_param(message)?),
        ("Timestamp", timestamp),
        ("Version", API_VERSION),
    ];
    Ok(params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
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

    async fn deliver(&self, message: &Outbound<'_>) -> Result<(), DeliveryError> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let now = timestamp(time::OffsetDateTime::now_utc());
        let mut params = request_params(&self.config, message, &nonce, &now)?;
        let signature = sign("POST", &params, &self.config.access_key_secret.0);
        params.push(("Signature".into(), signature));

        let response = self
            .client
            .post(&self.config.endpoint)
            .form(&params)
            .send()
            .await
            .map_err(|e| {
                DeliveryError(
                    if e.is_timeout() {
                        "sms provider timed out"
                    } else if e.is_connect() {
                        "sms provider unreachable"
                    } else {
                        "sms request failed"
                    }
                    .into(),
                )
            })?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(DeliveryError(format!(
                "sms provider answered HTTP {}",
                status.as_u16()
            )));
        }
        let answer: serde_json::Value = response
            .json()
            .await
            .map_err(|_| DeliveryError("sms provider answered something other than JSON".into()))?;
        match answer.get("Code").and_then(|c| c.as_str()) {
            Some("OK") => Ok(()),
            Some(code) => Err(DeliveryError(format!(
                "sms provider refused: {}",
                provider_code(code, message)
            ))),
            None => Err(DeliveryError("sms provider answered without a Code".into())),
        }
    }
}

impl SmsSender for AliyunSms {
    fn send<'a>(&'a self, message: &'a Outbound<'a>) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

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

    #[test]
    fn parameters_pick_the_template_and_carry_the_code() {
        let m = message("verification_code", "Your code is 123456", Some("123456"));
        let params = request_params(&config(), &m, "nonce", "2024-01-02T03:04:05Z").unwrap();
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
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
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("TemplateCode"), "SMS_NOTICE");
        assert_eq!(
            get("TemplateParam"),
            "{\"content\":\"Your phone number was changed.\"}"
        );

        let m = message("verification_code", "no code", None);
        assert!(request_params(&config(), &m, "nonce", "2024-01-02T03:04:05Z").is_err());
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
        assert!(!error.0.contains("123456"), "{error}");
        assert!(error.0.starts_with("sms "), "{error}");
    }
}
