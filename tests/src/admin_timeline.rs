//! The timeline endpoints of the admin API, on a real gateway over a known
//! history: `/apps/{name}/timeline`, `/timelines`, `/savings/daily`, and
//! the causes real wakes record.

use crate::support::history::{HOUR_MS, History};
use crate::support::{AppBuilder, GatewayBuilder};
use paastis::testing::EventKind;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn bands(timeline: &Value) -> Vec<(String, u64, u64)> {
    let bands = timeline["bands"].as_array().cloned().unwrap_or_default();
    bands
        .iter()
        .map(|b| {
            (
                b["state"].as_str().unwrap_or("").to_owned(),
                b["from"].as_u64().unwrap_or(0),
                b["to"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

pub async fn timelines_and_daily_savings_come_from_the_history() {
    let dir = tempfile::tempdir().expect("data dir");
    let t0 = paastis::testing::now_ms();
    let h = |hours: u64| t0 - hours * HOUR_MS;
    History::new()
        .event(
            h(30),
            None,
            EventKind::PolicyLoaded { policy: "inactivity".into(), sha256: "0".repeat(64), origin: "builtin".into() },
        )
        .slept(h(10), "napper")
        .write(dir.path(), 10_000)
        .await;
    let gateway = GatewayBuilder::new()
        .data_dir(dir.path())
        .savings_key("hourly_cost", "1.0")
        .app(AppBuilder::new("napper"))
        .app(AppBuilder::new("other"))
        .spawn()
        .await;
    let admin = gateway.admin();
    let woke = paastis::testing::now_ms();
    assert_eq!(admin.post("/apps/other/wake").await.status, 200);

    // One app: awake until it was put to sleep 10 h ago, asleep since.
    let answer = admin.get("/apps/napper/timeline?span=24h").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let napper = answer.json();
    let (from, to) = (napper["from"].as_u64().unwrap(), napper["to"].as_u64().unwrap());
    assert_eq!(to - from, 24 * HOUR_MS);
    assert_eq!(bands(&napper), [("awake".into(), from, h(10)), ("asleep".into(), h(10), to)]);
    assert_eq!(napper["bands"][1]["why"], "put to sleep (policy)");
    assert_eq!(napper["coverage"], json!({"from": h(30), "trimmed": false}));

    // Several, over a week: before the history is unknown, and says why;
    // the operator's wake is marked with its cause, once recorded.
    let other = crate::support::within(WAIT, "other's wake in its timeline", async {
        loop {
            let answer = admin.get("/timelines?span=7d&apps=other").await;
            assert_eq!(answer.status, 200, "{}", answer.text());
            let all = answer.json();
            if all["apps"][0]["wakes"].as_array().is_some_and(|w| !w.is_empty()) {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(other["apps"].as_array().map(Vec::len), Some(1));
    let timeline = &other["apps"][0];
    assert_eq!(timeline["name"], "other");
    assert_eq!(timeline["bands"][0]["state"], "unknown");
    assert_eq!(timeline["bands"][0]["to"], h(30));
    assert_eq!(timeline["bands"][0]["why"], "before the event history begins");
    let wake = &timeline["wakes"][0];
    assert_eq!(wake["ok"], true);
    assert_eq!(wake["cause"], json!({"by": "admin"}));
    assert!(wake["wake_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{wake}");
    let all = admin.get("/timelines").await.json();
    assert_eq!(all["apps"].as_array().map(Vec::len), Some(2), "every app without `apps`");

    // Per day, priced at 1 an hour: napper asleep for 10 h, other from the
    // first day's start (or the history's) until its wake.
    let daily = admin.get("/savings/daily?days=2&utc_offset_min=0").await;
    assert_eq!(daily.status, 200, "{}", daily.text());
    let daily = daily.json();
    let days = daily["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 2);
    let first = days[0]["from"].as_u64().unwrap();
    assert_eq!(first % (24 * HOUR_MS), 0, "cut at midnight UTC");
    let now = daily["now"].as_u64().unwrap();
    let hours = |ms: u64| ms as f64 / HOUR_MS as f64;
    let expected = hours(now - h(10)) + hours(woke.saturating_sub(first.max(h(30))));
    let asleep = daily["total"]["hours_asleep"].as_f64().unwrap();
    assert!((asleep - expected).abs() < 0.01, "{asleep} h asleep, expected {expected}: {daily}");
    assert!((daily["total"]["cost_saved"].as_f64().unwrap() - asleep).abs() < 1e-6);
    assert_eq!(daily["currency"], "EUR");

    // Bad requests say what is wrong.
    for (path, status) in [
        ("/apps/napper/timeline?span=1s", 400),
        ("/apps/napper/timeline?span=40d", 400),
        ("/apps/napper/timeline?span=soon", 400),
        ("/apps/nobody/timeline", 404),
        ("/timelines?apps=napper,nobody", 404),
        ("/savings/daily?days=0", 400),
        ("/savings/daily?days=93", 400),
        ("/savings/daily?utc_offset_min=900", 400),
    ] {
        let answer = admin.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text());
        assert!(answer.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}");
    }
    let post = admin.post("/savings/daily").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET, HEAD");
}
