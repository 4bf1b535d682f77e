//! `mqtk certgen` against OpenSSL and a real mosquitto: what it writes verifies, serves TLS,
//! requires client certificates, maps a certificate's CN to the username, and is never
//! overwritten by accident.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{
    Broker, BrokerConfig, MosquittoSub, add_user, bin, cmd, free_port, status_and_stderr,
    unique_id, wait_for,
};

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
        (
            vec!["--ca-cn".into(), "evil\nCN".into()],
            "control character",
        ),
        (vec!["--ca-cn".into(), "a\tb".into()], "control character"),
        (
            vec!["--ca-cn".into(), "a\u{7f}".into()],
            "control character",
        ),
        (vec!["--client".into(), "a\nb".into()], "not allowed"),
        (vec!["--host".into(), "a\nb.lan".into()], "not allowed"),
        (vec!["--listen".into(), "::1:8883".into()], "[::1]:8883"),
        (vec!["--listen".into(), "0".into()], "--listen"),
        (vec!["--listen".into(), "h:70000".into()], "--listen"),
        (vec!["--listen".into(), "bad host:1".into()], "--listen"),
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
        // One error line, and at most a hint after it.
        let rest: Vec<&str> = err.lines().skip(1).collect();
        assert!(
            rest.is_empty() || (rest.len() == 1 && rest[0].starts_with("  hint: ")),
            "{err:?}"
        );
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

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// `mqtk certgen ARGS` with a file size limit of 1 KiB (`ulimit -f 1`, SIGXFSZ ignored so that
/// the write fails with EFBIG): the certificates and keys fit, a mosquitto-tls.conf with a
/// long DIR in it does not, so the run fails at its last file.
fn certgen_with_1k_files(args: &[&str]) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 1; exec "$@""#)
        .arg("bash")
        .arg(bin())
        .arg("certgen")
        .args(args)
        .output()
        .unwrap()
}

/// A write that fails midway (the file size limit hits mosquitto-tls.conf, the last file)
/// leaves nothing: no certificate, no temp file, not even the directories it created; the
/// same run then succeeds without --force. With --force, the files it would have replaced
/// stay as they were.
#[test]
fn a_failed_write_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("d".repeat(200));
    let dir = top.join("certs");
    let dir_s = dir.display().to_string();
    let out = certgen_with_1k_files(&["--out", &dir_s, "--host", "localhost"]);
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "mqtk certgen: error: cannot write {dir_s}/mosquitto-tls.conf (File too large"
        )) && err.ends_with("; nothing was written\n"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert!(!top.exists(), "left {:?}", names_in(tmp.path()));

    // The same request, nothing in the way: no --force needed.
    certgen(&dir, &["--host", "localhost"]);
    let before: Vec<(String, Vec<u8>)> = names_in(&dir)
        .into_iter()
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap()))
        .collect();
    assert_eq!(before.len(), 5);

    // --force with a client: server and client files are staged, then the (now mutual)
    // mosquitto-tls.conf fails; nothing is replaced and no client file appears.
    let out = certgen_with_1k_files(&["--out", &dir_s, "--force", "--client", "sensor"]);
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("mosquitto-tls.conf (File too large"), "{err}");
    let after: Vec<(String, Vec<u8>)> = names_in(&dir)
        .into_iter()
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap()))
        .collect();
    assert!(after == before, "{:?}", names_in(&dir));
}

