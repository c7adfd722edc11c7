//! A body streamed through untouched that holds a guard until its last frame
//! (or the client leaving), and calls it on each frame that flows:
//!
//! - the upstream's response body holds the request's in-flight guard
//!   (`InFlight`), and a long stream (server-sent events, a big download)
//!   counts as activity while it flows, at most once a second;
//! - every response body holds its connection's activity guard
//!   (`gateway/conn_watch.rs`), so a long stream is not an idle connection.

use crate::apps::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What a `GuardedBody` holds: dropped at the body's end.
pub(crate) trait BodyGuard {
    /// Called for each frame that flows.
    fn on_frame(&mut self) {}
}

pin_project_lite::pin_project! {
    pub(crate) struct GuardedBody<B, G> {
        #[pin]
        inner: B,
        guard: Option<G>,
    }
}

impl<B, G> GuardedBody<B, G> {
    pub(crate) fn new(inner: B, guard: G) -> GuardedBody<B, G> {
        GuardedBody { inner, guard: Some(guard) }
    }
}

impl<B: Body<Data = Bytes>, G: BodyGuard> Body for GuardedBody<B, G> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            // Release as soon as the stream ends, not when hyper eventually
            // drops the body.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                this.guard.take();
            }
            Poll::Ready(Some(Ok(_))) => {
                if let Some(guard) = this.guard.as_mut() {
                    guard.on_frame();
                }
            }
            Poll::Pending => {}
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

const TOUCH_EVERY: Duration = Duration::from_secs(1);

/// The request's in-flight guard, touching the app at most once a second
/// while the response flows.
pub(super) struct Touching {
    guard: InFlight,
    last_touch: Instant,
}

impl Touching {
    /// `sent_at`: when the request went to the app, the latest the app was
    /// touched for it before its response (the admission touched it just
    /// before; a reading the proxy already has, not one more).
    pub(super) fn new(guard: InFlight, sent_at: Instant) -> Touching {
        Touching { guard, last_touch: sent_at }
    }
}

impl BodyGuard for Touching {
    fn on_frame(&mut self) {
        if self.last_touch.elapsed() >= TOUCH_EVERY {
            self.last_touch = Instant::now();
            self.guard.touch();
        }
    }
}
