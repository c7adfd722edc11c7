//! The supervisor process itself: one app, from its start to the end of its
//! last process. Synchronous and single-threaded on purpose: it starts in
//! well under a millisecond, its signal handling is a plain signalfd, and
//! there is nothing in it that a runtime would help with.

use super::launch::{Launch, read_launch};
use super::report::Report;
use super::tree::Tree;
use crate::backend::procfs;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the gateway passes on the `paastis supervise` command line. The
/// app itself comes later, over the socket (`launch.rs`).
pub(crate) struct Options {
    /// The gateway's pid: if it is not our parent by the time PDEATHSIG is
    /// armed, it already died and nobody would ever stop us.
    pub parent: i32,
}

/// How long processes may resist SIGKILL (stuck in the kernel) before the
/// supervisor reports them and gives up.
const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How often SIGKILL is repeated, for processes forked meanwhile.
const KILL_AGAIN: Duration = Duration::from_millis(20);

/// The gateway died before the supervisor could tie itself to it.
const EXIT_ORPHANED: u8 = 3;

pub(crate) fn run(options: Options) -> ExitCode {
    match supervise(options) {
        Ok(code) => code,
        // Our stderr is the app's: the gateway logs this as app output.
        Err(e) => {
            eprintln!("paastis supervise: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Phase {
    Running,
    /// SIGTERM sent; SIGKILL at the deadline.
    Stopping(Instant),
    /// SIGKILL sent (and repeated); given up at the deadline.
    Killing(Instant),
}

fn supervise(options: Options) -> io::Result<ExitCode> {
    // Signals are read from a signalfd. They are blocked before PDEATHSIG is
    // armed, so that one arriving at any point from here on waits for the
    // loop instead of killing us with the app still running.
    let mut mask = SigSet::empty();
    for signal in STOP_SIGNALS.into_iter().chain([Signal::SIGCHLD]) {
        mask.add(signal);
    }
    mask.thread_block().map_err(io::Error::from)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    for signal in STOP_SIGNALS {
        let action = SigAction::new(SigHandler::Handler(note_stop), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    if nix::unistd::getppid().as_raw() != options.parent {
        return Ok(ExitCode::from(EXIT_ORPHANED));
    }
    nix::sys::prctl::set_child_subreaper(true)?;
    let mut socket = report_socket()?;
    // Made before the wait: once the launch comes, only the spawn is left.
    let me = std::process::id() as i32;
    let mark = format!("{me}:{}", procfs::start_time(me).unwrap_or(0));
    // Started ahead of need, a supervisor waits here for its app.
    let launch = match wait_for_launch(&mut socket, &signals) {
        Ok(Some(launch)) => launch,
        // Not needed after all: the gateway let it go, or is stopping.
        Ok(None) => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            send(&mut Some(socket), &Report::SpawnFailed(e.to_string()));
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut gateway = Some(socket);
    let Some((program, args)) = launch.command.split_first() else {
        send(&mut gateway, &Report::SpawnFailed("empty command".into()));
        return Ok(ExitCode::FAILURE);
    };
    // The supervisor moves there itself, as it did when the gateway started
    // it there: a relative program or path in the app's command means the
    // same either way.
    if let Some(cwd) = &launch.cwd
        && let Err(e) = std::env::set_current_dir(cwd)
    {
        send(&mut gateway, &Report::SpawnFailed(format!("cannot enter {}: {e}", cwd.display())));
        return Ok(ExitCode::FAILURE);
    }
    // The app's stdout and stderr are ours (the gateway's pipes); its stdin
    // is nothing. A child inherits the signal mask, and the app must not
    // start with its signals blocked: the mask is opened for the spawn, and
    // a stop signal in that moment goes to `note_stop` instead of the
    // signalfd. (A SIGCHLD then is lost, which the loop's first reap covers.)
    mask.thread_unblock().map_err(io::Error::from)?;
    let spawned = Command::new(program)
        .args(args)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .env(super::MARKER_VAR, mark)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn();
    mask.thread_block().map_err(io::Error::from)?;
    let leader = match spawned {
        Ok(child) => child.id() as i32,
        Err(e) => {
            send(&mut gateway, &Report::SpawnFailed(e.to_string()));
            return Ok(ExitCode::FAILURE);
        }
    };
    // Unreaped, the leader's /proc entry cannot vanish yet.
    let start_time = procfs::start_time(leader).unwrap_or(0);
    send(&mut gateway, &Report::Started { pid: leader, start_time });

    let mut supervisor = Supervisor { tree: Tree::new(leader), leader, leader_exited: false, gateway, signals };
    supervisor.run(launch.grace(), STOP_ASKED.load(Ordering::SeqCst))
}

/// Waits for the gateway's launch message. `None` when told to stop before
/// it came (a stop signal, or the gateway hanging up): a supervisor started
/// ahead of need that is not needed after all.
fn wait_for_launch(socket: &mut UnixStream, signals: &SignalFd) -> io::Result<Option<Launch>> {
    let mut pending = Vec::new();
    loop {
        let (stop, _) = wait_for_signal_or(signals, Some(socket), PollTimeout::NONE)?;
        if stop {
            return Ok(None);
        }
        match read_launch(socket, &mut pending) {
            Ok(None) => {}
            Ok(Some(launch)) => return Ok(Some(launch)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Waits until a signal comes, `socket` (the gateway's) is readable, or
/// `timeout` passes, and takes the signals that came. Says whether one of
/// them asks to stop (any but SIGCHLD) and whether `socket` is readable.
fn wait_for_signal_or(
    signals: &SignalFd,
    socket: Option<&UnixStream>,
    timeout: PollTimeout,
) -> io::Result<(bool, bool)> {
    let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
    if let Some(socket) = socket {
        fds.push(PollFd::new(socket.as_fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    let socket_ready = fds.get(1).and_then(|fd| fd.revents()).is_some_and(|r| !r.is_empty());
    let mut stop = false;
    while let Ok(Some(info)) = signals.read_signal() {
        stop |= info.ssi_signo != Signal::SIGCHLD as u32;
    }
    Ok((stop, socket_ready))
}

/// The signals that stop the app: SIGTERM (the gateway's stop, or its death
/// through PDEATHSIG), and those of a terminal.
const STOP_SIGNALS: [Signal; 4] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT];

/// A stop signal that arrived while the mask was open for the spawn.
static STOP_ASKED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_stop(_: libc::c_int) {
    STOP_ASKED.store(true, Ordering::SeqCst);
}

struct Supervisor {
    tree: Tree,
    leader: i32,
    leader_exited: bool,
    /// `None` once the gateway hung up.
    gateway: Option<UnixStream>,
    signals: SignalFd,
}

impl Supervisor {
    fn run(&mut self, grace: Duration, stop_asked: bool) -> io::Result<ExitCode> {
        let mut phase = Phase::Running;
        let mut stop_asked = stop_asked;
        loop {
            let empty = self.reap();
            if matches!(phase, Phase::Running) && (stop_asked || self.leader_exited) {
                // A stopped process cannot act on SIGTERM until continued.
                self.tree.signal(&[Signal::SIGTERM, Signal::SIGCONT]);
                phase = Phase::Stopping(Instant::now() + grace);
            }
            let now = Instant::now();
            phase = match phase {
                Phase::Running => Phase::Running,
                _ if empty => return Ok(ExitCode::SUCCESS),
                Phase::Stopping(deadline) if now >= deadline => {
                    send(&mut self.gateway, &Report::Killing);
                    self.tree.signal(&[Signal::SIGKILL]);
                    Phase::Killing(now + STUCK_AFTER)
                }
                Phase::Killing(deadline) if now >= deadline => {
                    let left = self.tree.signal(&[Signal::SIGKILL]);
                    send(&mut self.gateway, &Report::Stuck(left));
                    return Ok(ExitCode::FAILURE);
                }
                Phase::Killing(deadline) => {
                    self.tree.signal(&[Signal::SIGKILL]);
                    Phase::Killing(deadline)
                }
                stopping => stopping,
            };
            let deadline = match phase {
                Phase::Running => None,
                Phase::Stopping(deadline) => Some(deadline),
                Phase::Killing(deadline) => Some(deadline.min(Instant::now() + KILL_AGAIN)),
            };
            stop_asked = self.wait_for_events(deadline)?;
        }
    }

    /// Waits for a signal, the gateway's hang-up, or `deadline`. True when
    /// asked to stop: SIGTERM (the gateway's stop, or its death through
    /// PDEATHSIG), SIGINT, SIGHUP, SIGQUIT, or the gateway's end of the
    /// socket closing.
    fn wait_for_events(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now()).as_millis();
                PollTimeout::try_from(left.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let (mut stop, gateway_ready) = wait_for_signal_or(&self.signals, self.gateway.as_ref(), timeout)?;
        if gateway_ready && let Some(gateway) = &mut self.gateway {
            let mut buf = [0u8; 64];
            match gateway.read(&mut buf) {
                // The gateway writes nothing yet; its hang-up is what counts.
                Ok(0) => {
                    self.gateway = None;
                    stop = true;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gateway = None;
                    stop = true;
                }
            }
        }
        Ok(stop)
    }

    /// Reaps every exited child (the app, and what was reparented to us).
    /// True when no child is left at all, so no process of the app is.
    fn reap(&mut self) -> bool {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into our local integer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid > 0 {
                if pid == self.leader {
                    self.tree.leader_reaped();
                    self.leader_exited = true;
                    let status: ExitStatus = ExitStatusExt::from_raw(status);
                    send(&mut self.gateway, &Report::Exited(status.to_string()));
                }
                continue;
            }
            if pid == 0 {
                return false;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return true,
                _ => return false,
            }
        }
    }
}

/// Our stdin is the gateway's socket (see `process.rs`). The app gets
/// /dev/null as stdin, so it never holds the socket.
fn report_socket() -> io::Result<UnixStream> {
    // SAFETY: fd 0 is open for the life of the process and nothing else in
    // the supervisor uses it; from here on this stream owns it.
    let socket = UnixStream::from(unsafe { OwnedFd::from_raw_fd(0) });
    // Not a socket: started by hand rather than by the gateway.
    socket
        .local_addr()
        .map_err(|e| io::Error::other(format!("stdin must be the gateway's socket ({e}); `supervise` is internal")))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn send(gateway: &mut Option<UnixStream>, report: &Report) {
    let Some(socket) = gateway else { return };
    // A few dozen bytes into an empty socket buffer: a non-blocking write
    // takes it whole. A gateway that is gone is no error of ours.
    let _ = socket.write_all(format!("{report}\n").as_bytes());
}
