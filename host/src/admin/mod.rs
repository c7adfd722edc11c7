//! The admin listener: a JSON API to see and steer the gateway, Prometheus
//! metrics, and a dashboard page. It has its own socket (loopback by
//! default). On the proxy port no admin path is ever routed, except for
//! requests to `server.admin_host` (`on_proxy.rs`), where the token is
//! always required; the proxy strips the admin bearer token from what it
//! forwards to apps (see `auth::strip_admin_bearer`).

mod apps;
pub(crate) mod auth;
mod dashboard;
mod events;
mod metrics;
mod on_proxy;
mod policies;
mod respond;
mod server;
mod timeline;
mod upload;

pub(crate) use auth::{AdminAuth, strip_admin_bearer};
pub(crate) use on_proxy::AdminHost;
pub(crate) use respond::AdminBody;
pub(crate) use server::{AdminLimits, AdminServer};
pub(crate) use upload::Uploads;

use crate::apps::Apps;
use crate::config::Config;
use crate::policy::PolicyGate;
use crate::policy::watch::PolicyUploader;
use crate::store::EventLog;
use crate::telemetry::Telemetry;
use auth::Denied;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use respond::error;
use std::sync::Arc;

/// Everything the handlers read or act on.
pub(crate) struct AdminState {
    pub apps: Arc<Apps>,
    pub gate: Arc<PolicyGate>,
    pub uploader: PolicyUploader,
    pub events: EventLog,
    /// How far the event recorder got, so `/events` shows what came before it.
    pub recorded: crate::store::RecordedProgress,
    pub telemetry: Telemetry,
    pub config: Arc<Config>,
    /// Who may use the admin listener (`server.admin_host` has its own).
    pub auth: AdminAuth,
    /// This replica's role and the shared store's health (`/healthz`).
    pub cluster: crate::cluster::Cluster,
    /// Policy uploads: one at a time, bounded in size.
    pub uploads: Uploads,
}

/// Where an admin request came in, which decides what it may see without
/// a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    /// The admin listener.
    Listener,
    /// The proxy's port, under `server.admin_host`.
    AdminHost,
}

/// Answers one request on the admin listener.
pub(crate) async fn handle(state: &AdminState, request: Request<Incoming>) -> Response<AdminBody> {
    serve(state, &state.auth, Door::Listener, request).await
}

async fn serve(state: &AdminState, auth: &AdminAuth, door: Door, request: Request<Incoming>) -> Response<AdminBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = route(state, auth, door, request).await;
    tracing::debug!(target: "paastis::admin", %method, path, ?door, status = response.status().as_u16(), "admin request");
    response
}

async fn route(state: &AdminState, auth: &AdminAuth, door: Door, request: Request<Incoming>) -> Response<AdminBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Public: the dashboard's static files hold no data (the page asks for a
    // token when the API wants one). On the listener, a health check
    // carries no secret; under the admin host it needs the token like the
    // rest (see `on_proxy.rs`).
    let page = matches!(segments.as_slice(), [""]) || dashboard::asset(&path).is_some();
    let public = page || (door == Door::Listener && segments.as_slice() == ["healthz"]);
    // HTTP/2 names the host in :authority; HTTP/1.1 in Host.
    let host = match crate::proxy::request_host(&request) {
        Ok(host) => host,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(denied) = auth.check(&method, host, request.headers()) {
        // The host and origin checks apply to every path.
        let applies = !public || matches!(denied, Denied::Forbidden(_));
        if applies {
            return refuse(denied);
        }
    }
    // HEAD is GET without the body; hyper drops the body on the way out.
    let method = if method == Method::HEAD { Method::GET } else { method };
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => dashboard::page(),
        (_, &Method::GET) if dashboard::asset(&path).is_some() => dashboard::serve(&path),
        (["healthz"], &Method::GET) => health(state),
        (["apps"], &Method::GET) => apps::list(state),
        (["apps", name, "wake"], &Method::POST) => apps::wake(state, name).await,
        (["apps", name, "sleep"], &Method::POST) => apps::sleep(state, name).await,
        (["apps", name, "timeline"], &Method::GET) => timeline::one(state, name, request.uri().query()).await,
        (["timelines"], &Method::GET) => timeline::many(state, request.uri().query()).await,
        (["savings", "daily"], &Method::GET) => timeline::daily(state, request.uri().query()).await,
        (["events"], &Method::GET) => events::list(state, request.uri().query()).await,
        (["policies"], &Method::GET) => policies::list(state),
        (["policies", name], &Method::PUT) => {
            let name = name.strip_suffix(".wasm").unwrap_or(name).to_owned();
            policies::upload(state, &name, request).await
        }
        (["metrics"], &Method::GET) => metrics::scrape(state, request.headers()),
        (segments, _) => match allowed(segments) {
            Some(allow) => {
                let mut response = error(StatusCode::METHOD_NOT_ALLOWED, &format!("{path} accepts {allow}"));
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                response
            }
            None => error(StatusCode::NOT_FOUND, &format!("no admin endpoint at {path}")),
        },
    }
}

/// Always 200 while the gateway serves: a load balancer must not pull a
/// replica that goes on serving from its local view. The body says what is
/// wrong: `degraded` with ERROR-level alerts while ticks fail (no app is put
/// to sleep then), and `store: degraded` while the shared store (Redis) does
/// not answer.
/// `degraded` too while apps are served by a fallback policy
/// (`degraded_apps`): a restart would not help, the gateway refuses to start
/// until the config's policies load. Counts only: this path needs no token,
/// so it names no app (`/apps` does).
fn health(state: &AdminState) -> Response<AdminBody> {
    let alerts: Vec<serde_json::Value> = state
        .gate
        .tick_health()
        .alerts()
        .into_iter()
        .map(|alert| {
            let mut value = serde_json::json!({ "level": "error", "what": "tick" });
            if let (Some(map), Ok(serde_json::Value::Object(fields))) =
                (value.as_object_mut(), serde_json::to_value(alert))
            {
                map.extend(fields);
            }
            value
        })
        .collect();
    let degraded_apps = state.apps.iter().filter(|app| state.gate.degraded(app.name()).is_some()).count();
    let cluster = state.cluster.health();
    let store_degraded = state.cluster.is_degraded();
    let status = if alerts.is_empty() && !store_degraded && degraded_apps == 0 { "ok" } else { "degraded" };
    let body = serde_json::json!({
        "status": status,
        "alerts": alerts,
        "degraded_apps": degraded_apps,
        "role": cluster.role,
        "store": cluster.store,
        "replica": cluster.replica,
        "store_backend": state.cluster.store_kind(),
    });
    respond::json(StatusCode::OK, &body)
}

fn allowed(segments: &[&str]) -> Option<&'static str> {
    match segments {
        [""] | ["healthz"] | ["apps"] | ["events"] | ["policies"] | ["metrics"] => Some("GET, HEAD"),
        ["apps", _, "timeline"] | ["timelines"] | ["savings", "daily"] => Some("GET, HEAD"),
        ["apps", _, "wake" | "sleep"] => Some("POST"),
        ["policies", _] => Some("PUT"),
        _ => None,
    }
}

fn refuse(denied: Denied) -> Response<AdminBody> {
    match denied {
        Denied::Unauthorized(why) => {
            let mut response = error(StatusCode::UNAUTHORIZED, why);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"paastis-admin\""));
            response
        }
        Denied::Forbidden(why) => error(StatusCode::FORBIDDEN, why),
    }
}
