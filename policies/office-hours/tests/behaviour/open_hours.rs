use crate::*;

const MONDAY_NOON: &str = "2024-06-17T12:00:00+02:00";

#[test]
fn during_opening_hours_it_behaves_like_inactivity() {
    let now = at(MONDAY_NOON);
    let apps = vec![
        awake_idle(paris("idle"), now, mins(15)),
        awake_idle(paris("recent"), now, mins(14)),
        awake_idle(paris("short"), now, mins(3)).param("idle_timeout", "2m"),
        awake_idle(paris("busy"), now, mins(60)).in_flight(2),
        paris("asleep").asleep_since(now - mins(60)),
    ];
    assert_eq!(tick(now, apps).sleep, names(&["idle", "short"]));
}

#[test]
fn requests_are_forwarded_and_passive_ones_do_not_count() {
    let now = at(MONDAY_NOON);
    let app = || paris("web").param("passive_paths", ["/health"]).param("passive_user_agents", ["UptimeRobot"]);
    assert_eq!(get(now, app()), Decision::Forward);
    assert_eq!(decide(now, app(), RequestBuilder::get("/health")), Ok(Decision::ForwardPassive));
    let monitor = RequestBuilder::get("/").user_agent("Mozilla/5.0 (compatible; UptimeRobot/2.0)");
    assert_eq!(decide(now, app(), monitor), Ok(Decision::ForwardPassive));
    // Off-hours in sleep mode, passive requests stay passive.
    let night = at("2024-06-17T23:00:00+02:00");
    assert_eq!(decide(night, app(), RequestBuilder::get("/health")), Ok(Decision::ForwardPassive));
}

#[test]
fn an_app_awake_at_opening_gets_a_full_idle_timeout() {
    // Last used yesterday evening, woken off-hours at 07:50 (prewarm):
    // not asleep at 08:10, asleep at 08:15.
    let woke = at("2024-06-17T07:50:00+02:00");
    let app = || paris("web").awake_since(woke).last_activity(at("2024-06-14T18:50:00+02:00"));
    assert!(tick(at("2024-06-17T08:14:59+02:00"), vec![app()]).is_empty());
    assert_eq!(tick(at("2024-06-17T08:15:00+02:00"), vec![app()]).sleep, names(&["web"]));
}
