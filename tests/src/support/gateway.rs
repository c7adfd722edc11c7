//! A real gateway process: this test binary re-executed as `paastis serve`,
//! with a config written to a temp dir and a real sled store.

use super::{AppBuilder, EXEC_AS_PAASTIS, Logs, TestClient};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct GatewayBuilder {
    apps: Vec<AppBuilder>,
    policy: String,
    policy_params: Vec<(String, String)>,
    /// More `[policy]` keys, as TOML literals.
    policy_keys: Vec<(String, String)>,
    tick: String,
    flush_interval: String,
    data_dir: Option<PathBuf>,
    /// `[admin]` keys, as TOML literals; `listen` defaults to an ephemeral port.
    admin_keys: Vec<(String, String)>,
    /// `[savings]` keys, as TOML literals.
    savings_keys: Vec<(String, String)>,
    /// Raw TOML appended to the config (`[[backends]]`, `[[rules]]`, …).
    extra: Vec<String>,
    /// Environment of the gateway process (secrets for the backends).
    env: Vec<(String, String)>,
    domain: String,
    /// `[edge]` keys, as TOML literals.
    edge_keys: Vec<(String, String)>,
    /// More `[store]` keys, as TOML literals.
    store_keys: Vec<(String, String)>,
    /// One `[[edge.https]]` per entry: its certs as TOML inline tables.
    https: Vec<Vec<String>>,
    /// `server.listen`, as a TOML literal.
    listen: String,
    /// More `[server]` keys, as TOML literals.
    server_keys: Vec<(String, String)>,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder {
            apps: Vec::new(),
            policy: "inactivity".into(),
            policy_params: vec![("idle_timeout".into(), "\"1h\"".into())],
            policy_keys: Vec::new(),
            tick: "100ms".into(),
            flush_interval: "200ms".into(),
            data_dir: None,
            admin_keys: vec![("listen".into(), "\"127.0.0.1:0\"".into())],
            savings_keys: Vec::new(),
            extra: Vec::new(),
            env: Vec::new(),
            domain: "localhost".into(),
            edge_keys: Vec::new(),
            store_keys: Vec::new(),
            https: Vec::new(),
            listen: "\"127.0.0.1:0\"".into(),
            server_keys: Vec::new(),
        }
    }
}

