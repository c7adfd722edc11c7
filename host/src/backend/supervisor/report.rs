//! What a supervisor tells the gateway, one line per report over the socket
//! that is its stdin: small, text, and read by the same binary that wrote it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// The app runs: its pid (also its process group) and start time.
    Started { pid: i32, start_time: u64 },
    /// The command could not be started (no such program, not executable…).
    SpawnFailed(String),
    /// The app's own process ended, as `exit status: 3` or `signal: 9 (SIGKILL)`.
    /// What it left running is being stopped.
    Exited(String),
    /// `stop_grace` passed with processes still running: SIGKILL follows.
    Killing,
    /// Processes that survived SIGKILL for a long time (stuck in the kernel).
    Stuck(usize),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Started { pid, start_time } => write!(f, "started {pid} {start_time}"),
            Report::SpawnFailed(message) => write!(f, "spawn-failed {}", one_line(message)),
            Report::Exited(status) => write!(f, "exited {}", one_line(status)),
            Report::Killing => f.write_str("killing"),
            Report::Stuck(count) => write!(f, "stuck {count}"),
        }
    }
}

impl Report {
    pub(crate) fn parse(line: &str) -> Option<Report> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        Some(match word {
            "started" => {
                let (pid, start_time) = rest.split_once(' ')?;
                Report::Started { pid: pid.parse().ok()?, start_time: start_time.parse().ok()? }
            }
            "spawn-failed" => Report::SpawnFailed(rest.to_owned()),
            "exited" => Report::Exited(rest.to_owned()),
            "killing" => Report::Killing,
            "stuck" => Report::Stuck(rest.parse().ok()?),
            _ => return None,
        })
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_back_as_written() {
        for report in [
            Report::Started { pid: 42, start_time: 123 },
            Report::SpawnFailed("No such file or directory (os error 2)".into()),
            Report::Exited("exit status: 3".into()),
            Report::Killing,
            Report::Stuck(2),
        ] {
            assert_eq!(Report::parse(&report.to_string()), Some(report));
        }
        assert_eq!(Report::parse(&Report::Exited("a\nb".into()).to_string()), Some(Report::Exited("a b".into())));
        assert_eq!(Report::parse("nonsense"), None);
    }
}
