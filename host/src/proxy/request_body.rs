//! The client's request body on its way to the app, watched, so that the
//! gateway can tell whose fault a stall or a failure is:
//! - reading it fails (a malformed chunked encoding, a client hanging up
//!   mid-body): the gateway answers 400 itself rather than blaming the app
//!   with a 502;
//! - the client sends nothing for `request_body_timeout` while the gateway
//!   waits for the next chunk: 408, the client's stall;
//! - `upstream_response_timeout` starts once the body has all been sent
//!   (`answer`): a slow upload is bounded by its own idle timer, not by the
//!   time the app takes to answer. Before that, the response timeout only
//!   runs while the app does not take the body (hyper stops asking for
//!   chunks when the app's socket is full): a hung app is still a 504.
//!
//! A request without a body is not wrapped at all: it costs nothing here.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Sleep;

/// What the client's body fails with, as the upstream client sees it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body cannot be read: {0}")]
    Unreadable(#[source] hyper::Error),
    #[error("the client sent no part of the request body for {0:?}")]
    Stalled(Duration),
}

/// Why the client's body did not arrive whole, once it did not.
#[derive(Debug)]
pub(super) enum Failure {
    /// A read error, with its root cause.
    Unreadable(String),
    /// The client was silent for `request_body_timeout`.
    Stalled(Duration),
}

pin_project_lite::pin_project! {
    pub(crate) struct WatchedBody {
        #[pin]
        inner: Incoming,
        watch: Arc<Shared>,
        idle_limit: Duration,
        // Armed when the gateway first waits on the client, re-armed after
        // each chunk: a body that flows takes no timer operation per chunk.
        #[pin]
        idle: Option<Sleep>,
        progressed: bool,
    }
}

struct Shared {
    born: Instant,
    failure: OnceLock<Failure>,
    /// 1 + milliseconds after `born` when the body last handed a chunk to
    /// the upstream connection, which has not asked for the next one since;
    /// 0 while the gateway waits on the client instead.
    app_holds_since: AtomicU64,
    /// Notified once, when the last chunk has been handed over.
    sent: Notify,
}

/// The watch on one body, kept by the proxy while the request is sent.
pub(super) struct BodyWatch(Arc<Shared>);

impl BodyWatch {
    pub(super) fn failure(&self) -> Option<&Failure> {
        self.0.failure.get()
    }
}

/// Why the app's answer did not come in time.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Late {
    /// No response head within the response timeout after the body was sent.
    NoAnswer,
    /// The app did not take the next chunk of the body for the response timeout.
    BodyNotTaken,
}

impl WatchedBody {
    /// Wraps a body that is not known to be empty; `idle_limit` is
    /// `request_body_timeout`.
    pub(super) fn new(inner: Incoming, idle_limit: Duration) -> (WatchedBody, BodyWatch) {
        let shared = Arc::new(Shared {
            born: Instant::now(),
            failure: OnceLock::new(),
            // Until hyper first asks for a chunk, the wait is on the app's side.
            app_holds_since: AtomicU64::new(1),
            sent: Notify::new(),
        });
        let body = WatchedBody { inner, watch: shared.clone(), idle_limit, idle: None, progressed: false };
        (body, BodyWatch(shared))
    }
}

