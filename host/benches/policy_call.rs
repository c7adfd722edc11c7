//! Cost of a policy call through the sandbox (fresh store and instance,
//! conversions, the call itself) with the embedded default policy, and of
//! loading (compiling) it.
//!
//! cargo bench -p paastis --bench policy_call -- --warm-up-time 1 --measurement-time 3

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
#[path = "common/fixtures.rs"]
mod fixtures;

use paastis::policy::model::{AppState, AppView, ParamValue, RequestView};
use paastis::policy::{INACTIVITY_WASM, PolicyRuntime, SandboxLimits};

const NOW: u64 = 1_700_000_000_000;

fn app(i: usize) -> AppView {
    let params = BTreeMap::from([
        ("idle_timeout".to_owned(), ParamValue::Text("15m".into())),
        ("passive_paths".to_owned(), ParamValue::TextList(vec!["/health".into(), "/status/*".into()])),
        ("passive_user_agents".to_owned(), ParamValue::TextList(vec!["UptimeRobot".into(), "bot".into()])),
    ]);
    AppView {
        name: format!("app-{i}"),
        state: AppState::Awake,
        state_since: NOW - 3_600_000,
        // Half of them idle long enough to be put to sleep.
        last_activity: Some(if i.is_multiple_of(2) { NOW - 1_200_000 } else { NOW - 60_000 }),
        in_flight: 0,
        params,
    }
}

fn request() -> RequestView {
    fixtures::request("app-0.example.com")
}

fn policy_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let runtime = PolicyRuntime::new(SandboxLimits::default()).expect("the policy runtime");
    let policy = rt.block_on(runtime.load("inactivity", INACTIVITY_WASM)).expect("the embedded policy loads");

    let one = app(0);
    let req = request();
    c.bench_function("on_request", |b| {
        b.to_async(&rt).iter(|| async { policy.on_request(NOW, &one, &req).await.expect("on_request succeeds") })
    });

    let apps: Vec<AppView> = (0..10).map(app).collect();
    c.bench_function("on_tick/10_apps", |b| {
        b.to_async(&rt).iter(|| async { policy.on_tick(NOW, &apps).await.expect("on_tick succeeds") })
    });

    let mut load = c.benchmark_group("load");
    load.sample_size(10).measurement_time(Duration::from_secs(5));
    load.bench_function("inactivity", |b| {
        b.to_async(&rt).iter(|| async { runtime.load("inactivity", INACTIVITY_WASM).await.expect("loads") })
    });
    load.finish();
}

criterion_group!(benches, policy_call);
criterion_main!(benches);
