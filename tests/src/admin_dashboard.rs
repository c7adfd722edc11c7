//! The dashboard in a real headless Chromium: it shows the apps, their
//! state and the savings, lists events, and its wake button wakes an app;
//! it draws the timeline of a known history and the savings per day; it
//! stays usable with 200 apps and 10,000 events.
//!
//! Screenshots of the timelines are left in `target/tmp/admin_dashboard/`
//! (`CARGO_TARGET_TMPDIR`) for a person to look at; the test prints the path.

use crate::support::browser::Browser;
use crate::support::history::{HOUR_MS, History, policy, request};
use crate::support::{AppBuilder, GatewayBuilder};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, Locator};
use paastis::testing::EventKind;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The text of the first element matching `css`, once it is `wanted`.
async fn until_text(browser: &Client, css: &str, wanted: impl Fn(&str) -> bool, what: &str) -> String {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(element) = browser.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && wanted(&text)
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    match found {
        Ok(text) => text,
        Err(_) => {
            let page = browser.source().await.unwrap_or_default();
            panic!("the dashboard never showed {what} ({css}); page:\n{page}")
        }
    }
}

pub async fn the_dashboard_shows_apps_savings_events_and_wakes_an_app() {
    let gateway = GatewayBuilder::new()
        .edge("failed_wake_backoff", "\"1h\"")
        .edge("failed_wake_backoff_max", "\"1h\"")
        .app(AppBuilder::new("hello"))
        .app(AppBuilder::new("other"))
        .app(AppBuilder::new("broken").command(&["/bin/sh", "-c", "exit 3"]))
        .spawn()
        .await;
    // Some history to show: other wakes through the proxy, broken fails to.
    assert_eq!(gateway.client().get("other.localhost", "/").await.status, 200);
    assert_eq!(gateway.client().get("broken.localhost", "/").await.status, 503);
    let browser = Browser::start().await;
    let page = format!("http://{}/", gateway.admin.expect("admin listener"));
    browser.client.goto(&page).await.expect("load the dashboard");
    assert_eq!(browser.client.title().await.unwrap(), "Paastis");

    until_text(&browser.client, "#app-hello .state", |t| t == "asleep", "hello asleep").await;
    until_text(&browser.client, "#app-other .state", |t| t == "awake", "other awake").await;
    let activity = until_text(&browser.client, "#app-other .activity", |t| t.contains("ago"), "activity").await;
    assert!(activity.ends_with("ago"), "{activity}");
    until_text(&browser.client, "#total-cost", |t| t.contains("€"), "money saved").await;
    until_text(&browser.client, "#total-co2", |t| t.ends_with(" g"), "CO2 avoided").await;
    until_text(&browser.client, "#events li[data-kind='woken']", |t| t.contains("other"), "other's wake").await;

    // The cool-down after broken's failed wake, with its reason.
    let cooling =
        until_text(&browser.client, "#app-broken .state", |t| t.contains("next try in"), "broken cooling down").await;
    assert!(cooling.contains("failed 1×") && cooling.contains("exit status: 3"), "{cooling}");

    let wake = browser.client.find(Locator::Css("#wake-hello")).await.expect("wake button");
    wake.click().await.expect("click wake");
    until_text(&browser.client, "#app-hello .state", |t| t == "awake", "hello awake after the click").await;
    until_text(&browser.client, "#events li[data-kind='woken']", |t| t.contains("hello"), "hello's wake").await;
    assert_eq!(gateway.admin().app("hello").await["state"], "awake", "really woken");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);

    let sleep = browser.client.find(Locator::Css("#sleep-hello")).await.expect("sleep button");
    sleep.click().await.expect("click sleep");
    until_text(&browser.client, "#app-hello .state", |t| t == "asleep", "hello asleep after the click").await;
    browser.close().await;
}

/// The bands of a timeline as the page drew them.
#[derive(Debug)]
struct DrawnBand {
    state: String,
    from: u64,
    to: u64,
    x: f64,
    width: f64,
}

