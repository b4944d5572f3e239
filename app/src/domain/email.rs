//! A logon or contact email address, checked for shape and length.

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, AppError> {
        let trimmed = input.trim().to_ascii_lowercase();
        let valid = trimmed.len() <= 254
            && trimmed.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Email(trimmed))
        } else {
            Err(AppError::invalid("invalid-email"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_lowercased() {
        assert_eq!(
            Email::parse(" Alice@Example.com ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
