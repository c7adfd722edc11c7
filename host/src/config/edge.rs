//! `[edge]`: what faces clients and upstreams. HTTPS listeners and their
//! certificates, limits and timeouts, the waiting page, the drain grace.

use super::ConfigDuration;
use super::error::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// HTTPS listeners, each with its certificates (SNI picks among them).
    #[serde(default)]
    pub https: Vec<HttpsListener>,
    /// Answer plain-HTTP requests with a 308 to the first HTTPS listener.
    #[serde(default)]
    pub redirect_http_to_https: bool,
    /// The most a request head (request line and headers) may weigh, in bytes.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: Spanned<usize>,
    /// A client that has not sent a whole request head by then is cut
    /// off (slowloris).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: ConfigDuration,
    /// A keep-alive connection with no request for this long is closed.
    #[serde(default = "default_idle_keep_alive")]
    pub idle_keep_alive: ConfigDuration,
    /// Connecting to an app's upstream; past it the client gets a 504.
    #[serde(default = "default_upstream_connect_timeout")]
    pub upstream_connect_timeout: ConfigDuration,
    /// From the request body's end (the request, without one) to the
    /// response head; past it the client gets a 504. It also runs while the
    /// app does not take the next chunk of a request body. Response bodies
    /// then stream without a limit.
    #[serde(default = "default_upstream_response_timeout")]
    pub upstream_response_timeout: ConfigDuration,
    /// The most a client may leave a request body idle between two chunks
    /// while the gateway waits for it; past it the client gets a 408.
    #[serde(default = "default_request_body_timeout")]
    pub request_body_timeout: ConfigDuration,
    /// PEM certificates trusted for HTTPS upstreams on top of the webpki roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// Client connections open at once on the proxy's listeners; the next
    /// wait in the listen backlog. Default: from the open files limit (see
    /// `gateway/conn_limit.rs`).
    pub max_connections: Option<usize>,
    /// Requests sent to one app at once (apps may set their own); the next
    /// ones wait in the gateway, first come first served.
    #[serde(default = "default_max_upstream_connections")]
    pub max_upstream_connections: u32,
    /// Requests that may wait on one app (for its wake, or for a free
    /// upstream connection); the next ones get a 503.
    #[serde(default = "default_max_waiting_per_app")]
    pub max_waiting_per_app: u32,
    /// After a failed wake, no new wake starts for this long; each further
    /// failure in a row doubles it, up to `failed_wake_backoff_max`.
    #[serde(default = "default_failed_wake_backoff")]
    pub failed_wake_backoff: ConfigDuration,
    #[serde(default = "default_failed_wake_backoff_max")]
    pub failed_wake_backoff_max: ConfigDuration,
    /// Whether browsers get the waiting page while an app wakes, unless the
    /// app says otherwise (`waiting_page` in `[[apps]]`).
    #[serde(default = "default_true")]
    pub waiting_page: bool,
    /// An HTML file replacing the built-in waiting page; `{{app}}` is
    /// replaced by the app's name.
    pub waiting_page_template: Option<PathBuf>,
    /// How long in-flight requests may run on after SIGTERM or Ctrl-C.
    #[serde(default = "default_drain_grace")]
    pub drain_grace: ConfigDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsListener {
    pub listen: SocketAddr,
    pub certs: Spanned<Vec<CertFiles>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFiles {
    /// The certificate chain, leaf first, in PEM.
    pub cert: PathBuf,
    /// Its private key in PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            https: Vec::new(),
            redirect_http_to_https: false,
            max_header_bytes: default_max_header_bytes(),
            header_read_timeout: default_header_read_timeout(),
            idle_keep_alive: default_idle_keep_alive(),
            upstream_connect_timeout: default_upstream_connect_timeout(),
            upstream_response_timeout: default_upstream_response_timeout(),
            request_body_timeout: default_request_body_timeout(),
            upstream_ca_file: None,
            max_connections: None,
            max_waiting_per_app: default_max_waiting_per_app(),
            max_upstream_connections: default_max_upstream_connections(),
            failed_wake_backoff: default_failed_wake_backoff(),
            failed_wake_backoff_max: default_failed_wake_backoff_max(),
            waiting_page: true,
            waiting_page_template: None,
            drain_grace: default_drain_grace(),
        }
    }
}

/// hyper cannot read a request head into a buffer smaller than this.
const MIN_HEADER_BYTES: usize = 8192;

