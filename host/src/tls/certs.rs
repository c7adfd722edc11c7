//! Loading certificates and keys from PEM files, and choosing one by SNI:
//! an exact name wins over a wildcard, a wildcard covers one label.

use crate::config::CertFiles;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no certificate")]
    NoCert { path: PathBuf },
    #[error("{path} holds no private key (PKCS#8, PKCS#1 or SEC1 PEM)")]
    NoKey { path: PathBuf },
    #[error("the key in {key} is unusable: {reason}")]
    BadKey { key: PathBuf, reason: String },
    #[error("the key in {key} does not match the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the certificate in {path} is unreadable: {reason}")]
    BadCert { path: PathBuf, reason: String },
}

/// Every certificate of one listener, indexed by the names they cover.
#[derive(Debug, Default)]
pub(crate) struct CertSet {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the parent domain: `*.example.com` is under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// For clients that send no SNI (by IP address): the first certificate.
    fallback: Option<Arc<CertifiedKey>>,
}

impl CertSet {
    pub(crate) fn load(files: &[CertFiles]) -> Result<CertSet, CertError> {
        let provider = rustls::crypto::ring::default_provider();
        let mut set = CertSet::default();
        for pair in files {
            let (key, names) = load_pair(&pair.cert, &pair.key, &provider)?;
            let key = Arc::new(key);
            for name in names {
                let name = name.to_ascii_lowercase();
                // The first file naming a name keeps it: config order decides.
                match name.strip_prefix("*.") {
                    Some(parent) => set.wildcard.entry(parent.to_owned()).or_insert_with(|| key.clone()),
                    None => set.exact.entry(name).or_insert_with(|| key.clone()),
                };
            }
            set.fallback.get_or_insert(key);
        }
        Ok(set)
    }

    pub(crate) fn choose(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = server_name else { return self.fallback.clone() };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return Some(key.clone());
        }
        let parent = name.split_once('.').map(|(_, parent)| parent)?;
        self.wildcard.get(parent).cloned()
    }
}

fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(CertifiedKey, Vec<String>), CertError> {
    let read =
        |path: &Path| std::fs::read(path).map_err(|e| CertError::Read { path: path.into(), reason: e.to_string() });
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::Read { path: cert.into(), reason: e.to_string() })?;
    let Some(leaf) = chain.first() else { return Err(CertError::NoCert { path: cert.into() }) };
    let names: Vec<String> = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| CertError::BadCert { path: cert.into(), reason: e.to_string() })?
        .valid_dns_names()
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        tracing::warn!(cert = %cert.display(), "certificate names no DNS name; served only to clients sending no SNI");
    }
    for name in written_dns_names(leaf).iter().filter(|name| is_wildcard_under_one_label(name)) {
        tracing::warn!(
            cert = %cert.display(),
            name = %name,
            "certificate wildcard directly under a single label: browsers and TLS clients refuse it as they refuse \
             *.com, so it cannot serve app names under it; list the app names (hello.localhost) instead"
        );
    }
    let key_pem = read(key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| CertError::NoKey { path: key.into() })?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| CertError::BadKey { key: key.into(), reason: e.to_string() })?;
    let certified = CertifiedKey::new(chain, signing);
    if certified.keys_match().is_err() {
        return Err(CertError::Mismatch { cert: cert.into(), key: key.into() });
    }
    Ok((certified, names))
}

/// Every DNS name of the leaf's subject alternative names as written:
/// webpki lists only the names it would match, which leaves out the very
/// names worth a warning.
fn written_dns_names(leaf: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else { return Vec::new() };
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(name) => Some(name.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// `*.localhost`: a wildcard whose parent is one label. Clients refuse to
/// match it (OpenSSL wants two labels after the star, browsers treat it as
/// a wildcard over a top-level domain), so the gateway would offer it for
/// `app.localhost` and every client would fail the handshake.
fn is_wildcard_under_one_label(name: &str) -> bool {
    name.strip_prefix("*.").is_some_and(|parent| !parent.trim_end_matches('.').contains('.'))
}

/// Picks a certificate per handshake from the current set, which a reload
/// swaps whole: handshakes in progress keep the set they started with.
#[derive(Debug)]
pub(super) struct SniResolver {
    pub(super) current: arc_swap::ArcSwap<CertSet>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = self.current.load().choose(hello.server_name());
        if chosen.is_none() {
            tracing::debug!(sni = hello.server_name(), "no certificate for this server name");
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::is_wildcard_under_one_label;

    #[test]
    fn a_wildcard_under_one_label_is_told_apart() {
        assert!(is_wildcard_under_one_label("*.localhost"));
        assert!(is_wildcard_under_one_label("*.com"));
        assert!(!is_wildcard_under_one_label("*.apps.localhost"));
        assert!(!is_wildcard_under_one_label("*.example.com"));
        assert!(!is_wildcard_under_one_label("hello.localhost"));
    }
}
