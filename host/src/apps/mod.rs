//! The apps behind the gateway: their live state, how a request is admitted
//! to one, and how they are woken, put to sleep and persisted.

mod app;
mod cooldown;
mod dirty;
mod fine_timer;
mod in_flight;
mod lifecycle;
mod machine;
mod probe;
mod upstream_slots;

pub(crate) use app::App;
pub(crate) use cooldown::{Backoff, retry_after_secs};
pub(crate) use in_flight::InFlight;
pub(crate) use lifecycle::{Admission, AdmitError, Lifecycle, LifecycleOptions};
pub(crate) use machine::{Ask, Effect, Machine, OnRequest, Request};
pub(crate) use probe::Prober;
pub(crate) use upstream_slots::DEFAULT_MAX_UPSTREAM_CONNECTIONS;

use crate::backend::Backend;
use crate::config::Config;
use crate::policy::model::Params;
use crate::store::{AppRecord, Store, StoreError};
use crate::telemetry::Telemetry;
use arc_swap::ArcSwap;
use dirty::DirtyApps;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The apps by name. Shared with the lifecycle, which looks up linked apps.
///
/// Every request looks its app up here, from every worker thread: an
/// `RwLock`'s read lock and unlock each write the lock's cache line, which
/// then bounces between the cores. Readers take a snapshot of the map
/// instead, which writes nothing shared; the rare writer (an app found at
/// runtime) builds the next map under `Apps::writer` and swaps it in. The
/// names are `Arc<str>` so that the copy an insert makes is cheap.
pub(crate) type Registry = Arc<ArcSwap<BTreeMap<Arc<str>, Arc<App>>>>;

pub(crate) struct Apps {
    /// Grows at runtime: discovery adds the apps it finds.
    by_name: Registry,
    /// Held by an insert from its check to its swap, so that two inserts
    /// cannot both add an app of one name, nor one drop the other's app.
    writer: Mutex<()>,
    lifecycle: Arc<Lifecycle>,
    store: Store,
    persist: Arc<Notify>,
    /// The apps changed since the last flush.
    dirty: Arc<DirtyApps>,
    /// The params apps share (see `shared_params`), for the apps found at
    /// runtime too.
    known_params: Mutex<Vec<Arc<Params>>>,
}

/// How many distinct params `shared_params` remembers: apps mostly keep
/// their policy's, and a long list would make the start quadratic.
const KNOWN_PARAMS: usize = 16;

/// `params`, as one of the `known` maps when equal to it, so that apps with
/// the same params share one copy.
fn shared_params(known: &mut Vec<Arc<Params>>, params: Params) -> Arc<Params> {
    if let Some(same) = known.iter().find(|k| ***k == params) {
        return same.clone();
    }
    let params = Arc::new(params);
    if known.len() < KNOWN_PARAMS {
        known.push(params.clone());
    }
    params
}

impl Apps {
    /// Builds the apps from the config and what the store remembers of
    /// them, probing apps through `upstream` and capping the requests
    /// waiting on a waking app as `[edge]` says.
    pub(crate) async fn restore(
        config: &Config,
        store: Store,
        backend: Arc<dyn Backend>,
        telemetry: Telemetry,
        upstream: &crate::upstream::Upstream,
    ) -> Result<Apps, StoreError> {
        let mut records = store.load_apps().await?;
        let persist = Arc::new(Notify::new());
        let dirty = Arc::new(DirtyApps::default());
        let mut by_name = BTreeMap::new();
        let mut known_params = Vec::new();
        for app_config in &config.apps {
            let name = app_config.name().to_owned();
            let record = records.remove(&name);
            if let Some(r) = &record {
                tracing::info!(
                    app = %name,
                    previous_state = r.state.as_str(),
                    state_since = r.state_since,
                    last_activity = r.last_activity,
                    "restored app state"
                );
            }
            let params = shared_params(&mut known_params, app_config.params(&config.policy));
            let app = App::new(app_config.clone(), params, record.as_ref(), dirty.clone());
            by_name.insert(Arc::from(name), Arc::new(app));
        }
        let by_name: Registry = Arc::new(ArcSwap::from_pointee(by_name));
        let options = LifecycleOptions {
            prober: Prober::new(upstream),
            max_waiting: config.edge.max_waiting_per_app,
            backoff: config.edge.failed_wake_backoff(),
            max_upstream_connections: config.edge.max_upstream_connections,
        };
        let lifecycle = Lifecycle::new(backend, by_name.clone(), persist.clone(), telemetry, options);
        let known_params = Mutex::new(known_params);
        Ok(Apps { by_name, writer: Mutex::new(()), lifecycle, store, persist, dirty, known_params })
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<App>> {
        self.by_name.load().get(name).cloned()
    }

    /// A snapshot of the apps, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Arc<App>> + use<> {
        self.by_name.load().values().cloned().collect::<Vec<_>>().into_iter()
    }

