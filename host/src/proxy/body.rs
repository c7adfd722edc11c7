//! The upstream's response body, streamed through untouched, holding the
//! request's in-flight guard until the last byte (or the client leaving).

use crate::apps::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    pub struct GuardedBody {
        #[pin]
        inner: Incoming,
        guard: Option<InFlight>,
    }
}

impl GuardedBody {
    pub fn new(inner: Incoming, guard: InFlight) -> GuardedBody {
        GuardedBody { inner, guard: Some(guard) }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) | Poll::Ready(Some(Err(_))) = polled {
            // Release the app as soon as the stream ends, not when hyper
            // eventually drops the body.
            this.guard.take();
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
