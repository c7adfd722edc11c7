use std::time::Duration;

/// True while the process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
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
