//! Who may use the admin API, and what never leaks through the proxy port.

use crate::support::client::empty;
use crate::support::{AdminClient, AppBuilder, GatewayBuilder};
use http::Method;
use std::time::Duration;

const TOKEN: &str = "test-admin-token-7f3a9c";

/// Listening beyond loopback without a token is a config error naming the
/// key, the line and the variable to set.
pub async fn a_remote_listener_without_a_token_refuses_to_start() {
    let output =
        GatewayBuilder::new().admin_key("listen", "\"0.0.0.0:0\"").serve_to_exit(Duration::from_secs(30)).await;
    assert_eq!(output.status.code(), Some(2), "a config error exits 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("key `admin.listen`"), "{stderr}");
    assert!(stderr.contains("line "), "{stderr}");
    assert!(stderr.contains("PAASTIS_ADMIN_TOKEN"), "{stderr}");
}

/// With a required token, every endpoint but the health check and the
/// dashboard's static files refuses a request without it, or with a wrong one.
pub async fn every_endpoint_refuses_without_the_required_token() {
    let gateway = GatewayBuilder::new()
        .admin_key("listen", "\"0.0.0.0:0\"")
        .admin_token(TOKEN)
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let admin = gateway.logs.wait_for("admin listening", "", Duration::from_secs(5)).await;
    assert_eq!(admin["token_required"], true);
    // Bound on every interface; reached over loopback only.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], gateway.admin.unwrap().port()));
    let anonymous = AdminClient::new(addr);
    let wrong = AdminClient::new(addr).with_token("not-the-token");
    let right = AdminClient::new(addr).with_token(TOKEN);
    let endpoints: [(Method, &str); 12] = [
        (Method::GET, "/apps"),
        (Method::GET, "/apps/hello/timeline"),
        (Method::GET, "/timelines?span=7d"),
        (Method::GET, "/savings/daily"),
        (Method::POST, "/apps/hello/wake"),
        (Method::POST, "/apps/hello/sleep"),
        (Method::GET, "/events"),
        (Method::GET, "/policies"),
        (Method::PUT, "/policies/teapot"),
        (Method::GET, "/metrics"),
        (Method::GET, "/apps/hello/wake"),
        (Method::GET, "/no-such-endpoint"),
    ];
    for (method, path) in &endpoints {
        for (who, client) in [("no token", &anonymous), ("a wrong token", &wrong)] {
            let request = client.builder(method.clone(), path).body(empty()).unwrap();
            let response = client.send(request).await;
            assert_eq!(response.status, 401, "{method} {path} with {who}: {}", response.text());
            assert_eq!(response.headers["www-authenticate"], "Bearer realm=\"paastis-admin\"");
            assert!(!response.text().contains("hello"), "no data in a refusal");
        }
    }
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 0, "nothing acted on");
    let basic = anonymous.builder(Method::GET, "/apps").header("authorization", "Basic dXNlcjpwdw==");
    assert_eq!(anonymous.send(basic.body(empty()).unwrap()).await.status, 401);

    assert_eq!(right.get("/apps").await.status, 200);
    assert_eq!(right.post("/apps/hello/wake").await.status, 200);
    assert_eq!(right.get("/events").await.status, 200);
    assert_eq!(right.get("/timelines").await.status, 200);
    assert_eq!(right.get("/metrics").await.status, 200);
    assert_eq!(right.get("/policies").await.status, 200);
    assert_eq!(anonymous.get("/healthz").await.status, 200, "health checks carry no token");
    let page = anonymous.get("/").await;
    assert_eq!(page.status, 200, "the page itself holds no data; it asks for the token");
    assert!(!page.text().contains(TOKEN));
}

