//! An HTTP/1.1 client that talks to the gateway over a real socket.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

pub type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    client: Client<HttpConnector, Body>,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

impl TestClient {
    pub fn new(addr: SocketAddr) -> TestClient {
        TestClient { addr, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// A request builder aimed at the gateway with `Host: {host}`.
    pub fn builder(&self, host: &str, path: &str) -> http::request::Builder {
        Request::builder().uri(format!("http://{}{}", self.addr, path)).header("host", host)
    }

    pub async fn get(&self, host: &str, path: &str) -> TestResponse {
        self.send(self.builder(host, path).body(empty()).expect("request")).await
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.stream(request).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        TestResponse { status: parts.status, headers: parts.headers, body }
    }

    /// As `send`, but a connection error is returned rather than a panic
    /// (a server may answer and close before a long body is sent).
    pub async fn try_send(&self, request: Request<Body>) -> Result<TestResponse, String> {
        let response = self.client.request(request).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(TestResponse { status: parts.status, headers: parts.headers, body })
    }

    /// The response with its body still streaming.
    pub async fn stream(&self, request: Request<Body>) -> http::Response<Incoming> {
        self.client.request(request).await.expect("the gateway answered")
    }
}

/// An HTTP/2 connection with prior knowledge (h2c) to `addr`, driven in the
/// background; requests go through the returned sender.
pub async fn h2c(addr: std::net::SocketAddr) -> hyper::client::conn::http2::SendRequest<Body> {
    let limit = std::time::Duration::from_secs(20);
    let handshake = async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect for h2c");
        hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("an h2 handshake")
    };
    let (sender, connection) = super::within(limit, "an h2 handshake", handshake).await;
    tokio::spawn(connection);
    sender
}
