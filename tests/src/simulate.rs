//! `paastis simulate` against small logs whose outcome is worked out by hand
//! below, run as the real binary.
//!
//! The fixtures in `tests/fixtures/simulate` hold the same traffic for the
//! app `web` in three formats, on 2026-11-01 (UTC):
//!
//! ```text
//! line  time      request
//! L1    10:00:00  GET /
//! L2    10:05:00  GET /a?page=2
//! L3    10:20:00  POST /
//! L4    10:20:30  GET /b
//! L5    11:00:00  GET /
//! L6    11:30:00  GET /health   (UptimeRobot)
//! L7    12:00:00  GET /
//! ```
//!
//! The clock runs 10:00 → 12:00 (2 h); apps start awake; ticks every minute
//! on the minute; a tick at the same instant as a request comes after it.
//!
//! inactivity, idle_timeout=10m, passive_paths=["/health"], wake 0s:
//! - idle since L2 (10:05) → asleep at the 10:15 tick (sleep 1);
//! - L3 wakes it: cold start 1; L4 warm; idle since 10:20:30 → the first
//!   tick at 10 min or more is 10:31 (sleep 2);
//! - L5 wakes it: cold start 2; asleep at 11:10 (sleep 3);
//! - L6 is passive and meets the app asleep: not served, no wake;
//! - L7 wakes it: cold start 3, at the very end.
//!
//! Asleep 10:15–10:20, 10:31–11:00, 11:10–12:00 = 5+29+50 = 84 min = 1.4 h;
//! awake 0.6 h. At the default rates (0.01 EUR/h, 1 container of 10 W,
//! 250 gCO2/kWh): 0.014 EUR, 0.014 kWh, 3.5 g CO2.
//!
//! The same with idle_timeout=30m ("patient"):
//! - L3 and L4 come before 30 min of idleness; idle since 10:20:30 → asleep
//!   at 10:51 (sleep 1);
//! - L5 wakes it (cold start 1); L6 arrives at 11:30:00 while it is awake
//!   (the 11:30 tick comes after it): passive, served; that tick finds it
//!   idle 30 min since L5 → asleep (sleep 2);
//! - L7 wakes it (cold start 2).
//!
//! Asleep 10:51–11:00 and 11:30–12:00 = 39 min = 0.65 h; awake 1.35 h.

use crate::support::run_paastis;
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/simulate").join(name).display().to_string()
}

const TEN_MINUTES: &[&str] =
    &["--tick", "1m", "--param", "idle_timeout=10m", "--param", r#"passive_paths=["/health"]"#];

async fn simulate(args: &[&str]) -> std::process::Output {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    run_paastis(&all).await
}

/// Runs a simulation that must succeed, with `--format json`.
async fn report(args: &[&str]) -> (Value, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let output = simulate(&all).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "paastis simulate {args:?} failed: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    for policy in report["policies"].as_array().expect("policies") {
        assert_eq!(policy["policy_errors"], 0, "no policy call may fail here: {policy:#}");
    }
    (report, stderr)
}

fn app<'a>(report: &'a Value, policy: usize, name: &str) -> &'a Value {
    let apps = report["policies"][policy]["apps"].as_array().expect("apps");
    apps.iter().find(|a| a["app"] == name).unwrap_or_else(|| panic!("no app {name} in {report:#}"))
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-6)
}

/// The ten-minute replay of `web` worked out above.
fn assert_ten_minutes(web: &Value) {
    assert_eq!(web["requests"], 7, "{web}");
    assert_eq!(web["sleeps"], 3, "{web}");
    assert_eq!(web["cold_starts"], 3, "{web}");
    assert_eq!(web["wakes"], 3, "{web}");
    assert_eq!(web["passive_unserved"], 1, "{web}");
    assert_eq!(web["refused"], 0, "{web}");
    assert!(close(&web["hours_asleep"], 1.4) && close(&web["hours_awake"], 0.6), "{web}");
    assert!(close(&web["cost_saved"], 0.014), "{web}");
    assert!(close(&web["energy_saved_kwh"], 0.014) && close(&web["co2_saved_g"], 3.5), "{web}");
}

