//! One app's live state. Every transition happens under one mutex, so "is it
//! awake?" and "count this request in flight" are a single step, and the
//! sleep path can check "no request in flight" and mark the app stopping in
//! the same step. Waiters are woken through a watch channel.

use super::cooldown::{CoolingDown, WakeFailures};
use super::upstream_slots::UpstreamSlots;
use crate::clock::now_ms;
use crate::config::AppConfig;
use crate::policy::model::{AppState, AppView, Params, Timestamp};
use crate::store::AppRecord;
use crate::telemetry::metrics::RequestCounters;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

pub struct App {
    pub config: AppConfig,
    pub params: Params,
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
    /// Milliseconds since the epoch of the last counted request; 0 = never.
    /// Kept outside the mutex: it is written on every request.
    last_activity: AtomicU64,
    /// Set when something worth persisting changed since the last flush.
    dirty: AtomicBool,
    /// Requests in flight for this app on other replicas (shared store).
    remote_in_flight: AtomicU32,
    /// Its `paastis_requests_total` series, resolved once per status.
    pub requests: RequestCounters,
    /// Caps the requests sent to the app at once.
    upstream_slots: UpstreamSlots,
}

pub(super) struct Inner {
    pub state: AppState,
    pub since: Timestamp,
    pub upstream: Option<http::Uri>,
    pub in_flight: u32,
    /// Requests waiting for this app to wake (capped by `edge.max_waiting_per_app`).
    pub waiting: u32,
    /// Numbers the wakes, so a waiter can tell whether the wake it waited on
    /// is the one that failed.
    pub attempt: u64,
    /// Failed wakes in a row and the cool-down they impose.
    pub failures: WakeFailures,
    pub slept_by_gateway: bool,
    pub wakes: u64,
    /// Time spent asleep and awake before `since`. Starting and stopping
    /// count as awake: the platform bills a container that is booting.
    pub asleep_ms: u64,
    pub awake_ms: u64,
    /// True until the first transition: the state only comes from the
    /// store's record, so the shared view may replace it (`apply_shared`).
    pub restored: bool,
}

impl Inner {
    /// Moves to `state`, adding the time spent in the previous one to its total.
    pub fn enter(&mut self, state: AppState) {
        let now = now_ms();
        self.accrue(now);
        self.state = state;
        self.since = now;
        self.restored = false;
    }

    fn accrue(&mut self, now: Timestamp) {
        let spent = now.saturating_sub(self.since);
        match self.state {
            AppState::Asleep => self.asleep_ms += spent,
            _ => self.awake_ms += spent,
        }
    }

    /// Totals asleep and awake up to `now`, the current state included.
    fn totals(&self, now: Timestamp) -> (u64, u64) {
        let spent = now.saturating_sub(self.since);
        match self.state {
            AppState::Asleep => (self.asleep_ms + spent, self.awake_ms),
            _ => (self.asleep_ms, self.awake_ms + spent),
        }
    }
}

