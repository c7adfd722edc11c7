//! The request path: Host → app → policy decision → admission (waking the app
//! if needed) → upstream, with the body streamed both ways.

mod body;
pub(crate) mod drain;
mod failure_page;
mod headers;
mod peer;
mod request_body;
mod responses;
mod routing;
mod tunnel;
mod waiting_page;

pub(crate) use body::{BodyGuard, GuardedBody};
pub(crate) use headers::connection_tokens;
pub(crate) use peer::Peer;
pub(crate) use request_body::ResponseTimers;
pub(crate) use responses::{ANSWERED_HEADER, full, text, unavailable};
pub(crate) use routing::request_host;
/// How the gateway names the app of a Host (the simulator reads logs the same way).
pub(crate) use routing::{app_name, host_name};
pub(crate) use waiting_page::WaitingPage;

use crate::apps::{Admission, AdmitError, App, Apps, InFlight};
use crate::clock::now_ms;
use crate::error_chain::root_cause;
use crate::policy::PolicyGate;
use crate::policy::model::{AppState, Refusal, RequestDecision};
use crate::telemetry::access_log::{self, AccessLine};
use crate::telemetry::metrics::{NO_APP, RequestCounters};
use crate::telemetry::{Telemetry, WakeCause};
use crate::upstream::{PooledBody, SendError, Upstream, UpstreamClient, is_connect_timeout};
use bytes::Bytes;
use drain::Drain;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use request_body::Late;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// A client connection's place in `edge.max_connections`, shared by the
/// connection and the tunnel it may turn into: the place is free once both
/// have dropped it.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(
    #[allow(dead_code, reason = "held, never read: dropping it frees the place")] Arc<dyn std::any::Any + Send + Sync>,
);

impl ConnectionSlot {
    pub(crate) fn new(held: impl std::any::Any + Send + Sync) -> ConnectionSlot {
        ConnectionSlot(Arc::new(held))
    }
}

/// Marks responses whose request waited for a cold start (a name, not a
/// `&str`, which every lookup would parse again).
pub(crate) const COLD_START_HEADER: header::HeaderName = header::HeaderName::from_static("x-paastis-cold-start");

pub(crate) struct Proxy {
    apps: Arc<Apps>,
    policy: Arc<PolicyGate>,
    client: UpstreamClient,
    domain: String,
    telemetry: Telemetry,
    /// The admin API's bearer token, stripped from every forwarded request.
    admin_token: Option<String>,
    /// `server.admin_host`: its requests go to the admin API, never to an app.
    admin_host: Option<crate::admin::AdminHost>,
    edge: EdgeOptions,
    /// `paastis_requests_total` of the requests that matched no app.
    unrouted: RequestCounters,
}

/// How the proxy faces clients and upstreams (from `[edge]`).
pub(crate) struct EdgeOptions {
    pub upstream: Upstream,
    pub connect_timeout: Duration,
    /// From the request body's end to the response head (see `request_body`).
    pub response_timeout: Duration,
    /// The most a client may leave the request body idle between chunks.
    pub request_body_timeout: Duration,
    /// Whether browsers get the waiting page, for apps that do not say.
    pub waiting_page_default: bool,
    pub waiting_page: WaitingPage,
    /// Plain-HTTP requests are redirected to HTTPS on this port.
    pub redirect_to_https_port: Option<u16>,
    /// Open tunnels hold a token of it, so a shutdown waits for them.
    pub drain: Drain,
}

