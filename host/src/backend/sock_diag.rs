//! The TCP sockets listening on a port, asked of the kernel over netlink
//! (sock_diag(7), as `ss -l` asks), for the readiness check of every wake.
//!
//! `/proc/net/tcp` is the other way to know, and a slow one: reading it makes
//! the kernel walk its whole connection hash table, whose size follows the
//! machine's memory, not its number of sockets. On a 2-core VM with ten
//! sockets, each of `/proc/net/tcp` and `/proc/net/tcp6` took 5 ms to read,
//! 10 ms of every cold start. A dump of listening sockets only walks the
//! listening table, and the kernel skips those on other ports itself.

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;

/// The kernel answers a dump as it is read; this only bounds a kernel that
/// would not, so that a wake fails instead of hanging.
const ANSWER_TIMEOUT_MS: u16 = 1_000;
/// Room for one datagram of the dump (the kernel sends at most 32 KiB each).
const DATAGRAM: usize = 64 * 1024;

/// The local address and the inode of every TCP socket listening on `port`,
/// IPv4 and IPv6.
pub(super) fn tcp_listeners(port: u16) -> io::Result<Vec<(IpAddr, u64)>> {
    // One socket and one buffer for both dumps: the second request is sent
    // once the first dump has ended.
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut datagram = vec![0u8; DATAGRAM];
    let mut out = Vec::new();
    for family in [AF_INET, AF_INET6] {
        dump(&socket, &mut datagram, family, port, &mut out)?;
    }
    Ok(out)
}

/// Appends to `out` the listeners of one family, reading until the dump ends.
fn dump(socket: &Socket, datagram: &mut [u8], family: u8, port: u16, out: &mut Vec<(IpAddr, u64)>) -> io::Result<()> {
    socket.send(&request(family, port), 0)?;
    loop {
        wait_readable(socket)?;
        let received = socket.recv(&mut &mut datagram[..], 0)?;
        let mut rest = datagram.get(..received).ok_or_else(|| invalid("a datagram larger than the buffer"))?;
        while !rest.is_empty() {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(rest).map_err(|e| invalid(&e.to_string()))?;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    let header = response.header;
                    // The port filter is the kernel's; checked again all the same.
                    if header.socket_id.source_port == port {
                        out.push((header.socket_id.source_address, u64::from(header.inode)));
                    }
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(error) => return Err(error.to_io()),
                _ => {}
            }
            // Messages follow each other at 4-byte boundaries (NLMSG_ALIGN).
            let length = usize::try_from(message.header.length).unwrap_or(usize::MAX);
            if length == 0 {
                return Err(invalid("a message of length 0"));
            }
            rest = rest.get(length.next_multiple_of(4)..).unwrap_or_default();
        }
    }
}

/// A dump of the TCP sockets of `family` that listen on `port`.
fn request(family: u8, port: u16) -> Vec<u8> {
    let mut socket_id = if family == AF_INET { SocketId::new_v4() } else { SocketId::new_v6() };
    // With a source port, the kernel reports only the listeners on it.
    socket_id.source_port = port;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let request = InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::LISTEN,
        socket_id,
    };
    let mut message = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
    message.finalize();
    let mut bytes = vec![0u8; message.buffer_len()];
    message.serialize(&mut bytes);
    bytes
}

fn wait_readable(socket: &Socket) -> io::Result<()> {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ANSWER_TIMEOUT_MS)) {
        Ok(0) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer from the kernel's socket diagnostics")),
        Ok(_) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("socket diagnostics: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_found_on_its_port_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let found = tcp_listeners(port).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, IpAddr::from([127, 0, 0, 1]));
        // The same inode as the fd this process holds.
        let mine = super::super::procfs::socket_inodes(std::process::id() as i32);
        assert!(mine.contains(&found[0].1), "{found:?} not in {mine:?}");
        drop(other);
        drop(listener);
        assert_eq!(tcp_listeners(port).unwrap(), Vec::new());
    }

    #[test]
    fn ipv6_and_connected_sockets() {
        let listener = std::net::TcpListener::bind("[::]:0").expect("this test needs IPv6 on loopback");
        let port = listener.local_addr().unwrap().port();
        // A connection to it is not a listener, on either side.
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _served = listener.accept().unwrap();
        let found = tcp_listeners(port).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, IpAddr::from([0u16; 8]));
    }
}