impl App {
    pub fn new(config: AppConfig, params: Params, record: Option<&AppRecord>) -> App {
        let now = now_ms();
        let (since, slept_by_gateway, wakes, last_activity) = match record {
            // The process of an app that was awake did not survive the
            // gateway, so every app starts asleep; an app that was already
            // asleep keeps the time it fell asleep.
            Some(r) if r.state == AppState::Asleep => (r.state_since, r.slept_by_gateway, r.wakes, r.last_activity),
            Some(r) => (now, false, r.wakes, r.last_activity),
            None => (now, false, 0, None),
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
        App {
            config,
            params,
            inner: Mutex::new(Inner {
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
            }),
            changed: watch::channel(0).0,
            last_activity: AtomicU64::new(last_activity.unwrap_or(0)),
            dirty: AtomicBool::new(false),
            remote_in_flight: AtomicU32::new(0),
            requests: RequestCounters::default(),
            upstream_slots: UpstreamSlots::default(),
        }
    }

    pub fn name(&self) -> &str {
        self.config.name()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves Inner consistent before any call that
        // could panic, so a poisoned lock still holds valid state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn upstream_slots(&self) -> &UpstreamSlots {
        &self.upstream_slots
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Tells waiters to look again, and the flusher to persist.
    pub(super) fn notify(&self) {
        self.dirty.store(true, Ordering::Release);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn touch(&self, now: Timestamp) {
        self.last_activity.fetch_max(now, Ordering::AcqRel);
        self.dirty.store(true, Ordering::Release);
    }

    pub fn last_activity(&self) -> Option<Timestamp> {
        match self.last_activity.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    pub fn state(&self) -> AppState {
        self.lock().state
    }

    /// Whether the last wake failed and no new one began since: a waiting
    /// page would only loop on a failing app.
    pub fn last_wake_failed(&self) -> bool {
        let inner = self.lock();
        inner.state == AppState::Asleep && inner.failures.of_attempt(inner.attempt).is_some()
    }

    /// The cool-down after failed wakes, while it lasts.
    pub fn cooling_down(&self) -> Option<CoolingDown> {
        self.lock().failures.cooling_down(tokio::time::Instant::now())
    }

    pub fn view(&self) -> AppView {
        let inner = self.lock();
        AppView {
            name: self.name().to_owned(),
            state: inner.state,
            state_since: inner.since,
            last_activity: self.last_activity(),
            in_flight: inner.in_flight + self.remote_in_flight(),
            params: self.params.clone(),
        }
    }

    /// Time spent asleep and awake so far, the current state included.
    pub fn time_asleep_awake(&self) -> (std::time::Duration, std::time::Duration) {
        let (asleep, awake) = self.lock().totals(now_ms());
        (std::time::Duration::from_millis(asleep), std::time::Duration::from_millis(awake))
    }

    /// Wakes since the app was first seen.
    pub fn wakes(&self) -> u64 {
        self.lock().wakes
    }

    /// The record to persist, if anything changed since the last call.
    pub fn take_dirty_record(&self) -> Option<AppRecord> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return None;
        }
        Some(self.record())
    }

    pub fn record(&self) -> AppRecord {
        let inner = self.lock();
        // A transition in progress is persisted as where it may end; see
        // AppRecord.
        let (state, slept_by_gateway) = match inner.state {
            AppState::Starting => (AppState::Asleep, inner.slept_by_gateway),
            AppState::Stopping => (AppState::Asleep, true),
            s => (s, inner.slept_by_gateway),
        };
        AppRecord {
            state,
            state_since: inner.since,
            last_activity: self.last_activity(),
            slept_by_gateway,
            wakes: inner.wakes,
            asleep_ms: inner.asleep_ms,
            awake_ms: inner.awake_ms,
        }
    }

    /// Activity another replica saw (from the shared store): kept if newer,
    /// and not marked dirty, since the store already has it.
    pub fn observe_activity(&self, at: Timestamp) {
        self.last_activity.fetch_max(at, Ordering::AcqRel);
    }

    /// Requests in flight here, on this replica only.
    pub fn local_in_flight(&self) -> u32 {
        self.lock().in_flight
    }

    /// Requests in flight on the other replicas, as last exchanged.
    pub fn remote_in_flight(&self) -> u32 {
        self.remote_in_flight.load(Ordering::Acquire)
    }

    pub fn set_remote_in_flight(&self, requests: u32) {
        self.remote_in_flight.store(requests, Ordering::Release);
    }

    /// Takes the state another replica recorded (the cluster's shared view)
    /// when it is newer than this replica's, or when this replica's only
    /// comes from the restore. An app in transition is left alone, and one
    /// with requests in flight here is not put to sleep. `upstream` is where
    /// an awake app answers. Returns whether the state changed.
    pub fn apply_shared(&self, record: &AppRecord, upstream: Option<http::Uri>) -> bool {
        let mut inner = self.lock();
        let settled = matches!(inner.state, AppState::Asleep | AppState::Awake);
        if !settled || record.state == inner.state || !(inner.restored || record.state_since > inner.since) {
            return false;
        }
        match (record.state, upstream) {
            (AppState::Awake, Some(upstream)) => inner.upstream = Some(upstream),
            (AppState::Asleep, _) if inner.in_flight == 0 => inner.upstream = None,
            _ => return false,
        }
        inner.state = record.state;
        inner.since = record.state_since;
        inner.slept_by_gateway = record.slept_by_gateway;
        inner.wakes = record.wakes;
        inner.asleep_ms = record.asleep_ms;
        inner.awake_ms = record.awake_ms;
        inner.restored = false;
        // A watcher of an earlier attempt (a process's exit) must not act.
        inner.attempt += 1;
        drop(inner);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// Marks a flush as failed so its records are written again next time.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}