impl GatewayBuilder {
    pub fn new() -> GatewayBuilder {
        GatewayBuilder::default()
    }
    /// `server.listen`: several addresses (the first is `TestGateway::addr`).
    pub fn listen(mut self, addrs: &[&str]) -> Self {
        let quoted: Vec<String> = addrs.iter().map(|a| format!("{a:?}")).collect();
        self.listen = format!("[{}]", quoted.join(", "));
        self
    }
    pub fn app(mut self, app: AppBuilder) -> Self {
        self.apps.push(app);
        self
    }
    /// A policy param; `value` is a TOML literal such as `"2s"` or `["/healthz"]`.
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.policy_params.retain(|(k, _)| k != key);
        self.policy_params.push((key.into(), value.into()));
        self
    }
    /// `policy.tick`, such as `"1h"` to keep ticks out of a test's way.
    pub fn tick(mut self, every: &str) -> Self {
        self.tick = every.to_owned();
        self
    }
    pub fn idle_timeout(self, d: &str) -> Self {
        self.param("idle_timeout", &format!("{d:?}"))
    }
    /// The default policy: a component file instead of the built-in
    /// `inactivity`. The gateway names it after the file's stem.
    /// A `[policy]` key; `value` is a TOML literal.
    pub fn policy_key(mut self, key: &str, value: &str) -> Self {
        self.policy_keys.push((key.into(), value.into()));
        self
    }
    /// The watched policies directory.
    pub fn policy_dir(self, dir: &Path) -> Self {
        let literal = format!("{:?}", dir.display().to_string());
        self.policy_key("dir", &literal)
    }
    pub fn policy_file(mut self, path: &Path) -> Self {
        self.policy = path.display().to_string();
        self
    }
    pub fn flush_interval(mut self, d: &str) -> Self {
        self.flush_interval = d.into();
        self
    }
    /// Keeps config and store in `dir`, so a second gateway can reuse them.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// A `[server]` key; `value` is a TOML literal.
    pub fn server_key(mut self, key: &str, value: &str) -> Self {
        self.server_keys.retain(|(k, _)| k != key);
        self.server_keys.push((key.into(), value.into()));
        self
    }

    /// An `[admin]` key; `value` is a TOML literal.
    pub fn admin_key(mut self, key: &str, value: &str) -> Self {
        self.admin_keys.retain(|(k, _)| k != key);
        self.admin_keys.push((key.into(), value.into()));
        self
    }
    /// Sets the admin token in the gateway's environment (under the default
    /// `PAASTIS_ADMIN_TOKEN`).
    pub fn admin_token(self, token: &str) -> Self {
        self.env("PAASTIS_ADMIN_TOKEN", token)
    }
    /// Raw TOML appended to the config, such as a `[[backends]]` entry.
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push(toml.to_owned());
        self
    }
    /// An environment variable of the gateway process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    /// A `[savings]` key; `value` is a TOML literal.
    pub fn savings_key(mut self, key: &str, value: &str) -> Self {
        self.savings_keys.push((key.into(), value.into()));
        self
    }
    /// The domain apps live under (`NAME.DOMAIN`).
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = domain.into();
        self
    }
    /// An `[edge]` key; `value` is a TOML literal such as `"2s"` or `true`.
    pub fn edge(mut self, key: &str, value: &str) -> Self {
        self.edge_keys.retain(|(k, _)| k != key);
        self.edge_keys.push((key.into(), value.into()));
        self
    }
    /// A `[store]` key; `value` is a TOML literal.
    pub fn store_key(mut self, key: &str, value: &str) -> Self {
        self.store_keys.retain(|(k, _)| k != key);
        self.store_keys.push((key.into(), value.into()));
        self
    }
    /// Keeps state in `redis` (a replica of its cluster), with a short
    /// leader lease so that failovers take a test seconds.
    pub fn redis(self, redis: &super::redis::RedisServer) -> Self {
        self.store_key("backend", "\"redis\"")
            .store_key("url_env", &format!("{:?}", super::redis::URL_ENV))
            .store_key("prefix", "\"test\"")
            .store_key("leader_lease", "\"1s\"")
            .env(super::redis::URL_ENV, &redis.url())
    }
    /// An HTTPS listener on an ephemeral port serving `certs` (SNI picks).
    pub fn https(mut self, certs: &[&super::tls::IssuedCert]) -> Self {
        self.https.push(certs.iter().map(|c| c.toml()).collect());
        self
    }

    pub fn config_text(&self, store: &Path) -> String {
        let mut toml = format!(
            "[server]\nlisten = {}\ndomain = {:?}\n\n[store]\npath = {:?}\nflush_interval = {:?}\n\n[policy]\ndefault = {:?}\ntick = {:?}\n[policy.params]\n",
            self.listen,
            self.domain,
            store.display().to_string(),
            self.flush_interval,
            self.policy,
            self.tick
        );
        let server_keys: String = self.server_keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        toml = toml.replacen("\n\n[store]\n", &format!("\n{server_keys}\n[store]\n"), 1);
        let store_keys: String = self.store_keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        toml = toml.replacen("\n\n[policy]\n", &format!("\n{store_keys}\n[policy]\n"), 1);
        // Keys of [policy] must come before its [policy.params] sub-table.
        let keys: String = self.policy_keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        toml = toml.replacen("[policy.params]\n", &format!("{keys}[policy.params]\n"), 1);
        for (k, v) in &self.policy_params {
            toml.push_str(&format!("{k} = {v}\n"));
        }
        toml.push_str("\n[admin]\n");
        for (k, v) in &self.admin_keys {
            toml.push_str(&format!("{k} = {v}\n"));
        }
        toml.push_str("\n[savings]\n");
        for (k, v) in &self.savings_keys {
            toml.push_str(&format!("{k} = {v}\n"));
        }
        if !self.edge_keys.is_empty() || !self.https.is_empty() {
            toml.push_str("\n[edge]\n");
            for (k, v) in &self.edge_keys {
                toml.push_str(&format!("{k} = {v}\n"));
            }
            for certs in &self.https {
                toml.push_str(&format!("[[edge.https]]\nlisten = \"127.0.0.1:0\"\ncerts = [{}]\n", certs.join(", ")));
            }
        }
        for app in &self.apps {
            toml.push('\n');
            toml.push_str(&app.toml());
        }
        for extra in &self.extra {
            toml.push('\n');
            toml.push_str(extra);
        }
        toml
    }

    /// Runs `paastis serve` with this config, for a config the gateway must
    /// refuse: waits for it to exit (not for "listening") and returns its
    /// output. A gateway still running after `limit` accepted the config,
    /// which fails the test.
    pub async fn serve_to_exit(self, limit: Duration) -> std::process::Output {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("paastis.toml");
        std::fs::write(&config, self.config_text(&dir.path().join("store"))).expect("write config");
        let exe = std::env::current_exe().expect("test executable path");
        let run = Command::new(exe)
            .args(["serve", "--config", &config.display().to_string()])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(EXEC_AS_PAASTIS, "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(limit, run).await {
            Ok(output) => output.expect("run paastis serve"),
            Err(_) => panic!("`paastis serve` still running after {limit:?}: it accepted a config it should refuse"),
        }
    }

    pub async fn spawn(self) -> TestGateway {
        let temp = match &self.data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("temp dir")),
        };
        let dir =
            self.data_dir.clone().unwrap_or_else(|| temp.as_ref().map(|t| t.path().to_owned()).unwrap_or_default());
        let config = dir.join("paastis.toml");
        std::fs::write(&config, self.config_text(&dir.join("store"))).expect("write config");
        let args = ["serve", "--config", &config.display().to_string()];
        let (child, logs) = spawn_paastis_with_env(&args, &self.env);
        // Generous: a start compiles the built-in policy, which can take long
        // on a loaded machine (policy_new's cargo build runs alongside).
        let listening = logs.wait_for("listening", "", Duration::from_secs(50)).await;
        let addr: SocketAddr = listening["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("bad listening event: {listening}"));
        let admin_enabled = !self.admin_keys.iter().any(|(k, v)| k == "enabled" && v == "false");
        let admin = match admin_enabled {
            true => {
                let listening = logs.wait_for("admin listening", "", Duration::from_secs(30)).await;
                let admin: Option<SocketAddr> = listening["addr"].as_str().and_then(|a| a.parse().ok());
                Some(admin.unwrap_or_else(|| panic!("bad admin listening event: {listening}")))
            }
            false => None,
        };
        let mut https_addrs = Vec::new();
        for nth in 1..=self.https.len() {
            let listening = logs.wait_for_nth("listening https", "", nth, Duration::from_secs(10)).await;
            let addr = listening["addr"].as_str().and_then(|a| a.parse().ok());
            https_addrs.push(addr.unwrap_or_else(|| panic!("bad listening https event: {listening}")));
        }
        let env = self.env.clone();
        TestGateway {
            child: Some(child),
            addr,
            https_addrs,
            admin,
            logs,
            store: dir.join("store"),
            config,
            env,
            _temp: temp,
        }
    }
}

