//! Waking an app on request.

use crate::support::{AppBuilder, GatewayBuilder, pid_alive};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

pub async fn wakes_a_sleeping_app_on_request() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 0, "apps start asleep");

    let cold = client.get("hello.localhost", "/").await;
    assert_eq!(cold.status, 200, "{}", cold.text());
    assert!(cold.text().starts_with("Hello from hello!"), "{}", cold.text());
    assert_eq!(cold.headers["x-paastis-cold-start"], "1");

    let woken = gateway.logs.wait_for("app woken", "hello", WAIT).await;
    assert!(woken["wake_ms"].as_str().and_then(|ms| ms.parse::<f64>().ok()).is_some(), "{woken}");
    assert!(pid_alive(gateway.app_pid("hello", 1).await));

    let warm = client.get("hello.localhost", "/").await;
    assert_eq!(warm.status, 200);
    assert!(warm.headers.get("x-paastis-cold-start").is_none());
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);
}

pub async fn concurrent_requests_share_one_wake() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("slow").boot_delay("500ms")).spawn().await;
    let client = gateway.client();
    let requests = (0..100).map(|i| {
        let client = client.clone();
        async move { (i, client.get("slow.localhost", &format!("/inspect?i={i}")).await) }
    });
    let responses = futures_util::future::join_all(requests).await;
    for (i, response) in responses {
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
        assert_eq!(response.json()["uri"], format!("/inspect?i={i}"), "request {i} got another's answer");
    }
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "slow"), 1, "exactly one start");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "slow"), 1);
}

pub async fn wake_timeout_answers_503_with_retry_after() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("stuck").boot_delay("1h").wake_timeout("1s")).spawn().await;
    let response = gateway.client().get("stuck.localhost", "/").await;
    assert_eq!(response.status, 503);
    assert!(response.headers.contains_key("retry-after"));
    assert!(response.text().contains("stuck"), "{}", response.text());
    // The stuck process is not left behind.
    let pid = gateway.app_pid("stuck", 1).await;
    gateway.logs.wait_for("wake failed", "stuck", WAIT).await;
    crate::support::wait_pid_gone(pid, WAIT).await;
}

pub async fn an_app_that_cannot_start_gets_503_and_the_gateway_goes_on() {
    let gateway = GatewayBuilder::new()
        .edge("failed_wake_backoff", "\"1h\"")
        .edge("failed_wake_backoff_max", "\"1h\"")
        .app(AppBuilder::new("broken").command(&["/nonexistent/program", "{port}"]))
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    let response = client.get("broken.localhost", "/").await;
    assert_eq!(response.status, 503);
    assert!(response.headers.contains_key("retry-after"));
    let body = response.text();
    assert!(body.contains("cannot start") && body.contains("/nonexistent/program"), "{body}");

    let ok = client.get("hello.localhost", "/").await;
    assert_eq!(ok.status, 200);
    // A later request within the cool-down is told the same, without a new attempt.
    let again = client.get("broken.localhost", "/").await;
    assert_eq!(again.status, 503);
    assert!(again.text().contains("/nonexistent/program"), "{}", again.text());
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "broken"), 1);
}

pub async fn an_app_that_dies_early_fails_fast() {
    let gateway = GatewayBuilder::new()
        .app(AppBuilder::new("crashy").command(&["/bin/sh", "-c", "exit 3"]).wake_timeout("30s"))
        .spawn()
        .await;
    let started = std::time::Instant::now();
    let response = gateway.client().get("crashy.localhost", "/").await;
    assert_eq!(response.status, 503);
    assert!(response.text().contains("exit status: 3"), "{}", response.text());
    // Well before the 30 s wake timeout: the exit is an event, not a timeout.
    assert!(started.elapsed() < Duration::from_secs(20));
}
