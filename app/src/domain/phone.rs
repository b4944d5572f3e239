//! Mobile numbers, checked against libphonenumber's metadata (the `phonenumber` crate), never a regex.

use crate::domain::mask::mask_phone;
use crate::error::AppError;
use phonenumber::country::Id;
use phonenumber::{Mode, Type};

/// An ISO 3166-1 alpha-2 region that libphonenumber knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region(Id);

impl Region {
    pub fn parse(code: &str) -> Result<Region, AppError> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<Id>()
            .map(Region)
            .map_err(|_| AppError::invalid("invalid-region"))
    }

    pub fn code(&self) -> &str {
        self.0.as_ref()
    }

    /// The international calling code, e.g. 86 for CN.
    pub fn calling_code(&self) -> u16 {
        phonenumber::metadata::DATABASE
            .by_id(self.0.as_ref())
            .map(|meta| meta.country_code())
            .unwrap_or_default()
    }
}

/// libphonenumber's type of a valid number. The parser's type drops a leading zero that belongs
/// to the national number (Benin's and Côte d'Ivoire's 01…, Congo's 06…), so a number it calls
/// `Unknown` is asked of the region's own mobile pattern before it stays unknown.
fn number_type(parsed: &phonenumber::PhoneNumber) -> Type {
    match parsed.number_type(&phonenumber::metadata::DATABASE) {
        Type::Unknown
            if parsed
                .country()
                .id()
                .and_then(|id| phonenumber::metadata::DATABASE.by_id(id.as_ref()))
                .and_then(|meta| meta.descriptors().mobile())
                .is_some_and(|mobile| mobile.is_match(&parsed.national().to_string())) =>
        {
            Type::Mobile
        }
        other => other,
    }
}

/// A valid mobile number in E.164 form, with the region it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    national: String,
    region: Option<Region>,
}

const MAX_INPUT: usize = 32;

/// Whether digits typed without a prefix are a mobile number of another region in that region's
/// own national form: a US owner typing a mainland China number (`13912345678`) is told the
/// region rule, not that the number is invalid. Only asked once the digits are no number of
/// `region` and are too many to be one: a number still being typed, or a typo of the right
/// length, stays "not valid" even where some other region has mobile numbers of that length.
fn mobile_elsewhere(input: &str, region: Region) -> bool {
    let digits = input.trim();
    if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(own) = phonenumber::metadata::DATABASE.by_id(region.code()) else {
        return false;
    };
    let lengths = own
        .descriptors()
        .mobile()
        .map(|mobile| mobile.possible_length())
        .filter(|lengths| !lengths.is_empty())
        .unwrap_or_else(|| own.descriptors().general().possible_length());
    if lengths.iter().any(|&n| digits.len() <= usize::from(n)) {
        return false;
    }
    phonenumber::metadata::DATABASE
        .iter()
        .filter(|meta| meta.id() != region.code())
        .filter_map(|meta| Region::parse(meta.id()).ok())
        .any(|other| {
            PhoneNumber::parse(digits, Some(other))
                .is_ok_and(|number| number.region != Some(region))
        })
}

