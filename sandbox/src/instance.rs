//! A policy instance with its store, and the warm instances each policy
//! keeps between calls, as Envoy's proxy-wasm keeps one VM per worker:
//! instantiating, and later resetting the memory of, a fresh instance costs
//! tens of microseconds; a call into a warm one costs one or two.
//!
//! An instance goes back to the pool only after a call that succeeded (an
//! `err` the guest returned is a success here), and only while its memory
//! stays under `recycle_above`: after a trap, a timeout or a memory limit
//! hit, or once it has grown, it is dropped and the next call gets a fresh
//! one. The pool is lock-free and holds a few instances per policy, about
//! as many as calls can run at once (the async worker threads); the whole
//! runtime keeps at most `MAX_WARM` instances warm, so that many loaded
//! policies cannot hold every slot of the pooling allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use wasmtime::Store;

use crate::bindings;
use crate::call_state::CallState;
use crate::epoch::CallClock;

/// Instances kept warm across every policy of a runtime.
pub(crate) const MAX_WARM: usize = 64;

pub(crate) struct Instance {
    pub(crate) store: Store<CallState>,
    pub(crate) policy: bindings::Policy,
    /// The `answering` export, when the policy has it.
    pub(crate) answering: Option<crate::answering::Guest>,
    /// The `ticking` export, when the policy has it.
    pub(crate) ticking: Option<crate::ticking::Guest>,
    /// The `requesting` export, when the policy has it.
    pub(crate) requesting: Option<crate::requesting::Guest>,
    pub(crate) requesting_text: Option<crate::requesting_text::Guest>,
    /// The buffer `requesting-text`'s request text is written into, kept
    /// with the instance so that a warm call allocates none.
    pub(crate) request_text: String,
    /// The param sets this instance was sent through `requesting`.
    pub(crate) sent_params: crate::requesting::SentParams,
    /// Shared with the store's epoch callback.
    pub(crate) clock: Arc<CallClock>,
    /// Calls it answered, so that a failure on a reused instance can be
    /// told from one on a fresh instance.
    pub(crate) calls: u64,
}

/// How instances are shared between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Warm instances are reused across calls, requests and apps: a
    /// policy's memory may persist between calls, and may be reset at any
    /// time (durable state belongs in `kv`).
    #[default]
    Reuse,
    /// A fresh instance for every call: nothing survives a call but `kv`.
    /// Several times slower.
    PerCall,
}

/// The warm instances of one policy version.
pub(crate) struct WarmPool {
    queue: Option<ArrayQueue<Instance>>,
    /// Instances kept warm by the whole runtime.
    runtime_warm: Arc<AtomicUsize>,
    /// Memory above which an instance is not kept.
    recycle_above: usize,
}

impl WarmPool {
    pub(crate) fn new(isolation: Isolation, runtime_warm: Arc<AtomicUsize>, recycle_above: usize) -> WarmPool {
        let queue = match isolation {
            Isolation::Reuse => Some(ArrayQueue::new(per_policy())),
            Isolation::PerCall => None,
        };
        WarmPool { queue, runtime_warm, recycle_above }
    }

    pub(crate) fn take(&self) -> Option<Instance> {
        let instance = self.queue.as_ref()?.pop()?;
        self.runtime_warm.fetch_sub(1, Ordering::Relaxed);
        Some(instance)
    }

    /// Keeps `instance` for a later call if it may be reused; drops it
    /// otherwise (which resets its slot in the pooling allocator).
    pub(crate) fn give_back(&self, instance: Instance) {
        let Some(queue) = &self.queue else { return };
        let limiter = &instance.store.data().limiter;
        if limiter.exceeded || limiter.used() > self.recycle_above {
            return;
        }
        if self.runtime_warm.fetch_add(1, Ordering::Relaxed) >= MAX_WARM {
            self.runtime_warm.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if queue.push(instance).is_err() {
            self.runtime_warm.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        while self.take().is_some() {}
    }
}

/// Calls run without yielding, so about one per async worker thread runs at
/// a time; a little more covers calls that wait in the host.
fn per_policy() -> usize {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    (threads * 2).clamp(2, 16)
}
