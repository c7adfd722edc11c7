//! The admin API: apps, wake and sleep, events, policies, health, metrics.

use crate::support::policies::{self, ARM_HEADER};
use crate::support::{AppBuilder, GatewayBuilder, TestGateway, within};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `GET /apps` shows each app's state, activity, policy, wakes and savings,
/// priced with its own hourly cost or the default, and totals that add up.
pub async fn apps_show_state_activity_policy_wakes_and_savings() {
    let gateway = GatewayBuilder::new()
        .savings_key("hourly_cost", "0.5")
        .savings_key("currency", "\"USD\"")
        .savings_key("container_watts", "20.0")
        .savings_key("grid_gco2_per_kwh", "100.0")
        .app(AppBuilder::new("hello").key("hourly_cost", "2.0").key("containers", "3"))
        .app(AppBuilder::new("other"))
        .spawn()
        .await;
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
    let report = gateway.admin().get("/apps").await;
    assert_eq!(report.status, 200, "{}", report.text());
    assert!(report.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let report = report.json();
    assert_eq!(report["currency"], "USD");
    let apps = report["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 2);
    let hello = apps.iter().find(|a| a["name"] == "hello").unwrap();
    let other = apps.iter().find(|a| a["name"] == "other").unwrap();
    assert_eq!(hello["state"], "awake");
    assert_eq!(hello["wakes"], 1);
    assert!(hello["last_activity"].as_u64().is_some(), "{hello}");
    assert_eq!(hello["policy"], "inactivity");
    assert_eq!(hello["policy_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(hello["hourly_cost"], 2.0);
    assert_eq!(hello["containers"], 3);
    assert_eq!(other["state"], "asleep");
    assert_eq!(other["wakes"], 0);
    assert_eq!(other["last_activity"], serde_json::Value::Null);
    assert_eq!(other["hourly_cost"], 0.5, "the default cost");

    // The method, checked on what the API reports.
    for (app, cost, containers) in [(hello, 2.0, 3.0), (other, 0.5, 1.0)] {
        let s = &app["savings"];
        let (asleep, awake) = (s["hours_asleep"].as_f64().unwrap(), s["hours_awake"].as_f64().unwrap());
        assert!(close(s["cost_saved"].as_f64().unwrap(), asleep * cost), "{s}");
        assert!(close(s["cost_spent"].as_f64().unwrap(), awake * cost), "{s}");
        let kwh = asleep * containers * 20.0 / 1000.0;
        assert!(close(s["energy_saved_kwh"].as_f64().unwrap(), kwh), "{s}");
        assert!(close(s["co2_saved_g"].as_f64().unwrap(), kwh * 100.0), "{s}");
    }
    assert!(other["savings"]["hours_asleep"].as_f64().unwrap() > 0.0, "time asleep is counted");
    assert!(hello["savings"]["hours_awake"].as_f64().unwrap() > 0.0, "time awake is counted");
    let total = &report["total"];
    for key in ["hours_asleep", "hours_awake", "cost_saved", "cost_spent", "energy_saved_kwh", "co2_saved_g"] {
        let sum = hello["savings"][key].as_f64().unwrap() + other["savings"][key].as_f64().unwrap();
        assert!(close(total[key].as_f64().unwrap(), sum), "total {key}: {total}");
    }
}

/// The wake and sleep buttons of the API: the process really starts and stops.
pub async fn wake_and_sleep_an_app_on_request() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let admin = gateway.admin();
    let woken = admin.post("/apps/hello/wake").await;
    assert_eq!(woken.status, 200, "{}", woken.text());
    assert_eq!(woken.json()["state"], "awake");
    assert!(woken.json()["last_activity"].as_u64().is_some(), "a manual wake counts as activity");
    let pid = gateway.app_pid("hello", 1).await;
    assert!(crate::support::pid_alive(pid));
    let response = gateway.client().get("hello.localhost", "/").await;
    assert_eq!(response.status, 200);
    assert!(!response.headers.contains_key("x-paastis-cold-start"), "already awake");

    let again = admin.post("/apps/hello/wake").await;
    assert_eq!(again.status, 200, "waking an awake app is a no-op");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);

    let slept = admin.post("/apps/hello/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    assert_eq!(slept.json()["state"], "asleep");
    crate::support::wait_pid_gone(pid, WAIT).await;
    assert_eq!(admin.post("/apps/hello/sleep").await.status, 200, "asleep already is fine");

    let unknown = admin.post("/apps/nope/wake").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"].as_str().unwrap().contains("nope"));
    let wrong_method = admin.get("/apps/hello/wake").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.headers["allow"], "POST");
    assert_eq!(admin.get("/nothing-here").await.status, 404);
}

/// A wake that fails answers 503 with the reason and Retry-After.
pub async fn a_failed_wake_answers_503_with_the_reason() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("broken").command(&["/nonexistent/program"])).spawn().await;
    let response = gateway.admin().post("/apps/broken/wake").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    assert!(response.json()["error"].as_str().unwrap().contains("could not be woken"), "{}", response.text());
    let events = gateway.admin().events().await;
    assert!(events.iter().any(|e| e["kind"] == "wake_failed" && e["app"] == "broken"), "{events:?}");
}

