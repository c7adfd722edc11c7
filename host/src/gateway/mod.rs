//! Assembles a running gateway from a config, in named steps (`state.rs`,
//! `edge.rs`, `admin_wiring.rs`, `background.rs`), and takes it down in
//! one order.

mod admin_wiring;
mod background;
pub(crate) mod conn_limit;
pub(crate) mod conn_watch;
mod edge;
mod on_wake;
mod policies;
mod server;
mod signal;
mod state;

pub(crate) use signal::ShutdownSignal;

use crate::admin::{AdminLimits, AdminServer};
use crate::backend::{BackendError, Backends};
use crate::config::Config;
use crate::policy::{MemoryKv, PolicyError};
use crate::proxy::Proxy;
use crate::proxy::drain::Drain;
use crate::store::StoreError;
use crate::telemetry::Telemetry;
use background::Background;
use edge::Edge;
use state::State;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the process backend: {0}")]
    Backend(std::io::Error),
    #[error("cannot set up the backends: {0}")]
    Backends(BackendError),
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
    #[error("policy.dir {dir} is not a directory: create it, or remove the key")]
    PolicyDir { dir: std::path::PathBuf },
    #[error("the built-in default policy is missing from this build")]
    NoBuiltin,
    #[error(transparent)]
    Watch(crate::policy::watch::WatchError),
    #[error(transparent)]
    Upstream(#[from] crate::upstream::UpstreamError),
    #[error("HTTPS listener {addr}: {source}")]
    Tls {
        addr: SocketAddr,
        #[source]
        source: crate::tls::TlsError,
    },
    #[error("cannot read the waiting page template {path}: {source}")]
    WaitingPage {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} for the admin API (set [admin] listen, or enabled = false): {source}")]
    AdminListen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub struct Gateway {
    /// The plain-HTTP listeners, in `server.listen` order (never empty).
    addrs: Vec<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    https_addrs: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Starts in named steps: open what the gateway serves from (store,
    /// policies, apps), bind the edge, wire the proxy and the admin API,
    /// spawn the background tasks. A task then serves until `shutdown`,
    /// after which `Background::shut_down` takes everything down in order.
    pub async fn start(config: Config) -> Result<Gateway, GatewayError> {
        check_policy_dir(&config)?;
        let mut config = config;
        crate::discovery::apply_rules_to_config(&mut config);
        let (state, loader) = State::open(Arc::new(config)).await?;
        let edge = Edge::bind(&state.config).await?;

        let drain = Drain::default();
        let admin_state = admin_wiring::admin_state(&state, loader.uploader());
        let admin_host = admin_wiring::admin_host(&state, admin_state.as_ref());
        let proxy = Arc::new(proxy(&state, &edge, admin_host, drain.clone()));
        let config = state.config.clone();
        let limits = server::Limits {
            header_read_timeout: config.edge.header_read_timeout.0,
            max_header_bytes: *config.edge.max_header_bytes.get_ref(),
            idle_keep_alive: config.edge.idle_keep_alive.0,
        };
        let connections = conn_limit::ConnectionLimit::new("proxy", max_connections(&config.edge));

        let watcher = loader.spawn().map_err(GatewayError::Watch)?;
        let admin = admin_wiring::spawn_admin(&state, edge.admin, admin_state)?;
        let admin_addr = admin.as_ref().map(AdminServer::local_addr);
        let background = Background::spawn(state, watcher, admin);

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (listeners, grace) = (edge.listeners, config.edge.drain_grace.0);
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            server::serve(listeners, proxy, stop, limits, connections, drain, grace).await;
            background.shut_down().await;
        });
        Ok(Gateway { addrs: edge.addrs, admin_addr, https_addrs: edge.https_addrs, stop: Some(stop_tx), task })
    }

    /// The first plain-HTTP listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every plain-HTTP listener's address, in `server.listen` order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Where the admin API listens, unless it is disabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The HTTPS listeners' addresses, in `[[edge.https]]` order.
    pub fn https_addrs(&self) -> &[SocketAddr] {
        &self.https_addrs
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

/// Everything `start` checks before touching the network: the config as
/// parsed, the policies, and each policy's view of its apps' params. No
/// store: policies get in-memory state.
pub(crate) async fn check(config: Config) -> Result<(), GatewayError> {
    config.admin_token()?;
    check_edge(&config)?;
    check_policy_dir(&config)?;
    Backends::check(&config).map_err(GatewayError::Backends)?;
    let kv = Arc::new(MemoryKv::default());
    policies::build_policies(&Arc::new(config), policies::Purpose::Check, kv, Telemetry::default()).await.map(|_| ())
}

/// `edge.max_connections`, or its default from the open files limit
/// (raised to the hard limit first), with the admin API's own connections
/// in the reserve.
fn max_connections(edge: &crate::config::EdgeConfig) -> usize {
    let open_files = conn_limit::raise_open_files_limit();
    let admin = AdminLimits::default().max_connections;
    let affordable = open_files.map(|n| conn_limit::default_max_connections(n, admin));
    let max = match (edge.max_connections, affordable) {
        (Some(set), Some(affordable)) if set > affordable => {
            tracing::warn!(
                max_connections = set,
                open_files = open_files.unwrap_or_default(),
                affordable,
                "edge.max_connections is more than the open files limit affords; accepts may fail for want of descriptors"
            );
            set
        }
        (Some(set), _) => set,
        (None, Some(affordable)) => affordable,
        (None, None) => conn_limit::default_max_connections(1024, admin),
    };
    tracing::info!(max_connections = max, open_files, "connection limit");
    max
}

/// `serve` watches `policy.dir`, and cannot watch what is not there.
fn check_policy_dir(config: &Config) -> Result<(), GatewayError> {
    match &config.policy.dir {
        Some(dir) if !dir.is_dir() => Err(GatewayError::PolicyDir { dir: dir.clone() }),
        _ => Ok(()),
    }
}

/// The files `[edge]` names: certificates and keys, the upstream CA file,
/// the waiting page template.
fn check_edge(config: &Config) -> Result<(), GatewayError> {
    let edge = &config.edge;
    for https in &edge.https {
        crate::tls::CertSet::load(https.certs.get_ref())
            .map_err(|e| GatewayError::Tls { addr: https.listen, source: e.into() })?;
    }
    crate::upstream::Upstream::new(edge.upstream_ca_file.as_deref(), edge.upstream_connect_timeout.0)?;
    if let Some(path) = &edge.waiting_page_template {
        crate::proxy::WaitingPage::load(path)
            .map_err(|source| GatewayError::WaitingPage { path: path.clone(), source })?;
    }
    Ok(())
}

/// The proxy as `[edge]` and the bound listeners say, with the admin token
/// it strips and the admin host it serves.
fn proxy(state: &State, edge: &Edge, admin_host: Option<crate::admin::AdminHost>, drain: Drain) -> Proxy {
    let config = &state.config;
    let options = crate::proxy::EdgeOptions {
        upstream: state.upstream.clone(),
        connect_timeout: config.edge.upstream_connect_timeout.0,
        response_timeout: config.edge.upstream_response_timeout.0,
        request_body_timeout: config.edge.request_body_timeout.0,
        waiting_page_default: config.edge.waiting_page,
        waiting_page: state.waiting_page.clone(),
        redirect_to_https_port: edge
            .https_addrs
            .first()
            .filter(|_| config.edge.redirect_http_to_https)
            .map(|a| a.port()),
        drain,
    };
    Proxy::with_edge(
        state.apps.clone(),
        state.gate.clone(),
        config.server.domain.clone(),
        state.telemetry.clone(),
        options,
    )
    .with_admin_token(state.admin_token.as_ref().and_then(|t| t.value.clone()))
    .with_admin_host(admin_host)
}