    /// Adds an app found at runtime, with what the store remembers of it.
    /// Returns `None` when an app of that name already exists.
    pub(crate) async fn insert(&self, config: crate::config::AppConfig, params: Params) -> Option<Arc<App>> {
        let name = config.name().to_owned();
        let record = match self.store.load_app(&name).await {
            Ok(record) => record,
            Err(e) => {
                tracing::error!(app = %name, error = %e, "cannot read the stored state of a discovered app; starting afresh");
                None
            }
        };
        // Nothing under it can leave the map half made; a poisoned lock is
        // as good as a free one.
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.by_name.load_full();
        if current.contains_key(name.as_str()) {
            return None;
        }
        let params = shared_params(&mut self.known_params.lock().unwrap_or_else(|p| p.into_inner()), params);
        let app = Arc::new(App::new(config, params, record.as_ref(), self.dirty.clone()));
        let mut next = BTreeMap::clone(&current);
        next.insert(Arc::from(name), app.clone());
        self.by_name.store(Arc::new(next));
        Some(app)
    }

    pub(crate) fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Writes `app`'s record now, even if the flusher has already taken it
    /// in hand (it may not have written it yet).
    pub(crate) async fn save(&self, app: &App) -> Result<(), StoreError> {
        self.store.save_apps(&[(app.name().to_owned(), app.record())]).await
    }

