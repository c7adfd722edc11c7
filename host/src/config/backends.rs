//! `[[backends]]`: the PaaS accounts the gateway drives (Scalingo, Clever
//! Cloud, Heroku, Render). Secrets are never in the file: the config names the
//! environment variables that hold them.

use super::ConfigDuration;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformKind {
    Scalingo,
    CleverCloud,
    Heroku,
    Render,
    Kubernetes,
}

impl PlatformKind {
    /// Calls per minute the platform allows: Scalingo documents 60, Heroku
    /// 4500 an hour; Clever Cloud documents none, 60 is a polite guess;
    /// Render documents 100 (or 400) GETs a minute and 30 other calls.
    pub fn default_rate_limit(self) -> u32 {
        match self {
            PlatformKind::Scalingo => 60,
            PlatformKind::CleverCloud => 60,
            PlatformKind::Heroku => 75,
            PlatformKind::Render => 100,
            // client-go's default: 5 queries a second.
            PlatformKind::Kubernetes => 300,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Scalingo => "scalingo",
            PlatformKind::CleverCloud => "clever_cloud",
            PlatformKind::Heroku => "heroku",
            PlatformKind::Render => "render",
            PlatformKind::Kubernetes => "kubernetes",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub kind: PlatformKind,
    /// What apps name in `backend = ...`, and what logs and events say.
    pub name: Spanned<String>,
    /// Scalingo: `osc-fr1` or `osc-secnum-fr1`.
    pub region: Option<String>,
    /// Overrides the platform's API base URL (tests, corporate proxies).
    pub api_url: Option<Spanned<String>>,
    /// Overrides Scalingo's token exchange base URL.
    pub auth_url: Option<Spanned<String>>,
    /// Env var holding the API token (Scalingo, Heroku, Clever Cloud bearer,
    /// Render API key).
    pub token_env: Option<Spanned<String>>,
    /// Clever Cloud OAuth1 PLAINTEXT: env vars of the four credentials.
    pub consumer_key_env: Option<String>,
    pub consumer_secret_env: Option<String>,
    pub oauth_token_env: Option<String>,
    pub oauth_secret_env: Option<String>,
    /// Clever Cloud organisation (`orga_…`); the user's own apps if omitted.
    pub org: Option<String>,
    /// Render workspace (`tea-…` or `usr-…`); every service the key sees if omitted.
    pub owner_id: Option<String>,
    /// Kubernetes: a kubeconfig file (`~/` is the home directory, a relative
    /// path is the config file's directory); the pod's service account if
    /// omitted.
    pub kubeconfig: Option<Spanned<String>>,
    /// Kubernetes: the kubeconfig context; its current context if omitted.
    pub context: Option<Spanned<String>>,
    /// Kubernetes: the namespaces to look in; all of them if omitted.
    pub namespaces: Option<Spanned<Vec<String>>>,
    /// Kubernetes: the label selector of the workloads to serve.
    pub selector: Option<Spanned<String>>,
    /// Upstream template; `{app}` is the platform's app name (Clever Cloud,
    /// Render: the id). Each platform's public host if omitted.
    pub upstream: Option<Spanned<String>>,
    /// How often the app list is read. Keep it well inside the rate limit.
    #[serde(default = "default_discovery_interval")]
    pub discovery_interval: ConfigDuration,
    /// Serve every app the account has (filtered by allow/ignore), not only
    /// the `[[apps]]` that name this backend.
    #[serde(default = "default_true")]
    pub discover: bool,
    /// Regexes; when not empty, only matching app names are served.
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    /// Regexes of app names never served.
    #[serde(default)]
    pub ignore: Vec<Spanned<String>>,
    /// The gateway's own app, never put to sleep. Defaults to `$APP`
    /// (Scalingo), `$HEROKU_APP_NAME`, `$APP_ID` (Clever Cloud) or
    /// `$RENDER_SERVICE_ID`.
    pub gateway_app: Option<String>,
    /// Requests per minute; the platform's documented limit if omitted.
    pub rate_limit: Option<u32>,
    /// Retries of a 429, 5xx or timed-out call.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First backoff delay, doubled at each retry.
    #[serde(default = "default_backoff")]
    pub backoff: ConfigDuration,
    /// The longest a Retry-After is honoured before giving up.
    #[serde(default = "default_max_retry_wait")]
    pub max_retry_wait: ConfigDuration,
    /// One API call.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
    /// Between two polls of a pending operation.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: ConfigDuration,
    /// Wake timeout and readiness path of this backend's discovered apps
    /// (`[[apps]]` entries set their own).
    pub wake_timeout: Option<ConfigDuration>,
    pub ready_path: Option<String>,
}

impl BackendConfig {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
    pub fn rate_limit(&self) -> u32 {
        self.rate_limit.unwrap_or(self.kind.default_rate_limit())
    }

    /// `kubeconfig`: `~/` is the home directory; a relative path is taken
    /// from the config file's directory.
    pub(super) fn resolve_paths(&mut self, dir: &std::path::Path) {
        let Some(path) = self.kubeconfig.as_mut() else { return };
        let text = path.get_ref().clone();
        let resolved = match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
            _ if std::path::Path::new(&text).is_relative() => dir.join(&text),
            _ => return,
        };
        *path.get_mut() = resolved.display().to_string();
    }
}

fn default_discovery_interval() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
fn default_true() -> bool {
    true
}
fn default_max_retries() -> u32 {
    5
}
fn default_backoff() -> ConfigDuration {
    ConfigDuration::from_millis(500)
}
fn default_max_retry_wait() -> ConfigDuration {
    ConfigDuration::from_secs(60)
}
fn default_request_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}
fn default_poll_interval() -> ConfigDuration {
    ConfigDuration::from_secs(2)
}

