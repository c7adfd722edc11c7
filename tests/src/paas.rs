//! PaaS backends against fake Scalingo, Heroku and Clever Cloud APIs: each
//! app's public host is a fake upstream that answers only while the fake
//! platform runs the app, so a 200 proves the gateway waited for the scale.

use crate::support::fake_clever_cloud::FakeCleverCloud;
use crate::support::fake_heroku::FakeHeroku;
use crate::support::fake_http::Fault;
use crate::support::fake_scalingo::{FakeScalingo, formation};
use crate::support::{AppBuilder, GatewayBuilder};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const SCALINGO_TOKEN: &str = "tk-us-scalingo-5ecret-0f-the-tests";
const HEROKU_TOKEN: &str = "heroku-5ecret-token-0123456789";
const CLEVER_TOKEN: &str = "clever-5ecret-bearer-abcdef";

fn scalingo_backend(fake: &FakeScalingo, more: &str) -> String {
    format!(
        "[[backends]]\nkind = \"scalingo\"\nname = \"scalingo\"\napi_url = {url:?}\nauth_url = {url:?}\n\
         token_env = \"TEST_SCALINGO_TOKEN\"\ndiscovery_interval = \"200ms\"\npoll_interval = \"20ms\"\n\
         backoff = \"20ms\"\nrate_limit = 6000\n{more}\n",
        url = fake.url()
    )
}

fn paas_app(name: &str, backend: &str, upstream: &str, more: &str) -> String {
    format!(
        "[[apps]]\nname = {name:?}\nbackend = {backend:?}\nupstream = {upstream:?}\nwake_timeout = \"20s\"\n{more}\n"
    )
}

fn scalingo_gateway(fake: &FakeScalingo) -> GatewayBuilder {
    GatewayBuilder::new().env("TEST_SCALINGO_TOKEN", &fake.api_token)
}

/// A gateway keeping its store in `dir`, with the one Scalingo app `shop`.
fn shop_gateway(fake: &FakeScalingo, dir: &std::path::Path, idle: &str) -> GatewayBuilder {
    scalingo_gateway(fake).idle_timeout(idle).data_dir(dir).extra(&scalingo_backend(fake, "")).extra(&paas_app(
        "shop",
        "scalingo",
        &fake.upstream("shop"),
        "",
    ))
}

/// Waits until `check` holds, looking again every few milliseconds.
async fn until(what: &str, check: impl Fn() -> bool) {
    crate::support::within(WAIT, what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

pub async fn a_wake_restores_the_exact_formation_even_after_a_crash() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 2), ("worker", 1)])).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = |idle: &str| shop_gateway(&fake, dir.path(), idle);
    let first = gateway("300ms").spawn().await;
    first.logs.wait_for("adopted running app", "shop", WAIT).await;
    first.logs.wait_for("app put to sleep", "shop", WAIT).await;
    assert_eq!(fake.formation("shop"), formation(&[("web", 0), ("worker", 0)]));
    // A crash right after the sleep: the saved formation is on disk.
    first.kill9().await;

    let second = gateway("1h").spawn().await;
    let response = second.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "Hello from shop!");
    assert_eq!(fake.formation("shop"), formation(&[("web", 2), ("worker", 1)]), "exactly the saved formation");
    assert_eq!(fake.scale_calls("shop"), 2, "one scale down, one scale up");
}

pub async fn a_hundred_concurrent_requests_make_one_scale_call() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("slow", formation(&[("web", 0)])).await;
    fake.slow_operations(10);
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, ""))
        .extra(&paas_app("slow", "scalingo", &fake.upstream("slow"), ""))
        .spawn()
        .await;
    let client = gateway.client();
    let requests = (0..100).map(|i| {
        let client = client.clone();
        async move { (i, client.get("slow.localhost", "/").await) }
    });
    for (i, response) in futures_util::future::join_all(requests).await {
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
    }
    assert_eq!(fake.scale_calls("slow"), 1, "exactly one scale call");
    assert_eq!(fake.formation("slow"), formation(&[("web", 1)]), "no saved formation: one web");
    assert!(fake.script.count("GET", "/operations/op-1") > 10, "the operation was followed until done");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "slow"), 1);
}

