//! `edge.max_connections`: at the limit the proxy stops accepting, so the
//! next connections wait in the listen backlog and are served as soon as
//! one closes; the admin API keeps its own connections meanwhile; and the
//! log says so once per episode, not once per waiting connection.

use crate::support::{AppBuilder, GatewayBuilder, TestGateway, within};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);
const LIMIT_REACHED: &str = "connection limit reached: new connections wait in the listen backlog until one closes";

/// A keep-alive connection, proven accepted by an answer, then left idle.
struct Held {
    sender: SendRequest<Empty<Bytes>>,
    task: JoinHandle<()>,
}

impl Held {
    async fn open(gateway: &TestGateway, nth: usize) -> Held {
        let stream = TcpStream::connect(gateway.addr).await.expect("connect");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut held = Held { sender, task };
        held.get(&format!("/?held={nth}")).await;
        held
    }

    async fn get(&mut self, path: &str) {
        // The previous answer may still be in flight on a busy machine
        // (only its head was awaited): a send before then fails at once.
        within(WAIT, "the held connection ready again", self.sender.ready()).await.expect("still open");
        let request = http::Request::get(path).header("host", "alpha.localhost").body(Empty::new()).expect("request");
        let answer = within(WAIT, "an answer on a held connection", self.sender.send_request(request)).await;
        assert_eq!(answer.expect("an answer").status(), 200);
    }

    /// Closes the socket: the connection's task owns it.
    async fn close(self) {
        drop(self.sender);
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Whether a connection has been answered yet, without waiting.
fn unanswered(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Reads a `Connection: close` answer whole.
async fn answer_of(stream: &mut TcpStream, name: &str) -> String {
    let mut answer = Vec::new();
    within(WAIT, &format!("the {name} connection's answer"), stream.read_to_end(&mut answer)).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Writes a request on a fresh connection, which may wait in the backlog.
async fn waiting_request(gateway: &TestGateway, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect (the backlog accepts it)");
    let raw = format!("GET {path} HTTP/1.1\r\nHost: alpha.localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(raw.as_bytes()).await.expect("write");
    stream
}

/// Eight idle connections fill a gateway with `max_connections = 8`; a
/// ninth and a tenth wait unanswered while the admin API still answers;
/// each is served once a held connection closes. One warning in all.
pub async fn at_the_limit_new_connections_wait_and_the_admin_api_answers() {
    let gateway = GatewayBuilder::new()
        .edge("max_connections", "8")
        .admin_token("secret")
        .app(AppBuilder::new("alpha"))
        .spawn()
        .await;
    let mut held = Vec::new();
    for nth in 0..8 {
        held.push(Held::open(&gateway, nth).await);
    }
    let mut ninth = waiting_request(&gateway, "/?waiting=9").await;
    let mut tenth = waiting_request(&gateway, "/?waiting=10").await;
    // The operator gets through: the admin API has its own connections.
    let apps = within(WAIT, "the admin API", gateway.admin().with_token("secret").get("/apps")).await;
    assert_eq!(apps.status, 200, "{}", apps.text());
    gateway.logs.wait_for(LIMIT_REACHED, "", WAIT).await;
    // A request on a held connection, sent after the waiting ones, is
    // answered and logged: the gateway is serving, and the waiting ones had
    // their chance to be.
    held[0].get("/?after=1").await;
    let after = gateway.logs.wait_until("request", |v| v["path"] == "/?after=1", 1, WAIT).await;
    assert!(after.is_some(), "{}", gateway.logs.dump());
    assert!(unanswered(&ninth), "the ninth connection was served over the limit");
    assert!(unanswered(&tenth), "the tenth connection was served over the limit");
    assert_eq!(
        gateway.logs.matching("request", |v| v["path"].as_str().is_some_and(|p| p.contains("waiting"))).len(),
        0
    );

    // One closes: a waiting connection is served; another: the other one.
    held.pop().expect("held").close().await;
    held.pop().expect("held").close().await;
    for (name, stream) in [("ninth", &mut ninth), ("tenth", &mut tenth)] {
        let mut answer = Vec::new();
        within(WAIT, &format!("the {name} connection's answer"), stream.read_to_end(&mut answer)).await.expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
    }
    for held in held {
        held.close().await;
    }
    let logs = gateway.logs_caught_up().await;
    assert_eq!(logs.count(LIMIT_REACHED, ""), 1, "one warning for the episode:\n{}", logs.dump());
}

/// A WebSocket's connection leaves HTTP for a tunnel, and keeps its place:
/// with `max_connections = 2`, a tunnel and a held connection make the
/// next one wait until the tunnel closes.
pub async fn a_tunnel_keeps_its_connection_counted() {
    let gateway = GatewayBuilder::new().edge("max_connections", "2").app(AppBuilder::new("alpha")).spawn().await;
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let (mut ws, _) =
        tokio_tungstenite::client_async("ws://alpha.localhost/ws", tcp).await.expect("WebSocket handshake");
    ws.send(Message::text("ping")).await.expect("send");
    let echo = within(WAIT, "the echo", ws.next()).await;
    assert!(matches!(echo, Some(Ok(Message::Text(ref t))) if t.as_str() == "ping"), "{echo:?}");
    let mut held = Held::open(&gateway, 0).await;
    let mut waiting = waiting_request(&gateway, "/?waiting=1").await;
    held.get("/?after=1").await;
    let after = gateway.logs.wait_until("request", |v| v["path"] == "/?after=1", 1, WAIT).await;
    assert!(after.is_some(), "{}", gateway.logs.dump());
    assert!(unanswered(&waiting), "served while a tunnel and a held connection fill the limit");
    ws.close(None).await.expect("close");
    drop(ws);
    let answer = answer_of(&mut waiting, "waiting").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    held.close().await;
}