impl Shared {
    fn millis(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        this.watch.app_holds_since.store(0, Ordering::Relaxed);
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.progressed = true;
                if this.inner.is_end_stream() {
                    this.watch.sent.notify_one();
                } else {
                    this.watch.app_holds_since.store(this.watch.millis() + 1, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let _ = this.watch.failure.set(Failure::Unreadable(crate::error_chain::root_cause(&e)));
                Poll::Ready(Some(Err(BodyError::Unreadable(e))))
            }
            Poll::Ready(None) => {
                this.watch.sent.notify_one();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let limit = *this.idle_limit;
                match this.idle.as_mut().as_pin_mut() {
                    None => this.idle.set(Some(tokio::time::sleep(limit))),
                    Some(idle) if *this.progressed => idle.reset(tokio::time::Instant::now() + limit),
                    Some(_) => {}
                }
                *this.progressed = false;
                let stalled = this.idle.as_mut().as_pin_mut().is_some_and(|idle| idle.poll(cx).is_ready());
                if !stalled {
                    return Poll::Pending;
                }
                let _ = this.watch.failure.set(Failure::Stalled(limit));
                Poll::Ready(Some(Err(BodyError::Stalled(limit))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response timers of one client connection, kept armed between its
/// requests (a timer made and dropped per request took the timer wheel's
/// lock twice). A request takes one still armed for an earlier deadline (a
/// previous request's) as it is, and only notes its own: if the timer fires
/// first, `Answer` arms it again for the deadline that counts, at most once
/// per response timeout on a busy connection. One timer per request at a
/// time on the connection: one for HTTP/1.1, up to `KEPT` for concurrent h2
/// streams.
#[derive(Default)]
pub(crate) struct ResponseTimers(Mutex<Vec<Pin<Box<Sleep>>>>);

/// The most timers a connection keeps between requests.
const KEPT: usize = 16;

impl ResponseTimers {
    /// A timer armed for no later than `deadline`.
    fn take(&self, deadline: tokio::time::Instant) -> Pin<Box<Sleep>> {
        let kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        match kept {
            Some(timer) if !timer.is_elapsed() && timer.deadline() <= deadline => timer,
            Some(mut timer) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn give_back(&self, timer: Pin<Box<Sleep>>) {
        let mut kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() < KEPT {
            kept.push(timer);
        }
    }
}

/// Waits for the app's answer to a request (`sent`, the upstream client's
/// future). Without a body, the response timeout runs from the start. With
/// one, it runs from the body's last chunk, and before that only while the
/// app holds a chunk without asking for the next (the client's pace is the
/// body's own timer's business). The timer comes from the connection's
/// `timers`, and goes back there. `now` is the time the request is sent
/// (a reading the caller shares).
pub(super) fn answer<'a, F: Future>(
    sent: F,
    body: Option<&'a BodyWatch>,
    timeout: Duration,
    timers: &'a ResponseTimers,
    now: tokio::time::Instant,
) -> Answer<'a, F> {
    let deadline = now + timeout;
    Answer {
        sent,
        check: Some(timers.take(deadline)),
        deadline,
        timers,
        body: body.map(|BodyWatch(watch)| &**watch),
        body_sent: None,
        timeout,
    }
}

pin_project_lite::pin_project! {
    /// `answer`'s future: the upstream client's future, one timer and the
    /// body's watch, side by side. (As an `async fn` it held the client's
    /// future twice, an argument keeping its place when `pin!` or `timeout`
    /// moves it: 4 KB more in the request's future, which hyper moves into
    /// place on every request.)
    pub(super) struct Answer<'a, F> {
        #[pin]
        sent: F,
        // The response timeout, armed for `deadline` or earlier; while the
        // body is being sent, the next look at whether the app holds a
        // chunk. Always Some but in `drop`, which hands it back to `timers`.
        check: Option<Pin<Box<Sleep>>>,
        deadline: tokio::time::Instant,
        timers: &'a ResponseTimers,
        // The body's watch while the body is being sent; None without a
        // body or once it is all sent: `check` is then a plain timeout.
        body: Option<&'a Shared>,
        #[pin]
        body_sent: Option<Notified<'a>>,
        timeout: Duration,
    }

    impl<'a, F> PinnedDrop for Answer<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(timer) = this.check.take() {
                this.timers.give_back(timer);
            }
        }
    }
}

impl<F: Future> Future for Answer<'_, F> {
    type Output = Result<F::Output, Late>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.sent.poll(cx) {
            return Poll::Ready(Ok(answer));
        }
        let Some(check) = this.check.as_mut() else {
            return Poll::Pending;
        };
        let Some(watch) = *this.body else {
            return past(check.as_mut(), *this.deadline, cx).map(|()| Err(Late::NoAnswer));
        };
        if this.body_sent.as_mut().as_pin_mut().is_none() {
            this.body_sent.set(Some(watch.sent.notified()));
        }
        if this.body_sent.as_mut().as_pin_mut().is_some_and(|sent| sent.poll(cx).is_ready()) {
            // The body is all sent: from now on, a plain response timeout.
            *this.body = None;
            this.body_sent.set(None);
            *this.deadline = tokio::time::Instant::now() + *this.timeout;
            check.as_mut().reset(*this.deadline);
            return past(check.as_mut(), *this.deadline, cx).map(|()| Err(Late::NoAnswer));
        }
        // An early firing (a timer armed for an earlier request) is one
        // more look, no more.
        while check.as_mut().poll(cx).is_ready() {
            let since = watch.app_holds_since.load(Ordering::Relaxed);
            let held = Duration::from_millis(watch.millis().saturating_sub(since.saturating_sub(1)));
            if since != 0 && held >= *this.timeout {
                return Poll::Ready(Err(Late::BodyNotTaken));
            }
            // Waiting on the client, or on the app for less than the
            // limit: look again when the app's share could be over.
            let next = if since == 0 { *this.timeout } else { *this.timeout - held };
            check.as_mut().reset(tokio::time::Instant::now() + next);
        }
        Poll::Pending
    }
}

