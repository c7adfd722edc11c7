//! The processes a supervisor answers for: the app's process group, while
//! its leader is unreaped (so the group id cannot have been reused), and
//! every living descendant of the supervisor. The supervisor is a child
//! subreaper, so whatever the app orphans (a double-forked `setsid` daemon,
//! the workers of a parent that died) is reparented to it and stays below it.

use crate::backend::pidfd::PidFd;
use crate::backend::procfs;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

pub(super) struct Tree {
    /// The app's first process, leader of its process group.
    leader: i32,
    leader_reaped: bool,
    /// The supervisor: every descendant of it is the app's.
    root: i32,
}

impl Tree {
    pub(super) fn new(leader: i32) -> Tree {
        Tree { leader, leader_reaped: false, root: std::process::id() as i32 }
    }

    /// Once reaped, the leader's pid, and with it the group id, may be
    /// given to an unrelated process: the group is then reached through the
    /// descendants only.
    pub(super) fn leader_reaped(&mut self) {
        self.leader_reaped = true;
    }

    /// Sends `signals`, in order, to every process of the app; returns how
    /// many descendants were found (0 when /proc could not be read, and only
    /// the group was reached).
    pub(super) fn signal(&self, signals: &[Signal]) -> usize {
        if !self.leader_reaped {
            for signal in signals {
                // ESRCH: the whole group is gone already.
                let _ = killpg(Pid::from_raw(self.leader), *signal);
            }
        }
        let Ok(descendants) = procfs::descendants(self.root) else { return 0 };
        for process in &descendants {
            // Opened then checked against the start time seen in the scan:
            // a process that exited since, its pid reused, is never hit.
            if let Ok(Some(handle)) = PidFd::open_verified(process.pid, process.start_time) {
                for signal in signals {
                    let _ = handle.signal(*signal);
                }
            }
        }
        descendants.len()
    }
}