/// Wakes (with their duration), sleeps and policy loads are events, kept in
/// the store across a restart and trimmed to the retention limit.
pub async fn events_are_recorded_kept_across_restarts_and_trimmed() {
    let data = tempfile::tempdir().unwrap();
    let builder =
        || GatewayBuilder::new().data_dir(data.path()).admin_key("event_retention", "6").app(AppBuilder::new("hello"));
    let gateway = builder().spawn().await;
    let admin = gateway.admin();
    assert_eq!(admin.post("/apps/hello/wake").await.status, 200);
    assert_eq!(admin.post("/apps/hello/sleep").await.status, 200);
    let events = admin.events().await;
    let woken = events.iter().find(|e| e["kind"] == "woken").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(woken["app"], "hello");
    assert!(woken["wake_ms"].as_f64().unwrap() > 0.0);
    assert!(woken["at"].as_u64().is_some() && woken["id"].as_u64().is_some());
    let slept = events.iter().find(|e| e["kind"] == "slept").expect("slept event");
    assert_eq!(slept["reason"], "admin request");
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let only_hello = admin.get("/events?app=hello&limit=1").await.json();
    assert_eq!(only_hello["events"].as_array().unwrap().len(), 1);
    assert_eq!(only_hello["events"][0]["kind"], "slept");
    assert_eq!(admin.get("/events?limit=0").await.status, 400);
    // Awake at shutdown: the shutdown's sleep is recorded before the final flush.
    assert_eq!(admin.post("/apps/hello/wake").await.status, 200);
    assert!(gateway.terminate().await.success());

    let gateway = builder().spawn().await;
    let admin = gateway.admin();
    let builtin = |e: &&serde_json::Value| e["kind"] == "policy_loaded" && e["origin"] == "builtin";
    // The recorder writes this start's events a batch after they happen:
    // read once the newest is this start's policy load.
    let kept = within(WAIT, "this start's policy_loaded event in the history", async {
        loop {
            let kept = admin.events().await;
            if kept.first().is_some_and(|e| builtin(&e)) {
                return kept;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(kept.iter().any(|e| e["kind"] == "woken" && e["id"] == woken["id"]), "kept across restart: {kept:?}");
    // The newest: the policies this start loaded, then the last shutdown's sleep.
    assert_eq!(kept.iter().take_while(builtin).count(), 1, "the built-in policy, loaded at start: {kept:?}");
    assert_eq!(kept[1]["kind"], "slept", "{kept:?}");
    assert_eq!(kept[1]["reason"], "gateway shutdown");
    for _ in 0..3 {
        assert_eq!(admin.post("/apps/hello/wake").await.status, 200);
        assert_eq!(admin.post("/apps/hello/sleep").await.status, 200);
    }
    let trimmed = admin.events().await;
    assert_eq!(trimmed.len(), 6, "retention keeps the newest 6: {trimmed:?}");
    assert_eq!(trimmed[0]["kind"], "slept", "the newest is kept");
}

async fn loads_of(gateway: &TestGateway, policy: &str) -> usize {
    gateway.logs_caught_up().await.matching("policy loaded", |v| v["policy"] == policy).len()
}

/// `GET /policies` lists name, sha256 and since when; `PUT` goes through the
/// directory's validation and swap, persists the file, and is not loaded a
/// second time by the watcher.
pub async fn policies_are_listed_and_uploaded_like_dropped_files() {
    let dir = tempfile::tempdir().unwrap();
    // The policy `hello` asks for must be there at start: a copy of inactivity.
    install(dir.path(), "swappable", paastis::testing::INACTIVITY_WASM);
    let gateway = GatewayBuilder::new()
        .policy_dir(dir.path())
        .app(AppBuilder::new("hello").policy("swappable"))
        .app(AppBuilder::new("other"))
        .spawn()
        .await;
    let admin = gateway.admin();
    let listed = admin.get("/policies").await.json();
    let inactivity = listed["policies"].as_array().unwrap().iter().find(|p| p["name"] == "inactivity").cloned();
    let inactivity = inactivity.unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(inactivity["sha256"].as_str().map(str::len), Some(64));
    assert!(inactivity["since"].as_u64().unwrap() > 0);
    assert_eq!(inactivity["origin"], "builtin");

    let teapot = policies::bytes(policies::TEAPOT);
    let uploaded = admin.put("/policies/swappable", teapot.clone()).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    assert_eq!(uploaded.json()["status"], "installed");
    let sha = uploaded.json()["sha256"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(dir.path().join("swappable.wasm")).unwrap(), teapot, "persisted in policy.dir");
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 418, "swapped in at once");
    assert_eq!(gateway.client().get("other.localhost", "/").await.status, 200);
    let listed = admin.get("/policies").await.json();
    let swappable = listed["policies"].as_array().unwrap().iter().find(|p| p["name"] == "swappable").cloned();
    let swappable = swappable.unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(swappable["sha256"], sha.as_str());
    assert_eq!(swappable["serves"], serde_json::json!(["hello"]));
    assert_eq!(admin.app("hello").await["policy"], "swappable");

    // The watcher saw the file land; a marker dropped after it (and sorting
    // after it) proves it has been looked at, without loading it again.
    let loaded_before = gateway.logs_caught_up().await.count("policy loaded", "");
    install(dir.path(), "zz-marker", &teapot);
    gateway.logs.wait_for_nth("policy loaded", "", loaded_before + 1, WAIT).await;
    let marker = gateway.logs_caught_up().await.matching("policy loaded", |v| v["policy"] == "zz-marker");
    assert_eq!(marker.len(), 1, "marker loaded");
    assert_eq!(loads_of(&gateway, "swappable").await, 2, "the start's copy, then the upload, loaded once");

    let same = admin.put("/policies/swappable.wasm", teapot.clone()).await;
    assert_eq!(same.json()["status"], "unchanged", "{}", same.text());

    let refused = admin.put("/policies/swappable", b"not webassembly".to_vec()).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(!refused.json()["error"].as_str().unwrap().is_empty());
    assert_eq!(std::fs::read(dir.path().join("swappable.wasm")).unwrap(), teapot, "the file is untouched");
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 418, "the previous version serves");
    gateway.logs.wait_for("policy refused; the previous version keeps serving", "", WAIT).await;
    let events = admin.events().await;
    assert!(events.iter().any(|e| e["kind"] == "policy_refused" && e["policy"] == "swappable"), "{events:?}");
    let loaded = events.iter().find(|e| e["kind"] == "policy_loaded" && e["policy"] == "swappable");
    assert_eq!(loaded.map(|e| e["sha256"].clone()), Some(serde_json::json!(sha)), "{events:?}");

    let wrong_world = admin.put("/policies/swappable", policies::bytes(policies::WRONG_WORLD)).await;
    assert_eq!(wrong_world.status, 422, "{}", wrong_world.text());
    let bad_name = admin.put("/policies/..%2Fescape", teapot.clone()).await;
    assert_eq!(bad_name.status, 400, "{}", bad_name.text());
    assert!(!dir.path().join("../escape.wasm").exists());
}

fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let aside = dir.join(format!(".{name}.partial"));
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, dir.join(format!("{name}.wasm"))).unwrap();
}

