//! The hyper floor: the least a reverse proxy on Paastis's HTTP stack costs
//! on this machine, to tell how much of Paastis's gap to nginx is the stack
//! (hyper 1 + hyper-util + tokio) and how much is Paastis's own.
//!
//! It accepts on a TCP listener, serves HTTP/1.1 and h2c (hyper-util's auto
//! builder, as the gateway does), and forwards every request to one fixed
//! upstream over pooled keep-alive HTTP/1.1 connections, streaming the
//! response back. The same runtime as the gateway (tokio multi-thread, one
//! worker per core), the same allocator (jemalloc, two arenas), TCP_NODELAY
//! on both sides as the gateway sets it. No policy, no routing, no header
//! rewriting, no logging, no metrics, no timeouts: not a proxy to deploy.
//!
//! ```text
//! CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO=off cargo build --release --locked -p paastis --example hyper_floor
//! target/release/examples/hyper_floor LISTEN UPSTREAM [legacy|conn [TLS_LISTEN CERT_PEM KEY_PEM]]
//! target/release/examples/hyper_floor 127.0.0.1:8080 127.0.0.1:9000 conn
//! target/release/examples/hyper_floor 127.0.0.1:8080 127.0.0.1:9000 conn 127.0.0.1:8443 cert.pem key.pem
//! ```
//!
//! With a TLS listener, it also terminates TLS there as the gateway does
//! (rustls on ring, h2 and http/1.1 by ALPN, one certificate), so that the
//! HTTPS gap to nginx can be split between the stack and Paastis too.
//!
//! Two clients towards the upstream: `legacy` (the default) is hyper-util's
//! pooled `Client`; `conn` is hyper's connection API with a tiny pool of
//! idle connections (a stack of senders, one lock to take, one to give
//! back when the response body ends), the way Paastis's `upstream/` does it.
//!
//! `host/benches/vs_nginx.sh` builds it when `FLOOR` is not given, and runs
//! it as the rows `floor` (legacy) and `floor-conn`, in front of the nginx
//! proxy's own upstream, interleaved with nginx and the Paastis gateways.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The gateway's allocator, with its options (see `host/src/main.rs`), so
/// the floor differs from Paastis only by what Paastis does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: Option<&'static std::ffi::c_char> =
    Some(unsafe { &*c"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

type ProxyBody = BoxBody<Bytes, hyper::Error>;

const USAGE: &str =
    "usage: hyper_floor LISTEN UPSTREAM [legacy|conn [TLS_LISTEN CERT_PEM KEY_PEM]]  (addresses as host:port)";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper_floor: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, upstream, mode, tls) = match args.as_slice() {
        [listen, upstream] => (listen, upstream, "legacy", None),
        [listen, upstream, mode] => (listen, upstream, mode.as_str(), None),
        [listen, upstream, mode, tls_listen, cert, key] => {
            (listen, upstream, mode.as_str(), Some((tls_listen, cert, key)))
        }
        _ => return Err(USAGE.into()),
    };
    let listen: SocketAddr = listen.parse().map_err(|e| format!("listen address {listen:?}: {e}\n{USAGE}"))?;
    let upstream: SocketAddr = upstream.parse().map_err(|e| format!("upstream address {upstream:?}: {e}\n{USAGE}"))?;
    let forward = match mode {
        "legacy" => Forward::legacy(upstream),
        "conn" => Forward::Conn(Arc::new(ConnPool::new(upstream))),
        other => return Err(format!("client {other:?}: legacy or conn\n{USAGE}")),
    };
    let tls = match tls {
        Some((tls_listen, cert, key)) => {
            let addr: SocketAddr =
                tls_listen.parse().map_err(|e| format!("TLS listen address {tls_listen:?}: {e}\n{USAGE}"))?;
            Some((addr, tls_acceptor(cert, key)?))
        }
        None => None,
    };
    // As the gateway's runtime (cli/mod.rs): multi-thread, a worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
        let forward = Arc::new(forward);
        if let Some((addr, acceptor)) = tls {
            let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            tokio::spawn(serve(listener, builder.clone(), forward.clone(), Some(acceptor)));
        }
        let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        serve(listener, builder, forward, None).await;
        Ok(())
    })
}

