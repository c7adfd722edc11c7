//! A damaged sled store is moved aside, not fatal.
//!
//! Damage deeper than a torn tail (which sled repairs itself) makes sled
//! refuse to open, fail while reading, or even panic: random bytes over the
//! log, a truncated `db` or snapshot, a deleted file. Rather than a gateway
//! that proxies nothing, the store is renamed `<path>.corrupt-<time>` (kept
//! for a post-mortem) and a fresh one is started. What is lost: app states
//! and activity (every app restarts asleep; discovery adopts running PaaS
//! apps again), saved PaaS formations (such an app wakes with one `web`,
//! with a warning), policy state and the event history.
//!
//! A store locked by another running gateway, or one the gateway may not
//! read (permissions), is not damaged: that stays an error.

use super::SledStore;
use crate::store::StoreError;
use std::path::{Path, PathBuf};

/// What a recovery did, for the log and the `store_recovered` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// Where the damaged store now is.
    pub moved_to: PathBuf,
    /// What was wrong with it.
    pub damage: String,
}

/// Why a store could not be used.
pub(crate) enum OpenFailure {
    /// Damaged: worth moving aside.
    Damaged(String),
    /// Anything else (locked, permissions): an error as it is.
    Refused(StoreError),
}

/// Opens the store and reads every tree through, so that damage shows now
/// rather than in the middle of serving. A panic inside sled counts as
/// damage.
pub(crate) fn open_checked(path: &Path) -> Result<SledStore, OpenFailure> {
    if let Some(missing) = missing_file(path) {
        return Err(OpenFailure::Damaged(missing));
    }
    let opened = std::panic::catch_unwind(|| {
        let store = SledStore::open_unchecked(path)?;
        store.read_through()?;
        Ok::<_, StoreError>(store)
    });
    match opened {
        Ok(Ok(store)) => Ok(store),
        Ok(Err(e)) if is_damage(&e) => Err(OpenFailure::Damaged(e.to_string())),
        Ok(Err(e)) => Err(OpenFailure::Refused(e)),
        Err(panic) => Err(OpenFailure::Damaged(format!("sled panicked while reading it: {}", panic_message(&panic)))),
    }
}

/// A store that has some of its files but not all: sled would open it as
/// a new, empty store and lose everything without a word. A directory
/// holding none of sled's files is a new store, not a damaged one, whatever
/// else it holds (the demo keeps its certificates beside its store).
fn missing_file(path: &Path) -> Option<String> {
    let present = |name: &str| path.join(name).exists();
    let is_sled_file = |name: &str| matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.");
    let started = std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_str().is_some_and(is_sled_file));
    match (present("conf"), present("db")) {
        (true, true) => None,
        _ if !started => None,
        (false, _) => Some("its file `conf` is missing".to_owned()),
        (_, false) => Some("its file `db` is missing".to_owned()),
    }
}

/// Opens the store, moving it aside and starting afresh if it is damaged.
pub(crate) fn open_or_recover(path: &Path) -> Result<(SledStore, Option<Recovery>), StoreError> {
    let damage = match open_checked(path) {
        Ok(store) => return Ok((store, None)),
        Err(OpenFailure::Refused(e)) => return Err(e),
        Err(OpenFailure::Damaged(damage)) => damage,
    };
    let moved_to = aside(path);
    std::fs::rename(path, &moved_to).map_err(|e| StoreError::Open {
        path: path.to_owned(),
        message: format!("it is damaged ({damage}) and cannot be moved to {}: {e}", moved_to.display()),
    })?;
    let store = SledStore::open_unchecked(path)?;
    Ok((store, Some(Recovery { moved_to, damage })))
}

/// `<path>.corrupt-<UTC time>`, made unique if a recovery already happened
/// in the same second.
fn aside(path: &Path) -> PathBuf {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = format!("{}.corrupt-{stamp}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{base}-{n}"));
    }
    candidate
}

fn is_damage(e: &StoreError) -> bool {
    match e {
        StoreError::Open { message, .. } => message != super::LOCKED && !is_permission(message),
        StoreError::Io(message) => !is_permission(message),
        StoreError::Corrupt { .. } => true,
        _ => false,
    }
}

