//! Waits shorter than a millisecond, for the readiness poll: tokio's timer
//! counts whole milliseconds (a 250 µs sleep lasts 1 to 2 ms), so a shorter
//! wait is a timerfd, armed once per wait and awaited through the runtime's
//! reactor like any socket.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// The owner of one timerfd, made on the first short wait.
#[derive(Default)]
pub(super) struct FineTimer {
    fd: Option<AsyncFd<Timer>>,
}

struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl FineTimer {
    /// Waits `duration`: with tokio's timer from a millisecond up, or when
    /// no timerfd can be had (out of file descriptors), and with the
    /// timerfd below.
    pub(super) async fn sleep(&mut self, duration: Duration) {
        if duration >= Duration::from_millis(1) || self.sleep_fine(duration).await.is_err() {
            tokio::time::sleep(duration).await;
        }
    }

    async fn sleep_fine(&mut self, duration: Duration) -> std::io::Result<()> {
        let fd = match &mut self.fd {
            Some(fd) => fd,
            None => {
                let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
                // SAFETY: `Timer` owns its fd, which stays open and the same
                // for as long as the `AsyncFd` holds the `Timer`.
                let registered = unsafe { AsyncFd::register(Timer(timer)) }?;
                self.fd.insert(registered)
            }
        };
        // A zero expiration would disarm it instead.
        let duration = duration.max(Duration::from_micros(1));
        fd.get_ref().0.set(Expiration::OneShot(TimeSpec::from_duration(duration)), TimerSetTimeFlags::empty())?;
        loop {
            let mut ready = fd.readable().await?;
            // The read consumes the expiry; EAGAIN means a stale readiness.
            match ready.try_io(|fd| fd.get_ref().0.wait().map_err(std::io::Error::from)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_short_wait_is_waited_whole_and_the_timer_rearms() {
        let mut timer = FineTimer::default();
        for wait in [Duration::from_micros(200), Duration::from_micros(300), Duration::from_millis(2)] {
            let started = Instant::now();
            timer.sleep(wait).await;
            assert!(started.elapsed() >= wait, "{:?} < {wait:?}", started.elapsed());
        }
        assert!(timer.fd.is_some(), "the short waits used the timerfd");
    }
}
