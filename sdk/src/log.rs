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

/// How important a log line is; the gateway's `RUST_LOG` decides which it
/// shows (info and above by default).
///
/// ```
/// use paastis_sdk::log::Level;
/// assert!(Level::Warn > Level::Info);
/// assert_eq!(Level::Error.to_string(), "error");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail, off by default.
    Trace,
    /// Detail for debugging a policy.
    Debug,
    /// What the policy decided and why.
    Info,
    /// Something odd that the policy worked around.
    Warn,
    /// Something the operator must fix.
    Error,
}

impl Level {
    /// `"trace"`, `"debug"`, `"info"`, `"warn"` or `"error"`.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::log::Level::Info.as_str(), "info");
    /// ```
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

/// Writes `message` at `level` to the gateway's log, tagged with the
/// policy's name and the phase (`request`, `tick`, or `check` for the calls
/// that validate a policy); stderr natively. A call writes at most 32 lines
/// of at most 2 KiB each.
///
/// ```
/// use paastis_sdk::log::{log, Level};
/// log(Level::Info, "putting blog to sleep");
/// ```
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

/// Writes `message` at `level` to the gateway's log, tagged with the
/// policy's name and the phase (`request`, `tick`, or `check` for the calls
/// that validate a policy); stderr natively. A call writes at most 32 lines
/// of at most 2 KiB each.
///
/// ```
/// use paastis_sdk::log::{log, Level};
/// log(Level::Info, "putting blog to sleep");
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn log(level: Level, message: &str) {
    eprintln!("[policy {level}] {message}");
}

/// Logs `message` at trace level; `log::trace!` formats like `format!`.
///
/// ```
/// paastis_sdk::log::trace("a trace line");
/// ```
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Logs `message` at debug level; `log::debug!` formats like `format!`.
///
/// ```
/// paastis_sdk::log::debug("a debug line");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs `message` at info level; `log::info!` formats like `format!`.
///
/// ```
/// paastis_sdk::log::info("a info line");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs `message` at warn level; `log::warn!` formats like `format!`.
///
/// ```
/// paastis_sdk::log::warn("a warn line");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs `message` at error level; `log::error!` formats like `format!`.
///
/// ```
/// paastis_sdk::log::error("a error line");
/// ```
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

/// Logs at debug level, formatting like `format!`.
///
/// ```
/// let app = "blog";
/// paastis_sdk::log::debug!("putting {app} to sleep after {} min", 15);
/// ```
pub use crate::__paastis_log_debug as debug;
/// Logs at error level, formatting like `format!`.
///
/// ```
/// let app = "blog";
/// paastis_sdk::log::error!("putting {app} to sleep after {} min", 15);
/// ```
pub use crate::__paastis_log_error as error;
/// Logs at info level, formatting like `format!`.
///
/// ```
/// let app = "blog";
/// paastis_sdk::log::info!("putting {app} to sleep after {} min", 15);
/// ```
pub use crate::__paastis_log_info as info;
/// Logs at trace level, formatting like `format!`.
///
/// ```
/// let app = "blog";
/// paastis_sdk::log::trace!("putting {app} to sleep after {} min", 15);
/// ```
pub use crate::__paastis_log_trace as trace;
/// Logs at warn level, formatting like `format!`.
///
/// ```
/// let app = "blog";
/// paastis_sdk::log::warn!("putting {app} to sleep after {} min", 15);
/// ```
pub use crate::__paastis_log_warn as warn;
