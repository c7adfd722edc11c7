//! Request bodies and the two timers around them: a slow upload is bounded
//! by its own idle timer (`request_body_timeout`), not by
//! `upstream_response_timeout`, which starts once the body has been sent;
//! a client that stalls mid-body gets a 408 from the gateway, which does not
//! blame the app; an app that takes no body gets the 504.

use crate::support::raw::read_answer;
use crate::support::{AppBuilder, GatewayBuilder, TestGateway, within};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(20);

async fn awake(gateway: &TestGateway) {
    let woke = gateway.client().get("alpha.localhost", "/").await;
    assert_eq!(woke.status, 200, "{}", woke.text());
}

/// Seven chunks 300 ms apart (about 2 s) to `/count`, which answers only
/// once it has the whole body: twice the 1 s response timeout, and
/// answered.
pub async fn a_slow_upload_outlasts_the_response_timeout() {
    let gateway = GatewayBuilder::new()
        .edge("upstream_response_timeout", "\"1s\"")
        .edge("request_body_timeout", "\"5s\"")
        .app(AppBuilder::new("alpha"))
        .spawn()
        .await;
    awake(&gateway).await;
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    let trickle = tokio::spawn(async move {
        for i in 0..7 {
            if i > 0 {
                // The client's pace: the scenario itself, not a wait.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let chunk = Frame::data(Bytes::from(vec![b'x'; 1000]));
            if chunks.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
    });
    let body = StreamBody::new(tokio_stream(body)).boxed();
    let request = gateway.client().builder("alpha.localhost", "/count").method("POST").body(body).expect("request");
    let answer = within(WAIT, "the slow upload's answer", gateway.client().send(request)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "received 7000 bytes\n");
    trickle.await.expect("the trickle ran");
    let logged = gateway.logs.wait_until("request", |v| v["path"] == "/count", 1, WAIT).await;
    let logged = logged.unwrap_or_else(|| panic!("no access line for /count:\n{}", gateway.logs.dump()));
    assert_eq!(logged["status"], 200, "{logged}");
}

/// A client that sends a tenth of its announced body, then nothing: the
/// gateway answers 408 once `request_body_timeout` has passed, and the
/// access log says 408, not a 502 or a 504 that would blame the app.
pub async fn a_client_that_stalls_mid_body_gets_408() {
    let gateway = GatewayBuilder::new()
        .edge("request_body_timeout", "\"1s\"")
        .edge("upstream_response_timeout", "\"30s\"")
        .app(AppBuilder::new("alpha"))
        .spawn()
        .await;
    awake(&gateway).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let head = "POST /count HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 100\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 10]).await.unwrap();
    // The write half stays open: the client is silent, not gone.
    let answer = read_answer(&mut stream, WAIT, "the gateway's 408", |a| a.contains("request_body_timeout")).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_body_timeout"), "{answer}");
    let logged = gateway.logs.wait_until("request", |v| v["path"] == "/count", 1, WAIT).await;
    let logged = logged.unwrap_or_else(|| panic!("no access line for /count:\n{}", gateway.logs.dump()));
    assert_eq!(logged["status"], 408, "the access log says what the client got: {logged}");
    // The app served on, and nothing blamed it.
    awake(&gateway).await;
    let logs = gateway.logs_caught_up().await;
    let blamed = logs.matching("request", |v| v["status"] == 502 || v["status"] == 504);
    assert!(blamed.is_empty(), "{blamed:?}");
}

/// The app answered at once (`/echo` streams the body back), then the
/// client stalls: the head is out, so no 408, but the idle timer still
/// ends the request: the client's connection is cut rather than held open.
pub async fn a_stalled_body_is_cut_even_after_the_app_answered() {
    let gateway =
        GatewayBuilder::new().edge("request_body_timeout", "\"1s\"").app(AppBuilder::new("alpha")).spawn().await;
    awake(&gateway).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"0123456789").await.unwrap();
    // Read until the gateway ends the connection; the write half stays open.
    let answer = read_answer(&mut stream, WAIT, "the gateway to cut the stalled request", |_| false).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("0123456789"), "the echo of what came: {answer}");
}

/// An app that reads no body and does not answer (`/slow`): the client's
/// upload goes on until the app's socket is full, then the response timeout
/// runs and the client gets a 504 that names the app.
pub async fn an_app_that_takes_no_body_gets_504() {
    let gateway = GatewayBuilder::new()
        .edge("upstream_response_timeout", "\"1s\"")
        .edge("request_body_timeout", "\"30s\"")
        .app(AppBuilder::new("alpha"))
        .spawn()
        .await;
    awake(&gateway).await;
    // Far more than the sockets between gateway and app buffer; sent as
    // fast as the gateway takes it.
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        for _ in 0..4096 {
            if chunks.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                return;
            }
        }
    });
    let body = StreamBody::new(tokio_stream(body)).boxed();
    let request = gateway
        .client()
        .builder("alpha.localhost", "/slow?ms=60000")
        .method("POST")
        .header("content-length", (4096 * 64 * 1024).to_string())
        .body(body)
        .expect("request");
    let answer = within(WAIT, "the 504", gateway.client().try_send(request)).await;
    match answer {
        Ok(answer) => {
            assert_eq!(answer.status, 504, "{}", answer.text());
            assert!(answer.text().contains("did not read the request body"), "{}", answer.text());
        }
        // The gateway may answer and close while the client still writes;
        // then the access log says what it answered.
        Err(e) => eprintln!("the client saw: {e}"),
    }
    let logged = gateway.logs.wait_until("request", |v| v["path"] == "/slow?ms=60000", 1, WAIT).await;
    let logged = logged.unwrap_or_else(|| panic!("no access line for /slow:\n{}", gateway.logs.dump()));
    assert_eq!(logged["status"], 504, "{logged}");
}

/// The receiving end of a channel as a stream of frames.
fn tokio_stream<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
