//! The Kubernetes backend against kmock's API server emulator (a child
//! process), the test playing the Deployment controller. Each workload's
//! `paastis.io/upstream` is a fake upstream that answers only while the
//! controller says a replica serves, so a 200 proves the gateway waited.

use crate::support::GatewayBuilder;
use crate::support::fake_http::app_upstream;
use crate::support::kube_emulator::{KubeEmulator, TOKEN};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const ORIGINAL: &str = "paastis.io/original-replicas";

/// A Deployment in `namespace`, with a fake upstream served while the
/// test's controller says it runs.
async fn workload(cluster: &Arc<KubeEmulator>, namespace: &str, name: &str, replicas: u32, more: serde_json::Value) {
    let serving = cluster.control(namespace, name);
    let running = Arc::new(move || serving.load(Ordering::SeqCst));
    let upstream = app_upstream(name.to_owned(), running).await;
    let mut annotations = json!({"paastis.io/upstream": format!("http://{upstream}")});
    if let (Some(map), Some(more)) = (annotations.as_object_mut(), more.as_object()) {
        map.extend(more.clone());
    }
    cluster.create("deployments", namespace, name, replicas, annotations).await;
}

fn gateway(cluster: &KubeEmulator, more: &str) -> GatewayBuilder {
    GatewayBuilder::new().extra(&cluster.backend(more))
}

pub async fn a_sleep_and_wake_round_trip_restores_three_replicas() {
    let cluster = Arc::new(KubeEmulator::start().await);
    workload(&cluster, "review", "shop", 3, json!({})).await;
    let gateway = gateway(&cluster, "namespaces = [\"review\"]").env("RUST_LOG", "debug").spawn().await;
    gateway.logs.wait_for("adopted running app", "shop-review", WAIT).await;

    let slept = gateway.admin().post("/apps/shop-review/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    let asleep = cluster.get("review", "shop").await;
    assert_eq!(asleep["spec"]["replicas"], 0);
    assert_eq!(asleep["metadata"]["annotations"][ORIGINAL], "3", "saved on the workload: {asleep}");
    let patches: Vec<String> = cluster
        .log()
        .await
        .into_iter()
        .filter(|l| l.starts_with("PATCH /apis/apps/v1/namespaces/review/deployments/shop "))
        .collect();
    assert_eq!(patches.len(), 1, "one PATCH, annotation and replicas together: {patches:?}");

    let response = gateway.client().get("shop-review.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "Hello from shop!");
    assert!(response.headers.contains_key("x-paastis-cold-start"));
    let awake = cluster.get("review", "shop").await;
    assert_eq!(awake["spec"]["replicas"], 3, "exactly the saved replicas");
    assert!(awake["metadata"]["annotations"].get(ORIGINAL).is_none(), "the annotation is gone: {awake}");
    assert!(!gateway.logs.dump().contains(TOKEN), "the token leaked into the log");
}

pub async fn linked_workloads_wake_together() {
    let cluster = Arc::new(KubeEmulator::start().await);
    let asleep = |n: u32| json!({ORIGINAL: n.to_string()});
    workload(&cluster, "pr7", "front", 0, asleep(2)).await;
    workload(&cluster, "pr7", "back", 0, asleep(1)).await;
    let rule = "[[rules]]\nmatch = 'front-(pr\\d+)'\nlinks = [\"back-$1\"]\n";
    let gateway = gateway(&cluster, "").extra(rule).spawn().await;
    gateway.logs.wait_for("app discovered", "back-pr7", WAIT).await;
    gateway.logs.wait_for("app discovered", "front-pr7", WAIT).await;

    let response = gateway.client().get("front-pr7.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "Hello from front!");
    gateway.logs.wait_for("app woken", "back-pr7", WAIT).await;
    assert_eq!(cluster.replicas("pr7", "front").await, 2);
    assert_eq!(cluster.replicas("pr7", "back").await, 1);
}

pub async fn changes_made_outside_are_followed() {
    let cluster = Arc::new(KubeEmulator::start().await);
    workload(&cluster, "review", "api", 0, json!({ORIGINAL: "2"})).await;
    let gateway = gateway(&cluster, "").spawn().await;
    gateway.logs.wait_for("app discovered", "api-review", WAIT).await;
    assert_eq!(gateway.admin().app("api-review").await["state"], "asleep");

    // Scaled up by hand: adopted, served without a wake.
    cluster
        .call(
            "PATCH",
            "/apis/apps/v1/namespaces/review/deployments/api",
            Some(json!({
                "metadata": {"annotations": {ORIGINAL: null}}, "spec": {"replicas": 2},
            })),
        )
        .await;
    gateway.logs.wait_for("adopted running app", "api-review", WAIT).await;
    let response = gateway.client().get("api-review.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(!response.headers.contains_key("x-paastis-cold-start"), "adopted awake");

    // Scaled to zero by someone else: asleep, then woken to one replica.
    cluster.scale_by_hand("review", "api", 0).await;
    gateway.logs.wait_for("app stopped outside the gateway", "api-review", WAIT).await;
    let response = gateway.client().get("api-review.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.headers.contains_key("x-paastis-cold-start"));
    assert_eq!(cluster.replicas("review", "api").await, 1, "no saved size: one replica");
}

pub async fn conflicts_and_server_errors_are_retried() {
    let cluster = Arc::new(KubeEmulator::start().await);
    workload(&cluster, "review", "shop", 2, json!({})).await;
    let gateway = gateway(&cluster, "").spawn().await;
    gateway.logs.wait_for("adopted running app", "shop-review", WAIT).await;

    // Someone wrote the workload between the read and the PATCH.
    cluster.fail("PATCH", "/deployments/shop", 409, 1).await;
    let slept = gateway.admin().post("/apps/shop-review/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    gateway.logs.wait_for("the workload changed meanwhile; reading it again", "", WAIT).await;
    assert_eq!(cluster.get("review", "shop").await["metadata"]["annotations"][ORIGINAL], "2");

    // The API server has a bad moment.
    cluster.fail("PATCH", "/deployments/shop", 500, 2).await;
    let response = gateway.client().get("shop-review.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let retried = gateway.logs_caught_up().await.matching("API call failed; retrying", |r| {
        r["call"] == "PATCH deployment" && r["error"].as_str().is_some_and(|e| e.contains("answered 500"))
    });
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert_eq!(cluster.replicas("review", "shop").await, 2);
}

pub async fn a_revoked_token_gives_a_clear_503() {
    let cluster = Arc::new(KubeEmulator::start().await);
    workload(&cluster, "review", "shop", 0, json!({ORIGINAL: "1"})).await;
    let gateway = gateway(&cluster, "").spawn().await;
    gateway.logs.wait_for("app discovered", "shop-review", WAIT).await;
    cluster.revoke_token().await;
    let response = gateway.client().get("shop-review.localhost", "/").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    let body = response.text();
    assert!(body.contains("answered 401") && body.contains("token revoked or expired"), "{body}");
    assert_eq!(cluster.replicas("review", "shop").await, 0, "untouched");
}
