//! Passwords and tokens: the password policy, argon2id hashing, and the opaque random tokens of
//! a session (only their SHA-256 is stored, so a database leak reveals no usable token).
//!
//! Must not: log or store a password or a token in clear, or decide who may do what (the API's
//! role checks do).

use crate::storage::TokenHashes;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use smartstock_core::Timestamp;

/// Why a password does not meet the policy (≥ 8 characters with upper case, lower case and a
/// digit; at most 128).
pub fn check_password_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    let mut missing = Vec::new();
    if chars < 8 {
        missing.push("at least 8 characters");
    }
    if !password.chars().any(char::is_uppercase) {
        missing.push("an upper-case letter");
    }
    if !password.chars().any(char::is_lowercase) {
        missing.push("a lower-case letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if chars > 128 {
        return Err("the password must be at most 128 characters".into());
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(format!("the password needs {}", missing.join(", "))),
    }
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash (constant-time inside argon2).
pub fn verify_password(stored_hash: &str, password: &str) -> bool {
    PasswordHash::new(stored_hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A password that meets the policy, for the bootstrap admin (shown once).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    loop {
        let candidate: String = (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
        if check_password_policy(&candidate).is_ok() {
            return candidate;
        }
    }
}

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh access and refresh token (clear, for the client) and their hashes (for storage).
#[derive(Debug)]
pub struct NewTokens {
    /// The short-lived bearer token.
    pub access_token: String,
    /// The long-lived token that buys new ones (the desktop keeps it in the OS keyring).
    pub refresh_token: String,
    /// What storage keeps.
    pub hashes: TokenHashes,
}

/// Makes a token pair valid from `now`.
pub fn new_tokens(now: Timestamp, access_ttl_ms: i64, refresh_ttl_ms: i64) -> NewTokens {
    let access_token = random_token();
    let refresh_token = random_token();
    let hashes = TokenHashes {
        access_hash: token_hash(&access_token),
        access_expires_at: now.plus_millis(access_ttl_ms),
        refresh_hash: token_hash(&refresh_token),
        refresh_expires_at: now.plus_millis(refresh_ttl_ms),
    };
    NewTokens { access_token, refresh_token, hashes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_what_is_missing() {
        assert!(check_password_policy("Secret123").is_ok());
        let err = check_password_policy("secret").unwrap_err();
        assert!(err.contains("8 characters") && err.contains("upper-case") && err.contains("digit"), "{err}");
        assert!(check_password_policy(&format!("Aa1{}", "x".repeat(200))).is_err());
    }

    #[test]
    fn hashes_verify_and_generated_passwords_pass_the_policy() {
        let hash = hash_password("Secret123").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "Secret123"));
        assert!(!verify_password(&hash, "Secret124"));
        assert!(!verify_password("not a hash", "Secret123"));
        assert!(check_password_policy(&generate_password()).is_ok());
    }

    #[test]
    fn tokens_are_random_and_only_hashes_are_kept() {
        let a = new_tokens(Timestamp(0), 1, 2);
        let b = new_tokens(Timestamp(0), 1, 2);
        assert_ne!(a.access_token, b.access_token);
        assert_eq!(a.hashes.access_hash, token_hash(&a.access_token));
        assert_ne!(a.hashes.access_hash, a.hashes.refresh_hash);
    }
}