pub async fn an_expired_token_is_exchanged_again() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 1)])).await;
    fake.token_lifetime(Duration::from_secs(2));
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, ""))
        .extra(&paas_app("shop", "scalingo", &fake.upstream("shop"), ""))
        .spawn()
        .await;
    let logs = &gateway.logs;
    logs.wait_for("adopted running app", "shop", WAIT).await;
    // Refreshed before it expires: no call is refused for it.
    logs.wait_for_nth("API token exchanged for a bearer token", "", 2, WAIT).await;
    assert_eq!(logs.count("API credentials refused (expired?); refreshing", ""), 0);

    // Revoked mid-run: the 401 triggers a new exchange and the call goes on.
    fake.token_lifetime(Duration::from_secs(3600));
    until("a one-hour bearer", || {
        !logs.matching("API token exchanged for a bearer token", |v| v["lifetime_s"].as_u64() > Some(100)).is_empty()
    })
    .await;
    let before = fake.exchanges();
    fake.expire_tokens();
    logs.wait_for("API credentials refused (expired?); refreshing", "", WAIT).await;
    until("a new exchange after the 401", || fake.exchanges() > before).await;
    let response = gateway.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
}

pub async fn rate_limits_server_errors_and_timeouts_are_retried() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 0)])).await;
    fake.fail(Fault::new("POST", "/scale", 429).retry_after(1));
    fake.fail(Fault::new("GET", "/containers", 500));
    fake.fail(Fault::new("GET", "/containers", 0).delay(Duration::from_secs(3)));
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, "request_timeout = \"500ms\""))
        .extra(&paas_app("shop", "scalingo", &fake.upstream("shop"), ""))
        .spawn()
        .await;
    let response = gateway.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let retries = gateway.logs_caught_up().await.matching("API call failed; retrying", |_| true);
    let retried = |call: &str, needle: &str| {
        retries.iter().any(|r| r["call"] == call && r["error"].as_str().is_some_and(|e| e.contains(needle)))
    };
    assert!(retried("GET containers", "500"), "500 retried: {retries:?}");
    assert!(retried("GET containers", "failed"), "timeout retried: {retries:?}");
    let limited = retries.iter().find(|r| r["call"] == "POST scale").expect("429 retried");
    assert_eq!(limited["retry_after"], true, "{limited}");
    assert_eq!(limited["retry_in_ms"], 1000, "Retry-After honoured: {limited}");
    let scales: Vec<u16> =
        fake.script.journal().iter().filter(|s| s.path.ends_with("/scale")).map(|s| s.status).collect();
    assert_eq!(scales, vec![429, 202]);
}

pub async fn a_failing_platform_answers_503_and_the_state_is_read_back() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 0)])).await;
    fake.fail(Fault::new("POST", "/scale", 500).times(100));
    let gateway = scalingo_gateway(&fake)
        .edge("failed_wake_backoff", "\"1h\"")
        .edge("failed_wake_backoff_max", "\"1h\"")
        .extra(&scalingo_backend(&fake, "max_retries = 2"))
        .extra(&paas_app("shop", "scalingo", &fake.upstream("shop"), ""))
        .spawn()
        .await;
    let client = gateway.client();
    let response = client.get("shop.localhost", "/").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    let body = response.text();
    assert!(body.contains("scalingo") && body.contains("POST scale answered 500"), "{body}");
    let state = gateway.logs.wait_for("app state after failed operation", "shop", WAIT).await;
    assert!(state["state"].as_str().is_some_and(|s| s.contains("\"web\": 0")), "{state}");

    // The same cool-down as a process app: no platform call until it ends.
    let calls = fake.script.count("POST", "/scale");
    assert_eq!(calls, 3, "the first attempt and its two retries");
    let again = client.get("shop.localhost", "/").await;
    assert_eq!(again.status, 503);
    assert_eq!(again.headers["retry-after"], "3600");
    assert!(again.text().contains("POST scale answered 500"), "{}", again.text());
    assert_eq!(fake.script.count("POST", "/scale"), calls, "no scale call during the cool-down");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "shop"), 1);

    fake.script.clear();
    let woken = gateway.admin().post("/apps/shop/wake").await;
    assert_eq!(woken.status, 200, "an operator's wake tries again: {}", woken.text());
    assert_eq!(client.get("shop.localhost", "/").await.status, 200);
}

