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

async fn read_lines(app: String, stream: &'static str, mut reader: impl AsyncRead + Unpin, tail: OutputTail) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..read]);
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            emit(&app, stream, &pending[start..start + newline], &tail);
            start += newline + 1;
        }
        pending.drain(..start);
        while pending.len() >= MAX_LINE {
            emit(&app, stream, &pending[..MAX_LINE], &tail);
            pending.drain(..MAX_LINE);
        }
    }
    if !pending.is_empty() {
        emit(&app, stream, &pending, &tail);
    }
    tail.closed_one();
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
