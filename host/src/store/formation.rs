//! The formations PaaS apps had before the gateway scaled them to zero, so a
//! wake restores exactly them, even after a crash. Saved (and durable)
//! before the scale-down call, so a crash in between loses nothing.

use super::{Backend, Store, StoreError};
use std::collections::BTreeMap;

/// Process type → amount, such as `web` → 2, `worker` → 1.
pub(crate) type Formation = BTreeMap<String, u32>;

impl Store {
    /// The saved formation of `app` of `backend`, if any.
    pub async fn load_formation(&self, backend: &str, app: &str) -> Result<Option<Formation>, StoreError> {
        let key = formation_key(backend, app);
        let bytes = match &self.backend {
            Backend::Sled(s) => s.load_formation(&key)?,
            Backend::Redis(r) => r.load_formation(&key).await?,
        };
        match bytes {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt { key, message: e.to_string() }),
        }
    }

    /// Every saved formation, keyed `<backend>/<app>` (`paastis inspect`).
    pub async fn load_formations(&self) -> Result<BTreeMap<String, Formation>, StoreError> {
        let all = match &self.backend {
            Backend::Sled(s) => s.load_formations()?,
            Backend::Redis(r) => r.load_formations().await?,
        };
        all.into_iter()
            .map(|(key, bytes)| match serde_json::from_slice(&bytes) {
                Ok(formation) => Ok((key, formation)),
                Err(e) => Err(StoreError::Corrupt { key, message: e.to_string() }),
            })
            .collect()
    }

    /// Saves the formation and waits until it is durable.
    pub async fn save_formation(&self, backend: &str, app: &str, formation: &Formation) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(formation).map_err(|e| StoreError::Io(e.to_string()))?;
        let key = formation_key(backend, app);
        match &self.backend {
            Backend::Sled(s) => s.save_formation(&key, bytes).await,
            Backend::Redis(r) => r.save_formation(&key, bytes).await,
        }
    }
}

fn formation_key(backend: &str, app: &str) -> String {
    format!("{backend}/{app}")
}
