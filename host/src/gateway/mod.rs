//! Assembles a running gateway from a config: store, backend, apps, policy,
//! listener, ticker and flusher; and takes it down in order.

mod server;
mod ticker;

use crate::apps::Apps;
use crate::backend::{Backend, ProcessBackend};
use crate::config::{Config, PolicySource};
use crate::policy::{LoadedPolicy, PolicyError, PolicyRuntime, SandboxLimits};
use crate::policy_gate::PolicyGate;
use crate::proxy::Proxy;
use crate::store::{Store, StoreError};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long in-flight requests may run on after a shutdown begins.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the process backend: {0}")]
    Backend(std::io::Error),
    #[error("cannot load policy {name:?}: {source}")]
    Policy {
        name: String,
        #[source]
        source: PolicyError,
    },
    #[error("cannot read policy file {path}: {source}")]
    PolicyFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Params(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub struct Gateway {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Gateway {
    pub async fn start(config: Config) -> Result<Gateway, GatewayError> {
        // Refuse a bad policy or params before touching the store or ports.
        let policy = load_default_policy(&config).await?;
        crate::policy_gate::check_params(&policy, &config).await?;
        let gate = Arc::new(PolicyGate::new(policy, config.policy.call_on_request));

        let store = Store::open(&config.store.path)?;
        let backend: Arc<dyn Backend> = Arc::new(ProcessBackend::new().map_err(GatewayError::Backend)?);
        let apps = Arc::new(Apps::restore(&config, store.clone(), backend)?);

        let listen = config.server.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| GatewayError::Listen { addr: listen, source })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Listen { addr: listen, source })?;
        tracing::info!(%addr, domain = %config.server.domain, apps = config.apps.len(), "listening");

        let proxy = Arc::new(Proxy::new(apps.clone(), gate.clone(), config.server.domain.clone()));
        let flusher = tokio::spawn(apps.clone().run_flusher(config.store.flush_interval.0));
        let ticker = tokio::spawn(ticker::run(apps.clone(), gate, config.policy.tick.0));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            server::serve(listener, proxy, stop, DRAIN_GRACE).await;
            ticker.abort();
            flusher.abort();
            apps.stop_all().await;
            if let Err(e) = store.flush().await {
                tracing::error!(error = %e, "final store flush failed");
            }
            tracing::info!("gateway stopped");
        });
        Ok(Gateway { addr, stop: Some(stop_tx), task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drains in-flight requests, stops every app the
    /// gateway started and flushes the store.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::error!(error = %e, "gateway task failed during shutdown");
        }
    }
}

/// Everything `start` checks before touching the store or the network: the
/// config as parsed, the policy, and the policy's view of the params.
pub async fn check(config: &Config) -> Result<(), GatewayError> {
    let policy = load_default_policy(config).await?;
    crate::policy_gate::check_params(&policy, config).await?;
    Ok(())
}

async fn load_default_policy(config: &Config) -> Result<LoadedPolicy, GatewayError> {
    let limits = SandboxLimits { call_timeout: config.policy.call_timeout.0, ..SandboxLimits::default() };
    let (name, wasm) = match config.policy.source() {
        PolicySource::Builtin { name, wasm } => (name, Cow::Borrowed(wasm)),
        PolicySource::File(path) => {
            let name =
                path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
            let wasm =
                std::fs::read(&path).map_err(|source| GatewayError::PolicyFile { path: path.clone(), source })?;
            (name, Cow::Owned(wasm))
        }
    };
    let policy_err = |source| GatewayError::Policy { name: name.clone(), source };
    let runtime = PolicyRuntime::new(limits).map_err(policy_err)?;
    runtime.load(&name, &wasm).await.map_err(policy_err)
}
