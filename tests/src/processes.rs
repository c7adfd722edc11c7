//! No process of an app outlives its stop or the gateway, whatever the
//! command spawns: wrappers, forking servers, double-forked daemons.

use crate::support::{
    AppBuilder, GatewayBuilder, children_of, free_port, pid_alive, port_closed, processes_with_args, python3,
    wait_pid_gone, wait_until, within,
};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// An app started through a shell that stays its parent (`& wait` keeps
/// `sh` from exec'ing the command), as `npm start` or a start script does.
fn wrapped(name: &str) -> AppBuilder {
    let exe = std::env::current_exe().expect("test executable path");
    AppBuilder::new(name).command(&[
        "/bin/sh",
        "-c",
        "\"$0\" demo-app --name \"$1\" --port \"$PORT\" & wait",
        &exe.display().to_string(),
        name,
    ])
}

/// The demo app the wrapper of `app` started, once it runs.
async fn server_below(shell: u32) -> u32 {
    let mut found = Vec::new();
    wait_until(WAIT, "the wrapper's server runs", || {
        found = children_of(shell);
        !found.is_empty()
    })
    .await;
    found[0]
}

pub async fn kill_9_of_the_gateway_leaves_nothing_of_a_wrapper_app() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = || GatewayBuilder::new().data_dir(dir.path()).app(wrapped("wrapped").key("port", &port.to_string()));
    let gateway = config().spawn().await;
    let response = gateway.client().get("wrapped.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let shell = gateway.app_pid("wrapped", 1).await;
    let server = server_below(shell).await;

    gateway.kill9().await;
    wait_until(Duration::from_secs(5), "the wrapper and its server gone, the port closed", || {
        !pid_alive(shell) && !pid_alive(server) && port_closed(port)
    })
    .await;

    let gateway = config().spawn().await;
    let response = gateway.client().get("wrapped.localhost", "/").await;
    assert_eq!(response.status, 200, "the app wakes after the restart: {}", response.text());
}

