//! Forwards an app's stdout and stderr to the gateway's log, line by line,
//! tagged with the app, so one log tells the whole story; and keeps the last
//! lines, so a failed wake can say why in its event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// What a failed wake's event carries of the app's output, at most.
const TAIL_LINES: usize = 20;
const TAIL_BYTES: usize = 4096;
/// A longer run of output without a newline is logged in pieces, so an app
/// cannot make the gateway buffer without bound.
const MAX_LINE: usize = 16 * 1024;

/// The last lines an app wrote, stdout and stderr interleaved as read.
#[derive(Clone)]
pub(crate) struct OutputTail {
    lines: Arc<Mutex<Tail>>,
    /// How many of the app's streams are still open.
    open: Arc<watch::Sender<usize>>,
}

#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl OutputTail {
    fn new(streams: usize) -> OutputTail {
        OutputTail { lines: Arc::default(), open: Arc::new(watch::Sender::new(streams)) }
    }

    fn push(&self, line: &str) {
        let mut line = line.to_owned();
        if line.len() > TAIL_BYTES {
            let mut cut = TAIL_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let mut tail = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        tail.bytes += line.len();
        tail.lines.push_back(line);
        while tail.lines.len() > TAIL_LINES || tail.bytes > TAIL_BYTES {
            match tail.lines.pop_front() {
                Some(dropped) => tail.bytes -= dropped.len(),
                None => break,
            }
        }
    }

    fn closed_one(&self) {
        self.open.send_modify(|open| *open = open.saturating_sub(1));
    }

    /// The last lines, once every stream has ended (the app's processes
    /// are gone and all they wrote was read), or after `limit`.
    pub(crate) async fn settled(&self, limit: Duration) -> Vec<String> {
        let mut open = self.open.subscribe();
        let _ = tokio::time::timeout(limit, open.wait_for(|open| *open == 0)).await;
        self.lines()
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).lines.iter().cloned().collect()
    }
}

/// Logs what the app writes to `stdout` and `stderr` and keeps its tail.
pub(super) fn forward(
    app: &str,
    stdout: Option<impl AsyncRead + Unpin + Send + 'static>,
    stderr: Option<impl AsyncRead + Unpin + Send + 'static>,
) -> OutputTail {
    let tail = OutputTail::new(usize::from(stdout.is_some()) + usize::from(stderr.is_some()));
    if let Some(stdout) = stdout {
        tokio::spawn(read_lines(app.to_owned(), "stdout", stdout, tail.clone()));
    }
    if let Some(stderr) = stderr {
        tokio::spawn(read_lines(app.to_owned(), "stderr", stderr, tail.clone()));
    }
    tail
}

/// What a reader holds for a quiet stream, and the least it reads at once: the
/// task lives as long as the app, so an idle app's two readers should not
/// each keep a large buffer (they kept 8 KiB each).
const READ_CHUNK: usize = 512;
/// A burst can grow the buffer up to a long line; once the lines are out it
/// goes back to this much.
const KEEP_CAPACITY: usize = 4 * READ_CHUNK;

async fn read_lines(app: String, stream: &'static str, mut reader: impl AsyncRead + Unpin, tail: OutputTail) {
    let mut pending = Pending::default();
    loop {
        match reader.read_buf(pending.spare()).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        pending.take_lines(|line| emit(&app, stream, line, &tail));
    }
    pending.finish(|line| emit(&app, stream, line, &tail));
    tail.closed_one();
}

/// The bytes read but not yet logged. Reads go straight into it, so no second
/// buffer is held while the stream is quiet.
#[derive(Default)]
struct Pending(Vec<u8>);

impl Pending {
    /// Where the next read goes: at least `READ_CHUNK` free bytes.
    fn spare(&mut self) -> &mut Vec<u8> {
        self.0.reserve(READ_CHUNK);
        &mut self.0
    }

    /// Hands out every complete line, and pieces of `MAX_LINE` of a longer
    /// run; keeps the rest for the next read.
    fn take_lines(&mut self, mut line: impl FnMut(&[u8])) {
        let pending = &mut self.0;
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            line(&pending[start..start + newline]);
            start += newline + 1;
        }
        pending.drain(..start);
        while pending.len() >= MAX_LINE {
            line(&pending[..MAX_LINE]);
            pending.drain(..MAX_LINE);
        }
        // Not while a long line is still coming: shrinking then would copy
        // it again at every read.
        if pending.len() <= READ_CHUNK && pending.capacity() > KEEP_CAPACITY {
            pending.shrink_to(KEEP_CAPACITY);
        }
    }

    /// The last line, which had no newline.
    fn finish(self, mut line: impl FnMut(&[u8])) {
        if !self.0.is_empty() {
            line(&self.0);
        }
    }
}

