//! Waking and putting apps to sleep: the transitions that involve a backend.

use super::app::App;
use super::cooldown::{Backoff, retry_after_secs};
use super::in_flight::{InFlight, WaitSlot};
use super::probe::{ProbeError, Prober};
use crate::backend::Backend;
use crate::policy::model::AppState;
use crate::telemetry::{EventKind, Telemetry, WakeCause};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// Why a request could not be admitted to its app.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdmitError {
    #[error("app {app} is asleep, and this request does not wake it")]
    Asleep { app: String },
    /// The wake failed, or an earlier one did and the app is cooling down.
    #[error("app {app} could not be woken: {reason} (next attempt in {} s)", retry_after_secs(*retry_after))]
    WakeFailed { app: String, reason: Arc<str>, retry_after: Duration },
    #[error("app {app} is still {state} after {waited:?}")]
    TimedOut { app: String, state: &'static str, waited: Duration },
    #[error("app {app} already has {waiting} requests waiting for it; try again shortly")]
    Overloaded { app: String, waiting: u32 },
    /// Every upstream connection slot of the app stayed taken.
    #[error("app {app} had all its {limit} upstream connections busy for {waited:?}")]
    Busy { app: String, limit: u32, waited: Duration },
}

/// How long a failed wake waits for the app's last output to be read.
const OUTPUT_SETTLE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy)]
pub enum Admission<'a> {
    /// Counted as activity, and wakes the app if needed. The cause is made
    /// only if this request begins a wake (and recorded with it), so a
    /// request to an awake app copies nothing.
    Wake(&'a (dyn Fn() -> WakeCause + Sync)),
    /// Not counted; served only if the app is awake.
    Passive,
}

pub struct Lifecycle {
    backend: Arc<dyn Backend>,
    /// The registry, to find linked apps (set once by `Apps`).
    registry: std::sync::OnceLock<super::Registry>,
    /// Asks the flusher to persist now: state changes are rare and precious.
    persist: Arc<Notify>,
    telemetry: Telemetry,
    options: LifecycleOptions,
}

/// What `[edge]` says about waking apps.
#[derive(Clone)]
pub struct LifecycleOptions {
    /// Polls a starting app until it is ready.
    pub prober: Prober,
    /// Requests that may wait on one waking app.
    pub max_waiting: u32,
    /// The cool-down after failed wakes.
    pub backoff: Backoff,
    /// `edge.max_upstream_connections`: for apps that do not set theirs.
    pub max_upstream_connections: u32,
}

impl Default for LifecycleOptions {
    fn default() -> Self {
        LifecycleOptions {
            prober: Prober::default(),
            max_waiting: u32::MAX,
            backoff: Backoff::default(),
            max_upstream_connections: super::upstream_slots::DEFAULT_MAX_UPSTREAM_CONNECTIONS,
        }
    }
}

impl Lifecycle {
    pub fn new(backend: Arc<dyn Backend>, persist: Arc<Notify>, telemetry: Telemetry) -> Arc<Lifecycle> {
        Lifecycle::with_options(backend, persist, telemetry, LifecycleOptions::default())
    }

    pub fn with_options(
        backend: Arc<dyn Backend>,
        persist: Arc<Notify>,
        telemetry: Telemetry,
        options: LifecycleOptions,
    ) -> Arc<Lifecycle> {
        let registry = std::sync::OnceLock::new();
        Arc::new(Lifecycle { backend, registry, persist, telemetry, options })
    }

    pub(super) fn set_registry(&self, registry: super::Registry) {
        let _ = self.registry.set(registry);
    }

    /// The apps `app` links to, found by gateway name or, on the same
    /// backend, by platform name.
    fn linked(&self, app: &App) -> Vec<Arc<App>> {
        let Some(registry) = self.registry.get() else { return Vec::new() };
        let apps = registry.read().unwrap_or_else(|p| p.into_inner());
        app.config
            .links
            .iter()
            .filter_map(|link| {
                apps.get(link).cloned().or_else(|| {
                    apps.values()
                        .find(|other| other.config.backend == app.config.backend && other.config.remote() == link)
                        .cloned()
                })
            })
            .filter(|other| other.name() != app.name())
            .collect()
    }

