//! Kubernetes: Deployments and StatefulSets chosen by a label selector, in
//! some namespaces or all, through kube-rs. A sleep is one merge-PATCH of
//! the workload that writes `paastis.io/original-replicas` and sets
//! `spec.replicas: 0` together, with `metadata.resourceVersion` as
//! compare-and-swap (a 409 re-reads and tries again); a wake patches the
//! replicas back (dropping the annotation) and watches the workload until a
//! replica is ready for the latest generation. Discovery follows a watcher.
//! No `/scale` subresource: the workload itself is patched, so the RBAC is
//! `get, list, watch, patch` on the workloads and `get, list, watch` on
//! Services.

mod client;
mod workload;

pub(super) use client::Source;

use super::api::{ApiError, Limiter, RetryPolicy, retryable};
use super::paas::{Platform, RemoteApp, SavedSize};
use crate::error_chain::causes;
use crate::store::Formation;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use std::future::Future;
use std::time::Duration;
use tokio::sync::OnceCell;
use workload::{Id, Kind, ORIGINAL_REPLICAS, Observed, UPSTREAM, Workload};

/// The one "process type" of a workload.
pub(super) const REPLICAS: &str = "replicas";
pub(super) const DEFAULT_SELECTOR: &str = "paastis.io/enabled=true";
/// Longest a wake waits for a ready replica (the app's `wake_timeout`
/// usually ends it first).
const READY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(super) struct Kubernetes {
    backend: String,
    source: Source,
    client: OnceCell<kube::Client>,
    /// Empty: every namespace.
    namespaces: Vec<String>,
    selector: String,
    limiter: Limiter,
    retry: RetryPolicy,
    timeout: Duration,
}

/// Runs `$body` with `$k` the workload type of `$kind`.
macro_rules! with_kind {
    ($kind:expr, $k:ident => $body:expr) => {
        match $kind {
            Kind::Deployment => {
                type $k = Deployment;
                $body
            }
            Kind::StatefulSet => {
                type $k = StatefulSet;
                $body
            }
        }
    };
}

