//! The policy sandbox: loads WebAssembly policy components and calls them
//! under a CPU deadline and a memory cap, with no ambient authority. The only
//! crate of the workspace that names wasmtime (`cargo tree -i wasmtime`), so
//! the gateway knows policies only through the plain types of `contract`.
//!
//! - `contract`: the contract of `wit/policy.wit` as plain Rust types;
//! - `runtime`: the engine, loading (compile, validate, smoke call) and calls;
//! - `compile_cache`: compiled policies kept on disk across starts (wasmtime's
//!   cache, in a directory only the gateway's user may write);
//! - `instance`: a policy instance and its store, and the warm instances each
//!   policy keeps between calls (`Isolation`);
//! - `call_state`: what an instance's store holds (WASI with no authority, the
//!   host `log` and `kv` imports, the memory limiter);
//! - `epoch` and `cpu`: the epoch thread and per-call deadlines, judged on the
//!   thread's CPU time, with a wall-clock cap;
//! - `kv`: policy state without wasmtime: limits, the `KvBackend` trait that
//!   the gateway's store implements, and `MemoryKv`;
//! - `convert`: contract ↔ generated bindings, sanitising nonsense;
//! - `answering`: the optional `answering` export (policies that answer
//!   requests themselves): detected at load, its answers checked;
//! - `ticking`: the optional `ticking` export (`on-tick` with the apps'
//!   params shared): detected at load, its arguments built;
//! - `requesting`: the optional `requesting` export (`on-request` with the
//!   params by reference and the headers as one string): detected at load,
//!   the param sets each instance was sent;
//! - `request_text`: the request text of `requesting-text`, written from a
//!   borrowed request (`RequestSource`) or a `RequestView` alike;
//! - `requesting_text`: the optional `requesting-text` export (`on-request`
//!   with the app's name and the request in one string, the rest numbers):
//!   detected at load, the text written into a buffer each instance keeps;
//! - `output`: the guest's stdio, captured and capped;
//! - `error`: `PolicyError`.

mod answering;
mod bindings;
mod call_state;
mod compile_cache;
pub mod contract;
mod convert;
mod cpu;
mod epoch;
mod error;
mod instance;
pub mod kv;
mod output;
mod request_text;
mod requesting;
mod requesting_text;
mod runtime;
mod ticking;

#[cfg(test)]
mod guest_wat;
#[cfg(test)]
mod kv_tests;
#[cfg(test)]
mod tests;

pub use compile_cache::CompileCacheError;
pub use error::PolicyError;
pub use instance::Isolation;
pub use kv::{KvBackend, KvError, MemoryKv};
pub use runtime::{Compiled, Interface, LoadedPolicy, MAX_CONCURRENT_CALLS, PolicyRuntime, SandboxLimits};
