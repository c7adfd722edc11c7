//! One app's live state: its `Machine` (the rules, `machine.rs`) under one
//! mutex, so "is it awake?" and "count this request in flight" are a single
//! step, and the sleep path can check "no request in flight" and mark the
//! app stopping in the same step. Waiters are woken through a watch channel.

use super::cooldown::CoolingDown;
use super::dirty::DirtyApps;
use super::machine::{Effect, Machine};
use super::upstream_slots::UpstreamSlots;
use crate::clock::now_ms;
use crate::config::AppConfig;
use crate::policy::model::{AppRef, AppState, AppView, Params, Timestamp};
use crate::store::AppRecord;
use crate::telemetry::metrics::RequestCounters;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::watch;

pub(crate) struct App {
    /// Shared with the gateway's `Config` (one copy per app, not two).
    pub(crate) config: Arc<AppConfig>,
    /// Shared between the apps whose params are the same (most apps keep
    /// their policy's): a map per app cost 10,000 apps 6 MiB.
    pub(crate) params: Arc<Params>,
    inner: Mutex<Machine>,
    /// Made by the first waiter: most of 10,000 apps never have one, and
    /// a channel costs about 300 bytes. A waiter subscribes before it reads
    /// the state, so a change made before the channel exists is not missed.
    changed: OnceLock<watch::Sender<u64>>,
    /// Milliseconds since the epoch of the last counted request; 0 = never.
    /// Kept outside the mutex: it is read on every request, and written
    /// when a request comes in a newer millisecond (see `touch`).
    last_activity: AtomicU64,
    /// Set when something worth persisting changed since the last flush.
    /// `touch` and `take_dirty_record` use it with `last_activity` in
    /// `SeqCst`; see `touch`.
    dirty: AtomicBool,
    /// Where this app goes when `dirty` is set, for the flusher to find.
    dirty_apps: Arc<DirtyApps>,
    /// Requests in flight for this app on other replicas (shared store).
    remote_in_flight: AtomicU32,
    /// Its `paastis_requests_total` series, resolved once per status.
    pub requests: RequestCounters,
    /// Caps the requests sent to the app at once.
    upstream_slots: UpstreamSlots,
}

