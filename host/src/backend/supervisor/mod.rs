//! The per-app supervisor: the `paastis` binary re-executed as the hidden
//! `paastis supervise` command, one per running app, between the gateway
//! and the app's command.
//!
//! It exists because PR_SET_PDEATHSIG reaches only a direct child: an app
//! started through `sh -c`, `npm start` or a forking server would otherwise
//! outlive the gateway. The supervisor:
//! - arms PDEATHSIG = SIGTERM for itself after exec (and exits at once if
//!   the gateway died before that), so the gateway is spawned with
//!   posix_spawn and never forks its whole self (see `process.rs`);
//! - is started before an app needs it and waits for the app's command over
//!   the socket (`launch.rs`), so a wake does not wait for the binary to
//!   load (`warm.rs`);
//! - is a child subreaper, so what the app orphans stays below it;
//! - starts the command in a process group of its own;
//! - on SIGTERM, the gateway's death, or the end of the app's first process,
//!   sends SIGTERM to the group and to every descendant, waits `stop_grace`,
//!   SIGKILLs whatever is left, and exits once nothing is;
//! - reports the app's pid, its exit and a SIGKILL to the gateway over the
//!   socket that is its stdin (`report.rs`);
//! - marks the app's environment with its own pid and start time
//!   (`MARKER_VAR`), which the sweep after a crash looks for.

mod launch;
mod report;
mod run;
mod tree;

pub(crate) use launch::Launch;
pub(crate) use report::Report;
pub(crate) use run::{Options, run};

/// Put in the app's environment as `<supervisor pid>:<its start time>`:
/// what the app and its descendants inherit tells them apart from any other
/// process if the supervisor dies with the gateway (`backend/sweep.rs`).
pub(crate) const MARKER_VAR: &str = "PAASTIS_SUPERVISOR";

/// The whole environment entry for the supervisor `pid` started at `start_time`.
pub(crate) fn marker(pid: i32, start_time: u64) -> String {
    format!("{MARKER_VAR}={pid}:{start_time}")
}
