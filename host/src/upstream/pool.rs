//! Upstream connections and the idle ones kept for reuse. A connection is
//! driven by whoever uses it, in that task: the request's future while it
//! waits for the answer's head, then the answer's body (`PooledBody`) until
//! its end, when both hand it back. No task per connection, and no hop
//! between tasks per request: what the app sends wakes the request's own
//! task. An idle connection is driven by nobody; its checkout polls it once,
//! so one the app closed meanwhile is seen closed and dropped, never reused.
//!
//! Per upstream (scheme and authority) a LIFO list. Entries idle past the
//! idle timeout are dropped at checkout and by a sweep every idle timeout,
//! which closes their sockets.

use super::UpstreamBody;
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A connection idle for this long may be one the app is closing right now
/// (at the end of its own keep-alive timeout, 5 s in node), before the
/// gateway saw it close: a request sent on it that fails before any answer
/// is sent once more when it can be (see `client.rs`). Connections reused
/// sooner are not worth the copy of each request this takes.
const STALE_AFTER: Duration = Duration::from_secs(1);

pub(super) type Sender = SendRequest<UpstreamBody>;

/// hyper's connection future (with upgrades, whose type hyper does not
/// name): reads and writes the socket when polled. Boxed once per
/// connection, not per request.
pub(super) type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send + Sync>>;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct Key {
    pub(super) scheme: Scheme,
    pub(super) authority: Authority,
}

/// One HTTP/1.1 connection: the handle requests go in by, and the future
/// that moves them on the socket.
pub(super) struct Conn {
    pub(super) sender: Sender,
    /// None once the connection ended.
    driver: Option<Driver>,
}

impl Conn {
    pub(super) fn new(sender: Sender, driver: Driver) -> Conn {
        Conn { sender, driver: Some(driver) }
    }

    /// Moves the connection on (reads what came, writes what is queued);
    /// whether it is still open. `cx` is woken when the socket can move
    /// again. An ended connection's future is dropped at once: requests it
    /// never took then fail with their message given back.
    pub(super) fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(driver) = &mut self.driver else { return false };
        match driver.as_mut().poll(cx) {
            Poll::Pending => true,
            Poll::Ready(ended) => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "upstream connection ended");
                }
                self.driver = None;
                false
            }
        }
    }

    /// Drives the connection with a waker that wakes nothing: for a
    /// connection no task waits on (idle in the pool, or an answer's
    /// between its head and its body's first poll), so that what it does
    /// next wakes nobody: not the app closing it, nor the reader taking a
    /// chunk of the body (the connection was waiting for room).
    pub(super) fn drive_unwatched(&mut self) -> bool {
        self.drive(&mut Context::from_waker(Waker::noop()))
    }

    /// Whether it can take a request now: open, and its last exchange done.
    fn is_idle(&mut self) -> bool {
        self.drive_unwatched() && self.sender.is_ready() && !self.sender.is_closed()
    }

    /// The connection's future, for a task of its own: after a 101 or a
    /// CONNECT's 2xx it must run until it hands the socket over.
    pub(super) fn into_driver(self) -> Option<Driver> {
        self.driver
    }
}

