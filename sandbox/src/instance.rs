//! A policy instance with its store, and the warm instances each policy
//! keeps between calls, as Envoy's proxy-wasm keeps one VM per worker:
//! instantiating, and later resetting the memory of, a fresh instance costs
//! tens of microseconds; a call into a warm one costs one or two.
//!
//! An instance goes back to the pool only after a call that succeeded (an
//! `err` the guest returned is a success here), and only while its memory
//! stays under `recycle_above`: after a trap, a timeout or a memory limit
//! hit, or once it has grown, it is dropped and the next call gets a fresh
//! one.
//!
//! Each thread keeps the instance it used last for each policy (see
//! `local`), and a call on that thread takes it: the instance's store, its
//! fiber stack and the guest's memory stay in that core's cache, and a call
//! writes no cache line that another worker writes too. Only when a thread
//! has none (its first call, a call that yielded while another ran there,
//! a failed call) does it go to the policy's shared, lock-free queue, which
//! holds a few more, about as many as calls can run at once. The whole
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
    /// Its place among the runtime's warm instances, once it was kept.
    pub(crate) warm: Option<WarmCount>,
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
    /// Names this pool in the threads' slots, which hold it weakly: once the
    /// pool is gone, their instances of it are dropped (see `local`).
    key: Arc<PoolKey>,
}

/// The identity of a pool, for the threads' slots.
pub(crate) struct PoolKey;

/// An instance's place among the runtime's `MAX_WARM`: taken when the
/// instance is first kept, held while it waits and while it serves, freed
/// when it is dropped. Counting it once, rather than at every take and
/// give-back, keeps the runtime-wide counter out of the call path.
pub(crate) struct WarmCount(Arc<AtomicUsize>);

impl Drop for WarmCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WarmPool {
    pub(crate) fn new(isolation: Isolation, runtime_warm: Arc<AtomicUsize>, recycle_above: usize) -> WarmPool {
        let queue = match isolation {
            Isolation::Reuse => Some(ArrayQueue::new(per_policy())),
            Isolation::PerCall => None,
        };
        WarmPool { queue, runtime_warm, recycle_above, key: Arc::new(PoolKey) }
    }

    /// This thread's instance of the policy, else one from the shared queue.
    pub(crate) fn take(&self) -> Option<Instance> {
        let queue = self.queue.as_ref()?;
        local::take(&self.key).or_else(|| queue.pop())
    }

    /// Keeps `instance` for a later call if it may be reused (in this
    /// thread's slot, else in the shared queue); drops it otherwise (which
    /// resets its slot in the pooling allocator).
    pub(crate) fn give_back(&self, mut instance: Instance) {
        let Some(queue) = &self.queue else { return };
        let limiter = &instance.store.data().limiter;
        if limiter.exceeded || limiter.used() > self.recycle_above {
            return;
        }
        if instance.warm.is_none() {
            if self.runtime_warm.fetch_add(1, Ordering::Relaxed) >= MAX_WARM {
                self.runtime_warm.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            instance.warm = Some(WarmCount(Arc::clone(&self.runtime_warm)));
        }
        if let Some(instance) = local::put(&self.key, instance) {
            // A full queue drops the instance, and its count with it.
            let _ = queue.push(instance);
        }
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        // The threads' slots drop theirs when they next keep an instance.
        if let Some(queue) = &self.queue {
            while queue.pop().is_some() {}
        }
    }
}

/// Each thread's warm instances: at most one per policy, for the last
/// `LOCAL_POLICIES` policies it called. Only the thread reads and writes its
/// slots, so taking and giving back costs no atomic operation; the pools
/// they belong to are held weakly, and checked only when a slot is added.
mod local {
    use std::cell::RefCell;
    use std::sync::{Arc, Weak};

    use super::{Instance, PoolKey};

    /// Policies a thread keeps an instance of: a gateway serves every app
    /// with one or a few.
    const LOCAL_POLICIES: usize = 4;

    struct Slot {
        pool: Weak<PoolKey>,
        instance: Option<Instance>,
        /// The thread's `uses` when the slot was last used.
        used: u64,
    }

    #[derive(Default)]
    struct Slots {
        slots: Vec<Slot>,
        uses: u64,
    }

    thread_local! {
        static SLOTS: RefCell<Slots> = RefCell::default();
    }

    fn is(slot: &Slot, pool: &Arc<PoolKey>) -> bool {
        std::ptr::eq(slot.pool.as_ptr(), Arc::as_ptr(pool))
    }

    pub(super) fn take(pool: &Arc<PoolKey>) -> Option<Instance> {
        // `try_with`: a thread being torn down has no slots any more.
        SLOTS
            .try_with(|slots| {
                let mut slots = slots.try_borrow_mut().ok()?;
                slots.uses += 1;
                let uses = slots.uses;
                let slot = slots.slots.iter_mut().find(|slot| is(slot, pool))?;
                slot.used = uses;
                slot.instance.take()
            })
            .ok()
            .flatten()
    }

    /// Keeps `instance` in this thread's slot for `pool`; gives it back
    /// when the slot is taken (a call that yielded left it to another).
    pub(super) fn put(pool: &Arc<PoolKey>, instance: Instance) -> Option<Instance> {
        // Instances dropped here are dropped after the borrow ends.
        let mut dropped = Vec::new();
        let refused = SLOTS.try_with(|slots| {
            let Ok(mut slots) = slots.try_borrow_mut() else { return Some(instance) };
            let slots = &mut *slots;
            slots.uses += 1;
            if let Some(slot) = slots.slots.iter_mut().find(|slot| is(slot, pool)) {
                if slot.instance.is_some() {
                    return Some(instance);
                }
                slot.instance = Some(instance);
                slot.used = slots.uses;
                return None;
            }
            // A new slot: first forget the policies unloaded since.
            slots.slots.retain_mut(|slot| {
                let loaded = slot.pool.strong_count() > 0;
                if !loaded {
                    dropped.extend(slot.instance.take());
                }
                loaded
            });
            if slots.slots.len() >= LOCAL_POLICIES
                && let Some(oldest) = slots.slots.iter().enumerate().min_by_key(|(_, slot)| slot.used).map(|(i, _)| i)
            {
                dropped.extend(slots.slots.swap_remove(oldest).instance);
            }
            slots.slots.push(Slot { pool: Arc::downgrade(pool), instance: Some(instance), used: slots.uses });
            None
        });
        drop(dropped);
        // A thread being torn down dropped the instance with its slots.
        refused.unwrap_or(None)
    }
}

/// Calls run without yielding, so about one per async worker thread runs at
/// a time; a little more covers calls that wait in the host.
fn per_policy() -> usize {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    (threads * 2).clamp(2, 16)
}
