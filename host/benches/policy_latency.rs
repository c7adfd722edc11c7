//! The distribution of one request-phase policy call (fresh sandbox, call,
//! conversions), for the built-in `inactivity` and for `office-hours`: median,
//! p99 and p99.9 over many sequential calls.
//!
//! Run: `cargo bench -p paastis --bench policy_latency` (BENCH_CALLS to change
//! the count).

#[path = "common/office_hours.rs"]
mod office_hours;

#[path = "common/fixtures.rs"]
mod fixtures;

use paastis::testing::contract::{AppState, AppView, ParamValue, RequestView};
use paastis::testing::{INACTIVITY_WASM, PolicyRuntime, SandboxLimits};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NOW: u64 = 1_700_000_000_000;

fn app(params: &[(&str, &str)]) -> AppView {
    AppView {
        name: "hello".into(),
        state: AppState::Awake,
        state_since: NOW - 3_600_000,
        last_activity: Some(NOW - 60_000),
        in_flight: 0,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::Text(v.to_string())))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn request() -> RequestView {
    fixtures::request("hello.example.com")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let calls: usize = std::env::var("BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let office_hours = std::fs::read(office_hours::build()).unwrap_or_else(|e| panic!("office-hours wasm: {e}"));
    let runtime = PolicyRuntime::new(SandboxLimits::default()).unwrap_or_else(|e| panic!("runtime: {e}"));
    let cases = [
        ("inactivity", INACTIVITY_WASM, app(&[("idle_timeout", "15m")])),
        (
            "office-hours",
            office_hours.as_slice(),
            app(&[("timezone", "Europe/Paris"), ("open", "00:00"), ("close", "00:00"), ("days", "Mon-Sun")]),
        ),
    ];
    let request = request();
    for (name, wasm, app) in cases {
        let policy = runtime.load(name, wasm).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        for _ in 0..500 {
            let _ = policy.on_request(NOW, &app, &request).await;
        }
        let mut samples = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            if let Err(e) = policy.on_request(NOW, &app, &request).await {
                panic!("{name}: {e}");
            }
            samples.push(started.elapsed());
        }
        samples.sort();
        println!(
            "{name}: on_request over {calls} calls: median {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({} bytes of wasm)",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            percentile(&samples, 0.999),
            wasm.len()
        );
    }
}
