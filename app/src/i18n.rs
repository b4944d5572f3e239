//! The two languages of the console, English and Simplified Chinese, and their message
//! catalogues: `app/locales/<tag>/*.ftl`, read at compile time by `fluent-templates` into the
//! server and the browser alike. Every text a user reads (page, dialog, error, SMS, email) is a
//! message there; a test (below) fails when a message exists in one language and not the other.
//!
//! Which language a request gets (`locale`): the signed-in owner's setting, else the language the
//! switcher remembered in a cookie, else the best of `Accept-Language`, else English. In the
//! browser, an island reads the language the server wrote on `<html lang>`.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

fluent_templates::static_loader! {
    static CATALOGUES = {
        locales: "./locales",
        fallback_language: "en",
        // The English texts stay byte for byte what SPEC 8 says: no isolation marks around
        // the values put into a message.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie the language switcher sets, read before `Accept-Language`.
pub const COOKIE_NAME: &str = "console_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

static EN: LanguageIdentifier = langid!("en");
static ZH_CN: LanguageIdentifier = langid!("zh-CN");

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag, as on `<html lang>`, in the cookie and in the account's setting.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, as the switcher offers it.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "中文",
        }
    }

    /// The other language: the one the switcher offers.
    pub fn other(self) -> Locale {
        match self {
            Locale::En => Locale::ZhCn,
            Locale::ZhCn => Locale::En,
        }
    }

    fn langid(self) -> &'static LanguageIdentifier {
        match self {
            Locale::En => &EN,
            Locale::ZhCn => &ZH_CN,
        }
    }

    /// A tag this console serves: `en`, `en-GB`, `zh`, `zh-CN`, `zh-Hans`, `zh-SG` … Traditional
    /// Chinese (`zh-TW`, `zh-HK`, `zh-Hant`) is not Simplified Chinese, so it is none of them.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let id: LanguageIdentifier = tag.trim().parse().ok()?;
        match id.language.as_str() {
            "en" => Some(Locale::En),
            "zh" => {
                let script = id.script.map(|s| s.as_str().to_ascii_lowercase());
                let region = id.region.map(|r| r.as_str().to_ascii_uppercase());
                let traditional = script.as_deref() == Some("hant")
                    || (script.is_none() && matches!(region.as_deref(), Some("TW" | "HK" | "MO")));
                (!traditional).then_some(Locale::ZhCn)
            }
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header, by its weights, that this console
    /// serves.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut ranges: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(order, range)| {
                let mut parts = range.split(';');
                let tag = parts.next()?.trim();
                let weight = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (weight > 0.0 && !tag.is_empty()).then_some((weight, order, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges
            .into_iter()
            .find_map(|(_, _, tag)| Locale::from_tag(tag))
    }
}

/// Message `key` in `locale`, with `args` put in. A message missing in `locale` falls back to
/// English (the parity test keeps that from happening); a key in neither shows itself.
pub fn t_with(locale: Locale, key: &str, args: &[(&str, String)]) -> String {
    let args: Option<HashMap<Cow<'static, str>, FluentValue>> = (!args.is_empty()).then(|| {
        args.iter()
            .map(|(name, value)| {
                (
                    Cow::Owned(name.to_string()),
                    FluentValue::from(value.clone()),
                )
            })
            .collect()
    });
    CATALOGUES
        .lookup_single_language(locale.langid(), key, args.as_ref())
        .or_else(|_| CATALOGUES.lookup_single_language(&EN, key, args.as_ref()))
        .unwrap_or_else(|_| key.to_string())
}

/// Message `key` in `locale`.
pub fn t(locale: Locale, key: &str) -> String {
    t_with(locale, key, &[])
}

/// Message `key` in the language of this page or request; `tr!("key", name = value)` puts
/// values in.
#[macro_export]
macro_rules! tr {
    ($key:literal) => {
        $crate::i18n::t($crate::i18n::locale(), $key)
    };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::t_with(
            $crate::i18n::locale(),
            $key,
            &[$((stringify!($name), ($value).to_string())),+],
        )
    };
}

/// The language of the request being served (see the module's opening comment). The page shell
/// works it out once and provides it; a server function works it out from its request.
#[cfg(feature = "ssr")]
pub fn locale() -> Locale {
    use leptos::prelude::use_context;
    use_context::<Locale>()
        .or_else(|| use_context::<http::request::Parts>().map(|parts| of_request(&parts)))
        .unwrap_or_default()
}

/// The language of the page, as the server wrote it on `<html lang>`.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub fn locale() -> Locale {
    thread_local! {
        static PAGE: Locale = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|tag| Locale::from_tag(&tag))
            .unwrap_or_default();
    }
    PAGE.with(|l| *l)
}

/// Neither server nor browser (a plain `cargo test` of the crate): English.
#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
pub fn locale() -> Locale {
    Locale::En
}

/// A request's language: the signed-in owner's setting (when its guard resolved the principal),
/// the switcher's cookie, `Accept-Language`, English.
#[cfg(feature = "ssr")]
pub fn of_request(parts: &http::request::Parts) -> Locale {
    let setting = parts
        .extensions
        .get::<crate::ssr::session::Principal>()
        .and_then(|p| p.language);
    setting
        .or_else(|| of_headers(&parts.headers))
        .unwrap_or_default()
}

/// The switcher's cookie, else `Accept-Language`.
#[cfg(feature = "ssr")]
pub fn of_headers(headers: &http::HeaderMap) -> Option<Locale> {
    let cookie = crate::ssr::request::cookie_in(headers, COOKIE_NAME)
        .and_then(|value| Locale::from_tag(&value));
    cookie.or_else(|| {
        headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_accept_language)
    })
}

