//! TCP connects with a hedge: an attempt still pending after `HEDGE_AFTER`
//! gets another one beside it (up to `MAX_ATTEMPTS`), and the first to
//! connect wins; the others are dropped. Happy Eyeballs (RFC 8305) staggers
//! its attempts the same way, by the same 250 ms.
//!
//! Why: a freshly started app's listen backlog is often tiny (python's
//! `http.server`: 5), and the SYNs beyond it are dropped. The kernel resends
//! a dropped SYN only after 1 s, then 3 s, so one unlucky request of a burst
//! waited seconds while the app sat idle. A fresh attempt a quarter of a
//! second later usually finds room. Never slower than a single attempt: the
//! first one keeps going, under its own connect timeout.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;

const HEDGE_AFTER: Duration = Duration::from_millis(250);
const MAX_ATTEMPTS: usize = 4;

type Connected = <HttpConnector as Service<Uri>>::Response;
type ConnectError = <HttpConnector as Service<Uri>>::Error;

#[derive(Clone)]
pub(crate) struct HedgedConnector {
    inner: HttpConnector,
}

impl HedgedConnector {
    pub(crate) fn new(inner: HttpConnector) -> HedgedConnector {
        HedgedConnector { inner }
    }
}

impl Service<Uri> for HedgedConnector {
    type Response = Connected;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Connected, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(hedged(self.inner.clone(), uri))
    }
}

async fn hedged(inner: HttpConnector, uri: Uri) -> Result<Connected, ConnectError> {
    let attempt = |mut connector: HttpConnector, uri: Uri| async move { connector.call(uri).await };
    let mut attempts = FuturesUnordered::new();
    attempts.push(attempt(inner.clone(), uri.clone()));
    let mut started = 1;
    loop {
        tokio::select! {
            Some(result) = attempts.next() => match result {
                Ok(connected) => return Ok(connected),
                // A refusal or a timeout is an answer: no new attempt for
                // it, but one still pending may yet connect.
                Err(e) if attempts.is_empty() => return Err(e),
                Err(_) => {}
            },
            () = tokio::time::sleep(HEDGE_AFTER), if started < MAX_ATTEMPTS => {
                attempts.push(attempt(inner.clone(), uri.clone()));
                started += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A listener whose accept queue is full drops the next SYN, and the
    /// kernel resends it only after its initial retransmission timeout of
    /// 1 s: a connect that completes sooner was made by a hedge.
    #[tokio::test]
    async fn a_dropped_syn_is_hedged_before_the_kernel_resends_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // Backlog 0: the accept queue holds one connection.
        // SAFETY: listen(2) on a socket this test owns.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let addr = listener.local_addr().unwrap();
        let filler = tokio::net::TcpStream::connect(addr).await.unwrap();
        let uri: Uri = format!("http://{addr}/").parse().unwrap();
        let mut connector = HedgedConnector::new(HttpConnector::new());
        let started = tokio::time::Instant::now();
        let connecting = tokio::spawn(async move { connector.call(uri).await.map(drop) });
        // The first SYN is dropped; then the queue has room again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (accepted, _) = listener.accept().unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), connecting).await.unwrap().unwrap();
        assert!(result.is_ok(), "{result:?}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "connected after {took:?}: the kernel's resend, not a hedge");
        drop((filler, accepted));
    }
}