fn emit(app: &str, stream: &'static str, bytes: &[u8], tail: &OutputTail) {
    // An app's output need not be UTF-8; the log and the event are.
    let line = String::from_utf8_lossy(bytes);
    let line = line.strip_suffix('\r').unwrap_or(&line);
    tracing::info!(target: "paastis::app", app = %app, stream, "{line}");
    tail.push(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_newlines_and_long_runs_and_the_buffer_shrinks_after() {
        let mut pending = Pending::default();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        pending.spare().extend_from_slice(b"one\ntw");
        pending.take_lines(|l| lines.push(l.to_vec()));
        pending.spare().extend_from_slice(b"o\n");
        pending.take_lines(|l| lines.push(l.to_vec()));
        assert_eq!(lines, [b"one".to_vec(), b"two".to_vec()], "a line split across reads is joined");
        lines.clear();
        for _ in 0..MAX_LINE / 1000 + 1 {
            pending.spare().extend_from_slice(&[b'a'; 1000]);
            pending.take_lines(|l| lines.push(l.to_vec()));
        }
        pending.spare().extend_from_slice(b"\n");
        pending.take_lines(|l| lines.push(l.to_vec()));
        let lengths: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(lengths, [MAX_LINE, (MAX_LINE / 1000 + 1) * 1000 - MAX_LINE]);
        assert!(pending.0.capacity() <= KEEP_CAPACITY, "kept {} bytes after a long line", pending.0.capacity());
        pending.spare().extend_from_slice(b"no newline");
        pending.finish(|l| lines.push(l.to_vec()));
        assert_eq!(lines.last().map(Vec::as_slice), Some(&b"no newline"[..]));
    }

    fn bytes(text: impl Into<Vec<u8>>) -> Option<std::io::Cursor<Vec<u8>>> {
        Some(std::io::Cursor::new(text.into()))
    }

    #[tokio::test]
    async fn the_tail_keeps_the_last_twenty_lines_of_both_streams() {
        let tail = forward("app", bytes("err 1\nlast words"), None::<&[u8]>);
        assert_eq!(tail.settled(Duration::from_secs(5)).await, vec!["err 1", "last words"]);
        let out: Vec<u8> = (1..=30).flat_map(|i| format!("out {i}\n").into_bytes()).collect();
        let tail = forward("app", bytes(out), bytes(&b"oops\xff\r\n"[..]));
        let lines = tail.settled(Duration::from_secs(5)).await;
        assert_eq!(lines.len(), 20, "{lines:?}");
        assert!(lines.contains(&"out 30".to_owned()), "{lines:?}");
        assert!(lines.contains(&"oops\u{fffd}".to_owned()), "invalid UTF-8 is kept, lossily: {lines:?}");
    }

    #[tokio::test]
    async fn the_tail_stays_within_4_kib() {
        let long = "x".repeat(3000);
        let tail = forward("app", bytes(format!("first\n{long}\n{long}\n")), None::<&[u8]>);
        let lines = tail.settled(Duration::from_secs(5)).await;
        assert_eq!(lines, vec![long.clone()], "older lines give way to the 4 KiB bound");
        let tail = forward("app", bytes("é".repeat(20_000)), None::<&[u8]>);
        let lines = tail.settled(Duration::from_secs(5)).await;
        assert!(lines.iter().map(String::len).sum::<usize>() <= TAIL_BYTES, "{}", lines.len());
    }

    #[tokio::test]
    async fn settling_waits_for_the_streams_to_end() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let tail = forward("app", Some(reader), None::<tokio::io::DuplexStream>);
        let settled = tokio::spawn({
            let tail = tail.clone();
            async move { tail.settled(Duration::from_secs(30)).await }
        });
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"written just before the end\n").await.unwrap();
        drop(writer);
        assert_eq!(settled.await.unwrap(), vec!["written just before the end"]);
    }
}
