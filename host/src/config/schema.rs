//! The shape of the config file. Every table refuses unknown keys so a typo
//! is an error, not a silently ignored setting.

use super::ConfigDuration;
use super::admin::AdminConfig;
use super::error::ConfigError;
use super::params::ConfigParams;
use super::savings::SavingsConfig;
use super::store::StoreConfig;
use crate::policy::model::Params;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub savings: SavingsConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    /// Shared with the live apps (`apps::App::config`) rather than copied:
    /// at 10,000 apps a copy each costs megabytes.
    #[serde(default, deserialize_with = "shared_apps")]
    pub apps: Vec<std::sync::Arc<AppConfig>>,
    #[serde(default)]
    pub backends: Vec<super::backends::BackendConfig>,
    #[serde(default)]
    pub rules: Vec<super::rules::RuleConfig>,
    #[serde(default)]
    pub hooks: super::hooks::HooksConfig,
    #[serde(default)]
    pub edge: super::EdgeConfig,
    /// The text the config was parsed from, to point into it later.
    #[serde(skip)]
    pub(super) source: Option<std::sync::Arc<Source>>,
}

#[derive(Debug)]
pub(super) struct Source {
    pub file: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the proxy listens: `listen` as written (one address, or a list
    /// such as `["127.0.0.1:8080", "[::1]:8080"]`), else `0.0.0.0:$PORT`
    /// (what a PaaS gives its apps); see `resolve_listen`.
    #[serde(skip, default = "unresolved")]
    pub listen: super::ListenAddrs,
    #[serde(rename = "listen", default)]
    listen_written: Option<Spanned<super::ListenAddrs>>,
    /// The app name is the Host label just before this domain.
    pub domain: String,
    /// A host whose requests on the proxy's port go to the admin API, never
    /// to an app: one port for everything, as a PaaS gives (see
    /// `admin_host.rs`).
    #[serde(default)]
    pub admin_host: Option<Spanned<String>>,
}

fn unresolved() -> super::ListenAddrs {
    super::ListenAddrs::one(SocketAddr::from(([0, 0, 0, 0], 0)))
}

impl ServerConfig {
    /// `listen` as written, else every interface on `port` (the `PORT`
    /// variable, as Scalingo, Heroku and Clever Cloud set it).
    pub(super) fn resolve_listen(&mut self, port: Option<&str>, text: &str, file: &str) -> Result<(), ConfigError> {
        self.listen = match (&self.listen_written, port) {
            (Some(written), _) => written.get_ref().clone(),
            (None, Some(port)) => match port.trim().parse::<u16>() {
                Ok(port) if port > 0 => super::ListenAddrs::one(SocketAddr::from(([0, 0, 0, 0], port))),
                _ => {
                    return Err(ConfigError::at(
                        file,
                        text,
                        None,
                        "server.listen",
                        format!("is not set, and $PORT ({port:?}) is not a port number"),
                    ));
                }
            },
            (None, None) => {
                return Err(ConfigError::at(
                    file,
                    text,
                    None,
                    "server.listen",
                    "is missing: give an address such as \"127.0.0.1:8080\" (or set $PORT, as a PaaS does)",
                ));
            }
        };
        Ok(())
    }

    /// Where `listen` is written, if it is.
    pub(super) fn listen_span(&self) -> Option<std::ops::Range<usize>> {
        self.listen_written.as_ref().map(Spanned::span)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_policy")]
    pub default: Spanned<String>,
    #[serde(default = "default_tick")]
    pub tick: ConfigDuration,
    /// CPU budget of one policy call.
    #[serde(default = "default_call_timeout")]
    pub call_timeout: ConfigDuration,
    /// Whether the policy is asked about every request; a tick-only policy
    /// can turn this off to save the per-request call.
    #[serde(default = "default_true")]
    pub call_on_request: bool,
    /// A directory of policy components (`NAME.wasm`), watched: a new or
    /// changed file is validated and swapped in without a restart.
    pub dir: Option<PathBuf>,
    /// Consecutive failed calls after which a policy version is reverted to
    /// the default for its apps.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Whether warm policy instances serve many calls (`reuse`), or every
    /// call gets a fresh one (`per-call`).
    #[serde(default)]
    pub isolation: Isolation,
    /// Where compiled policies are kept across starts (see
    /// `compile_cache_dir`).
    #[serde(default)]
    pub compile_cache: CompileCache,
    #[serde(default)]
    params: ConfigParams,
}

/// `policy.compile_cache`: `true` (the user's cache directory), `false`, or
/// a directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "true, false, or the path of a directory")]
pub enum CompileCache {
    On(bool),
    Dir(PathBuf),
}

impl Default for CompileCache {
    fn default() -> Self {
        CompileCache::On(true)
    }
}

/// `policy.isolation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Warm instances are reused: a policy's memory may persist between
    /// calls, and may be reset at any time; durable state belongs in `kv`.
    #[default]
    Reuse,
    /// A fresh instance for every call; several times slower.
    PerCall,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            default: default_policy(),
            tick: default_tick(),
            call_timeout: default_call_timeout(),
            call_on_request: true,
            dir: None,
            max_failures: default_max_failures(),
            isolation: Isolation::default(),
            compile_cache: CompileCache::default(),
            params: ConfigParams::default(),
        }
    }
}

