//! How fast the pollers may read CodePipeline, together: AWS throttles each account and
//! Region as a whole, so every poller whose calls land on the same account and Region takes
//! its turn from one budget (a steady rate with a small burst), whatever the number of
//! pipelines. Turns are handed out in the order they are asked for, so with more pipelines
//! than the rate allows each is read less often rather than some never. When AWS throttles
//! a read anyway, the whole budget pauses (jittered, longer each time it is throttled again
//! right after a pause) instead of each poller finding out on its own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls that may go at once after a quiet spell (one read is at most three calls).
const BURST: u32 = 6;

/// The first pause after AWS throttled a read, and the longest.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Budget {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the next call's turn comes if calls arrive faster than the rate: the budget's
    /// debt, as a moment (the "theoretical arrival time" of a rate limiter).
    next: Instant,
    /// Pauses in a row (reset by a read that goes through).
    pauses: u32,
    /// The end of the current pause: reads throttled before it were sent before it began.
    paused_until: Instant,
}

impl Default for Budget {
    fn default() -> Self {
        let now = Instant::now();
        Self { state: Mutex::new(State { next: now, pauses: 0, paused_until: now }) }
    }
}

impl Budget {
    /// Waits for the turn of `calls` calls at `per_second`.
    pub async fn take(&self, calls: u32, per_second: f64) {
        let wait = self.reserve(calls, per_second, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Books `calls` calls and says how long to wait before making them.
    fn reserve(&self, calls: u32, per_second: f64, now: Instant) -> Duration {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        let mut state = self.lock();
        let start = state.next.max(now);
        state.next = start + interval * calls;
        // The burst: up to BURST calls may be booked ahead of the steady rate.
        let allowed_from = state.next.checked_sub(interval * BURST).unwrap_or(now);
        allowed_from.saturating_duration_since(now)
    }

    /// AWS throttled a read: everyone waits a while.
    pub fn throttled(&self) {
        self.pause(Instant::now());
    }

    fn pause(&self, now: Instant) {
        let mut state = self.lock();
        if now < state.paused_until {
            // Fifty pollers throttled together are one reason to pause, not fifty.
            return;
        }
        let pause = crate::backoff::jittered(state.pauses, FIRST_PAUSE, MAX_PAUSE);
        state.pauses = state.pauses.saturating_add(1);
        state.paused_until = now + pause;
        state.next = state.next.max(state.paused_until);
    }

    /// A read went through.
    pub fn answered(&self) {
        self.lock().pauses = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_beyond_the_burst_wait_their_turn_at_the_rate() {
        let budget = Budget::default();
        let now = Instant::now();
        let waits: Vec<Duration> = (0..10).map(|_| budget.reserve(1, 2.0, now)).collect();
        // Six go at once, then one every half second.
        assert!(waits[..BURST as usize].iter().all(Duration::is_zero), "{waits:?}");
        for (i, wait) in waits[BURST as usize..].iter().enumerate() {
            assert_eq!(*wait, Duration::from_millis(500) * (i as u32 + 1), "{waits:?}");
        }
        // Three calls at once book three turns.
        assert_eq!(budget.reserve(3, 2.0, now), Duration::from_millis(500) * 7);
    }

    #[test]
    fn a_quiet_spell_refills_the_burst_but_does_not_bank_more() {
        let budget = Budget::default();
        let now = Instant::now();
        for _ in 0..BURST {
            budget.reserve(1, 10.0, now);
        }
        let later = now + Duration::from_secs(60);
        let waits: Vec<Duration> = (0..BURST + 1).map(|_| budget.reserve(1, 10.0, later)).collect();
        assert!(waits[..BURST as usize].iter().all(Duration::is_zero), "{waits:?}");
        assert_eq!(waits[BURST as usize], Duration::from_millis(100));
    }

    #[test]
    fn throttling_pauses_everyone_once_and_longer_each_time_in_a_row() {
        let budget = Budget::default();
        let now = Instant::now();
        budget.pause(now);
        budget.pause(now + Duration::from_millis(10));
        let first = budget.reserve(BURST, 1000.0, now);
        assert!(first >= FIRST_PAUSE / 2 && first <= FIRST_PAUSE, "one pause for both: {first:?}");
        let after = now + first;
        budget.pause(after);
        let second = budget.reserve(BURST, 1000.0, after);
        assert!(second >= FIRST_PAUSE, "the second pause in a row is longer: {second:?}");
        budget.answered();
        let later = after + Duration::from_secs(60);
        budget.pause(later);
        assert!(budget.reserve(BURST, 1000.0, later) <= FIRST_PAUSE, "a read went through: short again");
    }
}
