//! `paastis demo --tls`: a self-signed certificate made at start with rcgen,
//! naming the demo's hosts, written beside the demo's state.

use crate::config::CertFiles;
use std::path::{Path, PathBuf};

/// The demo apps' hosts; each is named, since clients refuse `*.localhost`
/// (a wildcard needs two labels under it).
const NAMES: [&str; 4] = ["localhost", "hello.localhost", "slow.localhost", "127.0.0.1"];

pub(super) fn cert_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("demo-cert.pem")
}

pub(super) fn write_self_signed(data_dir: &Path) -> anyhow::Result<CertFiles> {
    let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(names)?;
    let cert = cert_path(data_dir);
    let key = data_dir.join("tls").join("demo-key.pem");
    std::fs::create_dir_all(data_dir.join("tls"))?;
    std::fs::write(&cert, generated.cert.pem())?;
    write_private(&key, &generated.signing_key.serialize_pem())?;
    Ok(CertFiles { cert, key })
}

/// Keys are readable by their owner only.
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(pem.as_bytes())
}
