//! Backends start and stop apps. The gateway knows them only through the
//! `Backend` trait, so a local process and a PaaS app look alike to it.

pub(crate) mod api;
mod clever_cloud;
mod heroku;
pub(crate) mod hooks;
mod kubernetes;
mod ledger;
mod listener;
mod output;
pub(crate) mod paas;
mod pidfd;
mod ports;
mod process;
mod procfs;
mod render;
mod router;
mod scalingo;
pub(crate) mod secret;
mod sock_diag;
mod spawner;
pub(crate) mod supervisor;
mod sweep;
mod warm;

pub(crate) use listener::{ListenerOwner, NotOwned};
pub(crate) use output::OutputTail;
pub(crate) use paas::{PaasBackend, RemoteApp};
pub(crate) use process::ProcessBackend;
pub(crate) use router::Backends;
pub(crate) use sweep::sweep;
pub use warm::set_supervisor_executable;

use crate::config::AppConfig;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot start {program:?}: {message}")]
    Spawn { program: String, message: String },
    #[error("no free local port for the app: {0}")]
    Port(String),
    #[error("port {0} is in use by another process")]
    PortInUse(u16),
    #[error("cannot stop the app: {0}")]
    Stop(String),
    /// A PaaS API call failed (after its retries).
    #[error("{0}")]
    Platform(String),
    #[error("no backend named {0:?}")]
    Unknown(String),
    #[error("backend {name}: {message}")]
    Setup { name: String, message: String },
}

/// A started app: where to send its traffic, and how to learn that it died.
pub(crate) struct Running {
    /// Base URI of the app, such as `http://127.0.0.1:9001`.
    pub upstream: http::Uri,
    /// Resolves with a description when the app exits by itself. `None` for
    /// backends that cannot tell.
    pub exited: Option<oneshot::Receiver<String>>,
    /// Tells the app's own listener from a stranger's on its port, for the
    /// readiness probe. `None` for backends that cannot tell (a PaaS app).
    pub owner: Option<ListenerOwner>,
    /// The last lines of the app's output, for a failed wake's event.
    pub output: Option<OutputTail>,
    /// Held until the wake is over; then replaces the supervisor that this
    /// start took from those kept waiting (`warm.rs`).
    pub replacement: Option<warm::Replacement>,
}

#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError>;

    /// Stops the app and returns once it is stopped.
    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError>;

    /// Stops everything this backend started (gateway shutdown).
    async fn shutdown(&self);

    /// True when the app keeps running without the gateway (a PaaS app),
    /// so a gateway shutdown leaves it as it is.
    fn survives_gateway(&self, _app: &AppConfig) -> bool {
        false
    }
}
