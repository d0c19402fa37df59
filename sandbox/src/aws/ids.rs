//! Identifiers and times as AWS writes them: lowercase UUIDs, epoch-second timestamps, ARNs in
//! the sandbox's one account.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

/// The account every sandbox resource belongs to (the documentation's example account).
pub const ACCOUNT: &str = "123456789012";

/// The region used when a request does not say (an unsigned request).
pub const DEFAULT_REGION: &str = "us-east-1";

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source does not fail on a working Linux; zeros would only make ids collide.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID, lowercase, as AWS's execution ids and approval tokens look.
pub fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A timestamp as the JSON protocols send it: seconds since the epoch, with milliseconds.
pub fn epoch(time: SystemTime) -> f64 {
    let millis = time.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    millis as f64 / 1000.0
}

/// Whether `text` is a UUID in the lowercase form [`uuid`] writes.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
}