/// Which kind of listener a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl Proxy {
    pub(crate) fn with_edge(
        apps: Arc<Apps>,
        policy: Arc<PolicyGate>,
        domain: String,
        telemetry: Telemetry,
        edge: EdgeOptions,
    ) -> Proxy {
        let client = edge.upstream.proxying();
        Proxy {
            apps,
            policy,
            client,
            domain,
            telemetry,
            admin_token: None,
            admin_host: None,
            edge,
            unrouted: RequestCounters::default(),
        }
    }

    /// Never forwards `Authorization: Bearer <token>` to an app.
    pub(crate) fn with_admin_token(mut self, token: Option<String>) -> Proxy {
        self.admin_token = token;
        self
    }

    /// Serves the admin API to requests for its host, before any app routing.
    pub(crate) fn with_admin_host(mut self, admin_host: Option<crate::admin::AdminHost>) -> Proxy {
        self.admin_host = admin_host;
        self
    }

    /// Answers one request, and records it: the access log line (target
    /// `paastis::access`) and the requests metric.
    pub(crate) async fn handle_on(
        &self,
        request: Request<Incoming>,
        peer: &Peer,
        timers: &ResponseTimers,
    ) -> Response<ProxyBody> {
        let started = std::time::Instant::now();
        // What the access line needs, kept only when it is written; these
        // clones share the request's buffers rather than copy them.
        let logged = access_log::enabled().then(|| {
            (request.method().clone(), request.uri().clone(), request.headers().get(header::USER_AGENT).cloned())
        });
        let (app, response) = match (peer.scheme, self.edge.redirect_to_https_port) {
            (Scheme::Http, Some(port)) => (None, redirect_to_https(&request, port)),
            _ => self.route(request, peer, timers).await,
        };
        let status = response.status().as_u16();
        let metrics = &self.telemetry.metrics;
        match &app {
            Some(app) => app.requests.inc(metrics, app.name(), status),
            None => self.unrouted.inc(metrics, NO_APP, status),
        }
        if let Some((method, uri, user_agent)) = logged {
            AccessLine {
                app: app.as_deref().map_or(NO_APP, crate::apps::App::name),
                method: method.as_str(),
                path: uri.path_and_query().map_or("/", |p| p.as_str()),
                status,
                client: peer.ip(),
                user_agent: user_agent.as_ref().and_then(|v| v.to_str().ok()).unwrap_or(""),
                cold_start: response.headers().contains_key(COLD_START_HEADER),
                answered: response.headers().contains_key(ANSWERED_HEADER),
                elapsed: started.elapsed(),
            }
            .log();
        }
        response
    }

    /// The app a request is for (when it names a known one) and its answer.
    async fn route(
        &self,
        request: Request<Incoming>,
        peer: &Peer,
        timers: &ResponseTimers,
    ) -> (Option<Arc<App>>, Response<ProxyBody>) {
        let host = match routing::request_host(&request) {
            Ok(host) => host,
            Err(e) => return (None, text(StatusCode::BAD_REQUEST, e.to_string())),
        };
        // Before app routing: the admin host is never an app's, whatever
        // apps discovery finds later. Its access line names no app.
        if let Some(admin) = &self.admin_host
            && admin.matches(host)
        {
            // Boxed: the admin API's future is several kilobytes, and hyper
            // moves this one, the proxy's, into place on every request.
            let response = Box::pin(admin.handle(request)).await;
            return (None, response.map(|body| body.map_err(|never| match never {}).boxed()));
        }
        let Some(name) = routing::app_name(host, &self.domain) else {
            let message = format!("no app is served at {host:?} (apps live under .{})", self.domain);
            return (None, text(StatusCode::NOT_FOUND, message));
        };
        let Some(app) = self.apps.get(&routing::lowercase(name)) else {
            return (None, text(StatusCode::NOT_FOUND, format!("no app named {name:?} behind this gateway")));
        };
        // CONNECT takes the path of any request, wake included: it names an
        // app as any request does, and only the app knows whether it
        // tunnels (an answer of 2xx, see `forward`) or not (its own answer,
        // such as the demo app's 405). A policy sees the method and may
        // refuse it before anything wakes.
        // What a passive request gets instead of a 503 when the app is not awake.
        let mut asleep_answer = None;
        // Recorded with the wake this request may begin (the dashboard's
        // timeline shows it); made only then.
        let (method, uri, user_agent) = (request.method(), request.uri(), request.headers().get(header::USER_AGENT));
        let cause = || WakeCause::request(method, uri, user_agent);
        let admission = match self.policy.on_request(&app, &request, peer.ip()).await {
            RequestDecision::Forward => Admission::Wake(&cause),
            RequestDecision::ForwardPassive => Admission::Passive,
            RequestDecision::ForwardPassiveOr(answer) => {
                asleep_answer = Some(answer);
                Admission::Passive
            }
            RequestDecision::Refuse(refusal) => return (Some(app), refused(refusal)),
            RequestDecision::Answer(answer) => return (Some(app), responses::answered(answer)),
        };
        // One clock reading for the activity a forwarded request counts as
        // and the admission's first look at the app.
        let now = now_ms();
        if let Admission::Wake(_) = admission {
            app.touch(now);
        }
        if let Admission::Wake(cause) = admission
            && self.wants_waiting_page(&app, &request)
        {
            self.apps.lifecycle().wake_in_background(&app, cause());
            let page = self.edge.waiting_page.render(app.name());
            return (Some(app), page);
        }
        let lifecycle = self.apps.lifecycle();
        let admitted = match lifecycle.admit_at(&app, admission, now).await {
            Ok(in_flight) => lifecycle.upstream_slot(&app, in_flight).await,
            Err(e) => Err(e),
        };
        let response = match (admitted, asleep_answer) {
            (Ok(in_flight), _) => self.forward(request, in_flight, peer, timers).await,
            (Err(AdmitError::Asleep { .. }), Some(answer)) => responses::answered(answer),
            (Err(AdmitError::WakeFailed { retry_after, .. }), _) if WaitingPage::suits(&request) => {
                failure_page::render(app.name(), crate::apps::retry_after_secs(retry_after))
            }
            (Err(e), _) => admit_failed(&e),
        };
        (Some(app), response)
    }

    /// A browser asking for a page of an app that is not awake, when the
    /// app has the waiting page on. An app whose last wake failed is not
    /// given the page (it would refresh forever): during the cool-down the
    /// browser gets the failure page, after it the request waits on a fresh
    /// wake and sees its outcome.
    fn wants_waiting_page(&self, app: &crate::apps::App, request: &Request<Incoming>) -> bool {
        app.config.waiting_page.unwrap_or(self.edge.waiting_page_default)
            && WaitingPage::suits(request)
            && app.state() != AppState::Awake
            && !app.last_wake_failed()
    }

    async fn forward(
        &self,
        mut request: Request<Incoming>,
        in_flight: InFlight,
        peer: &Peer,
        timers: &ResponseTimers,
    ) -> Response<ProxyBody> {
        let upgrade = tunnel::requested(request.headers()).map(|value| (value, hyper::upgrade::on(&mut request)));
        let connect = (request.method() == http::Method::CONNECT).then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let slot = parts.extensions.remove::<ConnectionSlot>();
        // The host routing read (the target's authority wins over Host).
        let original_host = match parts.uri.authority() {
            Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
            None => parts.headers.get(header::HOST).cloned(),
        };
        headers::strip_hop_by_hop(&mut parts.headers);
        if let Some(token) = &self.admin_token {
            crate::admin::strip_admin_bearer(&mut parts.headers, token);
        }
        headers::add_forwarded(&mut parts.headers, peer, original_host);
        if let Some((value, _)) = &upgrade {
            tunnel::restore_headers(&mut parts.headers, value.clone());
        }
        let upstream = &in_flight.upstream;
        if let Some(authority) = upstream.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(header::HOST, authority);
        }
        parts.uri = upstream_target(std::mem::take(&mut parts.uri), upstream, connect.is_some());
        parts.version = http::Version::HTTP_11;
        // A request without a body is sent as it is, watched by nothing.
        let (body, watch) = if http_body::Body::is_end_stream(&body) {
            (body.map_err(Into::into).boxed(), None)
        } else {
            let (body, watch) = request_body::WatchedBody::new(body, self.edge.request_body_timeout);
            (body.map_err(Into::into).boxed(), Some(watch))
        };
        // When the request goes: the response timeout's start, and the
        // response's last touch of the app (`Touching`) as far as it knows.
        let sent_at = tokio::time::Instant::now();
        let sent = self.client.send_to(upstream, Request::from_parts(parts, body));
        let answered = request_body::answer(sent, watch.as_ref(), self.edge.response_timeout, timers, sent_at).await;
        let (app, limit) = (in_flight.app_name(), self.edge.response_timeout);
        let mut response = match answered {
            Ok(Ok(response)) => response,
            // The client's body broke off or stalled (its fault, not the app's), or the app failed.
            Ok(Err(e)) => return upstream_failed(&e, watch.as_ref().and_then(|w| w.failure()), app, &self.edge),
            Err(Late::NoAnswer) => {
                let message = format!("504 upstream timeout: app {app} did not answer within {limit:?}");
                return text(StatusCode::GATEWAY_TIMEOUT, message);
            }
            Err(Late::BodyNotTaken) => {
                let message = format!("504 upstream timeout: app {app} did not read the request body for {limit:?}");
                return text(StatusCode::GATEWAY_TIMEOUT, message);
            }
        };
        if let Some(client_upgrade) = connect
            && response.status().is_success()
        {
            return self.tunnel_connect(response, client_upgrade, in_flight, slot);
        }
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let upstream_upgrade = match (&upgrade, switching) {
            (Some(_), true) => Some(hyper::upgrade::on(&mut response)),
            _ => None,
        };
        let (mut parts, body) = response.into_parts();
        let accepted_upgrade = parts.headers.get(header::UPGRADE).cloned();
        headers::strip_hop_by_hop(&mut parts.headers);
        if in_flight.cold_start {
            parts.headers.insert(COLD_START_HEADER, HeaderValue::from_static("1"));
        }
        if let (Some((requested, client_upgrade)), Some(upstream_upgrade)) = (upgrade, upstream_upgrade) {
            tunnel::restore_headers(&mut parts.headers, accepted_upgrade.unwrap_or(requested));
            let token = self.edge.drain.token();
            tokio::spawn(tunnel::splice(client_upgrade, upstream_upgrade, in_flight, token, slot));
            return Response::from_parts(parts, full(Bytes::new()));
        }
        Response::from_parts(
            parts,
            body::GuardedBody::new(body, body::Touching::new(in_flight, sent_at.into_std())).boxed(),
        )
    }
}

