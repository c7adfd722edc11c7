//! `[admin]`: the admin API and dashboard listener (see `crate::admin`).

use super::error::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;
use toml::Spanned;

/// Where the admin listener binds unless told otherwise: loopback only, so a
/// gateway started with no `[admin]` section exposes nothing new.
pub(crate) const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9180";
pub(crate) const DEFAULT_TOKEN_ENV: &str = "PAASTIS_ADMIN_TOKEN";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// False turns the admin listener (API, metrics, dashboard) off.
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_listen")]
    pub listen: Spanned<SocketAddr>,
    /// The environment variable holding the bearer token. Required when
    /// `listen` is not a loopback address.
    #[serde(default = "default_token_env")]
    pub token_env: Spanned<String>,
    /// How many events are kept on disk; older ones are dropped.
    #[serde(default = "default_event_retention")]
    pub event_retention: Spanned<u64>,
    /// The largest policy upload (`PUT /policies/{name}`) accepted, in bytes.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: Spanned<u64>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            listen: default_listen(),
            token_env: default_token_env(),
            event_retention: default_event_retention(),
            max_upload_bytes: default_max_upload_bytes(),
        }
    }
}

/// The token as read from the environment, with whether it is required.
#[derive(Clone)]
pub struct AdminToken {
    pub value: Option<String>,
    pub required: bool,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in a debug log.
        f.debug_struct("AdminToken").field("set", &self.value.is_some()).field("required", &self.required).finish()
    }
}

impl AdminConfig {
    /// Reads the token from the environment. Refuses a non-loopback listener
    /// without one, naming the key and line of `listen`.
    pub fn token(
        &self,
        file: &str,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AdminToken, ConfigError> {
        let name = self.token_env.get_ref();
        let value = self.token_value(env);
        let off_loopback = !self.listen.get_ref().ip().is_loopback();
        if off_loopback && value.is_none() {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.listen.span()),
                "admin.listen",
                format!(
                    "{} is not a loopback address, so the admin API needs a bearer token: \
                     set the environment variable {name} (admin.token_env), or listen on 127.0.0.1",
                    self.listen.get_ref()
                ),
            ));
        }
        // A configured token is required everywhere, loopback included.
        let required = off_loopback || value.is_some();
        Ok(AdminToken { value, required })
    }

    /// The token's value, if its variable is set to something.
    fn token_value(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        env(self.token_env.get_ref()).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub(super) fn validate(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        if *self.event_retention.get_ref() == 0 {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.event_retention.span()),
                "admin.event_retention",
                "must be at least 1",
            ));
        }
        if *self.max_upload_bytes.get_ref() == 0 {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.max_upload_bytes.span()),
                "admin.max_upload_bytes",
                "must be at least 1",
            ));
        }
        let name = self.token_env.get_ref();
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(ConfigError::at(
                file,
                text,
                Some(self.token_env.span()),
                "admin.token_env",
                "must name an environment variable",
            ));
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}
fn default_listen() -> Spanned<SocketAddr> {
    Spanned::new(0..0, DEFAULT_ADMIN_LISTEN.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9180))))
}
fn default_token_env() -> Spanned<String> {
    Spanned::new(0..0, DEFAULT_TOKEN_ENV.to_owned())
}
fn default_event_retention() -> Spanned<u64> {
    Spanned::new(0..0, 10_000)
}
/// Far above any real policy (ours are a few hundred KiB), far below harm.
fn default_max_upload_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 16 * 1024 * 1024)
}

impl super::Config {
    /// The admin token from the process environment, when anything serves
    /// the admin API: its listener (see `AdminConfig::token`) or
    /// `server.admin_host`, which always needs one. None when neither does.
    pub fn admin_token(&self) -> Result<Option<AdminToken>, ConfigError> {
        self.admin_token_with(|name| std::env::var(name).ok())
    }

    pub(super) fn admin_token_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AdminToken>, ConfigError> {
        let (file, text) = self.source.as_deref().map_or(("<config>", ""), |s| (s.file.as_str(), s.text.as_str()));
        if !self.admin.enabled && self.server.admin_host.is_none() {
            return Ok(None);
        }
        let token = match self.admin.enabled {
            true => self.admin.token(file, text, env)?,
            // No listener: only the admin host, whose token is required.
            false => AdminToken { value: self.admin.token_value(env), required: true },
        };
        super::admin_host::require_token(self, &token, file, text)?;
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n";

    fn env_with(token: Option<&'static str>) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "MY_TOKEN").then(|| token.map(str::to_owned)).flatten()
    }

    #[test]
    fn loopback_needs_no_token() {
        let config = Config::parse(BASE, "t.toml").unwrap();
        assert!(config.admin.enabled);
        assert!(config.admin.listen.get_ref().ip().is_loopback());
        let token = config.admin.token("t.toml", BASE, env_with(None)).unwrap();
        assert!(!token.required && token.value.is_none());
    }

    #[test]
    fn elsewhere_without_a_token_names_the_key_and_line() {
        let text = format!("{BASE}\n[admin]\nlisten = \"0.0.0.0:9180\"\ntoken_env = \"MY_TOKEN\"\n");
        let config = Config::parse(&text, "t.toml").unwrap();
        let err = config.admin.token("t.toml", &text, env_with(None)).unwrap_err().to_string();
        assert!(err.contains("t.toml, line 6, key `admin.listen`"), "{err}");
        assert!(err.contains("MY_TOKEN"), "{err}");
        let token = config.admin.token("t.toml", &text, env_with(Some("s3cret"))).unwrap();
        assert!(token.required);
        assert_eq!(token.value.as_deref(), Some("s3cret"));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn zero_retention_is_refused() {
        let text = format!("{BASE}[admin]\nevent_retention = 0\n");
        let err = Config::parse(&text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("admin.event_retention") && err.contains("line 5"), "{err}");
    }
}