/// A truncated copy of the policy serving lands in policy.dir and is
/// refused; the version before it keeps serving. Uploading the good bytes
/// again must repair the file, not answer "unchanged": after a restart the
/// same version serves, with the same behaviour (closed: 503).
pub async fn a_reupload_repairs_a_broken_file_and_a_restart_serves_the_same_version() {
    let (data, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let good = policies::bytes(policies::OFFICE_HOURS);
    install(dir.path(), "nights-weekends", &good);
    // Open one hour a day, starting two hours from now: closed now, whatever the time.
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 3600;
    let opens = (hour + 2) % 24;
    let builder = || {
        GatewayBuilder::new().data_dir(data.path()).policy_dir(dir.path()).app(
            AppBuilder::new("intranet")
                .policy("nights-weekends")
                .param("off_hours", "\"refuse\"")
                .param("days", "\"Mon-Sun\"")
                .param("open", &format!("\"{opens:02}:00\""))
                .param("close", &format!("\"{:02}:00\"", (opens + 1) % 24)),
        )
    };
    let closed = |response: crate::support::TestResponse| {
        assert_eq!(response.status, 503, "{}", response.text());
        assert!(response.text().starts_with("closed until"), "{}", response.text());
    };
    let gateway = builder().spawn().await;
    let sha = gateway.logs.wait_for("policy loaded", "", WAIT).await["sha256"].as_str().unwrap().to_owned();
    closed(gateway.client().get("intranet.localhost", "/").await);

    install(dir.path(), "nights-weekends", &good[..good.len() / 2]);
    gateway.logs.wait_for("policy refused; the previous version keeps serving", "", WAIT).await;
    closed(gateway.client().get("intranet.localhost", "/").await);
    let repaired = gateway.admin().put("/policies/nights-weekends", good.clone()).await;
    assert_eq!(repaired.status, 200, "{}", repaired.text());
    assert_eq!(
        (repaired.json()["status"].as_str(), repaired.json()["sha256"].as_str()),
        (Some("repaired"), Some(&*sha))
    );
    assert_eq!(std::fs::read(dir.path().join("nights-weekends.wasm")).unwrap(), good, "the file holds the good bytes");
    assert_eq!(gateway.admin().put("/policies/nights-weekends", good.clone()).await.json()["status"], "unchanged");
    assert!(gateway.terminate().await.success());

    let gateway = builder().spawn().await;
    let loaded = gateway.logs.wait_for("policy loaded", "", WAIT).await;
    assert_eq!(loaded["sha256"].as_str(), Some(&*sha), "the same version after the restart");
    closed(gateway.client().get("intranet.localhost", "/").await);
}

/// Without a policy.dir an upload would be lost at the next restart: 409.
pub async fn an_upload_without_a_policy_dir_is_refused() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let response = gateway.admin().put("/policies/teapot", policies::bytes(policies::TEAPOT)).await;
    assert_eq!(response.status, 409, "{}", response.text());
    assert!(response.json()["error"].as_str().unwrap().contains("policy.dir"));
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
}

