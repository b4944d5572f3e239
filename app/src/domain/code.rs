//! A verification code as typed: six ASCII digits, nothing else.

use crate::error::AppError;

#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    pub fn parse(input: &str) -> Result<VerificationCode, AppError> {
        let trimmed = input.trim();
        if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(VerificationCode(trimmed.to_string()))
        } else {
            Err(AppError::MalformedCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Codes are secrets: they never print, not even in debug logs.
impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_parse() {
        assert_eq!(
            VerificationCode::parse(" 012345 ").unwrap().as_str(),
            "012345"
        );
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "12 456"] {
            assert_eq!(
                VerificationCode::parse(bad),
                Err(AppError::MalformedCode),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_the_code() {
        let code = VerificationCode::parse("123456").unwrap();
        assert!(!format!("{code:?}").contains("123456"));
    }
}
