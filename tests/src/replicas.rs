//! Several gateways (replicas) sharing one real `redis-server`, in front of
//! the fake Scalingo: one wake and one sleep for the cluster, one ticking
//! leader, failover, outages.

use crate::support::fake_scalingo::{FakeScalingo, formation};
use crate::support::redis::RedisServer;
use crate::support::{GatewayBuilder, TestGateway, run_paastis_with_env, within};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "tk-us-replicas-5ecret";
/// The tests' `leader_lease` (see `GatewayBuilder::redis`).
const LEASE: Duration = Duration::from_secs(1);

fn replica(fake: &FakeScalingo, redis: &RedisServer, idle: &str) -> GatewayBuilder {
    let backend = format!(
        "[[backends]]\nkind = \"scalingo\"\nname = \"scalingo\"\napi_url = {url:?}\nauth_url = {url:?}\n\
         token_env = \"TEST_SCALINGO_TOKEN\"\ndiscovery_interval = \"200ms\"\npoll_interval = \"20ms\"\n\
         backoff = \"20ms\"\nrate_limit = 6000\n",
        url = fake.url()
    );
    let app = format!(
        "[[apps]]\nname = \"shop\"\nbackend = \"scalingo\"\nupstream = {:?}\nwake_timeout = \"20s\"\n",
        fake.upstream("shop")
    );
    GatewayBuilder::new()
        .redis(redis)
        .env("TEST_SCALINGO_TOKEN", &fake.api_token)
        .idle_timeout(idle)
        .flush_interval("100ms")
        .extra(&backend)
        .extra(&app)
}

