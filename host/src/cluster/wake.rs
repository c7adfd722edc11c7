//! One platform wake per app across replicas.
//!
//! `ClusterBackend` wraps the gateway's backends. Waking a PaaS app takes
//! the app's lock in Redis (`SET p:wake:<app> … NX PX <wake_timeout>`):
//!
//! - the replica that gets it first checks the shared record: if another
//!   replica already woke the app, it serves it at once, with no platform
//!   call; otherwise it wakes it, and keeps the lock until the wake is
//!   over and recorded (`announce_wakes`: the record is flushed, `p:woke`
//!   published, then the lock released; the lock's expiry covers a crash);
//! - the others wait, on `p:woke` or polling with backoff, then take the
//!   lock in turn and find the app awake in the record.
//!
//! The leader's sleeps take the same lock (`sleep.rs`), so a wake never
//! overlaps a stop of the same app. When Redis does not answer, wakes go
//! straight to the backend, without the lock: serving beats perfect
//! deduplication, and a duplicate scale-up to the same formation is
//! harmless. Process apps are local and never locked.

use super::Cluster;
use super::locks::APP_LOCK_TTL;
use super::sync::shared_upstream;
use crate::apps::Apps;
use crate::backend::{Backend, BackendError, Backends, Running};
use crate::config::AppConfig;
use crate::policy::model::AppState;
use crate::telemetry::EventKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The longest a waiter sleeps between two looks at the lock.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct ClusterBackend {
    backends: Arc<Backends>,
    cluster: Cluster,
}

impl ClusterBackend {
    pub(crate) fn new(backends: Arc<Backends>, cluster: Cluster) -> ClusterBackend {
        ClusterBackend { backends, cluster }
    }

    /// Waits for whoever holds `app`'s lock: until a woke notification for
    /// it, or `wait`, whichever comes first.
    async fn wait_for_news(listener: &mut crate::store::WokeListener, app: &str, wait: Duration) {
        let news = async { while listener.next().await != app {} };
        let _ = tokio::time::timeout(wait, news).await;
    }
}

#[async_trait::async_trait]
impl Backend for ClusterBackend {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError> {
        if !self.backends.survives_gateway(app) {
            return self.backends.start(app).await;
        }
        let cluster = &self.cluster;
        let store = cluster.store();
        let name = app.name();
        let deadline = Instant::now() + app.wake_timeout.0;
        let mut listener = store.woke_listener();
        let mut backoff = Duration::from_millis(20);
        loop {
            if cluster.is_degraded() {
                tracing::warn!(app = name, "the shared store does not answer: waking without the cross-replica lock");
                return self.backends.start(app).await;
            }
            let holder = cluster.holder("wake");
            match store.try_lock_app(name, &holder, APP_LOCK_TTL).await {
                Ok(true) => {
                    cluster.remember_lock(name, holder);
                    // Under the lock: did another replica finish this wake?
                    if let Ok(Some(record)) = store.load_app(name).await
                        && record.state == AppState::Awake
                        && let Some(upstream) = shared_upstream(&self.backends, app).await
                    {
                        cluster.release_lock(name).await;
                        tracing::info!(app = name, "already woken by another replica; serving it");
                        return Ok(Running { upstream, exited: None, owner: None, output: None, replacement: None });
                    }
                    let started = self.backends.start(app).await;
                    if started.is_err() {
                        cluster.release_lock(name).await;
                    }
                    // Otherwise held until the wake is recorded (`announce_wakes`).
                    return started;
                }
                Ok(false) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(BackendError::Platform(format!(
                            "another replica's wake or stop of {name} did not finish within {}",
                            app.wake_timeout
                        )));
                    }
                    Self::wait_for_news(&mut listener, name, backoff.min(left)).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::warn!(app = name, error = %e, "cannot take the wake lock: waking without it");
                    return self.backends.start(app).await;
                }
            }
        }
    }

    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError> {
        self.backends.stop(app).await
    }

    async fn shutdown(&self) {
        self.backends.shutdown().await;
    }

    fn survives_gateway(&self, app: &AppConfig) -> bool {
        self.backends.survives_gateway(app)
    }
}

/// Ends the wakes this replica holds the lock for, once they are over:
/// the app's record is flushed (so the others find it awake), `p:woke` is
/// published, then the lock released. A failed wake releases it too.
pub(super) async fn announce_wakes(cluster: Cluster, apps: Arc<Apps>) {
    let mut events = apps.lifecycle().telemetry().events.subscribe();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Some(app) = event.app.as_deref() else { continue };
        if !matches!(event.kind, EventKind::Woken { .. } | EventKind::WakeFailed { .. }) || !cluster.holds_lock(app) {
            continue;
        }
        if let Err(e) = apps.flush().await {
            tracing::warn!(app, error = %e, "cannot record the wake in the shared store");
        }
        if matches!(event.kind, EventKind::Woken { .. })
            && let Err(e) = cluster.store().publish_woke(app).await
        {
            tracing::debug!(app, error = %e, "cannot announce the wake; the others poll");
        }
        cluster.release_lock(app).await;
    }
}
