//! The process-wide clock of the sandbox. One thread advances the engine's
//! epoch, which is what interrupts a guest that computes past its deadline,
//! and expires the wall-clock deadlines of calls that wait in the host (a
//! WASI sleep), where the epoch cannot interrupt them.
//!
//! When a call's epoch deadline passes, the store asks the call's `CallClock`
//! whether the guest really used its CPU budget or was merely descheduled;
//! only the former (or running past the wall-clock limit) interrupts it.
//!
//! A call costs a microsecond or two, so the clock must cost nothing on the
//! way in and out of a call: no lock, no syscall, nothing that grows with the
//! number of concurrent calls.
//! - Reading the thread's CPU clock is a syscall (6 µs on a VM): it is read
//!   only once a call has lived through an epoch tick, which a fast call
//!   almost never does (see `CallClock`).
//! - The ticker thread runs while calls run and for a second after, so a
//!   steady stream of calls never pays for waking it; then it parks: a
//!   scale-to-zero gateway spends most of its life idle and should not wake
//!   a thousand times a second for nothing.
//! - A call registers with the ticker for its wall-clock deadline only if it
//!   waits in the host (its future returns `Pending`), the rare case.

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
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
/// How long the ticker keeps ticking after the last call ended.
const LINGER: Duration = Duration::from_secs(1);

pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    /// Calls running now: the epoch must advance while there are any.
    running: AtomicUsize,
    /// Set by the ticker just before it parks (see `Ticker::enter`).
    parked: AtomicBool,
    /// Calls waiting in the host, expired by the ticker at their deadline.
    waiting: Mutex<Vec<Weak<Waiting>>>,
}

impl Ticker {
    /// The thread ends once the engine has been dropped.
    pub(crate) fn start(engine: EngineWeak) -> std::io::Result<Ticker> {
        let shared = Arc::new(Shared {
            running: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            waiting: Mutex::new(Vec::new()),
        });
        let theirs = Arc::clone(&shared);
        let handle = thread::Builder::new().name("paastis-policy-epoch".into()).spawn(move || run(&engine, &theirs))?;
        Ok(Ticker { shared, thread: handle.thread().clone() })
    }

    /// Counts a call as running until the guard drops, waking the ticker if
    /// it parked. Sequentially consistent with the ticker's "park, then look
    /// at `running` once more": either the ticker sees this call, or this
    /// call sees it parked and unparks it.
    pub(crate) fn enter(&self) -> Running<'_> {
        self.shared.running.fetch_add(1, Ordering::SeqCst);
        if self.shared.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
        Running(&self.shared)
    }

    fn wait(&self, waiting: &Arc<Waiting>) {
        let mut list = self.shared.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        list.push(Arc::downgrade(waiting));
    }
}

pub(crate) struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(engine: &EngineWeak, shared: &Shared) {
    let mut last_busy = Instant::now();
    loop {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let now = Instant::now();
        if shared.running.load(Ordering::SeqCst) > 0 {
            last_busy = now;
        }
        if now.duration_since(last_busy) < LINGER {
            engine.increment_epoch();
            expire_waiting(shared, now);
            // Not held while sleeping, so that the engine can go away meanwhile.
            drop(engine);
            thread::sleep(TICK);
            continue;
        }
        drop(engine);
        shared.parked.store(true, Ordering::SeqCst);
        if shared.running.load(Ordering::SeqCst) == 0 {
            // An unpark that came before this park makes it return at once.
            thread::park_timeout(IDLE_CHECK);
        }
        shared.parked.store(false, Ordering::SeqCst);
        last_busy = Instant::now();
    }
}

fn expire_waiting(shared: &Shared, now: Instant) {
    let mut list = shared.waiting.lock().unwrap_or_else(PoisonError::into_inner);
    if list.is_empty() {
        return;
    }
    list.retain(|weak| match weak.upgrade() {
        Some(waiting) => {
            waiting.expire_if_due(now);
            true
        }
        None => false,
    });
}

