//! Random tokens, password hashes and keyed MACs: the only place secrets are made or compared.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A 128-bit random token, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Six digits from the operating system's CSPRNG, uniform over 000000..=999999.
pub fn random_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same time as a real check when there is no account, so timing tells nothing.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("no-such-account-placeholder"));
    let _ = verify_password(password, hash);
}

/// HMAC-SHA256 over the parts, each length-prefixed so no two part lists collide.
pub fn mac_hex(key: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = random_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn tokens_are_128_bits_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_token());
    }

    #[test]
    fn password_hash_round_trips_and_rejects_others() {
        let hash = hash_password("Demo-pass-123");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("Demo-pass-123", &hash));
        assert!(!verify_password("demo-pass-123", &hash));
    }

    #[test]
    fn mac_binds_every_part() {
        let key = b"key";
        let base = mac_hex(key, &["change_phone", "1", "+8613800138000", "s", "123456"]);
        assert_ne!(
            base,
            mac_hex(
                key,
                &["reset_password", "1", "+8613800138000", "s", "123456"]
            )
        );
        assert_ne!(
            base,
            mac_hex(key, &["change_phone", "1", "+8613800138000", "t", "123456"])
        );
        assert_ne!(mac_hex(key, &["ab", "c"]), mac_hex(key, &["a", "bc"]));
        assert!(constant_time_eq(
            &base,
            &mac_hex(key, &["change_phone", "1", "+8613800138000", "s", "123456"])
        ));
    }
}
