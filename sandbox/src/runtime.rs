//! Loading policies and calling them in a sandbox: one engine, linker and
//! epoch ticker for the process; for each policy version, warm instances
//! reused across calls (see `instance`), or a fresh one per call with
//! `Isolation::PerCall`. Either way, what limits a call (CPU deadline, memory
//! cap, no ambient authority) applies to every call.

use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Cache, Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig, Store, Trap,
};

use crate::answering::{self, Answering};
use crate::bindings::paastis::policy::types as wit;
use crate::bindings::{self, PolicyPre};
use crate::call_state::CallState;
use crate::compile_cache;
use crate::contract::{AppRef, AppView, RequestDecision, RequestSource, RequestView, TickPlan, Timestamp};
use crate::convert;
use crate::epoch::{CallClock, Expired, FIRST_DEADLINE, Panicked, Ticker};
use crate::error::PolicyError;
use crate::instance::{Instance, Isolation, MAX_WARM, WarmPool};
use crate::kv::{KvBackend, MemoryKv};
use crate::requesting::{self, Requesting};
use crate::requesting_text::{self, RequestingText};
use crate::ticking::{self, Ticking};

/// Bounds on every call into a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// CPU time one call may use, enforced by epoch interruption: at each
    /// deadline the thread's CPU clock decides whether the guest used its
    /// budget or was only descheduled. Whatever happens, a call (waits in the
    /// host included) is cut off at four times this plus 250 ms of wall time:
    /// generous, because on a loaded machine a thread is descheduled for tens
    /// of milliseconds, and the CPU budget is what stops a runaway guest.
    pub call_timeout: Duration,
    /// Linear memory an instance may use, all memories of the component
    /// together. A warm instance past half of this is not reused.
    pub memory_bytes: usize,
    /// Whether warm instances are reused across calls.
    pub isolation: Isolation,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits { call_timeout: Duration::from_millis(5), memory_bytes: 32 << 20, isolation: Isolation::Reuse }
    }
}

/// Calls that can be running (or waiting in the host) at the same time across
/// the process on instances that are not warm. A call does not yield while the
/// guest computes, so in practice this is about the number of async worker
/// threads; one more fails with `PolicyError::Busy` instead of queueing.
pub const MAX_CONCURRENT_CALLS: u32 = 128;

/// Instances come from a pool of pre-reserved slots (for the calls that may
/// run at once, and the warm instances), and what an instance touched stays
/// mapped (zeroed) for the next one in its slot: cheaper than mapping and
/// unmapping memory and a fiber stack every time.
fn pooling(limits: SandboxLimits) -> PoolingAllocationConfig {
    /// Enough for a Rust policy's stack, data and a modest heap.
    const KEEP_RESIDENT: usize = 4 << 20;
    let calls = MAX_CONCURRENT_CALLS + MAX_WARM as u32;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        // wit-component adds shim and fixup modules to the guest's own.
        .total_core_instances(calls * 8)
        .total_memories(calls * 2)
        .total_tables(calls * 8)
        .total_stacks(calls)
        .max_memory_size(limits.memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT);
    pool
}

/// Longer error messages from a guest are cut.
const MAX_ERROR_BYTES: usize = 1024;

/// Set to 1, it names the policies' functions for `perf` (see `with_kv`).
const PERFMAP_VAR: &str = "PAASTIS_PERFMAP";

/// The process's policy engine. Clones share it.
#[derive(Clone)]
pub struct PolicyRuntime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<CallState>,
    ticker: Ticker,
    limits: SandboxLimits,
    wall_limit: Duration,
    /// Where loaded policies keep their state (`paastis:policy/kv`).
    kv: Arc<dyn KvBackend>,
    /// Instances kept warm, all policies together (at most `MAX_WARM`).
    warm: Arc<AtomicUsize>,
    /// wasmtime's compile cache, when on: its hit count tells a load whether
    /// its code came from there.
    cache: Option<Cache>,
    /// One compile at a time: loads are rare, two compiles at once would
    /// take both cores from the proxy, and the hit count stays exact.
    compiling: tokio::sync::Mutex<()>,
}

