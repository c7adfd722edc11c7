//! Loading and calling policies through the real sandbox: hand-written
//! guests that behave, and guests that misbehave on purpose. The embedded
//! default policy is tested where it is embedded (the `paastis` crate).

use std::time::{Duration, Instant};

use crate::contract::{AppState, AppView};
use crate::guest_wat as guest;
use crate::{Isolation, LoadedPolicy, PolicyError, PolicyRuntime, SandboxLimits};

fn runtime() -> PolicyRuntime {
    match PolicyRuntime::new(SandboxLimits::default()) {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    }
}

async fn load(wasm: &[u8]) -> Result<LoadedPolicy, PolicyError> {
    runtime().load("test", wasm).await
}

#[test]
fn calls_work_on_a_current_thread_runtime_without_timers() {
    // No tokio time driver and no blocking pool are needed for a call.
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    let result = rt.block_on(async { load(&guest::well_behaved()).await.map(|_| ()) });
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn garbage_is_refused_as_not_webassembly() {
    let err = load(b"definitely not wasm").await.err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("policy \"test\" is not a WebAssembly component: it is not WebAssembly at all (no \\0asm header)")
    );
}

#[tokio::test]
async fn core_modules_are_refused_with_a_hint() {
    let core = b"\0asm\x01\0\0\0";
    let err = load(core).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("core WebAssembly module") && err.contains("wasm32-wasip2"), "{err}");
}

#[tokio::test]
async fn a_corrupt_component_is_invalid() {
    let mut wasm = guest::well_behaved();
    wasm.truncate(wasm.len() / 2);
    let err = load(&wasm).await.err();
    assert!(matches!(err, Some(PolicyError::Invalid { .. })), "{err:?}");
}

#[tokio::test]
async fn a_component_without_the_handler_does_not_match_the_contract() {
    let err = load(&guest::empty_component()).await.err();
    let Some(PolicyError::Contract { detail, .. }) = &err else { panic!("{err:?}") };
    assert!(detail.contains("paastis:policy/handler"), "{detail}");
}

#[tokio::test]
async fn a_component_importing_the_network_does_not_match_the_contract() {
    let err = load(&guest::wants_http()).await.err();
    let Some(PolicyError::Contract { detail, .. }) = &err else { panic!("{err:?}") };
    assert!(detail.contains("wasi:http/outgoing-handler"), "{detail}");
}

#[tokio::test]
async fn a_spinning_policy_is_stopped_at_its_deadline() {
    let started = Instant::now();
    let err = load(&guest::spins()).await.err();
    assert!(matches!(err, Some(PolicyError::Timeout { .. })), "{err:?}");
    assert!(err.is_some_and(|e| e.to_string().contains("CPU deadline")));
    // Compilation is part of this, so the bound is loose.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_trap_is_reported() {
    let err = load(&guest::traps()).await.err();
    let Some(PolicyError::Trapped { detail, .. }) = &err else { panic!("{err:?}") };
    assert!(detail.contains("unreachable"), "{detail}");
}

#[tokio::test]
async fn running_out_of_memory_is_reported() {
    let err = load(&guest::hoards_memory()).await.err();
    assert!(matches!(err, Some(PolicyError::OutOfMemory { limit_bytes, .. }) if limit_bytes == 32 << 20), "{err:?}");
    assert!(err.is_some_and(|e| e.to_string().ends_with("memory limit of 32 MiB")));
}

#[tokio::test]
async fn an_err_result_is_reported_with_its_message() {
    let err = load(&guest::fails()).await.err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("policy \"test\" returned an error: \"boom\""));
}

#[tokio::test]
async fn a_contradictory_plan_is_nonsense() {
    let err = load(&guest::contradicts_itself()).await.err();
    let Some(PolicyError::Nonsense { detail, .. }) = &err else { panic!("{err:?}") };
    assert!(detail.contains("both put to sleep and woken"), "{detail}");
}

#[tokio::test]
async fn a_malformed_return_value_is_nonsense() {
    let err = load(&guest::returns_garbage()).await.err();
    assert!(matches!(err, Some(PolicyError::Nonsense { .. })), "{err:?}");
}

