//! What survives a restart, including `kill -9`.

use crate::support::{AppBuilder, GatewayBuilder, run_paastis, wait_pid_gone};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(20);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The store as `paastis inspect` prints it.
async fn inspect(store: &Path) -> Value {
    let output = run_paastis(&["inspect", "--store", &store.display().to_string()]).await;
    assert!(output.status.success(), "inspect failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("inspect prints JSON")
}

pub async fn a_restart_keeps_activity_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let builder = || GatewayBuilder::new().data_dir(dir.path()).app(AppBuilder::new("hello"));
    let first = builder().spawn().await;
    let before = now_ms();
    assert_eq!(first.client().get("hello.localhost", "/").await.status, 200);
    let after = now_ms();
    let pid = first.app_pid("hello", 1).await;
    let store = first.store.clone();
    assert!(first.terminate().await.success());
    wait_pid_gone(pid, WAIT).await;

    let saved = &inspect(&store).await["apps"]["hello"];
    let last = saved["last_activity"].as_u64().expect("activity saved");
    assert!(last >= before && last <= after + 1000, "last activity {last} outside [{before}, {after}]");
    assert_eq!(saved["state"], "asleep");
    assert_eq!(saved["slept_by_gateway"], true);
    assert_eq!(saved["wakes"], 1);
    // For people: RFC 3339 times and durations beside the milliseconds.
    let at = humantime::parse_rfc3339(saved["last_activity_at"].as_str().expect("last_activity_at")).unwrap();
    assert_eq!(at.duration_since(UNIX_EPOCH).unwrap().as_secs(), last / 1000, "{saved}");
    let summary = saved["summary"].as_str().expect("summary");
    let since = saved["state_since_at"].as_str().expect("state_since_at");
    assert!(summary.starts_with(&format!("asleep since {since}, ")), "{summary}");
    assert!(summary.contains("; last request ") && summary.ends_with(" ago"), "{summary}");

    let second = builder().spawn().await;
    let restored = second.logs.wait_for("restored app state", "hello", WAIT).await;
    assert_eq!(restored["last_activity"].as_u64(), Some(last));
    assert_eq!(second.client().get("hello.localhost", "/").await.status, 200);
}

/// The documented bound: a crash loses at most one flush interval of
/// activity (plus the flush in progress). Requests run right up to the kill.
pub async fn kill_9_loses_at_most_one_flush_interval() {
    const FLUSH_MS: u64 = 200;
    // Scheduling slack for a loaded CI machine on top of the documented bound.
    const SLACK_MS: u64 = 800;
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayBuilder::new()
        .data_dir(dir.path())
        .flush_interval(&format!("{FLUSH_MS}ms"))
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    let pid = {
        assert_eq!(client.get("hello.localhost", "/").await.status, 200);
        gateway.app_pid("hello", 1).await
    };
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    }
    let killed_at = now_ms();
    let store = gateway.store.clone();
    gateway.kill9().await;
    // The app's process dies with the gateway: nothing runs forever.
    wait_pid_gone(pid, WAIT).await;

    let report = inspect(&store).await;
    let saved = &report["apps"]["hello"];
    let last = saved["last_activity"].as_u64().expect("activity saved");
    let bound = killed_at - FLUSH_MS - SLACK_MS;
    assert!(
        last >= bound,
        "lost {} ms of activity; the bound is {FLUSH_MS} ms (+{SLACK_MS} ms slack)",
        killed_at - last
    );
    assert_eq!(saved["recorded_state"], "awake", "the wake was persisted");
    // After a crash, inspect shows what a restart restores, not a stale "awake".
    assert_eq!(saved["state"], "asleep", "the app's process died with the gateway: {report}");
    assert!(report["notes"][0].as_str().is_some_and(|n| n.contains("restart asleep")), "{report}");

    let restarted = GatewayBuilder::new().data_dir(dir.path()).app(AppBuilder::new("hello")).spawn().await;
    let restored = restarted.logs.wait_for("restored app state", "hello", WAIT).await;
    assert_eq!(restored["previous_state"], "awake");
    assert_eq!(restored["last_activity"].as_u64(), Some(last));
    let response = restarted.client().get("hello.localhost", "/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["x-paastis-cold-start"], "1", "restored asleep, woken again");
}

/// Damage deeper than a torn tail (random bytes over the start of every
/// file) no longer keeps the gateway down: the store is moved aside, a fresh
/// one starts, and the gateway serves.
pub async fn a_damaged_store_is_moved_aside_and_the_gateway_serves() {
    let dir = tempfile::tempdir().unwrap();
    let builder = || GatewayBuilder::new().data_dir(dir.path()).app(AppBuilder::new("hello"));
    let first = builder().spawn().await;
    assert_eq!(first.client().get("hello.localhost", "/").await.status, 200);
    let store = first.store.clone();
    assert!(first.terminate().await.success());
    overwrite_the_start_of_every_file(&store);

    let report = inspect(&store).await;
    assert_eq!(report["store"]["status"], "damaged", "{report}");
    assert!(report["notes"][0].as_str().is_some_and(|n| n.contains(".corrupt-")), "{report}");

    let second = builder().spawn().await;
    let logged = second.logs.wait_for("the store was damaged; moved aside and started afresh", "", WAIT).await;
    assert_eq!(logged["level"], "ERROR", "{logged}");
    let moved_to = Path::new(logged["moved_to"].as_str().expect("moved_to"));
    assert!(moved_to.exists(), "the damaged store is kept: {logged}");
    assert!(moved_to.file_name().unwrap().to_string_lossy().starts_with("store.corrupt-"), "{logged}");
    let response = second.client().get("hello.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.headers["x-paastis-cold-start"], "1", "restored asleep");
    let events = second.admin().events().await;
    assert!(events.iter().any(|e| e["kind"] == "store_recovered"), "{events:?}");
}

pub fn overwrite_the_start_of_every_file(dir: &Path) {
    use std::io::{Read, Write};
    let mut random = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    for entry in std::fs::read_dir(dir).expect("store dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            overwrite_the_start_of_every_file(&path);
            continue;
        }
        let len = std::fs::metadata(&path).expect("metadata").len().clamp(1, 4096) as usize;
        let mut bytes = vec![0; len];
        random.read_exact(&mut bytes).expect("random bytes");
        std::fs::OpenOptions::new().write(true).open(&path).expect("open").write_all(&bytes).expect("write");
    }
}

/// A restart reads the policies' machine code from the compile cache rather
/// than compiling them again, and serves with it; a `kill -9` in the middle
/// of the first start's life leaves the cache whole.
pub async fn a_restart_reads_compiled_policies_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("compiled");
    let builder = || {
        GatewayBuilder::new()
            .data_dir(dir.path())
            .policy_key("compile_cache", &format!("{:?}", cache.display().to_string()))
            .app(AppBuilder::new("hello"))
    };
    let code = |gateway: &crate::support::TestGateway| {
        let logs = gateway.logs.clone();
        async move {
            let loaded = logs.wait_for("builtin policy ready", "", WAIT).await;
            assert_eq!(loaded["policy"], "inactivity", "{loaded}");
            loaded["code"].as_str().unwrap_or_default().to_owned()
        }
    };

    let first = builder().spawn().await;
    assert_eq!(code(&first).await, "compiled");
    assert_eq!(first.client().get("hello.localhost", "/").await.status, 200);
    first.kill9().await;

    let second = builder().spawn().await;
    assert_eq!(code(&second).await, "cache");
    // The policy decides with that code: the app is woken and answers.
    assert_eq!(second.client().get("hello.localhost", "/").await.status, 200);
    assert!(second.terminate().await.success());
}
