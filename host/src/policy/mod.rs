//! Which policy serves which app, and calling it safely.
//!
//! Each app is served by the policy it names (`policy = ...`), else by the
//! default policy, else by the built-in `inactivity`: if a policy is missing
//! (its file deleted) or was reverted for failing, the next one in that chain
//! serves. Calls apply the documented fallbacks, so a broken policy never
//! fails a request or stops the ticker:
//! - a failed request call forwards the request and counts it as activity;
//! - a failed tick takes no action for that policy's apps.
//!
//! A version that fails `policy.max_failures` calls in a row is reverted: its
//! apps go to the next policy in the chain until a new version is loaded.

pub(crate) mod builtin;
mod catalog;
mod check;
mod request_source;
mod startup;
pub(crate) mod tick;
mod tick_health;
pub(crate) mod watch;

#[cfg(test)]
mod embedded_tests;
#[cfg(test)]
mod serving_tests;

// The sandbox crate (`paastis-sandbox`, the only crate that names wasmtime)
// under the names the gateway uses.
pub(crate) use paastis_sandbox::contract as model;
pub(crate) use paastis_sandbox::kv;
pub(crate) use paastis_sandbox::{
    Isolation, KvBackend, LoadedPolicy, MemoryKv, PolicyError, PolicyRuntime, SandboxLimits,
};

pub(crate) use catalog::{Entry, Origin};
pub(crate) use check::{ParamsProbe, check_config_params, check_params};
pub(crate) use startup::require_named_policies;
pub(crate) use tick_health::{THE_TICK, TickHealth};

use crate::apps::App;
use crate::clock::now_ms;
use crate::config::Config;
use crate::telemetry::{EventKind, Telemetry};
use arc_swap::ArcSwap;
use builtin::DEFAULT_POLICY;
use catalog::Catalog;
use hyper::Request;
use model::{AppView, RequestDecision, TickPlan};
use request_source::HttpRequest;
use rustc_hash::FxBuildHasher;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A loaded policy as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PolicyInfo {
    pub name: String,
    pub sha256: String,
    /// `builtin`, or the file it was loaded from.
    pub origin: String,
    /// When this version was loaded (ms since the epoch).
    pub since: crate::policy::model::Timestamp,
    /// Reverted for failing: loaded, but serving no app.
    pub reverted: bool,
    /// The apps it serves now.
    pub serves: Vec<String>,
}

/// An app served by another policy than the one it asks for: its own
/// (or the default) went missing or was reverted at runtime, and the next
/// policy in the chain serves it. Shown in `/apps`, `/healthz` and the
/// dashboard, logged as an error and recorded as a `policy_fallback` event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Degraded {
    /// The policy the app asks for: its own, else the default.
    pub wanted: String,
    /// The policy serving it instead.
    pub serving: String,
    /// Why the wanted one does not serve.
    pub reason: String,
}

/// What was last logged as serving one app.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    version: Arc<str>,
    degraded: Option<Degraded>,
}

pub(crate) struct PolicyGate {
    catalog: ArcSwap<Catalog>,
    builtins: HashMap<String, Arc<Entry>>,
    /// Serves when nothing else can; never reverted.
    last_resort: Arc<Entry>,
    default_name: String,
    /// The policy each app asks for, when it names one. Fx-hashed, as the
    /// catalog: looked up on every request, by names from the config.
    wanted: HashMap<String, String, FxBuildHasher>,
    /// The same for apps found at runtime (discovery and rules).
    discovered: arc_swap::ArcSwap<HashMap<String, String, FxBuildHasher>>,
    call_on_request: bool,
    max_failures: u32,
    /// What was last logged as serving each app, to log changes only.
    serving: Mutex<HashMap<String, Served>>,
    /// Events of a start in progress, until `started`.
    held: Mutex<Option<Vec<HeldEvent>>>,
    config: Arc<Config>,
    telemetry: Telemetry,
    tick_health: TickHealth,
}

/// An event of a start in progress: the app it is about, if any, and what.
type HeldEvent = (Option<String>, EventKind);

/// Apps that a change of version logs one line each for, at most; beyond,
/// one line per version says how many (a start with 10,000 apps wrote
/// 10,000 lines) and names the first of them.
const SERVED_LINES: usize = 20;

/// Apps shown to a policy in one `on-tick` call at most. A tick over more
/// apps than this makes several calls, each with the usual CPU budget and
/// memory cap, so that no number of apps makes the tick exceed them (which
/// would put no app to sleep ever again).
pub(crate) const TICK_BATCH: usize = 500;

