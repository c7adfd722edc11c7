//! A PaaS app as a `Backend`: sleep saves the formation then scales every
//! process type to zero; wake restores exactly the saved formation and
//! follows the platform's operation to its end. One operation per app at a
//! time; after a failed one the app's state is read back from the API, so the
//! log (and the next attempt) start from what the platform really runs.
//!
//! Platforms differ in where the size to restore lives (`SavedSize`): the
//! gateway's store for Scalingo, Heroku and Clever Cloud; the store, but only
//! until the next wake, for Render (its presence says the gateway suspended
//! the service); the workload itself for Kubernetes (an annotation written in
//! the same PATCH as the scale to zero).

use super::api::ApiError;
use super::{Backend, BackendError, Running};
use crate::config::AppConfig;
use crate::store::{Formation, Store};
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An app as a platform lists it.
#[derive(Debug, Clone)]
pub(crate) struct RemoteApp {
    /// What the API calls take: the name (Scalingo, Heroku), the id (Clever
    /// Cloud, Render) or `kind/namespace/name` (Kubernetes).
    pub id: String,
    /// The human name, from which the host label is made.
    pub name: String,
    /// Whether it runs now; `None` when the list does not tell.
    pub running: Option<bool>,
    /// Where its traffic goes, when the list says (Render's service URL, a
    /// Kubernetes annotation).
    pub upstream: Option<String>,
}

/// Where the size to restore at wake is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SavedSize {
    /// In the gateway's store, written before the scale to zero and kept.
    Store,
    /// In the gateway's store, and forgotten once the app is woken: a saved
    /// size then also says "the gateway put this app to sleep" (Render).
    StoreUntilWake,
    /// On the platform, written by `sleep` itself (Kubernetes).
    Platform,
}

#[async_trait::async_trait]
pub(crate) trait Platform: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError>;
    /// The current amount of each process type.
    async fn formation(&self, app: &str) -> Result<Formation, ApiError>;
    /// Applies `target` and returns once the platform says it is done.
    async fn scale(&self, app: &str, target: &Formation) -> Result<(), ApiError>;
    /// Where the app's traffic goes when nothing in the config says.
    async fn upstream(&self, app: &str) -> Result<String, ApiError>;
    /// Whether the app serves now (discovery's adoption): by default, any
    /// process type above zero.
    async fn is_running(&self, app: &str) -> Result<bool, ApiError> {
        self.formation(app).await.map(|f| !is_zero(&f))
    }
    /// A short description of what runs, for the log after a failure.
    async fn describe(&self, app: &str) -> Result<String, ApiError> {
        self.formation(app).await.map(|f| format!("{f:?}"))
    }
    fn saved_size(&self) -> SavedSize {
        SavedSize::Store
    }
    /// Brings the app back to `target` (the saved size, else what runs, else
    /// the least that serves). `slept_by_gateway`: a size saved by the
    /// gateway's own sleep was found (always false with `SavedSize::Platform`).
    async fn wake(&self, app: &str, target: &Formation, slept_by_gateway: bool) -> Result<(), ApiError> {
        let _ = slept_by_gateway;
        self.scale(app, target).await
    }
    /// Puts the app to sleep; `current` is what it runs now (not zero).
    async fn sleep(&self, app: &str, current: &Formation) -> Result<(), ApiError> {
        self.scale(app, &zero(current)).await
    }
    /// The app list as it changes, for platforms that can push changes
    /// (Kubernetes); discovery then follows it rather than polling `list`.
    fn watch(&self) -> Option<BoxStream<'static, Result<RemoteApp, ApiError>>> {
        None
    }
}

/// Every type of `formation` at zero.
pub(crate) fn zero(formation: &Formation) -> Formation {
    formation.keys().map(|k| (k.clone(), 0)).collect()
}

pub(crate) struct PaasBackend {
    name: String,
    platform: Box<dyn Platform>,
    store: Store,
    upstream_template: Option<String>,
    /// One operation per app at a time.
    ops: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub(crate) fn is_zero(formation: &Formation) -> bool {
    formation.values().all(|n| *n == 0)
}

/// The formation to wake into when none was saved: one `web` (or one of
/// the first type), the least that serves traffic.
fn minimal(current: &Formation) -> Formation {
    let mut target = zero(current);
    let web = if target.contains_key("web") || target.is_empty() {
        "web".to_owned()
    } else {
        target.keys().next().cloned().unwrap_or_else(|| "web".to_owned())
    };
    target.insert(web, 1);
    target
}

/// Equal once types missing on one side count as zero.
fn same(a: &Formation, b: &Formation) -> bool {
    a.keys().chain(b.keys()).all(|k| a.get(k).copied().unwrap_or(0) == b.get(k).copied().unwrap_or(0))
}

impl PaasBackend {
    pub(crate) fn new(
        name: &str,
        platform: Box<dyn Platform>,
        store: Store,
        upstream_template: Option<String>,
    ) -> Self {
        PaasBackend { name: name.to_owned(), platform, store, upstream_template, ops: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        self.platform.list().await
    }

    pub(crate) fn watch(&self) -> Option<BoxStream<'static, Result<RemoteApp, ApiError>>> {
        self.platform.watch()
    }

    pub(crate) async fn is_running(&self, remote: &str) -> Result<bool, ApiError> {
        self.platform.is_running(remote).await
    }

