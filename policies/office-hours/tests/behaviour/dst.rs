//! Europe/Paris springs forward on Sunday 2024-03-31 (02:00 -> 03:00) and
//! falls back on Sunday 2024-10-27 (03:00 -> 02:00).

use crate::*;

fn every_day(name: &str) -> AppBuilder {
    paris(name).param("days", "Mon-Sun").param("off_hours", "refuse")
}

#[test]
fn opens_at_eight_local_on_the_spring_forward_day() {
    assert!(matches!(get(at("2024-03-31T07:59:59+02:00"), every_day("web")), Decision::Refuse(_)));
    assert_eq!(get(at("2024-03-31T08:00:00+02:00"), every_day("web")), Decision::Forward);
    // 08:00 at the winter offset would be 09:00 local, already open; the
    // instant that matters is 06:00 UTC, not 07:00.
    assert_eq!(get(at("2024-03-31T06:00:00Z"), every_day("web")), Decision::Forward);
}

#[test]
fn opens_at_eight_local_on_the_fall_back_day() {
    assert!(matches!(get(at("2024-10-27T07:59:59+01:00"), every_day("web")), Decision::Refuse(_)));
    // 08:00 summer time would be 07:00 local on that day: still closed.
    assert!(matches!(get(at("2024-10-27T06:00:00Z"), every_day("web")), Decision::Refuse(_)));
    assert_eq!(get(at("2024-10-27T08:00:00+01:00"), every_day("web")), Decision::Forward);
}

#[test]
fn retry_after_counts_the_short_night() {
    // Saturday 20:00 (+01:00) to Sunday 08:00 (+02:00) is 11 hours, not 12.
    let Decision::Refuse(r) = get(at("2024-03-30T20:00:00+01:00"), every_day("web")) else { panic!("closed") };
    assert_eq!((r.reason.as_str(), r.retry_after_secs), ("closed until Sun 08:00 (Europe/Paris)", Some(11 * 3600)));
    // And the long one in autumn: 13 hours.
    let Decision::Refuse(r) = get(at("2024-10-26T20:00:00+02:00"), every_day("web")) else { panic!("closed") };
    assert_eq!(r.retry_after_secs, Some(13 * 3600));
}

#[test]
fn a_working_week_across_the_change_opens_at_eight_on_monday() {
    let friday_night = at("2024-03-29T20:00:00+01:00");
    let Decision::Refuse(r) = get(friday_night, paris("web").param("off_hours", "refuse")) else { panic!("closed") };
    assert_eq!(r.reason, "closed until Mon 08:00 (Europe/Paris)");
    // Friday 20:00 +01:00 to Monday 08:00 +02:00: 60 hours less the lost one.
    assert_eq!(r.retry_after_secs, Some(59 * 3600));
}

#[test]
fn the_sleep_mode_tick_follows_the_local_clock_too() {
    // Monday after the spring change, 07:30 local: off-hours, a 5-minute
    // idle app sleeps; at 08:30 local it is within the 15-minute timeout.
    let early = at("2024-04-01T07:30:00+02:00");
    assert_eq!(tick(early, vec![awake_idle(paris("web"), early, mins(5))]).sleep, names(&["web"]));
    let later = at("2024-04-01T08:30:00+02:00");
    assert!(tick(later, vec![awake_idle(paris("web"), later, mins(5))]).is_empty());
}