impl PolicyGate {
    /// A gate with the built-in policies; `builtin` must hold the default
    /// built-in (`inactivity`), the last resort.
    pub(crate) fn new(config: Arc<Config>, builtins: Vec<LoadedPolicy>, telemetry: Telemetry) -> Option<PolicyGate> {
        let builtins: HashMap<String, Arc<Entry>> =
            builtins.into_iter().map(|p| (p.name().to_owned(), Entry::new(p, Origin::Builtin))).collect();
        let last_resort = builtins.get(DEFAULT_POLICY)?.clone();
        // Built-ins never go through `install`, but operators still see in
        // the event history which versions the gateway started with.
        let held = builtins
            .iter()
            .map(|(name, entry)| {
                let sha256 = entry.policy.sha256().to_owned();
                (None, EventKind::PolicyLoaded { policy: name.clone(), sha256, origin: "builtin".into() })
            })
            .collect();
        let mut catalog = Catalog::default();
        for (name, entry) in &builtins {
            catalog = catalog.with(name, entry.clone());
        }
        Some(PolicyGate {
            catalog: ArcSwap::from_pointee(catalog),
            builtins,
            last_resort,
            default_name: config.policy.default_name(),
            wanted: config.apps.iter().filter_map(|a| Some((a.name().to_owned(), a.policy()?.to_owned()))).collect(),
            discovered: arc_swap::ArcSwap::default(),
            call_on_request: config.policy.call_on_request,
            max_failures: config.policy.max_failures.max(1),
            serving: Mutex::new(HashMap::new()),
            held: Mutex::new(Some(held)),
            config,
            telemetry,
            tick_health: TickHealth::default(),
        })
    }

