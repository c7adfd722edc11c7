//! TLS termination with rustls: one server config per HTTPS listener, ALPN
//! offering h2 and http/1.1, certificates chosen by SNI (wildcards too), and
//! reloaded when their files change, without a restart: connections already
//! up keep their session, new handshakes get the new certificates.

mod certs;

pub(crate) use certs::{CertError, CertSet};

use crate::config::CertFiles;
use certs::SniResolver;
use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// How long the files must be quiet before a reload: a cert and its key are
/// usually replaced one after the other.
const QUIET: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot watch {dir} for certificate changes: {message}")]
    Watch { dir: PathBuf, message: String },
}

/// An HTTPS listener's TLS side. Dropping it stops the reload watch.
pub(crate) struct TlsTerminator {
    acceptor: TlsAcceptor,
    _watch: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl TlsTerminator {
    pub(crate) fn new(files: &[CertFiles]) -> Result<TlsTerminator, TlsError> {
        let resolver = Arc::new(SniResolver { current: arc_swap::ArcSwap::from_pointee(CertSet::load(files)?) });
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let watch = watch(files.to_vec(), resolver)?;
        Ok(TlsTerminator { acceptor: TlsAcceptor::from(Arc::new(config)), _watch: watch })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// Watches the directories of the files (a file replaced by a rename is a
/// new inode, which a watch on the file itself would miss).
fn watch(
    files: Vec<CertFiles>,
    resolver: Arc<SniResolver>,
) -> Result<Debouncer<RecommendedWatcher, RecommendedCache>, TlsError> {
    // Events name absolute paths: compare against the canonical directory.
    let absolute = |p: &PathBuf| {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        (dir.clone(), p.file_name().map_or(dir.clone(), |name| dir.join(name)))
    };
    let (dirs, watched): (BTreeSet<PathBuf>, BTreeSet<PathBuf>) =
        files.iter().flat_map(|f| [absolute(&f.cert), absolute(&f.key)]).unzip();
    let mut debouncer = new_debouncer(QUIET, None, move |events: DebounceEventResult| {
        let Ok(events) = events else { return };
        // Reading the files (our own reload included) is no change.
        let ours = events
            .iter()
            .filter(|e| !matches!(e.kind, notify::EventKind::Access(_)))
            .flat_map(|e| e.paths.iter())
            .any(|p| watched.contains(p));
        if !ours {
            return;
        }
        match CertSet::load(&files) {
            Ok(set) => {
                resolver.current.store(Arc::new(set));
                tracing::info!(certs = files.len(), "certificates reloaded");
            }
            Err(e) => tracing::error!(error = %e, "certificate reload failed; the previous certificates stay in use"),
        }
    })
    .map_err(|e| TlsError::Watch { dir: PathBuf::from("."), message: e.to_string() })?;
    for dir in dirs {
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| TlsError::Watch { dir: dir.clone(), message: e.to_string() })?;
    }
    Ok(debouncer)
}
