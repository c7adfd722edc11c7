//! The processes of this machine's apps, in `p:processes:<hostname>` (see
//! `store/processes.rs` for why the key names the host).

use super::RedisStore;
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::OnceLock;

/// This machine's hostname, as the kernel has it (read once: it is part of
/// a key, and a rename while running would orphan the records).
fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned())
    })
}

impl RedisStore {
    fn processes_key(&self) -> String {
        self.keys().processes(hostname())
    }

    pub(crate) async fn save_process(&self, app: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (key, field) = (self.processes_key(), app.to_owned());
        self.run(|mut c| async move {
            ::redis::cmd("HSET").arg(&key).arg(&field).arg(&bytes).query_async::<()>(&mut c).await
        })
        .await
    }

    pub(crate) async fn forget_process(&self, app: &str) -> Result<(), StoreError> {
        let (key, field) = (self.processes_key(), app.to_owned());
        self.run(|mut c| async move { ::redis::cmd("HDEL").arg(&key).arg(&field).query_async::<()>(&mut c).await })
            .await
    }

    pub(crate) async fn load_processes(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let key = self.processes_key();
        let all: HashMap<String, Vec<u8>> =
            self.run(|mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await }).await?;
        Ok(all.into_iter().collect())
    }
}
