//! `paastis simulate`: replays a real access log against policies on a
//! simulated clock, through the same policy runtime as the gateway, and
//! reports per app how often it would have slept, how many requests would
//! have met a cold start, the hours asleep and what that saves.
//!
//! The model (README, "Simulate a policy on your traffic"):
//! - the clock runs from the first request of the log to the last (or
//!   `--until`); every app of the log (and of `--config`) exists throughout,
//!   starting awake by default (`--start asleep` otherwise);
//! - each request is shown to the policy at its logged time; Forward touches
//!   the app and wakes it if asleep (a cold start), ForwardPassive is served
//!   only by an awake app (ForwardPassiveOr: answered by the policy when not
//!   awake), Refuse and Answer are answered without waking;
//! - a wake takes `--wake-time`; requests arriving meanwhile are cold starts
//!   too; a stop takes no time;
//! - the policy's tick runs every `--tick` (default 10 s, the gateway's is
//!   1 s) with the exact simulated `now`; a sleep can come up to one tick
//!   later than in the gateway, which the README weighs against speed.
//!
//! Files: `reader` (lines to requests, with `combined` and `gateway_log`
//! for the formats), `machine` (one app's states and time), `engine` (the
//! clock and the policy calls), `params` and `source` (the command line's
//! params and policies), `report` (table and JSON).

mod agents;
mod args;
mod combined;
mod counts;
mod engine;
mod error;
mod gateway_log;
mod hit;
mod params;
mod reader;
mod report;
mod source;

pub(crate) use args::{OutputFormat, SimulateArgs, StartState};
pub(crate) use error::SimulateError;
pub(crate) use report::{AppReport, PolicyReport, Report};

use crate::config::{Config, SavingsConfig};
use crate::policy::ParamsProbe;
use crate::policy::model::{Params, Timestamp};
use crate::policy::{LoadedPolicy, PolicyRuntime, SandboxLimits};
use crate::savings::{Rates, Savings};
use engine::Clock;
use params::ParamSpec;
use reader::{AppRule, LineCounts, LogReader};
use source::PolicySpec;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The CPU time one policy call may use. Far above the gateway's (5 ms by
/// default): the replay is offline, and a call cut off because the machine
/// is busy would silently change the result (the tick would do nothing).
/// Whether a policy fits the gateway's limit is `paastis check`'s business.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// Runs the simulation and renders its report in the asked format.
/// Skipped lines are reported on stderr.
pub(crate) async fn run(args: SimulateArgs) -> Result<String, SimulateError> {
    let format = args.format;
    let report = simulate(args).await?;
    warn_skipped(&report.log, &report.lines);
    Ok(match format {
        OutputFormat::Table => report.table(),
        OutputFormat::Json => report.json(),
    })
}

fn warn_skipped(log: &str, lines: &LineCounts) {
    if lines.unparseable == 0 {
        return;
    }
    let listed: Vec<String> =
        lines.first_unparseable.iter().map(|u| format!("line {}: {}", u.line, u.reason)).collect();
    eprintln!("paastis: {log}: skipped {} unparseable lines ({})", lines.unparseable, listed.join("; "));
}

