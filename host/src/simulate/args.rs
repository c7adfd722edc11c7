//! The command line of `paastis simulate`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub(crate) struct SimulateArgs {
    /// The log to replay: nginx/Apache combined (plain, or with the virtual
    /// host first or last) or the gateway's `--log-format json` log.
    #[arg(long, value_name = "FILE")]
    pub access_log: PathBuf,
    /// A policy to replay: a built-in name (inactivity) or a .wasm file,
    /// optionally labelled. Repeat to compare policies side by side.
    /// Default: the config's default policy, else inactivity.
    #[arg(long = "policy", value_name = "[LABEL=]POLICY")]
    pub policies: Vec<String>,
    /// A policy param for every app, or one app (APP:KEY=VALUE), of every
    /// policy or one (LABEL/...). VALUE is TOML (3, true, ["/health"]) or text.
    #[arg(long = "param", value_name = "[LABEL/][APP:]KEY=VALUE")]
    pub params: Vec<String>,
    /// Replay every line as a request for this app (a plain combined log
    /// carries no Host to tell apps apart).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Name apps by the label before this domain, as the gateway routes
    /// (default: the config's server.domain, else the host's first label).
    #[arg(long)]
    pub domain: Option<String>,
    /// A gateway config: its apps, params, [savings] rates and domain.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// How often the policy's tick runs on the simulated clock. Shorter is
    /// closer to the gateway (1s) and slower to simulate.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub tick: Duration,
    /// How long a wake takes: requests arriving during it also meet a cold start.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub wake_time: Duration,
    /// How every app starts the simulation.
    #[arg(long, value_enum, default_value_t = StartState::Awake)]
    pub start: StartState,
    /// Run the clock on after the last request, up to this RFC 3339 time
    /// (e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// What an app costs per hour awake (default: the config's, else 0.01).
    #[arg(long)]
    pub hourly_cost: Option<f64>,
    /// Default: the config's, else EUR.
    #[arg(long)]
    pub currency: Option<String>,
    /// Mean power of one container, in watts (default: the config's, else 10).
    #[arg(long)]
    pub container_watts: Option<f64>,
    /// Grid carbon intensity, gCO2/kWh (default: the config's, else 250).
    #[arg(long = "grid-gco2-per-kwh")]
    pub grid_gco2_per_kwh: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StartState {
    /// As apps run before Paastis: sleeping must be earned, and savings are
    /// not overstated.
    Awake,
    Asleep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Table,
    Json,
}
