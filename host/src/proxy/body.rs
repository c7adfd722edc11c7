//! The upstream's response body, streamed through untouched, holding the
//! request's in-flight guard until the last byte (or the client leaving).
//! A long stream (server-sent events, a big download) also counts as
//! activity while it flows, at most once a second.

use crate::apps::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const TOUCH_EVERY: Duration = Duration::from_secs(1);

pin_project_lite::pin_project! {
    pub struct GuardedBody {
        #[pin]
        inner: Incoming,
        guard: Option<InFlight>,
        last_touch: Instant,
    }
}

impl GuardedBody {
    pub fn new(inner: Incoming, guard: InFlight) -> GuardedBody {
        GuardedBody { inner, guard: Some(guard), last_touch: Instant::now() }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            // Release the app as soon as the stream ends, not when hyper
            // eventually drops the body.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                this.guard.take();
            }
            Poll::Ready(Some(Ok(_))) if this.last_touch.elapsed() >= TOUCH_EVERY => {
                *this.last_touch = Instant::now();
                if let Some(guard) = this.guard.as_ref() {
                    guard.touch();
                }
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