impl PolicyRuntime {
    /// A runtime whose policies keep their state in memory, lost at exit,
    /// and that compiles every policy it loads: for `paastis check`,
    /// `paastis policy check`, tests and benchmarks.
    pub fn new(limits: SandboxLimits) -> Result<Self, PolicyError> {
        Self::with_kv(limits, Arc::new(MemoryKv::default()), None)
    }

    /// A runtime whose policies keep their state in `kv` (the gateway passes
    /// the persistent one from the store), and their compiled code in
    /// `compile_cache` when it is given and usable (see `compile_cache`: a
    /// directory that cannot be used is logged, and policies are compiled).
    pub fn with_kv(
        limits: SandboxLimits,
        kv: Arc<dyn KvBackend>,
        compile_cache: Option<&Path>,
    ) -> Result<Self, PolicyError> {
        if limits.call_timeout.is_zero() || limits.memory_bytes == 0 {
            return Err(PolicyError::Setup(format!(
                "the call timeout and memory limit must be positive, got {limits:?}"
            )));
        }
        let setup = |what: &str, e: wasmtime::Error| PolicyError::Setup(format!("{what}: {}", chain(&e)));

        let mut config = Config::new();
        config.epoch_interruption(true);
        if std::env::var_os(PERFMAP_VAR).is_some_and(|v| v == "1") {
            // For `perf`: the policies' machine code by function name, in
            // /tmp/perf-PID.map (host/benches/profile.sh). Off by default:
            // the file grows with every policy loaded.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // Policies are synchronous components: without the component-model
        // async machinery, an async call is a plain call on a fiber.
        config.concurrency_support(false);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(limits)));
        // Sized to the memory limit rather than the default 4 GiB: explicit
        // bounds checks cost policies little, and the pool's address space
        // stays in gigabytes rather than terabytes.
        config.memory_reservation(u64::try_from(limits.memory_bytes).unwrap_or(u64::MAX));
        let cache = compile_cache.and_then(|dir| match compile_cache::enable(&mut config, dir) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(error = %e, "policies will be compiled at every start");
                None
            }
        });
        let engine = Engine::new(&config).map_err(|e| setup("creating the wasmtime engine", e))?;

        let mut linker = Linker::new(&engine);
        // A Rust wasm32-wasip2 guest imports WASI for its std (stdio, env,
        // exit...) even when it never uses it. `CallState` gives it nothing
        // to reach: no files, env, args or network.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| setup("linking WASI", e))?;
        bindings::Policy::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| setup("linking the host interface", e))?;

        let ticker =
            Ticker::start(engine.weak()).map_err(|e| PolicyError::Setup(format!("starting the epoch thread: {e}")))?;

        Ok(PolicyRuntime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                ticker,
                limits,
                // The epoch interrupts computation; this bounds waiting in the
                // host, generously so as to never beat the epoch to it.
                wall_limit: limits.call_timeout.saturating_mul(4).saturating_add(Duration::from_millis(250)),
                kv,
                warm: Arc::default(),
                cache,
                compiling: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn limits(&self) -> SandboxLimits {
        self.inner.limits
    }

    /// Runs `call` as a policy call is run: cut off at the wall-clock limit
    /// if it waits in the host.
    #[cfg(test)]
    pub(super) async fn run_for_test<F: std::future::Future>(&self, call: F) -> Result<F::Output, ()> {
        let clock = CallClock::new(self.inner.limits.call_timeout, self.inner.wall_limit);
        clock.begin();
        match clock.run(&self.inner.ticker, pin!(call)).await {
            Ok(Ok(out)) => Ok(out),
            _ => Err(()),
        }
    }

    /// Compiles `wasm`, checks it against the contract (the imports the host
    /// provides, the exports and their types), and calls `on-tick` with no
    /// apps in a throwaway store to prove it runs. The smoke call sees an
    /// empty scratch `kv`, so a version that is then refused leaves no trace
    /// in the state of the version serving.
    pub async fn load(&self, name: &str, wasm: &[u8]) -> Result<LoadedPolicy, PolicyError> {
        check_header(name, wasm)?;
        let (component, compiled) = self.compile(name, wasm).await?;

        let contract = |what: &str, e: wasmtime::Error| PolicyError::Contract {
            name: name.to_owned(),
            detail: format!("{what}: {}", chain(&e)),
        };
        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            contract("it imports something the host does not provide (only paastis:policy/host, paastis:policy/kv and WASI 0.2 are)", e)
        })?;
        let pre = PolicyPre::new(instance_pre)
            .map_err(|e| contract("it does not export paastis:policy/handler as the host expects", e))?;

        let interface = describe(&self.inner.engine, &component);
        let answering = Answering::find(pre.instance_pre());
        let ticking = Ticking::find(pre.instance_pre());
        let requesting = Requesting::find(pre.instance_pre());
        let requesting_text = RequestingText::find(pre.instance_pre());
        let policy = LoadedPolicy {
            inner: Arc::new(PolicyInner {
                name: name.into(),
                sha256: hex::encode(Sha256::digest(wasm)),
                compiled,
                interface,
                answering,
                ticking,
                requesting,
                requesting_text,
                pre,
                runtime: Arc::clone(&self.inner),
                kv: Arc::clone(&self.inner.kv),
                warm: self.inner.warm_pool(self.inner.limits.isolation),
                checking: false,
            }),
        };
        // Instantiating also looks up the `answering` export, so a policy
        // whose export does not match the host's types is refused here.
        policy.with_scratch_kv().on_tick(unix_millis(), &[]).await?;
        Ok(policy)
    }

    /// Compilation takes tens to hundreds of milliseconds of CPU: off the
    /// async workers when there is a tokio runtime to lend a blocking thread.
    async fn compile(&self, name: &str, wasm: &[u8]) -> Result<(Component, Compiled), PolicyError> {
        let _one_at_a_time = self.inner.compiling.lock().await;
        let hits = || self.inner.cache.as_ref().map_or(0, Cache::cache_hits);
        let hits_before = hits();
        let engine = self.inner.engine.clone();
        let compiled = match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let wasm = wasm.to_vec();
                handle
                    .spawn_blocking(move || Component::new(&engine, wasm))
                    .await
                    .map_err(|e| PolicyError::Setup(format!("compiling policy {name:?}: {e}")))?
            }
            Err(_) => Component::new(&engine, wasm),
        };
        let component = compiled.map_err(|e| PolicyError::Invalid { name: name.to_owned(), detail: chain(&e) })?;
        let how = if hits() > hits_before { Compiled::FromCache } else { Compiled::Now };
        Ok((component, how))
    }
}

