//! Random identifiers and secrets from the operating system's generator, and the one way a
//! secret a browser holds (a session or sign-in cookie) is kept in the store: its hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `bytes` random bytes, URL-safe base64: for session tokens and ids that go in URLs.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// `bytes` random bytes as lowercase hex: for names that must be plain identifiers.
pub fn random_hex(bytes: usize) -> String {
    random_bytes(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    // The OS generator failing means the machine cannot make secrets at all; nothing sensible
    // can continue (getrandom documents it as practically impossible on Linux).
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// An id that sorts in creation order: zero-padded milliseconds, a sequence number (records
/// of one process within one millisecond keep their order), then randomness (replicas).
pub fn ordered_id(at_ms: i64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 10_000_000_000;
    format!("{at_ms:015}-{seq:010}-{}", random_hex(4))
}

/// What the store keeps of a cookie's secret: its SHA-256, lowercase hex. A leaked table
/// then holds no cookie that would sign anyone in.
pub fn cookie_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