pub async fn a_combined_log_replays_as_worked_out_by_hand() {
    let log = fixture("combined.log");
    let mut args = vec!["--access-log", &log, "--app", "web"];
    args.extend_from_slice(TEN_MINUTES);
    let (report, _) = report(&args).await;
    assert_eq!(report["from"], "2026-11-01T10:00:00Z");
    assert_eq!(report["to"], "2026-11-01T12:00:00Z");
    assert_eq!(report["lines"]["requests"], 7);
    assert_eq!(report["policies"][0]["label"], "inactivity");
    assert_ten_minutes(app(&report, 0, "web"));
}

pub async fn a_gateway_json_log_replays_like_the_same_traffic_in_combined() {
    // Requests are dated at arrival (the line's time less `ms`); events,
    // and requests for no app, are not requests.
    let log = fixture("gateway.jsonl");
    let mut args = vec!["--access-log", &log];
    args.extend_from_slice(TEN_MINUTES);
    let (report, _) = report(&args).await;
    assert_eq!(report["from"], "2026-11-01T10:00:00Z");
    assert_eq!((&report["lines"]["requests"], &report["lines"]["ignored"]), (&7.into(), &4.into()));
    assert_ten_minutes(app(&report, 0, "web"));
}

/// The vhost fixture is the same traffic written at +01:00 with the host
/// first, plus one request for `api` at 10:30 UTC and a line cut short.
/// `api` starts awake and never active: idle since 10:00 → asleep at 10:10;
/// its request wakes it at 10:30 (cold start), asleep again at 10:40.
/// Asleep 20 + 80 min = 1.6667 h.
pub async fn a_vhost_log_names_apps_by_host_and_reports_the_line_it_skips() {
    let log = fixture("vhost_combined.log");
    let mut args = vec!["--access-log", &log];
    args.extend_from_slice(TEN_MINUTES);
    let (report, stderr) = report(&args).await;
    assert!(stderr.contains("skipped 1 unparseable lines (line 6:"), "{stderr}");
    assert_eq!(report["lines"]["unparseable"], 1);
    assert_eq!(report["lines"]["first_unparseable"][0]["line"], 6);
    assert_ten_minutes(app(&report, 0, "web"));
    let api = app(&report, 0, "api");
    assert_eq!((&api["sleeps"], &api["cold_starts"]), (&2.into(), &1.into()), "{api}");
    assert!(close(&api["hours_asleep"], 100.0 / 60.0), "{api}");
    let total = &report["policies"][0]["total"];
    assert_eq!((&total["sleeps"], &total["cold_starts"]), (&5.into(), &4.into()), "{total}");
    assert!(close(&total["hours_asleep"], 1.4 + 100.0 / 60.0), "{total}");
}

