use crate::*;

fn tick_error(app: AppBuilder) -> String {
    try_tick(at("2024-06-17T12:00:00+02:00"), vec![paris("good"), app]).map_err(|e| e.to_string()).unwrap_err()
}

fn request_error(app: AppBuilder) -> String {
    let app = app.param("off_hours", "refuse");
    decide(at("2024-06-17T12:00:00+02:00"), app, RequestBuilder::get("/")).map_err(|e| e.to_string()).unwrap_err()
}

#[test]
fn an_unknown_zone() {
    let app = AppBuilder::new("web").param("timezone", "Europe/Pariss");
    assert_eq!(tick_error(app.clone()), "app \"web\": param \"timezone\": unknown time zone \"Europe/Pariss\"");
    assert_eq!(request_error(app), "param \"timezone\": unknown time zone \"Europe/Pariss\"");
}

#[test]
fn a_bad_day_list() {
    let err = tick_error(paris("web").param("days", "Mon-Fry"));
    assert!(err.starts_with("app \"web\": param \"days\": expected weekdays such as \"Mon-Fri\""), "{err}");
    assert!(err.ends_with("got \"Mon-Fry\""), "{err}");
    assert!(tick_error(paris("web").param("days", "")).contains("param \"days\""));
    assert!(request_error(paris("web").param("days", ["Mon", "Funday"])).contains("got [\"Mon\", \"Funday\"]"));
}

#[test]
fn a_bad_time() {
    let err = tick_error(paris("web").param("open", "8am"));
    assert!(err.starts_with("app \"web\": param \"open\": expected a time of day such as \"08:00\""), "{err}");
    assert!(err.ends_with("got \"8am\""), "{err}");
    assert!(tick_error(paris("web").param("close", "24:00")).contains("param \"close\""));
    assert!(request_error(paris("web").param("close", 19)).contains("got 19"));
}

#[test]
fn other_bad_params() {
    let err = tick_error(paris("web").param("off_hours", "nap"));
    assert_eq!(err, "app \"web\": param \"off_hours\": expected \"sleep\" or \"refuse\", got \"nap\"");
    assert!(tick_error(paris("web").param("prewarm", "soon")).contains("param \"prewarm\""));
    assert!(tick_error(paris("web").param("idle_timeout", true)).contains("param \"idle_timeout\""));
    assert!(tick_error(paris("web").param("off_hours_idle_timeout", "x")).contains("param \"off_hours_idle_timeout\""));
}

#[test]
fn errors_show_even_for_asleep_apps_and_in_sleep_mode_requests_skip_the_schedule() {
    let bad = AppBuilder::new("web").param("timezone", "Nowhere").asleep_since(Timestamp::from_secs(1));
    assert!(tick_error(bad.clone()).contains("unknown time zone"));
    // A request in sleep mode does not need the zone, so does not look it up.
    assert_eq!(decide(at("2024-06-17T12:00:00+02:00"), bad, RequestBuilder::get("/")), Ok(Decision::Forward));
}

#[test]
fn values_are_case_insensitive_where_people_type_them() {
    let now = at("2024-06-15T12:00:00+02:00");
    let app =
        AppBuilder::new("web").param("timezone", "europe/paris").param("days", "SAT-sun").param("off_hours", "Refuse");
    assert_eq!(get(now, app), Decision::Forward);
}