/// On loopback without a configured token, none is needed. Foreign Host
/// names (DNS rebinding) and cross-site writes are still 403.
pub async fn loopback_without_a_configured_token_needs_none() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let admin = gateway.admin();
    assert_eq!(admin.get("/apps").await.status, 200);

    let rebound = admin.client_request(Method::GET, "/apps", &[("host", "attacker.example")]);
    assert_eq!(admin.send(rebound).await.status, 403);
    let cross_site = admin.client_request(Method::POST, "/apps/hello/wake", &[("origin", "https://attacker.example")]);
    assert_eq!(admin.send(cross_site).await.status, 403);
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 0);
    let same_site = format!("http://{}", admin.addr);
    let same_site = admin.client_request(Method::POST, "/apps/hello/wake", &[("origin", &same_site)]);
    assert_eq!(admin.send(same_site).await.status, 200);
}

/// Once a token is configured, loopback is no exception: any local process
/// (the gateway's own apps among them) would otherwise steer the gateway.
pub async fn a_configured_token_is_required_on_loopback_too() {
    let dir = tempfile::tempdir().unwrap();
    let gateway =
        GatewayBuilder::new().admin_token(TOKEN).policy_dir(dir.path()).app(AppBuilder::new("hello")).spawn().await;
    let admin = gateway.logs.wait_for("admin listening", "", Duration::from_secs(5)).await;
    assert_eq!(admin["token_required"], true);
    let anonymous = gateway.admin();
    let wrong = gateway.admin().with_token("wrong");
    for client in [&anonymous, &wrong] {
        assert_eq!(client.get("/apps").await.status, 401);
        assert_eq!(client.post("/apps/hello/wake").await.status, 401);
        assert_eq!(client.post("/apps/hello/sleep").await.status, 401);
        let teapot = crate::support::policies::bytes(crate::support::policies::TEAPOT);
        assert_eq!(client.put("/policies/teapot", teapot).await.status, 401);
    }
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 0, "nothing acted on");
    assert!(!dir.path().join("teapot.wasm").exists());
    assert_eq!(anonymous.get("/healthz").await.status, 200, "health checks carry no token");
    let right = gateway.admin().with_token(TOKEN);
    assert_eq!(right.get("/apps").await.status, 200);
    assert_eq!(right.post("/apps/hello/wake").await.status, 200);
}

/// The admin paths do not exist on the proxy port, whatever the Host, and
/// the admin token is never forwarded to an app.
pub async fn admin_paths_and_token_never_cross_the_proxy_port() {
    let gateway = GatewayBuilder::new().admin_token(TOKEN).app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    let proxy_host = gateway.addr.to_string();
    let admin_host = gateway.admin.unwrap().to_string();
    let hosts = [proxy_host.as_str(), admin_host.as_str(), "localhost", "hello.localhost", "admin.localhost"];
    let admin_markers = ["\"total\"", "paastis_requests", "\"events\"", "\"policies\"", "\"status\": \"ok\"", "<html"];
    for host in hosts {
        for path in ["/apps", "/metrics", "/events", "/policies", "/healthz", "/", "/dashboard.js"] {
            let request = client.builder(host, path).header("authorization", format!("Bearer {TOKEN}"));
            let response = client.send(request.body(empty()).unwrap()).await;
            let body = response.text();
            for marker in admin_markers {
                assert!(!body.contains(marker), "{host}{path} on the proxy port answered admin content: {body}");
            }
            // The demo app serves `/` and `/events` (server-sent events) itself.
            if host == "hello.localhost" && !["/", "/events"].contains(&path) {
                assert_eq!(response.status, 404, "the app's own 404 for {path}");
                assert_eq!(body, "not found\n", "answered by the demo app");
            }
        }
    }

    let inspect = |auth: String| {
        client.builder("hello.localhost", "/inspect").header("authorization", auth).body(empty()).unwrap()
    };
    let seen = client.send(inspect(format!("Bearer {TOKEN}"))).await.json();
    let headers = seen["headers"].as_array().unwrap();
    assert!(!headers.iter().any(|h| h[0] == "authorization"), "the admin token was forwarded: {seen}");
    assert!(!seen.to_string().contains(TOKEN));
    let seen = client.send(inspect("Bearer the-app-own-token".into())).await.json();
    let forwarded = seen["headers"].as_array().unwrap().iter().find(|h| h[0] == "authorization").cloned();
    assert_eq!(forwarded, Some(serde_json::json!(["authorization", "Bearer the-app-own-token"])));
}
