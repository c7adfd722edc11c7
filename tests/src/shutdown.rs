//! Graceful shutdown: stop accepting, let in-flight requests finish, flush
//! the store, exit 0.

use crate::support::{AppBuilder, GatewayBuilder, run_paastis};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

pub async fn sigterm_drains_a_slow_request_then_exits_0() {
    // Our own data dir: the store must outlive the gateway to be inspected.
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayBuilder::new().data_dir(dir.path()).app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    let addr = gateway.addr;
    let slow = tokio::spawn(async move { client.get("hello.localhost", "/slow?ms=1500").await });
    // This request woke the app: the gateway has read it, it is in flight.
    gateway.logs.wait_for("app woken", "hello", WAIT).await;
    let logs = gateway.logs.clone();
    let store = gateway.store.clone();
    let terminating = tokio::spawn(gateway.terminate());

    logs.wait_for("stopped accepting; draining in-flight requests", "", WAIT).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after SIGTERM");
    let response = slow.await.unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "slept 1500 ms\n");
    let status = terminating.await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");

    // In that order: the request finished, then the app stopped, then the
    // store was flushed and the gateway stopped.
    let order = logs.messages();
    let at = |m: &str| order.iter().position(|x| x == m).unwrap_or_else(|| panic!("no {m:?} in {order:?}"));
    assert!(at("request") < at("putting app to sleep"), "{order:?}");
    assert!(at("app put to sleep") < at("gateway stopped"), "{order:?}");
    assert!(!logs.dump().contains("grace period over"));
    let inspected = run_paastis(&["inspect", "--store", &store.display().to_string()]).await;
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).expect("inspect prints JSON");
    assert_eq!(report["apps"]["hello"]["state"], "asleep", "{report}");
    assert_eq!(report["apps"]["hello"]["recorded_state"], "asleep", "stopped cleanly: {report}");
    assert_eq!(report["apps"]["hello"]["wakes"], 1, "{report}");
}
