//! `mqtk certgen` against OpenSSL and a real mosquitto: what it writes verifies, serves TLS,
//! requires client certificates, maps a certificate's CN to the username, and is never
//! overwritten by accident.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{Broker, BrokerConfig, MosquittoSub, cmd, unique_id};

/// Runs `mqtk certgen --out DIR ARGS` and asserts success; returns stdout.
fn certgen(dir: &Path, args: &[&str]) -> String {
    let out = cmd()
        .arg("certgen")
        .arg("--out")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "certgen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `AA:BB:...` as openssl prints it.
fn openssl_fingerprint(dir: &Path, cert: &str) -> String {
    let out = openssl(
        &["x509", "-noout", "-fingerprint", "-sha256", "-in", cert],
        dir,
    );
    out.trim().split_once('=').unwrap().1.to_string()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// mosquitto_pub to the broker on `host` with extra (TLS) arguments, QoS 1.
fn mosquitto_pub(broker: &Broker, host: &str, tls: &[&str], topic: &str, msg: &str) -> Output {
    Command::new("mosquitto_pub")
        .args([
            "-h",
            host,
            "-p",
            &broker.port.to_string(),
            "-i",
            &unique_id("certpub"),
        ])
        .args(tls)
        .args(["-t", topic, "-m", msg, "-q", "1"])
        .output()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)")
}

fn path_str(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn certificates_verify_with_openssl_and_carry_sans_and_ekus() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let summary = certgen(
        &dir,
        &[
            "--client",
            "x",
            "--host",
            "broker.lan",
            "--host",
            "10.1.2.3",
        ],
    );

    let verified = openssl(
        &["verify", "-CAfile", "ca.crt", "server.crt", "client-x.crt"],
        &dir,
    );
    assert_eq!(verified, "server.crt: OK\nclient-x.crt: OK\n");
    let by_name = [
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "broker.lan",
        "server.crt",
    ];
    openssl(
        &[&["verify", "-CAfile", "ca.crt"][..], &by_name].concat(),
        &dir,
    );
    openssl(
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-purpose",
            "sslclient",
            "client-x.crt",
        ],
        &dir,
    );

    let server = openssl(&["x509", "-noout", "-text", "-in", "server.crt"], &dir);
    assert!(
        server.contains("DNS:broker.lan, IP Address:10.1.2.3"),
        "{server}"
    );
    assert!(server.contains("TLS Web Server Authentication"), "{server}");
    assert!(server.contains("CA:FALSE"), "{server}");
    let client = openssl(&["x509", "-noout", "-text", "-in", "client-x.crt"], &dir);
    assert!(client.contains("Subject: CN = x"), "{client}");
    assert!(client.contains("TLS Web Client Authentication"), "{client}");
    let ca = openssl(&["x509", "-noout", "-text", "-in", "ca.crt"], &dir);
    assert!(ca.contains("CA:TRUE"), "{ca}");
    assert!(ca.contains("Certificate Sign, CRL Sign"), "{ca}");
    // OpenSSL reads the keys too (rcgen's Ed25519 keys, for one, it does not).
    openssl(&["pkey", "-noout", "-in", "server.key"], &dir);

    for key in ["ca.key", "server.key", "client-x.key"] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    for public in ["ca.crt", "server.crt", "client-x.crt", "mosquitto-tls.conf"] {
        assert_eq!(mode(&dir.join(public)), 0o644, "{public}");
    }

    // The summary shows each certificate's fingerprint, as openssl computes it.
    for cert in ["ca.crt", "server.crt", "client-x.crt"] {
        let fp = openssl_fingerprint(&dir, cert);
        assert!(summary.contains(&fp), "{cert} {fp} not in:\n{summary}");
    }
    assert!(
        summary.contains("names    DNS:broker.lan, IP:10.1.2.3"),
        "{summary}"
    );
    let cafile = path_str(&dir, "ca.crt");
    assert!(summary.contains(&format!("mqtk sub -h broker.lan -p 8883 --cafile {cafile}")));
    assert!(summary.contains(&format!("mqtk pub -h broker.lan -p 8883 --cafile {cafile}")));

    let conf = fs::read_to_string(dir.join("mosquitto-tls.conf")).unwrap();
    assert!(conf.contains("\nlistener 8883\n"), "{conf}");
    assert!(conf.contains(&format!("\ncafile {cafile}\n")), "{conf}");
    assert!(
        conf.contains(&format!("\nkeyfile {}\n", path_str(&dir, "server.key"))),
        "{conf}"
    );
    assert!(conf.contains("\nrequire_certificate true\nuse_identity_as_username true\n"));
}

