//! `server.admin_host`: the admin API on the proxy's port, under a host of
//! its own (a PaaS gives the gateway one port). The token is required there
//! on every path that shows or changes anything, and that host is never an
//! app's.

use crate::support::client::{Body, empty};
use crate::support::fake_scalingo::{FakeScalingo, formation};
use crate::support::tls::{self, TestCa};
use crate::support::{AppBuilder, GatewayBuilder, TestClient, TestResponse};
use http::Method;
use std::time::Duration;

const TOKEN: &str = "test-admin-host-token-41c7e2";
const ADMIN_HOST: &str = "paastis.localhost";
const WAIT: Duration = Duration::from_secs(20);

fn with_admin_host(builder: GatewayBuilder) -> GatewayBuilder {
    builder.admin_token(TOKEN).server_key("admin_host", &format!("{ADMIN_HOST:?}"))
}

fn request(client: &TestClient, host: &str, method: Method, path: &str, auth: Option<&str>) -> http::Request<Body> {
    let builder = client.builder(host, path).method(method);
    let builder = match auth {
        Some(auth) => builder.header("authorization", auth),
        None => builder,
    };
    builder.body(empty()).expect("request")
}

async fn admin_get(client: &TestClient, host: &str, path: &str) -> TestResponse {
    client.send(request(client, host, Method::GET, path, Some(&format!("Bearer {TOKEN}")))).await
}

/// With the token, the admin API answers on the proxy's port under the
/// admin host, however the host is spelled. Without it, or with a wrong
/// one, every path that shows or changes anything is a 401 that acts on
/// nothing, `/healthz` included; only the dashboard's static files (no
/// data) load, so that a browser can get the page that asks for the token.
pub async fn the_admin_api_answers_on_the_proxy_port_under_its_host_with_the_token() {
    let gateway = with_admin_host(GatewayBuilder::new()).app(AppBuilder::new("hello")).spawn().await;
    gateway.logs.wait_for("admin API served on the proxy's port under its host (token required)", "", WAIT).await;
    let client = gateway.client();

    let apps = admin_get(&client, ADMIN_HOST, "/apps").await;
    assert_eq!(apps.status, 200, "{}", apps.text());
    assert!(apps.text().contains("\"hello\""), "{}", apps.text());
    let metrics = admin_get(&client, ADMIN_HOST, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("paastis_requests"), "{}", metrics.text());
    assert_eq!(admin_get(&client, ADMIN_HOST, "/events").await.status, 200);
    let port_spelled = format!("{ADMIN_HOST}:{}", gateway.addr.port());
    for host in [ADMIN_HOST, "PaaStis.LOCALHOST", "paastis.localhost.", port_spelled.as_str()] {
        let health = admin_get(&client, host, "/healthz").await;
        assert_eq!(health.status, 200, "{host}: {}", health.text());
        assert_eq!(health.json()["status"], "ok", "{host}");
    }

    let wrong = format!("Bearer not-{TOKEN}");
    let endpoints: [(Method, &str); 9] = [
        (Method::GET, "/apps"),
        (Method::GET, "/healthz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/events"),
        (Method::GET, "/policies"),
        (Method::POST, "/apps/hello/wake"),
        (Method::POST, "/apps/hello/sleep"),
        (Method::PUT, "/policies/teapot"),
        (Method::GET, "/no-such-endpoint"),
    ];
    for (method, path) in &endpoints {
        for auth in [None, Some(wrong.as_str()), Some("Basic dXNlcjpwdw=="), Some(TOKEN)] {
            let response = client.send(request(&client, ADMIN_HOST, method.clone(), path, auth)).await;
            assert_eq!(response.status, 401, "{method} {path} with {auth:?}: {}", response.text());
            assert_eq!(response.headers["www-authenticate"], "Bearer realm=\"paastis-admin\"");
            assert!(!response.text().contains("hello"), "no data in a refusal");
        }
    }
    let page = client.get(ADMIN_HOST, "/").await;
    assert_eq!(page.status, 200, "the page holds no data; it asks for the token");
    assert!(page.text().contains("<html") && !page.text().contains(TOKEN));
    assert_eq!(client.get(ADMIN_HOST, "/dashboard.js").await.status, 200);
    // A page elsewhere may not steer the gateway with the operator's token.
    let cross_site = client.builder(ADMIN_HOST, "/apps/hello/wake").method(Method::POST);
    let cross_site =
        cross_site.header("authorization", format!("Bearer {TOKEN}")).header("origin", "https://evil.test");
    assert_eq!(client.send(cross_site.body(empty()).unwrap()).await.status, 403);

    let logs = gateway.logs_caught_up().await;
    assert_eq!(logs.count("waking app", ""), 0, "a refused admin request woke an app");
    assert_eq!(logs.count("app process started", "hello"), 0);
    let admin_lines = logs.matching("request", |v| v["path"] == "/apps/hello/wake");
    assert!(!admin_lines.is_empty());
    assert!(admin_lines.iter().all(|v| v["app"] == "-"), "admin requests name no app: {admin_lines:?}");

    // The refusals above were the token's doing: with it, the same request acts.
    let woken =
        client.send(request(&client, ADMIN_HOST, Method::POST, "/apps/hello/wake", Some(&format!("Bearer {TOKEN}"))));
    assert_eq!(woken.await.status, 200);
    gateway.logs.wait_for("app process started", "hello", WAIT).await;
    // The apps are still routed as before, the admin token stripped.
    let seen = admin_get(&client, "hello.localhost", "/inspect").await;
    assert_eq!(seen.status, 200, "{}", seen.text());
    assert!(!seen.text().contains(TOKEN), "the admin token reached the app: {}", seen.text());
}

