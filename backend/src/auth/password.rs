//! argon2id password hashes in PHC string format (the salt and parameters travel with the
//! hash, so stronger parameters later still verify old hashes). Hashing is deliberately slow:
//! callers on the async runtime run it on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::NewPassword;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &NewPassword) -> String {
    let salt = SaltString::encode_b64(&crate::ids::random_bytes(16))
        .unwrap_or_else(|_| unreachable!("16 bytes are a valid salt length"));
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| unreachable!("argon2 hashes any password under 4 GiB with valid parameters"))
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time a verification takes, so an unknown name answers as slowly as a known one.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash(&NewPassword("never a real password".into())));
    let _ = verify(phc, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let p = NewPassword::parse("correct horse battery").unwrap();
        let a = hash(&p);
        let b = hash(&p);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse battery!"));
        assert!(!verify("not a hash", "x"));
    }
}
