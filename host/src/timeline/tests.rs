use super::*;
use crate::savings::Rates;
use crate::telemetry::{Event, EventKind};

const H: u64 = 3600 * 1000;
const DAY: u64 = 24 * H;
/// 2026-03-10T00:00:00Z, a Tuesday.
const MIDNIGHT: u64 = 1_773_100_800_000;

fn event(at: u64, kind: EventKind) -> Event {
    Event { at, app: Some("app".into()), kind }
}
fn woken(at: u64, wake_ms: f64) -> Event {
    event(at, EventKind::Woken { wake_ms, cause: Some(WakeCause::Admin) })
}
fn slept(at: u64) -> Event {
    event(at, EventKind::Slept { reason: "policy".into() })
}
fn asleep_since(since: u64) -> Live {
    Live { state: AppState::Asleep, since }
}
fn complete_from(from: u64) -> Coverage {
    Coverage { from: Some(from), trimmed: false }
}
/// The bands as (from, to, state), relative to `origin`, in hours.
fn shape(timeline: &Timeline, origin: u64) -> Vec<(f64, f64, BandState)> {
    let hours = |t: u64| (t as f64 - origin as f64) / H as f64;
    timeline.bands.iter().map(|b| (hours(b.from), hours(b.to), b.state)).collect()
}
fn rates() -> Rates {
    Rates { hourly_cost: 0.5, currency: "EUR".into(), containers: 2, container_watts: 10.0, grid_gco2_per_kwh: 100.0 }
}

#[test]
fn wakes_and_sleeps_become_bands_with_their_reasons() {
    let now = MIDNIGHT + 24 * H;
    let events = [woken(MIDNIGHT + 8 * H, 1500.0), slept(MIDNIGHT + 18 * H)];
    let window = Window { from: MIDNIGHT, to: now };
    let t = build(&events, asleep_since(MIDNIGHT + 18 * H), &complete_from(MIDNIGHT - DAY), window);
    let wake_start = 8.0 - 1.5 / 3600.0;
    assert_eq!(
        shape(&t, MIDNIGHT),
        [
            (0.0, wake_start, BandState::Asleep),
            (wake_start, 8.0, BandState::Starting),
            (8.0, 18.0, BandState::Awake),
            (18.0, 24.0, BandState::Asleep)
        ]
    );
    assert_eq!(t.bands[0].why, None, "the state before the first event is inferred, its cause unknown");
    assert_eq!(t.bands[1].why.as_deref(), Some("waking for admin API"));
    assert_eq!(t.bands[2].why.as_deref(), Some("woken by admin API in 1.5 s"));
    assert_eq!(t.bands[3].why.as_deref(), Some("put to sleep (policy)"));
    assert_eq!(t.wakes.len(), 1);
    let wake = &t.wakes[0];
    assert!(wake.ok);
    assert_eq!((wake.started, wake.at, wake.wake_ms), (MIDNIGHT + 8 * H - 1500, MIDNIGHT + 8 * H, Some(1500.0)));
    assert_eq!(wake.cause, Some(WakeCause::Admin));
}

#[test]
fn an_app_woken_before_the_window_is_awake_from_its_start() {
    // Its last event before the last day was a wake, two days ago.
    let now = MIDNIGHT + 7 * DAY;
    let window = Window { from: now - DAY, to: now };
    let events = [slept(now - 3 * DAY), woken(now - 2 * DAY, 800.0)];
    let live = Live { state: AppState::Awake, since: now - 2 * DAY };
    let t = build(&events, live, &complete_from(now - 3 * DAY), window);
    assert_eq!(shape(&t, now - DAY), [(0.0, 24.0, BandState::Awake)]);
    assert_eq!(t.bands[0].why.as_deref(), Some("woken by admin API in 800 ms"), "the wake that began it");
    assert!(t.wakes.is_empty(), "the wake happened before the window: {:?}", t.wakes);
    // Put to sleep since, with no event (a restart that found it stopped):
    // awake until the live state began, asleep after.
    let restarted = Live { state: AppState::Asleep, since: now - 6 * H };
    let t = build(&events, restarted, &complete_from(now - 3 * DAY), window);
    assert_eq!(shape(&t, now - DAY), [(0.0, 18.0, BandState::Awake), (18.0, 24.0, BandState::Asleep)]);
}