#[test]
fn default_server_names_are_localhost_both_loopbacks_and_the_host_name() {
    let tmp = tempfile::tempdir().unwrap();
    certgen(tmp.path(), &[]);
    let text = openssl(
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            "server.crt",
        ],
        tmp.path(),
    );
    assert!(text.contains("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"));
    let conf = fs::read_to_string(tmp.path().join("mosquitto-tls.conf")).unwrap();
    assert!(
        !conf.contains("\nrequire_certificate"),
        "no clients, no client certificates: {conf}"
    );
}

#[test]
fn mosquitto_serves_tls_with_the_generated_listener() {
    let tmp = tempfile::tempdir().unwrap();
    certgen(tmp.path(), &[]);
    let broker = Broker::start(
        BrokerConfig::plain().listener_from_file(tmp.path().join("mosquitto-tls.conf")),
    );
    let cafile = path_str(tmp.path(), "ca.crt");
    for host in ["localhost", "127.0.0.1"] {
        let out = mosquitto_pub(&broker, host, &["--cafile", &cafile], "certgen/tls", "hi");
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without --cafile the client does not trust the private CA.
    let other = tempfile::tempdir().unwrap();
    certgen(other.path(), &[]);
    let stranger = path_str(other.path(), "ca.crt");
    let out = mosquitto_pub(
        &broker,
        "localhost",
        &["--cafile", &stranger],
        "certgen/tls",
        "x",
    );
    assert!(
        !out.status.success(),
        "a certificate from another CA was accepted"
    );
}

#[test]
fn a_server_certificate_for_localhost_does_not_match_127_0_0_1() {
    let tmp = tempfile::tempdir().unwrap();
    certgen(tmp.path(), &["--host", "localhost"]);
    let broker = Broker::start(
        BrokerConfig::plain().listener_from_file(tmp.path().join("mosquitto-tls.conf")),
    );
    let cafile = path_str(tmp.path(), "ca.crt");
    let tls = ["--cafile", cafile.as_str()];
    let by_ip = mosquitto_pub(&broker, "127.0.0.1", &tls, "certgen/name", "x");
    assert!(
        !by_ip.status.success(),
        "127.0.0.1 matched a localhost-only certificate"
    );
    // The broker is reachable on that address: the failure was the name check alone.
    let insecure = ["--cafile", cafile.as_str(), "--insecure"];
    let out = mosquitto_pub(&broker, "127.0.0.1", &insecure, "certgen/name", "x");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mosquitto_pub(&broker, "localhost", &tls, "certgen/name", "x");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mutual_tls_requires_a_certificate_and_its_cn_is_the_username() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    certgen(
        dir,
        &[
            "--client",
            "sensor",
            "--client",
            "dashboard",
            "--client",
            "intruder",
        ],
    );
    // The seed's ACL challenge: sensor may only publish under home/sensors, dashboard may
    // only read home/#; intruder has a valid certificate but no rights.
    let acl = dir.join("acl");
    fs::write(
        &acl,
        "user sensor\ntopic write home/sensors/#\n\nuser dashboard\ntopic read home/#\n",
    )
    .unwrap();
    let broker = Broker::start(
        BrokerConfig::plain()
            .listener_from_file(dir.join("mosquitto-tls.conf"))
            .acl(&acl),
    );
    let cafile = path_str(dir, "ca.crt");
    let as_client = |name: &str| {
        vec![
            "--cafile".to_string(),
            cafile.clone(),
            "--cert".to_string(),
            path_str(dir, &format!("client-{name}.crt")),
            "--key".to_string(),
            path_str(dir, &format!("client-{name}.key")),
        ]
    };
    let port = broker.port.to_string();
    let dashboard = as_client("dashboard");
    let mut sub_args: Vec<&str> = vec!["-h", "localhost", "-p", &port, "-q", "1", "-t", "home/#"];
    sub_args.extend(dashboard.iter().map(String::as_str));
    let id = unique_id("dashboard");
    sub_args.extend(["-i", &id]);
    let sub = MosquittoSub::start_with_args(&sub_args);

    let no_cert = mosquitto_pub(
        &broker,
        "localhost",
        &["--cafile", &cafile],
        "home/sensors/t",
        "0",
    );
    assert!(
        !no_cert.status.success(),
        "a client without a certificate was let in"
    );

    let intruder = as_client("intruder");
    let intruder: Vec<&str> = intruder.iter().map(String::as_str).collect();
    let out = mosquitto_pub(
        &broker,
        "localhost",
        &intruder,
        "home/sensors/temp",
        "forged",
    );
    assert!(
        out.status.success(),
        "v3.1.1 acknowledges a denied publish and drops it"
    );

    let sensor = as_client("sensor");
    let sensor: Vec<&str> = sensor.iter().map(String::as_str).collect();
    let out = mosquitto_pub(&broker, "localhost", &sensor, "home/sensors/temp", "21.5");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The intruder's message was acknowledged before sensor's was sent: had the ACL let it
    // through, it would arrive first.
    assert_eq!(sub.take(1, Duration::from_secs(10)), ["21.5"]);
    let log = broker.log();
    assert!(log.contains("u'sensor'"), "the username is the CN:\n{log}");
    assert!(log.contains("Denied PUBLISH"), "{log}");
}

#[test]
fn rsa_keys_work_with_mosquitto_and_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    certgen(dir, &["--key-type", "rsa-2048", "--client", "r"]);
    let text = openssl(&["x509", "-noout", "-text", "-in", "server.crt"], dir);
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    let broker =
        Broker::start(BrokerConfig::plain().listener_from_file(dir.join("mosquitto-tls.conf")));
    let tls = [
        "--cafile".to_string(),
        path_str(dir, "ca.crt"),
        "--cert".to_string(),
        path_str(dir, "client-r.crt"),
        "--key".to_string(),
        path_str(dir, "client-r.key"),
    ];
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    let out = mosquitto_pub(&broker, "localhost", &tls, "certgen/rsa", "x");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_second_run_reuses_the_ca_and_never_overwrites_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    certgen(dir, &["--client", "first"]);
    let ca_fp = openssl_fingerprint(dir, "ca.crt");
    let server = fs::read(dir.join("server.crt")).unwrap();
    let first = fs::read(dir.join("client-first.crt")).unwrap();

    // The same requests again: refused, nothing touched.
    for (args, taken) in [
        (&["--client", "first"][..], "client-first.crt"),
        (&[], "server.crt"),
    ] {
        let out = cmd()
            .arg("certgen")
            .arg("--out")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mqtk certgen: error: "), "{err}");
        assert!(err.contains(taken) && err.contains("--force"), "{err}");
        assert_eq!(fs::read(dir.join("server.crt")).unwrap(), server);
        assert_eq!(fs::read(dir.join("client-first.crt")).unwrap(), first);
    }

    // A client added later: same CA, server certificate kept, no --force needed.
    let summary = certgen(dir, &["--client", "later"]);
    assert!(summary.contains("reused"), "{summary}");
    assert!(summary.contains(&ca_fp), "{summary}");
    assert_eq!(openssl_fingerprint(dir, "ca.crt"), ca_fp);
    assert_eq!(fs::read(dir.join("server.crt")).unwrap(), server);
    openssl(
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "client-later.crt",
            "client-first.crt",
        ],
        dir,
    );

    // --force replaces what is asked for (the server certificate when no --client is given),
    // keeps the CA, and keys stay 0600.
    certgen(dir, &["--force", "--client", "first"]);
    assert_eq!(fs::read(dir.join("server.crt")).unwrap(), server);
    certgen(dir, &["--force"]);
    assert_eq!(openssl_fingerprint(dir, "ca.crt"), ca_fp);
    assert_ne!(fs::read(dir.join("server.crt")).unwrap(), server);
    assert_ne!(fs::read(dir.join("client-first.crt")).unwrap(), first);
    for key in [
        "ca.key",
        "server.key",
        "client-first.key",
        "client-later.key",
    ] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    openssl(
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "server.crt",
            "client-first.crt",
        ],
        dir,
    );
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