/// Ready once `deadline` has passed, `timer` being armed for it or earlier:
/// fired at an earlier deadline, it is armed again for this one.
fn past(mut timer: Pin<&mut Sleep>, deadline: tokio::time::Instant, cx: &mut Context<'_>) -> Poll<()> {
    while timer.as_mut().poll(cx).is_ready() {
        if timer.deadline() >= deadline {
            return Poll::Ready(());
        }
        timer.as_mut().reset(deadline);
    }
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::{Late, ResponseTimers, answer};
    use std::time::Duration;
    use tokio::time::Instant;

    /// Far more than any of these timers may be late, even on a busy machine.
    const SLACK: Duration = Duration::from_secs(3);

    async fn answered_after(after: Duration) -> &'static str {
        tokio::time::sleep(after).await;
        "answer"
    }

    #[tokio::test]
    async fn a_kept_timer_times_out_at_its_own_deadline() {
        let timers = ResponseTimers::default();
        // The first request arms the timer for start + 10 s, and is
        // answered at once: the armed timer is kept for the next.
        let long = Duration::from_secs(10);
        assert_eq!(
            answer(answered_after(Duration::from_millis(20)), None, long, &timers, Instant::now()).await,
            Ok("answer")
        );
        assert_eq!(timers.0.lock().unwrap().len(), 1);
        // A shorter limit than the one the timer is armed for: it fires at
        // the new deadline, not at the old one.
        let short = Duration::from_millis(300);
        let start = Instant::now();
        assert_eq!(
            answer(std::future::pending::<()>(), None, short, &timers, Instant::now()).await,
            Err(Late::NoAnswer)
        );
        let took = start.elapsed();
        assert!(took >= short && took < short + SLACK, "{took:?}");
        // A later deadline than the armed one: never before it.
        let limit = Duration::from_millis(600);
        assert_eq!(
            answer(answered_after(Duration::from_millis(300)), None, limit, &timers, Instant::now()).await,
            Ok("answer")
        );
        let start = Instant::now();
        assert_eq!(
            answer(std::future::pending::<()>(), None, limit, &timers, Instant::now()).await,
            Err(Late::NoAnswer)
        );
        let took = start.elapsed();
        assert!(took >= limit && took < limit + SLACK, "{took:?}");
        assert_eq!(timers.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn concurrent_requests_each_have_a_timer_and_a_few_are_kept() {
        let timers = ResponseTimers::default();
        let limit = Duration::from_millis(200);
        let start = Instant::now();
        let answers =
            (0..super::KEPT + 4).map(|_| answer(std::future::pending::<()>(), None, limit, &timers, Instant::now()));
        let all = futures_util::future::join_all(answers).await;
        assert!(all.iter().all(|late| *late == Err(Late::NoAnswer)));
        let took = start.elapsed();
        assert!(took >= limit && took < limit + SLACK, "{took:?}");
        assert_eq!(timers.0.lock().unwrap().len(), super::KEPT);
    }
}
