//! Graceful shutdown: stop accepting, let in-flight requests finish, flush
//! the store, exit 0.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, run_paastis, within};
use http_body_util::BodyExt;
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

/// HTTP/2: the streams of one connection run side by side (a quick stream
/// is answered while slow ones wait on the app), and a drain lets every
/// stream in flight on the connection answer (hyper's GOAWAY names the
/// last stream it takes): the connection ends only then, not at the
/// grace period.
pub async fn sigterm_drains_the_h2_streams_in_flight_then_exits_0() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let mut h2 = crate::support::client::h2c(gateway.addr).await;
    // Each request is handed to the h2 connection when it is made, so the
    // streams go out in this order; the answer is awaited apart.
    let mut send = |path: &str| {
        let request = http::Request::get(format!("http://hello.localhost{path}")).body(empty()).unwrap();
        let answer = h2.send_request(request);
        async move {
            let response = within(WAIT, "an h2 answer", answer).await.expect("an h2 answer");
            assert_eq!(response.version(), http::Version::HTTP_2);
            let status = response.status().as_u16();
            let body = within(WAIT, "the h2 body", response.into_body().collect()).await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let slow: Vec<_> = (0..3).map(|_| tokio::spawn(send("/slow?ms=3000"))).collect();
    // The gateway reads streams in order: this answer proves it has the
    // slow ones, and it comes while they still wait on the app.
    let (status, body) = send("/").await;
    assert_eq!(status, 200, "{body}");
    assert!(slow.iter().all(|s| !s.is_finished()), "the quick stream was answered only after a slow one");

    let logs = gateway.logs.clone();
    let terminating = tokio::spawn(gateway.terminate());
    logs.wait_for("stopped accepting; draining in-flight requests", "", WAIT).await;
    for answer in slow {
        let (status, body) = answer.await.unwrap();
        assert_eq!((status, body.as_str()), (200, "slept 3000 ms\n"));
    }
    let status = terminating.await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!logs.dump().contains("grace period over"), "the drain waited for the streams, not the grace period");
}
