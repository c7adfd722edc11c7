//! Paastis: a scale-to-zero HTTP gateway whose sleep/wake decisions are
//! sandboxed WebAssembly policies. See ARCHITECTURE.md for the map.
//!
//! Every module is private: the binary, the integration tests and the
//! benches use only what is re-exported at the bottom, so rustc reports
//! dead code and `unreachable_pub` keeps `pub` honest.

#![warn(unreachable_pub)]

// The edge: the command line, and a running gateway assembled from a config.
mod cli; //             `paastis serve | demo | check | policy | simulate | inspect`
mod config; //          the TOML file: schema, spans for errors, defaults
mod demo; //            `paastis demo`: two local apps behind the gateway
mod gateway; //         start in order, serve, shut down in order
mod tls; //             certificates, SNI, ALPN for the HTTPS listener

// The request path.
mod proxy; //           routing, admission, waking, forwarding, answers
mod upstream; //        the HTTP client to the apps

// The apps and what decides for them.
mod apps; //            one state machine per app, and its lifecycle effects
mod clock; //           wall-clock ms, as the policy contract counts them
mod policy; //          which policy serves which app; catalog, hot swap, tick

// The platforms and the shared state.
mod backend; //         process, Scalingo, Heroku, Clever Cloud, Render, Kubernetes
mod cluster; //         replicas: leases, wake locks, shared activity
mod discovery; //       apps found on a platform by rules
mod store; //           sled or Redis: app records, events, kv, the recorder

// What operators see.
mod admin; //           admin API and dashboard
mod error_chain; //     an error's causes on one line
mod inspect; //         `paastis inspect`: the store as the next start restores it
mod savings; //         hours asleep and money saved
mod simulate; //        `paastis simulate`: replay an access log against policies
mod stripe; //          per-thread places for what every worker writes per request
mod telemetry; //       events and Prometheus metrics
mod timeline; //        per-app timelines for the dashboard
mod user_dirs; //       per-user directories as XDG places them (demo state, compile cache)

/// The `paastis` binary's entry point (the integration tests run it too).
pub use cli::main;
pub use config::Config;
pub use gateway::Gateway;

/// For the integration tests and the benches: what they seed, read or call
/// directly, beside the binary.
pub mod testing {
    pub use crate::backend::set_supervisor_executable;
    pub use crate::clock::now_ms;
    pub use crate::policy::builtin::INACTIVITY_WASM;
    pub use crate::store::{ProcessId, ProcessRecord, Store};
    pub use crate::telemetry::{Event, EventKind, WakeCause};
    pub use paastis_sandbox::contract;
    pub use paastis_sandbox::{Isolation, LoadedPolicy, PolicyRuntime, SandboxLimits};
}
