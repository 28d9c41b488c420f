//! DICOM TLS (PS3.15 B.9, the BCP 195 profiles DCMTK defaults to): rustls configurations from
//! PEM files. A peer's certificate is checked against the node's CA file; qcdesk presents its
//! own certificate when the node (or the receiver) names one. Every failure names the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The PEM files of one TLS link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// Certificates the peer's certificate must chain to.
    pub ca: PathBuf,
    /// qcdesk's own certificate (chain) and private key, presented to the peer.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificate file {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read private key file {}: {e}", path.display()))
}

fn roots(ca: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates(ca)? {
        roots
            .add(c)
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
    }
    Ok(roots)
}

/// The identity in `cert` and `key`, both or neither.
fn identity(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    match (cert, key) {
        (Some(c), Some(k)) => Ok(Some((certificates(c)?, private_key(k)?))),
        (None, None) => Ok(None),
        _ => Err("a TLS certificate needs its private key, and a key its certificate".into()),
    }
}

/// How qcdesk connects to a TLS node.
pub fn client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(&files.ca)?);
    let config = match identity(files.cert.as_deref(), files.key.as_deref())? {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("qcdesk's certificate and key: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// How the receiver accepts TLS: its certificate and key, and, with `client_ca`, callers must
/// present a certificate that chains to it.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(ca)?),
                provider(),
            )
            .build()
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certificates(cert)?, private_key(key)?)
        .map_err(|e| format!("the receiver's certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = client_config(&TlsFiles {
            ca: empty.clone(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("empty.pem holds no PEM certificate"), "{e}");
        let e = client_config(&TlsFiles {
            ca: dir.path().join("nope.pem"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("nope.pem"), "{e}");
        let e = server_config(&empty, &dir.path().join("key.pem"), None).unwrap_err();
        assert!(e.contains("empty.pem"), "{e}");
    }
}
