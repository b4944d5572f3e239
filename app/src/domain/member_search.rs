//! What the member list's search box asked for (SPEC 5): an account id, a number or a name.

use crate::domain::{AccountId, PhoneNumber, Region};
use crate::error::{AppError, AppResult};

/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 64;

/// What the member list's search box asked for, decided once from the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberSearch {
    All,
    /// Exactly one account id.
    AccountId(AccountId),
    /// The numbers the text could mean (with a country code, or national in the home region).
    Phone(Vec<PhoneNumber>),
    /// Lower-cased text that a display name contains.
    Name(String),
}

impl MemberSearch {
    /// Reads the search text: 16 digits are an account id, a phone-like text is a number (E.164,
    /// `86-…`, or national digits read in `home`), anything else is part of a name.
    pub fn parse(input: &str, home: Option<Region>) -> AppResult<MemberSearch> {
        let text = input.trim();
        if text.chars().count() > MAX_SEARCH_CHARS {
            return Err(AppError::invalid_with(
                "invalid-search-length",
                &[("max", MAX_SEARCH_CHARS.to_string())],
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid("invalid-search-chars"));
        }
        if text.is_empty() {
            return Ok(MemberSearch::All);
        }
        if let Ok(id) = AccountId::parse(text) {
            return Ok(MemberSearch::AccountId(id));
        }
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let phone_like = digits >= 6
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
        if phone_like {
            let mut candidates: Vec<PhoneNumber> = Vec::new();
            let mut add = |parsed: AppResult<PhoneNumber>| {
                if let Ok(number) = parsed
                    && !candidates.iter().any(|c| c.e164() == number.e164())
                {
                    candidates.push(number);
                }
            };
            if text.starts_with('+') || text.contains('-') {
                add(PhoneNumber::parse(text, None));
            } else {
                add(PhoneNumber::parse(&format!("+{text}"), None));
            }
            if let (Some(region), false) = (home, text.starts_with('+')) {
                add(PhoneNumber::parse(&text.replace('-', ""), Some(region)));
            }
            if !candidates.is_empty() {
                return Ok(MemberSearch::Phone(candidates));
            }
        }
        Ok(MemberSearch::Name(text.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Option<Region> {
        Region::parse("CN").ok()
    }

    #[test]
    fn empty_search_lists_everyone() {
        assert_eq!(MemberSearch::parse("  ", cn()).unwrap(), MemberSearch::All);
    }

    #[test]
    fn sixteen_digits_are_an_account_id() {
        assert_eq!(
            MemberSearch::parse(" 2000000000000006 ", cn()).unwrap(),
            MemberSearch::AccountId(AccountId::parse("2000000000000006").unwrap())
        );
    }

    fn numbers(e164: &[&str]) -> MemberSearch {
        MemberSearch::Phone(
            e164.iter()
                .map(|n| PhoneNumber::parse(n, None).unwrap())
                .collect(),
        )
    }

    #[test]
    fn phone_forms_become_e164_candidates() {
        let e164 = numbers(&["+8613900139000"]);
        assert_eq!(MemberSearch::parse("+8613900139000", cn()).unwrap(), e164);
        assert_eq!(MemberSearch::parse("86-13900139000", cn()).unwrap(), e164);
        assert_eq!(MemberSearch::parse("8613900139000", cn()).unwrap(), e164);
        // National digits are read in the home region.
        assert_eq!(MemberSearch::parse("13900139000", cn()).unwrap(), e164);
        assert_eq!(
            MemberSearch::parse("+1 202 555 0188", cn()).unwrap(),
            numbers(&["+12025550188"])
        );
    }

    #[test]
    fn other_text_is_a_lower_cased_name() {
        assert_eq!(
            MemberSearch::parse("Acme-DEV", cn()).unwrap(),
            MemberSearch::Name("acme-dev".into())
        );
        // Digits that make no number are part of a name.
        assert_eq!(
            MemberSearch::parse("123", cn()).unwrap(),
            MemberSearch::Name("123".into())
        );
        assert_eq!(
            MemberSearch::parse("99999999", cn()).unwrap(),
            MemberSearch::Name("99999999".into())
        );
    }

    #[test]
    fn long_or_control_text_is_refused() {
        assert!(MemberSearch::parse(&"a".repeat(MAX_SEARCH_CHARS), cn()).is_ok());
        assert!(MemberSearch::parse(&"a".repeat(MAX_SEARCH_CHARS + 1), cn()).is_err());
        assert!(MemberSearch::parse("a\u{0}b", cn()).is_err());
    }
}
