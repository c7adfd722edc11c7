//! Accepts connections on every listener (plain HTTP and HTTPS) and serves
//! them with hyper (HTTP/1.1, and HTTP/2 by ALPN or prior knowledge), until
//! told to stop; then stops accepting and drains in-flight requests up to a
//! grace period.

use crate::proxy::drain::{Drain, DrainToken, Phase};
use crate::proxy::{Proxy, ProxyBody, Scheme};
use crate::tls::TlsTerminator;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// What a connection may do before it is closed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A request head not complete by then closes the connection (slowloris);
    /// it also bounds the TLS handshake.
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    /// A connection with no request in flight for this long is closed.
    pub idle_keep_alive: Duration,
}

pub struct Listener {
    pub tcp: TcpListener,
    /// Present on HTTPS listeners.
    pub tls: Option<Arc<TlsTerminator>>,
}

impl Listener {
    fn scheme(&self) -> Scheme {
        if self.tls.is_some() { Scheme::Https } else { Scheme::Http }
    }
}

pub async fn serve(
    listeners: Vec<Listener>,
    proxy: Arc<Proxy>,
    stop: impl Future<Output = ()>,
    limits: Limits,
    drain: Drain,
    grace: Duration,
) {
    let builder = Arc::new(builder(&limits));
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|listener| tokio::spawn(accept_loop(listener, proxy.clone(), builder.clone(), limits, drain.clone())))
        .collect();
    stop.await;
    // Aborting the loops drops the listeners: the ports close at once.
    for task in &accepting {
        task.abort();
    }
    for task in accepting {
        let _ = task.await;
    }
    tracing::info!(grace = ?grace, "stopped accepting; draining in-flight requests");
    if !drain.drain(grace).await {
        tracing::warn!("grace period over; dropping the remaining connections");
    }
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(limits.max_header_bytes as u32);
    builder
}

async fn accept_loop(
    listener: Listener,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    drain: Drain,
) {
    let scheme = listener.scheme();
    loop {
        let (stream, remote) = match listener.tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection =
            Connection { proxy: proxy.clone(), builder: builder.clone(), limits, remote, scheme, token: drain.token() };
        let tls = listener.tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(stream).await,
                Some(tls) => connection.serve_tls(stream, &tls).await,
            }
        });
    }
}

struct Connection {
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    remote: SocketAddr,
    scheme: Scheme,
    token: DrainToken,
}

impl Connection {
    async fn serve_tls(self, stream: TcpStream, tls: &TlsTerminator) {
        let handshake = tls.acceptor().accept(stream);
        match tokio::time::timeout(self.limits.header_read_timeout, handshake).await {
            Ok(Ok(stream)) => self.serve(stream).await,
            Ok(Err(e)) => tracing::debug!(remote = %self.remote, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(remote = %self.remote, "TLS handshake timed out"),
        }
    }

    async fn serve<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let (proxy, remote, scheme) = (self.proxy.clone(), self.remote, self.scheme);
        let tracked = activity.clone();
        let service = service_fn(move |request| {
            let (proxy, activity) = (proxy.clone(), tracked.clone());
            async move {
                let active = activity.begin();
                let response = proxy.handle_on(request, remote, scheme).await;
                Ok::<_, Infallible>(response.map(|body| ActiveBody { inner: body, _active: Some(active) }))
            }
        });
        let connection = self.builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = self.token.reached(Phase::Draining) => {}
            () = activity.idle_for(self.limits.idle_keep_alive) => {
                tracing::debug!(%remote, "idle keep-alive connection closed");
            }
        }
        connection.as_mut().graceful_shutdown();
        // Closing: the connection finishes its in-flight requests, unless
        // the grace period runs out first.
        let mut cut = self.token;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
            }
            () = cut.reached(Phase::Cut) => {}
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    born: Instant,
    active: AtomicUsize,
    /// Milliseconds after `born` of the last time the count went to zero.
    last_idle_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity { born: Instant::now(), active: AtomicUsize::new(0), last_idle_ms: AtomicU64::new(0) }
    }

    fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard { activity: self.clone() }
    }

    /// Resolves once nothing has been in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let wait = if self.active.load(Ordering::Acquire) > 0 {
                limit
            } else {
                let since = Duration::from_millis(self.last_idle_ms.load(Ordering::Acquire));
                let idle = self.born.elapsed().saturating_sub(since);
                match limit.checked_sub(idle) {
                    Some(left) if !left.is_zero() => left,
                    _ => return,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

struct ActiveGuard {
    activity: Arc<Activity>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let a = &self.activity;
        a.last_idle_ms.store(a.born.elapsed().as_millis() as u64, Ordering::Release);
        a.active.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted on the connection
    /// until its last frame: a long stream is not an idle connection.
    struct ActiveBody {
        #[pin]
        inner: ProxyBody,
        _active: Option<ActiveGuard>,
    }
}

impl Body for ActiveBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) | Poll::Ready(Some(Err(_))) = polled {
            this._active.take();
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
