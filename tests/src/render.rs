//! The Render backend against a fake Render API: each service's URL is a
//! fake upstream that answers only while the fake runs the service, so a
//! 200 proves the gateway waited for the resume.

use crate::support::GatewayBuilder;
use crate::support::fake_render::{FakeRender, OWNER};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "rnd_5ecret0f0the0render0tests";

/// A gateway with the fake as its Render backend, listing services every
/// `discovery`.
fn gateway(fake: &FakeRender, discovery: &str) -> GatewayBuilder {
    let backend = format!(
        "[[backends]]\nkind = \"render\"\nname = \"render\"\napi_url = {:?}\ntoken_env = \"TEST_RENDER_KEY\"\n\
         owner_id = {OWNER:?}\ndiscovery_interval = {discovery:?}\npoll_interval = \"20ms\"\nbackoff = \"20ms\"\n\
         wake_timeout = \"20s\"\n",
        fake.url()
    );
    GatewayBuilder::new().env("TEST_RENDER_KEY", TOKEN).extra(&backend)
}

pub async fn a_sleep_and_wake_round_trip_restores_three_instances() {
    let fake = FakeRender::start(TOKEN).await;
    fake.add_service("srv-shop", "shop", 3).await;
    let gateway = gateway(&fake, "200ms").spawn().await;
    let admin = gateway.admin();
    gateway.logs.wait_for("adopted running app", "shop", WAIT).await;

    let slept = admin.post("/apps/shop/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    assert!(fake.is_suspended("srv-shop"), "suspended, and followed until Render says so");
    assert_eq!(fake.calls("POST suspend"), 1);
    // Scaled down by hand while suspended: the wake restores what ran.
    fake.set_instances("srv-shop", 1);

    let response = gateway.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "Hello from shop!");
    assert!(response.headers.contains_key("x-paastis-cold-start"));
    assert_eq!(fake.calls("POST resume"), 1);
    assert!(fake.calls("GET deploys") >= 2, "the resume's deploy was followed until live");
    assert_eq!(fake.scales(), vec![("srv-shop".to_owned(), 3)], "numInstances restored once");
    assert_eq!(fake.instances("srv-shop"), 3);

    // Suspended again, from the dashboard this time: the gateway learns it
    // from discovery and never resumes what it did not suspend.
    fake.suspend_by("srv-shop", &["user"]);
    gateway.logs.wait_for("app stopped outside the gateway", "shop", WAIT).await;
    let response = gateway.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    assert!(response.text().contains("suspended by a user outside Paastis"), "{}", response.text());
    assert_eq!(fake.calls("POST resume"), 1, "not resumed");
    assert!(!gateway.logs.dump().contains(TOKEN), "the API key leaked into the log");
}

pub async fn a_service_suspended_for_billing_gets_a_clear_503() {
    let fake = FakeRender::start(TOKEN).await;
    fake.add_service("srv-blog", "blog", 1).await;
    fake.suspend_by("srv-blog", &["billing"]);
    let gateway = gateway(&fake, "200ms").spawn().await;
    gateway.logs.wait_for("app discovered", "blog", WAIT).await;
    let response = gateway.client().get("blog.localhost", "/").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    let body = response.text();
    assert!(body.contains("blog (srv-blog) is suspended by billing"), "{body}");
    let state = gateway.logs.wait_for("app state after failed operation", "blog", WAIT).await;
    assert!(state["state"].as_str().is_some_and(|s| s.contains("billing")), "read back: {state}");
    assert_eq!(fake.calls("POST resume"), 0);
}

pub async fn discovery_pages_through_150_services() {
    let fake = FakeRender::start(TOKEN).await;
    for i in 0..150 {
        fake.add_listed_service(&format!("srv-{i:05}"), &format!("svc-{i:03}"));
    }
    let rule = "[[rules]]\nmatch = 'svc-(\\d+)'\nname = 'app$1'\n";
    let gateway = gateway(&fake, "1h").extra(rule).spawn().await;
    gateway.logs.wait_for("app discovered", "app149", WAIT).await;
    assert_eq!(gateway.logs_caught_up().await.count("app discovered", ""), 150);
    let queries = fake.list_queries();
    assert_eq!(queries.len(), 2, "two pages: {queries:?}");
    for query in &queries {
        assert!(query.contains("limit=100") && query.contains("type=web_service"), "{query}");
        assert!(query.contains(&format!("ownerId={OWNER}")), "{query}");
    }
    assert!(queries[1].contains("cursor=c-srv-00099"), "the second page starts after the first: {queries:?}");
    let admin = gateway.admin();
    let app = admin.app("app042").await;
    assert_eq!(app["state"], "awake", "listed as running: adopted {app}");
}

pub async fn a_429_storm_is_waited_out_without_hammering() {
    let fake = FakeRender::start(TOKEN).await;
    fake.add_service("srv-api", "api", 1).await;
    let gateway = gateway(&fake, "200ms").spawn().await;
    gateway.logs.wait_for("adopted running app", "api", WAIT).await;
    let slept = gateway.admin().post("/apps/api/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());

    // Every call gets a 429 for a while; Render says when the window resets.
    fake.storm(3, 1);
    let response = gateway.client().get("api.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(fake.limited(), 3);
    let retries = gateway.logs_caught_up().await.matching("API call failed; retrying", |r| r["backend"] == "render");
    let limited: Vec<_> = retries.iter().filter(|r| r["error"].as_str().is_some_and(|e| e.contains("429"))).collect();
    assert_eq!(limited.len(), 3, "{retries:?}");
    assert!(limited.iter().all(|r| r["retry_in_ms"] == 1000), "Ratelimit-Reset honoured: {limited:?}");

    // A reset further away than max_retry_wait: a clear 503 at once, not a
    // request held for minutes.
    let slept = gateway.admin().post("/apps/api/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    fake.storm(1000, 600);
    let failed = gateway.client().get("api.localhost", "/").await;
    assert_eq!(failed.status, 503, "{}", failed.text());
    assert!(failed.headers.contains_key("retry-after"));
    assert!(failed.text().contains("more than max_retry_wait"), "{}", failed.text());
    // The wake's call, and at most a discovery call already under way.
    assert!((4..=5).contains(&fake.limited()), "no call sent while Render asks to wait: {}", fake.limited());
}
