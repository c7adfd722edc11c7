use crate::*;

fn refusing(name: &str) -> AppBuilder {
    paris(name).param("off_hours", "refuse")
}

#[test]
fn refuses_outside_hours_saying_when_it_opens() {
    // Friday 19:30: the next opening is Monday 08:00, 60.5 hours away.
    let now = at("2024-06-14T19:30:00+02:00");
    let decision = get(now, refusing("web").asleep_since(now - mins(20)));
    let Decision::Refuse(r) = decision else { panic!("expected a refusal, got {decision:?}") };
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "closed until Mon 08:00 (Europe/Paris)");
    assert_eq!(r.retry_after_secs, Some(60 * 3600 + 30 * 60));
}

#[test]
fn retry_after_rounds_up_to_the_opening() {
    let now = at("2024-06-17T07:59:59.250+02:00");
    let Decision::Refuse(r) = get(now, refusing("web")) else { panic!("still closed") };
    assert_eq!(r.retry_after_secs, Some(1));
    assert_eq!(get(at("2024-06-17T08:00:00+02:00"), refusing("web")), Decision::Forward);
}

#[test]
fn passive_requests_are_refused_too_while_closed() {
    let now = at("2024-06-15T10:00:00+02:00");
    let app = refusing("web").param("passive_paths", ["/health"]);
    assert!(matches!(decide(now, app, RequestBuilder::get("/health")), Ok(Decision::Refuse(_))));
}

#[test]
fn the_tick_sleeps_every_awake_app_outside_hours() {
    let now = at("2024-06-14T19:00:00+02:00");
    let apps = vec![
        awake_idle(refusing("just-used"), now, Duration::from_secs(1)),
        awake_idle(refusing("in-flight"), now, Duration::ZERO).in_flight(1),
        refusing("asleep").asleep_since(now - mins(60)),
        refusing("stopping").stopping_since(now),
    ];
    let plan = tick(now, apps);
    assert_eq!(plan.sleep, names(&["just-used"]));
    assert!(plan.wake.is_empty());
    // Sleep mode waits for the short idle timeout instead.
    assert!(tick(now, vec![awake_idle(paris("just-used"), now, Duration::from_secs(1))]).is_empty());
}