pub async fn healthz_answers_ok() {
    let gateway = GatewayBuilder::new().spawn().await;
    let response = gateway.admin().get("/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
}

/// `/metrics` parses as Prometheus text, with every family and its type.
pub async fn metrics_parse_as_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "armed", &policies::bytes(policies::ARMED));
    let gateway = GatewayBuilder::new()
        .policy_dir(dir.path())
        .app(AppBuilder::new("hello").policy("armed").param("mode", "\"panic\""))
        .app(AppBuilder::new("other"))
        .spawn()
        .await;
    let client = gateway.client();
    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    assert_eq!(client.get("hello.localhost", "/missing").await.status, 404);
    let armed = client.builder("hello.localhost", "/").header(ARM_HEADER, "1");
    assert_eq!(client.send(armed.body(crate::support::client::empty()).unwrap()).await.status, 200);
    assert_eq!(client.get("nobody.localhost", "/").await.status, 404);

    let response = gateway.admin().get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape =
        prometheus_parse::Scrape::parse(lines).unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    let find = |metric: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {metric} {labels:?} in:\n{text}"))
    };
    use prometheus_parse::Value;
    let ok = find("paastis_requests_total", &[("app", "hello"), ("status", "200")]);
    assert!(matches!(ok.value, Value::Counter(n) if n == 2.0), "{:?}", ok.value);
    assert!(matches!(find("paastis_requests_total", &[("app", "hello"), ("status", "404")]).value, Value::Counter(_)));
    assert!(matches!(find("paastis_requests_total", &[("app", "-"), ("status", "404")]).value, Value::Counter(_)));
    let wakes = find("paastis_wake_duration_seconds", &[("app", "hello")]);
    assert!(matches!(&wakes.value, Value::Histogram(buckets) if !buckets.is_empty()), "{:?}", wakes.value);
    let calls = find("paastis_policy_call_duration_seconds", &[("phase", "request")]);
    assert!(matches!(&calls.value, Value::Histogram(_)), "{:?}", calls.value);
    // The armed policy fails on the armed request and on ticks; either phase counts.
    let failures = find("paastis_policy_failures_total", &[("policy", "armed")]);
    assert!(matches!(failures.value, Value::Counter(n) if n >= 1.0), "{:?}", failures.value);
    let awake = find("paastis_apps", &[("state", "awake")]);
    assert!(matches!(awake.value, Value::Gauge(n) if n == 1.0), "{:?}", awake.value);
    let asleep = find("paastis_apps", &[("state", "asleep")]);
    assert!(matches!(asleep.value, Value::Gauge(n) if n == 1.0), "{:?}", asleep.value);
    for family in [
        "paastis_requests_total",
        "paastis_wake_duration_seconds",
        "paastis_policy_call_duration_seconds",
        "paastis_policy_failures_total",
        "paastis_apps",
    ] {
        assert!(scrape.docs.contains_key(family), "no HELP for {family}");
    }

    // A scraper that asks for OpenMetrics gets it.
    let request = gateway
        .admin()
        .builder(http::Method::GET, "/metrics")
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .body(crate::support::client::empty())
        .unwrap();
    let open = gateway.admin().send(request).await;
    assert!(open.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(open.text().ends_with("# EOF\n"));
}

