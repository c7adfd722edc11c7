//! The admin listener's accept loop: hyper (HTTP/1.1, and HTTP/2 by prior
//! knowledge) over its own socket, with the proxy's connection timers (a
//! head must arrive within `header_read_timeout`, an idle keep-alive
//! connection is closed after `idle_keep_alive`), a cap on connections, and
//! a drain on shutdown.

use super::AdminState;
use crate::gateway::conn_limit::{AcceptErrors, ConnectionLimit};
use crate::gateway::conn_watch::{Activity, Expiry, WatchedIo};
use crate::proxy::drain::{Drain, DrainToken, Phase};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Admin requests are short; a wake waits at most the app's wake_timeout.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// How admin connections are bounded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdminLimits {
    pub header_read_timeout: Duration,
    pub idle_keep_alive: Duration,
    /// Open admin connections at most; the next wait to be accepted. Its
    /// own, beside the proxy's: a full proxy leaves the admin API reachable.
    pub max_connections: usize,
}

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_keep_alive: Duration::from_secs(60),
            max_connections: 64,
        }
    }
}

pub(crate) struct AdminServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Serves `state` on an already bound listener.
    pub(crate) fn spawn(
        listener: TcpListener,
        state: Arc<AdminState>,
        limits: AdminLimits,
    ) -> std::io::Result<AdminServer> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, state, limits, stopped));
        Ok(AdminServer { addr, stop, task })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and drains the requests in flight.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "admin listener failed during shutdown");
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<AdminState>, limits: AdminLimits, mut stop: oneshot::Receiver<()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header timer is `conn_watch`'s, as on the proxy.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let drain = Drain::default();
    let slots = ConnectionLimit::new("admin", limits.max_connections);
    let mut errors = AcceptErrors::default();
    loop {
        // At the cap, wait for a connection to close rather than accept.
        let slot = tokio::select! {
            slot = slots.acquire() => slot,
            _ = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tokio::select! {
                        () = slots.accept_failed(&mut errors, &e) => continue,
                        _ = &mut stop => break,
                    }
                }
            },
            _ = &mut stop => break,
        };
        errors.succeeded();
        let connection = Connection { state: state.clone(), builder: builder.clone(), limits, token: drain.token() };
        tokio::spawn(async move {
            connection.serve(stream, remote).await;
            drop(slot);
        });
    }
    drop(listener);
    if !drain.drain(DRAIN_GRACE).await {
        tracing::warn!("admin grace period over; dropping the remaining connections");
    }
}

struct Connection {
    state: Arc<AdminState>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: AdminLimits,
    token: DrainToken,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream, remote: SocketAddr) {
        let activity = Activity::new(false);
        let io = TokioIo::new(WatchedIo::new(stream, activity.clone()));
        let (state, tracked) = (self.state.clone(), activity.clone());
        let service = service_fn(move |request| {
            let (state, activity) = (state.clone(), tracked.clone());
            async move {
                // Admin answers are whole: the request is over once built.
                let _active = activity.begin();
                Ok::<_, Infallible>(super::handle(&state, request).await)
            }
        });
        let connection = self.builder.serve_connection(io, service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "admin connection ended with an error");
                }
                return;
            }
            () = self.token.reached(Phase::Draining) => {}
            expiry = activity.expired(self.limits.header_read_timeout, self.limits.idle_keep_alive) => {
                if expiry == Expiry::SlowHead {
                    tracing::debug!(%remote, "admin request head not complete within header_read_timeout; closed");
                    return;
                }
                tracing::debug!(%remote, "idle admin connection closed");
            }
        }
        connection.as_mut().graceful_shutdown();
        tokio::select! {
            _ = connection.as_mut() => {}
            () = self.token.reached(Phase::Cut) => {}
        }
    }
}
