//! The tick path: every `policy.tick`, show the policy every app and carry
//! out its plan.

use crate::apps::Apps;
use crate::policy::model::AppView;
use crate::policy_gate::PolicyGate;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(apps: Arc<Apps>, policy: Arc<PolicyGate>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    // A slow tick must not be followed by a burst of catch-up ticks.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        tick(&apps, &policy).await;
    }
}

pub async fn tick(apps: &Arc<Apps>, policy: &PolicyGate) {
    let views: Vec<AppView> = apps.iter().map(|app| app.view()).collect();
    let plan = policy.on_tick(&views).await;
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