    /// Where the app's traffic goes: its own override, the backend's
    /// template, or what the platform says.
    pub(crate) async fn upstream_of(&self, app: &AppConfig) -> Result<http::Uri, BackendError> {
        let text = match (app.upstream(), &self.upstream_template) {
            (Some(own), _) => own.to_owned(),
            (None, Some(template)) => template.replace("{app}", app.remote()),
            (None, None) => self.platform.upstream(app.remote()).await.map_err(|e| self.failed(e))?,
        };
        text.parse().map_err(|e| BackendError::Platform(format!("bad upstream {text:?} for {}: {e}", app.name())))
    }

    fn op_lock(&self, remote: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        ops.entry(remote.to_owned()).or_default().clone()
    }

    fn failed(&self, e: ApiError) -> BackendError {
        BackendError::Platform(e.to_string())
    }

    /// After a failed operation: what does the platform run now?
    async fn reconcile(&self, app: &AppConfig, operation: &str) {
        match self.platform.describe(app.remote()).await {
            Ok(state) => {
                tracing::warn!(app = app.name(), backend = %self.name, operation, state = %state, "app state after failed operation")
            }
            Err(e) => tracing::error!(
                app = app.name(),
                backend = %self.name,
                operation,
                error = %e,
                "cannot read the app state after a failed operation"
            ),
        }
    }

    /// The size the gateway saved before its last sleep, if it reads it.
    async fn saved(&self, app: &AppConfig) -> Option<Formation> {
        if self.platform.saved_size() == SavedSize::Platform {
            return None;
        }
        match self.store.load_formation(&self.name, app.remote()).await {
            Ok(saved) => saved.filter(|f| !is_zero(f)),
            Err(e) => {
                tracing::error!(app = app.name(), error = %e, "cannot read the saved formation; waking with the current one");
                None
            }
        }
    }

    async fn wake(&self, app: &AppConfig) -> Result<(), BackendError> {
        let remote = app.remote();
        let current = self.platform.formation(remote).await.map_err(|e| self.failed(e))?;
        let saved = self.saved(app).await;
        let slept_by_gateway = saved.is_some();
        let target = match saved {
            Some(saved) => saved,
            None if !is_zero(&current) => current.clone(),
            None => {
                let minimal = minimal(&current);
                tracing::warn!(
                    app = app.name(),
                    backend = %self.name,
                    formation = ?minimal,
                    why = "never put to sleep by this gateway, or its store was lost or damaged",
                    "no saved formation: waking with one web"
                );
                minimal
            }
        };
        if same(&current, &target) {
            tracing::info!(app = app.name(), backend = %self.name, formation = ?target, "app already runs its formation");
        } else {
            tracing::info!(app = app.name(), backend = %self.name, formation = ?target, "restoring formation");
            self.platform.wake(remote, &target, slept_by_gateway).await.map_err(|e| self.failed(e))?;
        }
        if slept_by_gateway && self.platform.saved_size() == SavedSize::StoreUntilWake {
            // Awake again: from now on a sleep the gateway did not make must
            // not pass for one of its own.
            if let Err(e) = self.store.save_formation(&self.name, remote, &Formation::new()).await {
                tracing::error!(app = app.name(), error = %e, "cannot forget the saved formation after the wake");
            }
        }
        Ok(())
    }

    async fn sleep(&self, app: &AppConfig) -> Result<(), BackendError> {
        let remote = app.remote();
        let current = self.platform.formation(remote).await.map_err(|e| self.failed(e))?;
        if is_zero(&current) {
            return Ok(());
        }
        if self.platform.saved_size() != SavedSize::Platform {
            // Saved (on disk) before the scale-down: a crash right after must
            // not lose what to restore.
            self.store
                .save_formation(&self.name, remote, &current)
                .await
                .map_err(|e| BackendError::Platform(format!("cannot save the formation before scaling down: {e}")))?;
        }
        tracing::info!(app = app.name(), backend = %self.name, saved = ?current, "scaling to zero");
        self.platform.sleep(remote, &current).await.map_err(|e| self.failed(e))
    }
}

#[async_trait::async_trait]
impl Backend for PaasBackend {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError> {
        let upstream = self.upstream_of(app).await?;
        let lock = self.op_lock(app.remote());
        let _op = lock.lock().await;
        if let Err(e) = self.wake(app).await {
            self.reconcile(app, "wake").await;
            return Err(e);
        }
        Ok(Running { upstream, exited: None, owner: None, output: None, replacement: None })
    }

    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError> {
        let lock = self.op_lock(app.remote());
        let _op = lock.lock().await;
        if let Err(e) = self.sleep(app).await {
            self.reconcile(app, "sleep").await;
            return Err(e);
        }
        Ok(())
    }

    /// PaaS apps outlive the gateway; nothing to stop.
    async fn shutdown(&self) {}

    fn survives_gateway(&self, _app: &AppConfig) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_formation_is_one_web() {
        let current: Formation = [("web".into(), 0), ("worker".into(), 0)].into();
        assert_eq!(minimal(&current), [("web".into(), 1), ("worker".into(), 0)].into());
        assert_eq!(minimal(&Formation::new()), [("web".into(), 1)].into());
        assert!(same(&[("web".into(), 0)].into(), &Formation::new()));
    }
}
