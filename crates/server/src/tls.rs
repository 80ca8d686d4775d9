//! TLS for the server (rustls with the ring provider): certificate and key from PEM files, or a
//! self-signed certificate for localhost generated at start (the demo), whose SHA-256 fingerprint
//! is printed so a client can pin it.
//!
//! Must not: fall back to plain HTTP by itself (only the explicit `--insecure-http` flag does).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// A TLS failure, naming the file or step.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// File path.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS set-up failed: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A certificate chain and key ready for rustls, with the leaf's fingerprint.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Private key.
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate, as colon-separated hex.
    pub fingerprint: String,
    /// The leaf certificate as PEM (clients may trust it explicitly).
    pub cert_pem: String,
}

/// Reads a certificate chain and key from PEM files.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
    let pem_error = |what, path: &Path, e: &dyn std::fmt::Display| TlsError::Pem {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let cert_pem = std::fs::read_to_string(cert_path).map_err(|e| pem_error("certificate", cert_path, &e))?;
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", cert_path, &e))?;
    if chain.is_empty() {
        return Err(pem_error("certificate", cert_path, &"no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_error("private key", key_path, &e))?;
    let fingerprint = fingerprint(&chain[0]);
    Ok(Identity { chain, key, fingerprint, cert_pem })
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1` as PEM text: (certificate,
/// private key), to write to files that `serve --tls-cert/--tls-key` and clients then use.
pub fn self_signed_pem() -> Result<(String, String), TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`.
pub fn self_signed() -> Result<Identity, TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let der = certified.cert.der().clone();
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der()).map_err(|e| TlsError::Pem {
        what: "private key",
        path: "(generated)".into(),
        reason: e.to_string(),
    })?;
    Ok(Identity { fingerprint: fingerprint(&der), cert_pem: certified.cert.pem(), chain: vec![der], key })
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The rustls server configuration (TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2 by ALPN).
pub fn server_config(identity: Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
