//! The tick path: every `policy.tick`, show the policy every app and carry
//! out its plan. With replicas, only the leader ticks, and its sleeps are
//! re-checked against the cluster right before they happen
//! (`cluster::sleep_if_still_idle`). The loop never stops: a tick that
//! panics raises the tick alert like a failing policy, and the next tick
//! runs as usual.

use crate::apps::Apps;
use crate::backend::Backends;
use crate::cluster::Cluster;
use crate::policy::model::{AppView, Timestamp};
use crate::policy::{PolicyGate, THE_TICK};
use crate::telemetry::WakeCause;
use futures_util::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a tick acts on.
#[derive(Clone)]
pub(crate) struct Ticking {
    pub apps: Arc<Apps>,
    pub policy: Arc<PolicyGate>,
    pub cluster: Cluster,
    pub backends: Arc<Backends>,
}

pub(crate) async fn run(ticking: Ticking, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    // A slow tick must not be followed by a burst of catch-up ticks.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let policy = &ticking.policy;
        let started = Instant::now();
        let ticked = AssertUnwindSafe(tick(&ticking)).catch_unwind().await;
        policy.telemetry().metrics.tick(started.elapsed());
        let events = &policy.telemetry().events;
        match ticked {
            Ok(()) => policy.tick_health().succeeded(THE_TICK, events),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                policy.tick_health().failed(THE_TICK, &format!("the tick panicked: {message}"), events);
            }
        }
    }
}

pub(crate) async fn tick(ticking: &Ticking) {
    // One decision per tick for the whole cluster: a follower does nothing.
    if !ticking.cluster.is_leader() {
        return;
    }
    let apps = &ticking.apps;
    let views: Vec<AppView> = apps.iter().map(|app| app.view()).collect();
    // The activity the policy saw, for the leader's re-check before a sleep.
    let seen: HashMap<String, Option<Timestamp>> = views.iter().map(|v| (v.name.clone(), v.last_activity)).collect();
    let plan = ticking.policy.on_tick(views).await;
    for name in plan.sleep {
        let Some(app) = apps.get(&name) else {
            tracing::warn!(app = %name, "policy asked to put an unknown app to sleep");
            continue;
        };
        let seen = seen.get(&name).copied().flatten();
        let ticking = ticking.clone();
        // Stops run beside the ticker so one slow app cannot delay the rest.
        tokio::spawn(async move {
            let Ticking { apps, cluster, backends, .. } = &ticking;
            crate::cluster::sleep_if_still_idle(cluster, apps, backends, &app, seen, "policy").await;
        });
    }
    for name in plan.wake {
        match apps.get(&name) {
            Some(app) => {
                let cause = WakeCause::Policy { policy: ticking.policy.resolve(&name).policy.name().to_owned() };
                apps.lifecycle().wake_in_background(&app, cause)
            }
            None => tracing::warn!(app = %name, "policy asked to wake an unknown app"),
        }
    }
}
