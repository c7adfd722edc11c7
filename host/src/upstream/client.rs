//! The HTTP/1.1 client towards apps, on hyper's connection API: a request
//! takes an idle connection from the pool (or connects through the shared
//! connector), is sent on it, and its response body brings the connection
//! back when it ends. Per request: no spawned task, no boxed future, one
//! lock to check out and one to return. Each connection has one task that
//! drives it (with upgrades, for WebSockets and CONNECT).
//!
//! A pooled connection that the app closed before the request went out is
//! not an error of the app: the request comes back untouched and is sent
//! once more, on a fresh connection. So is a request without a body and
//! with a safe method (GET, HEAD, OPTIONS, TRACE: Go's rule, and nginx's
//! for its cached connections) sent on a connection idle for a second or
//! more that ended before any answer: the app was closing it as the
//! request went out (the race with an app's own keep-alive timeout).

use super::pool::{CheckedOut, Key, Pool, PooledBody, Return, Sender};
use super::{Connector, UpstreamBody};
use http::{HeaderValue, Method, Request, Response, Uri, header};
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use tower_service::Service;

/// Why a request did not get a response head from the app.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("bad upstream address {0}: it needs a scheme and a host")]
    Address(Uri),
    #[error("cannot connect to the app")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the HTTP/1.1 handshake with the app failed")]
    Handshake(#[source] hyper::Error),
    #[error("the exchange with the app failed")]
    Exchange(#[source] hyper::Error),
}

#[derive(Clone)]
pub(crate) struct UpstreamClient {
    connector: Connector,
    /// None: every connection serves one request (tests).
    pub(super) pool: Option<Arc<Pool>>,
    http1: hyper::client::conn::http1::Builder,
}

impl UpstreamClient {
    pub(super) fn new(connector: Connector, pool: Option<Arc<Pool>>) -> UpstreamClient {
        UpstreamClient { connector, pool, http1: hyper::client::conn::http1::Builder::new() }
    }

    /// Sends a request whose URI is absolute (the app's scheme and
    /// authority, then the path); a Host header is added when missing.
    #[cfg(test)]
    pub(crate) async fn request(&self, mut request: Request<UpstreamBody>) -> Result<Response<PooledBody>, SendError> {
        let upstream = std::mem::take(request.uri_mut());
        *request.uri_mut() = request_target(&upstream, request.method() == Method::CONNECT);
        self.send_to(&upstream, request).await
    }

    /// Sends a request to `upstream` (its scheme and authority), the
    /// request's URI being its target as it goes on the request line (see
    /// `request_target`); a Host header is added when missing.
    pub(crate) async fn send_to(
        &self,
        upstream: &Uri,
        mut request: Request<UpstreamBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let key = addressed(upstream, &mut request)?;
        let connect = request.method() == Method::CONNECT;
        if let Some(pool) = &self.pool
            && let Some(CheckedOut { mut sender, stale }) = pool.checkout(&key).await
        {
            let copy = if stale { replayable_copy(&request) } else { None };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.handed_back(response, sender, key, connect)),
                Err(mut e) => match (e.take_message(), copy) {
                    // Closed before the request went out: once more, fresh.
                    (Some(untouched), _) => request = untouched,
                    (None, Some(copy)) if e.error().is_incomplete_message() => {
                        tracing::debug!(%upstream, "an idle connection closed under a request; sending it again");
                        request = copy;
                    }
                    (None, _) => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
        // Boxed: a new connection is the rare case, and its future (the
        // connector's and the handshake's, 0.8 KB) would otherwise be part
        // of every forwarded request's, which hyper copies once per request.
        let mut sender = Box::pin(self.connect(upstream.clone())).await?;
        match sender.try_send_request(request).await {
            Ok(response) => Ok(self.handed_back(response, sender, key, connect)),
            Err(e) => Err(SendError::Exchange(e.into_error())),
        }
    }

    /// Sends `request` (as `send_to` does) on a connection of its own,
    /// never a pooled one: a readiness probe must not reach a previous
    /// incarnation of the app. With the answer comes the connection, which
    /// the caller may give to the proxy's pool (`adopt`) once it knows the
    /// answer was the app's.
    pub(crate) async fn send_fresh(
        &self,
        upstream: &Uri,
        mut request: Request<UpstreamBody>,
    ) -> Result<(Response<hyper::body::Incoming>, Spare), SendError> {
        let key = addressed(upstream, &mut request)?;
        let mut sender = self.connect(upstream.clone()).await?;
        let response = sender.try_send_request(request).await.map_err(|e| SendError::Exchange(e.into_error()))?;
        let spare = Spare { key, sender: reusable(&response).then_some(sender) };
        Ok((response, spare))
    }

    /// Puts a probe's connection, its answer read whole, in this client's
    /// pool: the first request the wake let through then finds the app's
    /// connection open, rather than waiting for a new one to be accepted.
    pub(crate) fn adopt(&self, spare: Spare) {
        if let (Some(pool), Some(sender)) = (&self.pool, spare.sender) {
            pool.put(spare.key, sender);
        }
    }

    async fn connect(&self, destination: Uri) -> Result<Sender, SendError> {
        let io = self.connector.clone().call(destination).await.map_err(SendError::Connect)?;
        let (sender, connection) = self.http1.handshake(io).await.map_err(SendError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    /// The response, with its connection to come back to the pool at its
    /// body's end when it can serve another request.
    fn handed_back(
        &self,
        response: Response<hyper::body::Incoming>,
        sender: Sender,
        key: Key,
        connect: bool,
    ) -> Response<PooledBody> {
        let tunnel = connect && response.status().is_success();
        let back = match &self.pool {
            Some(pool) if !tunnel && reusable(&response) => Some(Return { pool: pool.clone(), key, sender }),
            _ => None,
        };
        response.map(|body| PooledBody::new(body, back))
    }
}

/// A connection whose one answer came back (`send_fresh`), if it may carry
/// another request.
pub(crate) struct Spare {
    key: Key,
    sender: Option<Sender>,
}

/// The pool's key for `upstream`, and a Host header on the request if it
/// has none.
fn addressed(upstream: &Uri, request: &mut Request<UpstreamBody>) -> Result<Key, SendError> {
    let (Some(scheme), Some(authority)) = (upstream.scheme(), upstream.authority()) else {
        return Err(SendError::Address(upstream.clone()));
    };
    let key = Key { scheme: scheme.clone(), authority: authority.clone() };
    if !request.headers().contains_key(header::HOST)
        && let Ok(host) = HeaderValue::from_str(host_header(&key).as_str())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    Ok(key)
}

/// A copy of a request that may be sent twice: no body, a safe method.
fn replayable_copy(request: &Request<UpstreamBody>) -> Option<Request<UpstreamBody>> {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    if !safe || !http_body::Body::is_end_stream(request.body()) {
        return None;
    }
    let mut copy = Request::new(Empty::new().map_err(|never| match never {}).boxed());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}

/// Whether the connection may carry another request after this response:
/// not after a switch of protocols (or a CONNECT's 2xx: the bytes that
/// follow are a tunnel's), nor when the app says it closes.
fn reusable<B>(response: &Response<B>) -> bool {
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return false;
    }
    // What nearly every app says: one `keep-alive` (reusable in HTTP/1.0
    // and 1.1 alike), or nothing (reusable unless HTTP/1.0); the tokens are
    // read only otherwise.
    let mut values = response.headers().get_all(http::header::CONNECTION).iter();
    match (values.next(), values.next()) {
        (None, _) => return response.version() != http::Version::HTTP_10,
        (Some(only), None) if only.as_bytes() == b"keep-alive" => return true,
        _ => {}
    }
    let connection_says =
        |token: &str| crate::proxy::connection_tokens(response.headers()).any(|t| t.eq_ignore_ascii_case(token));
    match response.version() {
        http::Version::HTTP_10 => connection_says("keep-alive"),
        _ => !connection_says("close"),
    }
}

/// What goes on the request line: the path and query (origin form), or for
/// CONNECT the authority.
pub(crate) fn request_target(upstream: &Uri, connect: bool) -> Uri {
    let mut parts = http::uri::Parts::default();
    if connect {
        parts.authority = upstream.authority().cloned();
    } else {
        match upstream.path_and_query() {
            Some(path) if path.as_str() != "/" => parts.path_and_query = Some(path.clone()),
            _ => return Uri::default(),
        }
    }
    Uri::from_parts(parts).unwrap_or_default()
}

/// The Host header of an upstream: its host, with the port unless it is the
/// scheme's default.
fn host_header(key: &Key) -> String {
    let default_port = if key.scheme == http::uri::Scheme::HTTPS { 443 } else { 80 };
    match key.authority.port_u16() {
        Some(port) if port != default_port => format!("{}:{port}", key.authority.host()),
        _ => key.authority.host().to_owned(),
    }
}

#[cfg(test)]
mod reusable_tests {
    use super::reusable;
    use http::{Response, StatusCode, Version};

    #[test]
    fn a_connection_is_reused_unless_the_app_closes_it_or_speaks_http_1_0_without_keep_alive() {
        for (version, connection, expected) in [
            (Version::HTTP_11, &[][..], true),
            (Version::HTTP_10, &[], false),
            (Version::HTTP_11, &["keep-alive"], true),
            (Version::HTTP_10, &["keep-alive"], true),
            (Version::HTTP_10, &["Keep-Alive"], true),
            (Version::HTTP_10, &["x-hop, keep-alive"], true),
            (Version::HTTP_10, &["x-hop", "keep-alive"], true),
            (Version::HTTP_10, &["close"], false),
            (Version::HTTP_11, &["close"], false),
            (Version::HTTP_11, &["Close"], false),
            (Version::HTTP_11, &["keep-alive", "close"], false),
            (Version::HTTP_11, &["x-hop ,close"], false),
            (Version::HTTP_11, &["x-hop"], true),
        ] {
            let mut response = Response::new(());
            *response.version_mut() = version;
            for value in connection {
                response.headers_mut().append(http::header::CONNECTION, value.parse().unwrap());
            }
            assert_eq!(reusable(&response), expected, "{version:?} {connection:?}");
        }
        let mut switched = Response::new(());
        *switched.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        switched.headers_mut().insert(http::header::CONNECTION, "keep-alive".parse().unwrap());
        assert!(!reusable(&switched));
    }
}
