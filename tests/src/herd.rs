//! The herd after a wake: the requests held while an app boots are let
//! through at most `max_upstream_connections` at a time, the rest queued in
//! FIFO order, so a small listen backlog is not flooded with SYNs.

use crate::support::{AppBuilder, GatewayBuilder, TestClient, python3, within};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// The goal: python's `http.server` (listen backlog 5) woken by 200
/// concurrent requests answers them all, the last within 3 s of the first.
/// Before the cap the gateway opened 200 connections at once, the backlog
/// dropped most SYNs, and clients waited on TCP retransmits (1 s, 3 s, 7 s…).
pub async fn two_hundred_requests_to_a_sleeping_python_server_all_get_through_quickly() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "hello\n").unwrap();
    let dir = www.path().display().to_string();
    let command = [python3(), "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", &dir];
    let gateway =
        GatewayBuilder::new().tick("1h").app(AppBuilder::new("py").command(&command).wake_timeout("30s")).spawn().await;
    let client = gateway.client();
    let requests: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let response = client.get("py.localhost", &format!("/?i={i}")).await;
                (response, Instant::now())
            })
        })
        .collect();
    let mut answered = Vec::new();
    for (i, request) in requests.into_iter().enumerate() {
        let (response, at) = request.await.unwrap();
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
        answered.push(at);
    }
    let first = answered.iter().min().unwrap();
    let last = answered.iter().max().unwrap();
    let spread = *last - *first;
    eprintln!("herd: 200 answers, spread {:.3} s", spread.as_secs_f64());
    assert!(spread <= Duration::from_secs(3), "the last answer came {spread:?} after the first");
}

/// A cap of 1 serves one request at a time and queues the next ones, up to
/// `max_waiting_per_app`; one more is turned away at once with a 503.
pub async fn requests_above_the_cap_queue_and_the_queue_is_bounded() {
    let gateway = GatewayBuilder::new()
        .tick("1h")
        .edge("max_waiting_per_app", "2")
        .app(AppBuilder::new("one").key("max_upstream_connections", "1"))
        .spawn()
        .await;
    let client = gateway.client();
    let admin = gateway.admin();
    assert_eq!(client.get("one.localhost", "/").await.status, 200, "awake");

    let slow = |client: TestClient, i: u32| {
        tokio::spawn(async move {
            let response = client.get("one.localhost", &format!("/slow?ms=600&i={i}")).await;
            (response, Instant::now())
        })
    };
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(slow(client.clone(), i));
        // In flight: the one at the app and those queued behind it.
        let expected = i + 1;
        within(WAIT, "the request to be admitted", async {
            while admin.app("one").await["in_flight"] != expected {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    let turned_away = client.get("one.localhost", "/").await;
    assert_eq!(turned_away.status, 503, "{}", turned_away.text());
    assert!(turned_away.headers.contains_key("retry-after"));
    assert!(turned_away.text().contains("2 requests waiting"), "{}", turned_away.text());

    let mut done = Vec::new();
    for request in held {
        let (response, at) = request.await.unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        done.push(at);
    }
    // One at a time, in the order they came: each ends about a whole slow
    // answer (600 ms) after the one before it; side by side they would end
    // together.
    for pair in done.windows(2) {
        assert!(pair[1] >= pair[0] + Duration::from_millis(300), "not one at a time: {done:?}");
    }
}