pub async fn linked_apps_wake_together() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("review-pr7-front", formation(&[("web", 0)])).await;
    fake.add_app("review-pr7-back", formation(&[("web", 0)])).await;
    fake.slow_operations(3);
    let rule = "[[rules]]\nmatch = 'review-pr(\\d+)-front'\nlinks = [\"review-pr$1-back\"]\n";
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, ""))
        .extra(&paas_app("review-pr7-front", "scalingo", &fake.upstream("review-pr7-front"), ""))
        .extra(&paas_app("review-pr7-back", "scalingo", &fake.upstream("review-pr7-back"), ""))
        .extra(rule)
        .spawn()
        .await;
    let client = gateway.client();
    let requests = (0..10).map(|_| client.get("review-pr7-front.localhost", "/"));
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.text(), "Hello from review-pr7-front!");
    }
    gateway.logs.wait_for("app woken", "review-pr7-back", WAIT).await;
    assert_eq!(gateway.logs_caught_up().await.count("waking linked app", "review-pr7-back"), 1, "woken once");
    assert_eq!(fake.scale_calls("review-pr7-front"), 1);
    assert_eq!(fake.scale_calls("review-pr7-back"), 1);
    assert_eq!(fake.formation("review-pr7-back"), formation(&[("web", 1)]));
}

pub async fn discovery_adopts_running_apps_and_honours_the_ignore_list() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("api", formation(&[("web", 1)])).await;
    fake.add_app("old-legacy", formation(&[("web", 1)])).await;
    fake.add_app("paastis", formation(&[("web", 1)])).await;
    let rule = format!("[[rules]]\nmatch = 'api'\nname = 'api-v1'\nupstream = {:?}\n", fake.upstream("api"));
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, "ignore = ['old-.*']\ngateway_app = \"paastis\""))
        .extra(&rule)
        .spawn()
        .await;
    let discovered = gateway.logs.wait_for("app discovered", "api-v1", WAIT).await;
    assert_eq!(discovered["remote"], "api");
    gateway.logs.wait_for("adopted running app", "api-v1", WAIT).await;
    until("three discovery rounds", || fake.script.count("GET", "/v1/apps") >= 3).await;
    assert_eq!(
        gateway.logs_caught_up().await.count("app discovered", ""),
        1,
        "old-legacy is ignored, paastis is the gateway"
    );

    let response = gateway.client().get("api-v1.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.headers.get("x-paastis-cold-start").is_none(), "adopted awake, not woken");
    assert_eq!(fake.scale_calls("api"), 0);
}