pub async fn when_the_wrapper_dies_the_next_wake_leaves_exactly_one_copy() {
    let gateway = GatewayBuilder::new().app(wrapped("lonely")).spawn().await;
    let client = gateway.client();
    assert_eq!(client.get("lonely.localhost", "/").await.status, 200);
    let shell = gateway.app_pid("lonely", 1).await;
    server_below(shell).await;

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shell as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    gateway.logs.wait_for("app exited by itself; it will be woken on the next request", "lonely", WAIT).await;
    let response = client.get("lonely.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "lonely"), 2);
    let copies = processes_with_args(&["--name", "lonely"]);
    assert_eq!(copies.len(), 1, "exactly one copy of the server after the second wake: {copies:?}");

    let slept = gateway.admin().post("/apps/lonely/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    wait_until(WAIT, "no copy left after the sleep", || processes_with_args(&["--name", "lonely"]).is_empty()).await;
}

/// The gateway's supervisors that wait for an app: `paastis supervise`
/// children that run nothing yet.
fn waiting_supervisors(gateway: u32) -> Vec<u32> {
    let parent = gateway.to_string();
    let supervisors = processes_with_args(&["supervise", "--parent", &parent]);
    supervisors.into_iter().filter(|pid| children_of(*pid).is_empty()).collect()
}

/// Two supervisors wait before any wake, the wake takes one, and the pool
/// is topped up again. One killed while it waited is left behind: the next
/// wake still starts its app. The gateway's exit lets the waiting ones go.
pub async fn supervisors_wait_ahead_of_wakes_and_a_dead_one_is_left_behind() {
    use nix::sys::signal::{Signal, kill};
    let gateway = GatewayBuilder::new().app(AppBuilder::new("first")).app(AppBuilder::new("second")).spawn().await;
    let gateway_pid = gateway.pid();
    let mut waiting = Vec::new();
    wait_until(WAIT, "two supervisors waiting before any wake", || {
        waiting = waiting_supervisors(gateway_pid);
        waiting.len() == 2
    })
    .await;

    assert_eq!(gateway.client().get("first.localhost", "/").await.status, 200);
    let started = gateway.logs.wait_for("app process started", "first", WAIT).await;
    let used = started["supervisor"].as_u64().unwrap() as u32;
    assert!(waiting.contains(&used), "the wake took a waiting supervisor: {used} not in {waiting:?}");
    let mut refilled = Vec::new();
    wait_until(WAIT, "two supervisors waiting again", || {
        refilled = waiting_supervisors(gateway_pid);
        refilled.len() == 2 && !refilled.contains(&used)
    })
    .await;

    for pid in &refilled {
        kill(nix::unistd::Pid::from_raw(*pid as i32), Signal::SIGKILL).unwrap();
    }
    for pid in &refilled {
        wait_pid_gone(*pid, WAIT).await;
    }
    let response = gateway.client().get("second.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let started = gateway.logs.wait_for("app process started", "second", WAIT).await;
    let used = started["supervisor"].as_u64().unwrap() as u32;
    assert!(!refilled.contains(&used), "a killed supervisor ran the app: {used} in {refilled:?}");
    wait_until(WAIT, "two supervisors waiting after the dead ones", || waiting_supervisors(gateway_pid).len() == 2)
        .await;

    let parent = gateway_pid.to_string();
    assert!(gateway.terminate().await.success());
    wait_until(WAIT, "no supervisor left after the gateway's exit", || {
        processes_with_args(&["supervise", "--parent", &parent]).is_empty()
    })
    .await;
}

/// A prefork server: the parent listens and forks 2 workers that accept,
/// and a daemon that double-forks into a session of its own. Workers and
/// daemon ignore SIGTERM; the parent dies of it, orphaning them.
const FORKING_SERVER: &str = r#"
import os, signal, socket, sys, time
record = lambda kind: open(os.path.join(sys.argv[1], "%s-%d" % (kind, os.getpid())), "w").close()
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
server.listen(64)
for _ in range(2):
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record("worker")
        while True:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nworker")
            conn.close()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record("daemon")
        while True:
            time.sleep(60)
    os._exit(0)
os.wait()
record("parent")
while True:
    time.sleep(60)
"#;

fn recorded(dir: &Path, kind: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix(&format!("{kind}-"))?.parse().ok()).collect()
}

pub async fn a_forking_server_its_workers_and_its_daemon_are_stopped_whole() {
    let pids = tempfile::tempdir().unwrap();
    let script = [python3(), "-c", FORKING_SERVER, &pids.path().display().to_string()];
    let gateway = GatewayBuilder::new().app(AppBuilder::new("forking").command(&script).stop_grace("1s")).spawn().await;
    let response = gateway.client().get("forking.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "worker");
    let started = gateway.logs.wait_for("app process started", "forking", WAIT).await;
    let port = started["port"].as_u64().expect("port field") as u16;
    wait_until(WAIT, "parent, 2 workers and the daemon running", || {
        recorded(pids.path(), "worker").len() == 2
            && recorded(pids.path(), "daemon").len() == 1
            && recorded(pids.path(), "parent").len() == 1
    })
    .await;
    let all: Vec<u32> = ["parent", "worker", "daemon"].iter().flat_map(|kind| recorded(pids.path(), kind)).collect();
    assert!(all.iter().all(|pid| pid_alive(*pid)), "{all:?}");
    // The daemon left the app's process group and session, and its parent
    // exited: it was reparented to the supervisor, a child subreaper.
    let daemon = recorded(pids.path(), "daemon")[0];
    let (app, supervisor) = (started["pid"].as_u64().unwrap(), started["supervisor"].as_u64().unwrap());
    let stat = |pid: u64| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(')').unwrap().1.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>()
    };
    let (daemon, app) = (stat(u64::from(daemon)), stat(app));
    assert_eq!(daemon[1], supervisor.to_string(), "the daemon's parent: {daemon:?}");
    assert_ne!(daemon[2], app[2], "the daemon's process group: {daemon:?}");
    assert_ne!(daemon[3], app[3], "the daemon's session: {daemon:?}");

    let slept = gateway.admin().post("/apps/forking/sleep").await;
    assert_eq!(slept.status, 200, "{}", slept.text());
    gateway.logs.wait_for("app ignored SIGTERM; sending SIGKILL", "forking", WAIT).await;
    gateway.logs.wait_for("app put to sleep", "forking", WAIT).await;
    for pid in all {
        wait_pid_gone(pid, WAIT).await;
    }
    assert!(port_closed(port), "nothing listens on {port} any more");
}

pub async fn a_failed_wake_shows_the_last_lines_of_the_apps_output_in_its_event() {
    let script = "echo starting; i=1; while [ $i -le 30 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo 'fatal: DATABASE_URL is not set' >&2; exit 3";
    let gateway = GatewayBuilder::new().app(AppBuilder::new("noisy").command(&["/bin/sh", "-c", script])).spawn().await;
    let response = gateway.client().get("noisy.localhost", "/").await;
    assert_eq!(response.status, 503, "{}", response.text());
    let events = gateway.admin().events().await;
    let failed = events
        .iter()
        .find(|e| e["kind"] == "wake_failed" && e["app"] == "noisy")
        .unwrap_or_else(|| panic!("no wake_failed event: {events:?}"));
    assert!(failed["reason"].as_str().unwrap().contains("exit status: 3"), "{failed}");
    let output: Vec<&str> = failed["output"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    // 32 lines written, the last 20 kept. Stdout and stderr are read apart,
    // so the one stdout line may land anywhere; the stderr lines keep their
    // order, and the last of them is among the newest.
    assert_eq!(output.len(), 20, "{output:?}");
    assert!(output.contains(&"fatal: DATABASE_URL is not set"), "{output:?}");
    assert!(output.contains(&"line 30") && !output.contains(&"line 1"), "{output:?}");
}

/// Everything a gateway records about a running process app's processes
/// is on disk: the ledger's debug line says so.
const RECORDED: &str = "app processes recorded";
const SWEPT: &str = "sweeping the processes a crash left behind";
const LEDGER_LOG: &str = "info,paastis::backend::ledger=debug";

/// What PDEATHSIG cannot cover: the supervisor killed together with the
/// gateway. The wrapper app is then an orphan nobody stops, holding its
/// fixed port, and so is a daemon it double-forked into a session of its
/// own (outside the group, its parent gone: only the supervisor's mark in
/// its environment tells it). The next start sweeps them all (from the
/// store's record, start times checked), logs it, and the app wakes on its
/// port again.
pub async fn a_restart_sweeps_an_app_whose_supervisor_died_with_the_gateway() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let exe = std::env::current_exe().expect("test executable path");
    // The daemon sleeps for `port` seconds: its arguments find it.
    let script = "\"$0\" demo-app --name orphan --port \"$PORT\" & (setsid sleep \"$PORT\" &); wait";
    let config = || {
        let app = AppBuilder::new("orphan").command(&["/bin/sh", "-c", script, &exe.display().to_string()]);
        GatewayBuilder::new()
            .data_dir(dir.path())
            .env("RUST_LOG", LEDGER_LOG)
            .app(app.key("port", &port.to_string()).stop_grace("2s"))
    };
    let gateway = config().spawn().await;
    let response = gateway.client().get("orphan.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let started = gateway.logs.wait_for("app process started", "orphan", WAIT).await;
    let (shell, supervisor) = (started["pid"].as_u64().unwrap() as u32, started["supervisor"].as_u64().unwrap() as u32);
    let server = server_below(shell).await;
    let daemon_args = ["sleep", &port.to_string()];
    let mut daemon = Vec::new();
    wait_until(WAIT, "the daemon runs", || {
        daemon = processes_with_args(&daemon_args);
        !daemon.is_empty()
    })
    .await;
    gateway.logs.wait_for(RECORDED, "orphan", WAIT).await;
    // Stopped, the gateway cannot see its supervisor die (and take the app
    // down itself); then both are killed.
    let pid = |pid: u32| Pid::from_raw(pid as i32);
    kill(pid(gateway.pid()), Signal::SIGSTOP).unwrap();
    // Delivered asynchronously: a gateway still running would see the
    // supervisor die and stop the app itself.
    let gateway_pid = gateway.pid();
    wait_until(WAIT, "the gateway stopped", || crate::support::all_threads_stopped(gateway_pid)).await;
    kill(pid(supervisor), Signal::SIGKILL).unwrap();
    gateway.kill9().await;
    wait_pid_gone(supervisor, WAIT).await;
    assert!(pid_alive(shell) && pid_alive(server), "the app outlived its supervisor, as the test needs");
    assert!(pid_alive(daemon[0]), "so did its daemon");
    assert!(!port_closed(port), "the orphan holds the app's port");

    let gateway = config().spawn().await;
    // The sweep runs before the listeners open.
    let swept = gateway.logs.wait_for(SWEPT, "orphan", WAIT).await;
    assert_eq!(swept["supervisor"], supervisor, "{swept}");
    assert_eq!(swept["group"], shell, "{swept}");
    assert!(!pid_alive(shell) && !pid_alive(server), "the orphans are gone before the gateway listens: {swept}");
    assert!(!pid_alive(daemon[0]), "the daemon too, found by its mark: {swept}");
    let response = gateway.client().get("orphan.localhost", "/").await;
    assert_eq!(response.status, 200, "the app wakes on its port after the sweep: {}", response.text());
    assert_eq!(gateway.logs_caught_up().await.count(SWEPT, "orphan"), 1);
}

/// A record whose pid now names another process (its start time differs),
/// or that comes from another boot, is dropped without a signal; one whose
/// gateway still runs (another gateway on this host) is left to it. The
/// process each would name survives the sweep.
pub async fn the_sweep_never_signals_a_process_that_is_not_the_one_recorded() {
    use paastis::testing::{ProcessId, ProcessRecord, Store};
    let dir = tempfile::tempdir().unwrap();
    let mut bystander = std::process::Command::new("sleep").arg("120").spawn().unwrap();
    let start_time = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(')').unwrap().1.split_ascii_whitespace().nth(19).unwrap().parse().unwrap()
    };
    let pid = bystander.id() as i32;
    let exact = ProcessId { pid, start_time: start_time(bystander.id()) };
    let recycled = ProcessId { pid, start_time: exact.start_time + 1 };
    // This test process stands for a gateway that still runs.
    let running = ProcessId { pid: std::process::id() as i32, start_time: start_time(std::process::id()) };
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_owned();
    let record = |app: &str, boot_id: &str, gateway: ProcessId, process: ProcessId| ProcessRecord {
        app: app.into(),
        boot_id: boot_id.into(),
        gateway,
        supervisor: process,
        group: process,
    };
    {
        let store = Store::open(&dir.path().join("store")).unwrap();
        store.save_process("recycled@1", &record("recycled", &boot_id, recycled, recycled)).await.unwrap();
        store.save_process("rebooted@1", &record("rebooted", "another-boot", recycled, exact)).await.unwrap();
        store.save_process("running@1", &record("running", &boot_id, running, exact)).await.unwrap();
        store.flush().await.unwrap();
    }
    // sled's I/O thread may hold the file lock a moment after the flush:
    // a handle that never flushed is let go at once.
    within(WAIT, "the test's store handle released", async {
        loop {
            match Store::open(&dir.path().join("store")) {
                Ok(store) => break drop(store),
                Err(e) if e.to_string().contains("locked") => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => panic!("open the store: {e}"),
            }
        }
    })
    .await;
    let gateway = GatewayBuilder::new().data_dir(dir.path()).app(AppBuilder::new("hello")).spawn().await;
    assert_eq!(gateway.logs_caught_up().await.count(SWEPT, ""), 0, "nothing was swept");
    assert!(bystander.try_wait().unwrap().is_none(), "the process a stale record names survives");
    // An app that runs at a clean shutdown leaves no record behind.
    assert_eq!(gateway.client().get("hello.localhost", "/").await.status, 200);
    gateway.terminate().await;
    // The records were read and dropped.
    let store = Store::open(&dir.path().join("store")).unwrap();
    let left: Vec<String> = store.load_processes().await.unwrap().into_iter().map(|(key, _)| key).collect();
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert_eq!(left, vec!["running@1".to_owned()], "the others were dropped, and hello's forgotten at its stop");
}
