//! Property tests of every parser at the boundary: whatever a browser, a script or an attacker
//! sends, the parsers answer a value or an error, never a panic, and what they accept reads back
//! to itself. Run by `cargo test -p app --features ssr --lib` (the phone parts need `ssr`).

use super::{AccountId, Email, VerificationCode};
use crate::error::AppError;
use proptest::prelude::*;

/// Text that looks like what the fields get: digits of several scripts, signs, spaces, letters,
/// control characters and anything else Unicode has.
fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,20}",
        "[ \t\r\n]{0,2}[0-9]{4,18}[ \t\r\n]{0,2}",
        "[0-9０-９٠-٩۰-۹+\\- ()a-zA-Z\u{0}\u{7f}\u{202e}\u{feff}]{0,24}",
        "\\+?[0-9]{1,3}[- ]?[0-9 ()\\-]{0,20}",
        ".{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_code_is_six_ascii_digits_and_reads_back_to_itself(input in field_text()) {
        match VerificationCode::parse(&input) {
            Ok(code) => {
                prop_assert_eq!(code.as_str().len(), 6);
                prop_assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
                let typed: String = input.chars().filter(|c| !c.is_whitespace()).collect();
                prop_assert_eq!(code.as_str(), typed.as_str());
                prop_assert!(VerificationCode::parse(code.as_str()) == Ok(code.clone()));
                // A code never prints, whatever it is.
                let printed = format!("{code:?}");
                prop_assert!(!printed.contains(code.as_str()), "{}", printed);
            }
            Err(error) => {
                prop_assert_eq!(error, AppError::MalformedCode);
            }
        }
    }

    #[test]
    fn six_digits_with_surrounding_spaces_always_parse(digits in "[0-9]{6}", before in "[ \t]{0,3}", after in "[ \t\n]{0,3}") {
        let code = VerificationCode::parse(&format!("{before}{digits}{after}")).unwrap();
        prop_assert_eq!(code.as_str(), digits.as_str());
    }

    #[test]
    fn a_code_with_anything_but_ascii_digits_inside_is_refused(
        head in "[0-9]{0,5}",
        odd in "[^0-9 \t\r\n\u{b}\u{c}\u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]",
        tail in "[0-9]{0,5}",
    ) {
        prop_assert_eq!(VerificationCode::parse(&format!("{head}{odd}{tail}")), Err(AppError::MalformedCode));
    }

    #[test]
    fn an_account_id_is_sixteen_ascii_digits(input in field_text()) {
        match AccountId::parse(&input) {
            Ok(id) => {
                prop_assert_eq!(id.as_str().len(), 16);
                prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(id.as_str(), input.trim());
                prop_assert_eq!(AccountId::parse(&id.to_string()), Ok(id.clone()));
            }
            Err(error) => {
                prop_assert!(matches!(error, AppError::InvalidInput(ref m) if !m.key.is_empty()));
            }
        }
    }

    #[test]
    fn sixteen_digits_always_parse_as_an_account_id(digits in "[0-9]{16}", pad in "[ ]{0,2}") {
        let id = AccountId::parse(&format!("{pad}{digits}{pad}")).unwrap();
        prop_assert_eq!(id.as_str(), digits.as_str());
    }

    #[test]
    fn an_email_is_checked_and_reads_back_to_itself(input in prop_oneof![
        field_text(),
        "[A-Za-z0-9._%+\\-]{0,70}@[A-Za-z0-9.\\-@]{0,30}",
        ".{0,64}@.{0,200}",
    ]) {
        if let Ok(email) = Email::parse(&input) {
            let text = email.as_str();
            prop_assert_eq!(text, input.trim().to_ascii_lowercase());
            prop_assert!(text.len() <= 254);
            prop_assert_eq!(text.matches('@').count(), 1);
            let (local, domain) = text.split_once('@').unwrap();
            prop_assert!(!local.is_empty() && local.len() <= 64);
            prop_assert!(domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
            prop_assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
            prop_assert_eq!(Email::parse(text), Ok(email.clone()));
        }
    }

    #[test]
    fn ordinary_addresses_always_parse(local in "[a-z0-9][a-z0-9._+\\-]{0,40}", host in "[a-z0-9][a-z0-9\\-]{0,20}", tld in "[a-z]{2,8}") {
        let input = format!("{local}@{host}.{tld}");
        let email = Email::parse(&input.to_ascii_uppercase()).unwrap();
        prop_assert_eq!(email.as_str(), input.as_str());
    }
}

