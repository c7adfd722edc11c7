//! What the gateway tells a supervisor: the one app it is to run, as a JSON
//! line over the socket that is the supervisor's stdin.
//!
//! The command travels over the socket rather than on the command line so
//! that a supervisor can be started before any app needs it, and wait: the
//! few milliseconds the dynamic loader and the kernel spend starting the
//! `paastis` binary then fall outside the wake (`backend/warm.rs`).

use serde::{Deserialize, Serialize};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

/// A launch message larger than this is refused: it is the gateway's own
/// config, and an environment of megabytes is a mistake.
const MAX_LAUNCH_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Launch {
    /// The app's program and arguments, `{port}` already replaced.
    pub command: Vec<String>,
    /// Set in the app's environment, over what the supervisor inherited from
    /// the gateway.
    pub env: Vec<(String, String)>,
    /// The app's working directory; the gateway's when `None`.
    pub cwd: Option<PathBuf>,
    /// Between SIGTERM and SIGKILL.
    pub grace_ms: u64,
}

impl Launch {
    pub(crate) fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }

    /// The message as sent: one line.
    pub(crate) fn to_line(&self) -> Vec<u8> {
        // Strings, a path and a number: serializing cannot fail, but a
        // failure would still be reported rather than panicked on, by a
        // message the supervisor refuses.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    fn parse(line: &[u8]) -> io::Result<Launch> {
        serde_json::from_slice(line).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad launch message from the gateway: {e}"))
        })
    }
}

/// Reads the launch line from the gateway's (non-blocking) socket into
/// `pending`. `Ok(None)`: not whole yet, read again when the socket is
/// readable. An error when the gateway hung up before the line ended
/// (`UnexpectedEof`) or the line is too long or malformed.
pub(crate) fn read_launch(socket: &mut impl Read, pending: &mut Vec<u8>) -> io::Result<Option<Launch>> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                let start = pending.len();
                pending.extend_from_slice(&buf[..n]);
                if let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                    // The gateway sends one line, then only reads.
                    return Launch::parse(&pending[..start + end]).map(Some);
                }
                if pending.len() > MAX_LAUNCH_BYTES {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "launch message over 4 MiB"));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            command: vec!["python3".into(), "-m".into(), "http.server".into(), "8000".into()],
            env: vec![("PORT".into(), "8000".into()), ("GREETING".into(), "a \"quoted\"\nline".into())],
            cwd: Some("/srv/app".into()),
            grace_ms: 2500,
        }
    }

    #[test]
    fn a_launch_reads_back_as_sent_even_in_pieces() {
        let line = launch().to_line();
        let mut pending = Vec::new();
        let (first, rest) = line.split_at(10);
        assert_eq!(read_launch(&mut &first[..], &mut pending).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(read_launch(&mut &rest[..], &mut pending).unwrap(), Some(launch()));
        assert_eq!(launch().grace(), Duration::from_millis(2500));
    }

    #[test]
    fn a_malformed_or_endless_launch_is_refused() {
        let mut pending = Vec::new();
        let error = read_launch(&mut &b"{\"command\": 3}\n"[..], &mut pending).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("bad launch message"), "{error}");

        let endless = vec![b'x'; MAX_LAUNCH_BYTES + 1];
        let error = read_launch(&mut &endless[..], &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    }
}
