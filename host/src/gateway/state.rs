//! The first step of a start: what a gateway serves from, opened in
//! dependency order. The store first, since policies keep their state in
//! it; a bad policy or params are still refused before any port is bound.

use super::GatewayError;
use super::policies::{Purpose, build_policies};
use crate::apps::Apps;
use crate::backend::{Backend, Backends};
use crate::cluster::{Cluster, ClusterBackend};
use crate::config::{AdminToken, Config};
use crate::policy::PolicyGate;
use crate::policy::watch::PolicyLoader;
use crate::proxy::WaitingPage;
use crate::store::{EventLog, Recorder, Store};
use crate::telemetry::Telemetry;
use crate::upstream::Upstream;
use std::sync::Arc;

pub(super) struct State {
    pub(super) config: Arc<Config>,
    pub(super) store: Store,
    pub(super) telemetry: Telemetry,
    pub(super) cluster: Cluster,
    pub(super) admin_token: Option<AdminToken>,
    pub(super) events: EventLog,
    pub(super) recorder: Recorder,
    pub(super) gate: Arc<PolicyGate>,
    pub(super) backends: Arc<Backends>,
    pub(super) apps: Arc<Apps>,
    pub(super) upstream: Upstream,
    pub(super) waiting_page: WaitingPage,
}

impl State {
    /// The state, and the policy loader that the start spawns once every
    /// port is bound.
    pub(super) async fn open(config: Arc<Config>) -> Result<(State, PolicyLoader), GatewayError> {
        let store = Store::connect(&config.store).await?;
        let telemetry = Telemetry::default();
        let cluster = match store.is_shared() {
            true => {
                let (lease, flush) = (config.store.leader_lease.get_ref().0, config.store.flush_interval.0);
                Cluster::shared(store.clone(), telemetry.clone(), lease, flush)
            }
            false => Cluster::solo(store.clone(), telemetry.clone()),
        };
        tracing::info!(store = store.kind(), at = %store.location(), replica = cluster.replica(), "store open");
        // Before anything else can fail on it: a non-loopback admin
        // listener, or an admin host, without its token is a config error.
        let admin_token = config.admin_token()?;
        let events = store.events(*config.admin.event_retention.get_ref()).await?;
        let recorder = Recorder::spawn(&telemetry.events, events.clone());
        if let Some(recovery) = store.recovered() {
            announce_recovery(&config.store.path, recovery, &telemetry);
        }
        let kv = Arc::new(store.policy_kv());
        let (gate, loader) = build_policies(&config, Purpose::Serve, kv, telemetry.clone()).await?;

        // What a crash left running goes before any app can be woken.
        crate::backend::sweep(&store, &config).await;
        let backends = Arc::new(Backends::from_config(&config, &store).map_err(GatewayError::Backends)?);
        let backend: Arc<dyn Backend> = match cluster.is_shared() {
            true => Arc::new(ClusterBackend::new(backends.clone(), cluster.clone())),
            false => backends.clone(),
        };
        let edge = &config.edge;
        let upstream = Upstream::new(edge.upstream_ca_file.as_deref(), edge.upstream_connect_timeout.0)?;
        let apps = Arc::new(Apps::restore(&config, store.clone(), backend, telemetry.clone(), &upstream).await?);
        // A replica starts from the cluster's view, not from "all asleep".
        cluster.sync_now(&apps, &backends).await;
        let waiting_page = match &edge.waiting_page_template {
            Some(path) => {
                WaitingPage::load(path).map_err(|source| GatewayError::WaitingPage { path: path.clone(), source })?
            }
            None => WaitingPage::default(),
        };
        let state = State {
            config,
            store,
            telemetry,
            cluster,
            admin_token,
            events,
            recorder,
            gate,
            backends,
            apps,
            upstream,
            waiting_page,
        };
        Ok((state, loader))
    }
}

/// Says loudly what a damaged store's recovery lost, in the log and as the
/// fresh history's first event.
fn announce_recovery(path: &std::path::Path, recovery: &crate::store::Recovery, telemetry: &Telemetry) {
    tracing::error!(
        path = %path.display(),
        moved_to = %recovery.moved_to.display(),
        damage = %recovery.damage,
        lost = "app states and activity (every app starts asleep; discovery adopts running PaaS apps again), \
                saved PaaS formations (such an app wakes with 1 web), policy state and the event history",
        "the store was damaged; moved aside and started afresh"
    );
    let kind = crate::telemetry::EventKind::StoreRecovered {
        moved_to: recovery.moved_to.display().to_string(),
        damage: recovery.damage.clone(),
    };
    telemetry.events.emit(None, kind);
}
