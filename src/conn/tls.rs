//! The one place that builds a rustls `ClientConfig`, and the one place that puts rustls's
//! errors into words.
//!
//! We never use the MQTT library's `TlsConfiguration::Simple`: it needs a process-wide crypto
//! provider and reads keys its own way. Here the provider is ring, the roots are what the user named
//! (or the OS store), and `--insecure` is a verifier that forgives a name mismatch only — the
//! chain is still verified, as in mosquitto (tests/tls.rs `insecure_*`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error,
    InconsistentKeys, RootCertStore, SignatureScheme,
};

use super::packet::words;
use crate::cli::TlsVersion;
use crate::exit::{Failure, usage};

/// What the TLS flags asked for, before any file is read.
#[derive(Debug, Clone, Default)]
pub struct TlsRequest {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub os_certs: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
    pub version: Option<TlsVersion>,
    pub alpn: Option<String>,
}

/// A built client configuration, and what it was built from (for error hints).
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<ClientConfig>,
    /// Whether the roots include the OS store (a private CA is then a likely cause of
    /// "unknown issuer").
    pub os_certs: bool,
    pub client_cert: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every file the request names and builds the configuration. Every failure is a usage
/// error: nothing has been sent yet.
pub fn build(req: &TlsRequest) -> Result<Tls, Failure> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if let Some(file) = &req.cafile {
        let certs = read_certs(file, "CA file")?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(usage(format!(
                "the CA file {} holds no usable CA certificate",
                file.display()
            )));
        }
    }
    if let Some(dir) = &req.capath {
        if !dir.is_dir() {
            return Err(usage(format!(
                "--capath {} is not a directory",
                dir.display()
            )));
        }
        // Handles `openssl rehash` symlinks and skips files that hold no certificate.
        let found = rustls_native_certs::load_certs_from_paths(None, Some(dir));
        add_found(
            &mut roots,
            found,
            &format!("no PEM CA certificate found in {}", dir.display()),
        )?;
    }
    if req.os_certs {
        let found = rustls_native_certs::load_native_certs();
        add_found(
            &mut roots,
            found,
            "no CA certificates found in the operating system's store",
        )
        .map_err(|f| f.with_hint("give the broker's CA with --cafile FILE"))?;
    }

    let versions: &[&rustls::SupportedProtocolVersion] = match req.version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        Some(TlsVersion::Tls12) | None => rustls::DEFAULT_VERSIONS,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| usage(format!("cannot set up TLS ({e})")))?;
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| usage(format!("cannot set up certificate verification ({e})")))?;
    let builder = if req.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipNameCheck(webpki)))
    } else {
        builder.with_webpki_verifier(webpki)
    };
    let mut config = match (&req.cert, &req.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "certificate")?;
            let private = read_key(key)?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| match e {
                    Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => usage(format!(
                        "the certificate {} and the key {} do not match",
                        cert.display(),
                        key.display()
                    )),
                    other => usage(format!(
                        "cannot use the certificate {} with the key {} ({other})",
                        cert.display(),
                        key.display()
                    )),
                })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err(usage("--cert needs --key: the certificate's private key")),
        (None, Some(_)) => return Err(usage("--key needs --cert: the client certificate")),
    };
    if let Some(p) = &req.alpn {
        config.alpn_protocols = vec![p.as_bytes().to_vec()];
    }
    Ok(Tls {
        config: Arc::new(config),
        os_certs: req.os_certs,
        client_cert: req.cert.is_some(),
    })
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let bad = |why: String| usage(format!("cannot read the {what} {} ({why})", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(pem_words(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(pem_words(&e)))?;
    if certs.is_empty() {
        return Err(usage(format!(
            "the {what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    let text = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read the key file {} ({e})", path.display())))?;
    let head = String::from_utf8_lossy(&text);
    if head.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || head.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(usage(format!(
            "the key {} is encrypted; encrypted keys are not supported",
            path.display()
        ))
        .with_hint(format!(
            "decrypt it with openssl pkey: openssl pkey -in {0} -out {0}.plain (keep it 0600)",
            path.display()
        )));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        pem::Error::NoItemsFound => usage(format!(
            "the key file {} holds no PEM private key (PKCS#8, SEC1 or RSA)",
            path.display()
        )),
        other => usage(format!(
            "cannot read the key file {} ({})",
            path.display(),
            pem_words(&other)
        )),
    })
}

fn pem_words(e: &pem::Error) -> String {
    match e {
        pem::Error::Io(io) => io.to_string(),
        pem::Error::NoItemsFound => "no PEM item found".into(),
        other => format!("not valid PEM: {other}"),
    }
}

/// `--insecure`: everything webpki checks, except that the certificate names the host.
#[derive(Debug)]
struct SkipNameCheck(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipNameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // webpki checks the chain (trust, validity, purpose) before the name, so a name error
        // means the rest passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
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
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Finds the rustls error behind a connection error. The MQTT library wraps it in `io::Error`s
/// (whose `source()` skips the wrapped error, hence `get_ref`) inside its `Tls`, `MqttState` or
/// WebSocket variants — a client-certificate alert under TLS 1.3 arrives after the handshake,
/// while reading CONNACK (tests/tls.rs `a_missing_client_certificate_exits_3_with_a_hint`).
pub fn rustls_cause<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<Error>() {
            return Some(r);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(r) = rustls_cause(inner) {
                return Some(r);
            }
        }
        next = e.source();
    }
    None
}

