//! The tick never fails silently: a policy whose ticks fail raises an
//! ERROR-level alert (log line, event, `/healthz`) that lasts until its
//! ticks work again.

use crate::support::policies;
use crate::support::{AppBuilder, GatewayBuilder};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const FAILING: &str = "the tick is failing: the apps of this policy are not put to sleep or woken until it works again";
const WORKS: &str = "the tick works again";

fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let aside = dir.join(format!(".{name}.partial"));
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, dir.join(format!("{name}.wasm"))).unwrap();
}

/// The armed policy panics on every tick once its app has activity; a new
/// version that ticks fine (the teapot, under the same name) ends the alert.
pub async fn a_failing_tick_is_an_alert_until_it_works_again() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "armed", &policies::bytes(policies::ARMED));
    let gateway = GatewayBuilder::new()
        .policy_dir(dir.path())
        // Never reverted during the test: only a new version ends the failures.
        .policy_key("max_failures", "1000000")
        .tick("100ms")
        .app(AppBuilder::new("hello").policy("armed").param("mode", "\"panic\""))
        .spawn()
        .await;
    let admin = gateway.admin();
    assert_eq!(admin.get("/healthz").await.json()["status"], "ok");

    // A plain request gives the app activity, which arms the ticks.
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
    let alert = gateway.logs.wait_for(FAILING, "", WAIT).await;
    assert_eq!(alert["level"], "ERROR", "{alert}");
    assert_eq!(alert["policy"], "armed", "{alert}");
    assert!(alert["error"].as_str().unwrap_or_default().contains("armed policy panicked on purpose"), "{alert}");

    let health = admin.get("/healthz").await;
    assert_eq!(health.status, 200, "a failing tick does not take the gateway out of a load balancer");
    let health = health.json();
    assert_eq!(health["status"], "degraded", "{health}");
    let alerts = health["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1, "{health}");
    assert_eq!(
        (&alerts[0]["level"], &alerts[0]["what"], &alerts[0]["policy"]),
        (&"error".into(), &"tick".into(), &"armed".into())
    );
    assert!(alerts[0]["failed_ticks"].as_u64().is_some_and(|n| n >= 1), "{health}");
    let events = admin.get("/events").await.json();
    let failed: Vec<_> =
        events["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == "tick_failed").collect();
    assert_eq!(failed.len(), 1, "one event per run of failures: {events}");
    assert_eq!(failed[0]["policy"], "armed", "{events}");

    install(dir.path(), "armed", &policies::bytes(policies::TEAPOT));
    let works = gateway.logs.wait_for(WORKS, "", WAIT).await;
    assert_eq!((&works["level"], &works["policy"]), (&"INFO".into(), &"armed".into()), "{works}");
    let health = admin.get("/healthz").await.json();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["alerts"], serde_json::json!([]), "{health}");
    let events = admin.get("/events").await.json();
    assert!(
        events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["kind"] == "tick_recovered" && e["policy"] == "armed"),
        "{events}"
    );
    assert_eq!(gateway.logs_caught_up().await.count(FAILING, ""), 1, "one ERROR line per run of failures");
}
