//! Every `store.flush_interval`, each replica exchanges with the others
//! through the store, off the request path:
//!
//! - its requests in flight: published with a TTL (a dead replica's expire
//!   with it), and the other replicas' summed into each app's view, so the
//!   leader's policy sees them;
//! - activity: an app with requests in flight here is touched now, so the
//!   flusher sends a fresh timestamp (`ZADD GT`) even for a long download;
//!   the newest activity any replica flushed comes back into every app;
//! - state: a transition another replica recorded (a wake, a sleep) replaces
//!   this replica's older view of a PaaS app. Process apps belong to their
//!   machine and are left alone.
//!
//! A failed exchange marks the store degraded (once); the next good one
//! marks it ok again, and that exchange is the reconciliation.

use super::Cluster;
use crate::apps::{App, Apps};
use crate::backend::{Backend, Backends};
use crate::clock::now_ms;
use crate::config::{AppConfig, BackendKind};
use crate::policy::model::AppState;
use crate::store::{AppRecord, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn run(cluster: Cluster, apps: Arc<Apps>, backends: Arc<Backends>) {
    let mut ticker = tokio::time::interval(cluster.inner.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        cluster.sync_now(&apps, &backends).await;
    }
}

impl Cluster {
    /// One exchange now (also at startup, before serving, so a restarted
    /// replica starts from the cluster's view rather than "all asleep").
    pub(crate) async fn sync_now(&self, apps: &Apps, backends: &Backends) {
        if !self.is_shared() {
            return;
        }
        match self.exchange(apps, backends).await {
            Ok(()) => self.set_degraded(false, None),
            Err(e) => self.set_degraded(true, Some(&e)),
        }
    }

    /// How long this replica's in-flight counts outlive their last
    /// publication: a few intervals, so one slow exchange does not drop them.
    fn in_flight_ttl(&self) -> Duration {
        (self.inner.flush_interval * 3).max(Duration::from_secs(2))
    }

    async fn exchange(&self, apps: &Apps, backends: &Backends) -> Result<(), StoreError> {
        let now = now_ms();
        let mut counts = Vec::new();
        for app in apps.iter() {
            let here = app.local_in_flight();
            if here > 0 {
                app.touch(now);
                counts.push((app.name().to_owned(), here));
            }
        }
        let store = self.store();
        let remote = store.exchange_in_flight(self.replica(), &counts, self.in_flight_ttl(), now).await?;
        for app in apps.iter() {
            app.set_remote_in_flight(remote.get(app.name()).copied().unwrap_or(0));
        }
        let records = store.load_apps().await?;
        for app in apps.iter() {
            if let Some(record) = records.get(app.name()) {
                if let Some(at) = record.last_activity {
                    app.observe_activity(at);
                }
                take_shared_state(&app, record, backends).await;
            }
        }
        Ok(())
    }
}

/// Replaces this replica's view of a PaaS app by a newer transition another
/// replica recorded.
pub(super) async fn take_shared_state(app: &App, record: &AppRecord, backends: &Backends) {
    if !backends.survives_gateway(&app.config) || app.state() == record.state {
        return;
    }
    // Asked only when the states differ: an upstream may cost a platform
    // call (Render, Kubernetes), which must not happen at every flush.
    let upstream = match record.state {
        AppState::Awake => shared_upstream(backends, &app.config).await,
        _ => None,
    };
    if app.apply_shared(record, upstream) {
        tracing::info!(app = app.name(), state = record.state.as_str(), "took the state another replica recorded");
    }
}

/// Where a PaaS app answers, whichever replica woke it.
pub(super) async fn shared_upstream(backends: &Backends, app: &AppConfig) -> Option<http::Uri> {
    match &app.backend {
        BackendKind::Named(name) => backends.get_paas(name)?.upstream_of(app).await.ok(),
        BackendKind::Process => None,
    }
}
