//! Accepts connections on every listener (plain HTTP and HTTPS) and serves
//! them with hyper (HTTP/1.1, and HTTP/2 by ALPN or prior knowledge), until
//! told to stop; then stops accepting and drains in-flight requests up to a
//! grace period.

use super::conn_limit::{AcceptErrors, ConnectionLimit};
use super::conn_watch::{Activity, Expiry, WatchedIo};
use super::on_wake::OnWake;
use crate::proxy::drain::{Drain, DrainToken, Phase};
use crate::proxy::{ConnectionSlot, GuardedBody, Peer, Proxy, ResponseTimers, Scheme};
use crate::tls::TlsTerminator;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// What a connection may do before it is closed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// A request head not complete by then closes the connection (slowloris);
    /// it also bounds the TLS handshake.
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    /// A connection with no request in flight for this long is closed.
    pub idle_keep_alive: Duration,
}

pub(super) struct Listener {
    pub tcp: TcpListener,
    /// Present on HTTPS listeners.
    pub tls: Option<Arc<TlsTerminator>>,
}

impl Listener {
    fn scheme(&self) -> Scheme {
        if self.tls.is_some() { Scheme::Https } else { Scheme::Http }
    }
}

pub(super) async fn serve(
    listeners: Vec<Listener>,
    proxy: Arc<Proxy>,
    stop: impl Future<Output = ()>,
    limits: Limits,
    connections: Arc<ConnectionLimit>,
    drain: Drain,
    grace: Duration,
) {
    let builder = Arc::new(builder(&limits));
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (proxy, builder, drain) = (proxy.clone(), builder.clone(), drain.clone());
            tokio::spawn(accept_loop(listener, proxy, builder, limits, connections.clone(), drain))
        })
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
    // The header read timeout is `conn_watch`'s: hyper's would also cut
    // idle keep-alive connections.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None).max_buf_size(limits.max_header_bytes);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(limits.max_header_bytes as u32);
    builder
}

async fn accept_loop(
    listener: Listener,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    connections: Arc<ConnectionLimit>,
    drain: Drain,
) {
    let scheme = listener.scheme();
    let mut errors = AcceptErrors::default();
    loop {
        // Taken before accepting: at the limit, the next connection waits
        // in the listen backlog instead of costing a descriptor.
        let slot = connections.acquire().await;
        let (stream, remote) = match listener.tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                connections.accept_failed(&mut errors, &e).await;
                continue;
            }
        };
        errors.succeeded();
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            proxy: proxy.clone(),
            builder: builder.clone(),
            limits,
            remote,
            scheme,
            token: drain.token(),
            slot: ConnectionSlot::new(slot),
        };
        let tls = listener.tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(stream, false).await,
                Some(tls) => connection.serve_tls(stream, &tls).await,
            }
        });
    }
}

/// What the requests of one connection share.
struct PerConnection {
    proxy: Arc<Proxy>,
    /// The client end, its address written out once for all its requests.
    peer: Peer,
    activity: Arc<Activity>,
    timers: ResponseTimers,
}

/// Why a connection's first phase ended.
enum Ended<E> {
    /// The connection ended by itself.
    Done(Result<(), E>),
    /// The gateway is shutting down.
    Draining,
    /// A limit of `conn_watch` passed.
    Expired(Expiry),
}

struct Connection {
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    remote: SocketAddr,
    scheme: Scheme,
    token: DrainToken,
    /// The connection's place in `max_connections`, held until it closes
    /// (or, for an upgrade, until its tunnel does).
    slot: ConnectionSlot,
}

impl Connection {
    async fn serve_tls(self, stream: TcpStream, tls: &TlsTerminator) {
        let handshake = tls.acceptor().accept(stream);
        match tokio::time::timeout(self.limits.header_read_timeout, handshake).await {
            Ok(Ok(stream)) => {
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                self.serve(stream, h2).await
            }
            Ok(Err(e)) => tracing::debug!(remote = %self.remote, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(remote = %self.remote, "TLS handshake timed out"),
        }
    }

    async fn serve<S>(mut self, stream: S, h2: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Activity::new(h2);
        let stream = WatchedIo::new(stream, activity.clone());
        let remote = self.remote;
        // What each request needs of its connection, behind one `Arc`.
        let shared = Arc::new(PerConnection {
            proxy: self.proxy.clone(),
            peer: Peer::new(remote, self.scheme),
            activity: activity.clone(),
            timers: ResponseTimers::default(),
        });
        let slot = self.slot.clone();
        let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let shared = shared.clone();
            // A tunnel outlives this connection's HTTP part: it takes a
            // share of the slot along.
            if request.headers().contains_key(http::header::UPGRADE) {
                request.extensions_mut().insert(slot.clone());
            }
            async move {
                let active = shared.activity.begin();
                let response = shared.proxy.handle_on(request, &shared.peer, &shared.timers).await;
                // Until its last frame: a long stream is not an idle connection.
                Ok::<_, Infallible>(response.map(|body| GuardedBody::new(body, active)))
            }
        });
        let connection = self.builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let ended = {
            // The connection is polled on every wake of this task; the
            // drain and the timers only when their own wakers fired.
            let mut draining = pin!(OnWake::new(self.token.reached(Phase::Draining)));
            let limits = self.limits;
            let mut expired = pin!(OnWake::new(activity.expired(limits.header_read_timeout, limits.idle_keep_alive)));
            poll_fn(|cx| {
                if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                    return Poll::Ready(Ended::Done(result));
                }
                if draining.as_mut().poll_if_woken(cx).is_ready() {
                    return Poll::Ready(Ended::Draining);
                }
                expired.as_mut().poll_if_woken(cx).map(Ended::Expired)
            })
            .await
        };
        match ended {
            Ended::Done(result) => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            Ended::Draining => {}
            Ended::Expired(Expiry::SlowHead) => {
                // Nothing to finish: a partial head is no request.
                tracing::debug!(%remote, "request head not complete within header_read_timeout; connection closed");
                return;
            }
            Ended::Expired(Expiry::Idle) => tracing::debug!(%remote, "idle keep-alive connection closed"),
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