impl super::Config {
    /// A config error about `key` of `backends[index]`, found at runtime
    /// (a credential missing from the environment): it points at the key's
    /// line, else at the entry's name.
    pub fn backend_error(&self, index: usize, key: &str, message: impl Into<String>) -> super::ConfigError {
        let (file, text) = self.source.as_deref().map_or(("<config>", ""), |s| (s.file.as_str(), s.text.as_str()));
        let backend = self.backends.get(index);
        let span = backend.and_then(|b| match key {
            "token_env" => b.token_env.as_ref().map(Spanned::span),
            "kubeconfig" => b.kubeconfig.as_ref().map(Spanned::span),
            "context" => b.context.as_ref().map(Spanned::span),
            _ => None,
        });
        let span = span.or_else(|| backend.map(|b| b.name.span()));
        super::ConfigError::at(file, text, span, &format!("backends[{index}].{key}"), message)
    }
}

type KeyError = (std::ops::Range<usize>, String, String);

/// Namespaces are DNS labels; a selector is equality-based terms (`k=v`,
/// `k!=v`, `k`, `!k`) or set-based ones, at least one; a context needs a
/// kubeconfig.
fn validate_kubernetes(backend: &BackendConfig, i: usize) -> Result<(), KeyError> {
    if let Some(namespaces) = &backend.namespaces {
        let bad = namespaces.get_ref().iter().find(|ns| {
            ns.is_empty()
                || ns.len() > 63
                || ns.starts_with('-')
                || ns.ends_with('-')
                || !ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
        if let Some(bad) = bad {
            return Err((
                namespaces.span(),
                format!("backends[{i}].namespaces"),
                format!("{bad:?} is not a namespace"),
            ));
        }
        if namespaces.get_ref().is_empty() {
            return Err((
                namespaces.span(),
                format!("backends[{i}].namespaces"),
                "must name at least one namespace; omit it for all".into(),
            ));
        }
    }
    if let Some(selector) = &backend.selector
        && selector.get_ref().split(',').any(|term| term.trim().is_empty() || term.trim() == "!")
    {
        return Err((
            selector.span(),
            format!("backends[{i}].selector"),
            format!("{:?} is not a label selector (such as \"paastis.io/enabled=true\")", selector.get_ref()),
        ));
    }
    if let (Some(context), None) = (&backend.context, &backend.kubeconfig) {
        return Err((context.span(), format!("backends[{i}].context"), "a context needs `kubeconfig`".into()));
    }
    Ok(())
}

/// An upstream must be an absolute http(s) URL.
pub(super) fn check_upstream(text: &str) -> Result<(), String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(format!("{text:?} must be an http:// or https:// URL with a host")),
    }
}