/// Where a loaded policy's machine code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    /// Compiled by this load (and written to the compile cache, when on).
    Now,
    /// Read from the compile cache.
    FromCache,
}

impl Compiled {
    pub fn as_str(self) -> &'static str {
        match self {
            Compiled::Now => "compiled",
            Compiled::FromCache => "cache",
        }
    }
}

impl RuntimeInner {
    fn warm_pool(&self, isolation: Isolation) -> WarmPool {
        WarmPool::new(isolation, Arc::clone(&self.warm), self.limits.memory_bytes / 2)
    }
}

/// A compiled, validated policy. Clones are cheap and share it.
#[derive(Clone)]
pub struct LoadedPolicy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    name: Arc<str>,
    sha256: String,
    compiled: Compiled,
    interface: Interface,
    /// The optional `answering` export; `None` for policies built before it.
    answering: Option<Answering>,
    /// The optional `ticking` export; `None` for policies built before it.
    ticking: Option<Ticking>,
    /// The optional `requesting` export; `None` for policies built before it.
    requesting: Option<Requesting>,
    /// The optional `requesting-text` export; `None` for policies built
    /// before it.
    requesting_text: Option<RequestingText>,
    pre: PolicyPre<CallState>,
    runtime: Arc<RuntimeInner>,
    /// The runtime's store, or a scratch one (`with_scratch_kv`).
    kv: Arc<dyn KvBackend>,
    warm: WarmPool,
    /// A scratch copy for checks: its log lines say `phase = "check"`.
    checking: bool,
}