#[tokio::test]
async fn a_call_waiting_in_the_host_is_cut_off_by_the_wall_clock() {
    let rt = runtime();
    let started = Instant::now();
    let outcome = rt.run_for_test(std::future::pending::<()>()).await;
    assert!(outcome.is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Collects what `tracing` writes while `f` runs on this thread.
async fn captured_logs<F: std::future::Future>(f: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = {
        let _guard = tracing::subscriber::set_default(subscriber);
        f.await
    };
    let text = sink.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    (out, text)
}

/// Tagged with the policy and the phase; what the load's smoke call writes
/// is a check (`phase="check"`), never mistaken for a real decision.
#[tokio::test]
async fn guest_logs_become_tracing_events_tagged_with_the_policy_and_phase() {
    let (loaded, logs) = captured_logs(load(&guest::logs(3))).await;
    let policy = loaded.unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 3, "{logs}");
    assert!(lines.iter().all(|l| l.contains("INFO") && l.contains("hello") && l.contains("policy=\"test\"")), "{logs}");
    assert!(lines.iter().all(|l| l.contains("phase=\"check\"")), "{logs}");
    let (ticked, logs) = captured_logs(policy.on_tick(1_700_000_000_000, &[])).await;
    assert!(ticked.is_ok(), "{ticked:?}");
    assert!(logs.lines().all(|l| l.contains("phase=\"tick\"")) && logs.lines().count() == 3, "{logs}");
    let (checked, logs) = captured_logs(policy.with_scratch_kv().on_tick(1_700_000_000_000, &[])).await;
    assert!(checked.is_ok(), "{checked:?}");
    assert!(logs.lines().all(|l| l.contains("phase=\"check\"")) && logs.lines().count() == 3, "{logs}");
}

#[tokio::test]
async fn a_chatty_guest_cannot_flood_the_log() {
    let (loaded, logs) = captured_logs(load(&guest::logs(200))).await;
    assert!(loaded.is_ok(), "{loaded:?}");
    assert_eq!(logs.lines().count(), 32);
    assert!(logs.lines().last().is_some_and(|l| l.contains("further log lines from this call are dropped")));
}

#[tokio::test]
async fn a_zero_timeout_is_refused() {
    let limits = SandboxLimits { call_timeout: Duration::ZERO, ..SandboxLimits::default() };
    assert!(matches!(PolicyRuntime::new(limits), Err(PolicyError::Setup(_))));
}

fn apps(n: usize) -> Vec<AppView> {
    let app = |i| AppView {
        name: format!("app-{i}"),
        state: AppState::Awake,
        state_since: 0,
        last_activity: None,
        in_flight: 0,
        params: Default::default(),
    };
    (0..n).map(app).collect()
}

/// "fresh" when the guest answered `ok` (a fresh instance), "reused" when it
/// answered `err("again")` (see the guest).
async fn instance_kind(policy: &LoadedPolicy, shown: usize) -> Result<&'static str, PolicyError> {
    match policy.on_tick(0, &apps(shown)).await {
        Ok(_) => Ok("fresh"),
        Err(PolicyError::Returned { message, .. }) if message == "again" => Ok("reused"),
        Err(e) => Err(e),
    }
}

async fn load_with(isolation: Isolation, wasm: &[u8]) -> LoadedPolicy {
    let limits = SandboxLimits { isolation, ..SandboxLimits::default() };
    match PolicyRuntime::new(limits) {
        Ok(rt) => match rt.load("test", wasm).await {
            Ok(policy) => policy,
            Err(e) => panic!("{e}"),
        },
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn warm_instances_are_reused_and_recycled_after_a_trap_or_growth() {
    // Loading smoke-called a scratch instance, which was not kept.
    let policy = load_with(Isolation::Reuse, &guest::counts_its_calls()).await;
    assert_eq!(instance_kind(&policy, 0).await.ok(), Some("fresh"));
    assert_eq!(instance_kind(&policy, 0).await.ok(), Some("reused"));
    assert_eq!(instance_kind(&policy, 0).await.ok(), Some("reused"));
    // A trap throws the instance away.
    let trapped = instance_kind(&policy, 1).await.err();
    assert!(matches!(trapped, Some(PolicyError::Trapped { .. })), "{trapped:?}");
    assert_eq!(instance_kind(&policy, 0).await.ok(), Some("fresh"));
    // So does memory grown past half the limit, after a call that succeeded.
    assert_eq!(instance_kind(&policy, 2).await.ok(), Some("reused"));
    assert_eq!(instance_kind(&policy, 0).await.ok(), Some("fresh"));
}

#[tokio::test]
async fn per_call_isolation_gives_every_call_a_fresh_instance() {
    let policy = load_with(Isolation::PerCall, &guest::counts_its_calls()).await;
    for _ in 0..3 {
        assert_eq!(instance_kind(&policy, 0).await.ok(), Some("fresh"));
    }
}

#[test]
fn concurrent_calls_on_many_threads_all_succeed() {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(4).build() {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    rt.block_on(async {
        let policy = load_with(Isolation::Reuse, &guest::well_behaved()).await;
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let policy = policy.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        policy.on_tick(0, &[]).await?;
                        tokio::task::yield_now().await;
                    }
                    Ok::<_, PolicyError>(())
                })
            })
            .collect();
        for task in tasks {
            let outcome = task.await.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string()));
            assert!(outcome.is_ok(), "{outcome:?}");
        }
    });
}
