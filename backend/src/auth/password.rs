//! argon2id password hashes in PHC string format (the salt and parameters travel with the
//! hash, so stronger parameters later still verify old hashes). Hashing is deliberately slow:
//! callers on the async runtime run it on the blocking pool, and sign-in checks pass a
//! [`Gate`] first, so strangers cannot start more of them at once than the machine has cores.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash(&NewPassword("never a real password".into())));
    let _ = verify(phc, password);
}

/// How long a sign-in waits for a turn to check its password before it is told to try again.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// Bounds how many password checks run at once: each holds 19 MiB and a core for tens of
/// milliseconds, so a flood of anonymous sign-ins queues here instead of filling memory.
#[derive(Debug)]
pub struct Gate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Gate {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits.max(1))), wait }
    }

    /// The process's gate: one check per core the process may use.
    pub fn machine() -> &'static Gate {
        static MACHINE: OnceLock<Gate> = OnceLock::new();
        MACHINE.get_or_init(|| {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            Gate::new(cores, BUSY_WAIT)
        })
    }

    /// A turn to check one password, or `None` when none came free within the wait (requests
    /// are served in the order they arrived).
    pub async fn enter(&self) -> Option<Turn> {
        let acquire = Arc::clone(&self.permits).acquire_owned();
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => Some(Turn { _permit: permit }),
            // The semaphore is never closed; a timeout is the only way here in practice.
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

/// A turn through the [`Gate`], held until the check it allows has finished.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

impl Turn {
    /// Checks `given` against `phc` on the blocking pool (with no hash, spends the same time
    /// and says no). The turn goes with the work, so it is held until the check ends even if
    /// the request that asked is gone.
    pub async fn verify(self, phc: Option<String>, given: String) -> bool {
        tokio::task::spawn_blocking(move || {
            let _turn = self;
            match phc {
                Some(phc) => verify(&phc, &given),
                None => {
                    verify_nothing(&given);
                    false
                }
            }
        })
        .await
        .unwrap_or(false)
    }
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

    /// The gate lets through as many checks as it has permits; the next is turned away until
    /// one finishes.
    #[tokio::test]
    async fn the_gate_admits_as_many_as_it_has_permits() {
        let gate = Gate::new(2, Duration::ZERO);
        let first = gate.enter().await.expect("a first turn");
        let _second = gate.enter().await.expect("a second turn");
        assert!(gate.enter().await.is_none(), "no third while two are checking");
        assert!(!first.verify(None, "anything".into()).await);
        assert!(gate.enter().await.is_some(), "a finished check frees its turn");
    }
}
