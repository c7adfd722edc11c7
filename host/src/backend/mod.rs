//! Backends start and stop apps. The gateway knows them only through the
//! `Backend` trait, so a local process and a PaaS app look alike to it.

pub mod api;
mod clever_cloud;
mod heroku;
pub mod hooks;
mod kubernetes;
mod output;
pub mod paas;
mod process;
mod render;
mod router;
mod scalingo;
pub mod secret;
mod spawner;

pub use paas::{PaasBackend, RemoteApp};
pub use process::ProcessBackend;
pub use router::Backends;

use crate::config::AppConfig;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot start {program:?}: {message}")]
    Spawn { program: String, message: String },
    #[error("no free local port for the app: {0}")]
    Port(String),
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
pub struct Running {
    /// Base URI of the app, such as `http://127.0.0.1:9001`.
    pub upstream: http::Uri,
    /// Resolves with a description when the app exits by itself. `None` for
    /// backends that cannot tell.
    pub exited: Option<oneshot::Receiver<String>>,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
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