/// With `[admin] enabled = false` the admin host is the only way in, over
/// HTTPS (h2 and HTTP/1.1) as over plain HTTP.
pub async fn the_admin_host_alone_serves_over_https_h2_and_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.issue(&[ADMIN_HOST, "hello.localhost"], dir.path(), "gateway");
    let gateway = with_admin_host(GatewayBuilder::new())
        .admin_key("enabled", "false")
        .https(&[&cert])
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    assert!(gateway.admin.is_none());
    let addr = gateway.https_addrs[0];
    let bearer = format!("Bearer {TOKEN}");

    let stream = tls::connect(&ca.client(&["h2"]), addr, ADMIN_HOST).await;
    assert_eq!(tls::negotiated(&stream).0.as_deref(), Some("h2"));
    let (health, version) = tls::get_with(stream, ADMIN_HOST, "/healthz", &[("authorization", &bearer)]).await;
    assert_eq!((health.status.as_u16(), version), (200, http::Version::HTTP_2), "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    let stream = tls::connect(&ca.client(&["h2"]), addr, ADMIN_HOST).await;
    let (refused, _) = tls::get(stream, ADMIN_HOST, "/metrics").await;
    assert_eq!(refused.status, 401, "h2 without the token: {}", refused.text());

    let stream = tls::connect(&ca.client(&["http/1.1"]), addr, ADMIN_HOST).await;
    let (apps, version) = tls::get_with(stream, ADMIN_HOST, "/apps", &[("authorization", &bearer)]).await;
    assert_eq!((apps.status.as_u16(), version), (200, http::Version::HTTP_11), "{}", apps.text());
    assert!(apps.text().contains("\"hello\""));
    let stream = tls::connect(&ca.client(&["http/1.1"]), addr, ADMIN_HOST).await;
    assert_eq!(tls::get(stream, ADMIN_HOST, "/apps").await.0.status, 401);

    let plain = admin_get(&gateway.client(), ADMIN_HOST, "/metrics").await;
    assert_eq!(plain.status, 200);
    assert!(plain.text().contains("paastis_requests"));
    let logs = gateway.logs_caught_up().await;
    assert_eq!(logs.count("admin listening", ""), 0, "no admin listener was asked for");
    assert_eq!(logs.count("waking app", ""), 0);
}

/// An app that discovery finds under the admin host's name is not reached
/// through that host: the admin API answers there, and nothing wakes. Its
/// other hosts (`www.`) still route to it, which the last request proves.
pub async fn the_admin_host_is_never_routed_to_an_app_of_that_name() {
    let fake = FakeScalingo::start("tk-us-admin-host-scalingo").await;
    fake.add_app("paastis", formation(&[("web", 0)])).await;
    let backend = format!(
        "[[backends]]\nkind = \"scalingo\"\nname = \"scalingo\"\napi_url = {url:?}\nauth_url = {url:?}\n\
         token_env = \"TEST_SCALINGO_TOKEN\"\ndiscovery_interval = \"200ms\"\npoll_interval = \"20ms\"\n\
         backoff = \"20ms\"\nrate_limit = 6000\n\n[[rules]]\nmatch = 'paastis'\nupstream = {upstream:?}\n",
        url = fake.url(),
        upstream = fake.upstream("paastis"),
    );
    let gateway = with_admin_host(GatewayBuilder::new())
        .env("TEST_SCALINGO_TOKEN", &fake.api_token)
        .extra(&backend)
        .spawn()
        .await;
    gateway.logs.wait_for("app discovered", "paastis", WAIT).await;
    let client = gateway.client();

    for path in ["/", "/apps", "/healthz", "/anything"] {
        let anonymous = client.get(ADMIN_HOST, path).await;
        let expected = if path == "/" { 200 } else { 401 };
        assert_eq!(anonymous.status, expected, "{path}: {}", anonymous.text());
    }
    let apps = admin_get(&client, ADMIN_HOST, "/apps").await;
    assert_eq!(apps.status, 200, "the admin API, not the app: {}", apps.text());
    assert!(apps.text().contains("\"paastis\""), "the discovered app is listed: {}", apps.text());
    let logs = gateway.logs_caught_up().await;
    assert_eq!(logs.count("waking app", ""), 0, "the admin host woke the app");
    assert_eq!(fake.scale_calls("paastis"), 0);

    let app = client.get("www.paastis.localhost", "/").await;
    assert_eq!(app.status, 200, "the app itself: {}", app.text());
    assert_eq!(fake.scale_calls("paastis"), 1, "the app's own host wakes it");
}

/// The admin host without a token, or naming an app of the config, is a
/// config error naming the key and its line.
pub async fn an_admin_host_without_a_token_or_over_an_app_refuses_to_start() {
    for admin in [None, Some("false")] {
        let mut builder = GatewayBuilder::new().server_key("admin_host", &format!("{ADMIN_HOST:?}"));
        if let Some(enabled) = admin {
            builder = builder.admin_key("enabled", enabled);
        }
        let output = builder.serve_to_exit(Duration::from_secs(30)).await;
        assert_eq!(output.status.code(), Some(2), "a config error exits 2");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("line 4, key `server.admin_host`"), "{stderr}");
        assert!(stderr.contains("PAASTIS_ADMIN_TOKEN"), "{stderr}");
    }
    let output = with_admin_host(GatewayBuilder::new())
        .server_key("admin_host", "\"www.hello.localhost\"")
        .app(AppBuilder::new("hello"))
        .serve_to_exit(Duration::from_secs(30))
        .await;
    assert_eq!(output.status.code(), Some(2), "a config error exits 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 4, key `server.admin_host`") && stderr.contains("apps[0]"), "{stderr}");
}
