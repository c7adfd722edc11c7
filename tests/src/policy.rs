//! The policy's decisions as the gateway carries them out.

use crate::support::{AppBuilder, GatewayBuilder};
use std::time::Duration;

/// Passive requests (health checks, monitors) are served while the app is
/// awake but neither keep it awake nor wake it.
pub async fn forward_without_counting_leaves_activity_untouched() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("1s")
        .param("passive_paths", r#"["/healthz"]"#)
        .param("passive_user_agents", r#"["UptimeRobot"]"#)
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();

    let asleep = client.get("hello.localhost", "/healthz").await;
    assert_eq!(asleep.status, 503, "a passive request does not wake: {}", asleep.text());
    assert_eq!(gateway.logs.count("waking app", "hello"), 0);

    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    // A stream of passive requests, each well inside the idle timeout: had
    // they counted, the app would never sleep.
    let monitor = async {
        let mut served = 0;
        loop {
            let request = client
                .builder("hello.localhost", "/")
                .header("user-agent", "Mozilla/5.0 (compatible; UptimeRobot/2.0)")
                .body(crate::support::client::empty())
                .unwrap();
            if client.send(request).await.status == 200 {
                served += 1;
            }
            let _ = client.get("hello.localhost", "/healthz").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if gateway.logs.count("app put to sleep", "hello") > 0 {
                return served;
            }
        }
    };
    let served = crate::support::within(Duration::from_secs(20), "the app sleeps despite monitoring", monitor).await;
    assert!(served > 0, "passive requests are served while the app is awake");
    assert_eq!(gateway.logs.count("waking app", "hello"), 1, "no passive request woke the app");
    assert_eq!(client.get("hello.localhost", "/healthz").await.status, 503);
}
