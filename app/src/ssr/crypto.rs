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

/// The prefix of a value sealed by `seal`; a stored value without it is legacy plain text.
const SEALED_V1: &str = "v1:";

/// Seals `plain` with XChaCha20-Poly1305 under `key`, bound to `context` (e.g. `totp:<account>`),
/// so a sealed value copied to another row or purpose does not open. `v1:` + hex(nonce ‖ ciphertext).
pub fn seal(key: &[u8; 32], context: &str, plain: &str) -> String {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: context.as_bytes(),
            },
        )
        .expect("XChaCha20-Poly1305 seals any message of this size");
    format!("{SEALED_V1}{}{}", hex::encode(nonce), hex::encode(sealed))
}

/// Opens a value stored by `seal`; a value without the version prefix is read as it is (stored
/// before sealing existed). `None` when it was sealed under another key or context, or altered.
pub fn open(key: &[u8; 32], context: &str, stored: &str) -> Option<String> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let Some(body) = stored.strip_prefix(SEALED_V1) else {
        return Some(stored.to_string());
    };
    let bytes = hex::decode(body).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(24);
    let plain = XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: context.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
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
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = [7u8; 32];
        let sealed = seal(&key, "totp:1", "JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(
            sealed,
            seal(&key, "totp:1", "JBSWY3DPEHPK3PXP"),
            "a fresh nonce each time"
        );
        assert_eq!(
            open(&key, "totp:1", &sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(open(&key, "totp:2", &sealed), None);
        assert_eq!(open(&[8u8; 32], "totp:1", &sealed), None);
        let mut altered = sealed.clone();
        altered.replace_range(sealed.len() - 2.., "00");
        assert_eq!(open(&key, "totp:1", &altered), None);
    }

    #[test]
    fn a_legacy_plain_value_is_read_as_it_is() {
        assert_eq!(
            open(&[7u8; 32], "totp:1", "JBSWY3DPEHPK3PXP").as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
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
