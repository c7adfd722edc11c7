use crate::*;

#[test]
fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
    // Friday 07:30 UTC: 09:30 in Paris, 16:30 in Tokyo, 03:30 in New York.
    let now = at("2024-06-14T07:30:00Z");
    let app = |name: &str, zone: &str| awake_idle(AppBuilder::new(name), now, mins(5)).param("timezone", zone);
    let plan = tick(
        now,
        vec![
            app("paris", "Europe/Paris"),
            app("tokyo", "Asia/Tokyo"),
            app("new-york", "America/New_York"),
            app("utc", "UTC"),
        ],
    );
    // Five idle minutes put an app to sleep off-hours only (UTC opens at 08:00).
    assert_eq!(plan.sleep, names(&["new-york", "utc"]));
    assert!(plan.wake.is_empty());
}

#[test]
fn the_default_zone_is_utc() {
    let now = at("2024-06-14T07:59:00Z");
    let plan = tick(now, vec![awake_idle(AppBuilder::new("web"), now, mins(5))]);
    assert_eq!(plan.sleep, names(&["web"]));
    let now = at("2024-06-14T08:00:00Z");
    assert!(tick(now, vec![awake_idle(AppBuilder::new("web"), now, mins(5))]).is_empty());
}

#[test]
fn refusals_speak_the_apps_zone() {
    // Saturday 11:00 in Tokyo, Friday 19:00 in Los Angeles.
    let now = at("2024-06-15T02:00:00Z");
    let refusing = |zone: &str| AppBuilder::new("web").param("timezone", zone).param("off_hours", "refuse");
    let Decision::Refuse(tokyo) = get(now, refusing("asia/tokyo")) else { panic!("Tokyo is closed on Saturday") };
    assert_eq!(tokyo.reason, "closed until Mon 08:00 (Asia/Tokyo)");
    let Decision::Refuse(la) = get(now, refusing("America/Los_Angeles")) else { panic!("LA closed at 19:00") };
    assert_eq!(la.reason, "closed until Mon 08:00 (America/Los_Angeles)");
    // Friday 19:00 UTC = 12:00 in LA: open.
    assert_eq!(get(at("2024-06-14T19:00:00Z"), refusing("America/Los_Angeles")), Decision::Forward);
}
