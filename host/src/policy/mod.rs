//! Sleep/wake policies: the contract's plain types (`model`) and the sandbox
//! that runs policy components (`runtime`), the only place that knows about
//! wasmtime.

mod bindings;
mod convert;
mod cpu;
mod error;
pub mod kv;
pub mod model;
mod output;
mod runtime;
mod sandbox;
mod ticker;

#[cfg(test)]
mod guest_wat;
#[cfg(test)]
mod kv_tests;
#[cfg(test)]
mod tests;

pub use error::PolicyError;
pub use kv::{KvBackend, KvError, MemoryKv};
pub use runtime::{Interface, LoadedPolicy, MAX_CONCURRENT_CALLS, PolicyRuntime, SandboxLimits};

/// The default policy (`policies/inactivity`), built by `build.rs`.
pub const INACTIVITY_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inactivity.wasm"));
