//! Writing to the gateway's log, tagged with the policy's name by the host.
//!
//! ```
//! paastis_sdk::log::info!("putting {} to sleep", "hello");
//! paastis_sdk::log::warn("no apps to govern");
//! ```
//!
//! Outside WebAssembly (unit tests of a policy with `cargo test`) there is no
//! host to log to, so lines go to stderr, where the test harness captures them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(target_arch = "wasm32")]
pub fn log(level: Level, message: &str) {
    use crate::bindings::paastis::policy::host::{self, LogLevel};
    let level = match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    };
    host::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
pub fn log(level: Level, message: &str) {
    eprintln!("[policy {level}] {message}");
}

pub fn trace(message: &str) {
    log(Level::Trace, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log_trace {
    ($($arg:tt)+) => { $crate::__paastis_log!(Trace, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log_debug {
    ($($arg:tt)+) => { $crate::__paastis_log!(Debug, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log_info {
    ($($arg:tt)+) => { $crate::__paastis_log!(Info, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log_warn {
    ($($arg:tt)+) => { $crate::__paastis_log!(Warn, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paastis_log_error {
    ($($arg:tt)+) => { $crate::__paastis_log!(Error, $($arg)+) };
}

/// `format!`-style logging: `log::info!("slept {}", name)`.
pub use crate::__paastis_log_debug as debug;
/// `format!`-style logging: `log::info!("slept {}", name)`.
pub use crate::__paastis_log_error as error;
/// `format!`-style logging: `log::info!("slept {}", name)`.
pub use crate::__paastis_log_info as info;
/// `format!`-style logging: `log::info!("slept {}", name)`.
pub use crate::__paastis_log_trace as trace;
/// `format!`-style logging: `log::info!("slept {}", name)`.
pub use crate::__paastis_log_warn as warn;