async fn drawn_bands(browser: &Client, app: &str) -> (Vec<DrawnBand>, f64) {
    let script = "const svg = document.querySelector(arguments[0]);
        if (!svg) return null;
        return { width: +svg.getAttribute('width'), bands: [...svg.querySelectorAll('rect.band')].map(r => [
            r.dataset.state, +r.dataset.from, +r.dataset.to, +r.getAttribute('x'), +r.getAttribute('width')]) };";
    let css = format!("#app-{app} td.timeline-cell svg");
    let found = browser.execute(script, vec![json!(css)]).await.expect("read the timeline");
    let width = found["width"].as_f64().unwrap_or(0.0);
    let bands = found["bands"].as_array().cloned().unwrap_or_default();
    let bands = bands
        .iter()
        .map(|b| DrawnBand {
            state: b[0].as_str().unwrap_or("").to_owned(),
            from: b[1].as_u64().unwrap_or(0),
            to: b[2].as_u64().unwrap_or(0),
            x: b[3].as_f64().unwrap_or(-1.0),
            width: b[4].as_f64().unwrap_or(-1.0),
        })
        .collect();
    (bands, width)
}

/// Waits until the timeline of `app` has bands that satisfy `done`.
async fn until_bands(browser: &Client, app: &str, done: impl Fn(&[DrawnBand]) -> bool) -> (Vec<DrawnBand>, f64) {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let (bands, width) = drawn_bands(browser, app).await;
            if !bands.is_empty() && done(&bands) {
                return (bands, width);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    match found {
        Ok(found) => found,
        Err(_) => {
            panic!("the timeline of {app} never showed what was expected: {:?}", drawn_bands(browser, app).await.0)
        }
    }
}

/// Hovers `css` with the mouse and returns the tooltip it shows, once it
/// mentions `about`.
async fn hover_tip(browser: &Client, css: &str, about: &str) -> String {
    let element = browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element,
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    browser.perform_actions(hover).await.expect("hover");
    until_text(browser, "#tip:not([hidden])", |t| t.contains(about), about).await
}

fn screenshot_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin_dashboard")
}