    /// Marks an app that runs without the gateway having woken it (found
    /// running by discovery) as awake, timed from now.
    pub fn adopt(&self, app: &App, upstream: http::Uri) -> bool {
        {
            let mut inner = app.lock();
            if inner.state != AppState::Asleep {
                return false;
            }
            inner.enter(AppState::Awake);
            inner.upstream = Some(upstream);
            inner.attempt += 1;
            inner.failures.succeeded();
        }
        app.touch(crate::clock::now_ms());
        self.changed(app);
        self.telemetry.events.emit(Some(app.name()), EventKind::Adopted {});
        true
    }

    /// An app discovery found stopped while the gateway thought it awake
    /// (stopped from the platform's console): asleep, so the next request
    /// wakes it rather than meeting a dead upstream.
    pub fn stopped_outside(&self, app: &App, seen_at: crate::policy::model::Timestamp) -> bool {
        {
            let mut inner = app.lock();
            if inner.state != AppState::Awake || inner.in_flight > 0 || inner.since >= seen_at {
                return false;
            }
            inner.enter(AppState::Asleep);
            inner.upstream = None;
        }
        self.changed(app);
        self.telemetry.events.emit(Some(app.name()), EventKind::StoppedOutside {});
        true
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn changed(&self, app: &App) {
        app.notify();
        self.persist.notify_one();
    }

    /// Waits until the app can take this request (waking it once for all
    /// concurrent callers) and counts the request in flight.
    pub async fn admit(self: &Arc<Self>, app: &Arc<App>, admission: Admission<'_>) -> Result<InFlight, AdmitError> {
        let started = Instant::now();
        let deadline = started + app.config.wake_timeout.0;
        let mut changes = app.subscribe();
        let mut waiting_on: Option<u64> = None;
        // Declared before the lock guard below, so dropped after it.
        let mut slot: Option<WaitSlot> = None;
        loop {
            changes.borrow_and_update();
            let state = {
                let mut inner = app.lock();
                if let Some(attempt) = waiting_on
                    && inner.state == AppState::Asleep
                    && let Some(reason) = inner.failures.of_attempt(attempt)
                {
                    let retry_after = inner.failures.left(Instant::now());
                    return Err(AdmitError::WakeFailed {
                        app: app.name().to_owned(),
                        reason: reason.clone(),
                        retry_after,
                    });
                }
                // Cooling down after a failed wake: told at once, nothing started.
                if inner.state == AppState::Asleep
                    && matches!(admission, Admission::Wake(_))
                    && let Some(cooling) = inner.failures.cooling_down(Instant::now())
                {
                    let (reason, retry_after) = (cooling.reason, cooling.left);
                    return Err(AdmitError::WakeFailed { app: app.name().to_owned(), reason, retry_after });
                }
                match (inner.state, admission) {
                    (AppState::Awake, _) => {
                        if let Some(upstream) = inner.upstream.clone() {
                            inner.in_flight += 1;
                            let counted = matches!(admission, Admission::Wake(_));
                            return Ok(InFlight::new(app.clone(), counted, upstream, waiting_on.is_some()));
                        }
                        inner.state
                    }
                    (_, Admission::Passive) => return Err(AdmitError::Asleep { app: app.name().to_owned() }),
                    (_, Admission::Wake(_)) if slot.is_none() && inner.waiting >= self.options.max_waiting => {
                        return Err(AdmitError::Overloaded { app: app.name().to_owned(), waiting: inner.waiting });
                    }
                    (AppState::Asleep, Admission::Wake(cause)) => {
                        slot.get_or_insert_with(|| WaitSlot::take(app, &mut inner));
                        let attempt = self.begin_wake(app, &mut inner, cause());
                        waiting_on = Some(attempt);
                        inner.state
                    }
                    (AppState::Starting, Admission::Wake(_)) => {
                        slot.get_or_insert_with(|| WaitSlot::take(app, &mut inner));
                        waiting_on = Some(inner.attempt);
                        inner.state
                    }
                    // Wait for the stop to finish, then wake it again.
                    (AppState::Stopping, Admission::Wake(_)) => {
                        slot.get_or_insert_with(|| WaitSlot::take(app, &mut inner));
                        inner.state
                    }
                }
            };
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return Err(AdmitError::TimedOut {
                    app: app.name().to_owned(),
                    state: state.as_str(),
                    waited: started.elapsed(),
                });
            }
        }
    }

