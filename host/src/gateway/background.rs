//! The tasks a running gateway keeps beside its listeners, and the one
//! order in which a shutdown takes everything down.

use super::state::State;
use crate::admin::AdminServer;
use crate::apps::Apps;
use crate::cluster::Cluster;
use crate::discovery::Discovery;
use crate::store::{Recorder, Store};
use std::sync::Arc;
use tokio::task::JoinHandle;

pub(super) struct Background {
    admin: Option<AdminServer>,
    ticker: JoinHandle<()>,
    cluster_tasks: Vec<JoinHandle<()>>,
    flusher: JoinHandle<()>,
    discoveries: Vec<JoinHandle<()>>,
    watcher: JoinHandle<()>,
    cluster: Cluster,
    apps: Arc<Apps>,
    recorder: Recorder,
    store: Store,
}

impl Background {
    /// The flusher, discovery, the cluster's tasks and the ticker. The
    /// policy watcher and the admin server were started by the caller, as
    /// starting them can still fail the start.
    pub(super) fn spawn(state: State, watcher: JoinHandle<()>, admin: Option<AdminServer>) -> Background {
        let State { config, store, cluster, recorder, gate, backends, apps, .. } = state;
        let flusher = tokio::spawn(apps.clone().run_flusher(config.store.flush_interval.0));
        let rules = Arc::new(crate::discovery::rules::Rules::new(&config.rules));
        let discoveries: Vec<JoinHandle<()>> = backends
            .paas()
            .filter_map(|b| Discovery::new(apps.clone(), b.clone(), config.clone(), rules.clone(), gate.clone()))
            .map(|d| tokio::spawn(d.run()))
            .collect();
        // Everything that can fail at start has passed: the history may
        // now record what the start loaded.
        gate.started();
        let cluster_tasks = cluster.spawn(apps.clone(), backends.clone());
        let ticking =
            crate::policy::tick::Ticking { apps: apps.clone(), policy: gate, cluster: cluster.clone(), backends };
        let ticker = tokio::spawn(crate::policy::tick::run(ticking, config.policy.tick.0));
        Background { admin, ticker, cluster_tasks, flusher, discoveries, watcher, cluster, apps, recorder, store }
    }

    /// After the listeners drained: the admin API, the tasks, the cluster
    /// membership, every app the gateway started, the event history, and
    /// the final flush of the store, in that order.
    pub(super) async fn shut_down(self) {
        if let Some(admin) = self.admin {
            admin.shutdown().await;
        }
        self.ticker.abort();
        self.cluster_tasks.iter().for_each(JoinHandle::abort);
        // Another replica takes over the ticks at once.
        self.cluster.leave().await;
        self.flusher.abort();
        self.discoveries.iter().for_each(JoinHandle::abort);
        self.watcher.abort();
        self.apps.stop_all().await;
        // The sleeps of the shutdown are events too.
        self.recorder.finish().await;
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final store flush failed");
        }
        tracing::info!("gateway stopped");
    }
}
