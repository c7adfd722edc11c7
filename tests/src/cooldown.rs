//! The cool-down after a failed wake: requests get a 503 at once with the
//! reason and a Retry-After, nothing is spawned, one log line and one event
//! per attempt; browsers get a page that retries by itself.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, TestClient, TestGateway, TestResponse, within};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn crashing(name: &str) -> AppBuilder {
    AppBuilder::new(name).command(&["/bin/sh", "-c", "exit 3"]).wake_timeout("10s")
}

/// Waits until every wake that began has logged its failure, so counts
/// taken afterwards are final.
async fn attempts_settled(gateway: &TestGateway, app: &str) -> usize {
    within(WAIT, "every wake attempt to end", async {
        loop {
            let began = gateway.logs_caught_up().await.count("waking app", app);
            if began > 0 && gateway.logs_caught_up().await.count("wake failed", app) == began {
                return began;
            }
            gateway.logs.wait_for_nth("wake failed", app, began, WAIT).await;
        }
    })
    .await
}

async fn get_html(client: &TestClient, host: &str, path: &str) -> TestResponse {
    client.send(client.builder(host, path).header("accept", BROWSER).body(empty()).unwrap()).await
}

/// The burst: 200 requests over 4 s to an app whose command exits
/// at once. Before the cool-down every one of them spawned a process.
pub async fn a_burst_at_a_failing_app_spawns_a_handful_of_processes() {
    let gateway = GatewayBuilder::new().app(crashing("crashy")).spawn().await;
    let client = gateway.client();
    let started = Instant::now();
    let mut requests = Vec::new();
    for i in 0..200u32 {
        // Paced, as a steady client would send them: one every 20 ms.
        tokio::time::sleep_until((started + Duration::from_millis(20) * i).into()).await;
        let client = client.clone();
        requests.push(tokio::spawn(async move { client.get("crashy.localhost", "/").await }));
    }
    for (i, request) in requests.into_iter().enumerate() {
        let response = request.await.unwrap();
        assert_eq!(response.status, 503, "request {i}: {}", response.text());
        let retry_after: u32 = response.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry_after), "request {i}: Retry-After {retry_after}");
        assert!(response.text().contains("exit status: 3"), "request {i} is told why: {}", response.text());
    }
    let attempts = attempts_settled(&gateway, "crashy").await;
    let spawned = gateway.logs_caught_up().await.count("app process started", "crashy");
    assert_eq!(spawned, attempts, "one process per attempt");
    assert!(spawned <= 6, "{spawned} processes spawned for 200 requests over 4 s");
    let failed_events = gateway.admin().events().await.into_iter().filter(|e| e["kind"] == "wake_failed").count();
    assert_eq!(failed_events, attempts, "one event per attempt, never per request");
    let errors = gateway.logs_caught_up().await.matching("wake failed", |v| v["level"] == "ERROR").len();
    assert_eq!(errors, attempts, "one error line per attempt");
}

/// During the cool-down nothing starts: not a request, not the admin list;
/// `GET /apps` shows it; an operator's wake tries at once and restarts the
/// backoff from its first step.
pub async fn the_cool_down_shows_in_the_api_and_an_admin_wake_ends_it() {
    let gateway = GatewayBuilder::new()
        .edge("failed_wake_backoff", "\"1h\"")
        .edge("failed_wake_backoff_max", "\"1h\"")
        .app(crashing("crashy"))
        .spawn()
        .await;
    let client = gateway.client();
    let admin = gateway.admin();
    let first = client.get("crashy.localhost", "/").await;
    assert_eq!(first.status, 503);
    assert_eq!(first.headers["retry-after"], "3600");

    let entry = admin.app("crashy").await;
    let cooldown = &entry["cooldown"];
    assert_eq!(cooldown["failures"], 1, "{entry}");
    assert!(cooldown["reason"].as_str().unwrap().contains("exit status: 3"), "{entry}");
    let retry_in = cooldown["retry_in_ms"].as_u64().unwrap();
    assert!(retry_in > 3_500_000 && retry_in <= 3_600_000, "{entry}");
    assert!(cooldown["until"].as_u64().unwrap() > entry["state_since"].as_u64().unwrap());

    // Answered at once, without waiting on a wake: none began.
    let again = client.get("crashy.localhost", "/").await;
    assert_eq!(again.status, 503);
    assert!(again.text().contains("exit status: 3") && again.text().contains("next attempt in"), "{}", again.text());
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "crashy"), 1);

    let forced = admin.post("/apps/crashy/wake").await;
    assert_eq!(forced.status, 503, "{}", forced.text());
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "crashy"), 2, "the operator's wake was tried");
    assert_eq!(admin.app("crashy").await["cooldown"]["failures"], 1, "and the backoff started over");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "crashy"), 2);
}

