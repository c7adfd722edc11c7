//! Waking and putting apps to sleep: the transitions that involve a backend.

use super::app::App;
use super::cooldown::{Backoff, retry_after_secs};
use super::in_flight::{InFlight, WaitSlot};
use super::machine::{Ask, Effect, OnRequest, Request};
use super::probe::{ProbeError, Prober};
use crate::backend::Backend;
use crate::clock::now_ms;
use crate::policy::model::Timestamp;
use crate::telemetry::{EventKind, Telemetry, WakeCause};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// Why a request could not be admitted to its app.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum AdmitError {
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
pub(crate) enum Admission<'a> {
    /// Counted as activity, and wakes the app if needed. The cause is made
    /// only if this request begins a wake (and recorded with it), so a
    /// request to an awake app copies nothing.
    Wake(&'a (dyn Fn() -> WakeCause + Sync)),
    /// Not counted; served only if the app is awake.
    Passive,
}

pub(crate) struct Lifecycle {
    backend: Arc<dyn Backend>,
    /// The registry, to find linked apps.
    registry: super::Registry,
    /// Asks the flusher to persist now: state changes are rare and precious.
    persist: Arc<Notify>,
    telemetry: Telemetry,
    options: LifecycleOptions,
}

/// What `[edge]` says about waking apps.
#[derive(Clone)]
pub(crate) struct LifecycleOptions {
    /// Polls a starting app until it is ready.
    pub prober: Prober,
    /// Requests that may wait on one waking app.
    pub max_waiting: u32,
    /// The cool-down after failed wakes.
    pub backoff: Backoff,
    /// `edge.max_upstream_connections`: for apps that do not set theirs.
    pub max_upstream_connections: u32,
}

impl Lifecycle {
    pub(super) fn new(
        backend: Arc<dyn Backend>,
        registry: super::Registry,
        persist: Arc<Notify>,
        telemetry: Telemetry,
        options: LifecycleOptions,
    ) -> Arc<Lifecycle> {
        Arc::new(Lifecycle { backend, registry, persist, telemetry, options })
    }

