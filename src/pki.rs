//! A private certificate authority and the leaf certificates a TLS broker and its clients need,
//! built with rcgen on ring. Pure: no file I/O, no clock (callers pass `now`), so every rule
//! here is unit-tested below and the `certgen` command only reads, writes and prints.
//!
//! Choices that matter to OpenSSL (and therefore mosquitto):
//! - no Ed25519: rcgen writes Ed25519 keys as PKCS#8 v2, which OpenSSL 3.0 refuses to load;
//! - ECDSA leaves carry KeyUsage digitalSignature only (keyEncipherment is an RSA notion);
//! - serials are 16 random bytes: rcgen's default derives the serial from the public key, so
//!   re-issuing for one key would repeat it;
//! - validity is always explicit: rcgen's default runs from 1975 to 4096.

use std::fmt;
use std::net::IpAddr;

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

/// Longest validity we accept, in days: a sanity bound, far beyond any sensible choice.
pub const MAX_DAYS: i64 = 36_500;

/// The kind of key to generate for the CA and the leaves.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyType {
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
    Rsa3072,
}

impl KeyType {
    /// A new private key of this type.
    ///
    /// ring signs with RSA keys but cannot generate them, so RSA keys come from the pure-Rust
    /// `rsa` crate as PKCS#8 and are handed to rcgen (ring) for signing.
    pub fn generate(self) -> anyhow::Result<KeyPair> {
        match self {
            KeyType::EcdsaP256 => Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?),
            KeyType::EcdsaP384 => Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?),
            KeyType::Rsa2048 => rsa_key(2048),
            KeyType::Rsa3072 => rsa_key(3072),
        }
    }

    fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072)
    }
}

fn rsa_key(bits: usize) -> anyhow::Result<KeyPair> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
        .context("cannot generate an RSA key")?;
    let der = key.to_pkcs8_der().context("cannot encode the RSA key")?;
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
        .context("cannot load the RSA key for signing")
}

/// A subject alternative name of the server certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Dns(name) => write!(f, "DNS:{name}"),
            Host::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

impl Host {
    /// An IPv4 or IPv6 literal (IPv6 also in brackets) becomes an IP SAN; anything else must be
    /// a valid DNS name (RFC 1123 labels, an optional leading `*.` wildcard) and is lowercased.
    pub fn parse(s: &str) -> Result<Host, String> {
        let unbracketed = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        validate_dns_name(s).map(|()| Host::Dns(s.to_ascii_lowercase()))
    }

    /// The name a client would type with `-h`.
    pub fn as_client_arg(&self) -> String {
        match self {
            Host::Dns(name) => name.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    fn san(&self) -> anyhow::Result<SanType> {
        Ok(match self {
            Host::Dns(name) => SanType::DnsName(name.as_str().try_into()?),
            Host::Ip(ip) => SanType::IpAddress(*ip),
        })
    }
}

fn validate_dns_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty host name".into());
    }
    if s.len() > 253 {
        return Err(format!("host name longer than 253 characters: {s:?}"));
    }
    let labels: Vec<&str> = s.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err(format!("invalid host name {s:?} (empty label)"));
        }
        if *label == "*" && i == 0 && labels.len() > 2 {
            continue;
        }
        if label.len() > 63 {
            return Err(format!(
                "invalid host name {s:?} (a label is longer than 63 characters)"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "invalid host name {s:?} (character {c:?} is not allowed)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "invalid host name {s:?} (a label starts or ends with '-')"
            ));
        }
    }
    // "999.1.1.1" is not an address, and as a name it would only hide a typo.
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "invalid host name {s:?} (neither an IP address nor a name)"
        ));
    }
    Ok(())
}

/// The SANs used when no `--host` is given: localhost, both loopback addresses and the
/// machine's own name when it is a valid DNS name.
pub fn default_hosts(hostname: Option<&str>) -> Vec<Host> {
    let mut hosts = vec![
        Host::Dns("localhost".into()),
        Host::Ip(IpAddr::from([127, 0, 0, 1])),
        Host::Ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
    ];
    if let Some(Ok(h)) = hostname.map(Host::parse)
        && !hosts.contains(&h)
    {
        hosts.push(h);
    }
    hosts
}

