//! At `serve` startup, before any listener opens: ends what a crash left
//! behind. Each app's supervisor normally takes the app down when the
//! gateway dies (PDEATHSIG); when the supervisor died too (killed with the
//! gateway, or by the OOM killer), the app's processes are orphans that
//! nobody stops, and one holding a fixed port would make every wake fail.
//!
//! The store records each running app's supervisor and process group
//! (`ledger.rs`). For each record of this boot, the sweep ends, through
//! pidfds checked against the start times in `/proc` (so a pid recycled
//! since is never signalled):
//! - the supervisor, if it still runs;
//! - the app's process group, if its leader is still the process recorded
//!   (otherwise the group id may have been reused);
//! - every process started under that supervisor: the supervisor puts
//!   `PAASTIS_SUPERVISOR=<pid>:<start time>` in the app's environment, and
//!   a process started before the supervisor cannot carry it, so this finds
//!   what left the group (a double-forked `setsid` daemon, workers whose
//!   parent died) unless it cleared its environment;
//! - and every descendant of those.
//!
//! SIGTERM first, SIGKILL after the app's `stop_grace`, as a stop does.
//! Records of another boot name nothing any more and are dropped. A record
//! whose gateway still runs (another gateway on this host sharing a Redis
//! store, as in a rolling restart) is that gateway's to stop: left alone.

use super::pidfd::PidFd;
use super::procfs::{self, Stat};
use super::supervisor;
use crate::config::Config;
use crate::store::{ProcessId, ProcessRecord, Store};
use nix::sys::signal::Signal;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How long processes may resist SIGKILL before the sweep reports them.
const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How often the sweep looks whether the processes are gone.
const CHECK_EVERY: Duration = Duration::from_millis(10);

/// Sweeps every app's record in the store, all apps at once (a stop_grace
/// each, not one after the other). Never fails the start: what cannot be
/// read or swept is logged.
pub(crate) async fn sweep(store: &Store, config: &Config) {
    let records = match store.load_processes().await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the process records: nothing swept");
            return;
        }
    };
    let sweeps = records.into_iter().map(|(key, record)| async move {
        match record {
            Ok(record) if gateway_runs(&record) => {
                tracing::debug!(app = record.app, gateway = record.gateway.pid, "the app's gateway runs: not swept");
                return;
            }
            Ok(record) => {
                let app = record.app.as_str();
                // An app no longer in the config gets the default.
                let configured = config.apps.iter().find(|a| a.name() == app);
                let grace = configured.map_or_else(crate::config::default_stop_grace, |a| a.stop_grace).0;
                sweep_app(app, &record, grace).await;
            }
            Err(e) => tracing::warn!(key, error = %e, "an unreadable process record is dropped"),
        }
        if let Err(e) = store.forget_process(&key).await {
            tracing::warn!(key, error = %e, "cannot forget a swept process record");
        }
    });
    futures_util::future::join_all(sweeps).await;
    if let Err(e) = store.flush().await {
        tracing::warn!(error = %e, "cannot flush the swept process records");
    }
}

/// The gateway that recorded it is still running (and is not this one).
fn gateway_runs(record: &ProcessRecord) -> bool {
    procfs::boot_id() == Some(record.boot_id.as_str())
        && record.gateway.pid != std::process::id() as i32
        && procfs::is_alive(record.gateway.pid, record.gateway.start_time)
}

async fn sweep_app(app: &str, record: &ProcessRecord, grace: Duration) {
    if procfs::boot_id() != Some(record.boot_id.as_str()) {
        tracing::debug!(app, "a process record of another boot is dropped");
        return;
    }
    let mut left = Processes::default();
    if left.find(record) == 0 {
        tracing::debug!(app, "nothing is left of the app's last run");
        return;
    }
    tracing::info!(
        app,
        supervisor = record.supervisor.pid,
        group = record.group.pid,
        processes = %left,
        "sweeping the processes a crash left behind"
    );
    // A stopped process cannot act on SIGTERM until continued.
    left.signal(&[Signal::SIGTERM, Signal::SIGCONT]);
    if left.wait_gone(grace).await {
        return;
    }
    tracing::warn!(app, grace = ?grace, processes = %left, "swept processes ignored SIGTERM; sending SIGKILL");
    let give_up = tokio::time::Instant::now() + STUCK_AFTER;
    loop {
        // Scanned again: a process may have forked meanwhile.
        left.find(record);
        left.signal(&[Signal::SIGKILL]);
        if left.wait_gone(CHECK_EVERY * 5).await {
            return;
        }
        if tokio::time::Instant::now() >= give_up {
            tracing::error!(app, processes = %left, "swept processes survived SIGKILL");
            return;
        }
    }
}

/// The processes found so far, each held by a pidfd opened while it was
/// checked to be the process seen (pid and start time).
#[derive(Default)]
struct Processes {
    held: HashMap<ProcessId, PidFd>,
}

