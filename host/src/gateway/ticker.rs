//! The tick path: every `policy.tick`, show the policy every app and carry
//! out its plan. The loop never stops: a tick that panics raises the tick
//! alert like a failing policy, and the next tick runs as usual.

use crate::apps::Apps;
use crate::policy::model::AppView;
use crate::policy_gate::{PolicyGate, THE_TICK};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(apps: Arc<Apps>, policy: Arc<PolicyGate>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    // A slow tick must not be followed by a burst of catch-up ticks.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = Instant::now();
        let ticked = AssertUnwindSafe(tick(&apps, &policy)).catch_unwind().await;
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

pub async fn tick(apps: &Arc<Apps>, policy: &PolicyGate) {
    let views: Vec<AppView> = apps.iter().map(|app| app.view()).collect();
    let plan = policy.on_tick(views).await;
    for name in plan.sleep {
        let Some(app) = apps.get(&name) else {
            tracing::warn!(app = %name, "policy asked to put an unknown app to sleep");
            continue;
        };
        let lifecycle = apps.lifecycle().clone();
        // Stops run beside the ticker so one slow app cannot delay the rest.
        tokio::spawn(async move { lifecycle.sleep(&app, "policy").await });
    }
    for name in plan.wake {
        match apps.get(&name) {
            Some(app) => apps.lifecycle().wake_in_background(&app),
            None => tracing::warn!(app = %name, "policy asked to wake an unknown app"),
        }
    }
}