/// A successful wake ends the streak: the next failure cools down from the
/// first step again, and an awake app shows no cool-down.
pub async fn a_successful_wake_resets_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("may-start");
    let exe = std::env::current_exe().unwrap().display().to_string();
    let script = format!("test -e {} || exit 3; exec {exe} demo-app --name flaky --port {{port}}", flag.display());
    let gateway = GatewayBuilder::new()
        .edge("failed_wake_backoff", "\"300ms\"")
        .app(AppBuilder::new("flaky").command(&["/bin/sh", "-c", &script]))
        .spawn()
        .await;
    let client = gateway.client();
    let admin = gateway.admin();
    for _ in 0..2 {
        assert_eq!(client.get("flaky.localhost", "/").await.status, 503);
        // The next attempt starts once the cool-down has passed.
        let failures = gateway.logs_caught_up().await.count("wake failed", "flaky");
        within(WAIT, "a second attempt", async {
            while gateway.logs_caught_up().await.count("wake failed", "flaky") == failures {
                let _ = client.get("flaky.localhost", "/").await;
            }
        })
        .await;
    }
    assert!(admin.app("flaky").await["cooldown"]["failures"].as_u64().unwrap() >= 2);

    std::fs::write(&flag, "").unwrap();
    let ok = within(WAIT, "the app to start once it may", async {
        loop {
            let response = client.get("flaky.localhost", "/").await;
            if response.status == 200 {
                return response;
            }
        }
    })
    .await;
    assert!(ok.text().starts_with("Hello from flaky!"), "{}", ok.text());
    assert!(admin.app("flaky").await["cooldown"].is_null());

    std::fs::remove_file(&flag).unwrap();
    assert_eq!(admin.post("/apps/flaky/sleep").await.status, 200);
    assert_eq!(client.get("flaky.localhost", "/").await.status, 503);
    let entry = admin.app("flaky").await;
    assert_eq!(entry["cooldown"]["failures"], 1, "a new streak: {entry}");
    assert!(entry["cooldown"]["retry_in_ms"].as_u64().unwrap() <= 300, "{entry}");
}

/// A browser gets a page that says the app failed to start, without pids or
/// paths, and that reloads itself after the Retry-After.
pub async fn a_browser_gets_a_failure_page_that_retries_after_the_cool_down() {
    let gateway = GatewayBuilder::new()
        .edge("failed_wake_backoff", "\"1h\"")
        .edge("failed_wake_backoff_max", "\"1h\"")
        .app(AppBuilder::new("crashy").command(&["/bin/sh", "-c", "echo boom >&2; exit 3"]))
        .spawn()
        .await;
    let client = gateway.client();
    // The first visit finds the app asleep: the waiting page, and a wake.
    let waiting = get_html(&client, "crashy.localhost", "/lab?token=x").await;
    assert_eq!(waiting.headers["x-paastis-waiting"], "1");
    gateway.logs.wait_for("wake failed", "crashy", WAIT).await;
    // Its reload, and every one until the cool-down ends: the failure page.
    for visit in 0..2 {
        let page = get_html(&client, "crashy.localhost", "/lab?token=x").await;
        assert_eq!(page.status, 503, "visit {visit}");
        assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page.headers["x-paastis-wake-failed"], "1");
        assert_eq!(page.headers["cache-control"], "no-store");
        let retry = page.headers["retry-after"].to_str().unwrap().to_owned();
        assert!(retry == "3600" || retry == "3599", "visit {visit}: {retry}");
        assert_eq!(page.headers["refresh"], retry.as_str());
        let html = page.text();
        assert!(html.contains("crashy could not start"), "{html}");
        assert!(html.contains(&format!("<meta http-equiv=\"refresh\" content=\"{retry}\">")), "{html}");
        for secret in ["exit status", "/bin/sh", "pid", "process", "127.0.0.1"] {
            assert!(!html.contains(secret), "the page shows {secret:?}: {html}");
        }
    }
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "crashy"), 1);
    // Other clients still get the reason.
    let api = client.get("crashy.localhost", "/api/status").await;
    assert!(api.text().contains("exit status: 3"), "{}", api.text());
}

/// An open tab keeps asking: its page reloads as the waiting and failure
/// pages say, and its script polls an API every half second. The cool-down
/// keeps the crashing app from being spawned at that pace.
pub async fn an_open_tab_does_not_respawn_a_crashing_app_at_its_pace() {
    let gateway = GatewayBuilder::new().app(crashing("lab")).spawn().await;
    let client = gateway.client();
    let started = Instant::now();
    let open_for = Duration::from_secs(6);
    let page = async {
        let mut loads = 0;
        while started.elapsed() < open_for {
            let response = get_html(&client, "lab.localhost", "/lab").await;
            assert_eq!(response.status, 503, "{}", response.text());
            loads += 1;
            let refresh: u64 = response.headers["refresh"].to_str().unwrap().parse().unwrap();
            tokio::time::sleep(Duration::from_secs(refresh)).await;
        }
        loads
    };
    let poller = async {
        let mut polls = 0;
        while started.elapsed() < open_for {
            let request = client.builder("lab.localhost", "/api/kernels").header("accept", "application/json");
            let response = client.send(request.body(empty()).unwrap()).await;
            assert_eq!(response.status, 503, "{}", response.text());
            assert!(response.headers.contains_key("retry-after"));
            polls += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        polls
    };
    let (loads, polls) = tokio::join!(page, poller);
    let attempts = attempts_settled(&gateway, "lab").await;
    // 1 s, 2 s and 4 s of cool-down fit at most 4 attempts into 6 s.
    assert!(attempts <= 4, "{attempts} wakes for {loads} page loads and {polls} polls in {open_for:?}");
    assert!(loads >= 3 && polls >= 8, "the tab kept asking: {loads} loads, {polls} polls");
}
