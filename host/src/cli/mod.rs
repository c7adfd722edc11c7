//! The command line. `main.rs` only calls `cli::main`, so the integration
//! tests can run the very same entry point as a child process.

mod policy_check;
mod policy_new;

use crate::config::Config;
use crate::demo::{DemoApp, DemoOptions};
use crate::gateway::Gateway;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "paastis", version, about = "Scale-to-zero HTTP gateway with WebAssembly sleep/wake policies")]
struct Cli {
    /// Log format on stderr; the level comes from RUST_LOG (default: info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a TOML config file (or the TOML text in $PAASTIS_CONFIG).
    Serve {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the gateway with two demo apps on the local process backend.
    Demo {
        /// Where the gateway listens; repeat it for several addresses. By
        /// default both loopbacks, as browsers try [::1] first for *.localhost.
        #[arg(long, default_values = ["127.0.0.1:8080", "[::1]:8080"])]
        listen: Vec<SocketAddr>,
        /// How long an app may stay idle before the policy puts it to sleep.
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        idle_timeout: Duration,
        /// Where the demo keeps its state (default: $XDG_STATE_HOME/paastis/demo,
        /// ~/.local/state/paastis/demo, or a new temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also serve HTTPS (HTTP/2 and HTTP/1.1), with a self-signed
        /// certificate generated at start.
        #[arg(long)]
        tls: bool,
        /// Where HTTPS listens with --tls.
        #[arg(long, default_value = "127.0.0.1:8443")]
        tls_listen: SocketAddr,
        /// Where the admin API and dashboard listen.
        #[arg(long, default_value = crate::config::DEFAULT_ADMIN_LISTEN)]
        admin_listen: SocketAddr,
    },
    /// Check a config file (or $PAASTIS_CONFIG) and exit.
    Check {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Work with policy components.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Replay an access log against policies on a simulated clock and report
    /// sleeps, cold starts, hours asleep and savings per app.
    Simulate(Box<crate::simulate::SimulateArgs>),
    /// Print what the store remembers, as the next gateway will restore it, as JSON.
    Inspect {
        /// A sled store directory ([store] path in the config).
        #[arg(long, required_unless_present = "config", conflicts_with = "config")]
        store: Option<PathBuf>,
        /// A config file: inspects its [store], sled or Redis.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// The built-in demo app (started by the demo's process backend).
    #[command(hide = true)]
    DemoApp {
        #[arg(long)]
        name: String,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        boot_delay: Duration,
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        stop_delay: Duration,
    },
    /// Runs one app's command under supervision (started by the process
    /// backend, with the gateway's socket as stdin, over which the app's
    /// command comes).
    #[command(hide = true)]
    Supervise {
        /// The gateway's pid.
        #[arg(long)]
        parent: i32,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a .wasm against the policy contract and print what it exports.
    Check { file: PathBuf },
    /// Start a new policy crate (an example policy with tests) in DIR/NAME.
    New {
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// A paastis-sdk directory to depend on by path (default: by version and the
        /// project's git repository, or by a relative path when DIR is inside a checkout
        /// of it).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// Exit code for bad input (config), as distinct from a runtime failure.
const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

pub(crate) fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    // Before logging and the runtime: the supervisor is small, synchronous,
    // and its stderr belongs to the app it runs.
    if let Command::Supervise { parent } = cli.command {
        return crate::backend::supervisor::run(crate::backend::supervisor::Options { parent });
    }
    // Held until the end: dropping it writes out the log lines still queued.
    let _log_writer = match init_logging(cli.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("paastis: cannot start the log writer thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("paastis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve { config } => {
            let config = match load_config(config.as_deref()) {
                Ok(config) => config,
                Err(e) => return usage_error(e),
            };
            // Listening before the gateway starts: a SIGTERM during the start
            // is a shutdown, not the default action (death by signal).
            let signal = crate::gateway::ShutdownSignal::listen();
            match Gateway::start(config).await {
                Ok(gateway) => {
                    signal.wait().await;
                    gateway.shutdown().await;
                    ExitCode::SUCCESS
                }
                Err(e @ crate::gateway::GatewayError::Params(_)) => usage_error(e),
                Err(e) => failure(anyhow::Error::new(e)),
            }
        }
        Command::Check { config: path } => {
            let config = match load_config(path.as_deref()) {
                Ok(config) => config,
                Err(e) => return usage_error(e),
            };
            let source = path.map_or_else(|| format!("${}", crate::config::CONFIG_ENV), |p| p.display().to_string());
            match crate::gateway::check(config.clone()).await {
                Ok(()) => {
                    println!("{source}: ok ({} apps)", config.apps.len());
                    ExitCode::SUCCESS
                }
                Err(e @ crate::gateway::GatewayError::Params(_)) => usage_error(e),
                Err(e) => failure(anyhow::Error::new(e)),
            }
        }
        Command::Demo { listen, idle_timeout, data_dir, tls, tls_listen, admin_listen } => {
            let data_dir = match data_dir.map_or_else(crate::demo::default_data_dir, Ok) {
                Ok(dir) => dir,
                Err(e) => return failure(anyhow::anyhow!("cannot make a data dir for the demo: {e}")),
            };
            let tls = tls.then_some(tls_listen);
            match crate::demo::run(DemoOptions { listen, idle_timeout, data_dir, tls, admin_listen }).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => failure(e),
            }
        }
        Command::Policy { command: PolicyCommand::Check { file } } => match policy_check::check(&file).await {
            Ok((policy, size)) => {
                print!("{}", policy_check::report(&file, &policy, size));
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        },
        Command::Policy { command: PolicyCommand::New { name, dir, sdk } } => {
            match policy_new::scaffold(&name, &dir, sdk.as_deref()) {
                Ok(root) => {
                    let wasm = name.replace('-', "_");
                    println!(
                        "Created {root}. Next:\n  cd {root}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  paastis policy check target/wasm32-wasip2/release/{wasm}.wasm\nthen copy that file to your policy.dir as {name}.wasm.",
                        root = root.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => usage_error(e),
            }
        }
        Command::Simulate(args) => match crate::simulate::run(*args).await {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) if e.is_usage() => usage_error(e),
            Err(e) => failure(anyhow::Error::new(e)),
        },
        Command::Inspect { store, config } => {
            let target = match (store, config) {
                (_, Some(config)) => crate::inspect::Target::Config(config),
                (Some(store), None) => crate::inspect::Target::Sled(store),
                (None, None) => return usage_error("inspect needs --store DIR or --config FILE"),
            };
            match crate::inspect::inspect(target).await {
                Ok(report) => {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e @ crate::inspect::InspectError::Config(_)) => usage_error(e),
                Err(e) => failure(anyhow::Error::new(e)),
            }
        }
        Command::DemoApp { name, port, boot_delay, stop_delay } => {
            match (DemoApp { name, port, boot_delay, stop_delay }).run().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => failure(e.into()),
            }
        }
        // Dispatched in `main_from`, before the runtime exists.
        Command::Supervise { .. } => ExitCode::FAILURE,
    }
}

/// The config file given, else the TOML text in `$PAASTIS_CONFIG` (a PaaS
/// deploy commits no config next to the binary).
fn load_config(file: Option<&std::path::Path>) -> Result<Config, String> {
    match file {
        Some(file) => Config::load(file).map_err(|e| e.to_string()),
        None => match Config::from_env() {
            Some(parsed) => parsed.map_err(|e| e.to_string()),
            None => Err(format!(
                "no config: give --config FILE, or the config's TOML text in ${}",
                crate::config::CONFIG_ENV
            )),
        },
    }
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("paastis: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn failure(e: anyhow::Error) -> ExitCode {
    eprintln!("paastis: {}", crate::error_chain::causes(e.as_ref()));
    ExitCode::FAILURE
}

/// Logs go to stderr through a writer thread, so that a request never waits
/// for a write (the access log has a line per request), in batches
/// (`telemetry::log_writer`). Lines are never dropped: when the thread falls
/// behind, loggers wait.
fn init_logging(format: LogFormat) -> std::io::Result<crate::telemetry::LogGuard> {
    use crate::telemetry::access_log;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = crate::telemetry::log_writer(std::io::stderr())?;
    let colours = colours_wanted(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let direct = writer.clone();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colours).with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if installed.is_ok() && !colours {
        // The access line's fast path: the same bytes at a quarter of the
        // cost (`telemetry::access_log`).
        let format = match format {
            LogFormat::Text => access_log::Format::Text,
            LogFormat::Json => access_log::Format::Json,
        };
        access_log::write_directly(direct, format);
    }
    Ok(guard)
}

/// Colours only on a terminal, and not when `NO_COLOR` is set to anything
/// but the empty string (https://no-color.org): escape codes in a log file
/// break `grep 'wake_ms='`.
fn colours_wanted(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, colours_wanted};
    use clap::Parser;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours_wanted(true, None));
        assert!(colours_wanted(true, Some("".into())), "an empty NO_COLOR does not count");
        assert!(!colours_wanted(true, Some("1".into())));
        assert!(!colours_wanted(false, None));
    }

    #[test]
    fn the_demo_listens_on_both_loopbacks_by_default() {
        let Command::Demo { listen, .. } = Cli::parse_from(["paastis", "demo"]).command else { unreachable!() };
        let listen: Vec<String> = listen.iter().map(ToString::to_string).collect();
        assert_eq!(listen, ["127.0.0.1:8080", "[::1]:8080"]);
        let Command::Demo { listen, .. } = Cli::parse_from(["paastis", "demo", "--listen", "127.0.0.1:9000"]).command
        else {
            unreachable!()
        };
        assert_eq!(listen.len(), 1);
    }
}
