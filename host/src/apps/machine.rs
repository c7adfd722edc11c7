//! One app's lifecycle as pure rules: its state and since when, the time it
//! spent asleep and awake, its requests in flight and waiting, the wake
//! attempts and their failures (with the cool-down they impose).
//!
//! No tokio, no clock of its own: every transition is given `now` (wall
//! clock, ms) and says what to carry out (start a wake, stop the app, tell
//! the waiters). `App` holds one under its mutex; `lifecycle.rs` carries out
//! the effects with the backend. So the rules are tested here, as a table of
//! state × event → next state and effect, without a runtime.

use super::cooldown::{Backoff, CoolingDown, WakeFailures};
use crate::policy::model::{AppState, Timestamp};
use crate::store::AppRecord;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Machine {
    state: AppState,
    since: Timestamp,
    /// Where the app answers while awake.
    upstream: Option<http::Uri>,
    in_flight: u32,
    /// Requests waiting for this app (to wake, or for an upstream slot).
    waiting: u32,
    /// Numbers the wakes, so a waiter can tell whether the wake it waited on
    /// is the one that failed, and an exit watcher whether its process is
    /// still the app's.
    attempt: u64,
    /// Failed wakes in a row and the cool-down they impose.
    failures: WakeFailures,
    slept_by_gateway: bool,
    wakes: u64,
    /// Time spent asleep and awake before `since`. Starting and stopping
    /// count as awake: the platform bills a container that is booting.
    asleep_ms: u64,
    awake_ms: u64,
    /// True until the first transition: the state only comes from the
    /// store's record, so the shared view may replace it (`apply_shared`).
    restored: bool,
}

/// What a transition asks its caller to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The event does not apply in this state: nothing changed.
    Nothing,
    /// The state changed: tell the waiters, persist.
    Changed,
    /// Wake number `attempt` began: start the app with the backend, then
    /// report `woken` or `wake_failed`.
    StartWake { attempt: u64 },
    /// The app is stopping: stop it with the backend, then report `stopped`.
    Stop,
}

/// What a request asks of its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Counted as activity, and wakes the app if needed.
    Wake,
    /// Served only if the app is awake.
    Passive,
}

/// One look of a request at its app (a request looks again after every
/// change while it waits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    pub ask: Ask,
    /// The wake this request waits on, if it saw one begin.
    pub waiting_on: Option<u64>,
    /// Whether it already holds one of the app's waiting slots.
    pub has_slot: bool,
    /// `edge.max_waiting_per_app`.
    pub max_waiting: u32,
}

/// The answer to a request's look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OnRequest {
    /// Awake: counted in flight; send it to `upstream`.
    Serve { upstream: http::Uri },
    /// Wait for the next change, then look again. `took_slot`: counted as
    /// waiting now (the caller releases it with `release_wait_slot`).
    /// `on`: the wake it now waits on, if any. `effect`: a wake to start.
    Wait { on: Option<u64>, took_slot: bool, effect: Effect },
    /// The wake it waited on failed, or an earlier one did and the app is
    /// cooling down: no wake starts.
    WakeFailed { reason: Arc<str>, retry_after: Duration },
    /// Too many requests already wait for this app.
    Overloaded { waiting: u32 },
    /// A passive request to an app that is not awake.
    Unserved,
}

impl Machine {
    /// The app as the gateway starts it, from what the store remembers.
    pub(crate) fn restore(record: Option<&AppRecord>, now: Timestamp) -> Machine {
        let (since, slept_by_gateway, wakes) = match record {
            // The process of an app that was awake did not survive the
            // gateway, so every app starts asleep; an app that was already
            // asleep keeps the time it fell asleep.
            Some(r) if r.state == AppState::Asleep => (r.state_since, r.slept_by_gateway, r.wakes),
            Some(r) => (now, false, r.wakes),
            None => (now, false, 0),
        };
        // An app that was awake when the gateway went down is counted awake
        // up to its last recorded activity: the time after that is unknown.
        let (asleep_ms, awake_ms) = match record {
            Some(r) if r.state == AppState::Awake => {
                let seen_awake = r.last_activity.unwrap_or(r.state_since).max(r.state_since) - r.state_since;
                (r.asleep_ms, r.awake_ms + seen_awake)
            }
            Some(r) => (r.asleep_ms, r.awake_ms),
            None => (0, 0),
        };
        Machine {
            state: AppState::Asleep,
            since,
            upstream: None,
            in_flight: 0,
            waiting: 0,
            attempt: 0,
            failures: WakeFailures::default(),
            slept_by_gateway,
            wakes,
            asleep_ms,
            awake_ms,
            restored: true,
        }
    }