impl EdgeConfig {
    /// Paths in `[edge]` are relative to the config file's directory.
    pub(super) fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for listener in &mut self.https {
            for files in listener.certs.get_mut() {
                resolve(&mut files.cert);
                resolve(&mut files.key);
            }
        }
        if let Some(p) = self.upstream_ca_file.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.waiting_page_template.as_mut() {
            resolve(p);
        }
    }

    pub(super) fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let bytes = &self.max_header_bytes;
        if *bytes.get_ref() < MIN_HEADER_BYTES {
            return Err(ConfigError::at(
                file,
                text,
                Some(bytes.span()),
                "edge.max_header_bytes",
                format!("must be at least {MIN_HEADER_BYTES}"),
            ));
        }
        for (i, listener) in self.https.iter().enumerate() {
            if listener.certs.get_ref().is_empty() {
                return Err(ConfigError::at(
                    file,
                    text,
                    Some(listener.certs.span()),
                    &format!("edge.https[{i}].certs"),
                    "an HTTPS listener needs at least one { cert, key }",
                ));
            }
        }
        if self.redirect_http_to_https && self.https.is_empty() {
            return Err(ConfigError::at(
                file,
                text,
                None,
                "edge.redirect_http_to_https",
                "needs an HTTPS listener ([[edge.https]]) to redirect to",
            ));
        }
        for (key, d) in [
            ("edge.header_read_timeout", self.header_read_timeout),
            ("edge.idle_keep_alive", self.idle_keep_alive),
            ("edge.upstream_connect_timeout", self.upstream_connect_timeout),
            ("edge.upstream_response_timeout", self.upstream_response_timeout),
            ("edge.request_body_timeout", self.request_body_timeout),
            ("edge.failed_wake_backoff", self.failed_wake_backoff),
        ] {
            if d.0.is_zero() {
                return Err(ConfigError::at(file, text, None, key, "must be greater than zero"));
            }
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::at(file, text, None, "edge.max_connections", "must be at least 1"));
        }
        if self.max_upstream_connections == 0 {
            return Err(ConfigError::at(file, text, None, "edge.max_upstream_connections", "must be at least 1"));
        }
        if self.failed_wake_backoff_max.0 < self.failed_wake_backoff.0 {
            return Err(ConfigError::at(
                file,
                text,
                None,
                "edge.failed_wake_backoff_max",
                format!("must be at least edge.failed_wake_backoff ({})", self.failed_wake_backoff),
            ));
        }
        Ok(())
    }

    /// The cool-down after failed wakes.
    pub fn failed_wake_backoff(&self) -> crate::apps::Backoff {
        crate::apps::Backoff { initial: self.failed_wake_backoff.0, max: self.failed_wake_backoff_max.0 }
    }
}

fn default_max_header_bytes() -> Spanned<usize> {
    Spanned::new(0..0, 64 * 1024)
}
fn default_header_read_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_idle_keep_alive() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
fn default_upstream_connect_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(5)
}
fn default_upstream_response_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
fn default_request_body_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
fn default_max_waiting_per_app() -> u32 {
    1000
}
fn default_max_upstream_connections() -> u32 {
    crate::apps::DEFAULT_MAX_UPSTREAM_CONNECTIONS
}
fn default_failed_wake_backoff() -> ConfigDuration {
    ConfigDuration::from_secs(1)
}
fn default_failed_wake_backoff_max() -> ConfigDuration {
    ConfigDuration::from_secs(300)
}
fn default_drain_grace() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n";

    #[test]
    fn defaults_are_sane_and_keys_are_read() {
        let config = Config::parse(BASE, "p.toml").unwrap();
        assert_eq!(config.edge.header_read_timeout.0.as_secs(), 10);
        assert_eq!(config.edge.request_body_timeout.0.as_secs(), 60);
        assert_eq!(config.edge.max_connections, None, "from the open files limit");
        assert!(config.edge.https.is_empty() && config.edge.waiting_page);
        let text = format!(
            "{BASE}[edge]\nidle_keep_alive = \"5s\"\nmax_connections = 8\n[[edge.https]]\nlisten = \"127.0.0.1:0\"\ncerts = [{{ cert = \"a.pem\", key = \"a.key\" }}]\n"
        );
        let config = Config::parse(&text, "p.toml").unwrap();
        assert_eq!(config.edge.idle_keep_alive.0.as_secs(), 5);
        assert_eq!(config.edge.max_connections, Some(8));
        assert_eq!(config.edge.https[0].certs.get_ref()[0].key.to_str(), Some("a.key"));
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let text = format!("{BASE}[edge]\nmax_header_bytes = 100\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("edge.max_header_bytes") && error.contains("line 5"), "{error}");
        let text = format!("{BASE}[edge]\n[[edge.https]]\nlisten = \"127.0.0.1:0\"\ncerts = []\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("edge.https[0].certs") && error.contains("line 7"), "{error}");
        let text = format!("{BASE}[edge]\nredirect_http_to_https = true\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("needs an HTTPS listener"), "{error}");
        let text = format!("{BASE}[edge]\nmax_upstream_connections = 0\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("edge.max_upstream_connections") && error.contains("at least 1"), "{error}");
        let app = "[[apps]]\nname = \"a\"\nbackend = \"process\"\ncommand = [\"true\"]\nmax_upstream_connections = 0\n";
        let error = Config::parse(&format!("{BASE}{app}"), "p.toml").unwrap_err().to_string();
        assert!(error.contains("apps[0].max_upstream_connections") && error.contains("line 8"), "{error}");
        let text = format!("{BASE}[edge]\nmax_connections = 0\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("edge.max_connections") && error.contains("at least 1"), "{error}");
        let text = format!("{BASE}[edge]\nrequest_body_timeout = \"0s\"\n");
        let error = Config::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(error.contains("edge.request_body_timeout") && error.contains("greater than zero"), "{error}");
        let text = format!("{BASE}[edge]\nheader_timeout = \"1s\"\n");
        assert!(Config::parse(&text, "p.toml").is_err(), "unknown keys are refused");
    }
}
