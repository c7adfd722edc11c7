//! The TOML configuration: its shape, its parsing, and errors that name the
//! file, the key and the line.

mod admin;
mod admin_host;
mod backends;
mod duration;
mod edge;
mod error;
mod hooks;
mod listen;
mod params;
mod policy_refs;
mod rules;
mod savings;
mod schema;
mod store;

pub(crate) use admin::{AdminToken, DEFAULT_ADMIN_LISTEN};
pub(crate) use admin_host::admin_host;
pub(crate) use backends::{BackendConfig, PlatformKind};
pub(crate) use duration::ConfigDuration;
pub(crate) use edge::{CertFiles, EdgeConfig};
pub(crate) use error::ConfigError;
pub(crate) use hooks::HooksConfig;
pub(crate) use listen::ListenAddrs;
pub(crate) use rules::RuleConfig;
pub(crate) use savings::SavingsConfig;
pub use schema::Config;
pub(crate) use schema::{
    AppConfig, BackendKind, DiscoveredApp, Isolation, PolicySource, default_stop_grace, policy_name_of,
};
pub(crate) use store::{StoreBackend, StoreConfig};

use std::path::Path;

/// The variable `paastis serve` reads its config from when given no file.
pub(crate) const CONFIG_ENV: &str = "PAASTIS_CONFIG";

impl Config {
    /// The config in the `PAASTIS_CONFIG` variable (TOML text), for a
    /// platform where nothing is committed next to the binary. Relative
    /// paths are relative to the working directory. None when it is unset.
    pub fn from_env() -> Option<Result<Config, ConfigError>> {
        let text = std::env::var(CONFIG_ENV).ok().filter(|t| !t.trim().is_empty())?;
        Some(Config::parse(&text, &format!("${CONFIG_ENV}")))
    }

    /// Reads and validates a config file. Relative paths inside it (the store)
    /// are resolved against the file's directory, so the gateway behaves the
    /// same whatever directory it is started from.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { file: path.display().to_string(), source })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        if let Some(dir) = path.parent() {
            if config.store.path.is_relative() {
                config.store.path = dir.join(&config.store.path);
            }
            config.policy.resolve_paths(dir);
            config.edge.resolve_paths(dir);
            for backend in &mut config.backends {
                backend.resolve_paths(dir);
            }
        }
        Ok(config)
    }

    /// Parses config text; `file` only names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        Config::parse_with_port(text, file, std::env::var("PORT").ok().as_deref())
    }

    /// `parse`, with `$PORT` given rather than read from the environment.
    pub fn parse_with_port(text: &str, file: &str, port: Option<&str>) -> Result<Config, ConfigError> {
        let mut config: Config = error::deserialize(text, file)?;
        config.server.resolve_listen(port, text, file)?;
        config.validate(text, file)?;
        config.source = Some(std::sync::Arc::new(schema::Source { file: file.to_owned(), text: text.to_owned() }));
        Ok(config)
    }
}