pub(crate) async fn simulate(args: SimulateArgs) -> Result<Report, SimulateError> {
    if args.tick.is_zero() {
        return Err(SimulateError::Usage("--tick must be longer than zero".into()));
    }
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let log = args.access_log.display().to_string();
    let rule = AppRule {
        app: args.app.as_ref().map(|a| a.trim().to_ascii_lowercase()),
        domain: args.domain.clone().or_else(|| config.as_ref().map(|c| c.server.domain.clone())),
        known: config
            .as_ref()
            .filter(|_| args.app.is_none())
            .map(|c| c.apps.iter().map(|a| a.name().to_ascii_lowercase()).collect()),
    };
    let scan = scan(&args, &rule, &log)?;
    let end = match args.until.as_deref().map(parse_time).transpose()? {
        Some(until) if until < scan.last => {
            return Err(SimulateError::Usage(format!(
                "--until {} is before the last request of the log ({})",
                rfc3339(until),
                rfc3339(scan.last)
            )));
        }
        Some(until) => until,
        None => scan.last,
    };

    // Every app the config declares exists, with or without requests.
    let mut apps: BTreeMap<String, Params> = BTreeMap::new();
    for name in &scan.apps {
        apps.insert(name.clone(), config.as_ref().map(|c| c.policy.params().clone()).unwrap_or_default());
    }
    if let Some(config) = &config
        && args.app.is_none()
    {
        for app in &config.apps {
            apps.insert(app.name().to_ascii_lowercase(), app.params(&config.policy));
        }
    }

    let policies = policy_specs(&args, config.as_ref())?;
    let labels: Vec<String> = policies.iter().map(|p| p.label.clone()).collect();
    let param_specs = args
        .params
        .iter()
        .map(|spec| ParamSpec::parse(spec).map_err(|detail| SimulateError::Param { spec: spec.clone(), detail }))
        .collect::<Result<Vec<_>, _>>()?;
    params::check_scopes(&param_specs, &labels, &apps).map_err(SimulateError::Usage)?;

    let limits = SandboxLimits { call_timeout: CALL_TIMEOUT, ..SandboxLimits::default() };
    let runtime = PolicyRuntime::new(limits).map_err(|e| SimulateError::Setup(e.to_string()))?;
    let clock = Clock {
        log: args.access_log.clone(),
        rule,
        start: scan.first,
        end,
        tick: args.tick,
        wake: args.wake_time,
        start_awake: args.start == StartState::Awake,
        call_on_request: config.as_ref().is_none_or(|c| c.policy.call_on_request),
        domain: args.domain.clone().or_else(|| config.as_ref().map(|c| c.server.domain.clone())),
    };

    // Every policy is loaded and its params checked before any replay, so a
    // mistake is reported at once rather than after a long run.
    let mut runs = Vec::new();
    for spec in policies {
        // Loaded under its label: each replay keeps its own kv state.
        let policy = runtime
            .load(&spec.label, &spec.wasm)
            .await
            .map_err(|source| SimulateError::Policy { label: spec.label.clone(), source })?;
        let apps: BTreeMap<String, Params> = apps
            .iter()
            .map(|(app, base)| (app.clone(), params::merged(base, &param_specs, &spec.label, app)))
            .collect();
        check_params(&policy, &spec.label, &apps, &clock).await?;
        runs.push((spec, policy, apps));
    }

    // Replays run side by side, one task each.
    let mut tasks = Vec::new();
    for (spec, policy, apps) in runs {
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = engine::replay(&policy, &apps, &clock).await;
            (spec, policy, outcome)
        }));
    }
    let savings = savings_config(&args, config.as_ref());
    let mut reports = Vec::new();
    for task in tasks {
        let (spec, policy, outcome) = task.await.map_err(|e| SimulateError::Setup(format!("a replay failed: {e}")))?;
        let outcome = outcome.map_err(|source| SimulateError::Read { path: log.clone(), source })?;
        let apps: Vec<AppReport> = outcome
            .apps
            .into_iter()
            .map(|app| {
                let rates = rates_of(&app.name, &savings, config.as_ref());
                AppReport { savings: Savings::of(app.asleep, app.awake, &rates), app: app.name, counts: app.counts }
            })
            .collect();
        reports.push(PolicyReport {
            total: AppReport::total(&apps),
            label: spec.label,
            source: spec.source,
            sha256: policy.sha256().to_owned(),
            ticks: outcome.ticks,
            policy_errors: outcome.policy_errors,
            first_error: outcome.first_error,
            apps,
            user_agents: outcome.agents,
        });
    }
    Ok(Report {
        log,
        from: rfc3339(scan.first),
        to: rfc3339(end),
        hours: Duration::from_millis(end - scan.first).as_secs_f64() / 3600.0,
        tick_secs: args.tick.as_secs_f64(),
        wake_secs: args.wake_time.as_secs_f64(),
        start: match args.start {
            StartState::Awake => "awake",
            StartState::Asleep => "asleep",
        },
        currency: savings.currency.clone(),
        lines: scan.counts,
        policies: reports,
    })
}

/// What a first pass over the log finds: its time span and apps.
struct Scan {
    first: Timestamp,
    last: Timestamp,
    apps: BTreeSet<String>,
    counts: LineCounts,
}