/// A TLS failure in words, and a hint: what the user can do about it.
pub fn explain(err: &Error, host: &str, tls: Option<&Tls>) -> (String, Option<String>) {
    let ca_hint = || {
        let os = tls.is_some_and(|t| t.os_certs);
        Some(if os {
            "the operating system's CA store was used: give the CA that signed the broker's \
             certificate with --cafile FILE"
                .to_string()
        } else {
            "check that --cafile/--capath hold the CA that signed the broker's certificate"
                .to_string()
        })
    };
    match err {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => (
                "the broker's certificate is not signed by a trusted CA (unknown issuer)".into(),
                ca_hint(),
            ),
            CertificateError::BadSignature => (
                "the broker's certificate is not signed by a trusted CA (bad signature)".into(),
                ca_hint(),
            ),
            CertificateError::NotValidForName => (
                format!("certificate not valid for name {host}"),
                Some(format!(
                    "use --insecure to skip the name check, or connect with a name the \
                     certificate carries (mqtk certgen --host {host})"
                )),
            ),
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => (
                format!(
                    "certificate not valid for name {}; it is valid for {}",
                    server_name(expected),
                    presented
                        .iter()
                        .map(|p| presented_name(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(format!(
                    "use --insecure to skip the name check, or connect with a name the \
                     certificate carries (mqtk certgen --host {})",
                    server_name(expected)
                )),
            ),
            CertificateError::Expired => (
                "the broker's certificate has expired".into(),
                Some("renew it (mqtk certgen --force makes a new one)".into()),
            ),
            CertificateError::ExpiredContext { time, not_after } => (
                format!(
                    "the broker's certificate expired {} ({})",
                    ago(time.as_secs().saturating_sub(not_after.as_secs())),
                    date(not_after)
                ),
                Some("renew it (mqtk certgen --force makes a new one)".into()),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                "the broker's certificate is not valid yet".into(),
                Some("check the clocks of this machine and of the broker".into()),
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                "the broker's certificate is not meant for a TLS server".into(),
                None,
            ),
            CertificateError::Revoked => ("the broker's certificate is revoked".into(), None),
            other => (
                format!("the broker's certificate was rejected ({other:?})"),
                None,
            ),
        },
        Error::AlertReceived(alert) => alert_words(*alert, tls),
        Error::PeerIncompatible(p) => (
            format!("the broker and this client have no TLS version or cipher in common ({p:?})"),
            Some("mqtk speaks TLS 1.2 and 1.3; check the broker's tls_version".into()),
        ),
        Error::InvalidMessage(_) => (
            "the broker did not answer with TLS".into(),
            Some("is this a plain MQTT port? mosquitto's TLS port is usually 8883".into()),
        ),
        Error::NoApplicationProtocol => (
            "the broker offered no ALPN protocol".into(),
            Some("check --tls-alpn".into()),
        ),
        other => (format!("TLS failed ({other})"), None),
    }
}

fn alert_words(alert: AlertDescription, tls: Option<&Tls>) -> (String, Option<String>) {
    let has_cert = tls.is_some_and(|t| t.client_cert);
    let cert_hint = || {
        Some(if has_cert {
            "is the client certificate signed by the CA in the broker's cafile?".to_string()
        } else {
            "give a client certificate with --cert FILE --key FILE".to_string()
        })
    };
    match alert {
        AlertDescription::CertificateRequired => (
            "the broker requires a client certificate".into(),
            cert_hint(),
        ),
        AlertDescription::HandshakeFailure if !has_cert => (
            "the broker refused the TLS handshake (handshake failure; it may require a client \
             certificate)"
                .into(),
            cert_hint(),
        ),
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::DecryptError
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateRevoked
        | AlertDescription::AccessDenied => (
            format!(
                "the broker rejected the client certificate ({})",
                alert_name(alert)
            ),
            cert_hint(),
        ),
        AlertDescription::ProtocolVersion => (
            "the broker does not accept this TLS version (protocol version alert)".into(),
            Some("--tls-version tlsv1.2 accepts TLS 1.2 and 1.3".into()),
        ),
        AlertDescription::NoApplicationProtocol => (
            "the broker does not speak the ALPN protocol offered (no application protocol)".into(),
            Some("check --tls-alpn".into()),
        ),
        other => (
            format!("the broker ended the TLS handshake ({})", alert_name(other)),
            None,
        ),
    }
}

/// `HandshakeFailure` → `handshake failure alert`.
fn alert_name(alert: AlertDescription) -> String {
    words(&format!("{alert:?}")) + " alert"
}

fn server_name(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// rustls describes the certificate's names in Debug form: `DnsName("localhost")` →
/// `localhost`, `IpAddress(127.0.0.1)` → `127.0.0.1`.
fn presented_name(p: &str) -> String {
    match (p.find('('), p.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            p[open + 1..close].trim_matches('"').to_string()
        }
        _ => p.to_string(),
    }
}

/// `3 days ago`, `5 minutes ago`.
fn ago(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 2 * 60 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{n} {unit} ago")
}

/// `on 2024-03-01 12:00 UTC`.
fn date(t: &UnixTime) -> String {
    match chrono::DateTime::from_timestamp(t.as_secs() as i64, 0) {
        Some(d) => format!("on {}", d.format("%Y-%m-%d %H:%M UTC")),
        None => format!("at {} seconds since 1970", t.as_secs()),
    }
}

/// Adds what rustls-native-certs found; none usable is a usage error naming its first problem.
fn add_found(
    roots: &mut RootCertStore,
    found: rustls_native_certs::CertificateResult,
    none: &str,
) -> Result<(), Failure> {
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(usage(format!("{none}{why}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rustls_errors_are_found_behind_io_errors() {
        let inner = Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let outer = anyhow::Error::new(io).context("connecting");
        let found = rustls_cause(outer.as_ref()).expect("found");
        assert!(matches!(
            found,
            Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ));
    }

    #[test]
    fn expiry_says_when() {
        let now = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000));
        let not_after = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000 - 3 * 86_400));
        let (msg, hint) = explain(
            &Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: now,
                not_after,
            }),
            "h",
            None,
        );
        assert_eq!(
            msg,
            "the broker's certificate expired 3 days ago (on 2023-11-11 22:13 UTC)"
        );
        assert!(hint.unwrap().contains("certgen"));
    }

    #[test]
    fn presented_names_lose_their_debug_dress() {
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("odd"), "odd");
    }

    #[test]
    fn alerts_become_words() {
        let (msg, hint) = explain(
            &Error::AlertReceived(AlertDescription::CertificateRequired),
            "h",
            None,
        );
        assert_eq!(msg, "the broker requires a client certificate");
        assert!(hint.unwrap().contains("--cert"));
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake failure alert"
        );
    }

    #[test]
    fn encrypted_keys_are_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("enc.key");
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = read_key(&key).unwrap_err();
        assert!(e.message.contains("encrypted"), "{}", e.message);
        assert!(e.hint.unwrap().contains("openssl pkey"));
    }
}
