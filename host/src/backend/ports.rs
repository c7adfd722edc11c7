//! Ports for process apps: a free one picked for an app without a fixed
//! port, and a fixed one checked free before its app starts.
//!
//! The OS picks a free port (a bind to port 0, then closed) and the app binds
//! it a moment later. In between, the OS may pick the same port again for the
//! next app: it is free until the first app binds it. Woken together, two
//! apps then get one port, and one of their wakes fails on the readiness
//! check's "in use by another process" (1 wake in 200 when 200 woke at once).
//! So every picked port is leased until its app is forgotten, and a pick
//! never returns a leased port. (A stranger can still take the port in that
//! moment: the readiness check catches it, and the wake fails with a 503.)

use super::BackendError;
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};

/// Picks to try before giving up; more than a few leased ports in a row
/// means the OS is short of ports, not unlucky.
const PICKS: usize = 64;

/// The ports picked for apps and not yet given back.
#[derive(Clone, Default)]
pub(super) struct PortLeases {
    leased: Arc<Mutex<HashSet<u16>>>,
}

/// A picked port, leased until dropped.
#[derive(Debug)]
pub(super) struct PortLease {
    port: u16,
    leased: Arc<Mutex<HashSet<u16>>>,
}

impl PortLease {
    pub(super) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.leased.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.port);
    }
}

impl PortLeases {
    /// A free port that no running or starting app was given.
    pub(super) fn pick(&self) -> Result<PortLease, BackendError> {
        // Held open until the pick is made, so the OS does not offer the
        // same leased port again at the next try.
        let mut tried = Vec::new();
        for _ in 0..PICKS {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| BackendError::Port(e.to_string()))?;
            let port = listener.local_addr().map_err(|e| BackendError::Port(e.to_string()))?.port();
            let mut leased = self.leased.lock().unwrap_or_else(PoisonError::into_inner);
            if leased.insert(port) {
                return Ok(PortLease { port, leased: Arc::clone(&self.leased) });
            }
            drop(leased);
            tried.push(listener);
        }
        Err(BackendError::Port(format!("no free port after {PICKS} picks: every one was already given to an app")))
    }
}

/// A fixed port must be free before the app starts: something else
/// listening there would answer the readiness probe and get the app's
/// traffic, while the app itself fails to bind.
pub(super) fn ensure_free(port: u16) -> Result<(), BackendError> {
    // std sets SO_REUSEADDR, so connections lingering in TIME_WAIT from the
    // app's previous run do not count; a listener does.
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(BackendError::PortInUse(port)),
        Err(e) => Err(BackendError::Port(format!("port {port}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leased_port_is_never_picked_again_until_given_back() {
        let leases = PortLeases::default();
        let held: Vec<PortLease> = (0..200).map(|_| leases.pick().unwrap()).collect();
        let ports: HashSet<u16> = held.iter().map(PortLease::port).collect();
        assert_eq!(ports.len(), held.len(), "a port was given twice");
        let first = held[0].port();
        drop(held);
        assert!(leases.leased.lock().unwrap().is_empty(), "dropped leases give their ports back");
        // Given back, it may be picked again: lease it by hand and see the
        // pick go around it.
        leases.leased.lock().unwrap().insert(first);
        for _ in 0..50 {
            assert_ne!(leases.pick().unwrap().port(), first);
        }
    }

    #[test]
    fn a_fixed_port_with_a_listener_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(matches!(ensure_free(port), Err(BackendError::PortInUse(p)) if p == port));
        drop(listener);
        assert!(ensure_free(port).is_ok());
    }
}
