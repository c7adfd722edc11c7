//! What `/proc` says about processes and sockets: a process's parent, group
//! and start time (a pid alone can be recycled; a pid with its start time
//! names one process for the life of the machine), the tree below a process,
//! and who owns a listening TCP socket.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr};

/// One line of `/proc/<pid>/stat`, the fields we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    /// Clock ticks after boot; with the pid, names the process.
    pub start_time: u64,
    pub zombie: bool,
}

pub(super) fn stat(pid: i32) -> io::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(pid, &text).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad /proc/{pid}/stat")))
}

fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    // The command name, in parentheses, may itself hold spaces and
    // parentheses: the fields start after the last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Field n of proc(5) is at index n - 3 here (state is field 3).
    Some(Stat {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The start time of `pid`, if it exists (zombies included).
pub(super) fn start_time(pid: i32) -> Option<u64> {
    stat(pid).ok().map(|s| s.start_time)
}

/// True when `pid` is the process that started at `start_time`, and has not
/// exited.
pub(super) fn is_alive(pid: i32, start_time: u64) -> bool {
    stat(pid).is_ok_and(|s| s.start_time == start_time && !s.zombie)
}

/// Every process on the machine. Processes that vanish during the scan are
/// skipped.
pub(super) fn all() -> io::Result<Vec<Stat>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if let Ok(stat) = stat(pid) {
            out.push(stat);
        }
    }
    Ok(out)
}

