//! The request path: Host → app → policy decision → admission (waking the app
//! if needed) → upstream, with the body streamed both ways.

mod body;
mod headers;
mod responses;
mod routing;

pub use responses::{full, text, unavailable};
/// How the gateway names the app of a Host (the simulator reads logs the same way).
pub use routing::app_name;

use crate::apps::{Admission, AdmitError, App, Apps, InFlight, root_cause};
use crate::clock::now_ms;
use crate::policy::model::{Refusal, RequestDecision};
use crate::policy_gate::PolicyGate;
use crate::telemetry::Telemetry;
use crate::telemetry::metrics::NO_APP;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Marks responses whose request waited for a cold start.
pub const COLD_START_HEADER: &str = "x-paastis-cold-start";

pub struct Proxy {
    apps: Arc<Apps>,
    policy: Arc<PolicyGate>,
    client: Client<HttpConnector, Incoming>,
    domain: String,
    telemetry: Telemetry,
    /// The admin API's bearer token, stripped from every forwarded request.
    admin_token: Option<String>,
}

impl Proxy {
    pub fn new(apps: Arc<Apps>, policy: Arc<PolicyGate>, domain: String, telemetry: Telemetry) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Proxy { apps, policy, client, domain, telemetry, admin_token: None }
    }

    /// Never forwards `Authorization: Bearer <token>` to an app.
    pub fn with_admin_token(mut self, token: Option<String>) -> Proxy {
        self.admin_token = token;
        self
    }

    /// Answers one request, and records it: the access log line (target
    /// `paastis::access`) and the requests metric.
    pub async fn handle(&self, request: Request<Incoming>, client: SocketAddr) -> Response<ProxyBody> {
        let started = std::time::Instant::now();
        let method = request.method().clone();
        let path = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let user_agent = request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (app, response) = self.route(request, client).await;
        let status = response.status().as_u16();
        let app = app.as_deref().map_or(NO_APP, crate::apps::App::name);
        self.telemetry.metrics.request(app, status);
        tracing::info!(
            target: "paastis::access",
            app,
            %method,
            path,
            status,
            client = %client.ip(),
            user_agent = user_agent.as_deref().unwrap_or(""),
            cold_start = response.headers().contains_key(COLD_START_HEADER),
            ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
            "request"
        );
        response
    }

    /// The app a request is for (when it names a known one) and its answer.
    async fn route(&self, request: Request<Incoming>, client: SocketAddr) -> (Option<Arc<App>>, Response<ProxyBody>) {
        // HTTP/2 carries the host in :authority, HTTP/1.1 in Host.
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        let Some(host) = host else {
            return (None, text(StatusCode::BAD_REQUEST, "missing Host header"));
        };
        let Some(name) = routing::app_name(host, &self.domain) else {
            let message = format!("no app is served at {host:?} (apps live under .{})", self.domain);
            return (None, text(StatusCode::NOT_FOUND, message));
        };
        let Some(app) = self.apps.get(&name.to_ascii_lowercase()) else {
            return (None, text(StatusCode::NOT_FOUND, format!("no app named {name:?} behind this gateway")));
        };
        let admission = match self.policy.on_request(&app, &request, client).await {
            RequestDecision::Forward => {
                app.touch(now_ms());
                Admission::Wake
            }
            RequestDecision::ForwardPassive => Admission::Passive,
            RequestDecision::Refuse(refusal) => return (Some(app), refused(refusal)),
        };
        let response = match self.apps.lifecycle().admit(&app, admission).await {
            Ok(in_flight) => self.forward(request, in_flight, client).await,
            Err(e) => admit_failed(&e),
        };
        (Some(app), response)
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        in_flight: InFlight,
        client: SocketAddr,
    ) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = match crate::apps::join_uri(&in_flight.upstream, path) {
            Ok(uri) => uri,
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        };
        let original_host = parts
            .headers
            .get(header::HOST)
            .cloned()
            .or_else(|| parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
        headers::strip_hop_by_hop(&mut parts.headers);
        if let Some(token) = &self.admin_token {
            crate::admin::strip_admin_bearer(&mut parts.headers, token);
        }
        headers::add_forwarded(&mut parts.headers, client.ip(), "http", original_host.as_ref());
        if let Some(authority) = uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(header::HOST, authority);
        }
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                headers::strip_hop_by_hop(&mut parts.headers);
                if in_flight.cold_start {
                    parts.headers.insert(COLD_START_HEADER, HeaderValue::from_static("1"));
                }
                Response::from_parts(parts, body::GuardedBody::new(body, in_flight).boxed())
            }
            Err(e) => text(StatusCode::BAD_GATEWAY, format!("the app did not answer: {}", root_cause(&e))),
        }
    }
}

fn refused(refusal: Refusal) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(refusal.status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = text(status, refusal.reason);
    if let Some(secs) = refusal.retry_after_secs {
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    response
}

fn admit_failed(error: &AdmitError) -> Response<ProxyBody> {
    let retry_after = match error {
        AdmitError::Asleep { .. } => 30,
        AdmitError::WakeFailed { .. } => 10,
        AdmitError::TimedOut { .. } => 5,
    };
    unavailable(error.to_string(), retry_after)
}
