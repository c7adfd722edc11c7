//! Raw HTTP on a TCP connection, for what a well-behaved client would never
//! send (malformed bodies, stalls): reading the gateway's answer.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What the gateway sends on `stream` until it closes the connection (or
/// the read fails), or until what came makes `enough` true; panics naming
/// `what` past `limit`.
pub async fn read_answer(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
    what: &str,
    enough: impl Fn(&str) -> bool,
) -> String {
    let mut answer = Vec::new();
    super::within(limit, what, async {
        let mut buf = [0u8; 4096];
        while !enough(&String::from_utf8_lossy(&answer)) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}
