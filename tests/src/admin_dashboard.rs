//! The dashboard in a real headless Chromium: it shows the apps, their
//! state and the savings, lists events, and its wake button wakes an app.

use crate::support::browser::Browser;
use crate::support::{AppBuilder, GatewayBuilder};
use fantoccini::{Client, Locator};
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
