//! What a policy instance's store holds: a WASI context with no authority, the memory
//! accounting, the captured output, the host `log` import and the policy's
//! view of its key-value store (`kv`, namespaced by the policy's name).

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::paastis::policy::host::{Host, LogLevel};
use crate::bindings::paastis::policy::{kv, types};
use crate::kv::{KvBackend, check_sizes};
use crate::output::Captured;

/// Log lines a single call may write; a guest logging in a loop until its
/// deadline would otherwise drown the gateway's log.
const MAX_LOG_LINES: u32 = 32;
/// Longer messages are cut, for the same reason.
const MAX_LOG_BYTES: usize = 2048;

/// Core instances, tables and memories a policy component may create: a Rust
/// component needs a handful of each; the limits stop pathological ones.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 4;
const MAX_TABLE_ELEMENTS: usize = 100_000;

pub(crate) struct CallState {
    policy: Arc<str>,
    /// Tags the policy's log lines: `request`, `tick`, or `check` for the
    /// calls whose answers are not acted on (smoke calls, params checks),
    /// so that they never read like real decisions.
    phase: &'static str,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) output: Captured,
    logs_left: u32,
    kv: Arc<dyn KvBackend>,
}

impl CallState {
    pub(crate) fn new(policy: Arc<str>, memory_bytes: usize, kv: Arc<dyn KvBackend>) -> Self {
        let output = Captured::default();
        // No preopens, env, args or network: the builder starts with none, and
        // the network is switched off explicitly in case a default changes.
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            policy,
            phase: "call",
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            output,
            logs_left: MAX_LOG_LINES,
            kv,
        }
    }
}

impl CallState {
    /// Readies a (possibly warm) store for the next call: what limits a
    /// call starts again, what the memory holds does not. `phase` tags its
    /// log lines (`request`, `tick`, or `check` for calls not acted on).
    pub(crate) fn begin_call(&mut self, phase: &'static str) {
        self.logs_left = MAX_LOG_LINES;
        self.output.clear();
        self.phase = phase;
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The types interface has no functions; the bindings still ask for it.
impl types::Host for CallState {}

impl Host for CallState {
    fn log(&mut self, level: LogLevel, mut message: String) {
        if self.logs_left == 0 {
            return;
        }
        self.logs_left -= 1;
        if self.logs_left == 0 {
            message = format!("{message} (further log lines from this call are dropped)");
        }
        if message.len() > MAX_LOG_BYTES {
            let cut = (0..=MAX_LOG_BYTES).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
            message.truncate(cut);
            message.push_str("...");
        }
        let (policy, phase) = (&*self.policy, self.phase);
        match level {
            LogLevel::Trace => tracing::trace!(policy, phase, "{message}"),
            LogLevel::Debug => tracing::debug!(policy, phase, "{message}"),
            LogLevel::Info => tracing::info!(policy, phase, "{message}"),
            LogLevel::Warn => tracing::warn!(policy, phase, "{message}"),
            LogLevel::Error => tracing::error!(policy, phase, "{message}"),
        }
    }
}

/// Sizes are checked here, the key count by the backend. A failing backend
/// traps the call: the policy cannot tell "no value" from "store broken".
impl kv::Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.kv.get(&self.policy, &key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        // Over a limit is the policy's problem to handle, not a trap.
        let result = check_sizes(&key, &value).and_then(|()| self.kv.set(&self.policy, &key, &value));
        Ok(result.map_err(|e| e.to_string()))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        Ok(self.kv.delete(&self.policy, &key)?)
    }

    fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        Ok(self.kv.list_keys(&self.policy, &prefix)?)
    }
}

/// Caps the total linear memory of an instance (all its calls together: a
/// memory never shrinks) and remembers a refusal, so that the trap that
/// usually follows (Rust aborts when allocation fails) is reported as what it
/// is.
pub(crate) struct MemoryLimiter {
    limit: usize,
    used: usize,
    pub(crate) exceeded: bool,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        MemoryLimiter { limit, used: 0, exceeded: false }
    }

    /// Linear memory the instance holds.
    pub(crate) fn used(&self) -> usize {
        self.used
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let grown = self.used.saturating_add(desired.saturating_sub(current));
        if grown > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.used = grown;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
