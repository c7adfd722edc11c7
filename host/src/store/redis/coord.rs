//! What replicas coordinate through: the leader lease, per-app wake locks,
//! the "woke" channel, shared activity and in-flight counts. The meaning of
//! each (who takes what, when) is the cluster's (`crate::cluster`); this
//! file only speaks Redis.

use super::{RedisStore, scripts};
use crate::policy::model::Timestamp;
use crate::store::StoreError;
use crate::store::shared::Lease;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// Woke notifications a slow listener may fall behind by.
const WOKE_BACKLOG: usize = 256;

impl RedisStore {
    pub(crate) async fn claim_lease(&self, replica: &str, ttl: Duration) -> Result<Lease, StoreError> {
        let keys = self.keys().clone();
        let (replica, ms) = (replica.to_owned(), ttl.as_millis() as u64);
        let (held, epoch, holder): (i64, u64, Option<String>) = self
            .run(|mut c| async move {
                scripts::CLAIM_LEASE
                    .key(&keys.leader)
                    .key(&keys.leader_epoch)
                    .arg(&replica)
                    .arg(ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(Lease { held: held == 1, epoch, holder })
    }

    pub(crate) async fn release_lease(&self, replica: &str) -> Result<bool, StoreError> {
        self.release_if_held(self.keys().leader.clone(), replica).await
    }

    pub(crate) async fn try_lock_app(&self, app: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = self.keys().wake_lock(app);
        let (holder, ms) = (holder.to_owned(), ttl.as_millis().max(1) as u64);
        let held: i64 = self
            .run(|mut c| async move { scripts::LOCK_APP.key(&key).arg(&holder).arg(ms).invoke_async(&mut c).await })
            .await?;
        Ok(held == 1)
    }

    pub(crate) async fn unlock_app(&self, app: &str, holder: &str) -> Result<bool, StoreError> {
        self.release_if_held(self.keys().wake_lock(app), holder).await
    }

    async fn release_if_held(&self, key: String, holder: &str) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        let deleted: i64 = self
            .run(|mut c| async move { scripts::RELEASE_IF_HELD.key(&key).arg(&holder).invoke_async(&mut c).await })
            .await?;
        Ok(deleted == 1)
    }

    pub(crate) async fn publish_woke(&self, app: &str) -> Result<(), StoreError> {
        let (channel, app) = (self.keys().woke.clone(), app.to_owned());
        self.run(
            |mut c| async move { ::redis::cmd("PUBLISH").arg(&channel).arg(&app).query_async::<i64>(&mut c).await },
        )
        .await?;
        Ok(())
    }

    /// App names as their wakes finish on any replica. One subscriber
    /// connection per store, started on first use and reconnected after a
    /// drop; a wake missed while disconnected is caught by the waiters'
    /// polling.
    pub(crate) fn woke_listener(&self) -> broadcast::Receiver<String> {
        let sender = self.inner_woke().get_or_init(|| {
            let (sender, _) = broadcast::channel(WOKE_BACKLOG);
            tokio::spawn(listen_woke(
                self.client().clone(),
                self.keys().woke.clone(),
                self.at().to_owned(),
                sender.clone(),
            ));
            sender
        });
        sender.subscribe()
    }

    pub(crate) async fn load_activity(&self) -> Result<HashMap<String, Timestamp>, StoreError> {
        let key = self.keys().activity.clone();
        let all: Vec<(String, f64)> = self
            .run(|mut c| async move {
                ::redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).arg("WITHSCORES").query_async(&mut c).await
            })
            .await?;
        Ok(all.into_iter().filter(|(_, t)| t.is_finite() && *t >= 0.0).map(|(app, t)| (app, t as u64)).collect())
    }

    /// Publishes this replica's in-flight counts (replacing the previous
    /// ones) with an expiry, and reads every other live replica's.
    pub(crate) async fn exchange_in_flight(
        &self,
        replica: &str,
        counts: &[(String, u32)],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<HashMap<String, u32>, StoreError> {
        let keys = self.keys().clone();
        let mine = keys.in_flight(replica);
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(&mine).ignore();
        if !counts.is_empty() {
            pipe.cmd("HSET").arg(&mine);
            for (app, n) in counts {
                pipe.arg(app).arg(*n);
            }
            pipe.ignore();
            pipe.cmd("PEXPIRE").arg(&mine).arg(ttl_ms).ignore();
        }
        pipe.cmd("ZADD").arg(&keys.replicas).arg(now).arg(replica).ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&keys.replicas)
            .arg("-inf")
            .arg(format!("({}", now.saturating_sub(ttl_ms)))
            .ignore();
        pipe.cmd("ZRANGE").arg(&keys.replicas).arg(0).arg(-1);
        let (replicas,): (Vec<String>,) = self.run(|mut c| async move { pipe.query_async(&mut c).await }).await?;
        let others: Vec<String> = replicas.into_iter().filter(|r| r != replica).collect();
        if others.is_empty() {
            return Ok(HashMap::new());
        }
        let mut read = ::redis::pipe();
        for other in &others {
            read.cmd("HGETALL").arg(keys.in_flight(other));
        }
        let all: Vec<HashMap<String, u32>> = self.run(|mut c| async move { read.query_async(&mut c).await }).await?;
        let mut total: HashMap<String, u32> = HashMap::new();
        for counts in all {
            for (app, n) in counts {
                *total.entry(app).or_default() += n;
            }
        }
        Ok(total)
    }

    /// Forgets this replica's in-flight counts (clean shutdown).
    pub(crate) async fn leave(&self, replica: &str) -> Result<(), StoreError> {
        let keys = self.keys().clone();
        let replica = replica.to_owned();
        self.run(|mut c| async move {
            ::redis::pipe()
                .cmd("DEL")
                .arg(keys.in_flight(&replica))
                .ignore()
                .cmd("ZREM")
                .arg(&keys.replicas)
                .arg(&replica)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }
}

async fn listen_woke(client: ::redis::Client, channel: String, at: String, sender: broadcast::Sender<String>) {
    let mut announced_failure = false;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            ::redis::RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(2), subscribed).await {
            Ok(Ok(pubsub)) => {
                announced_failure = false;
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(app) = message.get_payload::<String>() {
                        // No receiver is not an error: nobody waits right now.
                        let _ = sender.send(app);
                    }
                }
                tracing::debug!(%at, "the woke subscription ended; subscribing again");
            }
            Ok(Err(e)) if !announced_failure => {
                tracing::warn!(%at, error = %e, "cannot subscribe to wake notifications; waiters poll instead");
                announced_failure = true;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::store::test_redis::RedisServer;
    use std::time::Duration;

    async fn two_replicas(server: &RedisServer) -> (Store, Store) {
        let a = Store::connect_redis(&server.url(), "t").await.unwrap();
        let b = Store::connect_redis(&server.url(), "t").await.unwrap();
        (a, b)
    }

    #[tokio::test]
    async fn one_lease_holder_renews_and_releases() {
        let server = RedisServer::start();
        let (a, b) = two_replicas(&server).await;
        let ttl = Duration::from_secs(10);
        let first = a.claim_lease("a", ttl).await.unwrap();
        assert!(first.held);
        let refused = b.claim_lease("b", ttl).await.unwrap();
        assert!(!refused.held);
        assert_eq!(refused.holder.as_deref(), Some("a"));
        assert_eq!(a.claim_lease("a", ttl).await.unwrap().epoch, first.epoch, "a renewal keeps the epoch");
        assert!(!b.release_lease("b").await.unwrap(), "b cannot release a's lease");
        assert!(a.release_lease("a").await.unwrap());
        let taken = b.claim_lease("b", ttl).await.unwrap();
        assert!(taken.held);
        assert_eq!(taken.epoch, first.epoch + 1);
        // Expiry frees it too.
        assert!(b.release_lease("b").await.unwrap());
        assert!(a.claim_lease("a", Duration::from_millis(50)).await.unwrap().held);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !b.claim_lease("b", ttl).await.unwrap().held {
            assert!(tokio::time::Instant::now() < deadline, "an expired lease was never freed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn one_wake_lock_per_app_and_woke_reaches_every_listener() {
        let server = RedisServer::start();
        let (a, b) = two_replicas(&server).await;
        let ttl = Duration::from_secs(10);
        assert!(a.try_lock_app("shop", "a:1", ttl).await.unwrap());
        assert!(!b.try_lock_app("shop", "b:1", ttl).await.unwrap());
        assert!(b.try_lock_app("other", "b:1", ttl).await.unwrap(), "locks are per app");
        assert!(!b.unlock_app("shop", "b:1").await.unwrap());
        assert!(a.try_lock_app("shop", "a:1", ttl).await.unwrap(), "its holder renews it");
        assert!(a.unlock_app("shop", "a:1").await.unwrap());
        assert!(b.try_lock_app("shop", "b:2", ttl).await.unwrap());

        let mut listener = b.woke_listener();
        // The subscription is up once a publication gets through.
        let received = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                a.publish_woke("shop").await.unwrap();
                if let Ok(app) = tokio::time::timeout(Duration::from_millis(100), listener.next()).await {
                    return app;
                }
            }
        })
        .await
        .expect("a woke notification within 10 s");
        assert_eq!(received, "shop");
    }

    #[tokio::test]
    async fn in_flight_counts_add_up_across_replicas_and_expire_with_them() {
        let server = RedisServer::start();
        let (a, b) = two_replicas(&server).await;
        let now = crate::clock::now_ms();
        let short = Duration::from_millis(300);
        a.exchange_in_flight("a", &[("shop".into(), 2)], short, now).await.unwrap();
        let seen_by_b = b.exchange_in_flight("b", &[("shop".into(), 1), ("blog".into(), 4)], short, now).await.unwrap();
        assert_eq!(seen_by_b.get("shop"), Some(&2));
        assert_eq!(seen_by_b.get("blog"), None, "its own counts are not included");
        let seen_by_a = a.exchange_in_flight("a", &[], short, now).await.unwrap();
        assert_eq!((seen_by_a.get("shop"), seen_by_a.get("blog")), (Some(&1), Some(&4)));
        // b stops publishing (it died): its counts expire.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let seen = a.exchange_in_flight("a", &[], short, crate::clock::now_ms()).await.unwrap();
            if seen.is_empty() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "a dead replica's counts never expired: {seen:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        b.exchange_in_flight("b", &[("shop".into(), 1)], short, crate::clock::now_ms()).await.unwrap();
        b.leave("b").await.unwrap();
        assert!(a.exchange_in_flight("a", &[], short, crate::clock::now_ms()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn shared_activity_keeps_the_newest_and_an_outage_is_an_error_not_a_hang() {
        let mut server = RedisServer::start();
        let (a, b) = two_replicas(&server).await;
        let record = |activity| crate::store::AppRecord {
            state: crate::policy::model::AppState::Awake,
            state_since: 1,
            last_activity: Some(activity),
            slept_by_gateway: false,
            wakes: 0,
            asleep_ms: 0,
            awake_ms: 0,
        };
        a.save_apps(&[("shop".into(), record(500))]).await.unwrap();
        b.save_apps(&[("shop".into(), record(300))]).await.unwrap();
        assert_eq!(b.load_activity().await.unwrap().get("shop"), Some(&500));
        server.kill();
        let started = std::time::Instant::now();
        assert!(a.load_activity().await.is_err());
        assert!(a.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5), "an outage answered in {:?}", started.elapsed());
        server.restart();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        // The first call on a dropped connection fails and reconnects.
        while a.ping().await.is_err() || b.ping().await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "never reconnected after Redis came back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A fresh (empty) Redis: the next flush writes again.
        a.save_apps(&[("shop".into(), record(700))]).await.unwrap();
        assert_eq!(b.load_activity().await.unwrap().get("shop"), Some(&700));
    }
}