fn scan(args: &SimulateArgs, rule: &AppRule, log: &str) -> Result<Scan, SimulateError> {
    let read_error = |source| SimulateError::Read { path: log.to_owned(), source };
    let mut reader = LogReader::open(&args.access_log, rule.clone()).map_err(read_error)?;
    let mut span: Option<(Timestamp, Timestamp)> = None;
    let mut apps = BTreeSet::new();
    while let Some(hit) = reader.next_hit().map_err(read_error)? {
        span = Some(span.map_or((hit.at, hit.at), |(first, _)| (first, hit.at)));
        if !apps.contains(&hit.app) {
            apps.insert(hit.app);
        }
    }
    let counts = reader.counts;
    let Some((first, last)) = span else {
        let detail = match counts.first_unparseable.first() {
            Some(u) => format!("; line {}: {}", u.line, u.reason),
            None if counts.ignored > 0 => format!("; {} lines are not requests for a known app", counts.ignored),
            None => String::new(),
        };
        return Err(SimulateError::NothingParsed { path: log.to_owned(), lines: counts.lines, detail });
    };
    Ok(Scan { first, last, apps, counts })
}

fn policy_specs(args: &SimulateArgs, config: Option<&Config>) -> Result<Vec<PolicySpec>, SimulateError> {
    let default = config
        .map_or_else(|| crate::policy::builtin::DEFAULT_POLICY.to_owned(), |c| c.policy.default.get_ref().clone());
    let given = if args.policies.is_empty() { vec![default] } else { args.policies.clone() };
    let dir = config.and_then(|c| c.policy.dir.as_deref());
    let mut specs: Vec<PolicySpec> = Vec::new();
    for spec in given {
        let parsed =
            PolicySpec::parse(&spec, dir).map_err(|detail| SimulateError::PolicySpec { spec: spec.clone(), detail })?;
        if specs.iter().any(|s| s.label == parsed.label) {
            let detail = format!("two policies are labelled {:?}; label them apart with LABEL=POLICY", parsed.label);
            return Err(SimulateError::PolicySpec { spec, detail });
        }
        specs.push(parsed);
    }
    Ok(specs)
}

/// Checks each app's params with the gateway's own check (a tick and a
/// request with a scratch state); an error is a refused param.
async fn check_params(
    policy: &LoadedPolicy,
    label: &str,
    apps: &BTreeMap<String, Params>,
    clock: &Clock,
) -> Result<(), SimulateError> {
    let probes: Vec<_> = apps
        .iter()
        .map(|(app, params)| ParamsProbe {
            key: app.clone(),
            name: app.clone(),
            params: params.clone(),
            host: clock.domain.as_ref().map_or_else(|| app.clone(), |d| format!("{app}.{d}")),
        })
        .collect();
    crate::policy::check_params(policy, probes, clock.start).await.map_err(|(app, e)| SimulateError::ParamRefused {
        policy: label.to_owned(),
        app,
        detail: e.to_string(),
    })
}

/// The config's [savings] (or the defaults), with the command line's flags over it.
fn savings_config(args: &SimulateArgs, config: Option<&Config>) -> SavingsConfig {
    let mut savings = config.map(|c| c.savings.clone()).unwrap_or_default();
    if let Some(cost) = args.hourly_cost {
        savings.hourly_cost = cost;
    }
    if let Some(currency) = &args.currency {
        savings.currency = currency.clone();
    }
    if let Some(watts) = args.container_watts {
        savings.container_watts = watts;
    }
    if let Some(grid) = args.grid_gco2_per_kwh {
        savings.grid_gco2_per_kwh = grid;
    }
    savings
}

/// An app's own hourly cost and containers (from the config) over the defaults.
fn rates_of(app: &str, savings: &SavingsConfig, config: Option<&Config>) -> Rates {
    match config.and_then(|c| c.apps.iter().find(|a| a.name().eq_ignore_ascii_case(app))) {
        Some(own) => own.rates(savings),
        None => savings.rates(None, None),
    }
}

fn parse_time(text: &str) -> Result<Timestamp, SimulateError> {
    let bad = |detail: String| SimulateError::Usage(format!("--until {text:?}: {detail}"));
    let at = text.parse::<jiff::Timestamp>().map_err(|e| bad(format!("not an RFC 3339 time: {e}")))?;
    Timestamp::try_from(at.as_millisecond()).map_err(|_| bad("before 1970".into()))
}

fn rfc3339(at: Timestamp) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| at.to_string(), |t| t.to_string())
}