/// Starts this test binary as `paastis ARGS` with JSON logs captured and
/// `env` added to its environment.
pub fn spawn_paastis_with_env(args: &[&str], env: &[(String, String)]) -> (Child, Logs) {
    let exe = std::env::current_exe().expect("test executable path");
    let mut child = Command::new(exe)
        .arg("--log-format")
        .arg("json")
        .args(args)
        .env(EXEC_AS_PAASTIS, "1")
        .env("RUST_LOG", "info")
        // After RUST_LOG, so a test can turn the log up.
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn paastis");
    let logs = Logs::default();
    logs.capture(child.stderr.take().expect("piped stderr"));
    (child, logs)
}

pub struct TestGateway {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The admin listener, unless `[admin] enabled = false`.
    pub admin: Option<SocketAddr>,
    /// The HTTPS listeners, in the order they were added.
    pub https_addrs: Vec<SocketAddr>,
    pub logs: Logs,
    pub store: PathBuf,
    /// The config file it runs with, and the environment it was given.
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
    _temp: Option<tempfile::TempDir>,
}

impl TestGateway {
    pub fn client(&self) -> TestClient {
        TestClient::new(self.addr)
    }

    /// A client for the admin API, sending no token.
    pub fn admin(&self) -> super::AdminClient {
        super::AdminClient::new(self.admin.expect("the admin listener is enabled"))
    }

    /// The log, once every line the gateway wrote before this call has been
    /// read. The gateway writes its log in order from one thread, behind the
    /// request path, so a count read right after a response may miss a line
    /// still on its way. A marker request's access line comes after every
    /// line written before it: counts and negative checks read through this.
    pub async fn logs_caught_up(&self) -> &Logs {
        static MARKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = format!("/paastis-test-log-mark/{}", MARKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        self.client().get("log-mark.invalid", &path).await;
        let limit = Duration::from_secs(20);
        let mark = self.logs.wait_until("request", |v| v["path"] == path.as_str(), 1, limit).await;
        mark.unwrap_or_else(|| {
            panic!("the marker request {path} was not logged within {limit:?}:\n{}", self.logs.dump())
        });
        &self.logs
    }

    /// The pid of the `nth` process started for `app`, from the log.
    pub async fn app_pid(&self, app: &str, nth: usize) -> u32 {
        let started = self.logs.wait_for_nth("app process started", app, nth, Duration::from_secs(20)).await;
        started["pid"].as_u64().expect("pid field") as u32
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("gateway running")
    }

    /// The gateway's resident memory now, in bytes (`VmRSS`).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc status");
        kib * 1024
    }

    pub fn hangup(&self) {
        let pid = self.child.as_ref().and_then(|c| c.id()).expect("gateway running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGHUP)
            .expect("SIGHUP");
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("gateway running");
        let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        super::within(Duration::from_secs(30), "gateway exit after SIGTERM", child.wait()).await.expect("wait")
    }

    /// `kill -9`: the gateway gets no chance to flush or clean up.
    pub async fn kill9(mut self) {
        let mut child = self.child.take().expect("gateway running");
        child.start_kill().expect("SIGKILL");
        super::within(Duration::from_secs(10), "gateway exit after SIGKILL", child.wait()).await.expect("wait");
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- gateway log ---\n{}\n---", self.logs.dump());
        }
    }
}

/// Runs `paastis ARGS` to completion and returns its output.
pub async fn run_paastis(args: &[&str]) -> std::process::Output {
    run_paastis_with_env(args, &[]).await
}

/// `run_paastis` with `env` added to its environment.
pub async fn run_paastis_with_env(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let exe = std::env::current_exe().expect("test executable path");
    let run = Command::new(exe)
        .args(args)
        .env(EXEC_AS_PAASTIS, "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    super::within(Duration::from_secs(30), &format!("paastis {args:?} to finish"), run).await.expect("run paastis")
}
