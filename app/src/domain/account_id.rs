//! An account's numeric id: exactly 16 digits.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(input: &str) -> Result<AccountId, AppError> {
        let trimmed = input.trim();
        if trimmed.len() == 16 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(trimmed.to_string()))
        } else {
            Err(AppError::invalid("invalid-account-id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_digits_parse() {
        assert_eq!(
            AccountId::parse(" 1234567890123456 ").unwrap().as_str(),
            "1234567890123456"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "123",
            "12345678901234567",
            "123456789012345a",
            "１２３４５６７８９０１２３４５６",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }
}