/// A component's imports and exports by name; an exported instance is listed
/// by its functions (`paastis:policy/handler@0.1.0#on-tick`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

fn describe(engine: &Engine, component: &Component) -> Interface {
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    let mut exports = Vec::new();
    for (name, item) in ty.exports(engine) {
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                // Its types are part of the contract, not things to call.
                let funcs =
                    instance.exports(engine).filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)));
                exports.extend(funcs.map(|(func, _)| format!("{name}#{func}")));
            }
            ComponentItem::Type(_) => {}
            _ => exports.push(name.to_owned()),
        }
    }
    Interface { imports, exports }
}

/// One call into the guest, with its arguments in the generated types.
#[derive(Clone, Copy)]
enum Call<'a> {
    Request {
        now: Timestamp,
        app: &'a wit::App,
        request: &'a wit::Request,
    },
    /// `requesting.on-request`, for policies that export it: the app's
    /// params are sent as the instance needs them.
    LeanRequest {
        now: Timestamp,
        app: &'a AppView,
        request: &'a requesting::LeanRequest,
    },
    /// `requesting-text.on-request`, for policies that export it: the
    /// request text is written into the instance's buffer, and the params
    /// sent as the instance needs them.
    TextRequest {
        now: Timestamp,
        app: AppRef<'a>,
        request: &'a dyn RequestSource,
    },
    Tick {
        now: Timestamp,
        apps: &'a [wit::App],
    },
    /// `ticking.on-tick`, for policies that export it.
    SharedTick {
        now: Timestamp,
        param_sets: &'a [Vec<wit::Param>],
        apps: &'a [ticking::AppEntry],
    },
}

/// What the guest returned, `err` included.
enum Answer {
    Request(Result<wit::RequestDecision, String>),
    /// From `answering.on-request`, for policies that export it.
    Action(Result<answering::RequestAction, String>),
    /// From `requesting.on-request`, for policies that export it.
    LeanAction(Result<requesting::RequestAction, String>),
    /// From `requesting-text.on-request`, for policies that export it.
    TextAction(Result<requesting_text::RequestAction, String>),
    Tick(Result<wit::TickPlan, String>),
}

/// The outcome of running something in the guest under its clock.
type Outcome<R> = Result<Result<wasmtime::Result<R>, Panicked>, Expired>;

impl LoadedPolicy {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether this version's code was compiled by its load or read from
    /// the compile cache.
    pub fn compiled(&self) -> Compiled {
        self.inner.compiled
    }

    /// Hex SHA-256 of the component's bytes, to tell versions apart in logs.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The same policy calling a fresh, empty in-memory `kv`: for calls whose
    /// answers are not acted on (smoke calls, params checks), so that they
    /// never change the state of the policy serving. Its calls get fresh
    /// instances (they are few), and what it logs is tagged `phase =
    /// "check"`, so that it never reads like a real decision.
    pub fn with_scratch_kv(&self) -> LoadedPolicy {
        let inner = &self.inner;
        LoadedPolicy {
            inner: Arc::new(PolicyInner {
                name: Arc::clone(&inner.name),
                sha256: inner.sha256.clone(),
                compiled: inner.compiled,
                interface: inner.interface.clone(),
                answering: inner.answering.clone(),
                ticking: inner.ticking.clone(),
                requesting: inner.requesting.clone(),
                requesting_text: inner.requesting_text.clone(),
                pre: inner.pre.clone(),
                runtime: Arc::clone(&inner.runtime),
                kv: Arc::new(MemoryKv::default()),
                warm: inner.runtime.warm_pool(Isolation::PerCall),
                checking: true,
            }),
        }
    }

    /// What the component imports and exports, for `paastis policy check`.
    pub fn interface(&self) -> &Interface {
        &self.inner.interface
    }

    /// Whether the policy can answer requests itself (it exports
    /// `paastis:policy/answering`, `requesting` or `requesting-text`).
    pub fn answers(&self) -> bool {
        self.inner.answering.is_some() || self.inner.requesting.is_some() || self.inner.requesting_text.is_some()
    }

