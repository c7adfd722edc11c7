//! CONNECT goes to the app like any request (waking it): a 2xx answer makes
//! the connection a tunnel to the app, any other answer reaches the client
//! as the app gave it, and the access log shows what the client got. Over
//! HTTP/2 the CONNECT stream is the tunnel.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, python3, within};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(20);

/// Reads a response head (up to the blank line), byte by byte so that
/// nothing after it is consumed.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    within(WAIT, "a response head", async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => head.push(byte[0]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&head).into_owned()
}

/// The demo app tunnels nothing: its 405 reaches the client, and the
/// access log says 405.
pub async fn connect_gets_405() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("alpha")).spawn().await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let raw = "CONNECT alpha.localhost:80 HTTP/1.1\r\nHost: alpha.localhost:80\r\n\r\n";
    stream.write_all(raw.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    assert!(head.to_ascii_lowercase().contains("allow: "), "{head}");
    let logged = gateway.logs.wait_for("request", "alpha", WAIT).await;
    assert_eq!(logged["method"], "CONNECT", "{logged}");
    assert_eq!(logged["status"], 405, "the access log says what the client got: {logged}");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "alpha"), 1, "a CONNECT wakes its app");
}

/// An app that accepts CONNECT: 200, then whatever it receives comes back
/// prefixed, until the client closes. Any other request gets a 200 "ok"
/// (the readiness probe).
const TUNNELLING_APP: &str = r#"
import os, socketserver
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        if not line.startswith(b"CONNECT "):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(b"echo:" + data)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// A sleeping app that answers CONNECT with 200 is woken, and bytes flow
/// both ways through the tunnel; the access log says 200.
pub async fn connect_tunnels_when_the_app_answers_2xx() {
    let app = AppBuilder::new("tunnel").command(&[python3(), "-c", TUNNELLING_APP]);
    let gateway = GatewayBuilder::new().app(app).spawn().await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let raw = "CONNECT tunnel.localhost:443 HTTP/1.1\r\nHost: tunnel.localhost:443\r\n\r\n";
    stream.write_all(raw.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for message in ["ping", "a second message"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        let expected = format!("echo:{message}");
        let mut got = vec![0u8; expected.len()];
        within(WAIT, "the app's echo through the tunnel", stream.read_exact(&mut got)).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
    let logged = gateway.logs.wait_for("request", "tunnel", WAIT).await;
    assert_eq!(logged["method"], "CONNECT", "{logged}");
    assert_eq!(logged["status"], 200, "{logged}");
    assert_eq!(logged["cold_start"], true, "the CONNECT woke the app: {logged}");
    // The client closes; the app sees the end of the stream and closes too.
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within(WAIT, "the tunnel closed from the app's side", stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

/// The same over HTTP/2 (h2c, prior knowledge): the CONNECT stream becomes
/// the tunnel (the app is still spoken to over HTTP/1.1).
pub async fn an_h2_connect_tunnels_when_the_app_answers_2xx() {
    let app = AppBuilder::new("tunnel").command(&[python3(), "-c", TUNNELLING_APP]);
    let gateway = GatewayBuilder::new().app(app).spawn().await;
    let mut h2 = crate::support::client::h2c(gateway.addr).await;
    let request = http::Request::connect("tunnel.localhost:443").body(empty()).unwrap();
    let response = within(WAIT, "the CONNECT's answer", h2.send_request(request)).await.expect("an h2 answer");
    assert_eq!(response.status(), 200);
    let upgraded = within(WAIT, "the h2 tunnel", hyper::upgrade::on(response)).await.expect("an upgraded stream");
    let mut tunnel = hyper_util::rt::TokioIo::new(upgraded);
    for message in ["ping", "a second message"] {
        tunnel.write_all(message.as_bytes()).await.unwrap();
        let expected = format!("echo:{message}");
        let mut got = vec![0u8; expected.len()];
        within(WAIT, "the app's echo through the h2 tunnel", tunnel.read_exact(&mut got)).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
    let logged = gateway.logs.wait_for("request", "tunnel", WAIT).await;
    assert_eq!(logged["method"], "CONNECT", "{logged}");
    assert_eq!(logged["status"], 200, "{logged}");
}
