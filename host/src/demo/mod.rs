//! `paastis demo`: the gateway with the built-in policy and two demo apps,
//! run by the process backend, so a new user sees the whole loop at once.

mod app_server;
mod tls;

pub(crate) use app_server::DemoApp;

use crate::config::Config;
use crate::gateway::Gateway;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) struct DemoOptions {
    /// Where the gateway listens (both loopbacks by default).
    pub listen: Vec<SocketAddr>,
    pub idle_timeout: Duration,
    pub data_dir: PathBuf,
    /// Also serve HTTPS here, with a certificate generated at start.
    pub tls: Option<SocketAddr>,
    /// The admin API and dashboard.
    pub admin_listen: SocketAddr,
}

/// Where the demo keeps its state without `--data-dir`: per user, so that
/// two people (or two accounts) on one machine never share a folder in the
/// system temp dir. `$XDG_STATE_HOME/paastis/demo`, else the XDG default
/// `~/.local/state/paastis/demo`, else a new temporary directory; the demo
/// prints which.
pub(crate) fn default_data_dir() -> std::io::Result<PathBuf> {
    match crate::user_dirs::xdg_home(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"), ".local/state") {
        Some(dir) => Ok(dir.join("paastis").join("demo")),
        None => tempfile::Builder::new().prefix("paastis-demo-").tempdir().map(tempfile::TempDir::keep),
    }
}

/// The demo's config, written as TOML so it goes through the same parser and
/// checks as a user's file.
pub(crate) fn demo_config(options: &DemoOptions) -> anyhow::Result<Config> {
    let exe = std::env::current_exe()?;
    let exe = toml::Value::String(exe.display().to_string());
    let data = toml::Value::String(options.data_dir.display().to_string());
    let https = match options.tls {
        Some(listen) => {
            let files = tls::write_self_signed(&options.data_dir)?;
            format!(
                "[[edge.https]]\nlisten = \"{listen}\"\ncerts = [{{ cert = {}, key = {} }}]\n",
                toml::Value::String(files.cert.display().to_string()),
                toml::Value::String(files.key.display().to_string()),
            )
        }
        None => String::new(),
    };
    let listen: Vec<String> = reachable(&options.listen).iter().map(|a| format!("{:?}", a.to_string())).collect();
    let text = format!(
        r#"
[server]
listen = [{listen}]
domain = "localhost"

[store]
path = {data}

[admin]
listen = "{admin}"

[policy]
default = "inactivity"
tick = "1s"
[policy.params]
idle_timeout = "{idle}"

{https}
[[apps]]
name = "hello"
backend = "process"
command = [{exe}, "demo-app", "--name", "hello", "--port", "{{port}}"]
ready_path = "/"
wake_timeout = "30s"
stop_grace = "5s"

[[apps]]
name = "slow"
backend = "process"
command = [{exe}, "demo-app", "--name", "slow", "--port", "{{port}}", "--boot-delay", "3s"]
ready_path = "/"
wake_timeout = "30s"
stop_grace = "5s"
"#,
        listen = listen.join(", "),
        admin = options.admin_listen,
        idle = humantime::format_duration(options.idle_timeout),
    );
    Ok(Config::parse(&text, "<demo config>")?)
}

/// The addresses this machine can listen on: an IPv6 address is left out,
/// with a warning, where IPv6 is off (the demo still starts on IPv4).
fn reachable(listen: &[SocketAddr]) -> Vec<SocketAddr> {
    let ipv6 = std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0)).is_ok();
    let (kept, dropped): (Vec<SocketAddr>, Vec<SocketAddr>) = listen.iter().partition(|a| a.is_ipv4() || ipv6);
    if kept.is_empty() {
        return listen.to_vec();
    }
    for addr in dropped {
        tracing::warn!(%addr, "IPv6 is off on this machine; not listening there");
    }
    kept
}

pub(crate) async fn run(options: DemoOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create the demo's data dir {}: {e}", options.data_dir.display()))?;
    tracing::info!(data_dir = %options.data_dir.display(), "demo state");
    let config = demo_config(&options)?;
    let signal = crate::gateway::ShutdownSignal::listen();
    let gateway = Gateway::start(config).await?;
    let addr = gateway.local_addr();
    let port = addr.port();
    let also: String = gateway.local_addrs()[1..].iter().map(|a| format!(" and http://{a}")).collect();
    let idle = humantime::format_duration(options.idle_timeout);
    println!(
        r#"
Paastis demo: gateway on http://{addr}{also}, built-in "inactivity" policy, apps sleep after {idle} idle.

Both apps are asleep. Wake one with a request:
  curl -H 'Host: hello.localhost' http://{addr}/     # boots at once
  curl -H 'Host: slow.localhost'  http://{addr}/     # takes 3 s to boot: a visible cold start
Browsers resolve *.localhost to this machine: http://hello.localhost:{port}/

Watch the log for "app woken" (with wake_ms) and, {idle} after the last request,
"app put to sleep": the app's process is gone (ps -ef | grep demo-app).
State is kept in {data}. Press Ctrl-C to stop; every app process stops with the gateway.
"#,
        data = options.data_dir.display(),
    );
    if let Some(https) = gateway.https_addrs().first() {
        let (ip, port) = (https.ip(), https.port());
        let cert = tls::cert_path(&options.data_dir);
        println!(
            r#"HTTPS on https://{https} with a self-signed certificate made at start ({cert}).
Call it (HTTP/2 through ALPN; --resolve because the certificate names hello.localhost):
  curl --cacert {cert} --resolve hello.localhost:{port}:{ip} https://hello.localhost:{port}/
  curl -k -H 'Host: slow.localhost' https://{https}/
"#,
            cert = cert.display(),
        );
    }
    if let Some(admin) = gateway.admin_addr() {
        println!(
            "Dashboard (apps, savings, events, wake/sleep): http://{admin}/  -  metrics: http://{admin}/metrics\n"
        );
    }
    signal.wait().await;
    gateway.shutdown().await;
    Ok(())
}