    /// Writes every app changed since the last flush.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let apps = self.by_name.load();
        let dirty: Vec<(String, AppRecord)> = self
            .dirty
            .take()
            .iter()
            .filter_map(|config| apps.get(config.name()))
            .filter_map(|app| app.take_dirty_record().map(|r| (app.name().to_owned(), r)))
            .collect();
        drop(apps);
        let result = self.store.save_apps(&dirty).await;
        if result.is_err() {
            for (name, _) in &dirty {
                if let Some(app) = self.get(name) {
                    app.mark_dirty();
                }
            }
        }
        result
    }

    /// Flushes every `interval`, and at once when a state changes. Runs until
    /// the task is dropped.
    pub(crate) async fn run_flusher(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once per outage, not once per interval.
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.persist.notified() => {}
            }
            match self.flush().await {
                Err(e) if !failing => {
                    tracing::error!(error = %e, "cannot persist app state; kept in memory, will retry");
                    failing = true;
                }
                Err(e) => tracing::debug!(error = %e, "cannot persist app state yet"),
                Ok(()) if failing => {
                    tracing::info!("app state persisted again");
                    failing = false;
                }
                Ok(()) => {}
            }
        }
    }

    /// Puts every awake app to sleep and persists the result (shutdown).
    pub(crate) async fn stop_all(&self) {
        let lifecycle = &self.lifecycle;
        // PaaS apps run on without the gateway: left as they are, and
        // adopted again at the next start.
        let apps: Vec<Arc<App>> =
            self.iter().filter(|app| !lifecycle.backend().survives_gateway(&app.config)).collect();
        let stops = apps.iter().map(|app| lifecycle.sleep(app, "gateway shutdown"));
        futures_util::future::join_all(stops).await;
        lifecycle.backend().shutdown().await;
        if let Err(e) = self.flush().await {
            tracing::error!(error = %e, "cannot persist app state at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backends;
    use crate::policy::model::ParamValue;

    /// Apps `a`, `b` and `c` (process apps, never started) restored from a
    /// fresh store in `dir`; `tail` ends the config (the last app's keys).
    async fn three_apps(dir: &std::path::Path, tail: &str) -> (Config, Apps) {
        let app = |name: &str| format!("[[apps]]\nname = \"{name}\"\nbackend = \"process\"\ncommand = [\"true\"]\n");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n[store]\npath = {:?}\n{}{}{}{tail}",
            dir.join("store").display().to_string(),
            app("a"),
            app("b"),
            app("c"),
        );
        let config = Config::parse(&text, "t.toml").unwrap();
        let store = Store::connect(&config.store).await.unwrap();
        let backend = Arc::new(Backends::from_config(&config, &store).unwrap());
        let upstream = crate::upstream::Upstream::new(None, std::time::Duration::from_secs(5)).unwrap();
        let apps = Apps::restore(&config, store, backend, Telemetry::default(), &upstream).await.unwrap();
        (config, apps)
    }

    #[tokio::test]
    async fn apps_share_the_config_and_equal_params() {
        let dir = tempfile::tempdir().unwrap();
        let (config, apps) = three_apps(dir.path(), "[apps.params]\nidle_timeout = \"5m\"\n").await;
        let [a, b, c] = ["a", "b", "c"].map(|name| apps.get(name).unwrap());

        assert!(Arc::ptr_eq(&a.config, &config.apps[0]), "an app keeps the config's entry, not a copy");
        assert!(Arc::ptr_eq(&a.params, &b.params), "equal params are one copy");
        assert!(!Arc::ptr_eq(&a.params, &c.params));
        assert_eq!(c.params.get("idle_timeout"), Some(&ParamValue::Text("5m".into())));
        assert_ne!(a.params.get("idle_timeout"), Some(&ParamValue::Text("5m".into())));

        let mut found = config.apps[0].as_ref().clone();
        found.name = toml::Spanned::new(0..0, "found".to_owned());
        let found = apps.insert(found, config.apps[0].params(&config.policy)).await.unwrap();
        assert!(Arc::ptr_eq(&found.params, &a.params), "an app found at runtime shares equal params too");
    }

    #[tokio::test]
    async fn a_flush_writes_the_apps_changed_since_the_last_one_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let (_config, apps) = three_apps(dir.path(), "").await;
        let [a, b, c] = ["a", "b", "c"].map(|name| apps.get(name).unwrap());
        let activity = |name: &str, records: &std::collections::HashMap<String, AppRecord>| {
            records.get(name).and_then(|r| r.last_activity)
        };

        for at in [1_000, 1_001, 1_002] {
            a.touch(at);
        }
        b.touch(2_000);
        assert_eq!(apps.dirty.len(), 2, "each app listed once, however many touches");
        apps.flush().await.unwrap();
        let records = apps.store.load_apps().await.unwrap();
        assert_eq!((activity("a", &records), activity("b", &records)), (Some(1_002), Some(2_000)));
        assert!(!records.contains_key("c"), "an app that did not change is not written");
        assert_eq!(apps.dirty.len(), 0);

        c.touch(3_000);
        apps.flush().await.unwrap();
        let records = apps.store.load_apps().await.unwrap();
        assert_eq!(activity("c", &records), Some(3_000));
        // A failed flush lists its apps again.
        a.touch(4_000);
        let _ = a.take_dirty_record();
        a.mark_dirty();
        apps.flush().await.unwrap();
        assert_eq!(activity("a", &apps.store.load_apps().await.unwrap()), Some(4_000));
    }

    #[test]
    fn distinct_params_are_remembered_up_to_a_bound() {
        let mut known = Vec::new();
        let params = |i: i64| Params::from([("n".to_owned(), ParamValue::Integer(i))]);
        for i in 0..(KNOWN_PARAMS as i64 + 4) {
            shared_params(&mut known, params(i));
        }
        assert_eq!(known.len(), KNOWN_PARAMS);
        let first = shared_params(&mut known, params(0));
        assert!(Arc::ptr_eq(&first, &known[0]));
        let beyond = shared_params(&mut known, params(KNOWN_PARAMS as i64 + 1));
        assert_eq!(*beyond, params(KNOWN_PARAMS as i64 + 1), "past the bound, a copy of its own");
    }
}