/// A new DIR is 0755 (mosquitto's user must reach server.crt) and keys 0600, certificates 0644,
/// whatever the umask: 000 must not make DIR world-writable, 077 must not hide certificates.
#[test]
fn modes_do_not_depend_on_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    for umask in ["000", "077", "022"] {
        let dir = tmp
            .path()
            .join(format!("u{umask}"))
            .join("nested")
            .join("certs");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(r#"umask {umask}; exec "$@""#))
            .arg("sh")
            .arg(bin())
            .args(["certgen", "--client", "c", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for d in [
            &dir,
            dir.parent().unwrap(),
            dir.parent().unwrap().parent().unwrap(),
        ] {
            assert_eq!(mode(d), 0o755, "umask {umask}: {}", d.display());
        }
        for key in ["ca.key", "server.key", "client-c.key"] {
            assert_eq!(mode(&dir.join(key)), 0o600, "umask {umask}: {key}");
        }
        for public in ["ca.crt", "server.crt", "client-c.crt", "mosquitto-tls.conf"] {
            assert_eq!(mode(&dir.join(public)), 0o644, "umask {umask}: {public}");
        }
    }
    // An existing DIR keeps its own mode.
    let mine = tmp.path().join("mine");
    fs::create_dir(&mine).unwrap();
    fs::set_permissions(&mine, fs::Permissions::from_mode(0o700)).unwrap();
    certgen(&mine, &[]);
    assert_eq!(mode(&mine), 0o700);
}

/// `mqtk pub` over TLS to the broker's port on `host`; returns (exit code, stderr).
fn mqtk_pub(port: u16, host: &str, tls: &[&str]) -> (Option<i32>, String) {
    let out = cmd()
        .args(["pub", "-h", host, "-p", &port.to_string()])
        .args([
            "-i",
            &unique_id("certgen"),
            "-q",
            "1",
            "-t",
            "certgen/x",
            "-m",
            "x",
        ])
        .args(tls)
        .output()
        .unwrap();
    status_and_stderr(&out)
}

/// `--listen ADDR:PORT` is the `listener` line, and the summary's examples use that port;
/// mosquitto serves TLS there from the file copied into an include_dir, as the README says.
#[test]
fn listen_sets_the_listener_address_and_port() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let port = free_port();
    let summary = certgen(&dir, &["--listen", &format!("127.0.0.1:{port}")]);
    let conf = fs::read_to_string(dir.join("mosquitto-tls.conf")).unwrap();
    assert!(
        conf.contains(&format!("\nlistener {port} 127.0.0.1\ncafile ")),
        "{conf}"
    );
    assert!(
        summary.contains(&format!("mosquitto listener on 127.0.0.1:{port}")),
        "{summary}"
    );
    let cafile = path_str(&dir, "ca.crt");
    assert!(
        summary.contains(&format!(
            "mqtk pub -h 127.0.0.1 -p {port} --cafile {cafile} "
        )),
        "{summary}"
    );

    let conf_d = tmp.path().join("conf.d");
    fs::create_dir(&conf_d).unwrap();
    fs::copy(
        dir.join("mosquitto-tls.conf"),
        conf_d.join("mosquitto-tls.conf"),
    )
    .unwrap();
    let _broker = Broker::start(
        BrokerConfig::plain().global_line(format!("include_dir {}", conf_d.display())),
    );
    let (code, err) = mqtk_pub(port, "127.0.0.1", &["--cafile", &cafile]);
    assert_eq!(code, Some(0), "{err}");

    // Clients added later keep the listener; for a mutual-TLS DIR that needs no --force.
    let mutual = tmp.path().join("mutual");
    certgen(&mutual, &["--listen", "[::1]:9883", "--client", "a"]);
    let before = fs::read_to_string(mutual.join("mosquitto-tls.conf")).unwrap();
    assert!(before.contains("\nlistener 9883 ::1\n"), "{before}");
    let summary = certgen(&mutual, &["--client", "b"]);
    assert!(summary.contains("listener on [::1]:9883"), "{summary}");
    assert_eq!(
        fs::read_to_string(mutual.join("mosquitto-tls.conf")).unwrap(),
        before
    );

    // The default: every interface, port 8883.
    let other = tmp.path().join("default");
    let summary = certgen(&other, &[]);
    let conf = fs::read_to_string(other.join("mosquitto-tls.conf")).unwrap();
    assert!(conf.contains("\nlistener 8883\n"), "{conf}");
    assert!(
        summary.contains("mosquitto listener on port 8883 (every interface)"),
        "{summary}"
    );
}

/// The CA's subject line in a summary.
fn ca_subject(summary: &str) -> String {
    let line = summary
        .lines()
        .find(|l| {
            l.trim_start().starts_with("subject  CN=mqtk CA") || l.contains("subject  CN=same")
        })
        .unwrap_or_else(|| panic!("no CA subject in:\n{summary}"));
    line.trim_start()
        .trim_start_matches("subject  ")
        .to_string()
}

/// Two CAs made on one host have different subjects, so a client given the wrong one hears
/// "unknown issuer" (exit 3); with one subject for both (--ca-cn twice) it would be "bad
/// signature".
#[test]
fn every_ca_has_its_own_subject() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let (s1, s2) = (certgen(one.path(), &[]), certgen(two.path(), &[]));
    let (cn1, cn2) = (ca_subject(&s1), ca_subject(&s2));
    assert_ne!(cn1, cn2);
    let tag = cn1.rsplit_once(' ').unwrap().1;
    assert!(
        tag.len() == 8 && tag.chars().all(|c| c.is_ascii_hexdigit()),
        "{cn1}"
    );
    let issuer = openssl(&["x509", "-noout", "-subject", "-in", "ca.crt"], one.path());
    assert_eq!(
        issuer.trim(),
        format!("subject={}", cn1.replace("CN=", "CN = "))
    );

    let broker = Broker::start(
        BrokerConfig::plain().listener_from_file(one.path().join("mosquitto-tls.conf")),
    );
    let right = path_str(one.path(), "ca.crt");
    let (code, err) = mqtk_pub(broker.port, "localhost", &["--cafile", &right]);
    assert_eq!(code, Some(0), "{err}");
    let wrong = path_str(two.path(), "ca.crt");
    let (code, err) = mqtk_pub(broker.port, "localhost", &["--cafile", &wrong]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("(unknown issuer)"), "{err}");

    // The contrast: two CAs with one subject.
    let three = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    certgen(three.path(), &["--ca-cn", "same"]);
    certgen(four.path(), &["--ca-cn", "same"]);
    let broker = Broker::start(
        BrokerConfig::plain().listener_from_file(three.path().join("mosquitto-tls.conf")),
    );
    let twin = path_str(four.path(), "ca.crt");
    let (code, err) = mqtk_pub(broker.port, "localhost", &["--cafile", &twin]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("(bad signature)"), "{err}");
}

