//! Discovery: every `discovery_interval`, each PaaS backend's app list is
//! read. New apps that pass the allow/ignore regexes are added to the
//! registry (named, configured and linked by the rules); an app found running
//! at its first sighting is adopted as awake and timed from then; an app
//! stopped from outside the gateway is marked asleep. The gateway's own app
//! is never served.

pub(crate) mod rules;

use crate::apps::{App, Apps};
use crate::backend::api::ApiError;
use crate::backend::{PaasBackend, RemoteApp};
use crate::clock::now_ms;
use crate::config::{AppConfig, BackendConfig, BackendKind, Config, ConfigDuration, DiscoveredApp, PlatformKind};
use crate::policy::PolicyGate;
use crate::policy::model::AppState;
use crate::telemetry::EventKind;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use regex::Regex;
use rules::Rules;
use std::collections::HashSet;
use std::sync::Arc;

pub(crate) struct Discovery {
    apps: Arc<Apps>,
    backend: Arc<PaasBackend>,
    config: BackendConfig,
    global: Arc<Config>,
    rules: Arc<Rules>,
    gate: Arc<PolicyGate>,
    allow: Vec<Regex>,
    ignore: Vec<Regex>,
    gateway_app: Option<String>,
}

/// Fills, in the `[[apps]]` of PaaS backends, what the rules say and the
/// app entry does not (policy, params, links, pricing).
pub(crate) fn apply_rules_to_config(config: &mut Config) {
    let rules = Rules::new(&config.rules);
    for app in &mut config.apps {
        let BackendKind::Named(backend) = &app.backend else { continue };
        if let Some(applied) = rules.apply(backend, app.remote()) {
            std::sync::Arc::make_mut(app).apply_rule(
                applied.policy,
                &applied.params,
                applied.links,
                (applied.hourly_cost, applied.containers),
            );
        }
    }
}

impl Discovery {
    pub(crate) fn new(
        apps: Arc<Apps>,
        backend: Arc<PaasBackend>,
        global: Arc<Config>,
        rules: Arc<Rules>,
        gate: Arc<PolicyGate>,
    ) -> Option<Discovery> {
        let config = global.backends.iter().find(|b| b.name() == backend.name())?.clone();
        let compile = |list: &[toml::Spanned<String>]| -> Vec<Regex> {
            list.iter().filter_map(|p| Regex::new(&format!("^(?:{})$", p.get_ref())).ok()).collect()
        };
        let gateway_app = config.gateway_app.clone().or_else(|| {
            let var = match config.kind {
                PlatformKind::Scalingo => "APP",
                PlatformKind::Heroku => "HEROKU_APP_NAME",
                PlatformKind::CleverCloud => "APP_ID",
                PlatformKind::Render => "RENDER_SERVICE_ID",
                // The gateway's own Deployment carries no paastis label.
                PlatformKind::Kubernetes => return None,
            };
            std::env::var(var).ok().filter(|v| !v.is_empty())
        });
        // One list call per round (Heroku: plus one per new app); leave most
        // of the budget to wakes and sleeps.
        let rounds_per_minute = 60.0 / config.discovery_interval.0.as_secs_f64();
        if rounds_per_minute > f64::from(config.rate_limit()) / 2.0 {
            tracing::warn!(
                backend = config.name(),
                discovery_interval = %config.discovery_interval,
                rate_limit = config.rate_limit(),
                "discovery would use more than half of the API rate limit; calls will be spaced by the limiter"
            );
        }
        Some(Discovery {
            allow: compile(&config.allow),
            ignore: compile(&config.ignore),
            apps,
            backend,
            config,
            global,
            rules,
            gate,
            gateway_app,
        })
    }

