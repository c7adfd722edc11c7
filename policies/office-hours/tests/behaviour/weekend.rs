use crate::*;

#[test]
fn friday_evening_to_monday_morning() {
    // Open until 19:00 on Friday: the 15-minute idle timeout applies.
    let before_close = at("2024-06-14T18:59:00+02:00");
    assert!(tick(before_close, vec![awake_idle(paris("web"), before_close, mins(5))]).is_empty());
    // From 19:00, one idle minute is enough.
    let after_close = at("2024-06-14T19:00:00+02:00");
    assert_eq!(tick(after_close, vec![awake_idle(paris("web"), after_close, mins(5))]).sleep, names(&["web"]));
    assert!(tick(after_close, vec![awake_idle(paris("web"), after_close, Duration::from_secs(30))]).is_empty());
    // All weekend long, requests still wake apps in the default mode, and
    // they go back to sleep a minute after.
    let saturday = at("2024-06-15T11:00:00+02:00");
    assert_eq!(get(saturday, paris("web").asleep_since(after_close)), Decision::Forward);
    assert_eq!(tick(saturday, vec![awake_idle(paris("web"), saturday, mins(1))]).sleep, names(&["web"]));
    // Monday 08:00: open again.
    let monday = at("2024-06-17T08:00:00+02:00");
    assert!(tick(monday, vec![awake_idle(paris("web"), monday, mins(5))]).is_empty());
}

#[test]
fn nothing_is_woken_without_prewarm_and_nothing_in_flight_is_slept() {
    let sunday = at("2024-06-16T23:00:00+02:00");
    let apps = vec![
        paris("asleep").asleep_since(sunday - mins(600)).last_activity(sunday - mins(601)),
        awake_idle(paris("streaming"), sunday, mins(120)).in_flight(1),
        paris("starting").starting_since(sunday - mins(2)),
    ];
    assert!(tick(sunday, apps).is_empty());
}

#[test]
fn custom_days_and_overnight_hours() {
    // A night shift: Sun-Thu 22:00 to 06:00 the next morning.
    let night = |name: &str| {
        paris(name).param("days", "Sun-Thu").param("open", "22:00").param("close", "06:00").param("off_hours", "refuse")
    };
    assert_eq!(get(at("2024-06-17T02:00:00+02:00"), night("web")), Decision::Forward); // Sunday night
    assert_eq!(get(at("2024-06-16T23:00:00+02:00"), night("web")), Decision::Forward);
    let Decision::Refuse(r) = get(at("2024-06-14T23:00:00+02:00"), night("web")) else { panic!("Friday is off") };
    assert_eq!(r.reason, "closed until Sun 22:00 (Europe/Paris)");
    let Decision::Refuse(r) = get(at("2024-06-17T12:00:00+02:00"), night("web")) else { panic!("day is off") };
    assert_eq!(r.reason, "closed until Mon 22:00 (Europe/Paris)");
}

#[test]
fn open_equal_to_close_means_around_the_clock_on_those_days() {
    let always = |name: &str| paris(name).param("open", "00:00").param("close", "00:00").param("off_hours", "refuse");
    assert_eq!(get(at("2024-06-14T23:59:00+02:00"), always("web")), Decision::Forward);
    assert!(matches!(get(at("2024-06-15T00:00:00+02:00"), always("web")), Decision::Refuse(_)));
}