impl Kubernetes {
    pub(super) fn new(
        backend: &str,
        source: Source,
        namespaces: Vec<String>,
        selector: Option<&str>,
        per_minute: u32,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Kubernetes {
        Kubernetes {
            backend: backend.to_owned(),
            source,
            client: OnceCell::new(),
            namespaces,
            selector: selector.unwrap_or(DEFAULT_SELECTOR).to_owned(),
            limiter: Limiter::per_minute(per_minute),
            retry,
            timeout,
        }
    }

    fn error(&self, call: &str, e: kube::Error) -> ApiError {
        let (backend, call) = (self.backend.clone(), call.to_owned());
        match e {
            kube::Error::Api(status) => {
                let message = match status.code {
                    401 => {
                        "Unauthorized: the API server refused the credentials (token revoked or expired?)".to_owned()
                    }
                    _ if status.message.is_empty() => status.reason.clone(),
                    _ => status.message.clone(),
                };
                ApiError::Status { backend, call, status: status.code, message }
            }
            other => ApiError::Transport { backend, call, message: causes(&other) },
        }
    }

    fn other(&self, message: impl Into<String>) -> ApiError {
        ApiError::Other { backend: self.backend.clone(), message: message.into() }
    }

    async fn client(&self) -> Result<kube::Client, ApiError> {
        self.client
            .get_or_try_init(|| self.source.connect())
            .await
            .cloned()
            .map_err(|message| self.other(format!("cannot reach the cluster: {message}")))
    }

    /// One API call, within the rate limit and a timeout, retried with
    /// backoff on 429, 5xx and transport failures; other answers return.
    async fn call<T, F, Fut>(&self, call: &str, attempt: F) -> Result<T, ApiError>
    where
        F: Fn(kube::Client) -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let client = self.client().await?;
        let mut retry = 0;
        loop {
            self.limiter.acquire().await;
            let failure = match tokio::time::timeout(self.timeout, attempt(client.clone())).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => self.error(call, e),
                Err(_) => ApiError::Transport {
                    backend: self.backend.clone(),
                    call: call.to_owned(),
                    message: format!("no answer within {:?}", self.timeout),
                },
            };
            let worth_retrying = failure.status().is_none_or(retryable);
            if !worth_retrying || retry >= self.retry.max_retries {
                return Err(failure);
            }
            let delay = self.retry.delay(retry, None).unwrap_or(self.retry.max_wait);
            tracing::warn!(
                backend = %self.backend,
                call,
                error = %failure,
                retry_in_ms = delay.as_millis() as u64,
                retry_after = false,
                "API call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    fn id(&self, id: &str) -> Result<Id, ApiError> {
        Id::parse(id).ok_or_else(|| {
            self.other(format!("{id:?} is not a workload: write deployment/<namespace>/<name> or statefulset/…"))
        })
    }

    async fn get(&self, id: &Id) -> Result<Observed, ApiError> {
        with_kind!(id.kind, K => {
            let call = format!("GET {}", id.kind.as_str());
            self.call(&call, |client| async move {
                Api::<K>::namespaced(client, &id.namespace).get(&id.name).await.map(|w| w.observe())
            })
            .await
        })
    }

    /// One merge-PATCH of the workload.
    async fn patch(&self, id: &Id, body: serde_json::Value) -> Result<Observed, ApiError> {
        with_kind!(id.kind, K => {
            let call = format!("PATCH {}", id.kind.as_str());
            let patch = Patch::Merge(body);
            self.call(&call, |client| {
                let patch = &patch;
                async move {
                    Api::<K>::namespaced(client, &id.namespace)
                        .patch(&id.name, &PatchParams::default(), patch)
                        .await
                        .map(|w| w.observe())
                }
            })
            .await
        })
    }

    /// Reads the workload and patches what `change` makes of it, with its
    /// resourceVersion as compare-and-swap: a 409 (someone else wrote in
    /// between) reads it again. `change` answers `None` when nothing is left
    /// to do.
    async fn compare_and_patch(
        &self,
        id: &Id,
        change: impl Fn(&Observed) -> Option<serde_json::Value>,
    ) -> Result<Observed, ApiError> {
        let mut conflicts = 0;
        loop {
            let observed = self.get(id).await?;
            let Some(mut body) = change(&observed) else { return Ok(observed) };
            if let Some(version) = &observed.resource_version {
                body["metadata"]["resourceVersion"] = serde_json::Value::String(version.clone());
            }
            match self.patch(id, body).await {
                Err(e) if e.status() == Some(409) && conflicts < self.retry.max_retries.max(3) => {
                    conflicts += 1;
                    tracing::info!(backend = %self.backend, workload = %id, "the workload changed meanwhile; reading it again");
                }
                other => return other,
            }
        }
    }

    /// Watches the workload until a replica is ready for its latest spec.
    async fn wait_ready(&self, id: &Id) -> Result<(), ApiError> {
        let client = self.client().await?;
        let fields = format!("metadata.name={}", id.name);
        let mut stream = with_kind!(id.kind, K => {
            let api = Api::<K>::namespaced(client, &id.namespace);
            watcher(api, watcher::Config::default().fields(&fields)).applied_objects().map_ok(|w| w.observe()).boxed()
        });
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, stream.try_next()).await {
                Ok(Ok(Some(observed))) if observed.is_ready() => return Ok(()),
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => return Err(self.other(format!("{id}: the watch ended"))),
                Ok(Err(e)) => return Err(self.other(format!("{id}: watching for readiness: {}", causes(&e)))),
                Err(_) => return Err(self.other(format!("{id}: no ready replica after {READY_TIMEOUT:?}"))),
            }
        }
    }

    fn remote(observed: &Observed) -> RemoteApp {
        RemoteApp {
            id: observed.id.to_string(),
            name: observed.app_name(),
            running: observed.running(),
            upstream: observed.annotations.get(UPSTREAM).cloned(),
        }
    }

    /// The namespaces to look in; `None` for all.
    fn scopes(&self) -> Vec<Option<String>> {
        if self.namespaces.is_empty() { vec![None] } else { self.namespaces.iter().cloned().map(Some).collect() }
    }

    async fn list_kind<K: Workload>(&self, namespace: Option<&str>) -> Result<Vec<Observed>, ApiError> {
        let params = ListParams::default().labels(&self.selector);
        let call = format!("LIST {}", K::KIND.as_str());
        self.call(&call, |client| {
            let params = &params;
            async move {
                let api = match namespace {
                    Some(ns) => Api::<K>::namespaced(client, ns),
                    None => Api::<K>::all(client),
                };
                api.list(params).await.map(|list| list.items.iter().map(Workload::observe).collect())
            }
        })
        .await
    }
}