pub async fn scalingo_heroku_and_clever_cloud_behind_one_gateway() {
    let scalingo = FakeScalingo::start(SCALINGO_TOKEN).await;
    scalingo.add_app("shop", formation(&[("web", 0)])).await;
    let heroku = FakeHeroku::start(HEROKU_TOKEN).await;
    heroku.add_app("blog", formation(&[("web", 0), ("worker", 0)])).await;
    heroku.fail(Fault::new("PATCH", "/formation", 503));
    heroku.set_remaining(12);
    let clever = FakeCleverCloud::start(CLEVER_TOKEN).await;
    let docs_id = "app_2f1e9c1a-6b07-4b2e-9a6d-3c0f7a1d9e55";
    clever.add_app(docs_id, "Docs", false).await;
    let heroku_backend = format!(
        "[[backends]]\nkind = \"heroku\"\nname = \"heroku\"\napi_url = {:?}\ntoken_env = \"TEST_HEROKU_TOKEN\"\n\
         discover = false\ndiscovery_interval = \"200ms\"\nbackoff = \"20ms\"\n",
        heroku.url()
    );
    let clever_backend = format!(
        "[[backends]]\nkind = \"clever_cloud\"\nname = \"clever\"\napi_url = {:?}\ntoken_env = \"TEST_CLEVER_TOKEN\"\n\
         discovery_interval = \"200ms\"\npoll_interval = \"20ms\"\nbackoff = \"20ms\"\n\
         [[rules]]\nmatch = 'Docs'\nbackend = \"clever\"\nname = \"docs\"\nupstream = {:?}\n",
        clever.url(),
        clever.upstream(docs_id)
    );
    let gateway = scalingo_gateway(&scalingo)
        .env("TEST_HEROKU_TOKEN", HEROKU_TOKEN)
        .env("TEST_CLEVER_TOKEN", CLEVER_TOKEN)
        .extra(&scalingo_backend(&scalingo, ""))
        .extra(&heroku_backend)
        .extra(&clever_backend)
        .extra(&paas_app("shop", "scalingo", &scalingo.upstream("shop"), ""))
        // No upstream: the gateway asks Heroku for the app's `web_url`.
        .extra("[[apps]]\nname = \"blog\"\nbackend = \"heroku\"\nwake_timeout = \"20s\"\n")
        .spawn()
        .await;
    gateway.logs.wait_for("app discovered", "docs", WAIT).await;
    let client = gateway.client();
    let (shop, blog, docs) = tokio::join!(
        client.get("shop.localhost", "/"),
        client.get("blog.localhost", "/"),
        client.get("docs.localhost", "/"),
    );
    for (response, name) in [(shop, "shop"), (blog, "blog"), (docs, "Docs")] {
        assert_eq!(response.status, 200, "{name}: {}", response.text());
        assert_eq!(response.text(), format!("Hello from {name}!"));
    }
    assert_eq!(heroku.formation("blog"), formation(&[("web", 1), ("worker", 0)]));
    assert_eq!(heroku.patches("blog"), 1);
    assert!(clever.is_up(docs_id));
    assert_eq!(clever.starts(docs_id), 1);
    let journal = heroku.script.journal();
    assert!(journal.iter().all(|s| s.accept == "application/vnd.heroku+json; version=3"), "{journal:?}");
    assert!(journal.iter().all(|s| s.authorization == format!("Bearer {HEROKU_TOKEN}")));
    assert!(journal.iter().any(|s| s.method == "GET" && s.path == "/apps/blog"), "web_url asked for: {journal:?}");
    let slowed = gateway.logs_caught_up().await.matching("API budget low; slowing down", |v| v["backend"] == "heroku");
    assert!(!slowed.is_empty(), "RateLimit-Remaining is respected");

    // Secrets appear in no log line, whatever happened.
    let log = gateway.logs.dump();
    for secret in [SCALINGO_TOKEN, HEROKU_TOKEN, CLEVER_TOKEN] {
        assert!(!log.contains(secret), "a secret leaked into the log");
    }
}

