//! The admin listener's limits: HTTP/2 as HTTP/1.1, idle and slow
//! connections closed, and policy uploads bounded in number and size.

use crate::support::client::{Body, empty};
use crate::support::policies;
use crate::support::raw::read_answer;
use crate::support::{AppBuilder, GatewayBuilder, within};
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, StreamBody};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(20);
const MB: u64 = 1024 * 1024;

/// h2c with prior knowledge, as a Prometheus scraper or a script may speak:
/// the same answers as HTTP/1.1 (it was a 403, the Host check missing
/// :authority).
pub async fn the_admin_api_answers_over_http2_as_over_http1() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let admin = gateway.admin.unwrap();
    let mut h2 = crate::support::client::h2c(admin).await;
    let mut send = async |method: Method, path: &str| {
        let request = http::Request::builder().method(method).uri(format!("http://{admin}{path}")).body(empty());
        let response = h2.send_request(request.unwrap()).await.expect("an h2 answer");
        assert_eq!(response.version(), http::Version::HTTP_2);
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, apps) = send(Method::GET, "/apps").await;
    assert_eq!(status, 200, "{apps}");
    assert!(apps.contains("\"hello\""), "{apps}");
    let (status, woken) = send(Method::POST, "/apps/hello/wake").await;
    assert_eq!(status, 200, "{woken}");
    assert_eq!(send(Method::GET, "/metrics").await.0, 200);
    assert_eq!(send(Method::GET, "/healthz").await.0, 200);
    assert_eq!(gateway.admin().app("hello").await["state"], "awake");
}

/// The proxy's timers hold on the admin listener too: an idle keep-alive
/// connection and a head that never completes are both closed.
pub async fn idle_and_slow_admin_connections_are_closed() {
    let gateway = GatewayBuilder::new()
        .edge("idle_keep_alive", "\"500ms\"")
        .edge("header_read_timeout", "\"500ms\"")
        .spawn()
        .await;
    let admin = gateway.admin.unwrap();
    let mut idle = tokio::net::TcpStream::connect(admin).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {admin}\r\n\r\n").as_bytes()).await.unwrap();
    let answer = read_answer(&mut idle, WAIT, "the idle admin connection to close", |_| false).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "answered, then closed: {answer}");

    let mut slow = tokio::net::TcpStream::connect(admin).await.unwrap();
    slow.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {admin}\r\nX-Slow: ").as_bytes()).await.unwrap();
    let answer = read_answer(&mut slow, WAIT, "the slow head to be cut off", |_| false).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A connection that says nothing at all is idle too.
    let mut silent = tokio::net::TcpStream::connect(admin).await.unwrap();
    assert_eq!(read_answer(&mut silent, WAIT, "the silent connection to close", |_| false).await, "");
}

/// A body of `len` bytes sent in 1 MiB chunks without a Content-Length, so
/// the gateway cannot refuse it before reading.
fn chunked(len: u64) -> Body {
    let chunk = Bytes::from(vec![0u8; MB as usize]);
    let chunks = (0..len.div_ceil(MB)).map(move |_| Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk.clone())));
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)))
}

/// A declared length over the limit is refused unread, a streamed one once
/// it passes the limit; the limit is a setting; while one upload is in
/// progress the next gets a 429.
pub async fn uploads_are_one_at_a_time_and_bounded_in_size() {
    let dir = tempfile::tempdir().unwrap();
    let teapot = policies::bytes(policies::TEAPOT);
    let limit = teapot.len() as u64 + 10;
    let gateway = GatewayBuilder::new()
        .policy_dir(dir.path())
        .admin_key("max_upload_bytes", &limit.to_string())
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let admin = gateway.admin();
    assert_eq!(admin.put("/policies/teapot", teapot.clone()).await.status, 200, "under the limit");
    let declared = admin.put("/policies/big", vec![0; limit as usize + 1]).await;
    assert_eq!(declared.status, 413, "{}", declared.text());
    assert!(declared.text().contains("max_upload_bytes"), "{}", declared.text());
    let streamed = admin.builder(Method::PUT, "/policies/big").body(chunked(3 * MB)).unwrap();
    let streamed = admin.send(streamed).await;
    assert_eq!(streamed.status, 413, "{}", streamed.text());
    assert!(!dir.path().join("big.wasm").exists());

    // An upload that stalls holds the one slot; the next is refused at once.
    // The stalled upload itself is refused (429) when it arrives while one of
    // the probing uploads holds the slot: then it is sent again.
    let stall = || {
        let (stalled_tx, stalled_rx) = tokio::sync::mpsc::channel::<Bytes>(1);
        stalled_tx.try_send(Bytes::from_static(b"\0asm")).unwrap();
        let frames = futures_util::stream::unfold(stalled_rx, |mut rx| async move {
            rx.recv().await.map(|data| (Ok::<_, std::io::Error>(hyper::body::Frame::data(data)), rx))
        });
        let stalled =
            admin.builder(Method::PUT, "/policies/slow").body(BodyExt::boxed(StreamBody::new(frames))).unwrap();
        let task = tokio::spawn({
            let admin = admin.clone();
            async move { admin.send(stalled).await }
        });
        (stalled_tx, task)
    };
    let (mut stalled_tx, mut stalled) = stall();
    let busy = within(WAIT, "a 429 while the slot is held", async {
        loop {
            if stalled.is_finished() {
                let refused = (&mut stalled).await.unwrap();
                assert_eq!(refused.status, 429, "the stalled upload ended early: {}", refused.text());
                (stalled_tx, stalled) = stall();
            }
            let response = admin.put("/policies/teapot", teapot.clone()).await;
            match response.status.as_u16() {
                // The stalled upload has not taken the slot yet.
                200 => tokio::task::yield_now().await,
                _ => return response,
            }
        }
    })
    .await;
    assert_eq!(busy.status, 429, "{}", busy.text());
    assert!(busy.headers.contains_key("retry-after"));
    drop(stalled_tx);
    let stalled = stalled.await.unwrap();
    assert_eq!(stalled.status, 422, "the stalled upload ends when its body does: {}", stalled.text());
    assert_eq!(admin.put("/policies/teapot", teapot).await.status, 200, "the slot is free again");
}

/// The measurement: twelve parallel 63 MB uploads once took the
/// gateway from 50 MB to a 1.34 GB peak and left 574 MB in use. Streamed
/// without a Content-Length, so each must be read up to the limit.
pub async fn twelve_parallel_oversized_uploads_leave_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = GatewayBuilder::new().policy_dir(dir.path()).spawn().await;
    let admin = gateway.admin();
    assert_eq!(admin.get("/healthz").await.status, 200);
    let before = gateway.rss();
    let uploads = (0..12).map(|i| {
        let admin = admin.clone();
        async move {
            let request = admin.builder(Method::PUT, &format!("/policies/p{i}")).body(chunked(63 * MB)).unwrap();
            // The gateway waits a moment for the rest of a refused body, then closes:
            // a slow client may still meet a closed connection.
            admin.try_send(request).await.map(|r| r.status.as_u16())
        }
    });
    let statuses = futures_util::future::join_all(uploads).await;
    for status in &statuses {
        assert!(matches!(status, Ok(413 | 429) | Err(_)), "{statuses:?}");
    }
    assert!(statuses.contains(&Ok(413)), "one was read up to the limit: {statuses:?}");
    let after = gateway.rss();
    eprintln!("gateway RSS: {} MiB before, {} MiB after 12 parallel 63 MB uploads", before / MB, after / MB);
    assert!(after < before + 100 * MB, "RSS went from {} MiB to {} MiB", before / MB, after / MB);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written to policy.dir");
}
