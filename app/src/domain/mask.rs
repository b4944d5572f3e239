//! How numbers and addresses are shown: enough to recognise, not enough to use.

/// `+86 138****8000`: country code, first 3 and last 4 national digits, one asterisk per hidden digit.
pub fn mask_phone(country_code: u16, national: &str) -> String {
    let digits: Vec<char> = national.chars().collect();
    if digits.len() <= 7 {
        let keep = digits.len().min(3);
        let shown: String = digits[..keep].iter().collect();
        return format!("+{country_code} {shown}{}", "*".repeat(digits.len() - keep));
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!(
        "+{country_code} {head}{}{tail}",
        "*".repeat(digits.len() - 7)
    )
}

/// `a***@example.com`: the first character of the local part, then three asterisks.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_mask_as_the_contract_says() {
        assert_eq!(mask_phone(86, "13800138000"), "+86 138****8000");
        assert_eq!(mask_phone(1, "2025550143"), "+1 202***0143");
    }

    #[test]
    fn emails_mask_as_the_contract_says() {
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
    }
}
