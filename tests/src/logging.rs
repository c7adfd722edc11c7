//! The log as an operator reads it: plain text with no colour codes when
//! stderr is not a terminal (a file, a pipe, journald), so that
//! `grep 'status=200'` finds the access lines.

use crate::support::{AppBuilder, EXEC_AS_PAASTIS, GatewayBuilder, TestClient};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(50);

/// Reads `lines` until one contains `needle`; every line read is kept.
async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    needle: &str,
    seen: &mut Vec<String>,
) -> String {
    let found = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        _ => panic!("no line with {needle:?} within {WAIT:?}; log:\n{}", seen.join("\n")),
    }
}

pub async fn text_logs_in_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paastis.toml");
    let builder = GatewayBuilder::new().admin_key("enabled", "false").app(AppBuilder::new("hello"));
    std::fs::write(&config, builder.config_text(&dir.path().join("store"))).unwrap();
    let mut child = Command::new(std::env::current_exe().expect("test executable path"))
        .args(["serve", "--config", &config.display().to_string()])
        .env(EXEC_AS_PAASTIS, "1")
        .env("RUST_LOG", "info")
        // Not even forced off: a pipe alone means no colours.
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn paastis");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let mut seen = Vec::new();
    let listening = read_until(&mut lines, "listening", &mut seen).await;
    let addr = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no addr= in {listening:?}"));
    let response = TestClient::new(addr).get("hello.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let access = read_until(&mut lines, "status=200", &mut seen).await;
    assert!(access.contains("app=\"hello\"") || access.contains("app=hello"), "{access}");
    let _ = child.kill().await;
    let log = seen.join("\n");
    assert!(!log.contains('\u{1b}'), "escape codes in a piped log:\n{log}");
}
