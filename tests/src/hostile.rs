//! Hostile and broken policies: the gateway keeps serving through a policy
//! that spins, exhausts its memory or panics, and refuses to start with a
//! file that is not a policy. The policies are real components built from
//! `tests/policies` (see `support::policies`).

use crate::support::policies::{self, ARM_HEADER};
use crate::support::{AppBuilder, GatewayBuilder, TestClient, client::empty};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A policy call is cut off after a few milliseconds (5 ms of CPU, 30 ms of
/// wall time at most): a request it failed on must come back in a fraction
/// of this, even on a loaded CI machine.
const QUICK: Duration = Duration::from_secs(2);

const REQUEST_FAILED: &str = "policy request call failed; forwarding";
const TICK_FAILED: &str = "policy tick failed; taking no action";

pub async fn an_infinite_loop_is_cut_off_and_the_gateway_goes_on() {
    falls_back("spin", "exceeded its CPU deadline of 5ms").await;
}

pub async fn a_memory_bomb_is_cut_off_and_the_gateway_goes_on() {
    falls_back("memory-bomb", "exceeded its memory limit of 32 MiB").await;
}

pub async fn a_panic_is_reported_with_its_message_and_the_gateway_goes_on() {
    falls_back("panic", "armed policy panicked on purpose").await;
}

/// Runs the `armed` policy in `mode` behind a gateway: it passes the load
/// and startup checks, then fails every armed call. Each failed request is
/// still forwarded (200, in good time) and counted, each failed tick does
/// nothing, and every failure is logged with `reason` in its error.
async fn falls_back(mode: &str, reason: &str) {
    let gateway = GatewayBuilder::new()
        .policy_file(policies::path(policies::ARMED))
        .param("mode", &format!("{mode:?}"))
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    let policy = policies::name(policies::ARMED);

    // Every request below arms the policy. The first also wakes the app.
    let first = armed_get(&client).await;
    assert_eq!(first.status, 200, "forwarded although the policy failed: {}", first.text());
    assert!(first.text().starts_with("Hello from hello!"), "the app answered: {}", first.text());
    for _ in 0..3 {
        let started = Instant::now();
        let response = armed_get(&client).await;
        let took = started.elapsed();
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(took < QUICK, "a request the policy failed on took {took:?}");
    }
    let failed = gateway.logs.wait_for_nth(REQUEST_FAILED, "hello", 4, WAIT).await;
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert_eq!(failed["policy"], policy.as_str(), "{failed}");
    for event in gateway.logs_caught_up().await.matching(REQUEST_FAILED, |v| v["app"] == "hello") {
        let error = event["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason) && error.contains(&policy), "error should say {reason:?}: {event}");
    }
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 1, "one wake, then the app stayed awake");

    // The policy goes off on a tick only once an app has activity: that it
    // does proves the failed requests were counted.
    let tick = gateway.logs.wait_for(TICK_FAILED, "", WAIT).await;
    assert_eq!(tick["level"], "WARN", "{tick}");
    assert_eq!(tick["policy"], policy.as_str(), "{tick}");
    let error = tick["error"].as_str().unwrap_or_default();
    assert!(error.contains(reason), "tick error should say {reason:?}: {tick}");
    gateway.logs.wait_for_nth(TICK_FAILED, "", 2, WAIT).await;

    // Still serving, through failing ticks: plain and armed requests alike.
    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    assert_eq!(armed_get(&client).await.status, 200);
    assert_eq!(gateway.logs_caught_up().await.count("app put to sleep", "hello"), 0, "a failed tick takes no action");
}

async fn armed_get(client: &TestClient) -> crate::support::client::TestResponse {
    let request = client.builder("hello.localhost", "/").header(ARM_HEADER, "1").body(empty()).expect("request");
    client.send(request).await
}

/// The teapot policy refuses everything itself: its 418 reaches the client
/// and the app is never woken.
pub async fn a_refusing_policy_answers_without_waking_the_app() {
    let gateway =
        GatewayBuilder::new().policy_file(policies::path(policies::TEAPOT)).app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();

    for path in ["/", "/anything?x=1"] {
        let response = client.get("hello.localhost", path).await;
        assert_eq!(response.status, 418, "{}", response.text());
        assert_eq!(response.text().trim_end(), "teapot policy", "the reason is the body");
    }
    assert_eq!(
        gateway.logs_caught_up().await.count("waking app", "hello"),
        0,
        "a refused request does not wake the app"
    );
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 0);
    assert_eq!(gateway.logs_caught_up().await.matching(REQUEST_FAILED, |_| true).len(), 0, "refusing is not failing");
}