impl PhoneNumber {
    /// Parses E.164 (`+12025550143`), the cloud API's `<country code>-<number>` (`1-2025550143`),
    /// or, when `default_region` is given, a national number typed without its prefix.
    pub fn parse(input: &str, default_region: Option<Region>) -> Result<PhoneNumber, AppError> {
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_INPUT {
            return Err(AppError::InvalidPhone);
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
        {
            return Err(AppError::InvalidPhone);
        }
        let normalized = match input.split_once('-') {
            // `86-13800138000`: the cloud's form, a calling code then the national number.
            Some((cc, rest))
                if !input.starts_with('+')
                    && (1..=3).contains(&cc.len())
                    && cc.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("+{cc}{}", rest.replace(['-', ' '], ""))
            }
            _ => input.to_string(),
        };
        let parsed = phonenumber::parse(default_region.map(|r| r.0), &normalized)
            .map_err(|_| AppError::InvalidPhone)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(AppError::InvalidPhone);
        }
        match number_type(&parsed) {
            Type::Mobile | Type::FixedLineOrMobile => {}
            // Numbers an SMS must never go to (the SMS-pumping guard): said as such, not as a typo.
            Type::PremiumRate | Type::SharedCost | Type::TollFree | Type::Unknown => {
                return Err(AppError::SmsNumberType);
            }
            _ => return Err(AppError::InvalidPhone),
        }
        let e164 = parsed.format().mode(Mode::E164).to_string();
        let country_code = parsed.code().value();
        let national = e164
            .trim_start_matches('+')
            .strip_prefix(&country_code.to_string())
            .unwrap_or_default()
            .to_string();
        Ok(PhoneNumber {
            e164,
            country_code,
            national,
            region: parsed.country().id().map(Region),
        })
    }

    /// Parses a number that must be a mobile number of `region` (SPEC 4 step 2). A number that
    /// is clearly another region's (international form) is a region mismatch, not a typo.
    pub fn parse_in_region(input: &str, region: Region) -> Result<PhoneNumber, AppError> {
        let international = input.trim_start().starts_with('+') || input.contains('-');
        let attempt = if international {
            PhoneNumber::parse(input, None)
        } else {
            // National digits are the region's national number; read them with its calling code
            // when the parser takes a leading digit for a country code (Kazakhstan's 7…).
            PhoneNumber::parse(input, Some(region)).or_else(|error| {
                PhoneNumber::parse(&format!("+{}{}", region.calling_code(), input.trim()), None)
                    .ok()
                    .filter(|number| number.is_mobile_of(region))
                    .ok_or(error)
            })
        };
        match attempt {
            Ok(number) if number.region == Some(region) => Ok(number),
            // A calling code shared by several regions (+358 FI and AX, +44 GB and IM …): the parser
            // names one region per number, but the number is as much a mobile number of the others
            // whose own metadata says so.
            Ok(number) if number.is_mobile_of(region) => Ok(PhoneNumber {
                region: Some(region),
                ..number
            }),
            Ok(_) => Err(AppError::PhoneRegionMismatch),
            Err(error) if !international => {
                // Digits that only make sense with a country code in front: another region's number.
                match PhoneNumber::parse(&format!("+{}", input.trim()), None) {
                    Ok(number) if number.region != Some(region) => {
                        Err(AppError::PhoneRegionMismatch)
                    }
                    _ if error == AppError::InvalidPhone && mobile_elsewhere(input, region) => {
                        Err(AppError::PhoneRegionMismatch)
                    }
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Whether `region`'s own metadata lists this number as one of its mobile numbers.
    fn is_mobile_of(&self, region: Region) -> bool {
        phonenumber::metadata::DATABASE
            .by_id(region.code())
            .is_some_and(|meta| {
                meta.country_code() == self.country_code
                    && meta.descriptors().general().is_match(&self.national)
                    && meta
                        .descriptors()
                        .mobile()
                        .is_some_and(|mobile| mobile.is_match(&self.national))
            })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The regions this number is a mobile number of: the one libphonenumber names, then those
    /// sharing its calling code whose own metadata lists it (+358 FI and AX, +44 GB and IM …).
    pub fn regions(&self) -> Vec<Region> {
        let mut regions: Vec<Region> = self.region.into_iter().collect();
        let sharing = phonenumber::metadata::DATABASE
            .by_code(&self.country_code)
            .unwrap_or_default();
        for meta in sharing {
            if let Ok(region) = Region::parse(meta.id())
                && !regions.contains(&region)
                && self.is_mobile_of(region)
            {
                regions.push(region);
            }
        }
        regions
    }

    /// The number less its last 4 digits, in E.164 (`+1202555` for +12025550143): the block a
    /// carrier hands out together, whose sends the SMS-pumping guard counts as one.
    pub fn prefix(&self) -> &str {
        &self.e164[..self.e164.len().saturating_sub(4).max(1)]
    }

    pub fn region(&self) -> Option<Region> {
        self.region
    }

    pub fn masked(&self) -> String {
        mask_phone(self.country_code, &self.national)
    }
}

/// Masks a stored E.164 number for display; a value that is not `+` and digits shows as stars.
/// Stored numbers were validated when bound, so no libphonenumber parse (regular expressions) is
/// needed here: calling codes are prefix-free, and the first 1–3 digits that name one are it.
pub fn mask_e164(e164: &str) -> String {
    let digits = e164
        .strip_prefix('+')
        .filter(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .filter(|d| !d.starts_with('0'));
    digits
        .and_then(|digits| {
            (1..=3.min(digits.len() - 1)).find_map(|len| {
                let code: u16 = digits[..len].parse().ok()?;
                phonenumber::metadata::DATABASE
                    .by_code(&code)
                    .filter(|regions| !regions.is_empty())
                    .map(|_| mask_phone(code, &digits[len..]))
            })
        })
        .unwrap_or_else(|| "****".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Region {
        Region::parse("CN").unwrap()
    }
    fn us() -> Region {
        Region::parse("US").unwrap()
    }

    #[test]
    fn e164_and_cloud_forms_parse_to_the_same_number() {
        let a = PhoneNumber::parse("+12025550143", None).unwrap();
        let b = PhoneNumber::parse("1-2025550143", None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.e164(), "+12025550143");
        assert_eq!(a.region(), Some(us()));
    }

    #[test]
    fn national_input_takes_the_registration_region() {
        let n = PhoneNumber::parse_in_region("13800138000", cn()).unwrap();
        assert_eq!(n.e164(), "+8613800138000");
        assert_eq!(n.masked(), "+86 138****8000");
    }

    #[test]
    fn a_number_of_another_region_is_a_region_mismatch() {
        assert_eq!(
            PhoneNumber::parse_in_region("+8613800138000", us()),
            Err(AppError::PhoneRegionMismatch)
        );
        assert_eq!(
            PhoneNumber::parse_in_region("+12025550143", cn()),
            Err(AppError::PhoneRegionMismatch)
        );
        assert_eq!(
            PhoneNumber::parse_in_region("86-13800138000", us()),
            Err(AppError::PhoneRegionMismatch)
        );
        assert_eq!(
            PhoneNumber::parse_in_region("8613800138000", us()),
            Err(AppError::PhoneRegionMismatch)
        );
        // Another region's number in its own national form (issue 14, item 5).
        assert_eq!(
            PhoneNumber::parse_in_region("13912345678", us()),
            Err(AppError::PhoneRegionMismatch)
        );
        // Digits that are no region's mobile number stay a typo.
        for typo in ["12345", "2125550", "9995550123", "000000000000000"] {
            assert_eq!(
                PhoneNumber::parse_in_region(typo, us()),
                Err(AppError::InvalidPhone),
                "{typo}"
            );
        }
        assert_eq!(
            PhoneNumber::parse_in_region("+12025550143", us())
                .unwrap()
                .e164(),
            "+12025550143"
        );
    }

    #[test]
    fn fixed_lines_and_junk_are_not_mobile_numbers() {
        // Beijing landline.
        assert_eq!(
            PhoneNumber::parse("+861012345678", None),
            Err(AppError::InvalidPhone)
        );
        for junk in [
            "",
            "abc",
            "+",
            "+86",
            "12",
            "+86138001380001234567890",
            "+86 138 0013 8000; drop",
        ] {
            assert_eq!(
                PhoneNumber::parse(junk, None),
                Err(AppError::InvalidPhone),
                "{junk}"
            );
        }
    }

    #[test]
    fn premium_shared_cost_and_toll_free_numbers_are_refused_by_name() {
        // libphonenumber's own example numbers of each type (US 900, GB 09…, GB 0845…, US 800).
        for (e164, kind) in [
            ("+19002345678", "premium-rate"),
            ("+449012345678", "premium-rate"),
            ("+448431234567", "shared-cost"),
            ("+18002345678", "toll-free"),
            ("+448001234567", "toll-free"),
        ] {
            assert_eq!(
                PhoneNumber::parse(e164, None),
                Err(AppError::SmsNumberType),
                "{e164} ({kind})"
            );
        }
        // Typed nationally in the registration region, the same.
        assert_eq!(
            PhoneNumber::parse_in_region("9002345678", us()),
            Err(AppError::SmsNumberType)
        );
        assert_eq!(
            PhoneNumber::parse_in_region("+19002345678", us()),
            Err(AppError::SmsNumberType)
        );
    }

    #[test]
    fn the_demo_and_fixture_numbers_are_mobile_numbers() {
        for e164 in [
            "+8613800138000",
            "+12025550143",
            "+8613700137000",
            "+8613900139000",
            "+8613500135000",
            "+8613512345678",
            "+8613100131000",
            "+12025550147",
        ] {
            assert!(PhoneNumber::parse(e164, None).is_ok(), "{e164}");
        }
    }

    #[test]
    fn a_prefix_is_the_number_less_its_last_four_digits() {
        let n = PhoneNumber::parse("+8613100131022", None).unwrap();
        assert_eq!(n.prefix(), "+861310013");
        let n = PhoneNumber::parse("+12025550143", None).unwrap();
        assert_eq!(n.prefix(), "+1202555");
    }

    #[test]
    fn a_number_belongs_to_every_region_that_lists_it() {
        let cn = PhoneNumber::parse("+8613800138000", None).unwrap();
        assert_eq!(cn.regions(), vec![Region::parse("CN").unwrap()]);
        // Åland's mobile numbers are Finland's too (+358).
        let fi = PhoneNumber::parse("+358457123456", None).unwrap();
        let regions = fi.regions();
        assert_eq!(regions[0], fi.region().unwrap());
        for code in ["FI", "AX"] {
            assert!(
                regions.contains(&Region::parse(code).unwrap()),
                "{regions:?}"
            );
        }
    }

    #[test]
    fn masking_a_stored_number_matches_masking_the_parsed_one() {
        for e164 in [
            "+8613800138000",
            "+12025550143",
            "+447911123456",
            "+393123456789",
            "+77012345678",
            "+358457123456",
            "+4915112345678",
            "+2250701234567",
            "+85291234567",
            "+6281234567890",
        ] {
            let parsed = PhoneNumber::parse(e164, None).unwrap();
            assert_eq!(mask_e164(e164), parsed.masked(), "{e164}");
        }
        for bad in [
            "",
            "+",
            "8613800138000",
            "+86 138",
            "+0123456",
            "+9991234567",
        ] {
            assert_eq!(mask_e164(bad), "****", "{bad:?}");
        }
    }

    #[test]
    fn masks_follow_the_contract() {
        assert_eq!(mask_e164("+12025550143"), "+1 202***0143");
        assert_eq!(mask_e164("+8613800138000"), "+86 138****8000");
    }

    #[test]
    fn calling_codes_come_from_metadata() {
        assert_eq!(cn().calling_code(), 86);
        assert_eq!(us().calling_code(), 1);
    }
}
