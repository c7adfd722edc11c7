//! The process-wide clock of the sandbox. One thread advances the engine's
//! epoch, which is what interrupts a guest that computes past its deadline,
//! and expires the wall-clock deadlines of calls, which is what ends a guest
//! that waits in the host (a WASI sleep) where the epoch cannot interrupt it.
//!
//! When a call's epoch deadline passes, the store asks its `Watch` whether the
//! guest really used its CPU budget or was merely descheduled; only the former
//! (or running past the wall-clock limit) interrupts it.
//!
//! It ticks only while calls are running: a scale-to-zero gateway spends most
//! of its life idle and should not wake a thousand times a second for nothing.

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Poll, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use wasmtime::{EngineWeak, UpdateDeadline};

use crate::cpu::thread_cpu_time;

/// The granularity of both deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// How often an idle ticker checks whether the engine is gone.
const IDLE_CHECK: Duration = Duration::from_secs(1);

pub(crate) struct Ticker {
    calls: Arc<Mutex<Vec<Weak<Watch>>>>,
    thread: Thread,
}

impl Ticker {
    /// The thread ends once the engine has been dropped.
    pub(crate) fn start(engine: EngineWeak) -> std::io::Result<Ticker> {
        let calls: Arc<Mutex<Vec<Weak<Watch>>>> = Arc::default();
        let shared = Arc::clone(&calls);
        let handle = thread::Builder::new().name("paastis-policy-epoch".into()).spawn(move || run(&engine, &shared))?;
        Ok(Ticker { calls, thread: handle.thread().clone() })
    }

    /// Starts watching a call that must finish within `limit` of wall time.
    pub(crate) fn watch(&self, limit: Duration) -> Arc<Watch> {
        let now = Instant::now();
        let watch = Arc::new(Watch {
            deadline: now + limit,
            expired: AtomicBool::new(false),
            waker: Mutex::new(None),
            cpu_used_ns: AtomicU64::new(0),
            poll_cpu_start_ns: AtomicU64::new(NOT_POLLING),
        });
        let was_idle = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            let was_idle = calls.is_empty();
            calls.push(Arc::downgrade(&watch));
            was_idle
        };
        if was_idle {
            self.thread.unpark();
        }
        watch
    }
}

fn run(engine: &EngineWeak, calls: &Mutex<Vec<Weak<Watch>>>) {
    loop {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let busy = {
            let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            calls.retain(|weak| match weak.upgrade() {
                Some(watch) => {
                    watch.expire_if_due(now);
                    true
                }
                None => false,
            });
            !calls.is_empty()
        };
        if busy {
            engine.increment_epoch();
        }
        // Not held while sleeping, so that the engine can go away meanwhile.
        drop(engine);
        if busy {
            thread::sleep(TICK);
        } else {
            // An unpark that came before this park makes it return at once.
            thread::park_timeout(IDLE_CHECK);
        }
    }
}

/// One running call: its wall-clock deadline and the CPU time it has used.
pub(crate) struct Watch {
    deadline: Instant,
    expired: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// CPU time of the polls that ended, in nanoseconds.
    cpu_used_ns: AtomicU64,
    /// The thread's CPU clock when the running poll started.
    poll_cpu_start_ns: AtomicU64,
}

const NOT_POLLING: u64 = u64::MAX;

fn cpu_now_ns() -> Option<u64> {
    thread_cpu_time().and_then(|t| u64::try_from(t.as_nanos()).ok())
}

/// Ticks that cover `d`, at least one.
pub(crate) fn ticks_for(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX).max(1)
}

/// The call ran past its wall-clock deadline.
pub(crate) struct Expired;

/// The call panicked in the host (a host function or wasmtime itself).
pub(crate) struct Panicked(pub(crate) String);

