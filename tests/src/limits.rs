//! Limits and timeouts: slowloris, idle keep-alive, a dead or slow upstream,
//! and the cap on requests waiting for a waking app.

use crate::support::raw::read_answer;
use crate::support::{AppBuilder, GatewayBuilder};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(20);

/// A client trickling its headers a byte at a time never completes them;
/// the header read timeout closes its connection.
pub async fn a_slowloris_connection_is_closed_by_the_header_timeout() {
    let gateway =
        GatewayBuilder::new().edge("header_read_timeout", "\"1s\"").app(AppBuilder::new("hello")).spawn().await;
    let stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        write.write_all(b"GET / HTTP/1.1\r\nHost: hello.localhost\r\nX-Slow: ").await?;
        // The slowloris itself: one byte every 100 ms, forever.
        loop {
            write.write_all(b"a").await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    });
    let answer = read_answer(&mut read, WAIT, "the gateway to close a slowloris connection", |_| false).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    trickle.abort();
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0);
}

pub async fn an_idle_keep_alive_connection_is_closed() {
    let gateway =
        GatewayBuilder::new().edge("idle_keep_alive", "\"500ms\"").app(AppBuilder::new("hello")).spawn().await;
    let stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(b"GET / HTTP/1.1\r\nHost: hello.localhost\r\n\r\n").await.unwrap();
    let answer = read_answer(&mut read, WAIT, "the idle connection to be closed", |_| false).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "the request itself is answered: {answer}");
    assert!(answer.contains("Hello from hello!"), "{answer}");
}

/// An app that is up but whose port is closed: 502, with a body saying so.
pub async fn a_refused_upstream_gets_502() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    assert_eq!(client.get("hello.localhost", "/close-port").await.status, 200);
    // The app answered once its listener was gone, closing that connection.
    let response = client.get("hello.localhost", "/").await;
    assert_eq!(response.status, 502, "{}", response.text());
    let body = response.text();
    assert!(body.contains("bad gateway") && body.contains("hello"), "{body}");
    assert!(body.to_lowercase().contains("refused"), "{body}");
}

pub async fn a_slow_upstream_gets_504() {
    let gateway = GatewayBuilder::new()
        .edge("upstream_response_timeout", "\"500ms\"")
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    let response = client.get("hello.localhost", "/slow?ms=10000").await;
    assert_eq!(response.status, 504, "{}", response.text());
    assert!(response.text().contains("did not answer within 500ms"), "{}", response.text());
}

/// One request may wait on the waking app; the next gets a 503 at once.
pub async fn requests_over_the_waiting_cap_get_503() {
    let gateway = GatewayBuilder::new()
        .edge("max_waiting_per_app", "1")
        .app(AppBuilder::new("stuck").boot_delay("1h").wake_timeout("5s"))
        .spawn()
        .await;
    let client = gateway.client();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.get("stuck.localhost", "/").await }
    });
    // Logged once the first request holds its waiting slot.
    gateway.logs.wait_for("waking app", "stuck", WAIT).await;
    let over = client.get("stuck.localhost", "/").await;
    assert_eq!(over.status, 503, "{}", over.text());
    assert!(over.headers.contains_key("retry-after"));
    assert!(over.text().contains("already has 1 requests waiting"), "{}", over.text());
    // The first one waited for the wake, which never completes.
    let first = first.await.unwrap();
    assert_eq!(first.status, 503);
    assert!(!first.text().contains("requests waiting"), "{}", first.text());
}

/// A request head larger than `max_header_bytes` is refused before any
/// app is woken.
pub async fn an_oversized_request_head_is_refused() {
    let gateway = GatewayBuilder::new().edge("max_header_bytes", "16384").app(AppBuilder::new("hello")).spawn().await;
    let stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let big = "a".repeat(32 * 1024);
    let head = format!("GET / HTTP/1.1\r\nHost: hello.localhost\r\nX-Big: {big}\r\n\r\n");
    // The gateway may close before it has read all of it.
    let _ = write.write_all(head.as_bytes()).await;
    let answer = read_answer(&mut read, WAIT, "the oversized head to be refused", |_| false).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0);
}

/// The header timeout is for heads in progress only: a keep-alive
/// connection waiting for its next request is governed by `idle_keep_alive`.
pub async fn a_keep_alive_connection_outlives_the_header_timeout() {
    let gateway = GatewayBuilder::new()
        .edge("header_read_timeout", "\"300ms\"")
        .edge("idle_keep_alive", "\"1h\"")
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let get =
        || http::Request::get("/").header("host", "hello.localhost").body(http_body_util::Empty::<bytes::Bytes>::new());
    let first = sender.send_request(get().unwrap()).await.unwrap();
    assert_eq!(first.status(), 200);
    http_body_util::BodyExt::collect(first.into_body()).await.unwrap();
    // A slow answer on another connection marks the passing of 1 s, three
    // header timeouts, without this test sleeping.
    assert_eq!(gateway.client().get("hello.localhost", "/slow?ms=1000").await.status, 200);
    let second = sender.send_request(get().unwrap()).await.expect("the idle connection is still open");
    assert_eq!(second.status(), 200);
}
