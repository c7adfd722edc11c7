//! Routing and what passes through the proxy.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

pub async fn an_unknown_host_gets_404_without_contacting_an_upstream() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    for host in ["nope.localhost", "hello.example.com", "localhost"] {
        let response = client.get(host, "/").await;
        assert_eq!(response.status, 404, "{host}");
        assert!(!response.text().is_empty());
    }
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0);
}

pub async fn method_path_query_and_headers_pass_through() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let request = gateway
        .client()
        .builder("www.hello.localhost", "/inspect?a=1&b=two%20words")
        .method("PATCH")
        .header("x-custom", "kept")
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("proxy-authorization", "dropped")
        .body(empty())
        .unwrap();
    let response = gateway.client().send(request).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = response.json();
    assert_eq!(seen["method"], "PATCH");
    assert_eq!(seen["uri"], "/inspect?a=1&b=two%20words");
    let header = |name: &str| -> Option<String> {
        seen["headers"].as_array().unwrap().iter().find(|h| h[0] == name).map(|h| h[1].as_str().unwrap().to_owned())
    };
    assert_eq!(header("x-custom").as_deref(), Some("kept"));
    assert_eq!(header("x-forwarded-for").as_deref(), Some("203.0.113.7, 127.0.0.1"));
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(header("x-forwarded-host").as_deref(), Some("www.hello.localhost"));
    assert_eq!(header("x-hop"), None);
    assert_eq!(header("proxy-authorization"), None);
}

/// 64 MiB each way, produced and checked chunk by chunk, so neither the test
/// nor (given the gateway's own memory) the proxy can hold it whole.
pub async fn a_large_body_streams_both_ways() {
    const CHUNK: usize = 256 * 1024;
    const CHUNKS: usize = 256;
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);
    let upload = futures_util::stream::iter((0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(Frame::data(chunk(i)))));
    let request = gateway
        .client()
        .builder("hello.localhost", "/echo")
        .method("POST")
        .body(StreamBody::new(upload).boxed())
        .unwrap();
    let response = gateway.client().stream(request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("body frame");
        if let Some(data) = frame.data_ref() {
            for (offset, byte) in data.iter().enumerate() {
                let expected = (((received + offset) / CHUNK) % 251) as u8;
                assert_eq!(*byte, expected, "byte {} corrupted", received + offset);
            }
            received += data.len();
        }
    }
    assert_eq!(received, CHUNK * CHUNKS);

    let download = gateway.client().get("hello.localhost", &format!("/bytes?n={}", 32 * 1024 * 1024)).await;
    assert_eq!(download.body.len(), 32 * 1024 * 1024);
}
