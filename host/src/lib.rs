//! Paastis: a scale-to-zero HTTP gateway whose sleep/wake decisions are
//! sandboxed WebAssembly policies. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod apps;
pub mod backend;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod discovery;
mod error_chain;
pub mod gateway;
pub mod inspect;
pub mod policy;
pub mod proxy;
pub mod savings;
pub mod simulate;
pub mod store;
pub mod telemetry;
mod timeline;
pub mod tls;
pub mod upstream;
