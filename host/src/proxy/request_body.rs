//! The client's request body on its way to the app, watched: when reading
//! it fails (a malformed chunked encoding, a client hanging up mid-body),
//! the gateway answers 400 itself rather than blaming the app with a 502.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    pub struct WatchedBody {
        #[pin]
        inner: Incoming,
        failure: BodyFailure,
    }
}

/// Why the client's body could not be read, once it could not.
#[derive(Clone, Default)]
pub struct BodyFailure(Arc<OnceLock<String>>);

impl BodyFailure {
    pub fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

impl WatchedBody {
    pub fn new(inner: Incoming) -> (WatchedBody, BodyFailure) {
        let failure = BodyFailure::default();
        (WatchedBody { inner, failure: failure.clone() }, failure)
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            let _ = this.failure.0.set(crate::apps::root_cause(e));
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