#[cfg(feature = "ssr")]
mod phone {
    use crate::domain::{PhoneNumber, Region};
    use crate::error::AppError;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// Every geographic region libphonenumber knows that has an example mobile number:
    /// (region, calling code, example national number).
    fn regions() -> &'static [(Region, u16, String)] {
        static ALL: OnceLock<Vec<(Region, u16, String)>> = OnceLock::new();
        ALL.get_or_init(|| {
            let mut all: Vec<(Region, u16, String)> = phonenumber::metadata::DATABASE
                .iter()
                .filter_map(|meta| {
                    let region = Region::parse(meta.id()).ok()?;
                    let example = meta.descriptors().mobile()?.example()?.to_string();
                    Some((region, meta.country_code(), example))
                })
                .collect();
            all.sort_by(|a, b| a.0.code().cmp(b.0.code()));
            all
        })
    }

    /// What every accepted number satisfies, whichever form it was typed in.
    fn check_accepted(number: &PhoneNumber) -> Result<(), TestCaseError> {
        let e164 = number.e164();
        prop_assert!(e164.starts_with('+'), "{e164}");
        prop_assert!(e164[1..].bytes().all(|b| b.is_ascii_digit()), "{e164}");
        prop_assert!((8..=16).contains(&e164.len()), "{e164}");
        // E.164 → parse → the same E.164, and the cloud's `cc-number` form is the same number.
        let again = PhoneNumber::parse(e164, None)
            .map_err(|e| TestCaseError::fail(format!("{e164}: {e:?}")))?;
        prop_assert_eq!(again.e164(), e164);
        let region = number
            .region()
            .ok_or_else(|| TestCaseError::fail(format!("{e164} has no region")))?;
        let cc = region.calling_code().to_string();
        prop_assert!(
            e164[1..].starts_with(&cc),
            "{e164} does not start with +{cc}"
        );
        let cloud = format!("{cc}-{}", &e164[1 + cc.len()..]);
        let cloud_number = PhoneNumber::parse(&cloud, None)
            .map_err(|e| TestCaseError::fail(format!("{cloud}: {e:?}")))?;
        prop_assert_eq!(cloud_number.e164(), e164);
        // In its own region it is accepted as typed internationally.
        let in_region = PhoneNumber::parse_in_region(e164, region)
            .map_err(|e| TestCaseError::fail(format!("{e164}: {e:?}")))?;
        prop_assert_eq!(in_region.e164(), e164);
        prop_assert_eq!(in_region.region(), Some(region));
        // The mask shows the country code and at most 7 national digits, one star per hidden one.
        let masked = number.masked();
        let national_len = e164.len() - 1 - cc.len();
        let shown = masked
            .strip_prefix(&format!("+{cc} "))
            .ok_or_else(|| TestCaseError::fail(masked.clone()))?;
        prop_assert_eq!(shown.chars().count(), national_len, "{}", masked);
        prop_assert!(
            shown.chars().filter(|c| c.is_ascii_digit()).count() <= 7,
            "{masked}"
        );
        prop_assert!(national_len <= 3 || shown.contains('*'), "{masked}");
        Ok(())
    }

    #[test]
    fn every_regions_example_mobile_number_round_trips() {
        let all = regions();
        assert!(
            all.len() > 200,
            "only {} regions with an example mobile number",
            all.len()
        );
        let mut refused = Vec::new();
        for (region, cc, example) in all {
            let e164 = format!("+{cc}{example}");
            match PhoneNumber::parse(&e164, None) {
                Ok(number) => {
                    assert_eq!(number.e164(), e164, "{}", region.code());
                    check_accepted(&number).unwrap_or_else(|e| panic!("{}: {e}", region.code()));
                    // Typed nationally in its region, it is the same number.
                    let national = PhoneNumber::parse_in_region(example, *region);
                    if national.as_ref().map(|n| (n.e164(), n.region()))
                        != Ok((e164.as_str(), Some(*region)))
                    {
                        refused.push(format!(
                            "{} {example} typed nationally: {national:?}",
                            region.code()
                        ));
                    }
                }
                Err(error) => refused.push(format!("{} {e164}: {error:?}", region.code())),
            }
        }
        // libphonenumber's own example mobile numbers are mobile numbers of their region.
        assert!(
            refused.is_empty(),
            "example mobile numbers refused:\n{}",
            refused.join("\n")
        );
    }

    proptest! {
        // Phone parsing is slow in debug builds (libphonenumber's regexes): fewer cases here.
        #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_to_a_valid_number_or_an_error(input in super::field_text(), pick in 0usize..400, with_region in any::<bool>()) {
            let all = regions();
            let region = all[pick % all.len()].0;
            match PhoneNumber::parse(&input, with_region.then_some(region)) {
                Ok(number) => check_accepted(&number)?,
                Err(error) => {
                    prop_assert!(error == AppError::InvalidPhone || error == AppError::SmsNumberType, "{error:?}");
                }
            }
            match PhoneNumber::parse_in_region(&input, region) {
                Ok(number) => {
                    prop_assert_eq!(number.region(), Some(region));
                    check_accepted(&number)?;
                }
                Err(error) => {
                    prop_assert!(
                        error == AppError::InvalidPhone
                            || error == AppError::PhoneRegionMismatch
                            || error == AppError::SmsNumberType,
                        "{error:?}"
                    );
                }
            }
            let _ = crate::domain::phone::mask_e164(&input);
        }

        #[test]
        fn generated_numbers_of_every_region_round_trip(pick in 0usize..400, tail in "[0-9]{0,4}", spaced in any::<bool>()) {
            let all = regions();
            let (region, cc, example) = &all[pick % all.len()];
            // The example with its last digits replaced: most are still mobile numbers there.
            let keep = example.len().saturating_sub(tail.len());
            let national = format!("{}{}", &example[..keep], &tail[..example.len() - keep]);
            let e164 = format!("+{cc}{national}");
            if let Ok(number) = PhoneNumber::parse(&e164, None) {
                prop_assert_eq!(number.e164(), e164.as_str());
                check_accepted(&number)?;
                let typed = if spaced { format!(" +{cc} {national} ") } else { e164.clone() };
                prop_assert_eq!(PhoneNumber::parse(&typed, None), Ok(number.clone()));
                // Read as a number of another region it is refused as a mismatch, unless that region
                // shares the calling code and lists the number among its own mobile numbers.
                let other = all[(pick + 1 + tail.len()) % all.len()].0;
                match PhoneNumber::parse_in_region(&e164, other) {
                    Ok(taken) => {
                        prop_assert_eq!(taken.e164(), e164.as_str());
                        prop_assert_eq!(taken.region(), Some(other));
                        prop_assert_eq!(other.calling_code(), *cc);
                    }
                    Err(error) => {
                        prop_assert_eq!(error, AppError::PhoneRegionMismatch);
                    }
                }
            }
            // Whatever the digits, a national form typed in the region never yields another region.
            if let Ok(number) = PhoneNumber::parse_in_region(&national, *region) {
                prop_assert_eq!(number.region(), Some(*region));
                check_accepted(&number)?;
            }
        }

        #[test]
        fn the_member_search_box_reads_any_text(input in super::field_text(), pick in 0usize..400) {
            use crate::domain::MemberSearch;
            let all = regions();
            let home = Some(all[pick % all.len()].0);
            match MemberSearch::parse(&input, home) {
                Ok(MemberSearch::AccountId(id)) => {
                    prop_assert!(crate::domain::AccountId::parse(id.as_str()).is_ok());
                }
                Ok(MemberSearch::Phone(candidates)) => {
                    prop_assert!(!candidates.is_empty());
                    for candidate in candidates {
                        let e164 = candidate.e164();
                        let number = PhoneNumber::parse(e164, None).map_err(|e| TestCaseError::fail(format!("{e164}: {e:?}")))?;
                        prop_assert_eq!(number.e164(), e164);
                    }
                }
                Ok(MemberSearch::Name(name)) => {
                    prop_assert!(!name.is_empty() && !name.chars().any(char::is_control));
                }
                Ok(MemberSearch::All) => {
                    prop_assert!(input.trim().is_empty());
                }
                Err(error) => {
                    prop_assert!(matches!(error, AppError::InvalidInput(_)));
                }
            }
        }
    }
}
