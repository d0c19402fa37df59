//! Request throttling as AWS plays it: each operation of an account has its own token bucket,
//! refilled at a steady rate up to a burst, and a call that finds its bucket empty is answered
//! `ThrottlingException: Rate exceeded` (HTTP 400) without being carried out. Off until a test
//! or benchmark sets a rate; the calls answered and refused are counted per operation either
//! way, so a benchmark can set a client's calls against the limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

/// How many calls of each operation the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// The steady rate, per operation.
    pub per_second: f64,
    /// How many calls may come at once after a quiet spell.
    pub burst: u32,
}

/// Calls of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationCalls {
    /// Carried out.
    pub answered: u64,
    /// Refused with `ThrottlingException`.
    pub throttled: u64,
}

#[derive(Default)]
pub(crate) struct Throttle {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    limit: Option<RateLimit>,
    buckets: HashMap<String, Bucket>,
    calls: BTreeMap<String, OperationCalls>,
}

struct Bucket {
    tokens: f64,
    filled_at: Instant,
}

impl Throttle {
    pub fn set(&self, limit: Option<RateLimit>) {
        let mut state = self.lock();
        state.limit = limit;
        state.buckets.clear();
    }

    /// Whether a call of `operation` goes ahead now (taking a token); counts it either way.
    pub fn admit(&self, operation: &str) -> bool {
        let mut state = self.lock();
        let admitted = match state.limit {
            None => true,
            Some(limit) => {
                let now = Instant::now();
                let full = f64::from(limit.burst.max(1));
                let bucket = state
                    .buckets
                    .entry(operation.to_owned())
                    .or_insert(Bucket { tokens: full, filled_at: now });
                let refill = now.duration_since(bucket.filled_at).as_secs_f64() * limit.per_second;
                bucket.tokens = (bucket.tokens + refill).min(full);
                bucket.filled_at = now;
                let admitted = bucket.tokens >= 1.0;
                if admitted {
                    bucket.tokens -= 1.0;
                }
                admitted
            }
        };
        let calls = state.calls.entry(operation.to_owned()).or_default();
        if admitted {
            calls.answered += 1;
        } else {
            calls.throttled += 1;
        }
        admitted
    }

    pub fn calls(&self) -> BTreeMap<String, OperationCalls> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_per_operation_refuses_beyond_its_burst_and_refills() {
        let throttle = Throttle::default();
        assert!((0..100).all(|_| throttle.admit("GetPipelineState")), "no limit: everything goes");
        throttle.set(Some(RateLimit { per_second: 20.0, burst: 3 }));
        let burst: Vec<bool> = (0..5).map(|_| throttle.admit("GetPipelineState")).collect();
        assert_eq!(burst, [true, true, true, false, false]);
        assert!(throttle.admit("ListPipelineExecutions"), "another operation has its own bucket");
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert!(throttle.admit("GetPipelineState"), "refilled at 20 a second");
        let calls = throttle.calls();
        assert_eq!(calls["GetPipelineState"], OperationCalls { answered: 104, throttled: 2 });
        assert_eq!(calls["ListPipelineExecutions"].answered, 1);
    }
}
