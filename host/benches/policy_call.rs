//! Cost of a policy call through the sandbox (a warm instance, conversions,
//! the call itself) with the embedded default policy; the same with a fresh
//! instance per call (`per-call` isolation); a tick over 500 apps (one
//! batch) and over 10,000 (the gateway's 20 batches); the CPU time of a call when 1,
//! 16 or 256 tasks call at once on two worker threads (it must stay flat:
//! nothing on the way in or out of a call grows with concurrency); and the
//! cost of loading (compiling) the policy.
//!
//! cargo bench -p paastis --bench policy_call -- --warm-up-time 1 --measurement-time 3

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
#[path = "common/fixtures.rs"]
mod fixtures;

use paastis::testing::contract::{AppState, AppView, ParamValue, RequestView};
use paastis::testing::{INACTIVITY_WASM, Isolation, PolicyRuntime, SandboxLimits};

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
        params: params.into(),
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
    let batch: Vec<AppView> = (0..500).map(app).collect();
    c.bench_function("on_tick/500_apps", |b| {
        b.to_async(&rt).iter(|| async { policy.on_tick(NOW, &batch).await.expect("on_tick succeeds") })
    });
    // A whole tick over 10,000 apps, as the gateway makes it: batches of 500
    // (`policy_gate::TICK_BATCH`), one call each. The goal is 20 ms in all.
    let all: Vec<AppView> = (0..10_000).map(app).collect();
    let mut group = c.benchmark_group("on_tick");
    group.sample_size(20);
    group.bench_function("10000_apps_in_batches_of_500", |b| {
        b.to_async(&rt).iter(|| async {
            for batch in all.chunks(500) {
                policy.on_tick(NOW, batch).await.expect("on_tick succeeds");
            }
        })
    });
    group.finish();

    let per_call_runtime =
        PolicyRuntime::new(SandboxLimits { isolation: Isolation::PerCall, ..SandboxLimits::default() })
            .expect("the policy runtime");
    let per_call =
        rt.block_on(per_call_runtime.load("inactivity", INACTIVITY_WASM)).expect("the embedded policy loads");
    c.bench_function("on_request/per_call_isolation", |b| {
        b.to_async(&rt).iter(|| async { per_call.on_request(NOW, &one, &req).await.expect("on_request succeeds") })
    });

    concurrent(c, &policy);

    let mut load = c.benchmark_group("load");
    load.sample_size(10).measurement_time(Duration::from_secs(5));
    load.bench_function("inactivity", |b| {
        b.to_async(&rt).iter(|| async { runtime.load("inactivity", INACTIVITY_WASM).await.expect("loads") })
    });
    load.finish();
}

/// CPU time per call (the process's, user and system) while `tasks` tasks
/// call at once on a two-thread runtime: wall time would halve with the
/// second thread and hide what matters, a cost that grows with concurrency.
fn concurrent(c: &mut Criterion, policy: &paastis::testing::LoadedPolicy) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let one = app(0);
    let req = request();
    let mut group = c.benchmark_group("on_request_cpu_time_with_concurrent_tasks");
    for tasks in [1u64, 16, 256] {
        group.bench_function(tasks.to_string(), |b| {
            b.iter_custom(|iters| {
                let before = process_cpu_time();
                rt.block_on(async {
                    let workers: Vec<_> = (0..tasks)
                        .map(|t| {
                            let (policy, one, req) = (policy.clone(), one.clone(), req.clone());
                            let calls = iters / tasks + u64::from(t < iters % tasks);
                            tokio::spawn(async move {
                                for _ in 0..calls {
                                    policy.on_request(NOW, &one, &req).await.expect("on_request succeeds");
                                    // Let the other tasks in, as requests on a connection would.
                                    tokio::task::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for worker in workers {
                        worker.await.expect("the task ends");
                    }
                });
                process_cpu_time().saturating_sub(before)
            })
        });
    }
    group.finish();
}

fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

criterion_group!(benches, policy_call);
criterion_main!(benches);