impl Processes {
    /// Adds what `record` names now (see the module doc); returns how many
    /// are held in all.
    fn find(&mut self, record: &ProcessRecord) -> usize {
        let all = match procfs::all() {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read /proc to sweep");
                return self.held.len();
            }
        };
        for stat in candidates(&all, record) {
            let id = ProcessId { pid: stat.pid, start_time: stat.start_time };
            if !self.held.contains_key(&id)
                && let Ok(Some(handle)) = PidFd::open_verified(stat.pid, stat.start_time)
            {
                self.held.insert(id, handle);
            }
        }
        self.held.len()
    }

    fn signal(&self, signals: &[Signal]) {
        for handle in self.held.values() {
            for signal in signals {
                let _ = handle.signal(*signal);
            }
        }
    }

    /// Waits up to `limit` for every held process to exit; true if they all
    /// did. Those that exited are let go.
    async fn wait_gone(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.held.retain(|id, _| procfs::is_alive(id.pid, id.start_time));
            if self.held.is_empty() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    }
}

impl std::fmt::Display for Processes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut pids: Vec<i32> = self.held.keys().map(|id| id.pid).collect();
        pids.sort_unstable();
        let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
        f.write_str(&pids.join(","))
    }
}

/// The living processes `record` names in `all` (one scan of /proc), never
/// this gateway itself.
fn candidates<'a>(all: &'a [Stat], record: &ProcessRecord) -> Vec<&'a Stat> {
    let me = std::process::id() as i32;
    let is = |stat: &Stat, id: ProcessId| stat.pid == id.pid && stat.start_time == id.start_time;
    let group_ours = all.iter().any(|s| is(s, record.group) && !s.zombie);
    let marker = supervisor::marker(record.supervisor.pid, record.supervisor.start_time);
    let mut found: HashSet<i32> = HashSet::new();
    for stat in all.iter().filter(|s| !s.zombie && s.pid != me) {
        let ours = is(stat, record.supervisor)
            || (group_ours && stat.pgrp == record.group.pid)
            // Only a process started after the supervisor can carry its
            // marker; the cheap test goes first.
            || (stat.start_time >= record.supervisor.start_time && procfs::environ_has(stat.pid, &marker));
        if ours {
            found.insert(stat.pid);
        }
    }
    // And everything below them: a live parent link is proof enough.
    let mut grew = true;
    while grew {
        grew = false;
        for stat in all.iter().filter(|s| !s.zombie && s.pid != me) {
            if found.contains(&stat.ppid) && found.insert(stat.pid) {
                grew = true;
            }
        }
    }
    all.iter().filter(|s| found.contains(&s.pid)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, ppid: i32, pgrp: i32, start_time: u64) -> Stat {
        Stat { pid, ppid, pgrp, start_time, zombie: false }
    }

    fn record(supervisor: (i32, u64), group: (i32, u64)) -> ProcessRecord {
        ProcessRecord {
            app: "app".into(),
            boot_id: "boot".into(),
            gateway: ProcessId { pid: 1, start_time: 1 },
            supervisor: ProcessId { pid: supervisor.0, start_time: supervisor.1 },
            group: ProcessId { pid: group.0, start_time: group.1 },
        }
    }

    fn pids(found: Vec<&Stat>) -> Vec<i32> {
        let mut pids: Vec<i32> = found.iter().map(|s| s.pid).collect();
        pids.sort_unstable();
        pids
    }

    #[test]
    fn the_group_counts_only_while_its_leader_is_the_one_recorded() {
        // The supervisor is gone; the leader 20 and a member 21 run on, and
        // 30 is the child of 21.
        let all = [stat(20, 1, 20, 100), stat(21, 1, 20, 105), stat(30, 21, 30, 110), stat(40, 1, 40, 50)];
        assert_eq!(pids(candidates(&all, &record((10, 90), (20, 100)))), vec![20, 21, 30]);
        // Pid 20 now names a process that started at 200: a recycled pid,
        // whose group is not ours. Nothing is.
        let recycled = [stat(20, 1, 20, 200), stat(21, 1, 20, 205)];
        assert!(candidates(&recycled, &record((10, 90), (20, 100))).is_empty());
        // The supervisor's pid recycled: not ours either.
        let recycled = [stat(10, 1, 10, 300)];
        assert!(candidates(&recycled, &record((10, 90), (20, 100))).is_empty());
    }

    #[test]
    fn a_live_supervisor_and_its_tree_count() {
        let all = [stat(10, 1, 10, 90), stat(20, 10, 20, 100), stat(50, 10, 50, 120)];
        assert_eq!(pids(candidates(&all, &record((10, 90), (20, 100)))), vec![10, 20, 50]);
    }

    #[test]
    fn a_process_carrying_the_supervisors_marker_counts() {
        let me = std::process::id() as i32;
        let mine = procfs::stat(me).unwrap();
        let (pid, start) = (4_000_000, mine.start_time.saturating_sub(1));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(supervisor::MARKER_VAR, format!("{pid}:{start}"))
            .spawn()
            .unwrap();
        // The kernel sets up the new environment's bounds just after the
        // exec wakes its parent: wait until it can be read.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read(format!("/proc/{}/environ", child.id())).unwrap_or_default().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the child's environment never became readable");
            std::thread::sleep(Duration::from_millis(1));
        }
        let child_stat = procfs::stat(child.id() as i32).unwrap();
        let all = [child_stat];
        let found = pids(candidates(&all, &record((pid, start), (pid + 1, start))));
        // A process that started before the supervisor cannot be its.
        let too_early = pids(candidates(&all, &record((pid, child_stat.start_time + 1), (pid + 1, 0))));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, vec![child_stat.pid]);
        assert!(too_early.is_empty(), "{too_early:?}");
    }
}