#[test]
fn a_ca_from_elsewhere_signs_without_being_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = tmp.path().join("ca");
    certgen(&ca_dir, &[]);
    let out_dir = tmp.path().join("out");
    let ca_cert = path_str(&ca_dir, "ca.crt");
    let ca_key = path_str(&ca_dir, "ca.key");
    certgen(
        &out_dir,
        &["--ca-cert", &ca_cert, "--ca-key", &ca_key, "--client", "c"],
    );
    assert!(!out_dir.join("ca.crt").exists() && !out_dir.join("ca.key").exists());
    openssl(
        &["verify", "-CAfile", &ca_cert, "server.crt", "client-c.crt"],
        &out_dir,
    );
    let conf = fs::read_to_string(out_dir.join("mosquitto-tls.conf")).unwrap();
    assert!(conf.contains(&format!("\ncafile {ca_cert}\n")), "{conf}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    certgen(&a, &[]);
    certgen(&b, &[]);
    let file = tmp.path().join("a-file");
    fs::write(&file, "").unwrap();
    let mismatched = [
        "--ca-cert".to_string(),
        path_str(&a, "ca.crt"),
        "--ca-key".to_string(),
        path_str(&b, "ca.key"),
    ];
    // A DIR holding a CA whose key is not its own.
    let mixed = tmp.path().join("mixed");
    fs::create_dir(&mixed).unwrap();
    fs::copy(a.join("ca.crt"), mixed.join("ca.crt")).unwrap();
    fs::copy(b.join("ca.key"), mixed.join("ca.key")).unwrap();

    let fresh = tmp.path().join("fresh").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--days".into(), "0".into()], "--days"),
        (vec!["--days".into(), "-5".into()], "--days"),
        (vec!["--ca-days".into(), "0".into()], "--ca-days"),
        (vec!["--host".into(), "bad host".into()], "bad host"),
        (vec!["--host".into(), "a..b".into()], "a..b"),
        (vec!["--host".into(), "999.1.1.1".into()], "999.1.1.1"),
        (vec!["--client".into(), "../x".into()], "../x"),
        (vec!["--key-type".into(), "ed25519".into()], "ed25519"),
        (mismatched.to_vec(), "does not match"),
    ];
    for (args, needle) in cases {
        let out = cmd()
            .arg("certgen")
            .args(["--out", &fresh])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("mqtk certgen: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !Path::new(&fresh).exists(),
            "{args:?} created the output directory"
        );
    }

    let before = fs::read_dir(&mixed).unwrap().count();
    let out = cmd()
        .arg("certgen")
        .arg("--out")
        .arg(&mixed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    assert_eq!(
        fs::read_dir(&mixed).unwrap().count(),
        before,
        "something was written"
    );

    // Unwritable: a file where the directory should be, or below one. (Tests may run as root,
    // for whom permission bits do not stop a write.)
    for out_dir in [file.clone(), file.join("sub")] {
        let out = cmd()
            .arg("certgen")
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", out_dir.display());
        assert!(err.contains(&file.display().to_string()), "{err}");
    }
}
