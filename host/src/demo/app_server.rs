//! The demo app: a small HTTP server built into the paastis binary, so the
//! demo and the tests need nothing else installed. It can pretend to boot
//! slowly, and has a few endpoints that show what the gateway passes through.
//!
//! - `/`           a greeting with the pid and uptime
//! - `/echo`       streams the request body back
//! - `/count`      reads the whole request body, then answers its length
//! - `/inspect`    the request line and headers as JSON
//! - `/slow?ms=N`  answers after N ms
//! - `/bytes?n=N`  streams N bytes
//! - `/events?n=N&ms=M`  server-sent events: N events, M ms apart
//! - `/ws`         a WebSocket echo
//! - `/close-port` stops listening but keeps running (a dead upstream)

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Body = BoxBody<Bytes, hyper::Error>;

pub(crate) struct DemoApp {
    pub name: String,
    pub port: u16,
    pub boot_delay: Duration,
    /// How long it takes to exit after SIGTERM, like an app finishing its work.
    pub stop_delay: Duration,
}

struct AppInfo {
    name: String,
    started: Instant,
    close_port: tokio::sync::Notify,
    port_closed: tokio::sync::Notify,
}

impl DemoApp {
    pub(crate) async fn run(self) -> std::io::Result<()> {
        let started = Instant::now();
        // Stands in for a real app's boot: nothing listens until it is over.
        tokio::time::sleep(self.boot_delay).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        eprintln!("demo app {} ready on 127.0.0.1:{} after {:?}", self.name, self.port, self.boot_delay);
        let info = Arc::new(AppInfo {
            name: self.name,
            started,
            close_port: tokio::sync::Notify::new(),
            port_closed: tokio::sync::Notify::new(),
        });
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut listener = Some(listener);
        loop {
            let accept = async {
                match &listener {
                    Some(l) => l.accept().await,
                    None => std::future::pending().await,
                }
            };
            let (stream, _) = tokio::select! {
                accepted = accept => accepted?,
                () = info.close_port.notified() => {
                    eprintln!("demo app {} stopped listening", info.name);
                    listener = None;
                    info.port_closed.notify_one();
                    continue;
                }
                _ = terminate.recv() => {
                    eprintln!("demo app {} got SIGTERM; exiting in {:?}", info.name, self.stop_delay);
                    tokio::time::sleep(self.stop_delay).await;
                    return Ok(());
                }
            };
            let info = info.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let info = info.clone();
                    async move { Ok::<_, Infallible>(handle(&info, request).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

async fn handle(info: &AppInfo, request: Request<Incoming>) -> Response<Body> {
    if request.method() == hyper::Method::CONNECT {
        // An origin server: it tunnels nothing (the gateway passes this on).
        let mut response = text("405 method not allowed: this app does not tunnel CONNECT\n".to_owned());
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
        return response;
    }
    let query = request.uri().query().unwrap_or("").to_owned();
    match request.uri().path() {
        "/" => text(format!(
            "Hello from {}! (pid {}, up for {:.1}s)\n",
            info.name,
            std::process::id(),
            info.started.elapsed().as_secs_f64()
        )),
        "/echo" => {
            let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
            let mut response = Response::new(request.into_body().boxed());
            if let Some(ct) = content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            response
        }
        "/count" => match request.into_body().collect().await {
            Ok(body) => text(format!("received {} bytes\n", body.to_bytes().len())),
            Err(e) => {
                let mut response = text(format!("the body broke off: {e}\n"));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response
            }
        },
        "/inspect" => {
            let headers: Vec<(String, String)> = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = serde_json::json!({
                "app": info.name,
                "method": request.method().as_str(),
                "uri": request.uri().to_string(),
                "headers": headers,
            });
            text(body.to_string())
        }
        "/slow" => {
            let ms = number(&query, "ms").unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(format!("slept {ms} ms\n"))
        }
        "/bytes" => bytes(number(&query, "n").unwrap_or(0)),
        "/events" => events(number(&query, "n").unwrap_or(3), number(&query, "ms").unwrap_or(100)),
        "/ws" => websocket(request),
        "/close-port" => {
            info.close_port.notify_one();
            // Answer once nothing can connect any more, and close this
            // connection too: from then on the port refuses.
            info.port_closed.notified().await;
            let mut response = text("port closed\n".to_owned());
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            response
        }
        _ => {
            let mut response = text("not found\n".to_owned());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

fn number(query: &str, key: &str) -> Option<u64> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key)?.1.parse().ok()
}

fn text(body: String) -> Response<Body> {
    Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed())
}

/// N bytes of a repeating pattern, in 64 KiB frames, never all in memory.
fn bytes(total: u64) -> Response<Body> {
    const CHUNK: u64 = 64 * 1024;
    let pattern: Bytes = (0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let frames = stream::iter((0..total.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(total - i * CHUNK) as usize;
        Ok::<_, hyper::Error>(Frame::data(pattern.slice(0..len)))
    }));
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    response.headers_mut().insert(header::CONTENT_LENGTH, total.into());
    response
}

/// `n` server-sent events, `ms` apart, each sent as soon as it is due.
fn events(n: u64, ms: u64) -> Response<Body> {
    let frames = stream::unfold(0u64, move |i| async move {
        if i >= n {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some((Ok::<_, hyper::Error>(Frame::data(Bytes::from(format!("data: event {i}\n\n")))), i + 1))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

/// Answers the WebSocket handshake, then echoes every text and binary
/// message until the client closes.
fn websocket(mut request: Request<Incoming>) -> Response<Body> {
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let Some(key) = request.headers().get("sec-websocket-key") else {
        let mut response = text("expected a WebSocket handshake\n".to_owned());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    if let Ok(value) = header::HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}