#[async_trait::async_trait]
impl Platform for Kubernetes {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        let mut apps = Vec::new();
        for namespace in self.scopes() {
            for kind in Kind::ALL {
                let observed = with_kind!(kind, K => self.list_kind::<K>(namespace.as_deref()).await?);
                apps.extend(observed.iter().map(Self::remote));
            }
        }
        Ok(apps)
    }

    async fn formation(&self, id: &str) -> Result<Formation, ApiError> {
        let observed = self.get(&self.id(id)?).await?;
        Ok([(REPLICAS.to_owned(), observed.replicas.max(0) as u32)].into())
    }

    async fn scale(&self, id: &str, target: &Formation) -> Result<(), ApiError> {
        let replicas = target.get(REPLICAS).copied().unwrap_or(0);
        self.patch(&self.id(id)?, serde_json::json!({"spec": {"replicas": replicas}})).await.map(drop)
    }

    async fn upstream(&self, id: &str) -> Result<String, ApiError> {
        let id = self.id(id)?;
        let observed = self.get(&id).await?;
        if let Some(upstream) = observed.annotations.get(UPSTREAM) {
            return Ok(upstream.clone());
        }
        let namespace = id.namespace.clone();
        let services: Vec<Service> = self
            .call("LIST services", |client| {
                let namespace = &namespace;
                async move { Api::<Service>::namespaced(client, namespace).list(&ListParams::default()).await }
            })
            .await?
            .items;
        workload::service_upstream(&services, &id.namespace, &observed.pod_labels).ok_or_else(|| {
            self.other(format!(
                "{id}: no Service in {} selects its pods; add one, or the annotation {UPSTREAM}",
                id.namespace
            ))
        })
    }

    /// Serving: a replica is ready (not only asked for).
    async fn is_running(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.get(&self.id(id)?).await?.running() == Some(true))
    }

    async fn describe(&self, id: &str) -> Result<String, ApiError> {
        let observed = self.get(&self.id(id)?).await?;
        Ok(format!(
            "replicas {}, ready {}, generation {:?} observed {:?}, {ORIGINAL_REPLICAS} {:?}",
            observed.replicas,
            observed.ready,
            observed.generation,
            observed.observed_generation,
            observed.annotations.get(ORIGINAL_REPLICAS)
        ))
    }

    fn saved_size(&self) -> SavedSize {
        SavedSize::Platform
    }

    async fn sleep(&self, id: &str, _current: &Formation) -> Result<(), ApiError> {
        let id = self.id(id)?;
        self.compare_and_patch(&id, |observed| {
            (observed.replicas > 0).then(|| {
                serde_json::json!({
                    "metadata": {"annotations": {ORIGINAL_REPLICAS: observed.replicas.to_string()}},
                    "spec": {"replicas": 0},
                })
            })
        })
        .await
        .map(drop)
    }

    async fn wake(&self, id: &str, target: &Formation, _slept_by_gateway: bool) -> Result<(), ApiError> {
        let id = self.id(id)?;
        let fallback = target.get(REPLICAS).copied().unwrap_or(1).max(1) as i32;
        let woken = self
            .compare_and_patch(&id, |observed| {
                let replicas = observed.original_replicas().unwrap_or(fallback);
                (observed.replicas == 0 || observed.annotations.contains_key(ORIGINAL_REPLICAS)).then(|| {
                    serde_json::json!({
                        "metadata": {"annotations": {ORIGINAL_REPLICAS: null}},
                        "spec": {"replicas": replicas},
                    })
                })
            })
            .await?;
        tracing::info!(backend = %self.backend, workload = %id, replicas = woken.replicas, "replicas restored; waiting for a ready replica");
        self.wait_ready(&id).await
    }

    fn watch(&self) -> Option<BoxStream<'static, Result<RemoteApp, ApiError>>> {
        let client = self.client.get().cloned();
        let source = self.source.clone();
        let (backend, selector, scopes) = (self.backend.clone(), self.selector.clone(), self.scopes());
        let error = move |e: String| ApiError::Other { backend: backend.clone(), message: e };
        let connect = async move {
            match client {
                Some(client) => Ok(client),
                None => source.connect().await,
            }
        };
        let stream = futures_util::stream::once(connect).flat_map(move |client| match client {
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
            Ok(client) => {
                let mut streams = Vec::new();
                for namespace in &scopes {
                    for kind in Kind::ALL {
                        let config = watcher::Config::default().labels(&selector);
                        let stream = with_kind!(kind, K => {
                            let api = match namespace {
                                Some(ns) => Api::<K>::namespaced(client.clone(), ns),
                                None => Api::<K>::all(client.clone()),
                            };
                            watcher(api, config)
                                .default_backoff()
                                .applied_objects()
                                .map_ok(|w| Kubernetes::remote(&w.observe()))
                                .map_err(|e| causes(&e))
                                .boxed()
                        });
                        streams.push(stream);
                    }
                }
                futures_util::stream::select_all(streams).boxed()
            }
        });
        Some(stream.map_err(error).boxed())
    }
}
