//! CPU time of the current thread, so that a call's budget counts the time
//! the guest actually ran: on a busy machine (two cores, a build running) a
//! thread can be descheduled for milliseconds, and a wall-clock budget would
//! then fail well-behaved policies at random.

use std::time::Duration;

/// `None` where the platform has no per-thread CPU clock; callers then fall
/// back to wall-clock time.
#[cfg(unix)]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call,
    // and CLOCK_THREAD_CPUTIME_ID is supported by every unix this builds on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(not(unix))]
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_with_work_not_with_sleep() {
        let Some(start) = thread_cpu_time() else {
            return;
        };
        std::thread::sleep(Duration::from_millis(20));
        let after_sleep = thread_cpu_time().unwrap_or(start);
        assert!(after_sleep - start < Duration::from_millis(10));
        let mut x = 0u64;
        while thread_cpu_time().unwrap_or(start) - after_sleep < Duration::from_millis(2) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(x > 0);
    }
}
