//! Sleep/wake policies as the gateway sees them: the sandbox crate
//! (`paastis-sandbox`, the only crate that names wasmtime) under the names the
//! gateway uses, and the embedded default policy.

pub use paastis_sandbox::contract as model;
pub use paastis_sandbox::kv;
pub use paastis_sandbox::{
    Interface, Isolation, KvBackend, KvError, LoadedPolicy, MAX_CONCURRENT_CALLS, MemoryKv, PolicyError, PolicyRuntime,
    SandboxLimits,
};

/// The default policy (`policies/inactivity`), built by `build.rs`.
pub const INACTIVITY_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inactivity.wasm"));

#[cfg(test)]
mod embedded_tests;
