//! The store's contract, run against both implementations: sled in a temp
//! dir, and Redis on a real `redis-server` started for each test. "A new
//! handle" is what a restarted gateway (or another replica) gets: sled
//! reopened on the same directory, Redis connected again with the same
//! prefix.

use super::test_redis::RedisServer;
use super::{AppRecord, EventQuery, Store};
use crate::policy::kv::{KvBackend, KvError, MAX_KEYS};
use crate::policy::model::AppState;
use crate::telemetry::{Event, EventKind};

enum Fixture {
    Sled(tempfile::TempDir),
    Redis(RedisServer),
}

impl Fixture {
    fn sled() -> Fixture {
        Fixture::Sled(tempfile::tempdir().expect("temp dir"))
    }

    fn redis() -> Fixture {
        Fixture::Redis(RedisServer::start())
    }

    /// A new handle on the same data. With sled, drop the previous one
    /// first: a sled directory is opened by one handle at a time.
    async fn store(&self) -> Store {
        match self {
            Fixture::Sled(dir) => {
                let path = dir.path().join("db");
                super::sled::wait_until_released(&path);
                Store::open(&path).expect("open sled")
            }
            Fixture::Redis(server) => Store::connect_redis(&server.url(), "test").await.expect("connect to redis"),
        }
    }
}

/// Each contract as one test per implementation.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sled {
            $(#[tokio::test] async fn $name() { super::$name(super::Fixture::sled()).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $name() { super::$name(super::Fixture::redis()).await })*
        }
    };
}

contract!(
    records_round_trip_and_reach_a_new_handle,
    the_latest_transition_wins_and_activity_only_grows,
    formations_round_trip_and_reach_a_new_handle,
    policy_state_is_namespaced_capped_and_durable_after_a_flush,
    events_keep_the_newest_in_order_page_and_filter,
    process_records_are_replaced_forgotten_and_reach_a_new_handle,
);

fn record(state: AppState, since: u64, activity: Option<u64>) -> AppRecord {
    AppRecord {
        state,
        state_since: since,
        last_activity: activity,
        slept_by_gateway: state == AppState::Asleep,
        wakes: since / 100,
        asleep_ms: 7,
        awake_ms: 11,
    }
}

async fn records_round_trip_and_reach_a_new_handle(fixture: Fixture) {
    let hello = record(AppState::Awake, 1_000, Some(1_500));
    let other = record(AppState::Asleep, 2_000, None);
    {
        let store = fixture.store().await;
        assert!(store.load_apps().await.unwrap().is_empty());
        assert_eq!(store.load_app("hello").await.unwrap(), None);
        store.save_apps(&[("hello".into(), hello.clone()), ("other".into(), other.clone())]).await.unwrap();
        assert_eq!(store.load_app("hello").await.unwrap(), Some(hello.clone()));
    }
    let store = fixture.store().await;
    let all = store.load_apps().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["hello"], hello);
    assert_eq!(all["other"], other);
    assert_eq!(store.load_app("other").await.unwrap(), Some(other));
}

async fn the_latest_transition_wins_and_activity_only_grows(fixture: Fixture) {
    let store = fixture.store().await;
    let save = |r: AppRecord| {
        let store = store.clone();
        async move { store.save_apps(&[("app".into(), r)]).await.unwrap() }
    };
    save(record(AppState::Awake, 100, Some(500))).await;
    // A stale view (an older transition, older activity) changes nothing.
    save(record(AppState::Asleep, 50, Some(400))).await;
    let stored = store.load_app("app").await.unwrap().unwrap();
    assert_eq!((stored.state, stored.state_since, stored.last_activity), (AppState::Awake, 100, Some(500)));
    // Newer activity from a stale view still counts.
    save(record(AppState::Asleep, 50, Some(900))).await;
    let stored = store.load_app("app").await.unwrap().unwrap();
    assert_eq!((stored.state, stored.state_since, stored.last_activity), (AppState::Awake, 100, Some(900)));
    // A newer transition wins; the newest activity stays.
    save(record(AppState::Asleep, 200, None)).await;
    let stored = store.load_app("app").await.unwrap().unwrap();
    assert_eq!((stored.state, stored.state_since, stored.last_activity), (AppState::Asleep, 200, Some(900)));
    assert_eq!(stored.wakes, 2, "the whole record of the latest transition");
    assert_eq!(store.load_apps().await.unwrap()["app"], stored);
}

async fn formations_round_trip_and_reach_a_new_handle(fixture: Fixture) {
    let two_web: super::Formation = [("web".into(), 2), ("worker".into(), 1)].into();
    {
        let store = fixture.store().await;
        assert_eq!(store.load_formation("scalingo", "shop").await.unwrap(), None);
        store.save_formation("scalingo", "shop", &[("web".into(), 1)].into()).await.unwrap();
        store.save_formation("scalingo", "shop", &two_web).await.unwrap();
        store.save_formation("heroku", "shop", &[("web".into(), 5)].into()).await.unwrap();
    }
    let store = fixture.store().await;
    assert_eq!(store.load_formation("scalingo", "shop").await.unwrap(), Some(two_web));
    assert_eq!(store.load_formation("heroku", "shop").await.unwrap(), Some([("web".into(), 5)].into()));
    assert_eq!(store.load_formation("scalingo", "other").await.unwrap(), None);
}