pub async fn a_refused_token_gives_a_clear_503_and_never_reaches_the_log() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 0)])).await;
    let wrong = "tk-us-wrong-but-still-5ecret-value";
    let gateway = GatewayBuilder::new()
        .env("TEST_SCALINGO_TOKEN", wrong)
        .env("RUST_LOG", "debug")
        .extra(&scalingo_backend(&fake, ""))
        .extra(&paas_app("shop", "scalingo", &fake.upstream("shop"), ""))
        .spawn()
        .await;
    let response = gateway.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 503);
    let body = response.text();
    assert!(body.contains("tokens/exchange answered 401"), "{body}");
    assert!(!body.contains(wrong));
    gateway.logs.wait_for("wake failed", "shop", WAIT).await;
    assert!(!gateway.logs.dump().contains(wrong), "the token leaked into the log");
}

pub async fn hooks_run_around_start_and_stop_and_failures_are_not_fatal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("hooks.log");
    let hooks = format!(
        "[hooks]\ntimeout = \"500ms\"\n\
         before_start = 'echo \"before_start $PAASTIS_APP $PAASTIS_BACKEND\" >> {t}; exit 3'\n\
         after_start = 'echo \"after_start $PAASTIS_APP $PAASTIS_BACKEND\" >> {t}'\n\
         before_stop = 'sleep 30'\n\
         after_stop = 'echo \"after_stop $PAASTIS_APP\" >> {t}'\n",
        t = trace.display()
    );
    let gateway = GatewayBuilder::new().idle_timeout("300ms").app(AppBuilder::new("hello")).extra(&hooks).spawn().await;
    let response = gateway.client().get("hello.localhost", "/").await;
    assert_eq!(response.status, 200, "a failing hook does not stop the start: {}", response.text());
    gateway.logs.wait_for("app put to sleep", "hello", WAIT).await;
    let failed = gateway.logs_caught_up().await.matching("hook failed", |v| v["app"] == "hello");
    assert!(
        failed.iter().any(|f| f["hook"] == "before_start" && f["reason"].as_str().is_some_and(|r| r.contains("3")))
    );
    assert!(
        failed.iter().any(|f| f["hook"] == "before_stop" && f["reason"].as_str().is_some_and(|r| r.contains("killed")))
    );
    let lines = std::fs::read_to_string(&trace).expect("hooks wrote their trace");
    assert_eq!(lines, "before_start hello process\nafter_start hello process\nafter_stop hello\n");
}

pub async fn a_gateway_shutdown_leaves_paas_apps_running() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 2)])).await;
    let gateway = scalingo_gateway(&fake)
        .extra(&scalingo_backend(&fake, ""))
        .extra(&paas_app("shop", "scalingo", &fake.upstream("shop"), ""))
        .spawn()
        .await;
    gateway.logs.wait_for("adopted running app", "shop", WAIT).await;
    let status = gateway.terminate().await;
    assert!(status.success(), "{status}");
    assert_eq!(fake.scale_calls("shop"), 0, "a gateway restart must not put production apps to sleep");
    assert_eq!(fake.formation("shop"), formation(&[("web", 2)]));
}

/// A store damaged beyond repair loses the saved formations: such an app
/// wakes with one `web` (the platform's least), and the log warns.
pub async fn a_formation_lost_with_a_damaged_store_wakes_one_web_with_a_warning() {
    let fake = FakeScalingo::start(SCALINGO_TOKEN).await;
    fake.add_app("shop", formation(&[("web", 2), ("worker", 1)])).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = |idle: &str| shop_gateway(&fake, dir.path(), idle);
    let first = gateway("300ms").spawn().await;
    first.logs.wait_for("app put to sleep", "shop", WAIT).await;
    let store = first.store.clone();
    assert!(first.terminate().await.success());
    crate::persistence::overwrite_the_start_of_every_file(&store);

    let second = gateway("1h").spawn().await;
    second.logs.wait_for("the store was damaged; moved aside and started afresh", "", WAIT).await;
    let response = second.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(fake.formation("shop"), formation(&[("web", 1), ("worker", 0)]), "one web");
    let warned = second.logs.wait_for("no saved formation: waking with one web", "shop", WAIT).await;
    assert_eq!(warned["level"], "WARN", "{warned}");
}
