//! A real headless Chromium driven over WebDriver (chromedriver +
//! fantoccini). Debian's `chromium` and `chromium-driver` are installed with
//! apt-get when missing, once, under a lock: an in-process one for the tests
//! of this binary, a file lock for other processes, and dpkg's own lock
//! (waited on) for anything else running apt.

use fantoccini::{Client, ClientBuilder};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_LOCK: &str = "/tmp/paastis-tests-chromium-install.lock";

static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

fn present() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// Installs Chromium and its driver if they are missing; panics with the
/// reason when that is impossible (not root, no apt-get).
pub async fn ensure_chromium() {
    INSTALLED.get_or_init(install).await;
}

async fn install() {
    if present() {
        return;
    }
    let lock = std::fs::File::create(INSTALL_LOCK).expect("create the install lock file");
    let lock = tokio::task::spawn_blocking(move || nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive))
        .await
        .expect("lock task")
        .unwrap_or_else(|(_, e)| panic!("cannot lock {INSTALL_LOCK}: {e}"));
    if present() {
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "chromium and chromium-driver are missing and this test is not root: \
         run `apt-get install -y chromium chromium-driver`"
    );
    eprintln!("installing chromium and chromium-driver with apt-get (once)");
    let apt = |args: &'static [&'static str]| async move {
        let status = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600", "-q"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .await
            .unwrap_or_else(|e| panic!("cannot run apt-get: {e}"));
        assert!(status.success(), "apt-get {args:?} failed: {status}");
    };
    apt(&["update"]).await;
    apt(&["install", "-y", "--no-install-recommends", "chromium", "chromium-driver"]).await;
    assert!(present(), "apt-get succeeded but {CHROMIUM} or {CHROMEDRIVER} is still missing");
    drop(lock);
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless session.
    pub async fn start() -> Browser {
        ensure_chromium().await;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
            probe.local_addr().expect("probe addr").port()
        };
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn chromedriver");
        let mut lines = BufReader::new(driver.stdout.take().expect("piped stdout")).lines();
        let started = super::within(Duration::from_secs(30), "chromedriver to start", async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("started successfully") {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(started, "chromedriver exited before it started");
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    // Nothing to fetch from outside, and less CPU taken from parallel tests.
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--mute-audio",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = super::within(
            Duration::from_secs(60),
            "a chromium session",
            ClientBuilder::new(connector).capabilities(capabilities).connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot start a chromium session: {e}"));
        Browser { client, driver, _profile: profile }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.start_kill();
        let _ = self.driver.wait().await;
    }
}