    /// The apps `app` links to, found by gateway name or, on the same
    /// backend, by platform name.
    fn linked(&self, app: &App) -> Vec<Arc<App>> {
        let apps = self.registry.load();
        app.config
            .links
            .iter()
            .filter_map(|link| {
                apps.get(link.as_str()).cloned().or_else(|| {
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
    pub(crate) fn adopt(&self, app: &App, upstream: http::Uri) -> bool {
        let now = now_ms();
        if app.lock().adopt(upstream, now) == Effect::Nothing {
            return false;
        }
        app.touch(now);
        self.changed(app);
        self.telemetry.events.emit(Some(app.name()), EventKind::Adopted {});
        true
    }

    /// An app discovery found stopped while the gateway thought it awake
    /// (stopped from the platform's console): asleep, so the next request
    /// wakes it rather than meeting a dead upstream.
    pub(crate) fn stopped_outside(&self, app: &App, seen_at: crate::policy::model::Timestamp) -> bool {
        if app.lock().stopped_outside(seen_at, now_ms()) == Effect::Nothing {
            return false;
        }
        self.changed(app);
        self.telemetry.events.emit(Some(app.name()), EventKind::StoppedOutside {});
        true
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn changed(&self, app: &App) {
        app.notify();
        self.persist.notify_one();
    }

    /// Waits until the app can take this request (waking it once for all
    /// concurrent callers) and counts the request in flight.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        app: &Arc<App>,
        admission: Admission<'_>,
    ) -> Result<InFlight, AdmitError> {
        self.admit_at(app, admission, now_ms()).await
    }

    /// `admit`, its first look at the app taken at `now` (a reading the
    /// caller has just made for something else: the proxy's touch), the
    /// next ones each at their own time.
    pub(crate) async fn admit_at(
        self: &Arc<Self>,
        app: &Arc<App>,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<InFlight, AdmitError> {
        let mut first_look = Some(now);
        // Read only once the request must wait: an awake app serves it on
        // the first look, and a clock read per request adds up.
        let mut started: Option<Instant> = None;
        let mut changes = app.subscribe();
        let mut waiting_on: Option<u64> = None;
        // Declared before the lock guard below, so dropped after it.
        let mut slot: Option<WaitSlot> = None;
        loop {
            changes.borrow_and_update();
            let ask = match admission {
                Admission::Wake(_) => Ask::Wake,
                Admission::Passive => Ask::Passive,
            };
            let request = Request { ask, waiting_on, has_slot: slot.is_some(), max_waiting: self.options.max_waiting };
            let state = {
                let mut machine = app.lock();
                match machine.on_request(request, first_look.take().unwrap_or_else(now_ms)) {
                    OnRequest::Serve { upstream } => {
                        let counted = ask == Ask::Wake;
                        return Ok(InFlight::new(app.clone(), counted, upstream, waiting_on.is_some()));
                    }
                    OnRequest::Wait { on, took_slot, effect } => {
                        // Only when none is held: dropping one here would
                        // lock the app again.
                        if took_slot {
                            slot = Some(WaitSlot::taken(app));
                        }
                        if let Some(attempt) = on {
                            waiting_on = Some(attempt);
                        }
                        if let (Effect::StartWake { attempt }, Admission::Wake(cause)) = (effect, admission) {
                            self.carry_out_wake(app, attempt, cause());
                        }
                        machine.state()
                    }
                    OnRequest::WakeFailed { reason, retry_after } => {
                        return Err(AdmitError::WakeFailed { app: app.name().to_owned(), reason, retry_after });
                    }
                    OnRequest::Overloaded { waiting } => {
                        return Err(AdmitError::Overloaded { app: app.name().to_owned(), waiting });
                    }
                    OnRequest::Unserved => return Err(AdmitError::Asleep { app: app.name().to_owned() }),
                }
            };
            let started = *started.get_or_insert_with(Instant::now);
            let deadline = started + app.config.wake_timeout.0;
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
    pub(crate) async fn upstream_slot(&self, app: &Arc<App>, in_flight: InFlight) -> Result<InFlight, AdmitError> {
        let (limit, waiting) = (self.options.max_upstream_connections, self.options.max_waiting);
        super::upstream_slots::acquire(app, in_flight, limit, waiting).await
    }

    /// Wakes an app if it is asleep and not cooling down after a failed
    /// wake, without a request (a policy's tick, a linked app, the waiting
    /// page).
    pub(crate) fn wake_in_background(self: &Arc<Self>, app: &Arc<App>, cause: WakeCause) {
        let effect = app.lock().begin_wake(now_ms());
        if let Effect::StartWake { attempt } = effect {
            self.carry_out_wake(app, attempt, cause);
        }
    }

    /// An operator's wake: ends the cool-down of an app whose wakes failed,
    /// so the wake that follows is tried at once.
    pub(crate) fn forgive_failures(&self, app: &App) {
        app.lock().forgive();
    }

    /// Carries out the machine's `StartWake`. Called with or without the
    /// app's lock held: it only spawns.
    fn carry_out_wake(self: &Arc<Self>, app: &Arc<App>, attempt: u64, cause: WakeCause) {
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
    }

    async fn run_wake(self: Arc<Self>, app: Arc<App>, attempt: u64, cause: WakeCause) {
        let started = Instant::now();
        tracing::info!(app = app.name(), "waking app");
        match self.start_until_ready(&app).await {
            Ok((upstream, exited)) => {
                let wake_ms = started.elapsed().as_secs_f64() * 1000.0;
                app.lock().woken(upstream, now_ms());
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
                let cool_down =
                    app.lock().wake_failed(attempt, reason.as_str().into(), now_ms(), &self.options.backoff);
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
        // Held until this wake is over, whichever way it ends.
        let _replacement = running.replacement;
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
        let effect = app.lock().exited(attempt, now_ms());
        if effect == Effect::Changed {
            tracing::warn!(app = app.name(), %description, "app exited by itself; it will be woken on the next request");
            self.telemetry.events.emit(Some(app.name()), EventKind::Exited { description });
            self.changed(&app);
        }
    }

    /// Puts an awake app with nothing in flight to sleep. Returns false, and
    /// does nothing, for any other app.
    pub(crate) async fn sleep(self: &Arc<Self>, app: &Arc<App>, why: &str) -> bool {
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
    pub(crate) fn begin_sleep(&self, app: &App) -> bool {
        if app.lock().begin_stop(now_ms()) != Effect::Stop {
            return false;
        }
        self.changed(app);
        true
    }

    /// The second half of `sleep`: stops the app that `begin_sleep` marked.
    pub(crate) async fn finish_sleep(self: &Arc<Self>, app: &Arc<App>, why: &str) {
        tracing::info!(app = app.name(), reason = why, "putting app to sleep");
        let started = Instant::now();
        let result = self.backend.stop(&app.config).await;
        app.lock().stopped(now_ms());
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