/// TLS as the gateway terminates it (tls/mod.rs): rustls on ring, its safe
/// default versions, h2 and http/1.1 by ALPN.
fn tls_acceptor(cert: &str, key: &str) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key {key}: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| format!("TLS configuration: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    listener: TcpListener,
    builder: Arc<auto::Builder<TokioExecutor>>,
    forward: Arc<Forward>,
    tls: Option<TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin.
                eprintln!("hyper_floor: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let forward = forward.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let forward = forward.clone();
                async move { Ok::<_, std::convert::Infallible>(forward.send(request).await) }
            });
            // A client that goes away mid-request (or mid-handshake) is its own business.
            match tls {
                None => {
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}

enum Forward {
    Legacy { client: Box<Client<HttpConnector, Incoming>>, authority: http::uri::Authority },
    Conn(Arc<ConnPool>),
}

impl Forward {
    fn legacy(upstream: SocketAddr) -> Forward {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let client = Box::new(Client::builder(TokioExecutor::new()).build(http));
        // A SocketAddr always makes a valid authority.
        let authority = upstream.to_string().parse().unwrap_or_else(|_| unreachable!("host:port"));
        Forward::Legacy { client, authority }
    }

    async fn send(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let request = to_upstream(request);
        match self {
            Forward::Legacy { client, authority } => {
                let (mut parts, body) = request.into_parts();
                let mut uri = std::mem::take(&mut parts.uri).into_parts();
                uri.scheme = Some(http::uri::Scheme::HTTP);
                uri.authority = Some(authority.clone());
                if uri.path_and_query.is_none() {
                    uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
                }
                parts.uri = match Uri::from_parts(uri) {
                    Ok(uri) => uri,
                    Err(e) => return bad_gateway(&e),
                };
                match client.request(Request::from_parts(parts, body)).await {
                    Ok(response) => response.map(BodyExt::boxed),
                    Err(e) => bad_gateway(&e),
                }
            }
            Forward::Conn(pool) => match pool.send(request).await {
                Ok(response) => response,
                Err(e) => bad_gateway(&e),
            },
        }
    }
}

/// The request as it goes upstream: HTTP/1.1, origin-form target, a Host
/// header (h2 requests carry `:authority` in the URI instead).
fn to_upstream(mut request: Request<Incoming>) -> Request<Incoming> {
    if !request.headers().contains_key(header::HOST)
        && let Some(host) = request.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    if request.uri().authority().is_some() {
        let path = request.uri().path_and_query().cloned();
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = path;
        *request.uri_mut() = Uri::from_parts(parts).unwrap_or_default();
    }
    *request.version_mut() = http::Version::HTTP_11;
    request
}

fn bad_gateway(error: &dyn std::fmt::Display) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("bad gateway: {error}\n"))).map_err(|never| match never {}).boxed(),
    );
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

/// Idle HTTP/1.1 connections to the one upstream, newest first.
struct ConnPool {
    upstream: SocketAddr,
    idle: Mutex<Vec<SendRequest<Incoming>>>,
}

impl ConnPool {
    fn new(upstream: SocketAddr) -> ConnPool {
        ConnPool { upstream, idle: Mutex::new(Vec::new()) }
    }

    /// The newest idle connection that is still open, once ready (its task
    /// may not yet have seen the end of the body that gave it back).
    async fn checkout(&self) -> Option<SendRequest<Incoming>> {
        loop {
            let mut sender = {
                let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                loop {
                    let sender = idle.pop()?;
                    if !sender.is_closed() {
                        break sender;
                    }
                }
            };
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn give_back(&self, sender: SendRequest<Incoming>) {
        if !sender.is_closed() {
            self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Incoming>, String> {
        let stream = TcpStream::connect(self.upstream).await.map_err(|e| format!("connect {}: {e}", self.upstream))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake with {}: {e}", self.upstream))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn send(self: &Arc<Self>, mut request: Request<Incoming>) -> Result<Response<ProxyBody>, String> {
        if let Some(mut sender) = self.checkout().await {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.handed_back(response, sender)),
                // Closed before the request went out: once more, fresh.
                Err(mut e) => match e.take_message() {
                    Some(untouched) => request = untouched,
                    None => return Err(format!("exchange with {}: {}", self.upstream, e.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        match sender.send_request(request).await {
            Ok(response) => Ok(self.handed_back(response, sender)),
            Err(e) => Err(format!("exchange with {}: {e}", self.upstream)),
        }
    }

    fn handed_back(
        self: &Arc<Self>,
        response: Response<Incoming>,
        sender: SendRequest<Incoming>,
    ) -> Response<ProxyBody> {
        let reusable =
            !response.headers().get(header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let back = reusable.then(|| (self.clone(), sender));
        response.map(|inner| Returning { inner, back }.boxed())
    }
}

/// A response body that gives its connection back to the pool at its end.
struct Returning {
    inner: Incoming,
    back: Option<(Arc<ConnPool>, SendRequest<Incoming>)>,
}

impl Returning {
    fn ended(&mut self) {
        if let Some((pool, sender)) = self.back.take() {
            pool.give_back(sender);
        }
    }
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.ended(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.ended(),
            // An error ends the body; its connection is not given back.
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