    pub async fn on_request(
        &self,
        now: Timestamp,
        app: &AppView,
        request: &RequestView,
    ) -> Result<RequestDecision, PolicyError> {
        if self.inner.requesting_text.is_some() {
            return self.on_text_request(now, app.as_ref(), request).await;
        }
        if self.inner.requesting.is_some() {
            return self.on_lean_request(now, app, &requesting::lean_request_of(request)).await;
        }
        self.on_older_request(now, app.clone(), request.clone()).await
    }

    /// `on_request` for a caller that keeps the app and the request its own
    /// way (the gateway, on every request). For a policy that exports
    /// `requesting-text`, the request text is written straight from them
    /// into the instance's buffer: no view is built, nothing is allocated.
    /// Older policies get owned views made from them.
    pub async fn on_request_ref(
        &self,
        now: Timestamp,
        app: AppRef<'_>,
        request: &dyn RequestSource,
    ) -> Result<RequestDecision, PolicyError> {
        if self.inner.requesting_text.is_some() {
            return self.on_text_request(now, app, request).await;
        }
        // Policies built before `requesting-text`: boxed, so that their
        // views and converted values are not part of every request's
        // future, which hyper copies once per request.
        Box::pin(async move {
            let request = RequestView::of(request);
            if self.inner.requesting.is_some() {
                return self.on_lean_request(now, &app.to_view(), &requesting::lean_request(request)).await;
            }
            self.on_older_request(now, app.to_view(), request).await
        })
        .await
    }

    /// `answering.on-request`, else `handler.on-request`: the policy
    /// predates `requesting`. The views' strings move into the call.
    async fn on_older_request(
        &self,
        now: Timestamp,
        app: AppView,
        request: RequestView,
    ) -> Result<RequestDecision, PolicyError> {
        let app = convert::app_into_wit(app);
        let request = convert::request_into_wit(request);
        match self.inner.invoke(&Call::Request { now, app: &app, request: &request }).await? {
            Answer::Request(returned) => {
                returned.map(convert::decision_from_wit).map_err(|message| self.inner.returned(message))
            }
            Answer::Action(returned) => {
                let action = returned.map_err(|message| self.inner.returned(message))?;
                answering::action_from_wit(action)
                    .map_err(|detail| PolicyError::Nonsense { name: self.name().to_owned(), detail })
            }
            Answer::Tick(_) | Answer::LeanAction(_) | Answer::TextAction(_) => {
                unreachable!("a request call answers as it was called")
            }
        }
    }

    /// `requesting.on-request`, for policies that export it.
    async fn on_lean_request(
        &self,
        now: Timestamp,
        app: &AppView,
        request: &requesting::LeanRequest,
    ) -> Result<RequestDecision, PolicyError> {
        match self.inner.invoke(&Call::LeanRequest { now, app, request }).await? {
            Answer::LeanAction(returned) => {
                let action = returned.map_err(|message| self.inner.returned(message))?;
                requesting::action_from_wit(action)
                    .map_err(|detail| PolicyError::Nonsense { name: self.name().to_owned(), detail })
            }
            Answer::Request(_) | Answer::Action(_) | Answer::TextAction(_) | Answer::Tick(_) => {
                unreachable!("a request call answers as it was called")
            }
        }
    }

    /// `requesting-text.on-request`, for policies that export it.
    async fn on_text_request(
        &self,
        now: Timestamp,
        app: AppRef<'_>,
        request: &dyn RequestSource,
    ) -> Result<RequestDecision, PolicyError> {
        match self.inner.invoke(&Call::TextRequest { now, app, request }).await? {
            Answer::TextAction(returned) => {
                let action = returned.map_err(|message| self.inner.returned(message))?;
                requesting_text::action_from_wit(action)
                    .map_err(|detail| PolicyError::Nonsense { name: self.name().to_owned(), detail })
            }
            Answer::Request(_) | Answer::Action(_) | Answer::LeanAction(_) | Answer::Tick(_) => {
                unreachable!("a request call answers as it was called")
            }
        }
    }