/// The `Set-Cookie` value that remembers `locale` for a year.
pub fn cookie(locale: Locale) -> String {
    format!(
        "{COOKIE_NAME}={}; Path=/; Max-Age=31536000; Secure; SameSite=Lax",
        locale.tag()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// The messages of one language's catalogue files, each with the variables (`$name`) it
    /// puts in: an FTL message starts a line with its id and ` =` (comments start with `#`,
    /// continuation lines are indented).
    fn messages(locale: Locale) -> BTreeMap<String, BTreeSet<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(locale.tag());
        let mut found = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).expect("the catalogue folder") {
            let path = entry.expect("a catalogue file").path();
            if path.extension().is_some_and(|e| e == "ftl") {
                let text = std::fs::read_to_string(&path).expect("a readable catalogue file");
                let mut current: Option<String> = None;
                for line in text.lines() {
                    let starts_entry = line.starts_with(|c: char| c.is_ascii_alphabetic());
                    let value = match line.split_once('=').filter(|_| starts_entry) {
                        Some((id, value)) => {
                            let id = id.trim().to_string();
                            let fresh = found.insert(id.clone(), BTreeSet::new()).is_none();
                            assert!(fresh, "{id} is defined twice in {}", locale.tag());
                            current = Some(id);
                            value
                        }
                        None if line.starts_with(' ') => line,
                        None => {
                            current = None;
                            continue;
                        }
                    };
                    if let Some(vars) = current.as_ref().and_then(|id| found.get_mut(id)) {
                        for (at, _) in value.match_indices('$') {
                            let name: String = value[at + 1..]
                                .chars()
                                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                                .collect();
                            vars.insert(name);
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_message_exists_in_both_languages() {
        let en = messages(Locale::En);
        let zh = messages(Locale::ZhCn);
        assert!(
            en.len() > 100,
            "the English catalogue is read ({})",
            en.len()
        );
        let only_en: Vec<_> = en.keys().filter(|id| !zh.contains_key(*id)).collect();
        let only_zh: Vec<_> = zh.keys().filter(|id| !en.contains_key(*id)).collect();
        assert!(only_en.is_empty(), "only in English: {only_en:?}");
        assert!(only_zh.is_empty(), "only in Chinese: {only_zh:?}");
        for (id, vars) in &en {
            assert_eq!(
                Some(vars),
                zh.get(id),
                "{id} puts in other values in Chinese"
            );
            let args: Vec<(&str, String)> = vars.iter().map(|v| (v.as_str(), "x".into())).collect();
            let args: HashMap<Cow<'static, str>, FluentValue> = args
                .iter()
                .map(|(name, value)| {
                    (
                        Cow::Owned(name.to_string()),
                        FluentValue::from(value.clone()),
                    )
                })
                .collect();
            for locale in Locale::ALL {
                CATALOGUES
                    .lookup_single_language(locale.langid(), id, Some(&args))
                    .unwrap_or_else(|e| panic!("{id} in {}: {e}", locale.tag()));
            }
        }
    }

    /// Every `tr!("…")` and `t(…, "…")` in the sources names a message of the catalogue.
    #[test]
    fn every_message_the_code_names_is_in_the_catalogue() {
        let en = messages(Locale::En);
        let mut missing = Vec::new();
        let mut named = 0;
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("a source folder") {
                let path = entry.expect("a source entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    for key in keys_named(&text) {
                        named += 1;
                        if !en.contains_key(&key) {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(named > 100, "the sources name messages ({named})");
        assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    }

    /// The literal keys after `tr!(` and after `t(<locale>, ` / `t_with(<locale>, `.
    fn keys_named(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for (start, _) in text.match_indices("tr!(\"") {
            keys.extend(literal_at(&text[start + 5..]));
        }
        for opener in ["t(", "t_with("] {
            for (start, _) in text.match_indices(opener) {
                let before = text[..start].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[start + opener.len()..];
                if let Some((_, after)) = rest.split_once(", \"")
                    && !rest[..rest.find(", \"").unwrap_or(0)].contains(['(', ')', ';', '\n'])
                {
                    keys.extend(literal_at(after));
                }
            }
        }
        keys
    }

    fn literal_at(text: &str) -> Option<String> {
        let key: String = text
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (!key.is_empty() && text[key.len()..].starts_with('"')).then_some(key)
    }

    #[test]
    fn a_language_is_picked_from_accept_language_by_weight() {
        assert_eq!(
            Locale::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::from_accept_language("fr;q=1, en;q=0.5, zh;q=0.7"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("zh-TW,fr"), None);
        assert_eq!(Locale::from_accept_language("zh;q=0, en"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language(""), None);
        assert_eq!(Locale::from_tag("zh-Hans-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("zh-Hant"), None);
        assert_eq!(Locale::from_tag("not a tag"), None);
    }

    #[test]
    fn values_go_into_messages_without_isolation_marks() {
        let text = t_with(Locale::En, "error-ResendTooSoon", &[("n", "42".into())]);
        assert_eq!(text, "Wait 42 seconds before requesting another code.");
        let zh = t_with(Locale::ZhCn, "error-ResendTooSoon", &[("n", "42".into())]);
        assert!(zh.contains("42") && !zh.contains('\u{2068}'), "{zh}");
        assert_eq!(t(Locale::ZhCn, "no-such-message"), "no-such-message");
    }
}