/// What the "Next:" steps promise about credentials holds on a mosquitto 2 broker with its
/// default `allow_anonymous false`: without client certificates a TLS client still needs a
/// user from the password file; with them, the certificate alone logs in.
#[test]
fn next_steps_say_what_the_broker_still_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let server_only = tmp.path().join("server-only");
    let summary = certgen(&server_only, &[]);
    assert!(
        summary.contains("3. mosquitto 2 lets no client in without credentials")
            && summary.contains("password_file /etc/mosquitto/passwd")
            && summary.contains("-u USER -P")
            && summary.contains("`allow_anonymous true`"),
        "{summary}"
    );
    let pwfile = tmp.path().join("passwd");
    add_user(&pwfile, "sensor", "sensor-pw");
    let broker = Broker::start(
        BrokerConfig::password(&pwfile).listener_from_file(server_only.join("mosquitto-tls.conf")),
    );
    let cafile = path_str(&server_only, "ca.crt");
    let (code, err) = mqtk_pub(broker.port, "localhost", &["--cafile", &cafile]);
    assert_eq!(code, Some(4), "anonymous over TLS: {err}");
    let login = ["--cafile", &cafile, "-u", "sensor", "-P", "sensor-pw"];
    let (code, err) = mqtk_pub(broker.port, "localhost", &login);
    assert_eq!(code, Some(0), "{err}");
    drop(broker);

    let mutual = tmp.path().join("mutual");
    let summary = certgen(&mutual, &["--client", "sensor"]);
    assert!(
        summary.contains("3. Clients log in with their certificate")
            && !summary.contains("allow_anonymous"),
        "{summary}"
    );
    let broker = Broker::start(
        BrokerConfig::default().listener_from_file(mutual.join("mosquitto-tls.conf")),
    );
    let tls = [
        "--cafile".to_string(),
        path_str(&mutual, "ca.crt"),
        "--cert".to_string(),
        path_str(&mutual, "client-sensor.crt"),
        "--key".to_string(),
        path_str(&mutual, "client-sensor.key"),
    ];
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    let (code, err) = mqtk_pub(broker.port, "localhost", &tls);
    assert_eq!(code, Some(0), "{err}");
    // The broker's log reaches us through a pipe: the line may follow the exit by a moment.
    wait_for(Duration::from_secs(5), || {
        broker.log().contains("u'sensor'")
    });
}