/// What goes on the request line to the app: the client's target when it
/// is in origin form (`/path?query`, HTTP/1.1's usual), as it is; else its
/// path and query (an absolute-form target, or h2's); for CONNECT, the
/// app's authority. (Building the app's absolute URI, for the client to
/// take apart again, cost a parse and two URIs per request.)
fn upstream_target(client_target: http::Uri, upstream: &http::Uri, connect: bool) -> http::Uri {
    if connect {
        return crate::upstream::request_target(upstream, true);
    }
    if client_target.scheme().is_none() && client_target.authority().is_none() {
        return client_target;
    }
    crate::upstream::request_target(&client_target, false)
}

/// The answer when sending a request upstream failed: the client's body
/// (unreadable: 400, stalled: 408), else the app (504 for a connect
/// timeout, 502 otherwise).
fn upstream_failed(
    error: &SendError,
    body: Option<&request_body::Failure>,
    app: &str,
    edge: &EdgeOptions,
) -> Response<ProxyBody> {
    match body {
        Some(request_body::Failure::Unreadable(reason)) => {
            text(StatusCode::BAD_REQUEST, format!("400 bad request: the request body cannot be read: {reason}"))
        }
        Some(request_body::Failure::Stalled(limit)) => text(
            StatusCode::REQUEST_TIMEOUT,
            format!("408 request timeout: no part of the request body came for {limit:?} (request_body_timeout)"),
        ),
        None if is_connect_timeout(error) => {
            let message = format!(
                "504 upstream timeout: app {app} did not accept a connection within {:?}",
                edge.connect_timeout
            );
            text(StatusCode::GATEWAY_TIMEOUT, message)
        }
        None => {
            text(StatusCode::BAD_GATEWAY, format!("502 bad gateway: app {app} did not answer: {}", root_cause(error)))
        }
    }
}