async fn policy_state_is_namespaced_capped_and_durable_after_a_flush(fixture: Fixture) {
    {
        let store = fixture.store().await;
        let kv = store.policy_kv();
        kv.set("a", "awake", b"x,y").unwrap();
        kv.set("a", "gone", b"1").unwrap();
        kv.delete("a", "gone").unwrap();
        kv.set("ab", "awake", b"other").unwrap();
        assert_eq!(kv.get("a", "awake").unwrap(), Some(b"x,y".to_vec()), "read back at once");
        for i in 0..MAX_KEYS - 1 {
            kv.set("full", &i.to_string(), b"").unwrap();
        }
        kv.set("full", "last", b"").unwrap();
        assert_eq!(kv.set("full", "one-too-many", b""), Err(KvError::TooManyKeys));
        kv.set("full", "0", b"replaced").unwrap();
        assert!(matches!(kv.get("bad\0ns", "k"), Err(KvError::Backend(_))));
        // No app changed: the flusher's save still makes policy state durable.
        store.save_apps(&[]).await.unwrap();
    }
    let store = fixture.store().await;
    let kv = store.policy_kv();
    assert_eq!(kv.get("a", "awake").unwrap(), Some(b"x,y".to_vec()));
    assert_eq!(kv.get("a", "gone").unwrap(), None);
    assert_eq!(kv.get("ab", "awake").unwrap(), Some(b"other".to_vec()));
    // "a" is not a prefix of "ab"'s keys.
    assert_eq!(kv.list_keys("a", "").unwrap(), vec!["awake".to_owned()]);
    assert_eq!(kv.count("a").unwrap(), 1);
    assert_eq!(kv.count("full").unwrap(), MAX_KEYS);
    assert_eq!(kv.get("full", "0").unwrap(), Some(b"replaced".to_vec()));
    assert_eq!(kv.list_keys("full", "99").unwrap().len(), 10, "99 and 990..=998");
    assert!(store.load_apps().await.unwrap().is_empty());
}

fn event(at: u64, app: &str) -> Event {
    Event { at, app: Some(app.into()), kind: EventKind::Woken { wake_ms: 1.0, cause: None } }
}

async fn events_keep_the_newest_in_order_page_and_filter(fixture: Fixture) {
    let all = EventQuery { limit: 10, ..Default::default() };
    let first_ids;
    {
        let store = fixture.store().await;
        let log = store.events(3).await.unwrap();
        log.append(&[event(1, "a"), event(2, "b")]).await.unwrap();
        log.append(&[event(3, "a"), event(4, "b"), event(5, "a")]).await.unwrap();
        log.flush().await.unwrap();
        let kept = log.recent(&all).await.unwrap();
        assert_eq!(kept.iter().map(|e| e.event.at).collect::<Vec<_>>(), [5, 4, 3]);
        first_ids = kept.iter().map(|e| e.id).collect::<Vec<_>>();
        assert!(first_ids.windows(2).all(|w| w[0] == w[1] + 1), "consecutive ids, newest first: {first_ids:?}");
    }
    let store = fixture.store().await;
    let log = store.events(3).await.unwrap();
    log.append(&[event(6, "b")]).await.unwrap();
    log.flush().await.unwrap();
    let kept = log.recent(&all).await.unwrap();
    assert_eq!(kept.iter().map(|e| e.event.at).collect::<Vec<_>>(), [6, 5, 4]);
    assert_eq!(kept[0].id, first_ids[0] + 1, "the numbering goes on across handles");
    assert_eq!(kept[0].event, event(6, "b"));
    let only_a = log.recent(&EventQuery { limit: 10, app: Some("a".into()), ..Default::default() }).await.unwrap();
    assert_eq!(only_a.iter().map(|e| e.event.at).collect::<Vec<_>>(), [5]);
    let page = log.recent(&EventQuery { limit: 1, before: Some(kept[0].id), ..Default::default() }).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [kept[1].id]);
    assert!(log.recent(&EventQuery { limit: 0, ..Default::default() }).await.unwrap().is_empty());
}

async fn process_records_are_replaced_forgotten_and_reach_a_new_handle(fixture: Fixture) {
    use super::{ProcessId, ProcessRecord};
    let record = |pid: i32| ProcessRecord {
        app: "hello".into(),
        boot_id: "boot".into(),
        gateway: ProcessId { pid: pid - 1, start_time: 9 },
        supervisor: ProcessId { pid, start_time: 10 },
        group: ProcessId { pid: pid + 1, start_time: 11 },
    };
    {
        let store = fixture.store().await;
        assert!(store.load_processes().await.unwrap().is_empty());
        store.save_process("hello", &record(100)).await.unwrap();
        store.save_process("hello", &record(200)).await.unwrap();
        store.save_process("other", &record(300)).await.unwrap();
        store.save_process("gone", &record(400)).await.unwrap();
        store.forget_process("gone").await.unwrap();
        store.forget_process("never-saved").await.unwrap();
        // Durable with the next flush.
        store.flush().await.unwrap();
    }
    let store = fixture.store().await;
    let mut all: Vec<(String, ProcessRecord)> =
        store.load_processes().await.unwrap().into_iter().map(|(app, r)| (app, r.unwrap())).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(all, vec![("hello".into(), record(200)), ("other".into(), record(300))]);
}
