//! The cool-down after a failed wake. Every transition of an app's wake
//! failures is here, so that "may this app be woken now?" has one answer:
//! - a failed wake starts a cool-down of `initial`, doubled by each failure
//!   in a row, up to `max`;
//! - during it no wake starts (a request, a tick, a linked app or a waiting
//!   page alike), and requests are told the last reason and the time left;
//! - a successful wake, an adopted app or an admin wake ends the streak.
//!
//! Without it, every request to an app whose command fails started a new
//! attempt: one anonymous client could spawn hundreds of processes a second
//! and flush the event history with `wake_failed` events.

use crate::policy::model::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// How long the cool-down lasts after 1, 2, 3… failures in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(300) }
    }
}

impl Backoff {
    /// `initial` doubled for each failure after the first, capped at `max`.
    pub fn after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.checked_mul(1 << doublings).map_or(self.max, |d| d.min(self.max))
    }
}

/// One app's failed wakes: the last one and the streak it ends.
#[derive(Debug, Default)]
pub(super) struct WakeFailures {
    /// The attempt that failed last, and why; kept until a wake succeeds, so
    /// the requests waiting on that attempt learn its fate.
    last: Option<(u64, Arc<str>)>,
    /// Failed wakes in a row.
    streak: u32,
    /// No wake starts before this, and the wait that set it. Times are the
    /// wall clock in ms (the machine's clock, passed in); the time left is
    /// capped by the wait, so a clock stepped back cannot stretch it.
    retry_at: Option<(Timestamp, Duration)>,
}

/// Why an app may not be woken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoolingDown {
    pub reason: Arc<str>,
    /// Until the next wake may start.
    pub left: Duration,
    pub failures: u32,
}

impl WakeFailures {
    /// Wake `attempt` failed at `now`: the streak grows and a cool-down
    /// starts. Returns its length.
    pub(super) fn failed(&mut self, attempt: u64, reason: Arc<str>, now: Timestamp, backoff: &Backoff) -> Duration {
        self.streak = self.streak.saturating_add(1);
        let wait = backoff.after(self.streak);
        self.last = Some((attempt, reason));
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.retry_at = Some((now.saturating_add(wait_ms), wait));
        wait
    }

    /// A wake succeeded (or the app was found running): the streak is over.
    pub(super) fn succeeded(&mut self) {
        *self = WakeFailures::default();
    }

    /// An operator asked for a wake: the cool-down ends now, and the next
    /// failure starts again from the initial backoff. The last reason stays
    /// for the requests still waiting on that attempt.
    pub(super) fn forgive(&mut self) {
        self.streak = 0;
        self.retry_at = None;
    }

    /// The cool-down in force at `now`, if any.
    pub(super) fn cooling_down(&self, now: Timestamp) -> Option<CoolingDown> {
        let (_, reason) = self.last.as_ref()?;
        let left = Some(self.left(now)).filter(|left| !left.is_zero())?;
        Some(CoolingDown { reason: reason.clone(), left, failures: self.streak })
    }

    /// Why `attempt` failed, if it did.
    pub(super) fn of_attempt(&self, attempt: u64) -> Option<&Arc<str>> {
        self.last.as_ref().filter(|(failed, _)| *failed == attempt).map(|(_, reason)| reason)
    }

    /// The time left at `now`, for a waiter whose attempt just failed.
    pub(super) fn left(&self, now: Timestamp) -> Duration {
        self.retry_at.map_or(Duration::ZERO, |(at, wait)| Duration::from_millis(at.saturating_sub(now)).min(wait))
    }
}

/// `Retry-After` for a wait of `left`: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(left: Duration) -> u32 {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let backoff = Backoff::default();
        let waits: Vec<u64> = (1..=11).map(|n| backoff.after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff.after(u32::MAX), backoff.max, "no overflow");
        let odd = Backoff { initial: Duration::from_millis(300), max: SEC };
        assert_eq!(odd.after(2), Duration::from_millis(600));
        assert_eq!(odd.after(3), SEC);
    }

    #[test]
    fn a_failure_cools_down_and_a_success_forgets() {
        let backoff = Backoff::default();
        let t0: Timestamp = 1_700_000_000_000;
        let mut failures = WakeFailures::default();
        assert_eq!(failures.cooling_down(t0), None);
        assert_eq!(failures.failed(1, "boom".into(), t0, &backoff), SEC);
        let cooling = failures.cooling_down(t0 + 250).unwrap();
        assert_eq!((cooling.left, cooling.failures, &*cooling.reason), (SEC * 3 / 4, 1, "boom"));
        assert_eq!(failures.cooling_down(t0 + 1000), None, "over once the time is up");
        assert_eq!(failures.cooling_down(t0 - 3_600_000).unwrap().left, SEC, "a clock stepped back stretches nothing");
        assert_eq!(failures.of_attempt(1).map(|r| &**r), Some("boom"));
        assert_eq!(failures.of_attempt(2), None);

        let t1 = t0 + 1000;
        assert_eq!(failures.failed(2, "again".into(), t1, &backoff), 2 * SEC, "doubled");
        assert_eq!(failures.cooling_down(t1 + 1000).unwrap().failures, 2);
        failures.succeeded();
        assert_eq!(failures.cooling_down(t1 + 1000), None);
        assert_eq!(failures.of_attempt(2), None);
        assert_eq!(failures.failed(3, "x".into(), t1, &backoff), SEC, "a new streak starts small");
    }

    #[test]
    fn an_operator_wake_ends_the_cool_down_but_waiters_keep_their_reason() {
        let backoff = Backoff::default();
        let t0: Timestamp = 1_700_000_000_000;
        let mut failures = WakeFailures::default();
        for attempt in 1..=5 {
            failures.failed(attempt, "boom".into(), t0, &backoff);
        }
        assert_eq!(failures.cooling_down(t0).unwrap().left, 16 * SEC);
        failures.forgive();
        assert_eq!(failures.cooling_down(t0), None);
        assert!(failures.of_attempt(5).is_some());
        assert_eq!(failures.failed(6, "boom".into(), t0, &backoff), SEC);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(SEC), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(300 * SEC), 300);
    }
}
