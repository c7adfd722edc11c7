//! Idle upstream connections, kept for reuse: per upstream (scheme and
//! authority) a LIFO list of HTTP/1.1 senders, each driven by its own
//! connection task. The lists are striped per thread (`crate::stripe`): a
//! connection goes back to the stripe of the thread its response ended on,
//! and a checkout looks in its own thread's stripe first, then in the
//! others, so that the workers do not share one lock and one set of lists
//! written on every request. A connection is handed back by the response body it
//! carried, once that body has been read to its end (`PooledBody`), so no
//! task is spawned per request to watch for it; one that is not ready yet
//! when it is checked out (its task has not yet seen the end) is waited
//! for, briefly. Entries idle past the idle timeout, or closed by the app,
//! are dropped at checkout and by a sweep every idle timeout, which closes
//! their connections.

use super::UpstreamBody;
use crate::stripe::{STRIPES, stripe};
use bytes::Bytes;
use crossbeam_utils::CachePadded;
use http::uri::{Authority, Scheme};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long a checkout waits for an idle connection whose task has not yet
/// taken in the end of its last response (microseconds, normally). Past it,
/// the connection is busy with something else (the rest of an upload the
/// app answered early) and stays in the list.
const HANDOFF: Duration = Duration::from_millis(5);

/// A connection idle for this long may be one the app is closing right now
/// (at the end of its own keep-alive timeout, 5 s in node), before the
/// gateway saw it close: a request sent on it that fails before any answer
/// is sent once more when it can be (see `client.rs`). Connections reused
/// sooner are not worth the copy of each request this takes.
const STALE_AFTER: Duration = Duration::from_secs(1);

pub(super) type Sender = SendRequest<UpstreamBody>;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(super) struct Key {
    pub(super) scheme: Scheme,
    pub(super) authority: Authority,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The idle lists, shared by a client and the bodies that hand
/// connections back.
pub(super) struct Pool {
    idle: [CachePadded<Mutex<Lists>>; STRIPES],
    timeout: Duration,
    stale_after: Duration,
    sweeping: AtomicBool,
}

// Fx, not SipHash: the keys are the apps' upstreams, from the config (no
// client picks them), and an authority is hashed byte by byte.
type Lists = HashMap<Key, Vec<Idle>, FxBuildHasher>;

fn lock(stripe: &Mutex<Lists>) -> std::sync::MutexGuard<'_, Lists> {
    stripe.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection taken from the pool.
pub(super) struct CheckedOut {
    pub(super) sender: Sender,
    /// Idle for `STALE_AFTER` or more.
    pub(super) stale: bool,
}

impl Pool {
    pub(super) fn new(timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            idle: std::array::from_fn(|_| CachePadded::new(Mutex::new(HashMap::default()))),
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

    /// The most recently returned usable connection to `key`, if any.
    pub(super) async fn checkout(&self, key: &Key) -> Option<CheckedOut> {
        loop {
            let (mut sender, since, idle_for) = self.pop(key)?;
            let stale = idle_for >= self.stale_after;
            // Ready now: the common case.
            match futures_util::FutureExt::now_or_never(sender.ready()) {
                Some(Ok(())) => return Some(CheckedOut { sender, stale }),
                Some(Err(_closed)) => continue,
                None => {}
            }
            match tokio::time::timeout(HANDOFF, sender.ready()).await {
                Ok(Ok(())) => return Some(CheckedOut { sender, stale }),
                Ok(Err(_closed)) => {}
                Err(_busy) => {
                    self.put_back(key, sender, since);
                    return None;
                }
            }
        }
    }

    /// The newest open connection to `key` idle for less than the timeout,
    /// in this thread's stripe, else in the others: since when, and for how
    /// long (one clock reading for both the timeout and the staleness).
    fn pop(&self, key: &Key) -> Option<(Sender, Instant, Duration)> {
        let own = stripe();
        (0..STRIPES).find_map(|i| self.pop_in(&self.idle[(own + i) % STRIPES], key))
    }

    fn pop_in(&self, stripe: &Mutex<Lists>, key: &Key) -> Option<(Sender, Instant, Duration)> {
        let mut idle = lock(stripe);
        let list = idle.get_mut(key)?;
        while let Some(entry) = list.pop() {
            if entry.sender.is_closed() {
                continue;
            }
            let idle_for = entry.since.elapsed();
            if idle_for < self.timeout {
                return Some((entry.sender, entry.since, idle_for));
            }
        }
        None
    }

    /// A connection whose last response was read whole, for the next request.
    pub(super) fn put(self: &Arc<Pool>, key: Key, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        self.put_back(&key, sender, Instant::now());
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

    fn put_back(&self, key: &Key, sender: Sender, since: Instant) {
        let mut idle = lock(&self.idle[stripe()]);
        match idle.get_mut(key) {
            Some(list) => list.push(Idle { sender, since }),
            None => {
                idle.insert(key.clone(), vec![Idle { sender, since }]);
            }
        }
    }

    /// Drops what is closed or idle past the timeout.
    fn sweep_once(&self) {
        for stripe in &self.idle {
            lock(stripe).retain(|_, list| {
                list.retain(|entry| !entry.sender.is_closed() && entry.since.elapsed() < self.timeout);
                !list.is_empty()
            });
        }
    }

    #[cfg(test)]
    pub(super) fn idle_count(&self) -> usize {
        self.idle.iter().map(|stripe| lock(stripe).values().map(Vec::len).sum::<usize>()).sum()
    }

    /// Whether an idle connection to `key` is not known to be closed.
    #[cfg(test)]
    pub(super) fn has_open(&self, key: &Key) -> bool {
        self.idle
            .iter()
            .any(|stripe| lock(stripe).get(key).is_some_and(|list| list.iter().any(|entry| !entry.sender.is_closed())))
    }
}

/// Every idle timeout, drops the connections idle past it (their tasks then
/// close them); ends with the pool.
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
    pub(super) sender: Sender,
}

/// An upstream response body that hands its connection back to the pool
/// when it ends. Dropped before its end (the client left, an error), it
/// drops the connection's sender instead, and hyper closes the connection.
pub(crate) struct PooledBody {
    inner: Incoming,
    back: Option<Return>,
}

impl PooledBody {
    pub(super) fn new(inner: Incoming, back: Option<Return>) -> PooledBody {
        PooledBody { inner, back }
    }

    fn give_back(&mut self) {
        if let Some(Return { pool, key, sender }) = self.back.take() {
            pool.put(key, sender);
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
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.give_back(),
            Poll::Ready(Some(Err(_))) => this.back = None,
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