    pub(crate) fn state(&self) -> AppState {
        self.state
    }

    pub(crate) fn since(&self) -> Timestamp {
        self.since
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight
    }

    #[cfg(test)]
    pub(crate) fn waiting(&self) -> u32 {
        self.waiting
    }

    pub(crate) fn wakes(&self) -> u64 {
        self.wakes
    }

    /// Moves to `state`, adding the time spent in the previous one to its total.
    fn enter(&mut self, state: AppState, now: Timestamp) {
        let (asleep_ms, awake_ms) = self.totals(now);
        (self.asleep_ms, self.awake_ms) = (asleep_ms, awake_ms);
        self.state = state;
        self.since = now;
        self.restored = false;
    }

    /// Totals asleep and awake up to `now`, the current state included.
    pub(crate) fn totals(&self, now: Timestamp) -> (u64, u64) {
        let spent = now.saturating_sub(self.since);
        match self.state {
            AppState::Asleep => (self.asleep_ms + spent, self.awake_ms),
            _ => (self.asleep_ms, self.awake_ms + spent),
        }
    }

    /// A request looks at the app. The order matters: the fate of the wake
    /// it waited on first, then the cool-down, then the state.
    pub(crate) fn on_request(&mut self, request: Request, now: Timestamp) -> OnRequest {
        if let Some(attempt) = request.waiting_on
            && self.state == AppState::Asleep
            && let Some(reason) = self.failures.of_attempt(attempt)
        {
            return OnRequest::WakeFailed { reason: reason.clone(), retry_after: self.failures.left(now) };
        }
        // Cooling down after a failed wake: told at once, nothing started.
        if self.state == AppState::Asleep
            && request.ask == Ask::Wake
            && let Some(cooling) = self.failures.cooling_down(now)
        {
            return OnRequest::WakeFailed { reason: cooling.reason, retry_after: cooling.left };
        }
        match (self.state, request.ask) {
            (AppState::Awake, _) => match self.upstream.clone() {
                Some(upstream) => {
                    self.in_flight += 1;
                    OnRequest::Serve { upstream }
                }
                None => OnRequest::Wait { on: None, took_slot: false, effect: Effect::Nothing },
            },
            (_, Ask::Passive) => OnRequest::Unserved,
            (_, Ask::Wake) if !request.has_slot && self.waiting >= request.max_waiting => {
                OnRequest::Overloaded { waiting: self.waiting }
            }
            (state, Ask::Wake) => {
                let took_slot = !request.has_slot;
                if took_slot {
                    self.waiting += 1;
                }
                let (on, effect) = match state {
                    AppState::Asleep => {
                        let attempt = self.start_wake(now);
                        (Some(attempt), Effect::StartWake { attempt })
                    }
                    AppState::Starting => (Some(self.attempt), Effect::Nothing),
                    // Wait for the stop to finish, then wake it again.
                    _ => (None, Effect::Nothing),
                };
                OnRequest::Wait { on, took_slot, effect }
            }
        }
    }

