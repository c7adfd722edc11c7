//! One app's live state. Every transition happens under one mutex, so "is it
//! awake?" and "count this request in flight" are a single step, and the
//! sleep path can check "no request in flight" and mark the app stopping in
//! the same step. Waiters are woken through a watch channel.

use crate::clock::now_ms;
use crate::config::AppConfig;
use crate::policy::model::{AppState, AppView, Params, Timestamp};
use crate::store::AppRecord;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
}

pub(super) struct Inner {
    pub state: AppState,
    pub since: Timestamp,
    pub upstream: Option<http::Uri>,
    pub in_flight: u32,
    /// Numbers the wakes, so a waiter can tell whether the wake it waited on
    /// is the one that failed.
    pub attempt: u64,
    pub failure: Option<(u64, Arc<str>)>,
    pub slept_by_gateway: bool,
    pub wakes: u64,
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
        App {
            config,
            params,
            inner: Mutex::new(Inner {
                state: AppState::Asleep,
                since,
                upstream: None,
                in_flight: 0,
                attempt: 0,
                failure: None,
                slept_by_gateway,
                wakes,
            }),
            changed: watch::channel(0).0,
            last_activity: AtomicU64::new(last_activity.unwrap_or(0)),
            dirty: AtomicBool::new(false),
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

    pub fn view(&self) -> AppView {
        let inner = self.lock();
        AppView {
            name: self.name().to_owned(),
            state: inner.state,
            state_since: inner.since,
            last_activity: self.last_activity(),
            in_flight: inner.in_flight,
            params: self.params.clone(),
        }
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
        let (state, since) = match inner.state {
            // Persist a transition as the state it left; see AppRecord.
            AppState::Starting => (AppState::Asleep, inner.since),
            AppState::Stopping => (AppState::Awake, inner.since),
            s => (s, inner.since),
        };
        AppRecord {
            state,
            state_since: since,
            last_activity: self.last_activity(),
            slept_by_gateway: inner.slept_by_gateway,
            wakes: inner.wakes,
        }
    }

    /// Marks a flush as failed so its records are written again next time.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}