impl App {
    pub(crate) fn new(
        config: impl Into<Arc<AppConfig>>,
        params: impl Into<Arc<Params>>,
        record: Option<&AppRecord>,
        dirty_apps: Arc<DirtyApps>,
    ) -> App {
        App {
            config: config.into(),
            params: params.into(),
            inner: Mutex::new(Machine::restore(record, now_ms())),
            changed: OnceLock::new(),
            last_activity: AtomicU64::new(record.and_then(|r| r.last_activity).unwrap_or(0)),
            dirty: AtomicBool::new(false),
            dirty_apps,
            remote_in_flight: AtomicU32::new(0),
            requests: RequestCounters::default(),
            upstream_slots: UpstreamSlots::default(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.config.name()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Machine> {
        // Every critical section leaves the machine consistent before any call that
        // could panic, so a poisoned lock still holds valid state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn upstream_slots(&self) -> &UpstreamSlots {
        &self.upstream_slots
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.get_or_init(|| watch::channel(0).0).subscribe()
    }

    /// Tells waiters to look again, and the flusher to persist.
    pub(super) fn notify(&self) {
        self.set_dirty();
        self.wake_waiters();
    }

    /// Sets `dirty`, and lists the app for the flusher when it was clear:
    /// one push per flush at most.
    fn set_dirty(&self) {
        if !self.dirty.swap(true, Ordering::SeqCst) {
            self.dirty_apps.push(&self.config);
        }
    }

    fn wake_waiters(&self) {
        if let Some(changed) = self.changed.get() {
            changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Counts activity at `now`, to be persisted by the next flush.
    ///
    /// Called twice per request by every worker thread, so it writes only
    /// what would change: a write, even one that changes nothing (as
    /// `fetch_max` within the same millisecond), takes the cache line from
    /// the other core, and under load both loads nearly always find nothing
    /// to do. (Side by side on a 2-core VM, this and the other shared writes
    /// removed with it made no difference the rounds could resolve.)
    ///
    /// Skipping is safe only in `SeqCst`: this is a store-buffering pattern
    /// (here, write `last_activity` then read `dirty`; the flusher, write
    /// `dirty` (the swap in `take_dirty_record`) then read `last_activity`).
    /// A load that finds the flag clear sets it and lists the app again
    /// (`set_dirty`), for the next flush.
    /// In the single order of `SeqCst` operations, a load here that finds
    /// `dirty` set comes before the flusher's swap that clears it, so the
    /// flusher's later load of `last_activity` sees this call's write, or
    /// the newer-or-equal value this call's load found: the flush that
    /// takes the flag persists this activity. With Release/Acquire the
    /// flusher could clear the flag and read the old activity while this
    /// call still saw the flag set, and the activity would not be persisted
    /// until another change. (On x86 a `SeqCst` load is a plain load.)
    pub(crate) fn touch(&self, now: Timestamp) {
        if self.last_activity.load(Ordering::SeqCst) < now {
            self.last_activity.fetch_max(now, Ordering::SeqCst);
        }
        if !self.dirty.load(Ordering::SeqCst) {
            self.set_dirty();
        }
    }

    pub(crate) fn last_activity(&self) -> Option<Timestamp> {
        match self.last_activity.load(Ordering::SeqCst) {
            0 => None,
            t => Some(t),
        }
    }

    pub(crate) fn state(&self) -> AppState {
        self.lock().state()
    }

    /// Whether the last wake failed and no new one began since: a waiting
    /// page would only loop on a failing app.
    pub(crate) fn last_wake_failed(&self) -> bool {
        self.lock().last_wake_failed()
    }

    /// The cool-down after failed wakes, while it lasts.
    pub(crate) fn cooling_down(&self) -> Option<CoolingDown> {
        self.lock().cooling_down(now_ms())
    }

    /// What a policy sees of the app, borrowed: the request path's, which
    /// copies no name.
    pub(crate) fn view_ref(&self) -> AppRef<'_> {
        let inner = self.lock();
        AppRef {
            name: self.name(),
            state: inner.state(),
            state_since: inner.since(),
            last_activity: self.last_activity(),
            in_flight: inner.in_flight() + self.remote_in_flight(),
            params: &self.params,
        }
    }

    pub(crate) fn view(&self) -> AppView {
        self.view_ref().to_view()
    }

    /// Time spent asleep and awake so far, the current state included.
    pub(crate) fn time_asleep_awake(&self) -> (std::time::Duration, std::time::Duration) {
        let (asleep, awake) = self.lock().totals(now_ms());
        (std::time::Duration::from_millis(asleep), std::time::Duration::from_millis(awake))
    }

    /// Wakes since the app was first seen.
    pub(crate) fn wakes(&self) -> u64 {
        self.lock().wakes()
    }

    /// The record to persist, if anything changed since the last call.
    pub(crate) fn take_dirty_record(&self) -> Option<AppRecord> {
        // SeqCst, with the load of `last_activity` in `record`: see `touch`.
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return None;
        }
        Some(self.record())
    }

    pub(crate) fn record(&self) -> AppRecord {
        self.lock().record(self.last_activity())
    }

    /// Activity another replica saw (from the shared store): kept if newer,
    /// and not marked dirty, since the store already has it.
    pub(crate) fn observe_activity(&self, at: Timestamp) {
        self.last_activity.fetch_max(at, Ordering::SeqCst);
    }

    /// Requests in flight here, on this replica only.
    pub(crate) fn local_in_flight(&self) -> u32 {
        self.lock().in_flight()
    }

    /// Requests in flight on the other replicas, as last exchanged.
    pub(crate) fn remote_in_flight(&self) -> u32 {
        self.remote_in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn set_remote_in_flight(&self, requests: u32) {
        self.remote_in_flight.store(requests, Ordering::Release);
    }

    /// Takes the state another replica recorded (the cluster's shared view)
    /// when it is newer than this replica's, or when this replica's only
    /// comes from the restore. An app in transition is left alone, and one
    /// with requests in flight here is not put to sleep. `upstream` is where
    /// an awake app answers. Returns whether the state changed.
    pub(crate) fn apply_shared(&self, record: &AppRecord, upstream: Option<http::Uri>) -> bool {
        if self.lock().apply_shared(record, upstream) == Effect::Nothing {
            return false;
        }
        self.wake_waiters();
        true
    }

    /// Marks a flush as failed so its records are written again next time.
    pub(crate) fn mark_dirty(&self) {
        self.set_dirty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        let text = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n[[apps]]\nname = \"a\"\nbackend = \"process\"\ncommand = [\"true\"]\n";
        let config = crate::config::Config::parse(text, "t.toml").unwrap();
        App::new(config.apps[0].clone(), Params::default(), None, Arc::default())
    }

    #[test]
    fn every_touch_is_flushed_even_one_that_changes_no_millisecond() {
        let app = app();
        assert!(app.take_dirty_record().is_none());
        app.touch(1_000);
        app.touch(1_000);
        assert_eq!(app.take_dirty_record().map(|r| r.last_activity), Some(Some(1_000)));
        assert!(app.take_dirty_record().is_none(), "one flush takes it");
        // The same millisecond again, after a flush: nothing to write to the
        // activity, but the flag still goes up.
        app.touch(1_000);
        assert_eq!(app.take_dirty_record().map(|r| r.last_activity), Some(Some(1_000)));
        // An older one leaves the activity as it is.
        app.touch(999);
        assert_eq!(app.take_dirty_record().map(|r| r.last_activity), Some(Some(1_000)));
        app.touch(2_000);
        assert_eq!(app.last_activity(), Some(2_000));
        assert_eq!(app.take_dirty_record().map(|r| r.last_activity), Some(Some(2_000)));
    }
}