/// Waits until `check` holds, looking again every few milliseconds.
async fn until(what: &str, check: impl Fn() -> bool) {
    within(WAIT, what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

async fn healthz(gateway: &TestGateway) -> serde_json::Value {
    let response = gateway.admin().get("/healthz").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// Waits until `/healthz` of `gateway` says `key` is `value`.
async fn health_until(gateway: &TestGateway, key: &str, value: &str) {
    within(WAIT, &format!("/healthz {key} = {value}"), async {
        while healthz(gateway).await[key] != value {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Waits until `GET /apps` of `gateway` shows `shop` in `state`.
async fn app_state_until(gateway: &TestGateway, state: &str) {
    within(WAIT, &format!("shop {state} on the other replica"), async {
        while gateway.admin().app("shop").await["state"] != state {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Waits until the shared store (read by `paastis inspect --config` with
/// `gateway`'s config) records `shop` in `state`.
async fn shared_state_until(gateway: &TestGateway, state: &str) {
    let config = gateway.config.display().to_string();
    within(WAIT, &format!("shop recorded {state} in Redis"), async {
        loop {
            let output = run_paastis_with_env(&["inspect", "--config", &config], &gateway.env).await;
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
            if report["apps"]["shop"]["recorded_state"] == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Starts `first`, waits until it leads, then starts `second`: which
/// replica leads is then known.
async fn leader_then_follower(first: GatewayBuilder, second: GatewayBuilder) -> (TestGateway, TestGateway) {
    let leader = first.spawn().await;
    leader.logs.wait_for("leading the cluster", "", WAIT).await;
    let follower = second.spawn().await;
    assert_eq!(healthz(&follower).await["role"], "follower");
    assert_eq!(healthz(&leader).await["role"], "leader");
    (leader, follower)
}

pub async fn forty_requests_over_two_replicas_make_one_scale_up() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 0)])).await;
    fake.slow_operations(10);
    let (a, b) = leader_then_follower(replica(&fake, &redis, "1h"), replica(&fake, &redis, "1h")).await;
    let (client_a, client_b) = (a.client(), b.client());
    let requests = (0..40).map(|i| {
        let client = if i % 2 == 0 { client_a.clone() } else { client_b.clone() };
        async move { (i, client.get("shop.localhost", "/").await) }
    });
    for (i, response) in futures_util::future::join_all(requests).await {
        assert_eq!(response.status, 200, "request {i}: {}", response.text());
    }
    assert_eq!(fake.scale_calls("shop"), 1, "one scale-up for the cluster");
    assert_eq!(fake.formation("shop"), formation(&[("web", 1)]));
    let woke_elsewhere = a.logs_caught_up().await.count("already woken by another replica; serving it", "shop")
        + b.logs_caught_up().await.count("already woken by another replica; serving it", "shop");
    assert!(woke_elsewhere <= 1, "the other replica waited for the same wake");
}

pub async fn traffic_on_one_replica_keeps_the_app_awake_for_the_leader_then_one_scale_down() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    // Asleep at first, so that no idle clock runs before the traffic does.
    fake.add_app("shop", formation(&[("web", 0)])).await;
    // The leader gets no traffic at all: only what replica B shares.
    let (leader, b) = leader_then_follower(replica(&fake, &redis, "1s"), replica(&fake, &redis, "1s")).await;
    let client = b.client();
    let steady_until = Instant::now() + Duration::from_millis(3000);
    while Instant::now() < steady_until {
        let response = client.get("shop.localhost", "/").await;
        assert_eq!(response.status, 200, "{}", response.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Three idle timeouts of traffic, none of it on the leader: only B's wake.
    assert_eq!(fake.scale_calls("shop"), 1, "kept awake by the other replica's traffic");
    assert_eq!(leader.logs_caught_up().await.count("putting app to sleep", "shop"), 0);
    assert_eq!(leader.admin().app("shop").await["state"], "awake", "the leader sees B's wake");

    leader.logs.wait_for("app put to sleep", "shop", WAIT).await;
    // B learns of the sleep (from the store, or its own discovery): a moment
    // after it, so a second scale-down would have been asked by now.
    app_state_until(&b, "asleep").await;
    assert_eq!(fake.formation("shop"), formation(&[("web", 0)]));
    assert_eq!(fake.scale_calls("shop"), 2, "B's scale-up, then exactly one scale-down");
    assert_eq!(b.logs_caught_up().await.count("putting app to sleep", "shop"), 0, "only the leader puts apps to sleep");
}

pub async fn kill_9_of_the_leader_hands_the_tick_to_the_survivor_within_the_lease() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 1)])).await;
    let (leader, survivor) = leader_then_follower(replica(&fake, &redis, "1h"), replica(&fake, &redis, "2s")).await;
    app_state_until(&survivor, "awake").await;
    let killed = Instant::now();
    leader.kill9().await;
    survivor.logs.wait_for("leading the cluster", "", WAIT).await;
    let failover = killed.elapsed();
    // The lease runs out at most one lease after the last renewal; the
    // survivor tries every tenth of it. Slack for a loaded machine.
    assert!(failover < LEASE + LEASE / 10 + Duration::from_millis(1500), "failover took {failover:?}");
    eprintln!("failover: {failover:?} (lease {LEASE:?})");
    // The survivor ticks: its own short idle timeout puts the app to sleep.
    survivor.logs.wait_for("app put to sleep", "shop", WAIT).await;
    assert_eq!(healthz(&survivor).await["role"], "leader");
    assert_eq!(fake.scale_calls("shop"), 1);
}

pub async fn replicas_restarted_without_their_data_restore_the_saved_formation() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 2), ("worker", 1)])).await;
    let (a, b) = leader_then_follower(replica(&fake, &redis, "300ms"), replica(&fake, &redis, "300ms")).await;
    a.logs.wait_for("app put to sleep", "shop", WAIT).await;
    assert_eq!(fake.formation("shop"), formation(&[("web", 0), ("worker", 0)]));
    // The sleep is written to Redis just after it is logged; a kill -9 in
    // between may lose it (the documented bound: one flush). This test is
    // about ephemeral disks, so it kills once the sleep is shared.
    shared_state_until(&a, "asleep").await;
    // Ephemeral disks: each replica's data directory goes with it.
    a.kill9().await;
    b.kill9().await;

    let c = replica(&fake, &redis, "1h").spawn().await;
    let response = c.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(fake.formation("shop"), formation(&[("web", 2), ("worker", 1)]), "exactly the saved formation");

    // `paastis inspect --config` reads the same shared store.
    let output = run_paastis_with_env(&["inspect", "--config", &c.config.display().to_string()], &c.env).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("inspect prints JSON");
    assert_eq!(report["store"]["backend"], "redis", "{report}");
    assert_eq!(report["formations"]["scalingo/shop"], serde_json::json!({"web": 2, "worker": 1}), "{report}");
    assert!(report["apps"]["shop"].is_object(), "{report}");
}

/// The leader killed -9 while the platform stops an app: the shared record
/// already says asleep (written before the platform was asked), so a new
/// replica wakes the app for real rather than proxying to a stopped one,
/// once the dead leader's lock has expired (seconds, not a wake timeout).
pub async fn kill_9_of_the_leader_during_a_sleep_leaves_the_app_to_be_woken() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 2)])).await;
    // The scale-down stays `running` while the leader polls it.
    fake.slow_operations(100_000);
    let leader = replica(&fake, &redis, "300ms").spawn().await;
    leader.logs.wait_for("leading the cluster", "", WAIT).await;
    leader.logs.wait_for("putting app to sleep", "shop", WAIT).await;
    until("the scale-down asked", || fake.scale_calls("shop") == 1).await;
    leader.kill9().await;
    // The platform finishes the stop on its own.
    fake.finish_operations();
    assert_eq!(fake.formation("shop"), formation(&[("web", 0)]));

    let c = replica(&fake, &redis, "1h").spawn().await;
    let response = c.client().get("shop.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.headers.contains_key("x-paastis-cold-start"), "woken, not proxied to a stopped app");
    assert_eq!(fake.scale_calls("shop"), 2, "the scale-down, then one scale-up");
    assert_eq!(fake.formation("shop"), formation(&[("web", 2)]), "the saved formation");
}

