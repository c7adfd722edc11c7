//! `server.admin_host`: the admin API on the proxy's port, under a host of
//! its own. A PaaS gives an app exactly one port, so the platform's health
//! check and a Prometheus scrape can reach the admin API only there.

use super::Config;
use super::admin::AdminToken;
use super::error::ConfigError;

/// The host is a DNS name (no scheme, port or path), and names no app the
/// config defines: that app would be unreachable at its own host.
pub(super) fn validate(config: &Config, text: &str, file: &str) -> Result<(), ConfigError> {
    let Some(host) = &config.server.admin_host else { return Ok(()) };
    let err = |message: String| ConfigError::at(file, text, Some(host.span()), "server.admin_host", message);
    let name = host.get_ref().strip_suffix('.').unwrap_or(host.get_ref());
    let lowercase = name.to_ascii_lowercase();
    if name.len() > 253 || !lowercase.split('.').all(super::schema::is_dns_label) {
        return Err(err(format!(
            "{:?} is not a host name (dot-separated labels of letters, digits and '-'; no scheme, port or path)",
            host.get_ref()
        )));
    }
    // The same reading of a host as the proxy's routing, so that what is
    // refused here is exactly what would have been routed to the app.
    if let Some(label) = crate::proxy::app_name(&lowercase, &config.server.domain)
        && let Some(i) = config.apps.iter().position(|app| app.name() == label)
    {
        return Err(err(format!(
            "{name:?} is the host of apps[{i}] ({label:?}) under server.domain; the admin API would hide it: \
             choose a host that names no app"
        )));
    }
    Ok(())
}

/// The admin host as the proxy matches it: lowercase, no trailing dot.
pub(crate) fn admin_host(config: &Config) -> Option<String> {
    let host = config.server.admin_host.as_ref()?.get_ref();
    Some(host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase())
}

/// On the proxy's port the admin API faces the Internet: a token must be
/// configured, whatever `[admin]` says about its own listener.
pub(super) fn require_token(config: &Config, token: &AdminToken, file: &str, text: &str) -> Result<(), ConfigError> {
    match &config.server.admin_host {
        Some(host) if token.value.is_none() => Err(ConfigError::at(
            file,
            text,
            Some(host.span()),
            "server.admin_host",
            format!(
                "{:?} serves the admin API on the proxy's port, which needs a bearer token: \
                 set the environment variable {} (admin.token_env)",
                host.get_ref(),
                config.admin.token_env.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"example.com\"\n";

    fn with_host(host: &str, rest: &str) -> String {
        format!("{BASE}admin_host = {host:?}\n\n{rest}")
    }

    fn env_with(token: Option<&'static str>) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "PAASTIS_ADMIN_TOKEN").then(|| token.map(str::to_owned)).flatten()
    }

    #[test]
    fn a_host_name_is_accepted_and_matched_lowercase() {
        let text = with_host("Paastis.Example.com.", "");
        let config = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(super::admin_host(&config).as_deref(), Some("paastis.example.com"));
        let unset = Config::parse(BASE, "t.toml").unwrap();
        assert_eq!(super::admin_host(&unset), None);
    }

    #[test]
    fn what_is_not_a_host_name_is_refused_naming_the_key_and_line() {
        for bad in ["", "paastis.example.com:8443", "https://paastis.example.com", "a..b", "-a.b", "a b", "a/b"] {
            let err = Config::parse(&with_host(bad, ""), "t.toml").unwrap_err().to_string();
            assert!(err.contains("t.toml, line 4, key `server.admin_host`"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_host_of_an_app_is_refused() {
        let app = "[[apps]]\nname = \"paastis\"\nbackend = \"process\"\ncommand = [\"true\"]\n";
        for host in ["paastis.example.com", "www.PAASTIS.example.com"] {
            let err = Config::parse(&with_host(host, app), "t.toml").unwrap_err().to_string();
            assert!(err.contains("key `server.admin_host`") && err.contains("line 4"), "{err}");
            assert!(err.contains("apps[0]"), "{err}");
        }
        // Outside the domain, or another label: no app is hidden.
        Config::parse(&with_host("paastis.ops.internal", app), "t.toml").unwrap();
        Config::parse(&with_host("admin.example.com", app), "t.toml").unwrap();
    }

    #[test]
    fn it_needs_a_token_even_with_the_admin_listener_off() {
        for admin in ["", "[admin]\nenabled = false\n"] {
            let text = with_host("paastis.example.com", admin);
            let config = Config::parse(&text, "t.toml").unwrap();
            let err = config.admin_token_with(env_with(None)).unwrap_err().to_string();
            assert!(err.contains("t.toml, line 4, key `server.admin_host`"), "{err}");
            assert!(err.contains("PAASTIS_ADMIN_TOKEN"), "{err}");
            let token = config.admin_token_with(env_with(Some("s3cret"))).unwrap().unwrap();
            assert_eq!(token.value.as_deref(), Some("s3cret"));
        }
    }

    #[test]
    fn without_it_a_disabled_listener_reads_no_token() {
        let text = format!("{BASE}[admin]\nenabled = false\nlisten = \"0.0.0.0:9180\"\n");
        let config = Config::parse(&text, "t.toml").unwrap();
        assert!(config.admin_token_with(env_with(None)).unwrap().is_none());
    }
}
