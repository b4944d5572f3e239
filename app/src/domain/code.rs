//! A verification code as typed: six ASCII digits, with any spaces a paste brings ("123 456").

use crate::error::AppError;

#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    pub fn parse(input: &str) -> Result<VerificationCode, AppError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(VerificationCode(digits))
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
    fn a_pasted_code_with_spaces_parses() {
        for pasted in ["123 456", "12 34 56", "\t123456\n", "1 2 3 4 5 6"] {
            assert_eq!(
                VerificationCode::parse(pasted).unwrap().as_str(),
                "123456",
                "{pasted:?}"
            );
        }
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "١٢٣٤٥٦",
            "12 456",
            "123-456",
            "1234 567",
        ] {
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