impl PolicyConfig {
    pub fn params(&self) -> &Params {
        &self.params.values
    }

    /// The directory of compiled policies, if any: the one configured, or
    /// by default `$XDG_CACHE_HOME/paastis/policies`, else
    /// `~/.cache/paastis/policies` (as cargo, pip or wasmtime keep theirs).
    pub fn compile_cache_dir(&self) -> Option<PathBuf> {
        match &self.compile_cache {
            CompileCache::On(false) => None,
            CompileCache::Dir(dir) => Some(dir.clone()),
            CompileCache::On(true) => {
                let base =
                    crate::user_dirs::xdg_home(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"), ".cache")?;
                Some(base.join("paastis").join("policies"))
            }
        }
    }

    /// Where the default policy comes from.
    pub fn source(&self) -> PolicySource {
        PolicySource::of(self.default.get_ref())
    }

    /// The name the default policy goes by in logs and in the catalog.
    pub fn default_name(&self) -> String {
        self.source().name()
    }

    /// Resolves the default policy's path and the policies directory
    /// against the config file's directory.
    pub(super) fn resolve_paths(&mut self, dir: &std::path::Path) {
        if let PolicySource::File(path) = self.source()
            && path.is_relative()
        {
            self.default = Spanned::new(self.default.span(), dir.join(path).display().to_string());
        }
        if let Some(policies) = &self.dir
            && policies.is_relative()
        {
            self.dir = Some(dir.join(policies));
        }
        if let CompileCache::Dir(cache) = &self.compile_cache
            && cache.is_relative()
        {
            self.compile_cache = CompileCache::Dir(dir.join(cache));
        }
    }
}

/// Where a named policy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySource {
    /// Compiled into the binary (`policy::builtin` holds its bytes).
    Builtin(String),
    /// A component file given by path (ends in `.wasm`).
    File(PathBuf),
    /// `NAME.wasm` in the watched `policy.dir`.
    Dir(String),
}

impl PolicySource {
    pub fn of(name: &str) -> PolicySource {
        if crate::policy::builtin::is_builtin(name) {
            PolicySource::Builtin(name.to_owned())
        } else if name.ends_with(".wasm") {
            PolicySource::File(PathBuf::from(name))
        } else {
            PolicySource::Dir(name.to_owned())
        }
    }

    pub fn name(&self) -> String {
        match self {
            PolicySource::Builtin(name) | PolicySource::Dir(name) => name.clone(),
            PolicySource::File(path) => policy_name_of(path),
        }
    }
}

/// A policy file's name: its stem (`office-hours.wasm` is `office-hours`).
pub(crate) fn policy_name_of(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned())
}

/// `[[apps]]`, each behind an `Arc` (serde's `rc` feature would do it too,
/// at the cost of rebuilding every crate that uses serde). Collected into a
/// new `Vec`: `collect` would reuse the parsed list's buffer in place, and
/// keep its megabytes (10,000 apps: 8 MiB) for a list of pointers.
fn shared_apps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<std::sync::Arc<AppConfig>>, D::Error> {
    let parsed = Vec::<AppConfig>::deserialize(d)?;
    let mut apps = Vec::with_capacity(parsed.len());
    apps.extend(parsed.into_iter().map(std::sync::Arc::new));
    Ok(apps)
}

