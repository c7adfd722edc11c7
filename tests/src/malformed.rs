//! Requests the gateway answers itself because they are ambiguous or
//! broken: two Host headers, an HTTP/2 `host` unlike `:authority`, a
//! malformed chunked body. An absolute request target names its app over
//! the Host header.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, TestGateway, within};
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(20);

/// Sends `raw` on a fresh connection and reads the answer until the
/// gateway closes the connection (every request here says `close`).
async fn exchange(gateway: &TestGateway, raw: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    crate::support::raw::read_answer(&mut stream, WAIT, "the gateway's answer", |_| false).await
}

async fn two_apps() -> TestGateway {
    GatewayBuilder::new().app(AppBuilder::new("alpha")).app(AppBuilder::new("beta")).spawn().await
}

/// Two Host headers: a front proxy might read one and the gateway the
/// other, so neither app gets it. An absolute-form target's authority wins
/// over Host (RFC 9112 §3.2.2).
pub async fn the_host_is_never_ambiguous() {
    let gateway = two_apps().await;
    let doubled = "GET / HTTP/1.1\r\nHost: alpha.localhost\r\nHost: beta.localhost\r\nConnection: close\r\n\r\n";
    let answer = exchange(&gateway, doubled).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("more than one Host header"), "{answer}");

    let absolute = "GET http://beta.localhost/ HTTP/1.1\r\nHost: alpha.localhost\r\nConnection: close\r\n\r\n";
    let answer = exchange(&gateway, absolute).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Hello from beta!"), "{answer}");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "alpha"), 0, "alpha was never asked");
}

/// HTTP/2 (h2c, prior knowledge): a `host` header that disagrees with
/// `:authority` is refused (RFC 9113 §8.3.1), and neither app is woken.
pub async fn an_h2_host_unlike_its_authority_gets_400() {
    let gateway = two_apps().await;
    let mut h2 = crate::support::client::h2c(gateway.addr).await;
    let mut send = async |authority: &str, host: &str| {
        let request = http::Request::get(format!("http://{authority}/")).header("host", host).body(empty()).unwrap();
        let response = within(WAIT, "an h2 answer", h2.send_request(request)).await.expect("an h2 answer");
        assert_eq!(response.version(), http::Version::HTTP_2);
        let status = response.status();
        let body = within(WAIT, "the h2 body", response.into_body().collect()).await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };

    let (status, body) = send("alpha.localhost", "beta.localhost").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("differs from :authority"), "{body}");
    let logs = gateway.logs_caught_up().await;
    assert_eq!(logs.count("waking app", "alpha"), 0, "alpha was never asked");
    assert_eq!(logs.count("waking app", "beta"), 0, "beta was never asked");

    // The same connection with an agreeing (case aside) host reaches the app.
    let (status, body) = send("beta.localhost", "Beta.localhost").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello from beta!"), "{body}");
}

/// A chunked body that breaks off into garbage is the client's fault: a
/// 400 from the gateway, not a 502 blaming the app.
pub async fn a_malformed_chunked_body_gets_400() {
    let gateway = two_apps().await;
    let awake = gateway.client().get("alpha.localhost", "/").await;
    assert_eq!(awake.status, 200);
    // An app that answers only after the whole body (here: long after),
    // so the body's failure comes first; `/echo` would answer 200 at once
    // and race it.
    let raw = "POST /slow?ms=30000 HTTP/1.1\r\nHost: alpha.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
               5\r\nhello\r\nzz-not-a-size\r\n\r\n";
    let answer = exchange(&gateway, raw).await;
    // hyper may close the connection on the body's read error before the
    // answer is written (a race with the handler): then the client sees
    // nothing, and the access log still says what the gateway answered.
    // Never a 502.
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.is_empty() || answer.contains("request body"), "{answer}");
    let logged = gateway.logs.wait_for_nth("request", "alpha", 2, WAIT).await;
    assert_eq!(logged["path"], "/slow?ms=30000", "{logged}");
    assert_eq!(logged["status"], 400, "the access log says what the client got: {logged}");
}