#[test]
fn a_failed_wake_is_a_red_mark_and_a_short_waking_band_between_sleeps() {
    let now = MIDNIGHT + 12 * H;
    let failed = event(
        MIDNIGHT + 6 * H,
        EventKind::WakeFailed {
            reason: "exited with status 1".into(),
            output: vec!["Error: DATABASE_URL is not set".into()],
            wake_ms: Some(30_000.0),
            cause: Some(WakeCause::Policy { policy: "office-hours".into() }),
        },
    );
    // An older record has no duration: a mark without a waking band.
    let old_failed = event(
        MIDNIGHT + 9 * H,
        EventKind::WakeFailed { reason: "timeout".into(), output: Vec::new(), wake_ms: None, cause: None },
    );
    let window = Window { from: MIDNIGHT, to: now };
    let t = build(&[failed, old_failed], asleep_since(MIDNIGHT + 9 * H), &complete_from(0), window);
    let start = 6.0 - 30.0 / 3600.0;
    assert_eq!(
        shape(&t, MIDNIGHT),
        [
            (0.0, start, BandState::Asleep),
            (start, 6.0, BandState::Starting),
            (6.0, 9.0, BandState::Asleep),
            (9.0, 12.0, BandState::Asleep)
        ]
    );
    assert_eq!(t.bands[2].why.as_deref(), Some("wake failed: exited with status 1"));
    assert_eq!(t.bands[3].why.as_deref(), Some("wake failed: timeout"), "each failure explains what follows it");
    assert_eq!(t.wakes.iter().map(|w| (w.ok, w.wake_ms)).collect::<Vec<_>>(), [(false, Some(30_000.0)), (false, None)]);
    assert_eq!(t.wakes[1].started, t.wakes[1].at);
    assert_eq!(t.wakes[0].reason.as_deref(), Some("exited with status 1"));
    assert_eq!(t.wakes[0].output, ["Error: DATABASE_URL is not set"], "the app's last words");
    // Waking is billed: the failed half-minute counts awake.
    let day = &days(now, 1, 0)[0];
    let per_day = savings_per_day(std::slice::from_ref(day), [(&rates(), t.bands.as_slice())]);
    assert!((per_day[0].savings.hours_awake - 30.0 / 3600.0).abs() < 1e-9, "{per_day:?}");
}

#[test]
fn an_app_asleep_across_midnight_saves_on_both_days() {
    // Asleep from 22:00 on the 10th to 06:00 on the 11th, awake otherwise.
    let now = MIDNIGHT + DAY + 12 * H;
    let events = [slept(MIDNIGHT + 22 * H), woken(MIDNIGHT + DAY + 6 * H, 0.0), slept(MIDNIGHT + DAY + 12 * H)];
    let window = Window { from: MIDNIGHT, to: now };
    let live = Live { state: AppState::Asleep, since: now };
    let t = build(&events, live, &complete_from(MIDNIGHT - 1), window);
    let per_day = savings_per_day(&days(now, 2, 0), [(&rates(), t.bands.as_slice())]);
    let summary: Vec<_> =
        per_day.iter().map(|d| (d.day.date.as_str(), d.savings.hours_asleep, d.savings.hours_awake)).collect();
    assert_eq!(summary, [("2026-03-10", 2.0, 22.0), ("2026-03-11", 6.0, 6.0)]);
    // 6 h × 0.5 €; 6 h × 2 containers × 10 W = 0.12 kWh; × 100 g/kWh = 12 g.
    let today = &per_day[1].savings;
    assert!((today.cost_saved - 3.0).abs() < 1e-9 && (today.energy_saved_kwh - 0.12).abs() < 1e-9);
    assert!((today.co2_saved_g - 12.0).abs() < 1e-9);
    assert_eq!(per_day[1].day.to, now, "today ends now");
}