fn is_permission(message: &str) -> bool {
    message.contains("Permission denied") || message.contains("permission denied")
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

#[cfg(test)]
mod tests {
    use crate::store::{AppRecord, Store, StoreError};
    use std::path::{Path, PathBuf};

    /// A store with an app, a formation and an event in it, closed.
    async fn populated(path: &Path) {
        let store = Store::open(path).unwrap();
        let record = AppRecord {
            state: crate::policy::model::AppState::Awake,
            state_since: 1,
            last_activity: Some(2),
            slept_by_gateway: false,
            wakes: 3,
            asleep_ms: 0,
            awake_ms: 0,
        };
        store.save_apps(&[("hello".into(), record)]).await.unwrap();
        store.save_formation("scalingo", "shop", &[("web".into(), 2)].into()).await.unwrap();
        let log = store.events(10).await.unwrap();
        log.append(&[crate::telemetry::Event {
            at: 1,
            app: None,
            kind: crate::telemetry::EventKind::PolicyRemoved { policy: "p".into() },
        }])
        .await
        .unwrap();
        log.flush().await.unwrap();
        drop((store, log));
        crate::store::sled::wait_until_released(path);
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    /// Pseudo-random bytes (xorshift): enough to look like garbage to sled.
    fn garbage(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn overwrite_start_of_every_file(dir: &Path) {
        use std::io::{Seek, Write};
        for (i, file) in files(dir).into_iter().enumerate() {
            let len = std::fs::metadata(&file).unwrap().len().min(4096) as usize;
            let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.write_all(&garbage(len.max(1), 0x9e37_79b9 + i as u64)).unwrap();
        }
    }

    async fn assert_recovers(damage: impl Fn(&Path)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        populated(&path).await;
        damage(&path);
        match Store::open(&path) {
            Err(StoreError::Damaged { .. }) => {}
            Err(other) => panic!("a plain open should report the damage, not: {other}"),
            Ok(_) => panic!("a plain open of a damaged store succeeded"),
        }
        assert!(path.exists());
        let store = Store::open_or_recover(&path).unwrap();
        let recovery = store.recovered().expect("recovered").clone();
        assert!(recovery.moved_to.exists(), "the damaged store is kept at {}", recovery.moved_to.display());
        let name = recovery.moved_to.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("store.corrupt-"), "{name}");
        // A fresh, empty, working store.
        assert!(store.load_apps().await.unwrap().is_empty());
        assert_eq!(store.load_formation("scalingo", "shop").await.unwrap(), None);
        store.save_formation("scalingo", "shop", &[("web".into(), 1)].into()).await.unwrap();
        drop(store);
        crate::store::sled::wait_until_released(&path);
        let reopened = Store::open_or_recover(&path).unwrap();
        assert!(reopened.recovered().is_none(), "a healthy store is left alone");
        assert_eq!(reopened.load_formation("scalingo", "shop").await.unwrap(), Some([("web".into(), 1)].into()));
    }

    #[tokio::test]
    async fn random_bytes_over_every_file_are_recovered() {
        assert_recovers(overwrite_start_of_every_file).await;
    }

    #[tokio::test]
    async fn a_truncated_db_is_recovered() {
        assert_recovers(|path| {
            let db = path.join("db");
            let len = std::fs::metadata(&db).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(&db).unwrap().set_len(len / 3).unwrap();
            overwrite_start_of_every_file(path);
        })
        .await;
    }

    #[tokio::test]
    async fn a_deleted_conf_and_a_damaged_snapshot_are_recovered() {
        assert_recovers(|path| {
            for file in files(path) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                if name == "conf" {
                    std::fs::remove_file(&file).unwrap();
                } else {
                    let len = std::fs::metadata(&file).unwrap().len();
                    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len / 2).unwrap();
                }
            }
            overwrite_start_of_every_file(path);
        })
        .await;
    }

    #[tokio::test]
    async fn a_directory_holding_other_files_but_no_store_is_a_new_store() {
        // The demo keeps its certificates in the directory of its store.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tls")).unwrap();
        std::fs::write(dir.path().join("tls").join("demo-cert.pem"), "pem").unwrap();
        let store = Store::open_or_recover(dir.path()).unwrap();
        assert!(store.recovered().is_none(), "nothing of sled was there: nothing is damaged");
        assert!(dir.path().join("tls").join("demo-cert.pem").exists(), "left where it was");
        assert!(store.load_apps().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_store_in_use_is_refused_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let _running = Store::open(&path).unwrap();
        match Store::open_or_recover(&path) {
            Err(StoreError::Open { message, .. }) => assert!(message.contains("locked"), "{message}"),
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("a second open of a store in use succeeded"),
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing moved aside");
    }
}
