//! One app on the simulated clock: its state as the gateway would hold it,
//! the time it spends asleep and awake, and what happened to it.
//!
//! It follows the gateway's request and tick paths (`proxy`, `apps::lifecycle`,
//! `gateway::ticker`), with a stop taking no time and a wake taking the
//! configured wake time.

use crate::policy::model::{AppState, AppView, Params, Timestamp};
use std::time::Duration;

/// What happened to one app during a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Requests replayed, whatever the policy decided.
    pub requests: u64,
    /// Requests the policy forwarded as activity.
    pub forwarded: u64,
    /// Requests forwarded passively to an awake app (not counted as activity).
    pub passive: u64,
    /// Passive requests that met a sleeping or starting app: the gateway
    /// answers them 503 without waking it.
    pub passive_unserved: u64,
    /// Requests the policy refused.
    pub refused: u64,
    /// Requests the policy answered itself, without the app: an answer, or a
    /// passive request's answer while the app was not awake.
    pub answered: u64,
    /// Forwarded requests that met the app asleep or starting.
    pub cold_starts: u64,
    /// Times the policy put the app to sleep.
    pub sleeps: u64,
    /// Times the app was woken, by a request or by the policy.
    pub wakes: u64,
    /// Of those, wakes the policy asked for on a tick (prewarming).
    pub policy_wakes: u64,
}

/// Who served a passive request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    ByApp,
    /// The policy's answer, without the app.
    Answered,
    /// A 503: the app was not awake and the policy gave no answer.
    Unserved,
}

#[derive(Debug, Clone)]
pub struct SimApp {
    pub name: String,
    pub params: Params,
    state: AppState,
    state_since: Timestamp,
    /// When a starting app becomes awake.
    ready_at: Option<Timestamp>,
    last_activity: Option<Timestamp>,
    /// Time is added to asleep or awake up to here.
    accounted_to: Timestamp,
    asleep_ms: u64,
    awake_ms: u64,
    pub counts: Counts,
}

impl SimApp {
    /// `awake` false: the app starts asleep.
    pub fn new(name: String, params: Params, awake: bool, at: Timestamp) -> SimApp {
        SimApp {
            name,
            params,
            state: if awake { AppState::Awake } else { AppState::Asleep },
            state_since: at,
            ready_at: None,
            last_activity: None,
            accounted_to: at,
            asleep_ms: 0,
            awake_ms: 0,
            counts: Counts::default(),
        }
    }

    pub fn view(&self) -> AppView {
        AppView {
            name: self.name.clone(),
            state: self.state,
            state_since: self.state_since,
            last_activity: self.last_activity,
            in_flight: 0,
            params: self.params.clone(),
        }
    }

    /// A request the policy forwards as activity: it touches the app and
    /// wakes it if asleep. Returns whether it met a cold start.
    pub fn forward(&mut self, at: Timestamp, wake: Duration) -> bool {
        self.counts.forwarded += 1;
        self.last_activity = Some(at);
        let cold = match self.state {
            AppState::Asleep | AppState::Stopping => {
                self.begin_wake(at, wake);
                true
            }
            AppState::Starting => true,
            AppState::Awake => false,
        };
        if cold {
            self.counts.cold_starts += 1;
        }
        cold
    }

    /// A passive request: served only by an awake app, never waking it;
    /// otherwise answered by the policy (`answer`) or with a 503.
    pub fn passive(&mut self, answer: bool) -> Served {
        if self.state == AppState::Awake {
            self.counts.passive += 1;
            Served::ByApp
        } else if answer {
            self.counts.answered += 1;
            Served::Answered
        } else {
            self.counts.passive_unserved += 1;
            Served::Unserved
        }
    }

    /// A wake asked by the policy on a tick; only an asleep app wakes.
    pub fn policy_wake(&mut self, at: Timestamp, wake: Duration) {
        if matches!(self.state, AppState::Asleep | AppState::Stopping) {
            self.counts.policy_wakes += 1;
            self.begin_wake(at, wake);
        }
    }

    /// A sleep asked by the policy on a tick; only an awake app sleeps (the
    /// gateway does not stop an app in the middle of its wake).
    pub fn sleep(&mut self, at: Timestamp) {
        if self.state == AppState::Awake {
            self.counts.sleeps += 1;
            self.enter(AppState::Asleep, at);
        }
    }

    /// Finishes a wake that is due by `now`, at the time it was due.
    pub fn settle(&mut self, now: Timestamp) {
        if let Some(ready) = self.ready_at.filter(|ready| *ready <= now) {
            self.ready_at = None;
            self.enter(AppState::Awake, ready);
        }
    }

    /// Time asleep and awake up to `end`, a starting app counting as awake
    /// as in the gateway (the platform bills a booting container).
    pub fn close(&mut self, end: Timestamp) -> (Duration, Duration) {
        self.account(end);
        (Duration::from_millis(self.asleep_ms), Duration::from_millis(self.awake_ms))
    }

    fn begin_wake(&mut self, at: Timestamp, wake: Duration) {
        self.counts.wakes += 1;
        if wake.is_zero() {
            self.enter(AppState::Awake, at);
        } else {
            self.enter(AppState::Starting, at);
            self.ready_at = Some(at.saturating_add(u64::try_from(wake.as_millis()).unwrap_or(u64::MAX)));
        }
    }

    fn enter(&mut self, state: AppState, at: Timestamp) {
        self.account(at);
        self.state = state;
        self.state_since = at;
    }

    fn account(&mut self, to: Timestamp) {
        let spent = to.saturating_sub(self.accounted_to);
        match self.state {
            AppState::Asleep => self.asleep_ms += spent,
            _ => self.awake_ms += spent,
        }
        self.accounted_to = self.accounted_to.max(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAKE: Duration = Duration::from_secs(5);

    fn app(awake: bool) -> SimApp {
        SimApp::new("web".into(), Params::new(), awake, 0)
    }

    #[test]
    fn a_request_wakes_an_asleep_app_and_requests_during_the_wake_are_cold_too() {
        let mut app = app(false);
        assert!(app.forward(10_000, WAKE));
        assert_eq!(app.view().state, AppState::Starting);
        assert!(app.forward(14_999, WAKE));
        app.settle(15_000);
        assert_eq!((app.view().state, app.view().state_since), (AppState::Awake, 15_000));
        assert!(!app.forward(15_000, WAKE));
        assert_eq!((app.counts.cold_starts, app.counts.wakes), (2, 1));
        // 10 s asleep, then 5 s starting and 5 s awake, both billed.
        assert_eq!(app.close(20_000), (Duration::from_secs(10), Duration::from_secs(10)));
    }

    #[test]
    fn sleeps_count_only_from_awake_and_time_adds_up() {
        let mut app = app(true);
        app.sleep(60_000);
        app.sleep(61_000);
        assert_eq!(app.counts.sleeps, 1);
        assert_eq!(app.passive(false), Served::Unserved);
        assert_eq!(app.counts.passive_unserved, 1);
        assert_eq!(app.passive(true), Served::Answered);
        assert_eq!(app.counts.answered, 1);
        app.policy_wake(120_000, Duration::ZERO);
        assert_eq!((app.counts.wakes, app.counts.policy_wakes, app.counts.cold_starts), (1, 1, 0));
        assert_eq!(app.close(180_000), (Duration::from_secs(60), Duration::from_secs(120)));
    }
}
