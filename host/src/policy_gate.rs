//! Calls the current policy and applies the documented fallbacks, so that a
//! broken policy never fails a request or stops the ticker:
//! - a failed request call forwards the request and counts it as activity;
//! - a failed tick takes no action.

use crate::apps::App;
use crate::clock::now_ms;
use crate::config::{Config, ConfigError};
use crate::policy::LoadedPolicy;
use crate::policy::model::{AppState, AppView, RequestDecision, RequestView, TickPlan};
use arc_swap::ArcSwap;
use hyper::Request;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct PolicyGate {
    current: ArcSwap<LoadedPolicy>,
    /// Off when the operator wants tick-only decisions without the per-request call.
    call_on_request: bool,
    failures: AtomicU64,
}

impl PolicyGate {
    pub fn new(policy: LoadedPolicy, call_on_request: bool) -> PolicyGate {
        tracing::info!(policy = policy.name(), sha256 = policy.sha256(), "policy serving all apps");
        PolicyGate { current: ArcSwap::from_pointee(policy), call_on_request, failures: AtomicU64::new(0) }
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub async fn on_request<B>(&self, app: &App, request: &Request<B>, client: SocketAddr) -> RequestDecision {
        if !self.call_on_request {
            return RequestDecision::Forward;
        }
        let policy = self.current.load_full();
        let view = request_view(request, client);
        match policy.on_request(now_ms(), &app.view(), &view).await {
            Ok(decision) => decision,
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(policy = policy.name(), app = app.name(), error = %e, "policy request call failed; forwarding");
                RequestDecision::Forward
            }
        }
    }

    pub async fn on_tick(&self, apps: &[AppView]) -> TickPlan {
        let policy = self.current.load_full();
        match policy.on_tick(now_ms(), apps).await {
            Ok(plan) => plan,
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(policy = policy.name(), error = %e, "policy tick failed; taking no action");
                TickPlan::default()
            }
        }
    }
}

/// Shows the policy each configured app, awake and idle for ages, and a
/// plain request to it, without acting on the answers: a policy that refuses
/// an app's params says so at startup, not at the first tick.
pub async fn check_params(policy: &LoadedPolicy, config: &Config) -> Result<(), ConfigError> {
    let now = now_ms();
    for (index, app) in config.apps.iter().enumerate() {
        let view = AppView {
            name: app.name().to_owned(),
            state: AppState::Awake,
            state_since: 0,
            last_activity: None,
            in_flight: 0,
            params: app.params(&config.policy),
        };
        let probe = RequestView {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: vec![("host".into(), format!("{}.{}", app.name(), config.server.domain))],
            client_addr: "127.0.0.1".into(),
        };
        let tick = policy.on_tick(now, std::slice::from_ref(&view)).await.map(|_| ());
        let checked = match tick {
            Ok(()) => policy.on_request(now, &view, &probe).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            return Err(config.params_error(index, &e.to_string()));
        }
    }
    Ok(())
}

fn request_view<B>(request: &Request<B>, client: SocketAddr) -> RequestView {
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    // HTTP/2 carries the host in :authority; policies see it as `host` either way.
    if !request.headers().contains_key(http::header::HOST)
        && let Some(authority) = request.uri().authority()
    {
        headers.push(("host".to_owned(), authority.as_str().to_owned()));
    }
    RequestView {
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers,
        client_addr: client.ip().to_string(),
    }
}
