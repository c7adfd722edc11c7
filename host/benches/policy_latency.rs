//! The distribution of one request-phase policy call (warm instance, call,
//! conversions), for the built-in `inactivity` and for `office-hours`: median,
//! p99 and p99.9 over many sequential calls; then for `inactivity` the same
//! with 1, 16 and 256 tasks calling at once on two worker threads (criterion
//! gives means, not tails; the goal is a p99 that stays flat as tasks grow).
//!
//! Run: `cargo bench -p paastis --bench policy_latency` (BENCH_CALLS to change
//! the count).

#[path = "common/office_hours.rs"]
mod office_hours;

#[path = "common/fixtures.rs"]
mod fixtures;

use paastis::testing::contract::{AppState, AppView, ParamValue, RequestView};
use paastis::testing::{INACTIVITY_WASM, LoadedPolicy, PolicyRuntime, SandboxLimits};
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
            .collect::<BTreeMap<_, _>>()
            .into(),
    }
}

/// The app of the `policy_call` bench: a duration and two passive lists.
fn configured_app() -> AppView {
    let mut app = app(&[("idle_timeout", "15m")]);
    for (name, items) in [("passive_paths", ["/health", "/status/*"]), ("passive_user_agents", ["UptimeRobot", "bot"])]
    {
        std::sync::Arc::make_mut(&mut app.params)
            .insert(name.to_owned(), ParamValue::TextList(items.map(str::to_owned).to_vec()));
    }
    app
}

fn request() -> RequestView {
    fixtures::request("hello.example.com")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

/// Every call's duration while `tasks` tasks call at once on two worker
/// threads, `calls` calls in all. A call never yields, so its duration is its
/// own cost plus whatever the OS took from its thread meanwhile.
fn concurrent(
    policy: &LoadedPolicy,
    app: &AppView,
    request: &RequestView,
    tasks: usize,
    calls: usize,
) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut samples: Vec<Duration> = rt.block_on(async {
        let workers: Vec<_> = (0..tasks)
            .map(|_| {
                let (policy, app, request) = (policy.clone(), app.clone(), request.clone());
                let calls = calls / tasks;
                tokio::spawn(async move {
                    let mut samples = Vec::with_capacity(calls);
                    for _ in 0..calls {
                        let started = Instant::now();
                        if let Err(e) = policy.on_request(NOW, &app, &request).await {
                            panic!("{e}");
                        }
                        samples.push(started.elapsed());
                        // Let the other tasks in, as requests on a connection would.
                        tokio::task::yield_now().await;
                    }
                    samples
                })
            })
            .collect();
        let mut all = Vec::with_capacity(calls);
        for worker in workers {
            all.extend(worker.await.unwrap_or_else(|e| panic!("task: {e}")));
        }
        all
    });
    samples.sort();
    samples
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("runtime: {e}"));
    let calls: usize = std::env::var("BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let policy = rt.block_on(sequential(calls));
    // The tasks' runtime is another one: not started from inside this one.
    drop(rt);
    let app = configured_app();
    let request = request();
    for tasks in [1, 16, 256] {
        let samples = concurrent(&policy, &app, &request, tasks, calls.max(tasks));
        println!(
            "inactivity: on_request with {tasks} tasks on 2 threads over {} calls: median {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
            samples.len(),
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            percentile(&samples, 0.999),
        );
    }
}

/// Both policies called one call after another; returns `inactivity`.
async fn sequential(calls: usize) -> LoadedPolicy {
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
    let mut inactivity = None;
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
        if name == "inactivity" {
            inactivity = Some(policy);
        }
    }
    inactivity.unwrap_or_else(|| panic!("inactivity is one of the cases"))
}
