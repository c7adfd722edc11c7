//! A handle on one exact process (a pidfd, Linux 5.3+): a signal sent
//! through it can never reach another process that got the same pid after
//! the first one exited, and it becomes readable when the process exits,
//! child or not.

use super::procfs;
use nix::sys::signal::Signal;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub(super) struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// Opens the process that is `pid` now. Safe from recycling only when
    /// the caller knows `pid` cannot have been reused (an unreaped child).
    pub(super) fn open(pid: i32) -> io::Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
        // it touches no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(PidFd { fd })
    }

    /// Opens `pid` only if it is the process that started at `start_time`:
    /// `None` when that process is gone (its pid free or reused).
    pub(super) fn open_verified(pid: i32, start_time: u64) -> io::Result<Option<PidFd>> {
        let handle = match PidFd::open(pid) {
            Ok(handle) => handle,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Checked after opening: the handle now pins whichever process had
        // the pid, and this says whether it is the one we mean.
        Ok(procfs::is_alive(pid, start_time).then_some(handle))
    }

    /// Sends `signal`; a process that already exited is not an error.
    pub(super) fn signal(&self, signal: Signal) -> io::Result<()> {
        // SAFETY: pidfd_send_signal with a null siginfo and no flags reads
        // no memory of ours.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_reaches_the_process() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let start = procfs::start_time(pid).unwrap();
        let handle = PidFd::open_verified(pid, start).unwrap().expect("the child is alive");
        handle.signal(Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGTERM));
        // Reaped: the pid may now belong to anyone, and the handle still
        // names the old process only.
        handle.signal(Signal::SIGKILL).unwrap();
    }

    #[test]
    fn another_start_time_is_another_process() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let start = procfs::start_time(pid).unwrap();
        assert!(PidFd::open_verified(pid, start + 1).unwrap().is_none());
        let _ = child.kill();
        let _ = child.wait();
    }
}
