//! Why a policy could not be loaded or called. Every message names the policy
//! and says what to do or look at, because it ends up in an operator's log.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("could not set up the policy sandbox: {0}")]
    Setup(String),

    #[error("policy {name:?} is not a WebAssembly component: {detail}")]
    NotAComponent { name: String, detail: String },

    #[error("policy {name:?} is not valid WebAssembly: {detail}")]
    Invalid { name: String, detail: String },

    #[error("policy {name:?} does not match the paastis:policy contract: {detail}")]
    Contract { name: String, detail: String },

    #[error("policy {name:?} trapped: {detail}")]
    Trapped { name: String, detail: String },

    #[error("policy {name:?} exceeded its CPU deadline of {limit:?}")]
    Timeout { name: String, limit: Duration },

    #[error("policy {name:?} exceeded its memory limit of {}", bytes(*limit_bytes))]
    OutOfMemory { name: String, limit_bytes: usize },

    #[error("policy {name:?} could not run: the sandbox is at its limit of {limit} concurrent calls")]
    Busy { name: String, limit: u32 },

    #[error("policy {name:?} returned an error: {message:?}")]
    Returned { name: String, message: String },

    #[error("policy {name:?} returned nonsense: {detail}")]
    Nonsense { name: String, detail: String },
}

fn bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    if n >= MIB && n.is_multiple_of(MIB) { format!("{} MiB", n / MIB) } else { format!("{n} bytes") }
}