/// A default policy that cannot be loaded stops the gateway at startup,
/// with an error naming the policy and saying why.
pub async fn a_broken_default_policy_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let teapot = policies::bytes(policies::TEAPOT);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("wrong-world", policies::bytes(policies::WRONG_WORLD), "does not match the paastis:policy contract"),
        ("garbage", b"this is not webassembly".to_vec(), "not WebAssembly at all"),
        ("empty", Vec::new(), "not WebAssembly at all"),
        ("truncated", teapot[..teapot.len() / 2].to_vec(), "not valid WebAssembly"),
        // Loading smoke-calls on-tick: these fail it.
        ("spin", policies::bytes(policies::SPIN), "exceeded its CPU deadline"),
        ("memory-bomb", policies::bytes(policies::MEMORY_BOMB), "exceeded its memory limit"),
        ("panicky", policies::bytes(policies::PANICKY), "panicky policy gave up on a tick"),
    ];
    for (name, bytes, reason) in cases {
        let file = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&file, bytes).unwrap();
        let output = GatewayBuilder::new().policy_file(&file).app(AppBuilder::new("hello")).serve_to_exit(WAIT).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // An exit with an error code (1 today), not a crash by a signal.
        assert!(output.status.code().is_some_and(|c| c != 0), "{name}: must not start ({}): {stderr}", output.status);
        assert!(stderr.contains(&format!("cannot load policy {name:?}")), "{name}: {stderr}");
        assert!(stderr.contains(reason), "{name}: expected {reason:?} in: {stderr}");
        assert!(!stderr.contains("listening"), "{name}: {stderr}");
    }

    let missing = dir.path().join("missing.wasm");
    let output = GatewayBuilder::new().policy_file(&missing).serve_to_exit(WAIT).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.code().is_some_and(|c| c != 0), "must not start ({}): {stderr}", output.status);
    assert!(stderr.contains(&missing.display().to_string()), "names the missing file: {stderr}");
}

/// `paastis policy check` runs the same load, smoke call included: a policy
/// that spins, bombs or panics is refused with the reason; the teapot, and
/// the armed policy unarmed, pass.
pub async fn policy_check_refuses_hostile_policies() {
    let cases = [
        (policies::SPIN, Some("exceeded its CPU deadline of 5ms")),
        (policies::MEMORY_BOMB, Some("exceeded its memory limit of 32 MiB")),
        (policies::PANICKY, Some("panicky policy gave up on a tick")),
        (policies::WRONG_WORLD, Some("does not match the paastis:policy contract")),
        (policies::TEAPOT, None),
        (policies::ARMED, None),
    ];
    for (file, refusal) in cases {
        let output = crate::support::run_paastis(&["policy", "check", file]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = policies::name(file);
        match refusal {
            Some(reason) => {
                assert_eq!(output.status.code(), Some(2), "{name}: {stdout}{stderr}");
                assert!(stderr.contains(file) && stderr.contains("refused"), "{name}: {stderr}");
                assert!(stderr.contains(reason), "{name}: expected {reason:?} in: {stderr}");
            }
            None => {
                assert!(output.status.success(), "{name}: {stderr}");
                assert!(stdout.contains(&format!("name:    {name}")), "{stdout}");
                assert!(stdout.contains("paastis:policy/handler@0.1.0#on-request"), "{stdout}");
            }
        }
    }
}