fn default_policy() -> Spanned<String> {
    Spanned::new(0..0, crate::policy::builtin::DEFAULT_POLICY.to_owned())
}
fn default_tick() -> ConfigDuration {
    ConfigDuration::from_secs(1)
}
fn default_max_failures() -> u32 {
    10
}
fn default_true() -> bool {
    true
}
fn default_call_timeout() -> ConfigDuration {
    ConfigDuration::from_millis(5)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// A local process started and stopped by the gateway.
    Process,
    /// The `[[backends]]` entry of this name (a PaaS account).
    Named(String),
}

impl BackendKind {
    pub fn name(&self) -> &str {
        match self {
            BackendKind::Process => "process",
            BackendKind::Named(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for BackendKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(if name == "process" { BackendKind::Process } else { BackendKind::Named(name) })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: Spanned<String>,
    pub backend: BackendKind,
    /// Program and arguments; `{port}` is replaced by the app's port.
    pub command: Option<Spanned<Vec<String>>>,
    /// Where the app listens once started; a free port is chosen at each
    /// start when omitted.
    pub port: Option<u16>,
    #[serde(default)]
    pub env: HashMap<String, String>,
    pub cwd: Option<PathBuf>,
    #[serde(default = "default_ready_path")]
    pub ready_path: Spanned<String>,
    #[serde(default = "default_wake_timeout")]
    pub wake_timeout: ConfigDuration,
    /// Between SIGTERM and SIGKILL.
    #[serde(default = "default_stop_grace")]
    pub stop_grace: ConfigDuration,
    /// The policy for this app: a built-in or a `NAME.wasm` in `policy.dir`;
    /// the default policy when omitted.
    pub policy: Option<Spanned<String>>,
    /// Params for this app, over the policy's.
    #[serde(default)]
    params: ConfigParams,
    /// What this app costs per hour awake; `savings.hourly_cost` if omitted.
    #[serde(default, deserialize_with = "super::savings::non_negative_opt")]
    pub hourly_cost: Option<f64>,
    /// Containers the app runs while awake (for the energy estimate); 1 if omitted.
    pub containers: Option<u32>,
    /// PaaS apps: the app's name (Clever Cloud: its `app_…` id) on the
    /// platform, when it differs from `name`.
    pub remote: Option<String>,
    /// PaaS apps: where to send the traffic, over the platform's default.
    pub upstream: Option<Spanned<String>>,
    /// Apps woken together with this one.
    #[serde(default)]
    pub links: Vec<String>,
    /// Browsers get the waiting page while this app wakes; `edge.waiting_page` if omitted.
    pub waiting_page: Option<bool>,
    /// Requests sent to this app at once; `edge.max_upstream_connections` if omitted.
    pub max_upstream_connections: Option<Spanned<u32>>,
}

impl AppConfig {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
    pub fn ready_path(&self) -> &str {
        self.ready_path.get_ref()
    }
    /// The name of the policy this app asks for, if it asks for one.
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_ref().map(|p| p.get_ref().as_str())
    }
    pub fn command(&self) -> &[String] {
        self.command.as_ref().map_or(&[], |c| c.get_ref().as_slice())
    }
    /// How this app's sleep is priced.
    pub fn rates(&self, savings: &SavingsConfig) -> crate::savings::Rates {
        savings.rates(self.hourly_cost, self.containers)
    }
    /// The app's name on its platform.
    pub fn remote(&self) -> &str {
        self.remote.as_deref().unwrap_or_else(|| self.name())
    }
    /// Requests sent to this app at once, if it says.
    pub fn max_upstream_connections(&self) -> Option<u32> {
        self.max_upstream_connections.as_ref().map(|cap| *cap.get_ref())
    }
    pub fn upstream(&self) -> Option<&str> {
        self.upstream.as_ref().map(|u| u.get_ref().as_str())
    }
    /// An app found on a platform rather than written in the config file.
    pub fn discovered(spec: DiscoveredApp) -> AppConfig {
        AppConfig {
            name: Spanned::new(0..0, spec.name),
            backend: BackendKind::Named(spec.backend),
            command: None,
            port: None,
            env: HashMap::new(),
            cwd: None,
            ready_path: Spanned::new(0..0, spec.ready_path),
            wake_timeout: spec.wake_timeout,
            stop_grace: default_stop_grace(),
            policy: spec.policy.map(|p| Spanned::new(0..0, p)),
            params: ConfigParams { values: spec.params, spans: Default::default() },
            hourly_cost: spec.hourly_cost,
            containers: spec.containers,
            remote: Some(spec.remote),
            upstream: spec.upstream.map(|u| Spanned::new(0..0, u)),
            links: spec.links,
            waiting_page: None,
            max_upstream_connections: None,
        }
    }
    /// Fills what a rule says and this app does not.
    /// `pricing` is the rule's hourly cost and container count.
    pub fn apply_rule(
        &mut self,
        policy: Option<String>,
        params: &Params,
        links: Vec<String>,
        pricing: (Option<f64>, Option<u32>),
    ) {
        self.hourly_cost = self.hourly_cost.or(pricing.0);
        self.containers = self.containers.or(pricing.1);
        if self.policy.is_none() {
            self.policy = policy.map(|p| Spanned::new(0..0, p));
        }
        for (k, v) in params {
            self.params.values.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if self.links.is_empty() {
            self.links = links;
        }
    }
    /// The policy's params with this app's own on top.
    pub fn params(&self, policy: &PolicyConfig) -> Params {
        let mut merged = policy.params().clone();
        merged.extend(self.params.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
    }
}

/// What discovery and the rules know of an app found on a platform.
pub struct DiscoveredApp {
    pub name: String,
    pub backend: String,
    pub remote: String,
    pub upstream: Option<String>,
    pub policy: Option<String>,
    pub params: Params,
    pub links: Vec<String>,
    pub hourly_cost: Option<f64>,
    pub containers: Option<u32>,
    pub ready_path: String,
    pub wake_timeout: ConfigDuration,
}

/// Whether two listeners would compete for one socket: the same port (not
/// 0, an ephemeral one each) on the same address, or on an unspecified one
/// of the same family; `[::]` takes IPv4 too (Linux binds it dual-stack).
fn same_socket(a: SocketAddr, b: SocketAddr) -> bool {
    let unspecified_v6 = |ip: std::net::IpAddr| ip.is_ipv6() && ip.is_unspecified();
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip()
            || unspecified_v6(a.ip())
            || unspecified_v6(b.ip())
            || (a.is_ipv4() == b.is_ipv4() && (a.ip().is_unspecified() || b.ip().is_unspecified())))
}

fn default_ready_path() -> Spanned<String> {
    Spanned::new(0..0, "/".to_owned())
}
fn default_wake_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
/// Also what the start sweep gives an app no longer in the config.
pub(crate) fn default_stop_grace() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}

impl Config {
    /// A config error for params the policy refused for `apps[index]`. The
    /// SDK names the param as `param "NAME"`; the error points at it in the
    /// app's own params, else in `[policy.params]`.
    pub fn params_error(&self, index: usize, message: &str) -> ConfigError {
        let (file, text) = self.source.as_deref().map_or(("<config>", ""), |s| (s.file.as_str(), s.text.as_str()));
        // The runtime quotes the guest's message, so the name may come escaped.
        let named = ["param \\\"", "param \""]
            .iter()
            .find_map(|open| message.split(open).nth(1))
            .and_then(|rest| rest.split(['"', '\\']).next());
        let app = self.apps.get(index);
        let located = named.and_then(|name| {
            if let Some(span) = app.and_then(|a| a.params.spans.get(name)) {
                return Some((format!("apps[{index}].params.{name}"), span.clone()));
            }
            self.policy.params.spans.get(name).map(|span| (format!("policy.params.{name}"), span.clone()))
        });
        let (key, span) = match located {
            Some((key, span)) => (key, Some(span)),
            None => (format!("apps[{index}].params"), app.map(|a| a.name.span())),
        };
        ConfigError::at(file, text, span, &key, format!("the policy refuses it: {message}"))
    }

    /// Two listeners on one port: `serve` would fail to bind the second, so
    /// `check` refuses it too.
    fn no_shared_port(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let server = self.server.listen.as_slice().iter().map(|a| ("server.listen".to_owned(), *a, None));
        let admin = self
            .admin
            .enabled
            .then(|| ("admin.listen".to_owned(), *self.admin.listen.get_ref(), Some(self.admin.listen.span())));
        let https =
            self.edge.https.iter().enumerate().map(|(i, h)| (format!("edge.https[{i}].listen"), h.listen, None));
        let mut seen: Vec<(String, SocketAddr)> = Vec::new();
        for (key, addr, span) in server.chain(admin).chain(https) {
            if let Some((other, _)) = seen.iter().find(|(_, earlier)| same_socket(*earlier, addr)) {
                let span = span.or_else(|| (key == "server.listen").then(|| self.server.listen_span()).flatten());
                let message = format!("{addr} is also where {other} listens; each listener needs its own port");
                return Err(ConfigError::at(file, text, span, &key, message));
            }
            seen.push((key, addr));
        }
        Ok(())
    }

    pub(super) fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let err = |span, key: String, msg: String| ConfigError::at(file, text, Some(span), &key, msg);
        if self.server.domain.trim_matches('.').is_empty() {
            return Err(ConfigError::at(file, text, None, "server.domain", "must not be empty"));
        }
        let policy = &self.policy.default;
        if let PolicySource::Dir(name) = self.policy.source()
            && self.policy.dir.is_none()
        {
            return Err(err(policy.span(), "policy.default".into(), unknown_policy(&name)));
        }
        self.admin.validate(file, text)?;
        self.store.validate(text, file)?;
        self.edge.validate(text, file)?;
        self.no_shared_port(text, file)?;
        super::admin_host::validate(self, text, file)?;
        if self.policy.tick.0.is_zero() {
            return Err(ConfigError::at(file, text, None, "policy.tick", "must be greater than zero"));
        }
        let mut seen = HashMap::new();
        for (i, app) in self.apps.iter().enumerate() {
            let name = app.name.get_ref();
            if !is_dns_label(name) {
                return Err(err(
                    app.name.span(),
                    format!("apps[{i}].name"),
                    format!("{name:?} is not a valid host label (lowercase letters, digits and '-', at most 63)"),
                ));
            }
            if let Some(first) = seen.insert(name.clone(), i) {
                return Err(err(
                    app.name.span(),
                    format!("apps[{i}].name"),
                    format!("app {name:?} is already defined by apps[{first}]"),
                ));
            }
            match (&app.backend, &app.command) {
                (BackendKind::Named(backend), command) => {
                    if !self.backends.iter().any(|b| b.name() == backend) {
                        return Err(err(
                            app.name.span(),
                            format!("apps[{i}].backend"),
                            format!("{backend:?} is neither \"process\" nor the name of a [[backends]] entry"),
                        ));
                    }
                    if let Some(command) = command {
                        return Err(err(
                            command.span(),
                            format!("apps[{i}].command"),
                            "only process apps have a command; a PaaS app is started by its platform".into(),
                        ));
                    }
                }
                (_, Some(command)) if !command.get_ref().is_empty() => {}
                (_, Some(command)) => {
                    return Err(err(command.span(), format!("apps[{i}].command"), "must name a program".into()));
                }
                (_, None) => {
                    return Err(err(
                        app.name.span(),
                        format!("apps[{i}].command"),
                        "the process backend needs a command".into(),
                    ));
                }
            }
            if app.port == Some(0) {
                let message = "must be a port from 1 to 65535; omit it to get a free port at each start";
                return Err(ConfigError::at(file, text, None, &format!("apps[{i}].port"), message));
            }
            if app.backend == BackendKind::Process && self.store.is_redis() && !self.store.single_replica {
                return Err(err(
                    app.name.span(),
                    format!("apps[{i}].backend"),
                    "a process app runs on the machine of one gateway, so replicas sharing a Redis store cannot \
                     share it; use a PaaS backend, or set `single_replica = true` in [store] if exactly one \
                     gateway runs"
                        .into(),
                ));
            }
            if let Some(cap) = &app.max_upstream_connections
                && *cap.get_ref() == 0
            {
                return Err(err(
                    cap.span(),
                    format!("apps[{i}].max_upstream_connections"),
                    "must be at least 1".into(),
                ));
            }
            if let Some(policy) = &app.policy {
                match PolicySource::of(policy.get_ref()) {
                    PolicySource::Builtin(_) => {}
                    PolicySource::Dir(name) if self.policy.dir.is_some() && is_policy_name(&name) => {}
                    PolicySource::Dir(name) if self.policy.dir.is_some() => {
                        return Err(err(
                            policy.span(),
                            format!("apps[{i}].policy"),
                            format!("{name:?} is not a policy name (letters, digits, '-' and '_')"),
                        ));
                    }
                    PolicySource::File(_) => {
                        return Err(err(
                            policy.span(),
                            format!("apps[{i}].policy"),
                            "name a policy (a built-in, or NAME for NAME.wasm in policy.dir), not a file".into(),
                        ));
                    }
                    PolicySource::Dir(name) => {
                        return Err(err(policy.span(), format!("apps[{i}].policy"), unknown_policy(&name)));
                    }
                }
            }
            if !app.ready_path.get_ref().starts_with('/') {
                return Err(err(app.ready_path.span(), format!("apps[{i}].ready_path"), "must start with '/'".into()));
            }
            if let Some(upstream) = &app.upstream
                && let Err(e) = super::backends::check_upstream(upstream.get_ref())
            {
                return Err(err(upstream.span(), format!("apps[{i}].upstream"), e));
            }
        }
        super::backends::validate(self, text, file)?;
        Ok(())
    }
}

fn unknown_policy(name: &str) -> String {
    format!(
        "unknown policy {name:?}: not a built-in ({}), and no policy.dir to find {name}.wasm in; \
         or give a path ending in .wasm",
        crate::policy::builtin::BUILTIN_POLICIES.join(", ")
    )
}

fn is_policy_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod listen_tests {
    use crate::config::Config;

    const NO_LISTEN: &str = "[server]\ndomain = \"example.com\"\n";

    #[test]
    fn listen_comes_from_port_when_unset() {
        let config = Config::parse_with_port(NO_LISTEN, "p.toml", Some("8123")).unwrap();
        assert_eq!(config.server.listen.first().to_string(), "0.0.0.0:8123");
        let written = "[server]\nlisten = \"127.0.0.1:9000\"\ndomain = \"example.com\"\n";
        let config = Config::parse_with_port(written, "p.toml", Some("8123")).unwrap();
        assert_eq!(config.server.listen.first().to_string(), "127.0.0.1:9000", "a written listen wins");
    }

    #[test]
    fn no_listen_and_no_port_is_an_error_naming_the_key() {
        for port in [None, Some("http"), Some("0"), Some("70000")] {
            let error = Config::parse_with_port(NO_LISTEN, "p.toml", port).unwrap_err().to_string();
            assert!(error.contains("server.listen") && error.contains("p.toml"), "{port:?}: {error}");
        }
    }
}

#[cfg(test)]
mod compile_cache_tests {
    use crate::config::Config;
    use std::path::PathBuf;

