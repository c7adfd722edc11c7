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
        headers: [("user-agent", user_agent)].into_iter().collect(),
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
    // ...and answers requests with params by reference (`requesting`).
    assert!(policy.interface().exports.iter().any(|e| e == "paastis:policy/requesting@0.1.0#on-request"));
}

fn passive_at(name: &str, path: &str) -> AppView {
    app(name, AppState::Awake, None, &[("passive_paths", ParamValue::TextList(vec![path.into()]))])
}

/// Each warm instance is sent a param set once and its number after; with
/// more distinct sets than an instance keeps, taken in turns and out of
/// order, every call must still see its own app's set (a number reused for
/// another set is sent whole again).
#[tokio::test]
async fn request_calls_see_their_own_params_among_many_sets() {
    let policy = inactivity().await;
    let apps: Vec<AppView> = (0..40).map(|i| passive_at(&format!("app{i}"), &format!("/p{i}"))).collect();
    for order in [1, 7, 1, 3] {
        for i in (0..apps.len()).map(|i| i * order % apps.len()) {
            let own = policy.on_request(NOW, &apps[i], &request(&format!("/p{i}"), "curl/8")).await;
            assert_eq!(own.ok(), Some(RequestDecision::ForwardPassive), "app{i}'s own passive path");
            let other = format!("/p{}", (i + 1) % apps.len());
            let other = policy.on_request(NOW, &apps[i], &request(&other, "curl/8")).await;
            assert_eq!(other.ok(), Some(RequestDecision::Forward), "app{i} with another app's passive path");
        }
    }
}

/// A call that fails drops its instance; the next call's fresh instance
/// knows no param set, so it must be sent the set whole again (a reference
/// would fail the call).
#[tokio::test]
async fn a_fresh_instance_after_a_failure_is_sent_the_params_again() {
    let policy = match runtime().load("inactivity", INACTIVITY_WASM).await {
        Ok(policy) => policy,
        Err(e) => panic!("{e}"),
    };
    let web = passive_at("web", "/health");
    let health = request("/health", "curl/8");
    assert_eq!(policy.on_request(NOW, &web, &health).await.ok(), Some(RequestDecision::ForwardPassive));
    // Params larger than the memory cap: the guest cannot take them.
    let huge = ParamValue::TextList(vec!["x".repeat(40 << 20)]);
    let bloated = app("bloated", AppState::Awake, None, &[("passive_user_agents", huge)]);
    let failed = policy.on_request(NOW, &bloated, &health).await;
    assert!(matches!(failed, Err(super::PolicyError::OutOfMemory { .. })), "{failed:?}");
    for _ in 0..3 {
        assert_eq!(policy.on_request(NOW, &web, &health).await.ok(), Some(RequestDecision::ForwardPassive));
    }
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
