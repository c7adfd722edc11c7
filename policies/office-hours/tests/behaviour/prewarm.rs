//! Monday 2024-06-17 opens at 08:00 in Paris; the last close was Friday
//! 19:00. With `idle_timeout = "15m"`, the apps awake at that close are those
//! used from 18:45 on.

use crate::*;

const FRIDAY_CLOSE: &str = "2024-06-14T19:00:00+02:00";

fn prewarmed(name: &str) -> AppBuilder {
    paris(name).param("prewarm", "15m")
}

fn asleep_since_close_after(app: AppBuilder, last_use: &str) -> AppBuilder {
    app.asleep_since(at("2024-06-14T19:05:00+02:00")).last_activity(at(last_use))
}

#[test]
fn wakes_the_apps_awake_at_the_last_close_prewarm_before_opening() {
    let now = at("2024-06-17T07:45:00+02:00");
    let apps = vec![
        asleep_since_close_after(prewarmed("used-at-close"), "2024-06-14T18:58:00+02:00"),
        asleep_since_close_after(prewarmed("edge"), "2024-06-14T18:45:00+02:00"),
        asleep_since_close_after(prewarmed("used-earlier"), "2024-06-14T18:44:59+02:00"),
        prewarmed("never-used").asleep_since(at("2024-06-01T00:00:00Z")),
        prewarmed("used-saturday")
            .asleep_since(at("2024-06-15T11:00:00+02:00"))
            .last_activity(at("2024-06-15T10:59:00+02:00")),
        asleep_since_close_after(paris("no-prewarm"), "2024-06-14T18:58:00+02:00"),
    ];
    let plan = tick(now, apps);
    assert_eq!(plan.wake, names(&["used-at-close", "edge", "used-saturday"]));
    assert!(plan.sleep.is_empty());
}

#[test]
fn not_before_the_window() {
    let now = at("2024-06-17T07:44:59+02:00");
    let app = asleep_since_close_after(prewarmed("web"), "2024-06-14T18:58:00+02:00");
    assert!(tick(now, vec![app]).is_empty());
}

#[test]
fn a_prewarmed_app_stays_awake_until_the_opening_and_a_while_after() {
    let woke = at("2024-06-17T07:45:00+02:00");
    let app = || prewarmed("web").awake_since(woke).last_activity(at("2024-06-14T18:58:00+02:00"));
    // Off-hours with a one-minute idle timeout, but in the prewarm window.
    assert!(tick(at("2024-06-17T07:55:00+02:00"), vec![app()]).is_empty());
    assert!(tick(at("2024-06-17T08:14:00+02:00"), vec![app()]).is_empty());
    // Unused, it sleeps one idle timeout after the opening...
    assert_eq!(tick(at("2024-06-17T08:15:00+02:00"), vec![app()]).sleep, names(&["web"]));
    // ...and is not prewarmed the next morning, as it was not awake at the
    // close in between.
    let tuesday = at("2024-06-18T07:50:00+02:00");
    let slept =
        prewarmed("web").asleep_since(at("2024-06-17T08:15:00+02:00")).last_activity(at(FRIDAY_CLOSE) - mins(2));
    assert!(tick(tuesday, vec![slept]).is_empty());
}

#[test]
fn works_with_refuse_mode_and_only_wakes_sleeping_apps() {
    let now = at("2024-06-17T07:30:00+02:00");
    let refusing = |name: &str| prewarmed(name).param("off_hours", "refuse").param("prewarm", "1h");
    let apps = vec![
        asleep_since_close_after(refusing("asleep"), "2024-06-14T18:58:00+02:00"),
        refusing("awake").awake_since(at("2024-06-17T07:00:00+02:00")).last_activity(at("2024-06-14T18:58:00+02:00")),
        refusing("stopping").stopping_since(now).last_activity(at("2024-06-14T18:58:00+02:00")),
        asleep_since_close_after(refusing("cold"), "2024-06-14T12:00:00+02:00"),
    ];
    let plan = tick(now, apps);
    assert_eq!(plan.wake, names(&["asleep"]));
    assert!(plan.sleep.is_empty(), "a prewarmed app is not slept in the window: {plan:?}");
    // Requests are still refused until the opening.
    assert!(matches!(get(now, refusing("awake")), Decision::Refuse(_)));
}
