//! While an app wakes: browsers get the waiting page, other clients wait.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, TestClient, TestResponse};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn get(client: &TestClient, host: &str, accept: &str) -> TestResponse {
    client.send(client.builder(host, "/").header("accept", accept).body(empty()).unwrap()).await
}

pub async fn browsers_get_the_waiting_page_and_other_clients_wait() {
    let gateway = GatewayBuilder::new()
        .app(AppBuilder::new("hello").boot_delay("300ms"))
        .app(AppBuilder::new("api").boot_delay("300ms"))
        .spawn()
        .await;
    let client = gateway.client();

    let page = get(&client, "hello.localhost", BROWSER).await;
    assert_eq!(page.status, 503);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-paastis-waiting"], "1");
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers.contains_key("retry-after"));
    let html = page.text();
    assert!(html.contains("hello is waking up") && html.contains("http-equiv=\"refresh\""), "{html}");
    // The page started the wake; once done, the same request lands on the app.
    gateway.logs.wait_for("app woken", "hello", WAIT).await;
    let landed = get(&client, "hello.localhost", BROWSER).await;
    assert_eq!(landed.status, 200);
    assert!(landed.text().starts_with("Hello from hello!"));

    // An API client is held until the app is ready.
    let held = get(&client, "api.localhost", "application/json").await;
    assert_eq!(held.status, 200, "{}", held.text());
    assert_eq!(held.headers["x-paastis-cold-start"], "1");
    assert!(held.headers.get("x-paastis-waiting").is_none());
}

pub async fn an_app_can_turn_the_waiting_page_off() {
    let gateway =
        GatewayBuilder::new().app(AppBuilder::new("hello").boot_delay("300ms").waiting_page(false)).spawn().await;
    let held = get(&gateway.client(), "hello.localhost", BROWSER).await;
    assert_eq!(held.status, 200, "{}", held.text());
    assert_eq!(held.headers["x-paastis-cold-start"], "1");
}

pub async fn the_waiting_page_can_be_a_template_file() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("waiting.html");
    std::fs::write(&template, "<p>Custom: {{app}} boots</p>").unwrap();
    let gateway = GatewayBuilder::new()
        .edge("waiting_page_template", &format!("{:?}", template.display().to_string()))
        .app(AppBuilder::new("hello").boot_delay("1h"))
        .spawn()
        .await;
    let page = get(&gateway.client(), "hello.localhost", BROWSER).await;
    assert_eq!(page.status, 503);
    assert_eq!(page.text(), "<p>Custom: hello boots</p>");
    assert_eq!(page.headers["cache-control"], "no-store");
}
