//! A real headless Chromium driven over WebDriver (chromedriver +
//! fantoccini). The tests never install it: `scripts/test-deps` (run by the
//! README's test command and by CI) does; a test that finds it missing fails
//! with the command that installs it.

use fantoccini::{Client, ClientBuilder};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Panics with the install command when Chromium or its driver is missing.
pub fn require_chromium() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "{} missing: run `scripts/test-deps` (or `apt-get install -y chromium chromium-driver`)",
        missing.join(" and ")
    );
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless session.
    pub async fn start() -> Browser {
        require_chromium();
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