/// An event is on disk once `/events` shows it (the recorder flushes each
/// batch before it moves on), so `kill -9` right after loses none of them.
pub async fn events_shown_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let builder = || GatewayBuilder::new().data_dir(data.path()).app(AppBuilder::new("hello"));
    let gateway = builder().spawn().await;
    let admin = gateway.admin();
    assert_eq!(admin.post("/apps/hello/wake").await.status, 200);
    assert_eq!(admin.post("/apps/hello/sleep").await.status, 200);
    let shown = admin.events().await;
    assert_eq!(shown.first().map(|e| e["kind"].clone()), Some(serde_json::json!("slept")), "{shown:?}");
    gateway.kill9().await;

    let gateway = builder().spawn().await;
    let kept = gateway.admin().events().await;
    for event in &shown {
        assert!(kept.contains(event), "lost by kill -9: {event}; kept: {kept:?}");
    }
}

/// An admin port already in use: the error is said once, no "listening"
/// comes before it, and the failed start leaves nothing in the event history
/// (the next start's history begins with what that start loaded).
pub async fn a_failed_start_says_why_once_and_records_nothing() {
    let data = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let builder = || GatewayBuilder::new().data_dir(data.path()).app(AppBuilder::new("hello"));
    let output = builder()
        .admin_key("listen", &format!("\"{}\"", taken.local_addr().unwrap()))
        .serve_to_exit(Duration::from_secs(30))
        .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.matches("in use").count(), 1, "said once: {stderr}");
    assert!(stderr.contains("for the admin API"), "{stderr}");
    assert!(!stderr.contains("listening"), "nothing listens: {stderr}");
    drop(taken);

    let gateway = builder().spawn().await;
    let events = gateway.admin().events().await;
    let loaded = events.iter().filter(|e| e["kind"] == "policy_loaded").count();
    assert_eq!(loaded, 1, "only this start's built-in policy: {events:?}");
}
