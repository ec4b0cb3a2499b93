//! TLS for the wire client on native targets: tokio-rustls with the crate's verification
//! modes. (In a Worker the runtime does TLS, through `Socket::start_tls`.)

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::config::{Config, SslMode};
use crate::error::{Error, Result};

/// The connector and the name to verify (and to send as SNI when it is a host name; rustls
/// sends none for an IP address).
pub(crate) fn connector(config: &Config) -> Result<(TlsConnector, ServerName<'static>)> {
    let name = config.tls().server_name().unwrap_or(config.host());
    let server_name = ServerName::try_from(name.trim_end_matches('.').to_owned())
        .map_err(|_| Error::config(format!("`{name}` is not a valid TLS server name")))?;
    Ok((
        TlsConnector::from(Arc::new(client_config(config)?)),
        server_name,
    ))
}

/// rustls settings for the configuration's `ssl-mode` and `ssl-ca`: TLS 1.2 and 1.3 with ring;
/// `verify_identity` checks chain and name, `verify_ca` the chain only, `required` and
/// `preferred` nothing (the handshake's signatures still are). Shared with the relay client.
pub(crate) fn client_config(config: &Config) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let verifier: Arc<dyn ServerCertVerifier> = match config.tls().mode() {
        SslMode::VerifyIdentity | SslMode::VerifyCa => {
            let roots = Arc::new(roots(config)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::config(format!("tls roots: {e}")))?;
            if config.tls().mode() == SslMode::VerifyCa {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
        _ => Arc::new(Unverified(provider.clone())),
    };

    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::config(format!("tls versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The trusted roots: the `ssl-ca` file (PEM, or one DER certificate), or the public web PKI
/// roots (TiDB Cloud Serverless uses a public CA).
fn roots(config: &Config) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    let Some(path) = config.tls().ca() else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let data = crate::direct::read_ca_file(path)?;
    let mut certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
        .filter_map(|c| c.ok())
        .collect();
    if certs.is_empty() {
        certs.push(CertificateDer::from(data));
    }
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::config(format!(
            "ssl-ca file {} holds no usable CA certificate",
            path.display()
        )));
    }
    Ok(store)
}

/// `verify_ca`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // webpki checks the chain before the name, so a name error means the chain held.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `required` and `preferred`: encrypted, but any certificate is accepted (the handshake's
/// signatures are still checked, so the peer holds the certificate's key).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