pub async fn the_timeline_draws_the_bands_of_a_known_history() {
    let dir = tempfile::tempdir().expect("data dir");
    let t0 = paastis::testing::now_ms();
    let h = |hours: u64| t0 - hours * HOUR_MS;
    let browser_ua = "Mozilla/5.0 (X11; Linux x86_64)";
    let failure = "exited with status 1 before answering on /";
    // The history begins 30 h ago; nightly woke three times and failed once
    // in the last day; steady went to sleep 20 h ago.
    History::new()
        .event(
            h(30),
            None,
            EventKind::PolicyLoaded { policy: "inactivity".into(), sha256: "0".repeat(64), origin: "builtin".into() },
        )
        .woken(h(22), "nightly", 1800.0, request("/", browser_ua))
        .slept(h(16), "nightly")
        .wake_failed(
            h(12),
            "nightly",
            30_000.0,
            policy("office-hours"),
            failure,
            &["booting", "Error: DATABASE_URL is not set"],
        )
        .woken(h(9), "nightly", 2400.0, policy("office-hours"))
        .slept(h(5), "nightly")
        .woken(h(3), "nightly", 900.0, request("/health", "UptimeRobot/2.0"))
        .slept(h(1), "nightly")
        .slept(h(20), "steady")
        .write(dir.path(), 10_000)
        .await;
    let gateway = GatewayBuilder::new()
        .data_dir(dir.path())
        .app(AppBuilder::new("nightly"))
        .app(AppBuilder::new("steady"))
        .savings_key("hourly_cost", "0.5")
        .spawn()
        .await;
    // A real wake, whose cause the timeline must show, once it is in the history.
    let woke = paastis::testing::now_ms();
    // The demo app's own 404: the request reached it.
    assert_eq!(gateway.client().get("steady.localhost", "/from-the-test").await.status, 404);
    let admin = gateway.admin();
    crate::support::within(WAIT, "steady's wake in the history", async {
        while !admin.events().await.iter().any(|e| e["kind"] == "woken" && e["app"] == "steady") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("http://{}/", gateway.admin.expect("admin listener")))
        .await
        .expect("load the dashboard");
    let (bands, width) = until_bands(&browser.client, "nightly", |b| b.len() >= 12).await;
    let (from, to) = (bands[0].from, bands[bands.len() - 1].to);
    assert_eq!(to - from, 24 * HOUR_MS, "the last 24 h: {bands:?}");
    assert!(from >= h(24) && from < h(23), "ending now");
    let expected = [
        ("asleep", from, h(22) - 1800),
        ("starting", h(22) - 1800, h(22)),
        ("awake", h(22), h(16)),
        ("asleep", h(16), h(12) - 30_000),
        ("starting", h(12) - 30_000, h(12)),
        ("asleep", h(12), h(9) - 2400),
        ("starting", h(9) - 2400, h(9)),
        ("awake", h(9), h(5)),
        ("asleep", h(5), h(3) - 900),
        ("starting", h(3) - 900, h(3)),
        ("awake", h(3), h(1)),
        ("asleep", h(1), to),
    ];
    let drawn: Vec<(&str, u64, u64)> = bands.iter().map(|b| (b.state.as_str(), b.from, b.to)).collect();
    assert_eq!(drawn, expected, "the bands of the known history");
    // Each band sits where its time is: x = (from - window start) × pixels per ms.
    let scale = width / (to - from) as f64;
    for band in &bands {
        let x = (band.from - from) as f64 * scale;
        assert!((band.x - x).abs() < 0.02, "{band:?} drawn at {} instead of {x}", band.x);
        let w = (band.to - band.from) as f64 * scale;
        assert!(
            (band.width - w.max(if band.state == "starting" { 1.0 } else { 0.0 })).abs() < 0.02,
            "{band:?}: width {w}"
        );
    }
    let marks = browser.client.find_all(Locator::Css("#app-nightly g.wake")).await.expect("wake marks");
    let mut classes = Vec::new();
    for mark in &marks {
        classes.push(mark.attr("class").await.expect("class").unwrap_or_default());
    }
    assert_eq!(classes, ["wake ok", "wake failed", "wake ok", "wake ok"]);

    // Hover: when, why and how long.
    let failed = hover_tip(&browser.client, "#app-nightly g.wake.failed", "Wake failed").await;
    for part in ["Wake failed", "by policy office-hours", "after 30.0 s", failure, "Error: DATABASE_URL is not set"] {
        assert!(failed.contains(part), "{part:?} not in the tooltip {failed:?}");
    }
    let steady_tip = browser.client.find(Locator::Css("#app-steady g.wake.ok")).await.expect("steady's real wake");
    let steady_tip = steady_tip.attr("data-tip").await.expect("tip").unwrap_or_default();
    assert!(steady_tip.contains("by request GET /from-the-test"), "{steady_tip}");
    let monitor = hover_tip(&browser.client, "#app-nightly g.wake:last-of-type", "UptimeRobot").await;
    for part in ["Woken", "by request GET /health (UptimeRobot/2.0)", "took 900 ms"] {
        assert!(monitor.contains(part), "{part:?} not in the tooltip {monitor:?}");
    }
    let screenshot = browser.client.screenshot().await.expect("screenshot");
    std::fs::create_dir_all(screenshot_dir()).expect("screenshot dir");
    let shot = screenshot_dir().join("timeline-24h.png");
    std::fs::write(&shot, screenshot).expect("write the screenshot");
    eprintln!("dashboard screenshot: {}", shot.display());

    // Savings per day: the bars add up to the known hours asleep.
    let metric = browser.client.find(Locator::Css("button[data-metric='hours_asleep']")).await.expect("metric");
    metric.click().await.expect("chart hours asleep");
    let read_bars = "const bars = [...document.querySelectorAll('#daily-chart rect.bar')];
        return bars.length === 7 && document.querySelector('#daily-chart svg').getAttribute('aria-label').startsWith('App-hours')
            ? bars.map(b => +b.dataset.value) : null;";
    let bars = crate::support::within(WAIT, "the chart of hours asleep", async {
        loop {
            let bars = browser.client.execute(read_bars, vec![]).await.expect("read the bars");
            if let Some(bars) = bars.as_array() {
                return bars.iter().filter_map(|b| b.as_f64()).collect::<Vec<f64>>();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let now = paastis::testing::now_ms();
    let ms_to_h = |ms: u64| ms as f64 / HOUR_MS as f64;
    // nightly, asleep from the history's start to 22 h ago and in its gaps; steady since 20 h ago, until the test woke it.
    let nightly = ms_to_h(h(22) - 1800 - h(30))
        + ms_to_h(h(12) - 30_000 - h(16))
        + ms_to_h(h(9) - 2400 - h(12))
        + ms_to_h(h(3) - 900 - h(5))
        + ms_to_h(now - h(1));
    let steady = ms_to_h(woke - h(20));
    let charted: f64 = bars.iter().sum();
    // The chart was fetched a little before `now`.
    assert!((charted - (nightly + steady)).abs() < 0.05, "charted {charted} h asleep, expected {}", nightly + steady);

    // 7 days: the history begins 30 h ago, and says so.
    let week = browser.client.find(Locator::Css("button[data-span='7d']")).await.expect("7-day span");
    week.click().await.expect("switch to 7 days");
    let (bands, _) =
        until_bands(&browser.client, "nightly", |b| b[b.len() - 1].to - b[0].from == 7 * 24 * HOUR_MS).await;
    assert_eq!((bands[0].state.as_str(), bands[0].to), ("unknown", h(30)), "{bands:?}");
    let screenshot = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join("timeline-7d.png"), screenshot).expect("write the screenshot");
    browser.close().await;
}

pub async fn two_hundred_apps_are_sorted_filtered_and_paged() {
    const APPS: usize = 200;
    const EVENTS_PER_APP: u64 = 50;
    let dir = tempfile::tempdir().expect("data dir");
    let now = paastis::testing::now_ms();
    let week = 7 * 24 * HOUR_MS;
    let mut history = History::new();
    let mut gateway = GatewayBuilder::new().data_dir(dir.path());
    for i in 0..APPS as u64 {
        let name = format!("app-{i:03}");
        for k in 0..EVENTS_PER_APP {
            let at = now - week + k * (week / EVENTS_PER_APP) + i * 60_000;
            history = match k % 2 {
                0 => history.woken(at, &name, 500.0 + i as f64, policy("office-hours")),
                _ => history.slept(at, &name),
            };
        }
        gateway = gateway.app(AppBuilder::new(&name));
    }
    history.write(dir.path(), 10_000).await;
    let gateway = gateway.spawn().await;
    let admin = gateway.admin();
    assert_eq!(admin.post("/apps/app-007/wake").await.status, 200);

    let browser = Browser::start().await;
    let page = format!("http://{}/", gateway.admin.expect("admin listener"));
    browser.client.goto(&page).await.expect("load the dashboard");
    until_text(&browser.client, "#page-info", |t| t == "1–50 of 200", "the first page of 200").await;
    let drawn = "return document.querySelectorAll('#apps tbody td.timeline-cell svg').length";
    crate::support::within(WAIT, "50 timelines drawn", async {
        while browser.client.execute(drawn, vec![]).await.expect("count timelines") != json!(50) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let (bands, _) = until_bands(&browser.client, "app-003", |_| true).await;
    assert!(bands.iter().filter(|b| b.state == "awake").count() >= 3, "a day of the seeded history: {bands:?}");

    // Timings of what the page fetched and drew, for the log (not asserted).
    let timings = browser
        .client
        .execute(
            "return performance.getEntriesByType('measure').filter(m => m.name.startsWith('paastis:'))
                .map(m => m.name.slice(8) + ' ' + m.duration.toFixed(1) + ' ms').join(', ')",
            vec![],
        )
        .await
        .expect("read the timings");
    eprintln!(
        "dashboard with {APPS} apps and {} events: {}",
        APPS as u64 * EVENTS_PER_APP,
        timings.as_str().unwrap_or("")
    );

    // Paged, sorted both ways.
    browser.client.find(Locator::Css("#page-next")).await.expect("next").click().await.expect("next page");
    until_text(&browser.client, "#page-info", |t| t == "51–100 of 200", "the second page").await;
    until_text(&browser.client, "#apps tbody tr:first-child td.name", |t| t == "app-050", "app-050 first").await;
    let by_name = browser.client.find(Locator::Css("th[data-sort='name'] button")).await.expect("name header");
    by_name.click().await.expect("sort by name, descending");
    until_text(&browser.client, "#apps tbody tr:first-child td.name", |t| t == "app-149", "app-149 first").await;

    // Filtered by name, then by state.
    let filter = browser.client.find(Locator::Css("#filter-name")).await.expect("name filter");
    filter.send_keys("app-01").await.expect("type a filter");
    until_text(&browser.client, "#page-info", |t| t == "1–10 of 10 (200 in all)", "ten apps named app-01x").await;
    browser.client.goto(&page).await.expect("reload the dashboard");
    let awake = browser.client.find(Locator::Css("#filter-state option[value='awake']")).await.expect("awake option");
    awake.click().await.expect("filter awake apps");
    until_text(&browser.client, "#page-info", |t| t == "1–1 of 1 (200 in all)", "only the app woken").await;
    until_text(&browser.client, "#apps tbody tr:first-child td.name", |t| t == "app-007", "app-007").await;
    browser.close().await;
}

/// Under `server.admin_host`, on the proxy's port with the admin listener
/// off, the page loads without the token, shows no data until it is given,
/// then works as on the admin listener: its API calls carry the token.
pub async fn the_dashboard_under_the_admin_host_asks_for_the_token_then_works() {
    const TOKEN: &str = "dashboard-admin-host-token-9d2";
    let gateway = GatewayBuilder::new()
        .admin_token(TOKEN)
        .admin_key("enabled", "false")
        .server_key("admin_host", "\"paastis.localhost\"")
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let browser = Browser::start().await;
    // Chromium resolves every *.localhost name to loopback itself.
    let page = format!("http://paastis.localhost:{}/", gateway.addr.port());
    browser.client.goto(&page).await.expect("load the dashboard");
    assert_eq!(browser.client.title().await.unwrap(), "Paastis");
    let login = browser.client.find(Locator::Css("#login")).await.expect("the token form");
    let asked = tokio::time::timeout(WAIT, async {
        while !login.is_displayed().await.unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(asked.is_ok(), "the page never asked for the token");
    assert!(browser.client.find(Locator::Css("#app-hello")).await.is_err(), "no data before the token");

    let field = browser.client.find(Locator::Css("#token")).await.expect("token field");
    field.send_keys(TOKEN).await.expect("type the token");
    let submit = browser.client.find(Locator::Css("#login button")).await.expect("submit button");
    submit.click().await.expect("submit the token");
    until_text(&browser.client, "#app-hello .state", |t| t == "asleep", "hello asleep").await;
    let wake = browser.client.find(Locator::Css("#wake-hello")).await.expect("wake button");
    wake.click().await.expect("click wake");
    until_text(&browser.client, "#app-hello .state", |t| t == "awake", "hello awake after the click").await;
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);
    browser.close().await;
}
