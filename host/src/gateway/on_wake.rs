//! A future polled only when its own waker fired, for what a connection's
//! task watches beside the connection (the drain, the idle and header
//! timers). `select!` polls every branch on every wake of the task, and a
//! connection's task wakes several times per request: each wake paid for a
//! look at the drain channel and at the timer, which had nothing to say.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// What the inner future's waker does: marks it woken, then wakes the task.
struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

pin_project_lite::pin_project! {
    pub(super) struct OnWake<F> {
        #[pin]
        future: F,
        flag: Arc<Flag>,
        // `flag` as a waker, made once.
        waker: Waker,
        // The task's waker last registered in `flag`.
        task: Option<Waker>,
    }
}

impl<F: Future> OnWake<F> {
    pub(super) fn new(future: F) -> OnWake<F> {
        // Woken at first: it must be polled once to arm its own wakers.
        let flag = Arc::new(Flag { woken: AtomicBool::new(true), task: AtomicWaker::new() });
        OnWake { future, waker: Waker::from(flag.clone()), flag, task: None }
    }

    /// Polls the future if its waker fired since its last poll (or if it
    /// was never polled); else Pending, at the cost of a comparison and a load.
    pub(super) fn poll_if_woken(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !this.task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
            this.flag.task.register(cx.waker());
            *this.task = Some(cx.waker().clone());
        }
        // A load first: most polls find nothing, and a swap is a locked
        // instruction. A wake after the load reaches the task, registered above.
        if !this.flag.woken.load(Ordering::Acquire) || !this.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        // The wake took the task's waker out: put it back before polling,
        // so a wake during or after this poll reaches the task.
        this.flag.task.register(cx.waker());
        this.future.poll(&mut Context::from_waker(this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::OnWake;
    use std::future::poll_fn;
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;
    use std::time::Duration;

    #[tokio::test]
    async fn polled_once_then_only_when_its_own_waker_fires() {
        let polls = Arc::new(AtomicUsize::new(0));
        let notify = Arc::new(tokio::sync::Notify::new());
        let counted = {
            let (polls, notify) = (polls.clone(), notify.clone());
            async move {
                for _ in 0..2 {
                    let notified = notify.notified();
                    let mut notified = pin!(notified);
                    poll_fn(|cx| {
                        polls.fetch_add(1, Ordering::Relaxed);
                        notified.as_mut().poll(cx)
                    })
                    .await;
                }
                "done"
            }
        };
        let mut watched = pin!(OnWake::new(counted));
        let mut other_wakes = 0;
        let finished = poll_fn(|cx| {
            // Something else wakes the task five times: the watched future
            // is not polled for those.
            if other_wakes < 5 {
                other_wakes += 1;
                cx.waker().wake_by_ref();
            }
            watched.as_mut().poll_if_woken(cx)
        });
        let notifier = {
            let notify = notify.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                notify.notify_one();
                tokio::time::sleep(Duration::from_millis(20)).await;
                notify.notify_one();
            })
        };
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), finished).await.unwrap(), "done");
        notifier.await.unwrap();
        // Its first poll, then two per notification but the last (the end
        // of a wait, and the start of the next): never one for the other wakes.
        assert_eq!(polls.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn a_wake_between_polls_is_not_lost() {
        let notify = Arc::new(tokio::sync::Notify::new());
        let waiting = {
            let notify = notify.clone();
            async move { notify.notified().await }
        };
        let mut watched = pin!(OnWake::new(waiting));
        // Armed by its first poll.
        assert!(poll_fn(|cx| Poll::Ready(watched.as_mut().poll_if_woken(cx))).await.is_pending());
        notify.notify_one();
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| watched.as_mut().poll_if_woken(cx))).await.unwrap();
    }
}