    /// Waits, first come first served, until the app has an upstream
    /// connection slot free for this admitted request (at most
    /// `max_upstream_connections` at once), up to the app's `wake_timeout`.
    /// The request keeps the slot until its response ends.
    pub async fn upstream_slot(&self, app: &Arc<App>, in_flight: InFlight) -> Result<InFlight, AdmitError> {
        let (limit, waiting) = (self.options.max_upstream_connections, self.options.max_waiting);
        super::upstream_slots::acquire(app, in_flight, limit, waiting).await
    }

    /// Wakes an app if it is asleep and not cooling down after a failed
    /// wake, without a request (a policy's tick, a linked app, the waiting
    /// page).
    pub fn wake_in_background(self: &Arc<Self>, app: &Arc<App>, cause: WakeCause) {
        let mut inner = app.lock();
        if inner.state == AppState::Asleep && inner.failures.cooling_down(Instant::now()).is_none() {
            self.begin_wake(app, &mut inner, cause);
        }
    }

    /// An operator's wake: ends the cool-down of an app whose wakes failed,
    /// so the wake that follows is tried at once.
    pub fn forgive_failures(&self, app: &App) {
        app.lock().failures.forgive();
    }

    fn begin_wake(self: &Arc<Self>, app: &Arc<App>, inner: &mut super::app::Inner, cause: WakeCause) -> u64 {
        inner.attempt += 1;
        inner.enter(AppState::Starting);
        let attempt = inner.attempt;
        // Spawned, not awaited by the request: the wake must finish (or fail
        // cleanly) even if every waiting client hangs up.
        tokio::spawn(self.clone().run_wake(app.clone(), attempt, cause));
        // Linked apps wake beside this one (each once: an app already
        // starting is left alone); the request waits only for its own app.
        // Spawned because the caller holds this app's lock.
        if !app.config.links.is_empty() {
            let (lifecycle, app) = (self.clone(), app.clone());
            tokio::spawn(async move {
                for linked in lifecycle.linked(&app) {
                    tracing::info!(app = linked.name(), linked_from = app.name(), "waking linked app");
                    lifecycle.wake_in_background(&linked, WakeCause::Linked { app: app.name().to_owned() });
                }
            });
        }
        self.changed(app);
        attempt
    }

    async fn run_wake(self: Arc<Self>, app: Arc<App>, attempt: u64, cause: WakeCause) {
        let started = Instant::now();
        tracing::info!(app = app.name(), "waking app");
        match self.start_until_ready(&app).await {
            Ok((upstream, exited)) => {
                let wake_ms = started.elapsed().as_secs_f64() * 1000.0;
                {
                    let mut inner = app.lock();
                    inner.enter(AppState::Awake);
                    inner.upstream = Some(upstream);
                    inner.slept_by_gateway = false;
                    inner.wakes += 1;
                    inner.failures.succeeded();
                }
                self.changed(&app);
                tracing::info!(app = app.name(), wake_ms = format!("{wake_ms:.1}"), "app woken");
                self.telemetry.metrics.woken(app.name(), started.elapsed());
                self.telemetry.events.emit(Some(app.name()), EventKind::Woken { wake_ms, cause: Some(cause) });
                if let Some(exited) = exited {
                    tokio::spawn(self.clone().watch_exit(app.clone(), attempt, exited));
                }
            }
            // One log line and one event per attempt: the requests that
            // meet the cool-down log nothing.
            Err((reason, output)) => {
                let cool_down = {
                    let mut inner = app.lock();
                    inner.enter(AppState::Asleep);
                    inner.upstream = None;
                    inner.failures.failed(attempt, reason.as_str().into(), Instant::now(), &self.options.backoff)
                };
                let retry_in = humantime::format_duration(cool_down).to_string();
                tracing::error!(app = app.name(), %reason, retry_in, "wake failed");
                let wake_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                let failed = EventKind::WakeFailed { reason, output, wake_ms, cause: Some(cause) };
                self.telemetry.events.emit(Some(app.name()), failed);
                self.changed(&app);
            }
        }
    }

