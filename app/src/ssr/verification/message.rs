//! The text of a code message: what the code is for, how long it lives and, in an SMS, the
//! origin-bound line that lets a browser offer (or, with WebOTP, fill in) the code on this site only.

use super::Purpose;
use crate::i18n::{Locale, t, t_with};
use crate::ssr::outbox::Channel;

impl Purpose {
    /// What the code is for, in the words of its message.
    fn described(&self, locale: Locale) -> String {
        let key = match self {
            Purpose::IdentityForPhoneChange => "code-for-phone-change",
            Purpose::IdentityForTotpUnbind => "code-for-totp-unbind",
            Purpose::IdentityForTotpBind => "code-for-totp-bind",
            Purpose::IdentityForLogonProtection => "code-for-logon-protection",
            Purpose::NewPhone => "code-for-new-phone",
            Purpose::ResetPassword => "code-for-reset-password",
            Purpose::MemberPhone => "code-for-member-phone",
            Purpose::AppealContact => "code-for-appeal-contact",
            Purpose::SignIn => "code-for-sign-in",
        };
        t(locale, key)
    }
}

/// The text of a code message: what it is for and how long it lives. An SMS ends with the
/// origin-bound line `@host #code` (WICG sms-one-time-codes), so a browser offers the code only
/// on this site and, with the WebOTP API, fills the field by itself.
pub(super) fn code_message(
    locale: Locale,
    purpose: Purpose,
    channel: Channel,
    code: &str,
    lifetime_secs: i64,
    host: Option<&str>,
) -> String {
    let text = t_with(
        locale,
        "code-message",
        &[
            ("code", code.to_string()),
            ("purpose", purpose.described(locale)),
            ("minutes", (lifetime_secs / 60).max(1).to_string()),
        ],
    );
    match (channel, host) {
        (Channel::Sms, Some(host)) => format!("{text}\n\n@{host} #{code}"),
        _ => text,
    }
}

/// The host of the console's public address, as an origin-bound code names it: letters, digits,
/// dots and hyphens only (no port, no IPv6 literal), else none.
pub(super) fn code_host(public_url: &str) -> Option<String> {
    let uri: http::Uri = public_url.trim().parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    plain.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_code_its_purpose_and_its_lifetime() {
        let text = code_message(
            Locale::En,
            Purpose::NewPhone,
            Channel::Email,
            "123456",
            300,
            None,
        );
        assert_eq!(
            text,
            "Your Account Center verification code is 123456, to bind this mobile phone number to your account. It is valid for 5 minutes. Never share it with anyone."
        );
        let reset = code_message(
            Locale::En,
            Purpose::ResetPassword,
            Channel::Email,
            "123456",
            600,
            None,
        );
        assert!(reset.contains("to reset your password") && reset.contains("10 minutes"));
        let zh = code_message(
            Locale::ZhCn,
            Purpose::ResetPassword,
            Channel::Sms,
            "123456",
            600,
            Some("console.example.com"),
        );
        assert!(zh.contains("123456") && zh.contains("重置密码") && zh.contains("10 分钟"));
        assert_eq!(zh.lines().last(), Some("@console.example.com #123456"));
    }

    #[test]
    fn an_sms_ends_with_the_origin_bound_line_and_an_email_does_not() {
        let host = code_host("https://Console.Example.com:8443/");
        assert_eq!(host.as_deref(), Some("console.example.com"));
        let sms = code_message(
            Locale::En,
            Purpose::SignIn,
            Channel::Sms,
            "042917",
            300,
            host.as_deref(),
        );
        assert_eq!(sms.lines().last(), Some("@console.example.com #042917"));
        let email = code_message(
            Locale::En,
            Purpose::SignIn,
            Channel::Email,
            "042917",
            300,
            host.as_deref(),
        );
        assert!(!email.contains('@') && !email.contains('#'));
    }

    #[test]
    fn only_a_plain_host_is_named() {
        assert_eq!(
            code_host("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(code_host("http://[::1]:3000"), None);
        assert_eq!(code_host(""), None);
    }
}