/// A client name becomes the certificate's CN (and so the MQTT username under mosquitto's
/// `use_identity_as_username`) and part of a file name, so it is kept to characters that are
/// safe in both: letters, digits, `.`, `_`, `-`, `@`; not starting with `.` or `-`.
pub fn validate_client_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty client name".into());
    }
    if name.len() > 64 {
        return Err(format!("client name longer than 64 characters: {name:?}"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "invalid client name {name:?} (character {c:?} is not allowed; use letters, digits, \
             '.', '_', '-', '@')"
        ));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(format!(
            "invalid client name {name:?} (starts with '{}')",
            &name[..1]
        ));
    }
    Ok(())
}

/// From `now - 5 min` (clocks drift) to `now + days`, never past `cap` (the issuer's expiry).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    pub fn days(now: OffsetDateTime, days: i64) -> Validity {
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(days),
        }
    }

    fn capped(self, cap: OffsetDateTime) -> Validity {
        Validity {
            not_after: self.not_after.min(cap),
            ..self
        }
    }
}

/// A new certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
}

/// The CA that signs leaves: a new one, or one loaded from PEM files.
pub struct Ca {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
    key_pem: String,
}

impl Ca {
    /// A new self-signed CA: basicConstraints CA:true with pathlen 0 (it signs leaves only),
    /// keyCertSign + cRLSign + digitalSignature, a subject key identifier.
    pub fn generate(
        common_name: &str,
        key_type: KeyType,
        validity: Validity,
    ) -> anyhow::Result<Ca> {
        let key = key_type.generate()?;
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, common_name);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = validity.not_before;
        p.not_after = validity.not_after;
        p.serial_number = Some(random_serial()?);
        let cert = p
            .self_signed(&key)
            .context("cannot sign the CA certificate")?;
        let key_pem = key.serialize_pem();
        Ok(Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            not_after: validity.not_after,
            issuer: Issuer::new(p, key),
            key_pem,
        })
    }

    /// An existing CA. The key must be unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 RSA,
    /// and must be the certificate's key: a mismatched pair would sign leaves that no client
    /// can verify, so it is refused here rather than discovered at the first handshake.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, String> {
        let cert_der = pem_block(cert_pem, "CERTIFICATE")
            .ok_or("the CA certificate is not a PEM certificate")?;
        let (_, x509) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| format!("cannot parse the CA certificate ({e})"))?;
        if !x509.is_ca() {
            return Err(
                "the CA certificate is not a CA (basicConstraints CA:true is missing)".into(),
            );
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            if key_pem.contains("ENCRYPTED") {
                "the CA key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)".into()
            } else {
                format!(
                    "cannot read the CA key ({e}); it must be an unencrypted PKCS#8 key \
                     (convert with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)"
                )
            }
        })?;
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err("the CA key does not match the CA certificate".into());
        }
        let not_after = x509.validity().not_after.to_datetime();
        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key)
            .map_err(|e| format!("cannot use the CA certificate ({e})"))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            cert_der,
            not_after,
            issuer,
            key_pem: key_pem.to_string(),
        })
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The broker's certificate: CN = the first host, SANs = all hosts, serverAuth.
    pub fn issue_server(
        &self,
        hosts: &[Host],
        key_type: KeyType,
        validity: Validity,
    ) -> anyhow::Result<Issued> {
        let Some(first) = hosts.first() else {
            bail!("a server certificate needs a host name")
        };
        let mut p = self.leaf_params(&first.as_client_arg(), key_type, validity)?;
        p.subject_alt_names = hosts.iter().map(Host::san).collect::<anyhow::Result<_>>()?;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(p, key_type)
    }

    /// A client certificate: CN = `name`, clientAuth, so that mosquitto's
    /// `use_identity_as_username` makes `name` the MQTT username.
    pub fn issue_client(
        &self,
        name: &str,
        key_type: KeyType,
        validity: Validity,
    ) -> anyhow::Result<Issued> {
        let mut p = self.leaf_params(name, key_type, validity)?;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(p, key_type)
    }

    fn leaf_params(
        &self,
        common_name: &str,
        key_type: KeyType,
        validity: Validity,
    ) -> anyhow::Result<CertificateParams> {
        let validity = validity.capped(self.not_after);
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, common_name);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = if key_type.is_rsa() {
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        p.use_authority_key_identifier_extension = true;
        p.not_before = validity.not_before;
        p.not_after = validity.not_after;
        p.serial_number = Some(random_serial()?);
        Ok(p)
    }

    fn sign(&self, params: CertificateParams, key_type: KeyType) -> anyhow::Result<Issued> {
        let key = key_type.generate()?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("cannot sign the certificate")?;
        Ok(Issued {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The DER of the first PEM block labelled `label` (text around the blocks is ignored, as
/// OpenSSL does).
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map_while(Result::ok)
        .find(|p| p.label == label)
        .map(|p| p.contents)
}

/// 16 random bytes with the top bit clear: positive, unique, and within RFC 5280's 20 octets.
fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a serial ({e})"))?;
    bytes[0] &= 0x7f;
    // A leading zero byte would be dropped by DER; keep the serial 16 bytes long.
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// `AA:BB:...`: the SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What the summary shows for a certificate, read back from its DER.
#[derive(Debug)]
pub struct CertInfo {
    pub subject: String,
    pub sans: Vec<String>,
    pub not_after: OffsetDateTime,
    pub fingerprint: String,
}

pub fn describe(der: &[u8]) -> anyhow::Result<CertInfo> {
    let (_, x509): (_, X509Certificate) =
        x509_parser::parse_x509_certificate(der).context("cannot parse a certificate")?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = x509.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(n) => sans.push(format!("DNS:{n}")),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => sans.push(format!("IP:{}", IpAddr::from(<[u8; 4]>::try_from(*b)?))),
                    16 => sans.push(format!("IP:{}", IpAddr::from(<[u8; 16]>::try_from(*b)?))),
                    _ => {}
                },
                other => sans.push(other.to_string()),
            }
        }
    }
    Ok(CertInfo {
        subject: x509.subject().to_string(),
        sans,
        not_after: x509.validity().not_after.to_datetime(),
        fingerprint: fingerprint(der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::ParsedExtension;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2025-06-01 12:00 UTC)
    }

    fn parse(der: &[u8]) -> X509Certificate<'_> {
        x509_parser::parse_x509_certificate(der).unwrap().1
    }

    #[test]
    fn ip_literals_become_ip_sans() {
        assert_eq!(
            Host::parse("127.0.0.1"),
            Ok(Host::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(Host::parse("::1"), Ok(Host::Ip("::1".parse().unwrap())));
        assert_eq!(
            Host::parse("[fe80::1]"),
            Ok(Host::Ip("fe80::1".parse().unwrap()))
        );
        assert_eq!(
            Host::parse("Broker.Example.com"),
            Ok(Host::Dns("broker.example.com".into()))
        );
        assert_eq!(
            Host::parse("*.example.com"),
            Ok(Host::Dns("*.example.com".into()))
        );
    }

    #[test]
    fn bad_host_names_are_refused() {
        let long_label = "a".repeat(64);
        let long_name = ["abcdefghi"; 26].join(".");
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "has space",
            "under_score",
            "-lead",
            "trail-",
            "é.com",
            "999.1.1.1",
            "1.2.3",
            "*.com",
            "a.*.com",
            &long_label,
            &long_name,
        ] {
            assert!(Host::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Host::parse(&"a".repeat(63)).is_ok());
        assert!(Host::parse("mqtt-1.lab").is_ok());
    }

    #[test]
    fn default_hosts_add_the_machine_name_once() {
        let d = default_hosts(Some("myhost"));
        assert_eq!(
            d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["DNS:localhost", "IP:127.0.0.1", "IP:::1", "DNS:myhost"]
        );
        assert_eq!(default_hosts(Some("localhost")).len(), 3);
        assert_eq!(default_hosts(Some("not_valid")).len(), 3);
        assert_eq!(default_hosts(None).len(), 3);
    }

    #[test]
    fn client_names_are_safe_file_names_and_usernames() {
        for ok in ["sensor", "dash-1", "a.b_c@site"] {
            assert!(validate_client_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            ".hidden",
            "-x",
            "with space",
            "a+b",
            "a#",
            &"x".repeat(65),
        ] {
            assert!(validate_client_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ca_is_a_ca_with_random_serial_and_explicit_validity() {
        let v = Validity::days(now(), 3650);
        let ca = Ca::generate("Test CA", KeyType::EcdsaP256, v).unwrap();
        let x = parse(&ca.cert_der);
        assert!(x.is_ca());
        let bc = x.basic_constraints().unwrap().unwrap().value;
        assert_eq!(bc.path_len_constraint, Some(0));
        let ku = x.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert_eq!(x.subject().to_string(), "CN=Test CA");
        assert_eq!(
            x.validity().not_before.to_datetime(),
            now() - Duration::minutes(5)
        );
        assert_eq!(
            x.validity().not_after.to_datetime(),
            now() + Duration::days(3650)
        );
        let serial = x.raw_serial();
        assert_eq!(serial.len(), 16);
        assert_eq!(serial[0] & 0x80, 0);
        let ca2 = Ca::generate("Test CA", KeyType::EcdsaP256, v).unwrap();
        assert_ne!(parse(&ca2.cert_der).raw_serial(), serial);
        assert!(x.extensions().iter().any(|e| matches!(
            e.parsed_extension(),
            ParsedExtension::SubjectKeyIdentifier(_)
        )));
    }

    #[test]
    fn server_cert_has_sans_server_auth_and_is_capped_by_the_ca() {
        let ca = Ca::generate("CA", KeyType::EcdsaP384, Validity::days(now(), 100)).unwrap();
        let hosts = [
            Host::parse("broker.lan").unwrap(),
            Host::parse("10.0.0.5").unwrap(),
        ];
        let leaf = ca
            .issue_server(&hosts, KeyType::EcdsaP256, Validity::days(now(), 825))
            .unwrap();
        let x = parse(&leaf.cert_der);
        assert!(!x.is_ca());
        assert_eq!(x.subject().to_string(), "CN=broker.lan");
        assert_eq!(x.issuer().to_string(), "CN=CA");
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        let ku = x.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_encipherment());
        assert_eq!(
            describe(&leaf.cert_der).unwrap().sans,
            ["DNS:broker.lan", "IP:10.0.0.5"]
        );
        assert_eq!(
            x.validity().not_after.to_datetime(),
            now() + Duration::days(100)
        );
        assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn client_cert_has_the_name_as_cn_and_client_auth() {
        let ca = Ca::generate("CA", KeyType::EcdsaP256, Validity::days(now(), 10)).unwrap();
        let leaf = ca
            .issue_client("sensor", KeyType::EcdsaP256, Validity::days(now(), 5))
            .unwrap();
        let x = parse(&leaf.cert_der);
        assert_eq!(x.subject().to_string(), "CN=sensor");
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert!(describe(&leaf.cert_der).unwrap().sans.is_empty());
    }

    #[test]
    fn a_loaded_ca_keeps_its_identity_and_signs() {
        let ca = Ca::generate("Kept", KeyType::EcdsaP256, Validity::days(now(), 10)).unwrap();
        let loaded = Ca::load(&ca.cert_pem, ca.key_pem()).unwrap();
        assert_eq!(fingerprint(&loaded.cert_der), fingerprint(&ca.cert_der));
        assert_eq!(loaded.not_after, ca.not_after);
        let leaf = loaded
            .issue_client("x", KeyType::EcdsaP256, Validity::days(now(), 5))
            .unwrap();
        let x = parse(&leaf.cert_der);
        assert_eq!(x.issuer().to_string(), "CN=Kept");
        // The leaf's authority key id is the CA's subject key id.
        let ski = parse(&ca.cert_der)
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
            .unwrap();
        let aki = x
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(aki, ski);
    }

    #[test]
    fn a_mismatched_or_wrong_ca_is_refused() {
        let a = Ca::generate("A", KeyType::EcdsaP256, Validity::days(now(), 10)).unwrap();
        let b = Ca::generate("B", KeyType::EcdsaP256, Validity::days(now(), 10)).unwrap();
        let e = Ca::load(&a.cert_pem, b.key_pem()).err().unwrap();
        assert!(e.contains("does not match"), "{e}");
        let leaf = a
            .issue_client("c", KeyType::EcdsaP256, Validity::days(now(), 5))
            .unwrap();
        let e = Ca::load(&leaf.cert_pem, &leaf.key_pem).err().unwrap();
        assert!(e.contains("not a CA"), "{e}");
        assert!(Ca::load("garbage", a.key_pem()).is_err());
        assert!(Ca::load(&a.cert_pem, "garbage").is_err());
    }

    #[test]
    fn rsa_keys_sign_with_ring() {
        let ca = Ca::generate("RSA CA", KeyType::Rsa2048, Validity::days(now(), 10)).unwrap();
        let leaf = ca
            .issue_client("r", KeyType::Rsa2048, Validity::days(now(), 5))
            .unwrap();
        let x = parse(&leaf.cert_der);
        assert_eq!(x.issuer().to_string(), "CN=RSA CA");
        let ku = x.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment());
        let loaded = Ca::load(&ca.cert_pem, ca.key_pem()).unwrap();
        loaded
            .issue_client("r2", KeyType::EcdsaP256, Validity::days(now(), 5))
            .unwrap();
    }

    #[test]
    fn fingerprints_look_like_openssl() {
        let f = fingerprint(b"");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("E3:B0:C4:42"), "{f}");
    }
}