    /// A request that took a waiting slot no longer waits.
    pub(crate) fn release_wait_slot(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// Takes a waiting slot for a request that waits for an upstream
    /// connection, or says how many already wait.
    pub(crate) fn take_wait_slot(&mut self, max_waiting: u32) -> Result<(), u32> {
        if self.waiting >= max_waiting {
            return Err(self.waiting);
        }
        self.waiting += 1;
        Ok(())
    }

    /// A request served by `on_request` ended.
    pub(crate) fn request_done(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A wake without a request (a tick, a linked app, the waiting page):
    /// only an asleep app that is not cooling down wakes.
    pub(crate) fn begin_wake(&mut self, now: Timestamp) -> Effect {
        if self.state != AppState::Asleep || self.failures.cooling_down(now).is_some() {
            return Effect::Nothing;
        }
        Effect::StartWake { attempt: self.start_wake(now) }
    }

    fn start_wake(&mut self, now: Timestamp) -> u64 {
        self.attempt += 1;
        self.enter(AppState::Starting, now);
        self.attempt
    }

    /// The wake succeeded: the app answers at `upstream`.
    pub(crate) fn woken(&mut self, upstream: http::Uri, now: Timestamp) {
        self.enter(AppState::Awake, now);
        self.upstream = Some(upstream);
        self.slept_by_gateway = false;
        self.wakes += 1;
        self.failures.succeeded();
    }

    /// Wake `attempt` failed: the app is asleep and cools down. Returns the
    /// cool-down.
    pub(crate) fn wake_failed(
        &mut self,
        attempt: u64,
        reason: Arc<str>,
        now: Timestamp,
        backoff: &Backoff,
    ) -> Duration {
        self.enter(AppState::Asleep, now);
        self.upstream = None;
        self.failures.failed(attempt, reason, now, backoff)
    }

    /// An app found running without the gateway having woken it: awake from
    /// now, and whatever wake failed before is forgotten.
    pub(crate) fn adopt(&mut self, upstream: http::Uri, now: Timestamp) -> Effect {
        if self.state != AppState::Asleep {
            return Effect::Nothing;
        }
        self.enter(AppState::Awake, now);
        self.upstream = Some(upstream);
        self.attempt += 1;
        self.failures.succeeded();
        Effect::Changed
    }

    /// An app found stopped at `seen_at` (from the platform's console) while
    /// awake since before then, with nothing in flight: asleep.
    pub(crate) fn stopped_outside(&mut self, seen_at: Timestamp, now: Timestamp) -> Effect {
        if self.state != AppState::Awake || self.in_flight > 0 || self.since >= seen_at {
            return Effect::Nothing;
        }
        self.enter(AppState::Asleep, now);
        self.upstream = None;
        Effect::Changed
    }

    /// The process of wake `attempt` exited by itself: asleep, if that wake
    /// is still the app's and it is awake.
    pub(crate) fn exited(&mut self, attempt: u64, now: Timestamp) -> Effect {
        if self.attempt != attempt || self.state != AppState::Awake {
            return Effect::Nothing;
        }
        self.enter(AppState::Asleep, now);
        self.upstream = None;
        Effect::Changed
    }

    /// Puts the app to sleep: only an awake app with nothing in flight
    /// stops. From here its record says asleep.
    pub(crate) fn begin_stop(&mut self, now: Timestamp) -> Effect {
        if self.state != AppState::Awake || self.in_flight > 0 {
            return Effect::Nothing;
        }
        self.enter(AppState::Stopping, now);
        Effect::Stop
    }

    /// The stop asked by `begin_stop` ended. A stop the backend could not
    /// confirm counts too: the next request tries a clean start.
    pub(crate) fn stopped(&mut self, now: Timestamp) {
        self.enter(AppState::Asleep, now);
        self.upstream = None;
        self.slept_by_gateway = true;
    }

    /// An operator asked for a wake: the cool-down ends now.
    pub(crate) fn forgive(&mut self) {
        self.failures.forgive();
    }

    /// The cool-down after failed wakes in force at `now`, if any.
    pub(crate) fn cooling_down(&self, now: Timestamp) -> Option<CoolingDown> {
        self.failures.cooling_down(now)
    }

    /// Whether the last wake failed and no new one began since.
    pub(crate) fn last_wake_failed(&self) -> bool {
        self.state == AppState::Asleep && self.failures.of_attempt(self.attempt).is_some()
    }

    /// The record to persist. A transition in progress is persisted as where
    /// it may end; see `AppRecord`.
    pub(crate) fn record(&self, last_activity: Option<Timestamp>) -> AppRecord {
        let (state, slept_by_gateway) = match self.state {
            AppState::Starting => (AppState::Asleep, self.slept_by_gateway),
            AppState::Stopping => (AppState::Asleep, true),
            s => (s, self.slept_by_gateway),
        };
        AppRecord {
            state,
            state_since: self.since,
            last_activity,
            slept_by_gateway,
            wakes: self.wakes,
            asleep_ms: self.asleep_ms,
            awake_ms: self.awake_ms,
        }
    }

    /// Takes the state another replica recorded when it is newer than this
    /// one's, or when this one's only comes from the restore. An app in
    /// transition is left alone, and one with requests in flight is not put
    /// to sleep. `upstream` is where an awake app answers.
    pub(crate) fn apply_shared(&mut self, record: &AppRecord, upstream: Option<http::Uri>) -> Effect {
        let settled = matches!(self.state, AppState::Asleep | AppState::Awake);
        if !settled || record.state == self.state || !(self.restored || record.state_since > self.since) {
            return Effect::Nothing;
        }
        match (record.state, upstream) {
            (AppState::Awake, Some(upstream)) => self.upstream = Some(upstream),
            (AppState::Asleep, _) if self.in_flight == 0 => self.upstream = None,
            _ => return Effect::Nothing,
        }
        self.state = record.state;
        self.since = record.state_since;
        self.slept_by_gateway = record.slept_by_gateway;
        self.wakes = record.wakes;
        self.asleep_ms = record.asleep_ms;
        self.awake_ms = record.awake_ms;
        self.restored = false;
        // A watcher of an earlier attempt (a process's exit) must not act.
        self.attempt += 1;
        Effect::Changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppState::{Asleep, Awake, Starting, Stopping};

    const T: Timestamp = 1_700_000_000_000;

    fn uri() -> http::Uri {
        http::Uri::from_static("http://127.0.0.1:9")
    }

    /// A machine in `state` since `T`, with one wake behind it (attempt 1).
    fn machine(state: AppState) -> Machine {
        let mut m = Machine::restore(None, T);
        match state {
            Asleep => {}
            Starting => assert_eq!(m.begin_wake(T), Effect::StartWake { attempt: 1 }),
            Awake => {
                m.begin_wake(T);
                m.woken(uri(), T);
            }
            Stopping => {
                m.begin_wake(T);
                m.woken(uri(), T);
                assert_eq!(m.begin_stop(T), Effect::Stop);
            }
        }
        m
    }

    fn request(ask: Ask) -> Request {
        Request { ask, waiting_on: None, has_slot: false, max_waiting: 10 }
    }

    #[derive(Debug, Clone, Copy)]
    enum Event {
        Request(Ask),
        BeginWake,
        Woken,
        WakeFailed,
        Adopt,
        StoppedOutside,
        Exited,
        BeginStop,
        Stopped,
    }

    /// The effect of an event, in one shape for the table.
    fn apply(m: &mut Machine, event: Event, now: Timestamp) -> String {
        match event {
            Event::Request(ask) => match m.on_request(request(ask), now) {
                OnRequest::Serve { .. } => "serve".into(),
                OnRequest::Wait { effect: Effect::StartWake { attempt }, .. } => format!("wait+wake {attempt}"),
                OnRequest::Wait { on, .. } => format!("wait on {on:?}"),
                OnRequest::WakeFailed { .. } => "refuse".into(),
                OnRequest::Overloaded { .. } => "overloaded".into(),
                OnRequest::Unserved => "unserved".into(),
            },
            Event::BeginWake => format!("{:?}", m.begin_wake(now)),
            Event::Woken => {
                m.woken(uri(), now);
                "-".into()
            }
            Event::WakeFailed => {
                format!("cool {:?}", m.wake_failed(m.attempt, "boom".into(), now, &Backoff::default()))
            }
            Event::Adopt => format!("{:?}", m.adopt(uri(), now)),
            Event::StoppedOutside => format!("{:?}", m.stopped_outside(now, now)),
            Event::Exited => format!("{:?}", m.exited(1, now)),
            Event::BeginStop => format!("{:?}", m.begin_stop(now)),
            Event::Stopped => {
                m.stopped(now);
                "-".into()
            }
        }
    }

    #[test]
    fn transitions_table() {
        use Event::*;
        let wake = Request(Ask::Wake);
        let passive = Request(Ask::Passive);
        #[rustfmt::skip]
        let table: &[(AppState, Event, AppState, &str)] = &[
            // state    event            next      effect
            (Asleep,   wake,            Starting, "wait+wake 1"),
            (Asleep,   passive,         Asleep,   "unserved"),
            (Asleep,   BeginWake,       Starting, "StartWake { attempt: 1 }"),
            (Asleep,   Adopt,           Awake,    "Changed"),
            (Asleep,   StoppedOutside,  Asleep,   "Nothing"),
            (Asleep,   Exited,          Asleep,   "Nothing"),
            (Asleep,   BeginStop,       Asleep,   "Nothing"),
            (Starting, wake,            Starting, "wait on Some(1)"),
            (Starting, passive,         Starting, "unserved"),
            (Starting, BeginWake,       Starting, "Nothing"),
            (Starting, Woken,           Awake,    "-"),
            (Starting, WakeFailed,      Asleep,   "cool 1s"),
            (Starting, Adopt,           Starting, "Nothing"),
            (Starting, BeginStop,       Starting, "Nothing"),
            (Awake,    wake,            Awake,    "serve"),
            (Awake,    passive,         Awake,    "serve"),
            (Awake,    BeginWake,       Awake,    "Nothing"),
            (Awake,    Adopt,           Awake,    "Nothing"),
            (Awake,    StoppedOutside,  Asleep,   "Changed"),
            (Awake,    Exited,          Asleep,   "Changed"),
            (Awake,    BeginStop,       Stopping, "Stop"),
            (Stopping, wake,            Stopping, "wait on None"),
            (Stopping, passive,         Stopping, "unserved"),
            (Stopping, BeginWake,       Stopping, "Nothing"),
            (Stopping, Exited,          Stopping, "Nothing"),
            (Stopping, BeginStop,       Stopping, "Nothing"),
            (Stopping, Stopped,         Asleep,   "-"),
        ];
        for &(state, event, next, effect) in table {
            let mut m = machine(state);
            let got = apply(&mut m, event, T + 1000);
            assert_eq!((m.state(), got.as_str()), (next, effect), "{state:?} × {event:?}");
            let moved = next != state;
            assert_eq!(m.since(), if moved { T + 1000 } else { T }, "{state:?} × {event:?}: since");
        }
    }

    #[test]
    fn a_request_in_flight_keeps_the_app_awake_until_it_ends() {
        let mut m = machine(Awake);
        assert_eq!(m.on_request(request(Ask::Wake), T), OnRequest::Serve { upstream: uri() });
        assert_eq!(m.begin_stop(T), Effect::Nothing);
        assert_eq!(m.stopped_outside(T + 1, T + 1), Effect::Nothing);
        m.request_done();
        assert_eq!(m.begin_stop(T), Effect::Stop);
    }

    #[test]
    fn a_failed_wake_refuses_its_waiters_and_cools_down() {
        let backoff = Backoff::default();
        let mut m = machine(Asleep);
        let OnRequest::Wait { on: Some(attempt), took_slot: true, .. } = m.on_request(request(Ask::Wake), T) else {
            panic!("the first request wakes the app");
        };
        m.wake_failed(attempt, "boom".into(), T + 100, &backoff);
        assert!(m.last_wake_failed());
        let waiter = Request { waiting_on: Some(attempt), has_slot: true, ..request(Ask::Wake) };
        let refused = m.on_request(waiter, T + 100);
        assert_eq!(refused, OnRequest::WakeFailed { reason: "boom".into(), retry_after: Duration::from_secs(1) });
        // A newcomer meets the cool-down; a tick's wake is not started either.
        assert!(matches!(m.on_request(request(Ask::Wake), T + 600), OnRequest::WakeFailed { .. }));
        assert_eq!(m.begin_wake(T + 600), Effect::Nothing);
        // After it, a new attempt; an operator's forgiveness ends it at once.
        assert_eq!(m.begin_wake(T + 1100), Effect::StartWake { attempt: 2 });
        assert!(!m.last_wake_failed());
        m.wake_failed(2, "again".into(), T + 1200, &backoff);
        assert_eq!(m.cooling_down(T + 1200).map(|c| c.failures), Some(2));
        m.forgive();
        assert_eq!(m.begin_wake(T + 1200), Effect::StartWake { attempt: 3 });
        m.woken(uri(), T + 1300);
        assert_eq!((m.cooling_down(T + 1300), m.wakes()), (None, 1));
    }

    #[test]
    fn waiting_is_capped_and_a_slot_is_taken_once() {
        let mut m = machine(Starting);
        let capped = Request { max_waiting: 1, ..request(Ask::Wake) };
        assert!(matches!(m.on_request(capped, T), OnRequest::Wait { took_slot: true, .. }));
        assert_eq!(m.on_request(capped, T), OnRequest::Overloaded { waiting: 1 });
        let holder = Request { has_slot: true, ..capped };
        assert!(matches!(m.on_request(holder, T), OnRequest::Wait { took_slot: false, .. }));
        assert_eq!(m.take_wait_slot(1), Err(1));
        m.release_wait_slot();
        assert_eq!((m.take_wait_slot(1), m.waiting()), (Ok(()), 1));
    }

    #[test]
    fn an_exit_of_an_earlier_wake_is_ignored() {
        let mut m = machine(Awake);
        m.exited(1, T + 10);
        assert_eq!(m.state(), Asleep);
        m.begin_wake(T + 20);
        m.woken(uri(), T + 30);
        assert_eq!(m.exited(1, T + 40), Effect::Nothing, "attempt 2 runs now");
        assert_eq!(m.exited(2, T + 40), Effect::Changed);
    }

    #[test]
    fn time_adds_up_asleep_and_awake_starting_and_stopping_billed() {
        let mut m = Machine::restore(None, 0);
        m.begin_wake(10_000);
        m.woken(uri(), 15_000);
        m.begin_stop(60_000);
        m.stopped(61_000);
        assert_eq!(m.totals(100_000), (10_000 + 39_000, 51_000));
        let record = m.record(Some(55_000));
        assert_eq!((record.state, record.slept_by_gateway, record.wakes), (Asleep, true, 1));
        assert_eq!((record.asleep_ms, record.awake_ms, record.state_since), (10_000, 51_000, 61_000));
    }

    #[test]
    fn a_transition_in_progress_is_recorded_as_where_it_may_end() {
        let starting = machine(Starting).record(None);
        assert_eq!((starting.state, starting.slept_by_gateway), (Asleep, false));
        let stopping = machine(Stopping).record(None);
        assert_eq!((stopping.state, stopping.slept_by_gateway), (Asleep, true));
    }

    #[test]
    fn a_restored_app_starts_asleep_and_an_awake_one_is_billed_to_its_last_activity() {
        let record = |state| AppRecord {
            state,
            state_since: 1_000,
            last_activity: Some(4_000),
            slept_by_gateway: true,
            wakes: 7,
            asleep_ms: 100,
            awake_ms: 200,
        };
        let was_awake = Machine::restore(Some(&record(Awake)), 9_000);
        assert_eq!((was_awake.state(), was_awake.since(), was_awake.wakes()), (Asleep, 9_000, 7));
        assert_eq!(was_awake.totals(9_000), (100, 200 + 3_000));
        let was_asleep = Machine::restore(Some(&record(Asleep)), 9_000);
        assert_eq!((was_asleep.since(), was_asleep.totals(9_000)), (1_000, (100 + 8_000, 200)));
        assert!(was_asleep.record(None).slept_by_gateway);
    }

    #[test]
    fn the_shared_view_replaces_a_restored_or_older_state_only() {
        let shared = |state, since| AppRecord {
            state,
            state_since: since,
            last_activity: None,
            slept_by_gateway: false,
            wakes: 3,
            asleep_ms: 0,
            awake_ms: 0,
        };
        let mut restored = Machine::restore(None, T);
        assert_eq!(restored.apply_shared(&shared(Awake, T - 5), Some(uri())), Effect::Changed, "restored");
        assert_eq!((restored.state(), restored.wakes()), (Awake, 3));
        let mut settled = machine(Awake);
        assert_eq!(settled.apply_shared(&shared(Asleep, T - 5), None), Effect::Nothing, "older");
        settled.on_request(request(Ask::Wake), T);
        assert_eq!(settled.apply_shared(&shared(Asleep, T + 5), None), Effect::Nothing, "in flight");
        settled.request_done();
        assert_eq!(settled.apply_shared(&shared(Asleep, T + 5), None), Effect::Changed);
        assert_eq!(settled.exited(1, T + 6), Effect::Nothing, "the attempt moved on");
        let mut starting = machine(Starting);
        assert_eq!(starting.apply_shared(&shared(Awake, T + 5), Some(uri())), Effect::Nothing, "in transition");
    }
}