impl Proxy {
    /// The app accepted a CONNECT (a 2xx): its answer goes to the client,
    /// and then both connections are one tunnel, as after a 101.
    fn tunnel_connect(
        &self,
        mut response: Response<PooledBody>,
        client_upgrade: hyper::upgrade::OnUpgrade,
        in_flight: InFlight,
        slot: Option<ConnectionSlot>,
    ) -> Response<ProxyBody> {
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let (mut parts, _no_body) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        // A 2xx to CONNECT has no content (RFC 9110 §9.3.6): the bytes after
        // its head are the tunnel's.
        parts.headers.remove(header::CONTENT_LENGTH);
        if in_flight.cold_start {
            parts.headers.insert(COLD_START_HEADER, HeaderValue::from_static("1"));
        }
        let token = self.edge.drain.token();
        tokio::spawn(tunnel::splice(client_upgrade, upstream_upgrade, in_flight, token, slot));
        Response::from_parts(parts, full(Bytes::new()))
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
        AdmitError::WakeFailed { retry_after, .. } => crate::apps::retry_after_secs(*retry_after),
        AdmitError::TimedOut { .. } => 5,
        AdmitError::Overloaded { .. } => 5,
        AdmitError::Busy { .. } => 5,
    };
    unavailable(error.to_string(), retry_after)
}

/// A 308 to the same host and path on the HTTPS listener.
fn redirect_to_https<B>(request: &Request<B>, port: u16) -> Response<ProxyBody> {
    let host = match routing::request_host(request) {
        Ok(host) => host,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let name = host.parse::<http::uri::Authority>().map_or(host.to_owned(), |a| a.host().to_owned());
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = match port {
        443 => format!("https://{name}{path}"),
        port => format!("https://{name}:{port}{path}"),
    };
    let Ok(value) = HeaderValue::from_str(&location) else {
        return text(StatusCode::BAD_REQUEST, "the Host header cannot make a URL");
    };
    let mut response = text(StatusCode::PERMANENT_REDIRECT, format!("moved to {location}"));
    response.headers_mut().insert(header::LOCATION, value);
    response
}

#[cfg(test)]
mod tests {
    use super::upstream_target;
    use http::Uri;

    #[test]
    fn the_upstream_target_is_the_clients_path_or_for_connect_the_apps_authority() {
        let upstream: Uri = "http://127.0.0.1:3000".parse().unwrap();
        for (client, connect, target) in [
            ("/", false, "/"),
            ("/a/b?c=d&e", false, "/a/b?c=d&e"),
            ("*", false, "*"),
            // Absolute form (HTTP/1.1 to a proxy, and h2): the path and query only.
            ("http://hello.localhost/x?y", false, "/x?y"),
            ("https://hello.localhost", false, "/"),
            ("hello.localhost:443", true, "127.0.0.1:3000"),
        ] {
            let got = upstream_target(client.parse().unwrap(), &upstream, connect);
            assert_eq!(got.to_string(), target, "{client}");
            assert!(got.scheme().is_none(), "{client}");
        }
    }
}