pub async fn two_policies_are_compared_side_by_side() {
    let log = fixture("combined.log");
    let mut args = vec!["--access-log", &log, "--app", "web", "--policy", "inactivity"];
    args.extend_from_slice(&["--policy", "patient=inactivity", "--param", "patient/idle_timeout=30m"]);
    args.extend_from_slice(TEN_MINUTES);
    let (report, _) = report(&args).await;
    assert_eq!(report["policies"][1]["label"], "patient");
    assert_ten_minutes(app(&report, 0, "web"));
    let patient = app(&report, 1, "web");
    assert_eq!((&patient["sleeps"], &patient["cold_starts"]), (&2.into(), &2.into()), "{patient}");
    assert_eq!((&patient["passive"], &patient["passive_unserved"]), (&1.into(), &0.into()), "{patient}");
    assert!(close(&patient["hours_asleep"], 0.65) && close(&patient["hours_awake"], 1.35), "{patient}");

    // The table puts them side by side: one row per app, a column group per policy.
    let output = simulate(&args).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    let row = table.lines().find(|l| l.starts_with("web ")).unwrap_or_else(|| panic!("no web row:\n{table}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert!(cells[1].starts_with("3  ") && cells[1].contains(" 1.40 "), "{table}");
    assert!(cells[2].starts_with("2  ") && cells[2].contains(" 0.65 "), "{table}");
    assert!(table.lines().any(|l| l.contains("| inactivity") && l.contains("| patient")), "{table}");
}

/// Starting asleep with a one-minute wake: L1 meets a cold start; L3 starts
/// a wake that lasts until 10:21, so L4 (10:20:30) waits for it and is cold
/// too; L5 and L7 are cold as before: 5 cold starts, 4 wakes. The sleeps
/// fall at the same ticks (idleness counts from the last request), so the
/// time asleep is the same 1.4 h (the time starting is billed as awake).
pub async fn a_wake_time_makes_requests_during_the_wake_cold() {
    let log = fixture("combined.log");
    let mut args = vec!["--access-log", &log, "--app", "web", "--start", "asleep", "--wake-time", "1m"];
    args.extend_from_slice(TEN_MINUTES);
    let (report, _) = report(&args).await;
    let web = app(&report, 0, "web");
    assert_eq!((&web["cold_starts"], &web["wakes"], &web["sleeps"]), (&5.into(), &4.into(), &3.into()), "{web}");
    assert!(close(&web["hours_asleep"], 1.4), "{web}");
    assert_eq!(report["start"], "asleep");
}

/// A gateway config gives the apps (an app without requests is simulated
/// too; one not in the config is ignored), their params and the [savings]
/// rates, and the command line overrides the rates.
/// - web: idle_timeout 10m from the config, no passive paths, so L6 wakes it
///   (cold start 4) and it sleeps again at 11:40 (sleep 4): asleep
///   5+29+20+20 = 74 min; priced at its own 0.5/h, 2 containers of 20 W:
///   0.61667 saved, 74/60 × 2 × 20 W = 0.049333 kWh, × 100 g = 4.9333 g;
/// - docs: never requested, asleep from 10:10: 110 min, at 0.02/h.
pub async fn a_config_gives_apps_params_and_rates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("paastis.toml");
    let text = r#"[server]
listen = "127.0.0.1:0"
domain = "example.com"

[policy]
default = "inactivity"
[policy.params]
idle_timeout = "10m"

[savings]
hourly_cost = 0.02
currency = "USD"
container_watts = 20.0
grid_gco2_per_kwh = 100.0

[[apps]]
name = "web"
backend = "process"
command = ["true"]
port = 9001
hourly_cost = 0.5
containers = 2

[[apps]]
name = "docs"
backend = "process"
command = ["true"]
port = 9002
"#;
    std::fs::write(&config, text).expect("write the config");
    let (config, log) = (config.display().to_string(), fixture("vhost_combined.log"));
    let args = ["--access-log", &log, "--config", &config, "--tick", "1m", "--currency", "CHF"];
    let (report, _) = report(&args).await;
    assert_eq!(report["currency"], "CHF");
    let apps: Vec<&Value> = report["policies"][0]["apps"].as_array().expect("apps").iter().map(|a| &a["app"]).collect();
    assert_eq!(apps, ["docs", "web"]);
    assert_eq!(report["lines"]["ignored"], 1, "the api line is for no app of the config");
    let web = app(&report, 0, "web");
    assert_eq!((&web["sleeps"], &web["cold_starts"]), (&4.into(), &4.into()), "{web}");
    assert!(close(&web["hours_asleep"], 74.0 / 60.0), "{web}");
    assert!(close(&web["cost_saved"], 74.0 / 60.0 * 0.5), "{web}");
    assert!(close(&web["energy_saved_kwh"], 74.0 / 60.0 * 0.04), "{web}");
    assert!(close(&web["co2_saved_g"], 74.0 / 60.0 * 4.0), "{web}");
    let docs = app(&report, 0, "docs");
    assert_eq!((&docs["requests"], &docs["sleeps"]), (&0.into(), &1.into()), "{docs}");
    assert!(close(&docs["hours_asleep"], 110.0 / 60.0) && close(&docs["cost_saved"], 110.0 / 60.0 * 0.02), "{docs}");
}

/// Runs a simulation that must fail as bad input: exit 2, and stderr says why.
async fn refused(args: &[&str], why: &str) {
    let output = simulate(args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "paastis simulate {args:?}: {stderr}");
    assert!(stderr.contains(why), "paastis simulate {args:?}: expected {why:?} in: {stderr}");
    assert!(output.stdout.is_empty(), "no report on error");
}

pub async fn bad_input_exits_2_with_a_clear_message() {
    let log = fixture("combined.log");
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.log").display().to_string();
    refused(&["--access-log", &missing, "--app", "web"], "cannot read the log").await;

    let junk = dir.path().join("junk.log");
    std::fs::write(&junk, "hello\nworld\n").expect("write");
    let junk = junk.display().to_string();
    refused(&["--access-log", &junk], "no line of").await;

    // A plain combined log says nothing of the app.
    refused(&["--access-log", &log], "--app NAME").await;

    let bad_wasm = dir.path().join("broken.wasm");
    std::fs::write(&bad_wasm, b"\0asm\x0d\0\x01\0garbage").expect("write");
    let bad_wasm = bad_wasm.display().to_string();
    refused(&["--access-log", &log, "--app", "web", "--policy", &bad_wasm], "--policy broken").await;
    refused(&["--access-log", &log, "--app", "web", "--policy", "nightly"], "neither a built-in").await;
    refused(
        &["--access-log", &log, "--app", "web", "--policy", "inactivity", "--policy", "inactivity"],
        "two policies are labelled \"inactivity\"",
    )
    .await;

    refused(
        &["--access-log", &log, "--app", "web", "--param", "idle_timeout=soon"],
        "policy inactivity refuses the params of app \"web\"",
    )
    .await;
    refused(&["--access-log", &log, "--app", "web", "--param", "idle_timeout"], "KEY=VALUE").await;
    refused(&["--access-log", &log, "--app", "web", "--param", "blog:idle_timeout=1m"], "app \"blog\"").await;
    refused(&["--access-log", &log, "--app", "web", "--until", "2026-11-01T11:00:00Z"], "before the last request")
        .await;
}

/// office-hours beside inactivity, to show the ticks' `now` is exact
/// wall-clock time: 2026-11-01 is a Sunday, Paris is at UTC+1, and the app
/// is open on Sundays 11:30–12:45 Paris time, i.e. 10:30–11:45 UTC; closed
/// is closed (`off_hours = "refuse"`).
/// - L1 (10:00) is refused; the 10:00 tick, after it, finds the app awake
///   while closed and puts it to sleep (sleep 1); L2, L3, L4 are refused;
/// - the opening at 10:30 wakes nothing (no prewarm); L5 (11:00, open) wakes
///   it (cold start 1); idle 10 min → asleep at 11:10 (sleep 2);
/// - L6 (11:30) is passive and meets it asleep; L7 (12:00, closed) is refused.
///
/// 5 refused, 1 cold start, 2 sleeps; asleep 10:00–11:00 and 11:10–12:00 =
/// 110 min. inactivity, in the first column, is as worked out above.
pub async fn office_hours_sees_the_exact_simulated_time() {
    let log = fixture("combined.log");
    let office = format!("office={}", crate::support::policies::OFFICE_HOURS);
    let mut args = vec!["--access-log", &log, "--app", "web", "--policy", "inactivity", "--policy", &office];
    args.extend_from_slice(&["--param", "office/timezone=Europe/Paris", "--param", "office/days=Sun"]);
    args.extend_from_slice(&["--param", "office/open=11:30", "--param", "office/close=12:45"]);
    args.extend_from_slice(&["--param", "office/off_hours=refuse"]);
    args.extend_from_slice(TEN_MINUTES);
    let (report, _) = report(&args).await;
    assert_ten_minutes(app(&report, 0, "web"));
    let web = app(&report, 1, "web");
    assert_eq!((&web["refused"], &web["cold_starts"], &web["sleeps"]), (&5.into(), &1.into(), &2.into()), "{web}");
    assert_eq!(web["passive_unserved"], 1, "{web}");
    assert!(close(&web["hours_asleep"], 110.0 / 60.0), "{web}");

    // A param the policy refuses names the policy by its label.
    let office = format!("office={}", crate::support::policies::OFFICE_HOURS);
    let args = ["--access-log", &log, "--app", "web", "--policy", &office, "--param", "timezone=Europe/Pariss"];
    refused(&args, "policy office refuses the params of app \"web\"").await;
}

/// Per user agent, the requests answered without the app. In the replay
/// above, L6 (UptimeRobot, passive) meets the app asleep: with plain
/// inactivity it is a 503; with `passive_asleep_status = 200` the policy
/// answers it. No other agent has a request answered without the app, so
/// none is listed.
pub async fn the_report_lists_per_user_agent_the_requests_answered_without_the_app() {
    let log = fixture("combined.log");
    let mut args =
        vec!["--access-log", &log, "--app", "web", "--policy", "inactivity", "--policy", "answers=inactivity"];
    args.extend_from_slice(TEN_MINUTES);
    args.extend_from_slice(&["--param", "answers/passive_asleep_status=200"]);
    let (json, _) = report(&args).await;
    let agents = |policy: usize| json["policies"][policy]["user_agents"].as_array().expect("user_agents").clone();
    let (plain, answering) = (agents(0), agents(1));
    assert_eq!(plain.len(), 1, "{plain:?}");
    assert_eq!(plain[0]["user_agent"], "UptimeRobot/2.0");
    assert_eq!(
        (&plain[0]["requests"], &plain[0]["unserved"], &plain[0]["answered"]),
        (&1.into(), &1.into(), &0.into())
    );
    assert_eq!(answering.len(), 1, "{answering:?}");
    assert_eq!((&answering[0]["unserved"], &answering[0]["answered"]), (&0.into(), &1.into()), "{answering:?}");
    assert_eq!(app(&json, 1, "web")["answered"], 1, "the app's counts agree");
    assert_eq!(app(&json, 1, "web")["passive_unserved"], 0);

    let output = simulate(&args).await;
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}{}", String::from_utf8_lossy(&output.stderr));
    assert!(table.contains("policy answers: requests answered without the app, by user agent"), "{table}");
    let row = table.lines().filter(|l| l.starts_with("UptimeRobot/2.0")).collect::<Vec<_>>();
    let cells = |line: &str| line.split_whitespace().skip(1).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(row.len(), 2, "one row per policy: {table}");
    assert_eq!(cells(row[0]), ["0", "0", "1", "1"], "inactivity: one 503 asleep, of 1 request: {table}");
    assert_eq!(cells(row[1]), ["1", "0", "0", "1"], "answers: one answered: {table}");
}

