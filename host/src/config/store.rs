//! `[store]`: where the gateway keeps what must survive a restart (see
//! `crate::store`): sled on the local disk, or Redis shared by replicas.

use super::ConfigDuration;
use super::error::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded, on the local disk: one gateway.
    Sled,
    /// Shared by every replica of a cluster.
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_backend")]
    pub backend: Spanned<StoreBackend>,
    /// sled only: the directory.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Redis only: the environment variable holding `redis://…` or `rediss://…`.
    #[serde(default = "default_url_env")]
    pub url_env: Spanned<String>,
    /// Redis only: the prefix of every key, so several gateways or
    /// environments can share one Redis.
    #[serde(default = "default_prefix")]
    pub prefix: Spanned<String>,
    /// Redis only: this gateway runs as exactly one replica, so its local
    /// process apps may be used (see `validate`).
    #[serde(default)]
    pub single_replica: bool,
    /// Redis only: how long the leader's lease lasts without a renewal: the
    /// longest a dead leader's ticks are missed.
    #[serde(default = "default_leader_lease")]
    pub leader_lease: Spanned<ConfigDuration>,
    /// Activity is written to the store at this interval: the most a crash can lose.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: ConfigDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: default_backend(),
            path: default_store_path(),
            url_env: default_url_env(),
            prefix: default_prefix(),
            single_replica: false,
            leader_lease: default_leader_lease(),
            flush_interval: default_flush_interval(),
        }
    }
}

impl StoreConfig {
    pub fn is_redis(&self) -> bool {
        *self.backend.get_ref() == StoreBackend::Redis
    }

    pub(super) fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let prefix = self.prefix.get_ref();
        if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.prefix.span()),
                "store.prefix",
                "must be non-empty, without spaces or control characters",
            ));
        }
        if self.url_env.get_ref().trim().is_empty() {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.url_env.span()),
                "store.url_env",
                "must name a variable",
            ));
        }
        let lease = self.leader_lease.get_ref().0;
        if lease < std::time::Duration::from_millis(300) {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.leader_lease.span()),
                "store.leader_lease",
                "must be at least 300ms (the leader renews it every third of it)",
            ));
        }
        if self.flush_interval.0.is_zero() {
            return Err(ConfigError::at(file, text, None, "store.flush_interval", "must be greater than zero"));
        }
        Ok(())
    }
}

fn default_backend() -> Spanned<StoreBackend> {
    Spanned::new(0..0, StoreBackend::Sled)
}
fn default_store_path() -> PathBuf {
    PathBuf::from("paastis-data")
}
fn default_url_env() -> Spanned<String> {
    Spanned::new(0..0, "REDIS_URL".to_owned())
}
fn default_prefix() -> Spanned<String> {
    Spanned::new(0..0, "paastis".to_owned())
}
fn default_leader_lease() -> Spanned<ConfigDuration> {
    Spanned::new(0..0, ConfigDuration::from_secs(15))
}
fn default_flush_interval() -> ConfigDuration {
    ConfigDuration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, StoreBackend};

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n";
    const PROCESS_APP: &str = "[[apps]]\nname = \"hello\"\nbackend = \"process\"\ncommand = [\"true\"]\n";

    #[test]
    fn sled_is_the_default_and_redis_keys_are_read() {
        let config = Config::parse(BASE, "p.toml").unwrap();
        assert_eq!(*config.store.backend.get_ref(), StoreBackend::Sled);
        assert_eq!(config.store.url_env.get_ref(), "REDIS_URL");
        assert_eq!(config.store.prefix.get_ref(), "paastis");
        assert_eq!(config.store.leader_lease.get_ref().0.as_secs(), 15);
        let text = format!(
            "{BASE}[store]\nbackend = \"redis\"\nurl_env = \"SCALINGO_REDIS_URL\"\nprefix = \"staging\"\nleader_lease = \"3s\"\n"
        );
        let config = Config::parse(&text, "p.toml").unwrap();
        assert!(config.store.is_redis());
        assert_eq!(config.store.url_env.get_ref(), "SCALINGO_REDIS_URL");
        assert_eq!(config.store.prefix.get_ref(), "staging");
    }

    #[test]
    fn process_apps_need_single_replica_with_redis() {
        let text = format!("{BASE}[store]\nbackend = \"redis\"\n{PROCESS_APP}");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("apps[0].backend") && error.contains("line 7"), "{error}");
        assert!(error.contains("single_replica = true"), "{error}");
        let text = format!("{BASE}[store]\nbackend = \"redis\"\nsingle_replica = true\n{PROCESS_APP}");
        assert!(Config::parse(&text, "p.toml").is_ok());
        // With sled, a process app needs nothing more.
        assert!(Config::parse(&format!("{BASE}{PROCESS_APP}"), "p.toml").is_ok());
    }

    #[test]
    fn bad_values_name_the_key_and_the_line() {
        for (line, key) in [
            ("backend = \"postgres\"", "store.backend"),
            ("prefix = \"\"", "store.prefix"),
            ("prefix = \"a b\"", "store.prefix"),
            ("url_env = \" \"", "store.url_env"),
            ("leader_lease = \"100ms\"", "store.leader_lease"),
        ] {
            let error = Config::parse(&format!("{BASE}[store]\n{line}\n"), "p.toml").unwrap_err().to_string();
            assert!(error.contains(key) && error.contains("line 5"), "{line}: {error}");
        }
    }
}
