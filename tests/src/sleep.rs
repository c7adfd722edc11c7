//! Putting apps to sleep, and what happens around it.

use crate::support::{AppBuilder, GatewayBuilder, wait_pid_gone};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The app's own `idle_timeout` param overrides the policy-wide one.
pub async fn an_idle_app_is_put_to_sleep() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("1h")
        .app(AppBuilder::new("hello").param("idle_timeout", "\"1s\""))
        .app(AppBuilder::new("other"))
        .spawn()
        .await;
    assert_eq!(gateway.client().get("other.localhost", "/").await.status, 200);
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
    let pid = gateway.app_pid("hello", 1).await;
    let slept = gateway.logs.wait_for("app put to sleep", "hello", WAIT).await;
    assert_eq!(slept["reason"], "policy");
    wait_pid_gone(pid, WAIT).await;
    assert_eq!(gateway.logs_caught_up().await.count("putting app to sleep", "other"), 0);

    // And it wakes again.
    let again = gateway.client().get("hello.localhost", "/").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.headers["x-paastis-cold-start"], "1");
}

pub async fn a_request_during_stop_waits_and_wakes_the_app_again() {
    let gateway =
        GatewayBuilder::new().idle_timeout("500ms").app(AppBuilder::new("hello").stop_delay("1s")).spawn().await;
    let client = gateway.client();
    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    gateway.logs.wait_for("putting app to sleep", "hello", WAIT).await;
    // The app takes 1 s to exit after SIGTERM: this request lands mid-stop.
    let response = client.get("hello.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(gateway.logs_caught_up().await.count("app put to sleep", "hello"), 1, "the stop finished first");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 2, "then a fresh start");
}

pub async fn an_app_with_a_request_in_flight_is_not_stopped() {
    let gateway = GatewayBuilder::new().idle_timeout("300ms").app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    // Idle timeout passes several times over while this request runs.
    let response = client.get("hello.localhost", "/slow?ms=2000").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(gateway.logs_caught_up().await.count("putting app to sleep", "hello"), 0);
    // Once it is done, the idle clock runs from its end.
    gateway.logs.wait_for("app put to sleep", "hello", WAIT).await;
}

/// SIGTERM first; an app still running after `stop_grace` gets SIGKILL.
pub async fn an_app_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("300ms")
        .app(AppBuilder::new("stubborn").stop_delay("1h").stop_grace("500ms"))
        .spawn()
        .await;
    assert_eq!(gateway.client().get("stubborn.localhost", "/").await.status, 200);
    let pid = gateway.app_pid("stubborn", 1).await;
    gateway.logs.wait_for("app ignored SIGTERM; sending SIGKILL", "stubborn", WAIT).await;
    gateway.logs.wait_for("app put to sleep", "stubborn", WAIT).await;
    wait_pid_gone(pid, WAIT).await;
}
