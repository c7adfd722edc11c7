//! The embedded default policy (`policies/inactivity`) through the real
//! sandbox: it loads, and its calls follow its params.

use std::collections::BTreeMap;

use tokio::sync::OnceCell;

use super::builtin::INACTIVITY_WASM;
use super::model::{AppState, AppView, ParamValue, RequestDecision, RequestView};
use super::{LoadedPolicy, PolicyRuntime, SandboxLimits};

const NOW: u64 = 1_700_000_000_000;
const MINUTE: u64 = 60_000;

fn runtime() -> PolicyRuntime {
    match PolicyRuntime::new(SandboxLimits::default()) {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    }
}

/// Compiled once per test binary: compilation is the slow part.
async fn inactivity() -> &'static LoadedPolicy {
    static POLICY: OnceCell<LoadedPolicy> = OnceCell::const_new();
    POLICY
        .get_or_init(|| async {
            match runtime().load("inactivity", INACTIVITY_WASM).await {
                Ok(policy) => policy,
                Err(e) => panic!("{e}"),
            }
        })
        .await
}

fn app(name: &str, state: AppState, last_activity: Option<u64>, params: &[(&str, ParamValue)]) -> AppView {
    AppView {
        name: name.into(),
        state,
        state_since: NOW - 60 * MINUTE,
        last_activity,
        in_flight: 0,
        params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<BTreeMap<_, _>>().into(),
    }
}

fn request(path: &str, user_agent: &str) -> RequestView {
    RequestView {
        method: "GET".into(),
        path: path.into(),
        query: None,
        headers: vec![("user-agent".into(), user_agent.into())],
        client_addr: "203.0.113.7".into(),
    }
}

#[tokio::test]
async fn loads_the_embedded_policy() {
    let policy = inactivity().await;
    assert_eq!(policy.name(), "inactivity");
    assert_eq!(policy.sha256().len(), 64);
    // Built with the SDK: it ticks with shared params (`ticking`).
    assert!(policy.interface().exports.iter().any(|e| e == "paastis:policy/ticking@0.1.0#on-tick"));
}

#[tokio::test]
async fn request_calls_follow_the_params() {
    let policy = inactivity().await;
    let params = [("passive_paths", ParamValue::TextList(vec!["/health".into()]))];
    let web = app("web", AppState::Asleep, None, &params);
    let decide = |path: &'static str| {
        let web = web.clone();
        async move { policy.on_request(NOW, &web, &request(path, "curl/8")).await }
    };
    assert_eq!(decide("/").await.ok(), Some(RequestDecision::Forward));
    assert_eq!(decide("/health").await.ok(), Some(RequestDecision::ForwardPassive));
}

#[tokio::test]
async fn tick_calls_put_idle_apps_to_sleep() {
    let policy = inactivity().await;
    let apps = [
        app("idle", AppState::Awake, Some(NOW - 20 * MINUTE), &[]),
        app("busy", AppState::Awake, Some(NOW - MINUTE), &[]),
        app("quick", AppState::Awake, Some(NOW - 3 * MINUTE), &[("idle_timeout", ParamValue::Text("2m".into()))]),
        app("asleep", AppState::Asleep, None, &[]),
    ];
    let plan = policy.on_tick(NOW, &apps).await;
    assert_eq!(plan.map(|p| (p.sleep, p.wake)).ok(), Some((vec!["idle".into(), "quick".into()], vec![])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_concurrently_on_a_multi_thread_runtime() {
    let policy = inactivity().await.clone();
    let apps: Vec<AppView> = (0..10).map(|i| app(&format!("app{i}"), AppState::Awake, Some(NOW), &[])).collect();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (policy, apps) = (policy.clone(), apps.clone());
            tokio::spawn(async move { policy.on_tick(NOW, &apps).await.map(|p| p.sleep.len()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.ok().and_then(Result::ok), Some(0));
    }
    // The proxy awaits request calls inside `Send` services.
    let web = app("web", AppState::Awake, None, &[]);
    let decision = tokio::spawn(async move { policy.on_request(NOW, &web, &request("/", "x")).await.ok() });
    assert_eq!(decision.await.ok().flatten(), Some(RequestDecision::Forward));
}
