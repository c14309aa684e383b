//! Password hashing: argon2id for everything new; legacy bcrypt hashes are
//! verified and replaced by argon2id on the next successful login. CPU-heavy:
//! callers run these in `spawn_blocking`.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest and longest password accepted when setting one.
pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

/// Hashes a password with argon2id (the crate's defaults: m = 19 MiB, t = 2, p = 1).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// A hash of a random password, verified against when there is no account
/// (or no password), so an unknown email costs the same as a wrong password.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 24];
    let _ = getrandom::fill(&mut random);
    hash(&base64_url(&random)).unwrap_or_default()
});

/// Computes the dummy hash now, so the first login does not pay for it.
pub fn warm_up() {
    LazyLock::force(&DUMMY);
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password matches; `rehash` is the argon2id hash to store instead of a legacy one.
    Match {
        rehash: Option<String>,
    },
    Mismatch,
}

/// Checks `password` against a stored hash (argon2id PHC string or legacy
/// bcrypt). `None` (no account or no password) always mismatches, after the
/// same work as a real check.
pub fn verify(password: &str, stored: Option<&str>) -> Verified {
    check(password, stored, verify_argon2)
}

/// [`verify`] with its argon2 verification given. Every path costs at least
/// one argon2 run (19 MiB): an unknown account and a wrong password verify
/// against the dummy hash, a legacy bcrypt account pays bcrypt and then
/// argon2 (the dummy on a mismatch, the rehash on a match), so no kind of
/// account answers faster than an unknown one.
fn check(password: &str, stored: Option<&str>, argon2: impl Fn(&str, &str) -> bool) -> Verified {
    let Some(stored) = stored else {
        let _ = argon2(password, &DUMMY);
        return Verified::Mismatch;
    };
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::Match {
                rehash: hash(password).ok(),
            },
            _ => {
                let _ = argon2(password, &DUMMY);
                Verified::Mismatch
            }
        };
    }
    if argon2(password, stored) {
        Verified::Match { rehash: None }
    } else {
        Verified::Mismatch
    }
}

fn verify_argon2(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            tracing::warn!("stored password hash is in an unknown format");
            false
        }
    }
}

pub fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_reject_wrong_passwords() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_eq!(
            verify("correct horse", Some(&h)),
            Verified::Match { rehash: None }
        );
        assert_eq!(verify("wrong horse", Some(&h)), Verified::Mismatch);
    }

    #[test]
    fn legacy_bcrypt_hashes_verify_and_ask_for_an_argon2id_rehash() {
        let legacy = bcrypt::hash("old secret", 4).expect("bcrypt");
        match verify("old secret", Some(&legacy)) {
            Verified::Match { rehash: Some(new) } => {
                assert!(new.starts_with("$argon2id$"));
                assert_eq!(
                    verify("old secret", Some(&new)),
                    Verified::Match { rehash: None }
                );
            }
            other => panic!("expected a match with a rehash, got {other:?}"),
        }
        assert_eq!(verify("new secret", Some(&legacy)), Verified::Mismatch);
    }

    /// Argon2 verifications `check` runs for a password and stored hash.
    fn argon2_runs(password: &str, stored: Option<&str>) -> usize {
        let runs = std::cell::Cell::new(0);
        check(password, stored, |p, h| {
            runs.set(runs.get() + 1);
            verify_argon2(p, h)
        });
        runs.get()
    }

    #[test]
    fn a_wrong_password_on_a_bcrypt_account_costs_an_argon2_run_like_an_unknown_account() {
        let legacy = bcrypt::hash("old secret", 4).expect("bcrypt");
        let current = hash("current").expect("hash");
        assert_eq!(argon2_runs("guess", None), 1);
        assert_eq!(argon2_runs("guess", Some(&current)), 1);
        assert_eq!(argon2_runs("guess", Some(&legacy)), 1);
    }

    #[test]
    fn no_stored_hash_or_garbage_never_matches() {
        assert_eq!(verify("anything", None), Verified::Mismatch);
        assert_eq!(verify("anything", Some("plaintext")), Verified::Mismatch);
        assert_eq!(verify("", Some("")), Verified::Mismatch);
    }
}