/// Polls `inner`, which only the connection moves (an answer, or a body the
/// connection fills), and drives the connection as needed, in this task.
/// While the connection lives, `inner` is polled with a waker that wakes
/// nothing: it can only move when the connection is driven, which
/// registers `cx`. So the connection handing something over never wakes
/// the task that is polling it right now (a wake that would only poll it
/// again for nothing).
pub(super) fn poll_driven<T>(
    conn: &mut Conn,
    cx: &mut Context<'_>,
    mut inner: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if conn.driver.is_none() {
        return inner(cx);
    }
    let mut unwatched = Context::from_waker(Waker::noop());
    // What the connection handed over the last time it was driven.
    if let Poll::Ready(done) = inner(&mut unwatched) {
        return Poll::Ready(done);
    }
    if conn.drive(cx) { inner(&mut unwatched) } else { inner(cx) }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// The idle lists, shared by a client and the bodies that hand
/// connections back.
pub(super) struct Pool {
    idle: Mutex<HashMap<Key, Vec<Idle>>>,
    timeout: Duration,
    stale_after: Duration,
    sweeping: AtomicBool,
}

/// A connection taken from the pool.
pub(super) struct CheckedOut {
    pub(super) conn: Conn,
    /// Idle for `STALE_AFTER` or more.
    pub(super) stale: bool,
}

impl Pool {
    pub(super) fn new(timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            idle: Mutex::new(HashMap::new()),
            timeout,
            stale_after: STALE_AFTER,
            sweeping: AtomicBool::new(false),
        })
    }

    #[cfg(test)]
    pub(super) fn with_stale_after(timeout: Duration, stale_after: Duration) -> Arc<Pool> {
        let mut pool = Pool::new(timeout);
        Arc::get_mut(&mut pool).expect("just made").stale_after = stale_after;
        pool
    }

    /// The most recently returned connection to `key`, if any. It is not
    /// polled here: the request's first poll of it reads before it writes,
    /// so one the app closed while it sat idle ends there (its end of
    /// stream read), and hands the request back unsent, for a fresh
    /// connection.
    pub(super) fn checkout(&self, key: &Key) -> Option<CheckedOut> {
        let Idle { conn, since } = self.pop(key)?;
        Some(CheckedOut { conn, stale: since.elapsed() >= self.stale_after })
    }

    fn pop(&self, key: &Key) -> Option<Idle> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.get_mut(key)?;
        while let Some(entry) = list.pop() {
            if entry.since.elapsed() < self.timeout {
                return Some(entry);
            }
        }
        None
    }

    /// A connection whose last response was read whole, for the next
    /// request; dropped (closed) if it cannot take one.
    fn put(self: &Arc<Pool>, key: Key, mut conn: Conn) {
        if !conn.is_idle() {
            return;
        }
        {
            let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = Idle { conn, since: Instant::now() };
            match idle.get_mut(&key) {
                Some(list) => list.push(entry),
                None => {
                    idle.insert(key, vec![entry]);
                }
            }
        }
        // The sweep starts with the first idle connection. A body dropped
        // as the runtime shuts down has no runtime to spawn on, and needs
        // no sweep.
        if !self.sweeping.load(Ordering::Relaxed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && !self.sweeping.swap(true, Ordering::Relaxed)
        {
            runtime.spawn(sweep(Arc::downgrade(self)));
        }
    }

    /// Drops what is idle past the timeout, and what the app closed.
    fn sweep_once(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.retain(|_, list| {
            list.retain_mut(|entry| entry.since.elapsed() < self.timeout && entry.conn.drive_unwatched());
            !list.is_empty()
        });
    }

    #[cfg(test)]
    pub(super) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap().values().map(Vec::len).sum()
    }
}

/// Every idle timeout, drops the connections idle past it (which closes
/// them); ends with the pool.
async fn sweep(pool: Weak<Pool>) {
    let Some(period) = pool.upgrade().map(|pool| pool.timeout) else { return };
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        pool.sweep_once();
    }
}

/// Where a response's connection goes once its body has been read whole.
pub(super) struct Return {
    pub(super) pool: Arc<Pool>,
    pub(super) key: Key,
}

/// An upstream response body. It drives its connection while it is read,
/// and hands the connection back to the pool when it ends (when it may
/// serve another request). Dropped before its end (the client left, an
/// error), it drops the connection, which closes it.
pub(crate) struct PooledBody {
    inner: Incoming,
    /// None after a 101 or a CONNECT's 2xx: the connection is the tunnel's.
    conn: Option<Conn>,
    back: Option<Return>,
}

impl PooledBody {
    pub(super) fn new(inner: Incoming, conn: Option<Conn>, back: Option<Return>) -> PooledBody {
        PooledBody { inner, conn, back }
    }

    fn give_back(&mut self) {
        if let (Some(Return { pool, key }), Some(conn)) = (self.back.take(), self.conn.take()) {
            pool.put(key, conn);
        }
    }
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody").field("pooled", &self.back.is_some()).finish_non_exhaustive()
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        let polled = match &mut this.conn {
            Some(conn) => poll_driven(conn, cx, |cx| Pin::new(&mut *inner).poll_frame(cx)),
            None => Pin::new(inner).poll_frame(cx),
        };
        match &polled {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.give_back(),
            Poll::Ready(Some(Err(_))) => {
                this.back = None;
                this.conn = None;
            }
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

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body known to be empty (a 204, a HEAD's answer, a length of 0)
        // may never be polled: it is whole all the same.
        if self.inner.is_end_stream() {
            self.give_back();
        }
    }
}
