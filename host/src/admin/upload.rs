//! Receiving a policy upload, bounded: one at a time (the others get a 429
//! at once), at most `max_bytes` (a declared larger body is refused before
//! a byte of it is read), streamed into an anonymous temp file rather than
//! collected in memory, and cut off when the client stalls between chunks.
//! Twelve parallel 63 MB uploads once took the gateway from 50 MB to 1.3 GB.

use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit};

pub(crate) struct Uploads {
    one_at_a_time: Semaphore,
    max_bytes: u64,
    /// The longest a client may pause between two chunks of its upload.
    chunk_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadRefused {
    #[error("another policy upload is in progress; try again in a moment")]
    Busy,
    #[error("a policy upload is at most {max} bytes ([admin] max_upload_bytes)")]
    TooLarge { max: u64 },
    #[error("the upload stalled for more than {0:?}")]
    Stalled(Duration),
    #[error("cannot read the upload: {0}")]
    Read(String),
    #[error("cannot buffer the upload in a temp file: {0}")]
    TempFile(#[from] std::io::Error),
}

/// The right to upload, held until the upload is installed or refused.
pub(crate) struct UploadTurn<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Uploads {
    pub(crate) fn new(max_bytes: u64, chunk_timeout: Duration) -> Uploads {
        Uploads { one_at_a_time: Semaphore::new(1), max_bytes, chunk_timeout }
    }

    /// Takes the upload slot, or refuses at once when it is taken.
    pub(crate) fn begin(&self) -> Result<UploadTurn<'_>, UploadRefused> {
        let permit = self.one_at_a_time.try_acquire().map_err(|_| UploadRefused::Busy)?;
        Ok(UploadTurn { _permit: permit })
    }

    /// Refuses a body whose declared length is over the limit, unread.
    pub(crate) fn check_declared(&self, headers: &HeaderMap) -> Result<(), UploadRefused> {
        let declared =
            headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.max_bytes => Err(UploadRefused::TooLarge { max: self.max_bytes }),
            _ => Ok(()),
        }
    }

    /// Streams the body into a temp file, then reads back the (bounded)
    /// bytes for validation. `_turn` proves the caller holds the slot.
    pub(crate) async fn receive(&self, _turn: &UploadTurn<'_>, body: &mut Incoming) -> Result<Vec<u8>, UploadRefused> {
        let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
        let mut received: u64 = 0;
        loop {
            let frame = match tokio::time::timeout(self.chunk_timeout, body.frame()).await {
                Err(_) => return Err(UploadRefused::Stalled(self.chunk_timeout)),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(UploadRefused::Read(e.to_string())),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else { continue };
            received += data.len() as u64;
            if received > self.max_bytes {
                return Err(UploadRefused::TooLarge { max: self.max_bytes });
            }
            file.write_all(&data).await?;
        }
        file.rewind().await?;
        let mut bytes = Vec::with_capacity(usize::try_from(received).unwrap_or(0));
        file.read_to_end(&mut bytes).await?;
        Ok(bytes)
    }
}

/// Before refusing an upload, reads and drops what the client is still
/// sending, for a moment: a client busy writing its body would otherwise
/// meet a closed connection (a broken pipe) instead of the answer.
pub(super) async fn linger(body: &mut Incoming) {
    let _ = tokio::time::timeout(LINGER, async { while let Some(Ok(_)) = body.frame().await {} }).await;
}

const LINGER: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_upload_at_a_time() {
        let uploads = Uploads::new(10, Duration::from_secs(1));
        let first = uploads.begin().unwrap();
        assert!(matches!(uploads.begin(), Err(UploadRefused::Busy)));
        drop(first);
        assert!(uploads.begin().is_ok());
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_unread() {
        let uploads = Uploads::new(10, Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, "10".parse().unwrap());
        assert!(uploads.check_declared(&headers).is_ok());
        headers.insert(http::header::CONTENT_LENGTH, "11".parse().unwrap());
        assert!(matches!(uploads.check_declared(&headers), Err(UploadRefused::TooLarge { max: 10 })));
    }
}
