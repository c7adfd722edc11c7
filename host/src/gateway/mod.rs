//! Assembles a running gateway from a config: store, backend, apps, policy,
//! listener, ticker and flusher; and takes it down in order.

pub(crate) mod conn_limit;
pub(crate) mod conn_watch;
mod server;
mod signal;

pub(crate) use signal::ShutdownSignal;

use crate::admin::{AdminAuth, AdminHost, AdminLimits, AdminServer, AdminState, Uploads};
use crate::apps::Apps;
use crate::backend::{Backend, BackendError, Backends};
use crate::cluster::{Cluster, ClusterBackend};
use crate::config::{AdminToken, Config, PolicySource, policy_name_of};
use crate::discovery::Discovery;
use crate::policy::builtin::{BUILTIN_POLICIES, DEFAULT_POLICY};
use crate::policy::watch::PolicyLoader;
use crate::policy::{KvBackend, MemoryKv, PolicyError, PolicyRuntime, SandboxLimits};
use crate::policy::{Origin, PolicyGate};
use crate::proxy::Proxy;
use crate::store::{Recorder, Store, StoreError};
use crate::telemetry::Telemetry;
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

/// The longest an admin upload may pause between two chunks.
const UPLOAD_CHUNK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Gateway {
    /// The plain-HTTP listeners, in `server.listen` order (never empty).
    addrs: Vec<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    https_addrs: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Gateway {
    pub async fn start(config: Config) -> Result<Gateway, GatewayError> {
        // The store opens first: policies keep their state in it. A bad
        // policy or params are still refused before binding the port.
        check_policy_dir(&config)?;
        let mut config = config;
        crate::discovery::apply_rules_to_config(&mut config);
        let config = Arc::new(config);
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
        let (gate, loader) = build_policies(&config, Watching::Yes, kv, telemetry.clone()).await?;

        // What a crash left running goes before any app can be woken.
        crate::backend::sweep(&store, &config).await;
        let backends = Arc::new(Backends::from_config(&config, &store).map_err(GatewayError::Backends)?);
        let backend: Arc<dyn Backend> = match cluster.is_shared() {
            true => Arc::new(ClusterBackend::new(backends.clone(), cluster.clone())),
            false => backends.clone(),
        };
        let edge = &config.edge;
        let upstream =
            crate::upstream::Upstream::new(edge.upstream_ca_file.as_deref(), edge.upstream_connect_timeout.0)?;
        let apps = Arc::new(Apps::restore_with(&config, store.clone(), backend, telemetry.clone(), &upstream).await?);
        // A replica starts from the cluster's view, not from "all asleep".
        cluster.sync_now(&apps, &backends).await;
        let waiting_page = match &edge.waiting_page_template {
            Some(path) => crate::proxy::WaitingPage::load(path)
                .map_err(|source| GatewayError::WaitingPage { path: path.clone(), source })?,
            None => crate::proxy::WaitingPage::default(),
        };
        // Certificates are checked before any port is bound.
        let mut terminators = Vec::new();
        for https in &edge.https {
            let tls = crate::tls::TlsTerminator::new(https.certs.get_ref())
                .map_err(|source| GatewayError::Tls { addr: https.listen, source })?;
            terminators.push((https.listen, Arc::new(tls)));
        }

        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for &listen in config.server.listen.as_slice() {
            let tcp = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| GatewayError::Listen { addr: listen, source })?;
            let addr = tcp.local_addr().map_err(|source| GatewayError::Listen { addr: listen, source })?;
            addrs.push(addr);
            listeners.push(server::Listener { tcp, tls: None });
        }
        let admin_listener = match config.admin.enabled {
            true => {
                let listen = *config.admin.listen.get_ref();
                let bound = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|source| GatewayError::AdminListen { addr: listen, source })?;
                Some(bound)
            }
            false => None,
        };
        let uploader = loader.uploader();

        let mut https_addrs = Vec::new();
        for (listen, tls) in terminators {
            let tcp = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| GatewayError::Listen { addr: listen, source })?;
            let addr = tcp.local_addr().map_err(|source| GatewayError::Listen { addr: listen, source })?;
            https_addrs.push(addr);
            listeners.push(server::Listener { tcp, tls: Some(tls) });
        }
        // Logged once every port is bound, so that "listening" never
        // precedes a failed start.
        for addr in &addrs {
            tracing::info!(%addr, domain = %config.server.domain, apps = config.apps.len(), "listening");
        }
        for addr in &https_addrs {
            tracing::info!(%addr, "listening https");
        }
        let drain = crate::proxy::drain::Drain::default();
        let options = crate::proxy::EdgeOptions {
            upstream,
            connect_timeout: edge.upstream_connect_timeout.0,
            response_timeout: edge.upstream_response_timeout.0,
            request_body_timeout: edge.request_body_timeout.0,
            waiting_page_default: edge.waiting_page,
            waiting_page,
            redirect_to_https_port: https_addrs.first().filter(|_| edge.redirect_http_to_https).map(|a| a.port()),
            drain: drain.clone(),
        };
        let limits = server::Limits {
            header_read_timeout: edge.header_read_timeout.0,
            max_header_bytes: *edge.max_header_bytes.get_ref(),
            idle_keep_alive: edge.idle_keep_alive.0,
        };
        let connections = conn_limit::ConnectionLimit::new("proxy", max_connections(edge));
        let grace = edge.drain_grace.0;

        let watcher = loader.spawn().map_err(GatewayError::Watch)?;
        // The admin state exists whenever anything serves it: the admin
        // listener, or the admin host on the proxy's port (then possibly
        // the only way in, with `[admin] enabled = false`).
        let admin_state = admin_token.as_ref().map(|token| {
            let listen = *config.admin.listen.get_ref();
            Arc::new(AdminState {
                apps: apps.clone(),
                gate: gate.clone(),
                uploader,
                events,
                recorded: recorder.progress(),
                telemetry: telemetry.clone(),
                config: config.clone(),
                auth: AdminAuth::new(token.value.clone(), token.required, listen.ip().is_loopback()),
                cluster: cluster.clone(),
                uploads: Uploads::new(*config.admin.max_upload_bytes.get_ref(), UPLOAD_CHUNK_TIMEOUT),
            })
        });
        let admin_host = match (crate::config::admin_host(&config), &admin_state, &admin_token) {
            (Some(host), Some(state), Some(AdminToken { value: Some(token), .. })) => {
                tracing::info!(host, "admin API served on the proxy's port under its host (token required)");
                Some(AdminHost::new(host, state.clone(), token.clone()))
            }
            _ => None,
        };
        let proxy =
            Proxy::with_edge(apps.clone(), gate.clone(), config.server.domain.clone(), telemetry.clone(), options)
                .with_admin_token(admin_token.as_ref().and_then(|t| t.value.clone()))
                .with_admin_host(admin_host);
        let proxy = Arc::new(proxy);
        let admin = match (admin_listener, admin_state, admin_token) {
            (Some(listener), Some(state), Some(token)) => {
                let listen = *config.admin.listen.get_ref();
                let admin_limits = AdminLimits {
                    header_read_timeout: edge.header_read_timeout.0,
                    idle_keep_alive: edge.idle_keep_alive.0,
                    ..AdminLimits::default()
                };
                let server = AdminServer::spawn(listener, state, admin_limits)
                    .map_err(|source| GatewayError::AdminListen { addr: listen, source })?;
                tracing::info!(
                    addr = %server.local_addr(),
                    token_required = token.required,
                    token_env = config.admin.token_env.get_ref().as_str(),
                    "admin listening"
                );
                Some(server)
            }
            _ => {
                tracing::info!("admin listener disabled ([admin] enabled = false)");
                None
            }
        };
        let admin_addr = admin.as_ref().map(AdminServer::local_addr);
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
        let ticking = crate::policy::tick::Ticking {
            apps: apps.clone(),
            policy: gate,
            cluster: cluster.clone(),
            backends: backends.clone(),
        };
        let ticker = tokio::spawn(crate::policy::tick::run(ticking, config.policy.tick.0));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            server::serve(listeners, proxy, stop, limits, connections, drain, grace).await;
            if let Some(admin) = admin {
                admin.shutdown().await;
            }
            ticker.abort();
            cluster_tasks.iter().for_each(JoinHandle::abort);
            // Another replica takes over the ticks at once.
            cluster.leave().await;
            flusher.abort();
            discoveries.iter().for_each(JoinHandle::abort);
            watcher.abort();
            apps.stop_all().await;
            // The sleeps of the shutdown are events too.
            recorder.finish().await;
            if let Err(e) = store.flush().await {
                tracing::error!(error = %e, "final store flush failed");
            }
            tracing::info!("gateway stopped");
        });
        Ok(Gateway { addrs, admin_addr, https_addrs, stop: Some(stop_tx), task })
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