/// Checks `[[backends]]` and `[[rules]]`: unique names, regexes that
/// compile, URLs that parse, credentials named for each kind.
pub(super) fn validate(config: &super::Config, text: &str, file: &str) -> Result<(), super::ConfigError> {
    use super::ConfigError;
    let err = |span, key: String, msg: String| ConfigError::at(file, text, Some(span), &key, msg);
    let mut seen = std::collections::HashSet::new();
    for (i, backend) in config.backends.iter().enumerate() {
        let name = backend.name();
        if name == "process" || name.is_empty() {
            return Err(err(backend.name.span(), format!("backends[{i}].name"), format!("{name:?} is reserved")));
        }
        if !seen.insert(name.to_owned()) {
            return Err(err(backend.name.span(), format!("backends[{i}].name"), format!("{name:?} is already used")));
        }
        for (key, url) in [("api_url", &backend.api_url), ("auth_url", &backend.auth_url)] {
            if let Some(url) = url
                && let Err(e) = check_upstream(url.get_ref())
            {
                return Err(err(url.span(), format!("backends[{i}].{key}"), e));
            }
        }
        if let Some(upstream) = &backend.upstream
            && let Err(e) = check_upstream(&upstream.get_ref().replace("{app}", "app"))
        {
            return Err(err(upstream.span(), format!("backends[{i}].upstream"), e));
        }
        for (key, list) in [("allow", &backend.allow), ("ignore", &backend.ignore)] {
            for (j, pattern) in list.iter().enumerate() {
                if let Err(e) = regex::Regex::new(pattern.get_ref()) {
                    return Err(err(pattern.span(), format!("backends[{i}].{key}[{j}]"), e.to_string()));
                }
            }
        }
        if backend.kind == PlatformKind::Scalingo
            && let Some(region) = &backend.region
            && !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err(
                backend.name.span(),
                format!("backends[{i}].region"),
                format!("{region:?} is not a region"),
            ));
        }
        let oauth = backend.consumer_key_env.is_some()
            && backend.consumer_secret_env.is_some()
            && backend.oauth_token_env.is_some()
            && backend.oauth_secret_env.is_some();
        if backend.kind == PlatformKind::Kubernetes {
            validate_kubernetes(backend, i).map_err(|(span, key, message)| err(span, key, message))?;
        } else if let Some((key, span)) = [
            ("kubeconfig", backend.kubeconfig.as_ref().map(Spanned::span)),
            ("context", backend.context.as_ref().map(Spanned::span)),
            ("namespaces", backend.namespaces.as_ref().map(Spanned::span)),
            ("selector", backend.selector.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .find_map(|(key, span)| Some((key, span?)))
        {
            return Err(err(span, format!("backends[{i}].{key}"), "only kind = \"kubernetes\" takes it".into()));
        }
        let credentials_ok = match backend.kind {
            PlatformKind::Kubernetes => true,
            PlatformKind::CleverCloud => backend.token_env.is_some() || oauth,
            _ => backend.token_env.is_some(),
        };
        if !credentials_ok {
            let wanted = match backend.kind {
                PlatformKind::CleverCloud => {
                    "token_env, or consumer_key_env, consumer_secret_env, oauth_token_env and oauth_secret_env"
                }
                _ => "token_env (the name of the environment variable holding the API token)",
            };
            return Err(err(backend.name.span(), format!("backends[{i}].token_env"), format!("missing: set {wanted}")));
        }
        if let Some(path) = &backend.ready_path
            && !path.starts_with('/')
        {
            return Err(err(backend.name.span(), format!("backends[{i}].ready_path"), "must start with '/'".into()));
        }
        if backend.discovery_interval.0.is_zero() {
            return Err(err(
                backend.name.span(),
                format!("backends[{i}].discovery_interval"),
                "must be greater than zero".into(),
            ));
        }
    }
    for (i, rule) in config.rules.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&format!("^(?:{})$", rule.pattern.get_ref())) {
            return Err(err(rule.pattern.span(), format!("rules[{i}].match"), e.to_string()));
        }
        if let Some(backend) = &rule.backend
            && !seen.contains(backend)
        {
            return Err(err(
                rule.pattern.span(),
                format!("rules[{i}].backend"),
                format!("{backend:?} is not the name of a [[backends]] entry"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n";

    #[test]
    fn the_readme_scalingo_example_is_accepted() {
        let text = format!(
            "{BASE}[[backends]]\nkind = \"scalingo\"\nname = \"scalingo\"\nregion = \"osc-fr1\"\n\
             token_env = \"SCALINGO_API_TOKEN\"\nignore = [\"-production$\"]\ndiscovery_interval = \"60s\"\n\
             wake_timeout = \"120s\"\n\n[[apps]]\nname = \"shop\"\nbackend = \"scalingo\"\nremote = \"my-shop\"\n\
             links = [\"shop-api\"]\n\n[[rules]]\nmatch = 'review-pr(\\d+)-front'\nlinks = [\"review-pr$1-back\"]\n\
             [rules.params]\nidle_timeout = \"5m\"\n\n[hooks]\nafter_stop = 'true'\ntimeout = \"5s\"\n"
        );
        let config = Config::parse(&text, "paastis.toml").unwrap();
        assert_eq!(config.backends[0].name(), "scalingo");
        assert_eq!(config.apps[0].remote(), "my-shop");
        assert_eq!(config.hooks.after_stop.as_deref(), Some("true"));
    }

    fn error_of(tail: &str) -> String {
        Config::parse(&format!("{BASE}{tail}"), "paastis.toml").unwrap_err().to_string()
    }

    #[test]
    fn backend_errors_name_the_key_and_the_line() {
        let unknown = error_of("[[apps]]\nname = \"shop\"\nbackend = \"scalingoo\"\n");
        assert!(unknown.contains("line 5") && unknown.contains("apps[0].backend"), "{unknown}");
        let no_token = error_of("[[backends]]\nkind = \"heroku\"\nname = \"h\"\n");
        assert!(no_token.contains("line 6") && no_token.contains("backends[0].token_env"), "{no_token}");
        let regex = error_of("[[backends]]\nkind = \"heroku\"\nname = \"h\"\ntoken_env = \"T\"\nignore = [\"(\"]\n");
        assert!(regex.contains("line 8") && regex.contains("backends[0].ignore[0]"), "{regex}");
        let rule = error_of("[[rules]]\nmatch = \"a\"\nbackend = \"nope\"\n");
        assert!(rule.contains("rules[0].backend"), "{rule}");
        let command = error_of(
            "[[backends]]\nkind = \"heroku\"\nname = \"h\"\ntoken_env = \"T\"\n[[apps]]\nname = \"a\"\nbackend = \"h\"\ncommand = [\"x\"]\n",
        );
        assert!(command.contains("apps[0].command"), "{command}");
    }
}
