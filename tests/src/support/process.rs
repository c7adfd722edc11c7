use std::time::Duration;

/// True while the process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|fields| fields.first().is_some_and(|state| state != "Z"))
}

/// True once every thread of the process is stopped (by SIGSTOP): the
/// signal is delivered asynchronously, after `kill` returns.
pub fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    let states: Vec<Option<String>> = tasks
        .flatten()
        .map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            stat.rsplit_once(')')?.1.split_ascii_whitespace().next().map(str::to_owned)
        })
        .collect();
    !states.is_empty() && states.iter().all(|state| state.as_deref() == Some("T"))
}

/// The fields of `/proc/<pid>/stat` after the command name (state first).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_ascii_whitespace().map(str::to_owned).collect())
}

/// Every living process on the machine.
fn living() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Living processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let parent = pid.to_string();
    living().into_iter().filter(|child| stat_fields(*child).is_some_and(|f| f.get(1) == Some(&parent))).collect()
}

/// Living processes whose command line holds `args` in a row, such as
/// `["--name", "wrapped"]`.
pub fn processes_with_args(args: &[&str]) -> Vec<u32> {
    living()
        .into_iter()
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
            let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            argv.windows(args.len()).any(|w| w.iter().zip(args).all(|(a, b)| *a == b.as_bytes()))
        })
        .collect()
}

/// Polls /proc until the process is gone; the kernel offers no portable
/// event for a process that is not our child.
pub async fn wait_pid_gone(pid: u32, limit: Duration) {
    let gone = tokio::time::timeout(limit, async {
        while pid_alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "process {pid} still alive after {limit:?}");
}

/// Polls until `done` holds, panicking with `what` after `limit`: for what
/// only /proc or a refused connection can tell (a process of someone
/// else's gone, a port closed).
pub async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let reached = tokio::time::timeout(limit, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "not within {limit:?}: {what}");
}

/// True when nothing accepts connections on `127.0.0.1:port`.
pub fn port_closed(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// The python3 interpreter, which some test apps are written for.
pub fn python3() -> &'static str {
    let found = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "python3 is missing: install it with scripts/test-deps (apt-get install -y python3)");
    "python3"
}