    /// Emits an event; before `started`, holds it: a start that fails (a
    /// refused policy, a port in use) leaves nothing in the event history.
    pub(crate) fn emit(&self, app: Option<&str>, kind: EventKind) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match held.as_mut() {
            Some(queue) => queue.push((app.map(str::to_owned), kind)),
            None => self.telemetry.events.emit(app, kind),
        }
    }

    /// The gateway is up: emits the events held since the start began, in
    /// order, and every later one at once.
    pub(crate) fn started(&self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for (app, kind) in held.take().unwrap_or_default() {
            self.telemetry.events.emit(app.as_deref(), kind);
        }
    }

    /// Which policies' ticks fail now.
    pub(crate) fn tick_health(&self) -> &TickHealth {
        &self.tick_health
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// True when the catalog holds this policy (not reverted).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.catalog.load().get(name).is_some()
    }

    pub(crate) fn loaded_version(&self, name: &str) -> Option<String> {
        self.catalog.load().get_any(name).map(|e| e.policy.sha256().to_owned())
    }

    pub(crate) fn names_from_dir(&self) -> Vec<String> {
        self.catalog.load().names_from_dir()
    }

    /// Every loaded policy, by name, with which of `apps` it serves now
    /// (the registry's names: apps come from the config and from discovery).
    pub(crate) fn policies(&self, apps: &[String]) -> Vec<PolicyInfo> {
        let catalog = self.catalog.load();
        let mut out: Vec<PolicyInfo> = catalog
            .entries()
            .map(|(name, entry)| PolicyInfo {
                name: name.clone(),
                sha256: entry.policy.sha256().to_owned(),
                origin: match &entry.origin {
                    Origin::Builtin => "builtin".to_owned(),
                    Origin::File(path) | Origin::Dir(path) => path.display().to_string(),
                },
                since: entry.loaded_at,
                reverted: entry.is_reverted(),
                serves: apps
                    .iter()
                    .filter(|app| Arc::ptr_eq(&self.resolve_in(&catalog, app), entry))
                    .cloned()
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The policy that serves `app` now.
    pub(crate) fn resolve(&self, app: &str) -> Arc<Entry> {
        self.resolve_in(&self.catalog.load(), app)
    }

    /// The policy `app` asks for: its own, else the default.
    fn wanted(&self, app: &str) -> String {
        self.with_wanted(app, str::to_owned)
    }

    /// `f` of the policy `app` asks for, without copying its name: the tick
    /// resolves every app.
    fn with_wanted<R>(&self, app: &str, f: impl FnOnce(&str) -> R) -> R {
        if let Some(wanted) = self.wanted.get(app) {
            return f(wanted);
        }
        // A snapshot, not a lock: every request of an app discovery found,
        // or of one the config gives no policy, reads it.
        let discovered = self.discovered.load();
        f(discovered.get(app).unwrap_or(&self.default_name))
    }

    fn resolve_in(&self, catalog: &Catalog, app: &str) -> Arc<Entry> {
        self.with_wanted(app, |wanted| {
            catalog.get(wanted).or_else(|| catalog.get(&self.default_name)).unwrap_or(&self.last_resort).clone()
        })
    }

    /// Whether `app` is served by another policy than the one it asks for.
    pub(crate) fn degraded(&self, app: &str) -> Option<Degraded> {
        self.degraded_in(&self.catalog.load(), app)
    }

    fn degraded_in(&self, catalog: &Catalog, app: &str) -> Option<Degraded> {
        if self.with_wanted(app, |wanted| catalog.get(wanted).is_some()) {
            return None;
        }
        let wanted = self.wanted(app);
        let reason = match catalog.get_any(&wanted) {
            Some(_) => "it was reverted after failing policy.max_failures calls in a row".to_owned(),
            None => match &self.config.policy.dir {
                Some(dir) => format!("it is not loaded: {}/{wanted}.wasm was deleted or refused", dir.display()),
                None => "it is not loaded".to_owned(),
            },
        };
        let serving = self.resolve_in(catalog, app).policy.name().to_owned();
        Some(Degraded { wanted, serving, reason })
    }

    /// Serves an app found at runtime with the policy its rule names.
    pub(crate) fn set_policy(&self, app: &str, policy: &str) {
        self.discovered.rcu(|known| {
            let mut known = HashMap::clone(known);
            known.insert(app.to_owned(), policy.to_owned());
            known
        });
        self.log_serving();
    }

    /// Installs a version, atomically for every app it serves.
    pub(crate) fn install(&self, name: &str, policy: LoadedPolicy, origin: Origin) {
        let previous = self.loaded_version(name);
        tracing::info!(
            policy = name,
            sha256 = policy.sha256(),
            code = policy.compiled().as_str(),
            previous = previous.as_deref().unwrap_or("none"),
            origin = ?origin,
            "policy loaded"
        );
        let origin_text = match &origin {
            Origin::Builtin => "builtin".to_owned(),
            Origin::File(path) | Origin::Dir(path) => path.display().to_string(),
        };
        let kind = EventKind::PolicyLoaded {
            policy: name.to_owned(),
            sha256: policy.sha256().to_owned(),
            origin: origin_text,
        };
        self.emit(None, kind);
        let entry = Entry::new(policy, origin);
        self.catalog.rcu(|catalog| catalog.with(name, entry.clone()));
        self.log_serving();
    }

    /// Removes a policy (its file was deleted); its apps fall back.
    pub(crate) fn remove(&self, name: &str) {
        let builtin = self.builtins.get(name).cloned();
        self.catalog.rcu(|catalog| catalog.without(name, builtin.clone()));
        tracing::info!(policy = name, "policy removed; its apps fall back to the default policy");
        self.emit(None, EventKind::PolicyRemoved { policy: name.to_owned() });
        self.log_serving();
    }

    /// Logs, for each app whose serving version changed, which one serves it;
    /// an app that falls back from the policy it asks for is an error and an
    /// event (`policy_fallback`), and so is its return (`policy_restored`).
    pub(crate) fn log_serving(&self) {
        let catalog = self.catalog.load();
        let mut apps: Vec<String> = self.config.apps.iter().map(|a| a.name().to_owned()).collect();
        apps.extend(self.discovered.load().keys().cloned());
        let mut serving = self.serving.lock().unwrap_or_else(|p| p.into_inner());
        let mut served: Vec<(Arc<Entry>, Vec<String>)> = Vec::new();
        for app in apps {
            let entry = self.resolve_in(&catalog, &app);
            let now = Served { version: entry.version.clone(), degraded: self.degraded_in(&catalog, &app) };
            let before = serving.get(&app);
            if before == Some(&now) {
                continue;
            }
            let was_degraded = before.and_then(|b| b.degraded.as_ref());
            match (&now.degraded, was_degraded) {
                (Some(degraded), previous) if previous != Some(degraded) => {
                    tracing::error!(
                        app,
                        policy = degraded.wanted,
                        serving = degraded.serving,
                        reason = degraded.reason,
                        "app falls back to another policy: the one it asks for cannot serve it"
                    );
                    let kind = EventKind::PolicyFallback {
                        policy: degraded.wanted.clone(),
                        serving: degraded.serving.clone(),
                        reason: degraded.reason.clone(),
                    };
                    self.emit(Some(&app), kind);
                }
                (None, Some(previous)) => {
                    tracing::info!(app, policy = previous.wanted, "app served by its own policy again");
                    let kind = EventKind::PolicyRestored { policy: previous.wanted.clone() };
                    self.emit(Some(&app), kind);
                }
                _ => {}
            }
            match served.iter_mut().find(|(e, _)| Arc::ptr_eq(e, &entry)) {
                Some((_, apps)) => apps.push(app.clone()),
                None => served.push((entry, vec![app.clone()])),
            }
            serving.insert(app, now);
        }
        drop(serving);
        for (entry, apps) in served {
            let (policy, sha256) = (entry.policy.name(), entry.policy.sha256());
            if apps.len() <= SERVED_LINES {
                for app in apps {
                    tracing::info!(app, policy, sha256, "app served by policy");
                }
            } else {
                let first = apps[..SERVED_LINES].join(", ");
                tracing::info!(policy, sha256, apps = apps.len(), first, "apps served by policy");
            }
        }
    }

    fn failed(&self, entry: &Entry, phase: &'static str) {
        self.telemetry.metrics.policy_failed(entry.policy.name(), phase);
        let in_a_row = entry.failed();
        let is_last_resort = std::ptr::eq(entry, Arc::as_ptr(&self.last_resort));
        if in_a_row >= self.max_failures && !is_last_resort && entry.revert() {
            tracing::error!(
                policy = entry.policy.name(),
                sha256 = entry.policy.sha256(),
                failures = in_a_row,
                "policy keeps failing; reverted, its apps go back to the default policy until a new version lands"
            );
            let kind = EventKind::PolicyReverted {
                policy: entry.policy.name().to_owned(),
                sha256: entry.policy.sha256().to_owned(),
                failures: in_a_row,
            };
            self.emit(None, kind);
            self.log_serving();
        }
    }

    /// `client` is the client's address as text, as `IpAddr`'s `Display` writes it.
    pub(crate) async fn on_request<B>(&self, app: &App, request: &Request<B>, client: &str) -> RequestDecision {
        if !self.call_on_request {
            return RequestDecision::Forward;
        }
        let entry = self.resolve(app.name());
        let started = std::time::Instant::now();
        let request = HttpRequest::new(request, client);
        let result = entry.policy.on_request_ref(now_ms(), app.view_ref(), &request).await;
        self.telemetry.metrics.policy_call("request", started.elapsed());
        match result {
            Ok(decision) => {
                entry.succeeded();
                decision
            }
            Err(e) => {
                tracing::warn!(policy = entry.policy.name(), app = app.name(), error = %e, "policy request call failed; forwarding");
                self.failed(&entry, "request");
                RequestDecision::Forward
            }
        }
    }

    /// Asks each policy about the apps it serves, and merges the plans. A
    /// policy can only act on its own apps. A policy with more than
    /// `TICK_BATCH` apps is asked in several calls; a call that fails takes
    /// no action for its apps, counts once towards the policy's failures, and
    /// raises the tick alert (see `tick_health`).
    pub(crate) async fn on_tick(&self, apps: Vec<AppView>) -> TickPlan {
        let catalog = self.catalog.load();
        let mut groups: Vec<(Arc<Entry>, Vec<AppView>)> = Vec::new();
        for view in apps {
            let entry = self.resolve_in(&catalog, &view.name);
            match groups.iter_mut().find(|(e, _)| Arc::ptr_eq(e, &entry)) {
                Some((_, views)) => views.push(view),
                None => groups.push((entry, vec![view])),
            }
        }
        let serving: HashSet<String> = groups.iter().map(|(entry, _)| entry.policy.name().to_owned()).collect();
        self.tick_health.forget_all_but(&serving.iter().map(String::as_str).collect(), &self.telemetry.events);
        let mut plan = TickPlan::default();
        for (entry, views) in groups {
            let mut failure = None;
            for (i, batch) in views.chunks(TICK_BATCH).enumerate() {
                if i > 0 {
                    // A tick over many apps leaves room to the requests.
                    tokio::task::yield_now().await;
                }
                let started = std::time::Instant::now();
                let result = entry.policy.on_tick(now_ms(), batch).await;
                self.telemetry.metrics.policy_call("tick", started.elapsed());
                match result {
                    Ok(own) => {
                        let governs: HashSet<&str> = batch.iter().map(|v| v.name.as_str()).collect();
                        plan.sleep.extend(own.sleep.into_iter().filter(|name| governs.contains(name.as_str())));
                        plan.wake.extend(own.wake.into_iter().filter(|name| governs.contains(name.as_str())));
                    }
                    Err(e) => {
                        tracing::warn!(policy = entry.policy.name(), error = %e, "policy tick failed; taking no action");
                        failure.get_or_insert(e.to_string());
                    }
                }
            }
            let events = &self.telemetry.events;
            match failure {
                None => {
                    entry.succeeded();
                    self.tick_health.succeeded(entry.policy.name(), events);
                }
                Some(error) => {
                    self.tick_health.failed(entry.policy.name(), &error, events);
                    self.failed(&entry, "tick");
                }
            }
        }
        plan
    }
}