    /// Follows the platform's changes when it pushes them, else runs a
    /// round at once, then every interval, until the task is dropped.
    pub(crate) async fn run(self) {
        let mut seen = HashSet::new();
        if let Some(changes) = self.backend.watch() {
            return self.follow(changes, &mut seen).await;
        }
        let mut ticker = tokio::time::interval(self.config.discovery_interval.0);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.round(&mut seen).await;
        }
    }

    fn wanted(&self, remote: &RemoteApp) -> bool {
        let name = remote.name.as_str();
        (self.allow.is_empty() || self.allow.iter().any(|r| r.is_match(name)))
            && !self.ignore.iter().any(|r| r.is_match(name))
    }

    fn known(&self, remote: &RemoteApp) -> Option<Arc<App>> {
        let backend = self.backend.name();
        self.apps.iter().find(|app| app.config.backend.name() == backend && app.config.remote() == remote.id)
    }

    async fn round(&self, seen: &mut HashSet<String>) {
        let fetched_at = now_ms();
        let listed = match self.backend.list().await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(backend = self.backend.name(), error = %e, "discovery failed; will try again");
                return;
            }
        };
        for remote in listed {
            self.observe(remote, seen, fetched_at).await;
        }
    }

    /// Applies each change the platform pushes (a watch: Kubernetes). A
    /// change that disagrees with what the gateway thinks is read again
    /// before acting on it, since an event may be older than the gateway's
    /// own last sleep or wake.
    async fn follow(&self, mut changes: BoxStream<'static, Result<RemoteApp, ApiError>>, seen: &mut HashSet<String>) {
        while let Some(change) = changes.next().await {
            let mut remote = match change {
                Ok(remote) => remote,
                Err(e) => {
                    tracing::warn!(backend = self.backend.name(), error = %e, "discovery watch failed; it resumes by itself");
                    continue;
                }
            };
            // Taken before any read, as a listing's time is.
            let seen_at = now_ms();
            if let (Some(app), Some(running)) = (self.known(&remote), remote.running)
                && seen.contains(&remote.id)
                && running != (app.view().state == AppState::Awake)
            {
                match self.backend.is_running(&remote.id).await {
                    Ok(now) => remote.running = Some(now),
                    Err(e) => {
                        tracing::warn!(app = app.name(), error = %e, "cannot read the app's state again");
                        continue;
                    }
                }
            }
            self.observe(remote, seen, seen_at).await;
        }
        tracing::warn!(backend = self.backend.name(), "discovery watch ended");
    }

    /// One app as the platform shows it at `fetched_at`: added when new and
    /// wanted, adopted when running, marked asleep when stopped outside.
    async fn observe(
        &self,
        remote: RemoteApp,
        seen: &mut HashSet<String>,
        fetched_at: crate::policy::model::Timestamp,
    ) {
        if self.gateway_app.as_deref().is_some_and(|own| own == remote.name || own == remote.id) {
            return;
        }
        let app = match self.known(&remote) {
            Some(app) => app,
            None if self.config.discover && self.wanted(&remote) => match self.add(&remote).await {
                Some(app) => app,
                None => return,
            },
            None => return,
        };
        if seen.insert(remote.id.clone()) {
            self.first_sighting(&app, &remote).await;
        } else if remote.running == Some(false) && self.apps.lifecycle().stopped_outside(&app, fetched_at) {
            tracing::warn!(app = app.name(), backend = self.backend.name(), "app stopped outside the gateway");
        } else if remote.running == Some(true) && app.view().state_since < fetched_at {
            // Asleep for the gateway but running (a stop that failed, or
            // a start from the platform's console): adopt it again.
            self.first_sighting(&app, &remote).await;
        }
    }

    /// Adopts an app that already runs: awake, its idle time counted from now.
    async fn first_sighting(&self, app: &Arc<App>, remote: &RemoteApp) {
        let running = match remote.running {
            Some(running) => running,
            None => match self.backend.is_running(&remote.id).await {
                Ok(running) => running,
                Err(e) => {
                    tracing::warn!(app = app.name(), error = %e, "cannot read the app's formation; it stays asleep");
                    return;
                }
            },
        };
        if !running {
            return;
        }
        match self.backend.upstream_of(&app.config).await {
            Ok(upstream) => {
                if self.apps.lifecycle().adopt(app, upstream) {
                    tracing::info!(app = app.name(), backend = self.backend.name(), "adopted running app");
                }
            }
            Err(e) => tracing::warn!(app = app.name(), error = %e, "cannot adopt the running app"),
        }
    }

    async fn add(&self, remote: &RemoteApp) -> Option<Arc<App>> {
        let applied = self.rules.apply(self.backend.name(), &remote.name).unwrap_or_default();
        let name = applied.name.clone().unwrap_or_else(|| host_label(&remote.name));
        if !is_host_label(&name) {
            tracing::warn!(backend = self.backend.name(), remote = %remote.name, name, "discovered app has no valid host label; ignored (add a rule with `name`)");
            return None;
        }
        let spec = DiscoveredApp {
            name: name.clone(),
            backend: self.backend.name().to_owned(),
            remote: remote.id.clone(),
            upstream: applied.upstream.or_else(|| remote.upstream.clone()),
            policy: applied.policy.clone(),
            params: applied.params,
            links: applied.links,
            hourly_cost: applied.hourly_cost,
            containers: applied.containers,
            ready_path: self.config.ready_path.clone().unwrap_or_else(|| "/".to_owned()),
            wake_timeout: self.config.wake_timeout.unwrap_or(ConfigDuration::from_secs(60)),
        };
        let config = AppConfig::discovered(spec);
        let params = config.params(&self.global.policy);
        let Some(app) = self.apps.insert(config, params).await else {
            tracing::warn!(app = %name, backend = self.backend.name(), remote = %remote.name, "discovered app's name is already taken; ignored");
            return None;
        };
        if let Some(policy) = &applied.policy {
            self.gate.set_policy(&name, policy);
        }
        tracing::info!(app = %name, backend = self.backend.name(), remote = %remote.name, "app discovered");
        let kind = EventKind::Discovered { backend: self.backend.name().to_owned() };
        self.apps.lifecycle().telemetry().events.emit(Some(&name), kind);
        Some(app)
    }
}

/// A platform name as a host label: lowercase, anything else becomes '-'.
fn host_label(name: &str) -> String {
    let mapped: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    mapped.trim_matches('-').chars().take(63).collect::<String>().trim_end_matches('-').to_owned()
}

fn is_host_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_become_host_labels() {
        assert_eq!(host_label("My Shop (prod)"), "my-shop--prod");
        assert!(is_host_label("review-pr1-front"));
        assert!(!is_host_label("-x"));
    }
}