    pub async fn on_tick(&self, now: Timestamp, apps: &[AppView]) -> Result<TickPlan, PolicyError> {
        let answer = if self.inner.ticking.is_some() {
            let (param_sets, apps) = ticking::shared(apps);
            self.inner.invoke(&Call::SharedTick { now, param_sets: &param_sets, apps: &apps }).await?
        } else {
            let apps: Vec<_> = apps.iter().map(convert::app_to_wit).collect();
            self.inner.invoke(&Call::Tick { now, apps: &apps }).await?
        };
        let returned = match answer {
            Answer::Tick(returned) => returned,
            Answer::Request(_) | Answer::Action(_) | Answer::LeanAction(_) | Answer::TextAction(_) => {
                unreachable!("a tick call answers a tick")
            }
        };
        let plan = returned.map_err(|message| self.inner.returned(message))?;
        convert::plan_from_wit(plan).map_err(|detail| PolicyError::Nonsense { name: self.name().to_owned(), detail })
    }
}

impl std::fmt::Debug for LoadedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPolicy")
            .field("name", &self.inner.name)
            .field("sha256", &self.inner.sha256)
            .finish_non_exhaustive()
    }
}

impl PolicyInner {
    /// Calls the guest on a warm instance, or a fresh one. A reused instance
    /// that ran out of memory may only have been full of what earlier calls
    /// left: the call is tried once more on a fresh instance, so that reuse
    /// never fails a call that a fresh instance would answer.
    async fn invoke(&self, call: &Call<'_>) -> Result<Answer, PolicyError> {
        // Boxed: instantiating is the rare case, and its future (1.7 KB)
        // would otherwise be part of every request's, which hyper copies
        // once per request when it takes it.
        let instance = match self.warm.take() {
            Some(warm) => warm,
            None => Box::pin(self.instantiate()).await?,
        };
        let reused = instance.calls > 0;
        match self.call_on(instance, call).await {
            Err(PolicyError::OutOfMemory { .. }) if reused => {
                let fresh = Box::pin(self.instantiate()).await?;
                self.call_on(fresh, call).await
            }
            answered => answered,
        }
    }

    /// A fresh store and instance; instantiating runs guest code (start
    /// functions), so it runs under a call's limits too.
    async fn instantiate(&self) -> Result<Instance, PolicyError> {
        let runtime = &self.runtime;
        let mut state = CallState::new(Arc::clone(&self.name), runtime.limits.memory_bytes, Arc::clone(&self.kv));
        // Instantiating runs the guest's start functions, which may log.
        state.begin_call(self.phase("instantiate"));
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        let clock = Arc::new(CallClock::new(runtime.limits.call_timeout, runtime.wall_limit));
        let on_deadline = Arc::clone(&clock);
        store.epoch_deadline_callback(move |_| Ok(on_deadline.on_deadline()));
        clock.begin();
        store.set_epoch_deadline(FIRST_DEADLINE);
        let instance_pre = self.pre.instance_pre();
        let outcome = clock.run(&runtime.ticker, pin!(instance_pre.instantiate_async(&mut store))).await;
        let instance = self.settle(outcome, &store, true)?;
        // Looking the exports up runs no guest code; a mismatch is the
        // component's fault, not a trap.
        let contract = |what: &str, e: wasmtime::Error| PolicyError::Contract {
            name: self.name.to_string(),
            detail: format!("{what}: {}", chain(&e)),
        };
        let policy = bindings::Policy::new(&mut store, &instance)
            .map_err(|e| contract("its paastis:policy/handler export does not match the host's", e))?;
        let answering = match &self.answering {
            Some(answering) => Some(
                answering
                    .load(&mut store, &instance)
                    .map_err(|e| contract("its paastis:policy/answering export does not match the host's", e))?,
            ),
            None => None,
        };
        let ticking = match &self.ticking {
            Some(ticking) => Some(
                ticking
                    .load(&mut store, &instance)
                    .map_err(|e| contract("its paastis:policy/ticking export does not match the host's", e))?,
            ),
            None => None,
        };
        let requesting = match &self.requesting {
            Some(requesting) => Some(
                requesting
                    .load(&mut store, &instance)
                    .map_err(|e| contract("its paastis:policy/requesting export does not match the host's", e))?,
            ),
            None => None,
        };
        let requesting_text = match &self.requesting_text {
            Some(requesting_text) => Some(
                requesting_text
                    .load(&mut store, &instance)
                    .map_err(|e| contract("its paastis:policy/requesting-text export does not match the host's", e))?,
            ),
            None => None,
        };
        let sent_params = requesting::SentParams::default();
        Ok(Instance {
            store,
            policy,
            answering,
            ticking,
            requesting,
            requesting_text,
            request_text: String::new(),
            sent_params,
            clock,
            calls: 0,
        })
    }

