//! Ctrl-C and SIGTERM as a shutdown: `paastis serve` and `paastis demo` both
//! stop the gateway through it.

/// Ctrl-C and SIGTERM, caught from the moment this is made.
pub(crate) struct ShutdownSignal {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    pub(crate) fn listen() -> ShutdownSignal {
        use tokio::signal::unix::{SignalKind, signal};
        let catch = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch {name}; it will not stop the gateway cleanly");
                None
            }
        };
        ShutdownSignal {
            interrupt: catch(SignalKind::interrupt(), "Ctrl-C"),
            terminate: catch(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// Resolves on Ctrl-C or SIGTERM.
    pub(crate) async fn wait(mut self) {
        async fn next(signal: Option<&mut tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(self.interrupt.as_mut()) => tracing::info!("Ctrl-C: shutting down"),
            () = next(self.terminate.as_mut()) => tracing::info!("SIGTERM: shutting down"),
        }
    }
}
