//! A client for a gateway's admin listener, with or without a token.

use super::TestClient;
use super::client::{Body, TestResponse, empty};
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct AdminClient {
    pub addr: SocketAddr,
    client: TestClient,
    token: Option<String>,
}

impl AdminClient {
    pub fn new(addr: SocketAddr) -> AdminClient {
        AdminClient { addr, client: TestClient::new(addr), token: None }
    }

    /// Sends `Authorization: Bearer {token}` from now on.
    pub fn with_token(mut self, token: &str) -> AdminClient {
        self.token = Some(token.to_owned());
        self
    }

    /// A request to `path` with the admin address as Host, and the token if any.
    pub fn builder(&self, method: Method, path: &str) -> http::request::Builder {
        let builder = self.client.builder(&self.addr.to_string(), path).method(method);
        match &self.token {
            Some(token) => builder.header("authorization", format!("Bearer {token}")),
            None => builder,
        }
    }

    pub async fn send(&self, request: http::Request<Body>) -> TestResponse {
        self.client.send(request).await
    }

    /// As `send`, returning a connection error rather than panicking.
    pub async fn try_send(&self, request: http::Request<Body>) -> Result<TestResponse, String> {
        self.client.try_send(request).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.builder(Method::GET, path).body(empty()).expect("request")).await
    }

    pub async fn post(&self, path: &str) -> TestResponse {
        self.send(self.builder(Method::POST, path).body(empty()).expect("request")).await
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> TestResponse {
        let body = Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed();
        self.send(self.builder(Method::PUT, path).body(body).expect("request")).await
    }

    /// `GET /apps`, the entry of `app`.
    pub async fn app(&self, app: &str) -> serde_json::Value {
        let apps = self.get("/apps").await;
        assert_eq!(apps.status, 200, "{}", apps.text());
        let json = apps.json();
        let found = json["apps"].as_array().and_then(|a| a.iter().find(|e| e["name"] == app)).cloned();
        found.unwrap_or_else(|| panic!("no app {app} in {json}"))
    }

    /// `GET /events`, newest first.
    pub async fn events(&self) -> Vec<serde_json::Value> {
        let events = self.get("/events?limit=1000").await;
        assert_eq!(events.status, 200, "{}", events.text());
        events.json()["events"].as_array().cloned().unwrap_or_default()
    }
}

impl AdminClient {
    /// A bodiless request with extra headers (which replace the defaults).
    pub fn client_request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> http::Request<Body> {
        let mut request = self.builder(method, path).body(empty()).expect("request");
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            request.headers_mut().insert(name, http::HeaderValue::from_str(value).expect("header value"));
        }
        request
    }
}