impl Watch {
    fn expire_if_due(&self, now: Instant) {
        if now >= self.deadline && !self.expired.swap(true, Ordering::AcqRel) {
            let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// CPU time the call has used so far; `None` without a thread CPU clock.
    /// Meant for the epoch callback, which runs inside a poll.
    fn cpu_used(&self) -> Option<Duration> {
        let start = self.poll_cpu_start_ns.load(Ordering::Relaxed);
        let running = match start {
            NOT_POLLING => 0,
            start => cpu_now_ns()?.saturating_sub(start),
        };
        let used = self.cpu_used_ns.load(Ordering::Relaxed).saturating_add(running);
        Some(Duration::from_nanos(used))
    }

    /// Called by the store when the call's epoch deadline passes: interrupts
    /// the guest if it has used `budget` of CPU or run past the wall-clock
    /// limit, and otherwise grants it the ticks its remaining budget is worth.
    pub(crate) fn on_deadline(&self, budget: Duration) -> UpdateDeadline {
        if Instant::now() >= self.deadline {
            return UpdateDeadline::Interrupt;
        }
        match self.cpu_used() {
            Some(used) if used < budget => UpdateDeadline::Continue(ticks_for(budget - used)),
            // Without a CPU clock, the epoch's wall-clock budget is all there is.
            _ => UpdateDeadline::Interrupt,
        }
    }

    /// Runs `call` until it finishes or the deadline passes, whichever comes
    /// first; a panic inside is caught so that it cannot take down the task
    /// that serves a request.
    pub(crate) async fn run<F: Future>(&self, call: F) -> Result<Result<F::Output, Panicked>, Expired> {
        let mut call = pin!(AssertUnwindSafe(call).catch_unwind());
        poll_fn(|cx| {
            let start = cpu_now_ns();
            self.poll_cpu_start_ns.store(start.unwrap_or(NOT_POLLING), Ordering::Relaxed);
            let polled = call.as_mut().poll(cx);
            self.poll_cpu_start_ns.store(NOT_POLLING, Ordering::Relaxed);
            if let Poll::Ready(out) = polled {
                return Poll::Ready(Ok(out.map_err(|p| Panicked(panic_message(p.as_ref())))));
            }
            // The call may resume on another worker thread: bank this poll's
            // CPU time now, against this thread's clock.
            if let (Some(start), Some(end)) = (start, cpu_now_ns()) {
                self.cpu_used_ns.fetch_add(end.saturating_sub(start), Ordering::Relaxed);
            }
            *self.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            // Checked after storing the waker, so an expiry in between is not lost.
            if self.expired.load(Ordering::Acquire) {
                return Poll::Ready(Err(Expired));
            }
            Poll::Pending
        })
        .await
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(limit: Duration) -> Watch {
        Watch {
            deadline: Instant::now() + limit,
            expired: AtomicBool::new(false),
            waker: Mutex::new(None),
            cpu_used_ns: AtomicU64::new(0),
            poll_cpu_start_ns: AtomicU64::new(NOT_POLLING),
        }
    }

    #[test]
    fn a_descheduled_call_gets_the_rest_of_its_budget() {
        let w = watch(Duration::from_secs(60));
        w.cpu_used_ns.store(2_000_000, Ordering::Relaxed);
        let update = w.on_deadline(Duration::from_millis(5));
        if thread_cpu_time().is_some() {
            assert!(matches!(update, UpdateDeadline::Continue(3)));
        }
    }

    #[test]
    fn a_call_that_used_its_budget_or_outlived_the_wall_limit_is_interrupted() {
        let spent = watch(Duration::from_secs(60));
        spent.cpu_used_ns.store(5_000_000, Ordering::Relaxed);
        assert!(matches!(spent.on_deadline(Duration::from_millis(5)), UpdateDeadline::Interrupt));
        let late = watch(Duration::ZERO);
        assert!(matches!(late.on_deadline(Duration::from_millis(5)), UpdateDeadline::Interrupt));
    }

    #[test]
    fn ticks_round_up() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
        assert_eq!(ticks_for(Duration::from_micros(1500)), 2);
        assert_eq!(ticks_for(Duration::from_millis(5)), 5);
    }
}