    /// The app's upstream once it is ready; else why not, with the last
    /// lines of its output.
    async fn start_until_ready(
        &self,
        app: &App,
    ) -> Result<(http::Uri, Option<oneshot::Receiver<String>>), (String, Vec<String>)> {
        let config = &app.config;
        let deadline = Instant::now() + config.wake_timeout.0;
        let running = tokio::time::timeout_at(deadline, self.backend.start(config))
            .await
            .map_err(|_| (format!("the backend did not start it within {}", config.wake_timeout), Vec::new()))?
            .map_err(|e| (e.to_string(), Vec::new()))?;
        let mut exited = running.exited;
        let ready =
            self.options.prober.wait_ready(&running.upstream, config.ready_path(), deadline, running.owner.as_ref());
        let died = async {
            match exited.as_mut() {
                Some(rx) => rx.await.unwrap_or_else(|_| "lost track of the process".into()),
                None => std::future::pending().await,
            }
        };
        let failure = tokio::select! {
            ready = ready => match ready {
                Ok(()) => return Ok((running.upstream, exited)),
                Err(ProbeError::NotReady(last)) => format!(
                    "not ready on {} within {} (last probe: {last})",
                    config.ready_path(),
                    config.wake_timeout
                ),
                Err(not_owned) => not_owned.to_string(),
            },
            death = died => format!("{death} before answering on {}", config.ready_path()),
        };
        if let Err(e) = self.backend.stop(config).await {
            tracing::warn!(app = app.name(), error = %e, "cannot stop the app after its failed wake");
        }
        // Stopped: its output ends, and what it wrote last is all there.
        let output = match &running.output {
            Some(tail) => tail.settled(OUTPUT_SETTLE).await,
            None => Vec::new(),
        };
        Err((failure, output))
    }

    /// An awake app whose process exits by itself is asleep: the next request
    /// wakes it again rather than meeting a dead upstream.
    async fn watch_exit(self: Arc<Self>, app: Arc<App>, attempt: u64, exited: oneshot::Receiver<String>) {
        let Ok(description) = exited.await else { return };
        let was_awake = {
            let mut inner = app.lock();
            let current = inner.attempt == attempt && inner.state == AppState::Awake;
            if current {
                inner.enter(AppState::Asleep);
                inner.upstream = None;
            }
            current
        };
        if was_awake {
            tracing::warn!(app = app.name(), %description, "app exited by itself; it will be woken on the next request");
            self.telemetry.events.emit(Some(app.name()), EventKind::Exited { description });
            self.changed(&app);
        }
    }

    /// Puts an awake app with nothing in flight to sleep. Returns false, and
    /// does nothing, for any other app.
    pub async fn sleep(self: &Arc<Self>, app: &Arc<App>, why: &str) -> bool {
        if !self.begin_sleep(app) {
            return false;
        }
        self.finish_sleep(app, why).await;
        true
    }

    /// The first half of `sleep`: marks an awake app with nothing in flight
    /// as stopping (from then on its record says asleep), or returns false.
    /// The cluster records the stop in the shared store in between, before
    /// the platform is asked anything.
    pub fn begin_sleep(&self, app: &App) -> bool {
        {
            let mut inner = app.lock();
            if inner.state != AppState::Awake || inner.in_flight > 0 {
                return false;
            }
            inner.enter(AppState::Stopping);
        }
        self.changed(app);
        true
    }

    /// The second half of `sleep`: stops the app that `begin_sleep` marked.
    pub async fn finish_sleep(self: &Arc<Self>, app: &Arc<App>, why: &str) {
        tracing::info!(app = app.name(), reason = why, "putting app to sleep");
        let started = Instant::now();
        let result = self.backend.stop(&app.config).await;
        {
            let mut inner = app.lock();
            inner.enter(AppState::Asleep);
            inner.upstream = None;
            inner.slept_by_gateway = true;
        }
        self.changed(app);
        let stop_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => {
                tracing::info!(app = app.name(), reason = why, stop_ms, "app put to sleep");
                self.telemetry.events.emit(Some(app.name()), EventKind::Slept { reason: why.to_owned() });
            }
            // The backend could not confirm the stop; the app is treated as
            // asleep so the next request tries a clean start.
            Err(e) => {
                tracing::error!(app = app.name(), reason = why, error = %e, "stopping the app failed");
                self.telemetry.events.emit(Some(app.name()), EventKind::SleepFailed { reason: e.to_string() });
            }
        }
    }
}
