//! Per-connection timers that hyper's own cannot express together: a
//! request head must arrive whole within `header_read_timeout` from its
//! first byte (slowloris), and a connection with nothing in flight is closed
//! after `idle_keep_alive`. hyper's HTTP/1 header timer also runs while a
//! keep-alive connection waits for its next request, which would make the
//! idle limit the shorter of the two; so it is off and this does both.
//!
//! Nothing here wakes anyone per request: the start of a head is only
//! written down, and the watch, while no head is pending, looks again at
//! least once per `header_read_timeout`, so it always finds a head before
//! that head's deadline, and then sleeps until exactly that deadline. (A
//! wake per head cost every request a second poll of its whole connection
//! and a timer made and dropped.)

use pin_project_lite::pin_project;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// Why a connection's watch fired.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Bytes of a request head came, but not the whole head in time.
    SlowHead,
    /// Nothing in flight for the idle limit.
    Idle,
}

/// What is going on on one connection.
pub(crate) struct Activity {
    born: Instant,
    active: AtomicUsize,
    /// Milliseconds after `born` when the connection last became idle.
    idle_since_ms: AtomicU64,
    /// 1 + milliseconds after `born` of the first byte of a pending request
    /// head; 0 when none is pending.
    head_started: AtomicU64,
    /// HTTP/2 has no request heads on the wire to time this way.
    h2: AtomicBool,
}

impl Activity {
    pub(crate) fn new(h2: bool) -> Arc<Activity> {
        Arc::new(Activity {
            born: Instant::now(),
            active: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            h2: AtomicBool::new(h2),
        })
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// A request's head was parsed: it is in flight until the guard drops
    /// (at the end of its response body).
    pub(crate) fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Release);
        ActiveGuard { activity: self.clone() }
    }

    fn read_some(&self, first: &[u8], first_read: bool) {
        if first_read && first.starts_with(H2_PREFACE) {
            self.h2.store(true, Ordering::Release);
        }
        if self.h2.load(Ordering::Acquire) || self.active.load(Ordering::Acquire) > 0 {
            return;
        }
        if self.head_started.load(Ordering::Acquire) != 0 {
            return;
        }
        // No wake: the watch finds it in time (see the module's comment).
        let at = self.now_ms() + 1;
        let _ = self.head_started.compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Resolves when a limit is passed.
    pub(crate) async fn expired(&self, header_read_timeout: Duration, idle: Duration) -> Expiry {
        // At least a millisecond: a zero limit must not make this spin.
        let head_ms = (header_read_timeout.as_millis() as u64).max(1);
        let idle_ms = idle.as_millis() as u64;
        loop {
            let now = self.now_ms();
            let look_at = match self.head_started.load(Ordering::Acquire) {
                // Something in flight: look again later; its end resets the clock.
                0 if self.active.load(Ordering::Acquire) > 0 => now + idle_ms.min(head_ms).max(1),
                0 => {
                    let idle_at = self.idle_since_ms.load(Ordering::Acquire) + idle_ms;
                    if idle_at <= now {
                        return Expiry::Idle;
                    }
                    // A head that begins after this look is found by the
                    // next one, which is no later than its deadline.
                    idle_at.min(now + head_ms)
                }
                started => {
                    let slow_at = started - 1 + head_ms;
                    if slow_at <= now {
                        return Expiry::SlowHead;
                    }
                    slow_at
                }
            };
            tokio::time::sleep(Duration::from_millis(look_at - now)).await;
        }
    }
}

pub(crate) struct ActiveGuard {
    activity: Arc<Activity>,
}

impl crate::proxy::BodyGuard for ActiveGuard {}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let a = &self.activity;
        a.idle_since_ms.store(a.now_ms(), Ordering::Release);
        a.active.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project! {
    /// The connection's socket, reporting reads to its `Activity`.
    pub struct WatchedIo<S> {
        #[pin]
        inner: S,
        activity: Arc<Activity>,
        first_read: bool,
    }
}

impl<S> WatchedIo<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> WatchedIo<S> {
        WatchedIo { inner, activity, first_read: true }
    }
}

impl<S: AsyncRead> AsyncRead for WatchedIo<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
        {
            this.activity.read_some(&buf.filled()[before..], *this.first_read);
            *this.first_read = false;
        }
        polled
    }
}

impl<S: AsyncWrite> AsyncWrite for WatchedIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