/// The living processes below `root` (not `root` itself), parents before
/// their children.
pub(super) fn descendants(root: i32) -> io::Result<Vec<Stat>> {
    let mut children: HashMap<i32, Vec<Stat>> = HashMap::new();
    for stat in all()? {
        children.entry(stat.ppid).or_default().push(stat);
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            queue.push(child.pid);
            if !child.zombie {
                out.push(child);
            }
        }
    }
    Ok(out)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`): pids and start
/// times mean something only within one boot. `None` if it cannot be read.
pub(super) fn boot_id() -> Option<&'static str> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            Some(id.trim().to_owned()).filter(|id| !id.is_empty())
        })
        .as_deref()
}

/// Whether the environment `pid` was started with holds `entry` (such as
/// `NAME=value`) exactly. False when it cannot be read (gone, or not ours).
pub(super) fn environ_has(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
}

/// The inodes of the sockets `pid` holds open. Unreadable fds (the process
/// exited, or is not ours to look at) are skipped.
pub(super) fn socket_inodes(pid: i32) -> HashSet<u64> {
    let mut out = HashSet::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path())
            && let Some(inode) = target.to_str().and_then(socket_inode)
        {
            out.insert(inode);
        }
    }
    out
}

fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The inodes of the TCP sockets listening on `port` that a connection to
/// `127.0.0.1:port` can reach: bound to 127.0.0.1, to 0.0.0.0, to `::` or to
/// `::ffff:127.0.0.1`. Asked of the kernel's socket diagnostics, which cost
/// far less than reading /proc/net/tcp (see `sock_diag`); read from
/// /proc/net/tcp{,6} where they are not to be had (a kernel built without
/// them, a sandbox that refuses netlink sockets).
pub(super) fn loopback_listeners(port: u16) -> io::Result<Vec<u64>> {
    match super::sock_diag::tcp_listeners(port) {
        Ok(listeners) => Ok(listeners
            .into_iter()
            .filter(|(address, _)| reaches_loopback(*address))
            .map(|(_, inode)| inode)
            .collect()),
        Err(e) => {
            tracing::debug!(error = %e, "no socket diagnostics from the kernel; reading /proc/net/tcp");
            loopback_listeners_from_proc(port)
        }
    }
}

/// Whether a connection to 127.0.0.1 reaches a socket bound to `address`.
fn reaches_loopback(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4 == Ipv4Addr::LOCALHOST || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST),
    }
}

fn loopback_listeners_from_proc(port: u16) -> io::Result<Vec<u64>> {
    let mut out = listeners_in("/proc/net/tcp", port, &["0100007F", "00000000"])?;
    // IPv6 addresses are four 32-bit words, each printed in host order.
    let v6 = ["00000000000000000000000000000000", "0000000000000000FFFF00000100007F"];
    match listeners_in("/proc/net/tcp6", port, &v6) {
        Ok(more) => out.extend(more),
        // A kernel without IPv6 has no such file, and no such listener.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}

const LISTEN: &str = "0A";

fn listeners_in(path: &str, port: u16, addresses: &[&str]) -> io::Result<Vec<u64>> {
    let file = std::fs::File::open(path)?;
    let wanted_port = format!("{port:04X}");
    let mut out = Vec::new();
    for line in io::BufReader::new(file).lines().skip(1) {
        let line = line?;
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else { continue };
        // The kernel lists listening sockets before all others: past the
        // first one that is not listening, the (possibly long) rest is
        // connections, which it need not even format.
        if *state != LISTEN {
            break;
        }
        let Some((address, port)) = local.split_once(':') else { continue };
        if port == wanted_port
            && addresses.contains(&address)
            && let Ok(inode) = inode.parse()
        {
            out.push(inode);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_follow_the_last_parenthesis() {
        let line = "42 (a (weird) name) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        let stat = parse_stat(42, line).unwrap();
        assert_eq!(stat, Stat { pid: 42, ppid: 7, pgrp: 42, start_time: 123456, zombie: false });
    }

    #[test]
    fn this_process_has_a_start_time_and_a_parent() {
        let me = std::process::id() as i32;
        let stat = stat(me).unwrap();
        assert!(stat.start_time > 0);
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert!(is_alive(me, stat.start_time));
        assert!(!is_alive(me, stat.start_time + 1), "another start time is another process");
    }

    #[test]
    fn the_boot_id_and_the_environment_can_be_read() {
        assert!(boot_id().is_some_and(|id| id.len() >= 32), "{:?}", boot_id());
        let mut child =
            std::process::Command::new("sleep").arg("30").env("PAASTIS_PROCFS_TEST", "a:1").spawn().unwrap();
        let pid = child.id() as i32;
        // Its bounds are set just after the exec wakes the parent.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !environ_has(pid, "PAASTIS_PROCFS_TEST=a:1") {
            assert!(std::time::Instant::now() < deadline, "the child's environment never showed the entry");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!environ_has(pid, "PAASTIS_PROCFS_TEST=a:"), "the whole entry, not a prefix");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn children_are_descendants() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let found = descendants(std::process::id() as i32).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.iter().any(|s| s.pid == pid), "{found:?}");
    }

    #[test]
    fn a_listener_is_found_with_its_inode() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inodes = loopback_listeners(port).unwrap();
        assert_eq!(inodes.len(), 1, "{inodes:?}");
        let mine = socket_inodes(std::process::id() as i32);
        assert!(mine.contains(&inodes[0]), "{inodes:?} not in {mine:?}");
        drop(listener);
        assert!(loopback_listeners(port).unwrap().is_empty());
    }

    #[test]
    fn a_wildcard_ipv6_listener_counts() {
        let listener = std::net::TcpListener::bind("[::]:0").expect("this test needs IPv6 on loopback");
        let port = listener.local_addr().unwrap().port();
        assert_eq!(loopback_listeners(port).unwrap().len(), 1);
    }

    /// The fallback finds what the socket diagnostics find, and both leave
    /// out a listener that 127.0.0.1 does not reach.
    #[test]
    fn the_proc_files_give_the_same_listeners() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        let unreachable = std::net::TcpListener::bind(("::1", port)).expect("this test needs IPv6 on loopback");
        let from_proc = loopback_listeners_from_proc(port).unwrap();
        assert_eq!(from_proc.len(), 1, "{from_proc:?}");
        assert_eq!(loopback_listeners(port).unwrap(), from_proc);
        drop(unreachable);
    }

    #[test]
    fn which_addresses_127_0_0_1_reaches() {
        let reached = ["127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1"];
        let not = ["127.0.0.2", "10.0.0.1", "::1", "::ffff:10.0.0.1"];
        for address in reached {
            assert!(reaches_loopback(address.parse().unwrap()), "{address}");
        }
        for address in not {
            assert!(!reaches_loopback(address.parse().unwrap()), "{address}");
        }
    }
}
