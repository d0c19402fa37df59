//! Waiting after a failure: doubling with each one, capped, and jittered so that replicas and
//! pollers failing together do not all retry at the same moment.

use std::time::Duration;

/// The wait after `failures` failures before this one: `first` doubled each time up to
/// `max`, then a random point of its upper half.
pub fn jittered(failures: u32, first: Duration, max: Duration) -> Duration {
    let full = first.saturating_mul(2u32.saturating_pow(failures.min(16))).min(max);
    let random = crate::ids::random_bytes(2);
    let fraction = f64::from(u16::from_le_bytes([random[0], random[1]])) / f64::from(u16::MAX);
    full.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn backoff_doubles_within_its_upper_half_and_stops_at_the_cap() {
        let first = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for failures in 0..10 {
            let full = (first * 2u32.pow(failures)).min(max);
            for _ in 0..50 {
                let wait = jittered(failures, first, max);
                assert!(wait >= full / 2 && wait <= full, "{failures}: {wait:?} of {full:?}");
            }
        }
        assert!(jittered(u32::MAX, first, max) <= max);
        let spread: HashSet<Duration> = (0..50).map(|_| jittered(3, first, max)).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }
}