    /// What a call's log lines say they come from: `check` for a scratch
    /// copy, whatever the call.
    fn phase(&self, phase: &'static str) -> &'static str {
        if self.checking { "check" } else { phase }
    }

    /// One call on `instance`, which goes back to the pool if it may serve
    /// again.
    async fn call_on(&self, mut instance: Instance, call: &Call<'_>) -> Result<Answer, PolicyError> {
        let phase = match call {
            Call::Request { .. } | Call::LeanRequest { .. } | Call::TextRequest { .. } => "request",
            Call::Tick { .. } | Call::SharedTick { .. } => "tick",
        };
        instance.store.data_mut().begin_call(self.phase(phase));
        instance.clock.begin();
        instance.store.set_epoch_deadline(FIRST_DEADLINE);
        let Instance {
            store,
            policy,
            answering,
            ticking,
            requesting,
            requesting_text,
            request_text,
            sent_params,
            clock,
            ..
        } = &mut instance;
        // Before the clock starts: the instance's own record of what it was
        // sent (if the call fails, the instance and the record both go).
        let app_ref = match call {
            Call::LeanRequest { app, .. } => Some(requesting::app_ref(app, sent_params)),
            _ => None,
        };
        let app_status = match call {
            Call::TextRequest { app, request, .. } => {
                requesting_text::write_text(request_text, app.name, *request);
                Some(requesting_text::app_status(app, sent_params))
            }
            _ => None,
        };
        let handler = policy.paastis_policy_handler();
        // Pinned here, in a block that ends the borrows it holds on the
        // instance, so that the call's future is never moved (see
        // `CallClock::run`).
        let outcome = {
            let running = pin!(async {
                match (*call, answering) {
                    // A policy that answers gets `answering.on-request`, which
                    // replaces `handler.on-request` for hosts that know it.
                    (Call::Request { now, app, request }, Some(answering)) => {
                        answering.call_on_request(&mut *store, now, app, request).await.map(Answer::Action)
                    }
                    (Call::Request { now, app, request }, None) => {
                        handler.call_on_request(&mut *store, now, app, request).await.map(Answer::Request)
                    }
                    (Call::LeanRequest { now, request, .. }, _) => match (requesting, &app_ref) {
                        (Some(requesting), Some(app)) => {
                            requesting.call_on_request(&mut *store, now, app, request).await.map(Answer::LeanAction)
                        }
                        _ => unreachable!("a lean request is only made for a policy that exports requesting"),
                    },
                    (Call::TextRequest { now, .. }, _) => match (requesting_text, &app_status) {
                        (Some(requesting_text), Some(app)) => requesting_text
                            .call_on_request(&mut *store, now, app, request_text.as_str())
                            .await
                            .map(Answer::TextAction),
                        _ => unreachable!("a text request is only made for a policy that exports requesting-text"),
                    },
                    (Call::Tick { now, apps }, _) => {
                        handler.call_on_tick(&mut *store, now, apps).await.map(Answer::Tick)
                    }
                    (Call::SharedTick { now, param_sets, apps }, _) => match ticking {
                        Some(ticking) => {
                            ticking.call_on_tick(&mut *store, now, param_sets, apps).await.map(Answer::Tick)
                        }
                        None => unreachable!("a shared tick is only made for a policy that exports ticking"),
                    },
                }
            });
            clock.run(&self.runtime.ticker, running).await
        };
        let answer = self.settle(outcome, &instance.store, false)?;
        instance.calls += 1;
        self.warm.give_back(instance);
        Ok(answer)
    }

    /// The guest's message ends up in the gateway's log: bounded like its
    /// log lines.
    fn returned(&self, message: String) -> PolicyError {
        PolicyError::Returned { name: self.name.to_string(), message: convert::truncate(message, MAX_ERROR_BYTES) }
    }

    /// Turns the outcome of a call into the policy's answer or a `PolicyError`
    /// that says what went wrong in the guest's terms.
    fn settle<R>(&self, outcome: Outcome<R>, store: &Store<CallState>, instantiating: bool) -> Result<R, PolicyError> {
        let name = || self.name.to_string();
        let state = store.data();
        let output = state.output.text();
        let result = match outcome {
            Err(Expired) => Err(PolicyError::Timeout { name: name(), limit: self.runtime.limits.call_timeout }),
            Ok(Err(Panicked(message))) => Err(PolicyError::Trapped {
                name: name(),
                detail: format!("the host panicked while running it: {message}"),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => Err(self.classify(&error, instantiating, state.limiter.exceeded, &output)),
        };
        if !output.is_empty() {
            tracing::debug!(policy = &*self.name, output, "policy wrote to stdout/stderr");
        }
        result
    }

    fn classify(
        &self,
        error: &wasmtime::Error,
        instantiating: bool,
        memory_exceeded: bool,
        output: &str,
    ) -> PolicyError {
        let name = self.name.to_string();
        tracing::debug!(policy = &*self.name, error = %chain(error), "policy call failed");
        if memory_exceeded {
            return PolicyError::OutOfMemory { name, limit_bytes: self.runtime.limits.memory_bytes };
        }
        if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return PolicyError::Busy { name, limit: MAX_CONCURRENT_CALLS };
        }
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return PolicyError::Trapped { name, detail: format!("it called exit({})", exit.0) };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PolicyError::Timeout { name, limit: self.runtime.limits.call_timeout },
            Some(trap) => PolicyError::Trapped { name, detail: with_output(trap.to_string(), output) },
            None if instantiating => {
                PolicyError::Trapped { name, detail: format!("it could not be instantiated: {}", chain(error)) }
            }
            // The canonical ABI refused what the guest returned (a string that
            // is not UTF-8, a pointer out of bounds, an unknown case...).
            None => PolicyError::Nonsense { name, detail: chain(error) },
        }
    }
}

/// A Rust guest's panic message goes to stderr just before the trap: the most
/// useful part of the error.
fn with_output(trap: String, output: &str) -> String {
    let said: Vec<&str> =
        output.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("note: ")).collect();
    if said.is_empty() {
        return trap;
    }
    let mut said = said.join(" ");
    if said.len() > 512 {
        let cut = (0..=512).rev().find(|&i| said.is_char_boundary(i)).unwrap_or(0);
        said.truncate(cut);
        said.push_str("...");
    }
    format!("{trap}; it wrote: {said}")
}

/// The error and its causes on one line, as wasmtime nests context.
fn chain(error: &wasmtime::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn check_header(name: &str, wasm: &[u8]) -> Result<(), PolicyError> {
    let not_a_component =
        |detail: &str| PolicyError::NotAComponent { name: name.to_owned(), detail: detail.to_owned() };
    match wasm.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(not_a_component(
            "it is a core WebAssembly module; build the policy for the wasm32-wasip2 target \
             (cargo build --target wasm32-wasip2) or wrap it with `wasm-tools component new`",
        )),
        Some([0, b'a', b's', b'm', ..]) => Ok(()),
        _ => Err(not_a_component("it is not WebAssembly at all (no \\0asm header)")),
    }
}

fn unix_millis() -> Timestamp {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::with_output;

    #[test]
    fn a_guest_panic_message_is_quoted_after_the_trap() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:9:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            with_output("wasm trap: unreachable".into(), stderr),
            "wasm trap: unreachable; it wrote: thread '<unnamed>' panicked at src/lib.rs:9:5: boom"
        );
        assert_eq!(with_output("t".into(), "  \n"), "t");
    }
}