/// The wall-clock deadline of one call that waits in the host; the ticker
/// holds it weakly, so it is forgotten when the call ends.
struct Waiting {
    deadline: Instant,
    expired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Waiting {
    fn expire_if_due(&self, now: Instant) {
        if now >= self.deadline && !self.expired.swap(true, Ordering::AcqRel) {
            let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// Nanoseconds since the first call of the process: an `Instant` that fits
/// in an atomic.
fn mono_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn cpu_now_ns() -> Option<u64> {
    thread_cpu_time().and_then(|t| u64::try_from(t.as_nanos()).ok())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Ticks that cover `d`, at least one.
pub(crate) fn ticks_for(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX).max(1)
}

/// The call ran past its wall-clock deadline.
pub(crate) struct Expired;

/// The call panicked in the host (a host function or wasmtime itself).
pub(crate) struct Panicked(pub(crate) String);

const NO_MARK: u64 = u64::MAX;

/// The time one call may take, shared by the store's epoch callback (inside
/// a poll) and `run` (around each poll); one per store, reset by `begin` for
/// each call. Only the thread polling the call touches it, so relaxed
/// atomics suffice.
///
/// The CPU time is accounted lazily, because reading the thread's CPU clock
/// is a syscall that costs more than a whole call:
/// - a call starts with an epoch deadline one tick away, and a fast call
///   ends before any tick, having read no clock but the monotonic one;
/// - at its first tick inside a poll, the call reads the thread's CPU clock
///   (the mark) and is charged the wall time of the poll so far, at most one
///   tick: the guest runs at most until the first tick after it started,
///   and whatever went beyond was time the thread was descheduled;
/// - from then on it is charged the CPU time since the mark;
/// - a poll that ends `Pending` banks what it was charged.
pub(crate) struct CallClock {
    budget: Duration,
    wall_limit: Duration,
    /// When the call must end whatever happens (`mono_ns`).
    wall_deadline_ns: AtomicU64,
    started_ns: AtomicU64,
    poll_started_ns: AtomicU64,
    /// CPU time charged for the polls that ended.
    banked_ns: AtomicU64,
    /// The thread's CPU clock at the mark, or `NO_MARK`.
    mark_cpu_ns: AtomicU64,
    /// What the poll was charged up to the mark.
    mark_charged_ns: AtomicU64,
}

impl CallClock {
    pub(crate) fn new(budget: Duration, wall_limit: Duration) -> CallClock {
        CallClock {
            budget,
            wall_limit,
            wall_deadline_ns: AtomicU64::new(u64::MAX),
            started_ns: AtomicU64::new(0),
            poll_started_ns: AtomicU64::new(0),
            banked_ns: AtomicU64::new(0),
            mark_cpu_ns: AtomicU64::new(NO_MARK),
            mark_charged_ns: AtomicU64::new(0),
        }
    }

    /// Starts timing a call (or an instantiation). The store's epoch
    /// deadline must be set to `FIRST_DEADLINE` at the same time.
    pub(crate) fn begin(&self) {
        let now = mono_ns();
        self.started_ns.store(now, Ordering::Relaxed);
        self.poll_started_ns.store(now, Ordering::Relaxed);
        self.wall_deadline_ns.store(now.saturating_add(nanos(self.wall_limit)), Ordering::Relaxed);
        self.banked_ns.store(0, Ordering::Relaxed);
        self.mark_cpu_ns.store(NO_MARK, Ordering::Relaxed);
    }

    /// CPU time used so far, marking the poll if this is its first tick;
    /// `None` without a thread CPU clock.
    fn cpu_used(&self, now: u64) -> Option<Duration> {
        let cpu = cpu_now_ns()?;
        let banked = self.banked_ns.load(Ordering::Relaxed);
        let mark = self.mark_cpu_ns.load(Ordering::Relaxed);
        let in_poll = if mark == NO_MARK {
            let charged = now.saturating_sub(self.poll_started_ns.load(Ordering::Relaxed)).min(nanos(TICK));
            self.mark_cpu_ns.store(cpu, Ordering::Relaxed);
            self.mark_charged_ns.store(charged, Ordering::Relaxed);
            charged
        } else {
            self.mark_charged_ns.load(Ordering::Relaxed).saturating_add(cpu.saturating_sub(mark))
        };
        Some(Duration::from_nanos(banked.saturating_add(in_poll)))
    }

    /// Called by the store when the call's epoch deadline passes: interrupts
    /// the guest if it has used its CPU budget, and otherwise grants it the
    /// ticks its remaining budget is worth.
    ///
    /// The wall-clock limit does not interrupt a guest that runs: a call
    /// descheduled for longer than the limit (a load spike on a small
    /// machine) has not misbehaved, and calling it a timeout would count a
    /// failure against a healthy policy (and after `max_failures`, revert
    /// it). A guest that computes is bounded by its CPU budget; the limit
    /// bounds what the budget cannot see: waits in the host (`run`), and
    /// every call where the platform has no thread CPU clock.
    pub(crate) fn on_deadline(&self) -> UpdateDeadline {
        let now = mono_ns();
        let used = match self.cpu_used(now) {
            Some(used) => used,
            None if now >= self.wall_deadline_ns.load(Ordering::Relaxed) => return UpdateDeadline::Interrupt,
            None => Duration::from_nanos(now.saturating_sub(self.started_ns.load(Ordering::Relaxed))),
        };
        match self.budget.checked_sub(used) {
            Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks_for(left)),
            _ => UpdateDeadline::Interrupt,
        }
    }

    fn poll_begins(&self) {
        self.poll_started_ns.store(mono_ns(), Ordering::Relaxed);
        self.mark_cpu_ns.store(NO_MARK, Ordering::Relaxed);
    }

    /// A poll ended `Pending`: bank what it was charged. Without a mark the
    /// poll saw no tick, so it was short; its wall time is charged.
    fn poll_pending(&self) {
        let now = mono_ns();
        let mark = self.mark_cpu_ns.load(Ordering::Relaxed);
        let charged = match (mark, cpu_now_ns()) {
            (NO_MARK, _) | (_, None) => now.saturating_sub(self.poll_started_ns.load(Ordering::Relaxed)),
            (mark, Some(cpu)) => self.mark_charged_ns.load(Ordering::Relaxed).saturating_add(cpu.saturating_sub(mark)),
        };
        self.banked_ns.fetch_add(charged, Ordering::Relaxed);
    }

    fn wall_deadline(&self) -> Instant {
        let left = self.wall_deadline_ns.load(Ordering::Relaxed).saturating_sub(mono_ns());
        Instant::now() + Duration::from_nanos(left)
    }

    /// Runs `call` until it finishes or its wall-clock deadline passes while
    /// it waits in the host, whichever comes first, counted as running for
    /// the ticker; a panic inside is caught so that it cannot take down the
    /// task that serves a request.
    ///
    /// `call` is pinned by the caller, where it was made: a call's future
    /// (wasmtime's, with its fiber's) is kilobytes, and moving it in here,
    /// into `catch_unwind` and into a pin copied them on every call.
    ///
    /// The caller calls `begin` just before, which starts the first poll's
    /// clock too (one clock reading fewer per call).
    pub(crate) async fn run<F: Future>(
        &self,
        ticker: &Ticker,
        call: Pin<&mut F>,
    ) -> Result<Result<F::Output, Panicked>, Expired> {
        let _running = ticker.enter();
        let mut call = pin!(AssertUnwindSafe(call).catch_unwind());
        let mut waiting: Option<Arc<Waiting>> = None;
        // `begin` started the first poll's clock; a later poll starts its own.
        let mut first_poll = true;
        poll_fn(|cx| {
            if !std::mem::take(&mut first_poll) {
                self.poll_begins();
            }
            if let Poll::Ready(out) = call.as_mut().poll(cx) {
                return Poll::Ready(Ok(out.map_err(|p| Panicked(panic_message(p.as_ref())))));
            }
            // The call may resume on another worker thread: bank this poll's
            // CPU time now, against this thread's clock.
            self.poll_pending();
            let waiting = waiting.get_or_insert_with(|| {
                let waiting = Arc::new(Waiting {
                    deadline: self.wall_deadline(),
                    expired: AtomicBool::new(false),
                    waker: Mutex::new(None),
                });
                ticker.wait(&waiting);
                waiting
            });
            *waiting.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            // Checked after storing the waker, so an expiry in between is not lost.
            if waiting.expired.load(Ordering::Acquire) || Instant::now() >= waiting.deadline {
                return Poll::Ready(Err(Expired));
            }
            Poll::Pending
        })
        .await
    }
}

/// The epoch deadline a call starts with: its first tick (see `CallClock`).
pub(crate) const FIRST_DEADLINE: u64 = 1;

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

    fn clock(limit: Duration) -> CallClock {
        let clock = CallClock::new(Duration::from_millis(5), limit);
        clock.begin();
        clock
    }

    #[test]
    fn a_descheduled_call_gets_the_rest_of_its_budget() {
        let c = clock(Duration::from_secs(60));
        // Descheduled for a while before the first tick: charged one tick.
        std::thread::sleep(Duration::from_millis(3));
        let first = c.on_deadline();
        if thread_cpu_time().is_some() {
            assert!(matches!(first, UpdateDeadline::Continue(4)));
            // 2 ms of CPU banked by an earlier poll.
            c.banked_ns.store(2_000_000, Ordering::Relaxed);
            assert!(matches!(c.on_deadline(), UpdateDeadline::Continue(2)));
        }
    }

    #[test]
    fn a_call_that_used_its_budget_is_interrupted() {
        let spent = clock(Duration::from_secs(60));
        spent.banked_ns.store(5_000_000, Ordering::Relaxed);
        assert!(matches!(spent.on_deadline(), UpdateDeadline::Interrupt));
    }

    /// A load spike that deschedules a call past the wall-clock limit is the
    /// machine's doing, not the guest's: with a CPU clock it goes on (it was
    /// reported as a timeout of a 9 µs call under load); without one, the
    /// wall clock is all there is.
    #[test]
    fn a_call_descheduled_past_the_wall_limit_goes_on_while_it_has_cpu_budget() {
        let late = clock(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(3));
        match thread_cpu_time() {
            Some(_) => assert!(matches!(late.on_deadline(), UpdateDeadline::Continue(4))),
            None => assert!(matches!(late.on_deadline(), UpdateDeadline::Interrupt)),
        }
    }

    #[test]
    fn cpu_after_the_mark_is_charged() {
        let c = clock(Duration::from_secs(60));
        if thread_cpu_time().is_none() {
            return;
        }
        let _ = c.on_deadline();
        // As if the guest had computed 5.5 ms before the mark.
        c.mark_charged_ns.store(5_500_000, Ordering::Relaxed);
        assert!(matches!(c.on_deadline(), UpdateDeadline::Interrupt));
    }

    #[test]
    fn ticks_round_up() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
        assert_eq!(ticks_for(Duration::from_micros(1500)), 2);
        assert_eq!(ticks_for(Duration::from_millis(5)), 5);
    }
}