#[test]
fn days_are_cut_at_the_viewers_midnight() {
    // 01:30 UTC on the 11th is 03:30 in Paris (UTC+2) and 20:30 on the 10th in New York (UTC-5).
    let now = MIDNIGHT + DAY + 90 * 60 * 1000;
    let paris = days(now, 2, 120);
    assert_eq!(paris.iter().map(|d| d.date.as_str()).collect::<Vec<_>>(), ["2026-03-10", "2026-03-11"]);
    assert_eq!(paris[1].from, MIDNIGHT + DAY - 2 * H);
    let new_york = days(now, 1, -300);
    assert_eq!(new_york[0].date, "2026-03-10");
    assert_eq!(new_york[0].from, MIDNIGHT + 5 * H);
    assert_eq!(new_york[0].to, now);
}

#[test]
fn a_history_that_begins_mid_window_is_unknown_before_it() {
    let now = MIDNIGHT + 24 * H;
    let began = MIDNIGHT + 10 * H;
    let events = [woken(MIDNIGHT + 12 * H, 0.0)];
    let live = Live { state: AppState::Awake, since: MIDNIGHT + 12 * H };
    let t = build(&events, live, &complete_from(began), Window { from: MIDNIGHT, to: now });
    assert_eq!(
        shape(&t, MIDNIGHT),
        [(0.0, 10.0, BandState::Unknown), (10.0, 12.0, BandState::Asleep), (12.0, 24.0, BandState::Awake)]
    );
    assert_eq!(t.bands[0].why.as_deref(), Some("before the event history begins"));
    // The unknown hours count neither way.
    let per_day = savings_per_day(&days(now - 1, 1, 0), [(&rates(), t.bands.as_slice())]);
    assert_eq!(per_day[0].hours_unknown, 10.0);
    assert_eq!(per_day[0].savings.hours_asleep, 2.0);
}

#[test]
fn a_history_trimmed_by_retention_says_so() {
    let now = MIDNIGHT + 24 * H;
    let coverage = Coverage { from: Some(MIDNIGHT + 3 * H), trimmed: true };
    let t = build(
        &[slept(MIDNIGHT + 5 * H)],
        asleep_since(MIDNIGHT + 5 * H),
        &coverage,
        Window { from: MIDNIGHT, to: now },
    );
    assert_eq!(
        shape(&t, MIDNIGHT),
        [(0.0, 3.0, BandState::Unknown), (3.0, 5.0, BandState::Awake), (5.0, 24.0, BandState::Asleep)]
    );
    assert_eq!(t.bands[0].why.as_deref(), Some("older events were dropped (admin.event_retention)"));
}

#[test]
fn an_app_without_events_is_in_its_live_state_since_it_entered_it() {
    let now = MIDNIGHT + 24 * H;
    let window = Window { from: MIDNIGHT, to: now };
    let quiet = build(&[], asleep_since(MIDNIGHT - DAY), &complete_from(MIDNIGHT - 2 * DAY), window);
    assert_eq!(shape(&quiet, MIDNIGHT), [(0.0, 24.0, BandState::Asleep)]);
    // Asleep since a restart with nothing recorded before: unknown until then.
    let restarted = build(&[], asleep_since(MIDNIGHT + 20 * H), &complete_from(MIDNIGHT - DAY), window);
    assert_eq!(shape(&restarted, MIDNIGHT), [(0.0, 20.0, BandState::Unknown), (20.0, 24.0, BandState::Asleep)]);
    assert_eq!(restarted.bands[0].why.as_deref(), Some("no event about this app before this"));
    // An empty history: only the live state is known.
    let fresh = build(&[], asleep_since(MIDNIGHT + 23 * H), &Coverage::default(), window);
    assert_eq!(shape(&fresh, MIDNIGHT), [(0.0, 23.0, BandState::Unknown), (23.0, 24.0, BandState::Asleep)]);
    assert_eq!(fresh.bands[0].why.as_deref(), Some("no event history yet"));
}

