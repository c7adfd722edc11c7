//! Why a simulation could not run. All but `Setup` are bad input (exit 2).

use crate::config::ConfigError;
use crate::policy::PolicyError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SimulateError {
    #[error("cannot read the log {path}: {source}")]
    Read { path: String, source: std::io::Error },

    #[error("no line of {path} reads as a request ({lines} lines{detail})")]
    NothingParsed { path: String, lines: u64, detail: String },

    #[error("--policy {spec:?}: {detail}")]
    PolicySpec { spec: String, detail: String },

    #[error("--policy {label}: {source}")]
    Policy { label: String, source: PolicyError },

    #[error("--param {spec:?}: {detail}")]
    Param { spec: String, detail: String },

    #[error("policy {policy} refuses the params of app {app:?}: {detail}")]
    ParamRefused { policy: String, app: String, detail: String },

    #[error("{0}")]
    Usage(String),

    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("could not set up the simulation: {0}")]
    Setup(String),
}

impl SimulateError {
    /// Bad input rather than a failure of the simulator itself.
    pub(crate) fn is_usage(&self) -> bool {
        !matches!(self, SimulateError::Setup(_) | SimulateError::Policy { source: PolicyError::Setup(_), .. })
    }
}
