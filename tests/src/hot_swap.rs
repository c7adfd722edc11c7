//! Policies swapped in from the watched directory while the gateway serves.

use crate::support::{AppBuilder, GatewayBuilder, TestGateway};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const REFUSED: &str = "policy refused; the previous version keeps serving";
const NO_VERSION: &str = "policy refused; no version of it is loaded, its apps stay on their fallback";
const REMOVED: &str = "policy removed; its apps fall back to the default policy";
const FALLBACK: &str = "app falls back to another policy: the one it asks for cannot serve it";

fn teapot() -> Vec<u8> {
    std::fs::read(env!("TEST_POLICY_TEAPOT")).expect("built teapot policy")
}

/// Lands a file the way deploy tools do: written aside, then renamed in.
fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let aside = dir.join(format!(".{name}.partial"));
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, dir.join(format!("{name}.wasm"))).unwrap();
}

/// Polls until a request to `host` answers `status`: the new policy has
/// taken effect.
async fn until_status(gateway: &TestGateway, host: &str, status: u16) {
    let client = gateway.client();
    let seen = tokio::time::timeout(WAIT, async {
        while client.get(host, "/").await.status != status {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "{host} never answered {status}; log:\n{}", gateway.logs.dump());
}

/// `hello` asks for `swappable`, which must exist at start: it starts as a
/// copy of `inactivity` (answers 200); `other` has the default.
async fn gateway_with_dir(dir: &Path, extra: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> TestGateway {
    install(dir, "swappable", paastis::testing::INACTIVITY_WASM);
    let builder = GatewayBuilder::new()
        .policy_dir(dir)
        .app(AppBuilder::new("hello").policy("swappable"))
        .app(AppBuilder::new("other"));
    extra(builder).spawn().await
}

/// At least 2,000 requests across six swaps: not one fails, and each swap's
/// behaviour (418 from `teapot`, 200 from `inactivity`) is seen after it.
pub async fn a_swap_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_dir(dir.path(), |b| b).await;
    let client = gateway.client();
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (client, stop, done, failed) = (client.clone(), stop.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = client.get("hello.localhost", "/").await.status;
                    if status != 200 && status != 418 {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("failed request: {status}");
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let (teapot, inactivity) = (teapot(), paastis::testing::INACTIVITY_WASM.to_vec());
    for round in 0..6 {
        let (bytes, expected) = if round % 2 == 0 { (&teapot, 418) } else { (&inactivity, 200) };
        install(dir.path(), "swappable", bytes);
        // The first "policy loaded" is the copy the gateway started with.
        gateway.logs.wait_for_nth("policy loaded", "", round + 2, WAIT).await;
        until_status(&gateway, "hello.localhost", expected).await;
        assert_eq!(client.get("other.localhost", "/").await.status, 200, "other apps keep the default");
    }
    let enough = tokio::time::timeout(WAIT, async {
        while done.load(Ordering::Relaxed) < 2000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(enough.is_ok(), "only {} requests in time", done.load(Ordering::Relaxed));
    assert_eq!(failed.load(Ordering::Relaxed), 0, "requests failed during swaps");
    assert_eq!(gateway.logs_caught_up().await.count(REFUSED, ""), 0);
}

/// Each bad file gets one log line, and the version before it keeps serving.
pub async fn a_bad_file_is_refused_and_the_previous_version_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_dir(dir.path(), |b| b).await;
    // A broken file with no version loaded before it: nothing "keeps serving".
    install(dir.path(), "stray", b"not webassembly");
    let stray = gateway.logs.wait_for(NO_VERSION, "", WAIT).await;
    assert_eq!(stray["policy"], "stray");
    install(dir.path(), "swappable", &teapot());
    until_status(&gateway, "hello.localhost", 418).await;
    let teapot = teapot();
    let bad: [(&str, Vec<u8>); 5] = [
        ("garbage", b"not webassembly".to_vec()),
        ("empty", Vec::new()),
        ("truncated", teapot[..teapot.len() / 2].to_vec()),
        ("wrong world", std::fs::read(env!("TEST_POLICY_WRONG_WORLD")).unwrap()),
        ("panics on load", std::fs::read(env!("TEST_POLICY_PANICKY")).unwrap()),
    ];
    for (n, (what, bytes)) in bad.iter().enumerate() {
        install(dir.path(), "swappable", bytes);
        gateway.logs.wait_for_nth(REFUSED, "", n + 1, WAIT).await;
        assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 418, "after {what}");
    }
    // Quiet files are not read again: exactly one line per bad file.
    assert_eq!(gateway.logs_caught_up().await.count(REFUSED, ""), bad.len());
    assert_eq!(gateway.logs_caught_up().await.count("policy loaded", ""), 2, "the start's copy, then teapot");
}

/// A file copied slowly is refused while incomplete, never served, and
/// loaded once whole.
pub async fn a_half_written_file_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_dir(dir.path(), |b| b).await;
    let teapot = teapot();
    let path = dir.path().join("swappable.wasm");
    std::fs::write(&path, &teapot[..teapot.len() / 3]).unwrap();
    gateway.logs.wait_for(REFUSED, "", WAIT).await;
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200, "still the default");
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&teapot[teapot.len() / 3..]).unwrap();
    drop(file);
    gateway.logs.wait_for_nth("policy loaded", "", 2, WAIT).await;
    until_status(&gateway, "hello.localhost", 418).await;
}

/// A deleted file's app falls back to the default, loudly: an error in the
/// log, a `policy_fallback` event, and a degraded mark in `/apps` and
/// `/healthz`, until a new version lands.
pub async fn deleting_a_file_falls_back_to_the_default_and_marks_the_app_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_dir(dir.path(), |b| b).await;
    let admin = gateway.admin();
    let health = |json: serde_json::Value| (json["status"].clone(), json["degraded_apps"].clone());
    assert_eq!(health(admin.get("/healthz").await.json()), ("ok".into(), 0.into()));
    install(dir.path(), "swappable", &teapot());
    until_status(&gateway, "hello.localhost", 418).await;
    std::fs::remove_file(dir.path().join("swappable.wasm")).unwrap();
    gateway.logs.wait_for(REMOVED, "", WAIT).await;
    until_status(&gateway, "hello.localhost", 200).await;
    // The log is written by its own thread: the line may follow the answer.
    crate::support::within(WAIT, "the swap logged with the version now serving", async {
        loop {
            let served = gateway.logs_caught_up().await.matching("app served by policy", |v| v["app"] == "hello");
            if served.last().is_some_and(|last| last["policy"] == "inactivity") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let fallback = gateway.logs.wait_for(FALLBACK, "hello", WAIT).await;
    assert_eq!((fallback["level"].as_str(), fallback["policy"].as_str()), (Some("ERROR"), Some("swappable")));
    let degraded = &admin.app("hello").await["degraded"];
    assert_eq!((degraded["wanted"].as_str(), degraded["serving"].as_str()), (Some("swappable"), Some("inactivity")));
    assert!(degraded["reason"].as_str().unwrap_or("").contains("swappable.wasm was deleted or refused"), "{degraded}");
    assert_eq!(admin.app("other").await["degraded"], serde_json::Value::Null, "other apps are not degraded");
    assert_eq!(health(admin.get("/healthz").await.json()), ("degraded".into(), 1.into()));
    let events = admin.events().await;
    let event = events.iter().find(|e| e["kind"] == "policy_fallback").expect("a policy_fallback event");
    assert_eq!((event["app"].as_str(), event["serving"].as_str()), (Some("hello"), Some("inactivity")));

    // A new version lands: the mark goes, and that is recorded too.
    install(dir.path(), "swappable", &teapot());
    until_status(&gateway, "hello.localhost", 418).await;
    assert_eq!(admin.app("hello").await["degraded"], serde_json::Value::Null);
    assert_eq!(admin.get("/healthz").await.json()["status"], "ok");
    assert!(admin.events().await.iter().any(|e| e["kind"] == "policy_restored" && e["app"] == "hello"));
}

/// SIGHUP re-reads the directory, and does not stop the gateway.
pub async fn sighup_rereads_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_dir(dir.path(), |b| b).await;
    gateway.hangup();
    gateway.logs.wait_for("SIGHUP: re-reading the policies directory", "", WAIT).await;
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
}

/// A version that keeps failing is reverted: its app goes back to the
/// default policy, and the failures stop.
pub async fn a_policy_that_keeps_failing_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "armed", &std::fs::read(env!("TEST_POLICY_ARMED")).unwrap());
    let gateway = GatewayBuilder::new()
        .policy_dir(dir.path())
        .policy_key("max_failures", "3")
        // Only the tick at start runs: armed ticks fail too once the app has activity.
        .tick("1h")
        .app(AppBuilder::new("hello").policy("armed").param("mode", "\"panic\""))
        .spawn()
        .await;
    let client = gateway.client();
    let armed =
        || client.builder("hello.localhost", "/").header("x-armed", "1").body(crate::support::client::empty()).unwrap();
    const REVERTED: &str =
        "policy keeps failing; reverted, its apps go back to the default policy until a new version lands";
    // Three failures in a row revert it: armed requests, and possibly the
    // first tick (it fires at start, and fails once the app has activity);
    // a tick that succeeds in between starts the count again.
    let mut sent = 0;
    while sent < 10 {
        assert_eq!(client.send(armed()).await.status, 200, "a failed call forwards");
        sent += 1;
        if gateway.logs.appears(REVERTED, "", Duration::from_millis(500)).await {
            break;
        }
    }
    gateway.logs.wait_for(REVERTED, "", WAIT).await;
    let failures = gateway.logs_caught_up().await.count("policy request call failed; forwarding", "hello")
        + gateway.logs_caught_up().await.count("policy tick failed; taking no action", "");
    assert!(failures >= 3, "reverted after {failures} failures, before max_failures");
    let failed_before = gateway.logs_caught_up().await.count("policy request call failed; forwarding", "hello");
    for _ in 0..3 {
        assert_eq!(client.send(armed()).await.status, 200);
    }
    // The access log line of the last request comes after any failure of its call.
    gateway.logs.wait_for_nth("request", "hello", sent + 3, WAIT).await;
    let failed_after = gateway.logs_caught_up().await.count("policy request call failed; forwarding", "hello");
    assert_eq!(failed_after, failed_before, "no call after the revert");
}
