//! The guest's stdout and stderr, kept (up to a cap) so that a panic message
//! can be quoted in the error and other output logged, without the guest
//! being able to flood the gateway's own output or memory.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Enough for a panic message and a few log lines.
const CAPACITY: usize = 4096;

/// Rust's `print!` panics when a write fails, so writes past the cap are
/// accepted and dropped rather than refused.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Shared>);

#[derive(Default)]
struct Shared {
    bytes: Mutex<Vec<u8>>,
    /// Whether `bytes` may hold anything: nearly every call writes nothing,
    /// and reading and clearing then take no lock (twice per call).
    written: AtomicBool,
}

impl Captured {
    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPACITY.saturating_sub(buf.len());
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.0.written.store(true, Ordering::Release);
    }

    /// What was written, trimmed; empty if nothing was.
    pub(crate) fn text(&self) -> String {
        if !self.0.written.load(Ordering::Acquire) {
            return String::new();
        }
        let buf = self.0.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buf).trim().to_owned()
    }

    /// Forgets what was written (a warm instance's next call starts empty).
    pub(crate) fn clear(&self) {
        if self.0.written.swap(false, Ordering::AcqRel) {
            self.0.bytes.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // The permit bounds a single write's allocation in the host.
        Ok(CAPACITY)
    }
}

impl AsyncWrite for Captured {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