pub async fn redis_killed_and_restarted_while_traffic_flows_degrades_then_recovers() {
    let mut redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 1)])).await;
    let (a, b) = leader_then_follower(replica(&fake, &redis, "1h"), replica(&fake, &redis, "1h")).await;
    app_state_until(&a, "awake").await;
    app_state_until(&b, "awake").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = |gateway: &TestGateway| {
        let (client, stop) = (gateway.client(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                statuses.push(client.get("shop.localhost", "/").await.status);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        })
    };
    let (on_a, on_b) = (traffic(&a), traffic(&b));

    redis.kill();
    health_until(&a, "store", "degraded").await;
    health_until(&b, "store", "degraded").await;
    a.logs
        .wait_for(
            "the shared store does not answer: serving from the local view, no app is put to sleep until it is back",
            "",
            WAIT,
        )
        .await;
    let metrics = a.admin().get("/metrics").await.text();
    assert!(metrics.contains("paastis_store_degraded 1"), "{metrics}");
    // Nobody can prove the lease: nobody leads, nobody puts apps to sleep.
    health_until(&a, "role", "follower").await;
    health_until(&b, "role", "follower").await;

    redis.restart();
    health_until(&a, "store", "ok").await;
    health_until(&b, "store", "ok").await;
    within(WAIT, "a leader again", async {
        while healthz(&a).await["role"] != "leader" && healthz(&b).await["role"] != "leader" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    for (name, task) in [("a", on_a), ("b", on_b)] {
        let statuses = task.await.expect("traffic task");
        assert!(statuses.len() > 10, "{name}: too little traffic: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200), "{name}: not all 200 through the outage: {statuses:?}");
    }
    // Activity kept in memory reaches the fresh Redis.
    until("activity written again", || redis.command(&["ZSCORE", "test:activity", "shop"]) != "(nil)").await;
    assert_eq!(fake.scale_calls("shop"), 0);
}

pub async fn two_leaders_at_once_never_double_scale_an_app() {
    let redis = RedisServer::start();
    let fake = FakeScalingo::start(TOKEN).await;
    fake.add_app("shop", formation(&[("web", 1)])).await;
    // The scale-down takes a while: time enough for a second leader.
    fake.slow_operations(40);
    let (a, b) = leader_then_follower(replica(&fake, &redis, "500ms"), replica(&fake, &redis, "500ms")).await;
    a.logs.wait_for("putting app to sleep", "shop", WAIT).await;
    // A loses its lease mid-tick (a pause, a partition): B gets it while
    // A's scale-down is still under way.
    let b_id = healthz(&b).await["replica"].as_str().expect("replica id").to_owned();
    assert_eq!(redis.command(&["SET", "test:leader", &b_id, "PX", "1000"]), "OK");
    b.logs.wait_for("leading the cluster", "", WAIT).await;
    a.logs.wait_for("no longer the leader", "", WAIT).await;
    a.logs.wait_for("app put to sleep", "shop", WAIT).await;
    // B sees A's sleep once A recorded it; by then B has ticked as leader.
    app_state_until(&b, "asleep").await;
    assert_eq!(fake.scale_calls("shop"), 1, "one scale-down, whoever believed it led");
    assert_eq!(b.logs_caught_up().await.count("putting app to sleep", "shop"), 0);
    assert_eq!(fake.formation("shop"), formation(&[("web", 0)]));
}