#[test]
fn events_that_cannot_follow_each_other_leave_the_time_between_unknown() {
    // Woken twice with no sleep between: the gateway died in between.
    let now = MIDNIGHT + 24 * H;
    let events = [woken(MIDNIGHT + 2 * H, 0.0), woken(MIDNIGHT + 10 * H, 0.0)];
    let live = Live { state: AppState::Awake, since: MIDNIGHT + 10 * H };
    let t = build(&events, live, &complete_from(0), Window { from: MIDNIGHT, to: now });
    assert_eq!(
        shape(&t, MIDNIGHT),
        [(0.0, 2.0, BandState::Asleep), (2.0, 10.0, BandState::Unknown), (10.0, 24.0, BandState::Awake)]
    );
}

#[test]
fn a_discovered_app_is_unknown_before_and_the_live_wake_shows_as_waking() {
    let now = MIDNIGHT + 24 * H;
    let found = event(MIDNIGHT + 4 * H, EventKind::Discovered { backend: "scalingo".into() });
    let adopted = event(MIDNIGHT + 5 * H, EventKind::Adopted {});
    let outside = event(MIDNIGHT + 7 * H, EventKind::StoppedOutside {});
    let live = Live { state: AppState::Starting, since: now - H };
    let t = build(&[found, adopted, outside], live, &complete_from(0), Window { from: MIDNIGHT, to: now });
    assert_eq!(
        shape(&t, MIDNIGHT),
        [
            (0.0, 4.0, BandState::Unknown),
            (4.0, 5.0, BandState::Asleep),
            (5.0, 7.0, BandState::Awake),
            (7.0, 23.0, BandState::Asleep),
            (23.0, 24.0, BandState::Starting)
        ]
    );
    assert_eq!(t.bands[0].why.as_deref(), Some("not yet discovered"));
    assert_eq!(t.bands[2].why.as_deref(), Some("found running by discovery"));
}

#[test]
fn the_window_cuts_bands_and_keeps_only_its_wakes() {
    let now = MIDNIGHT + 7 * DAY;
    let events = [woken(MIDNIGHT + H, 0.0), slept(MIDNIGHT + 2 * H), woken(now - 3 * H, 2000.0)];
    let live = Live { state: AppState::Awake, since: now - 3 * H };
    let t = build(&events, live, &complete_from(0), Window { from: now - DAY, to: now });
    assert_eq!(shape(&t, now - DAY).first().map(|b| (b.0, b.2)), Some((0.0, BandState::Asleep)));
    assert_eq!(t.bands.last().map(|b| b.to), Some(now));
    assert_eq!(t.wakes.len(), 1, "only the wake within the last day");
    for pair in t.bands.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "no gaps: {:?}", t.bands);
    }
}

#[tokio::test]
async fn reading_stops_at_the_window_and_knows_a_trimmed_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open(dir.path()).unwrap();
    let log = store.events(5).await.unwrap();
    let hourly: Vec<Event> = (0..4).map(|h| slept(MIDNIGHT + h * H)).collect();
    log.append(&hourly).await.unwrap();

    let recent = read(&log, MIDNIGHT + 2 * H, 5).await.unwrap();
    assert_eq!(recent.coverage, complete_from(MIDNIGHT + H), "covered from the first event before the window");
    assert_eq!(
        recent.of("app").iter().map(|e| e.at).collect::<Vec<_>>(),
        [MIDNIGHT + H, MIDNIGHT + 2 * H, MIDNIGHT + 3 * H],
        "with the last event before the window, which tells the state at its start"
    );
    assert!(recent.of("other").is_empty());

    let all = read(&log, 0, 5).await.unwrap();
    assert_eq!(all.coverage, complete_from(MIDNIGHT), "the history begins at its first event");
    log.append(&[slept(MIDNIGHT + 4 * H), slept(MIDNIGHT + 5 * H)]).await.unwrap();
    let trimmed = read(&log, 0, 5).await.unwrap();
    assert_eq!(trimmed.coverage, Coverage { from: Some(MIDNIGHT + H), trimmed: true });
}
