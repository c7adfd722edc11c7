//! The log's way to stderr: loggers append formatted lines to a shared
//! buffer, and one thread writes it out in batches.
//!
//! The access log has a line per request. Handing each line to a writer
//! thread through a channel (what `tracing-appender` does) wakes that thread
//! once per request: a futex wake and a context switch on the request path,
//! which `perf` showed among the gateway's largest costs on a small machine.
//! Here a line costs an uncontended lock and a copy; the thread is woken only
//! when the buffer goes from empty to not empty, then waits `GATHER` so that
//! the lines of that moment go out in one write.
//!
//! - Lossless: when the thread falls behind by `MAX_PENDING` bytes, loggers
//!   wait for it (as a full channel made them wait before).
//! - Idle costs nothing: with no line to write the thread parks.
//! - A line reaches stderr within about `GATHER`; a crash loses at most what
//!   was gathered meanwhile, and a clean exit flushes everything (the guard).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

/// How long the thread lets lines gather after the first one.
const GATHER: Duration = Duration::from_millis(2);
/// Past this, loggers wait for the thread.
const MAX_PENDING: usize = 4 << 20;

struct Shared {
    state: Mutex<State>,
    /// Signalled by the thread after each write, for loggers that wait.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    closing: bool,
}

/// Cloned into the subscriber: every event is written through it.
#[derive(Clone)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
    thread: Thread,
}

/// Flushes what is pending and ends the thread when dropped.
pub(crate) struct LogGuard {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`.
pub(crate) fn start(out: impl Write + Send + 'static) -> std::io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared { state: Mutex::new(State::default()), drained: Condvar::new() });
    let theirs = Arc::clone(&shared);
    let handle = thread::Builder::new().name("paastis-log".into()).spawn(move || run(&theirs, out))?;
    let writer = LogWriter { shared: Arc::clone(&shared), thread: handle.thread().clone() };
    Ok((writer, LogGuard { shared, handle: Some(handle) }))
}

fn run(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let closing = {
            let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.closing
        };
        if !closing {
            // Woken by the first line after an empty buffer (or spuriously:
            // the buffer is looked at again either way).
            thread::park();
            thread::sleep(GATHER);
        }
        let closing = {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut state.pending, &mut batch);
            state.closing
        };
        shared.drained.notify_all();
        if !batch.is_empty() {
            // Nowhere to report a failed write to stderr: the lines are lost.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if closing {
            let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.pending.is_empty() {
                return;
            }
        }
    }
}

impl LogWriter {
    /// Appends a line (the access log's way in: by reference, so a line
    /// costs no clone of the writer's two `Arc`s, whose counts every worker
    /// thread would bounce between cores).
    pub(crate) fn append(&self, line: &[u8]) {
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.pending.len() >= MAX_PENDING && !state.closing {
            self.thread.unpark();
            state = self.shared.drained.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        drop(state);
        // Cheap when the thread is not parked (it is gathering or writing).
        if was_empty {
            self.thread.unpark();
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).closing = true;
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that keeps what it was given, and counts the writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_flushes_them() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                thread::spawn(move || {
                    for i in 0..2_000 {
                        writer.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.split_once(' ').filter(|(who, _)| *who == t.to_string()))
                .map(|(_, i)| i.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..2_000).collect::<Vec<_>>(), "thread {t}'s lines, whole and in order");
        }
        assert!(writes < 8_000, "lines are written in batches, not one by one ({writes} writes)");
    }

    #[test]
    fn a_line_reaches_the_output_without_a_flush() {
        let sink = Sink::default();
        let (mut writer, _guard) = start(sink.clone()).unwrap();
        writer.write_all(b"hello\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sink.0.lock().unwrap().0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line never reached the output");
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"hello\n");
    }
}
