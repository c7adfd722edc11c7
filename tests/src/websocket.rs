//! Upgrades: a WebSocket tunnels both ways through the gateway, wakes its
//! app, and keeps it awake while open.

use crate::support::{AppBuilder, GatewayBuilder};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(addr: std::net::SocketAddr, host: &str) -> (Ws, http::HeaderMap) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect to the gateway");
    let (ws, response) =
        tokio_tungstenite::client_async(format!("ws://{host}/ws"), tcp).await.expect("WebSocket handshake");
    (ws, response.headers().clone())
}

async fn echo(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
    let answer = crate::support::within(WAIT, "the echo", ws.next()).await;
    match answer {
        Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), text),
        other => panic!("expected the echo of {text:?}, got {other:?}"),
    }
}

/// The upgrade request is the one that wakes the app.
pub async fn a_websocket_echoes_through_an_app_woken_by_the_upgrade() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello").boot_delay("200ms")).spawn().await;
    let (mut ws, headers) = open(gateway.addr, "hello.localhost").await;
    assert_eq!(headers.get("x-paastis-cold-start").map(|v| v.as_bytes()), Some(&b"1"[..]));
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 1);
    echo(&mut ws, "ping").await;
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], &[0u8, 1, 2, 255]),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    ws.close(None).await.unwrap();
}

/// The idle timeout passes several times over while a WebSocket is open:
/// the app stays up; once it closes, the idle clock runs from its end.
pub async fn a_live_websocket_keeps_its_app_awake() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("300ms")
        .app(AppBuilder::new("hello"))
        .app(AppBuilder::new("clock"))
        .spawn()
        .await;
    let (mut ws, _) = open(gateway.addr, "hello.localhost").await;
    echo(&mut ws, "first").await;
    // Another app's slow answer marks the passing of 2 s (about 20 ticks
    // and 6 idle timeouts) without this test sleeping.
    let clock = gateway.client().get("clock.localhost", "/slow?ms=2000").await;
    assert_eq!(clock.status, 200);
    assert_eq!(
        gateway.logs_caught_up().await.count("putting app to sleep", "hello"),
        0,
        "slept under a live WebSocket"
    );
    echo(&mut ws, "still there").await;
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    drop(ws);
    let slept = gateway.logs.wait_for("app put to sleep", "hello", WAIT).await;
    assert_eq!(slept["reason"], "policy");
}