/// Everything `start` checks before touching the network: the config as
/// parsed, the policies, and each policy's view of its apps' params. No
/// store: policies get in-memory state.
pub(crate) async fn check(config: Config) -> Result<(), GatewayError> {
    config.admin_token()?;
    check_edge(&config)?;
    check_policy_dir(&config)?;
    Backends::check(&config).map_err(GatewayError::Backends)?;
    let kv = Arc::new(MemoryKv::default());
    build_policies(&Arc::new(config), Watching::No, kv, Telemetry::default()).await.map(|_| ())
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

/// Loads the built-in policies, the default policy, and the policies
/// directory, then asks each app's policy about the app's params.
#[derive(PartialEq)]
enum Watching {
    Yes,
    No,
}

async fn build_policies(
    config: &Arc<Config>,
    watching: Watching,
    kv: Arc<dyn KvBackend>,
    telemetry: Telemetry,
) -> Result<(Arc<PolicyGate>, PolicyLoader), GatewayError> {
    let isolation = match config.policy.isolation {
        crate::config::Isolation::Reuse => crate::policy::Isolation::Reuse,
        crate::config::Isolation::PerCall => crate::policy::Isolation::PerCall,
    };
    let limits = SandboxLimits { call_timeout: config.policy.call_timeout.0, isolation, ..SandboxLimits::default() };
    let load_err = |name: &str| {
        let name = name.to_owned();
        move |source| GatewayError::Policy { name, source }
    };
    let runtime = PolicyRuntime::with_kv(limits, kv).map_err(load_err(DEFAULT_POLICY))?;
    let mut builtins = Vec::new();
    for name in BUILTIN_POLICIES {
        let wasm = crate::policy::builtin::wasm(name).unwrap_or_default();
        builtins.push(runtime.load(name, wasm).await.map_err(load_err(name))?);
    }
    let gate = Arc::new(PolicyGate::new(config.clone(), builtins, telemetry).ok_or(GatewayError::NoBuiltin)?);
    if let PolicySource::File(path) = config.policy.source() {
        let name = policy_name_of(&path);
        let wasm = std::fs::read(&path).map_err(|source| GatewayError::PolicyFile { path: path.clone(), source })?;
        let policy = runtime.load(&name, &wasm).await.map_err(load_err(&name))?;
        gate.install(&name, policy, Origin::File(path));
    }
    let mut loader = PolicyLoader::new(gate.clone(), runtime.clone(), config.policy.dir.clone());
    if watching == Watching::Yes {
        loader.start_watching().map_err(GatewayError::Watch)?;
    }
    loader.scan().await;
    crate::policy::require_named_policies(&gate, &runtime, config).await?;
    for app in &config.apps {
        let entry = gate.resolve(app.name());
        crate::policy::check_config_params(&entry.policy, config, |a| a.name() == app.name()).await?;
    }
    gate.log_serving();
    Ok((gate, loader))
}