    fn with(policy: &str) -> Result<Config, String> {
        let text = format!("[server]\nlisten = \"127.0.0.1:9000\"\ndomain = \"example.com\"\n\n[policy]\n{policy}\n");
        Config::parse(&text, "p.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn off_a_directory_or_the_users_cache() {
        assert_eq!(with("compile_cache = false").unwrap().policy.compile_cache_dir(), None);
        assert_eq!(
            with("compile_cache = \"/srv/cache\"").unwrap().policy.compile_cache_dir(),
            Some(PathBuf::from("/srv/cache"))
        );
        // The default follows XDG_CACHE_HOME, else HOME (read from the
        // environment, which this test does not change: it only checks the
        // default is the documented place when those are set).
        let default = with("").unwrap().policy.compile_cache_dir();
        let expected = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")).filter(|p| p.is_absolute()))
            .map(|base| base.join("paastis").join("policies"));
        assert_eq!(default, expected);
    }

    #[test]
    fn a_relative_directory_is_the_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paastis.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\ndomain = \"example.com\"\n[policy]\ncompile_cache = \"cache\"\n",
        )
        .unwrap();
        let config = Config::load(&file).unwrap();
        assert_eq!(config.policy.compile_cache_dir(), Some(dir.path().join("cache")));
    }

    #[test]
    fn anything_else_is_an_error_naming_the_key_and_line() {
        let error = with("compile_cache = 3").unwrap_err();
        assert_eq!(
            error,
            "config error in p.toml, line 6, key `policy.compile_cache`: true, false, or the path of a directory"
        );
    }
}