/// The check that the simulator replays what the gateway does: the same
/// traffic through a real gateway (process backend, 1 s idle timeout) and
/// through `paastis simulate` on the gateway's own access log gives the
/// same sleeps and cold starts. Three bursts of three requests, the app
/// put to sleep between them; the first request of each burst wakes it.
pub async fn a_real_gateway_and_its_replay_agree_on_sleeps_and_cold_starts() {
    use crate::support::{AppBuilder, GatewayBuilder};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(20);
    let gateway = GatewayBuilder::new().idle_timeout("1s").app(AppBuilder::new("web")).spawn().await;
    let client = gateway.client();
    for burst in 1..=3 {
        for _ in 0..3 {
            let response = client.get("web.localhost", "/").await;
            assert_eq!(response.status, 200, "{}", response.text());
        }
        if burst < 3 {
            gateway.logs.wait_for_nth("app put to sleep", "web", burst, WAIT).await;
            // The replay's ticks fall every 10 ms on the wall clock, not
            // on the gateway's: a short gap in the traffic gives it a tick
            // past the idle timeout too. Shaping the traffic, not waiting
            // for an outcome.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let logs = gateway.logs_caught_up().await;
    let cold = logs.matching("request", |v| v["app"] == "web" && v["cold_start"] == true).len();
    let (sleeps, requests) = (logs.count("app put to sleep", "web"), logs.count("request", "web"));
    assert_eq!((requests, sleeps, cold), (9, 2, 3), "the gateway's own counts: {}", logs.dump());

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gateway.jsonl");
    std::fs::write(&log, logs.dump()).unwrap();
    let log = log.display().to_string();
    let args = ["--access-log", &log, "--tick", "10ms", "--param", "idle_timeout=1s", "--start", "asleep"];
    let (report, _) = report(&args).await;
    let web = app(&report, 0, "web");
    assert_eq!(web["requests"], requests, "{web}");
    assert_eq!(web["sleeps"], sleeps, "{web}");
    assert_eq!(web["cold_starts"], cold, "{web}");
    assert_eq!(web["wakes"], cold, "{web}");
}
