//! Whose socket answers on an app's port. A readiness probe that gets an
//! answer only learns that *something* listens; an unrelated server on the
//! port would be taken for the app and sent its traffic. The answer counts
//! when every socket listening where `127.0.0.1:port` leads
//! (`/proc/net/tcp{,6}`) is held open by a process of the app's tree.

use super::procfs;

/// The app's side of the check: its port and its processes.
#[derive(Clone, Debug)]
pub(crate) struct ListenerOwner {
    pub(super) port: u16,
    /// The app's first process: it usually holds the socket itself.
    pub(super) leader: i32,
    /// The supervisor, whose descendants are the app's processes.
    pub(super) root: i32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum NotOwned {
    #[error("port {port} is in use by another process: it answered, but the socket listening there is not the app's")]
    Foreign { port: u16 },
    #[error("port {port} answered, but no socket listening there can be found in /proc/net/tcp")]
    Unseen { port: u16 },
    #[error("cannot tell whose socket listens on port {port}: {message}")]
    Unreadable { port: u16, message: String },
}

impl ListenerOwner {
    /// For a test whose own process listens on `port`, as an app would.
    #[cfg(test)]
    pub(crate) fn this_process(port: u16) -> ListenerOwner {
        let me = std::process::id() as i32;
        ListenerOwner { port, leader: me, root: me }
    }

    /// Ok once a connection to `127.0.0.1:port` is taken (and closed at
    /// once): something listens there, and `verify` can say whose it is.
    pub(crate) async fn accepts(&self, timeout: std::time::Duration) -> std::io::Result<()> {
        let connect = tokio::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, self.port));
        match tokio::time::timeout(timeout, connect).await {
            Ok(connected) => connected.map(drop),
            Err(_) => {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no connection within {timeout:?}")))
            }
        }
    }

    /// Ok when the app's own processes hold every socket listening on its
    /// port. Reads /proc, so it runs off the async workers.
    pub(crate) async fn verify(&self) -> Result<(), NotOwned> {
        let owner = self.clone();
        let port = self.port;
        tokio::task::spawn_blocking(move || owner.verify_now())
            .await
            .unwrap_or_else(|e| Err(NotOwned::Unreadable { port, message: e.to_string() }))
    }

    fn verify_now(&self) -> Result<(), NotOwned> {
        let port = self.port;
        let listeners =
            procfs::loopback_listeners(port).map_err(|e| NotOwned::Unreadable { port, message: e.to_string() })?;
        if listeners.is_empty() {
            return Err(NotOwned::Unseen { port });
        }
        // Most apps listen from their first process: one directory read.
        let mut owned = procfs::socket_inodes(self.leader);
        if listeners.iter().all(|inode| owned.contains(inode)) {
            return Ok(());
        }
        // A wrapper (`sh -c`, `npm start`) or a forking server: the whole tree.
        let tree = procfs::descendants(self.root).map_err(|e| NotOwned::Unreadable { port, message: e.to_string() })?;
        owned.extend(tree.iter().flat_map(|process| procfs::socket_inodes(process.pid)));
        match listeners.iter().all(|inode| owned.contains(inode)) {
            true => Ok(()),
            false => Err(NotOwned::Foreign { port }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn our_own_listener_is_ours_and_a_foreign_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        // This process holds the socket: it is its own leader.
        let owner = ListenerOwner { port, leader: me, root: me };
        assert_eq!(owner.verify().await, Ok(()));

        // An app whose processes (a lone `sleep`) do not hold the socket.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let stranger = ListenerOwner { port, leader: child.id() as i32, root: child.id() as i32 };
        assert_eq!(stranger.verify().await, Err(NotOwned::Foreign { port }));
        let _ = child.kill();
        let _ = child.wait();

        drop(listener);
        assert_eq!(owner.verify().await, Err(NotOwned::Unseen { port }));
    }
}
