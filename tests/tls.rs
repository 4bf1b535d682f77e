//! TLS and mutual TLS against a real mosquitto with certificates from `mqtk certgen`: what
//! connects, what fails with exit 3 and which words, and what is refused with exit 2 before
//! connecting.

use std::fs;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{
    Broker, BrokerConfig, MosquittoSub, MqtkChild, Pki, cmd, status_and_stderr, unique_id,
    unique_topic, wait_for,
};

/// `mqtk pub` at QoS 1 to `host` and the broker's port, with extra arguments.
fn mqtk_pub(broker: &Broker, host: &str, extra: &[&str], topic: &str, msg: &str) -> Output {
    let port = broker.port.to_string();
    cmd()
        .args(["pub", "-h", host, "-p", &port, "-i", &unique_id("tlspub")])
        .args(extra)
        .args(["-t", topic, "-m", msg, "-q", "1"])
        .output()
        .unwrap()
}

fn assert_ok(out: &Output) {
    let (code, err) = status_and_stderr(out);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// Asserts exit `code`, one error line containing `needle`, and optionally a hint containing
/// `hint`.
fn assert_fails(out: &Output, code: i32, needle: &str, hint: Option<&str>) {
    let (got, err) = status_and_stderr(out);
    assert_eq!(got, Some(code), "{err}");
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.starts_with("mqtk pub: error: "), "{err}");
    assert!(first.contains(needle), "expected {needle:?} in:\n{err}");
    if let Some(h) = hint {
        let hint_line = lines.next().unwrap_or_default();
        assert!(
            hint_line.starts_with("  hint: ") && hint_line.contains(h),
            "expected a hint with {h:?} in:\n{err}"
        );
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn tls_broker(pki: &Pki) -> Broker {
    Broker::start(BrokerConfig::plain().listener_from_file(pki.listener()))
}

#[test]
fn pub_over_tls_with_cafile_reaches_mosquitto_sub_over_tls() {
    let pki = Pki::new(&[]);
    let broker = tls_broker(&pki);
    let ca = pki.ca();
    let topic = unique_topic("tls");
    let port = broker.port.to_string();
    let id = unique_id("tlssub");
    let sub = MosquittoSub::start_with_args(&[
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-t",
        &topic,
        "-q",
        "1",
        "-i",
        &id,
    ]);
    for (host, version) in [("localhost", "311"), ("127.0.0.1", "5")] {
        let out = mqtk_pub(
            &broker,
            host,
            &["--cafile", &ca, "-V", version],
            &topic,
            &format!("over tls v{version}"),
        );
        assert_ok(&out);
    }
    assert_eq!(
        sub.take(2, Duration::from_secs(10)),
        ["over tls v311", "over tls v5"]
    );
}

#[test]
fn mosquitto_pub_over_tls_reaches_mqtk_sub_over_tls() {
    let pki = Pki::new(&["--client", "reader", "--client", "writer"]);
    let broker = tls_broker(&pki);
    let ca = pki.ca();
    let topic = unique_topic("tlsrev");
    let port = broker.port.to_string();
    let (cert, key) = (pki.path("client-reader.crt"), pki.path("client-reader.key"));
    let sub = MqtkChild::subscribed(&[
        "sub",
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "-t",
        &topic,
        "-q",
        "1",
        "-V",
        "5",
    ]);
    let writer = (pki.path("client-writer.crt"), pki.path("client-writer.key"));
    let status = std::process::Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port, "--cafile", &ca])
        .args(["--cert", &writer.0, "--key", &writer.1])
        .args(["-t", &topic, "-m", "from mosquitto_pub over tls", "-q", "1"])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        ["from mosquitto_pub over tls"]
    );
}

#[test]
fn capath_trusts_every_pem_certificate_in_a_directory() {
    let pki = Pki::new(&[]);
    let other = Pki::new(&[]);
    let broker = tls_broker(&pki);
    let dir = tempfile::tempdir().unwrap();
    // A directory as people keep one: another CA, a non-certificate file, and ours.
    fs::copy(other.ca(), dir.path().join("other-ca.pem")).unwrap();
    fs::write(dir.path().join("README"), "not a certificate\n").unwrap();
    fs::copy(pki.ca(), dir.path().join("ours.crt")).unwrap();
    let capath = dir.path().display().to_string();
    let out = mqtk_pub(
        &broker,
        "localhost",
        &["--capath", &capath],
        "tls/capath",
        "x",
    );
    assert_ok(&out);

    // Without our CA in it, the broker is not trusted.
    fs::remove_file(dir.path().join("ours.crt")).unwrap();
    let out = mqtk_pub(
        &broker,
        "localhost",
        &["--capath", &capath],
        "tls/capath",
        "x",
    );
    assert_fails(&out, 3, "not signed by a trusted CA", Some("--cafile"));
}

#[test]
fn mutual_tls_client_certificate_is_the_username() {
    let pki = Pki::new(&["--client", "sensor", "--client", "dashboard"]);
    let acl = pki.dir.path().join("acl");
    fs::write(
        &acl,
        "user sensor\ntopic write home/sensors/#\n\nuser dashboard\ntopic read home/#\n",
    )
    .unwrap();
    let broker = Broker::start(
        BrokerConfig::plain()
            .listener_from_file(pki.listener())
            .acl(&acl),
    );
    let port = broker.port.to_string();
    let id = unique_id("dashboard");
    let dashboard = pki.client_args("dashboard");
    let mut sub_args = vec![
        "-h",
        "localhost",
        "-p",
        &port,
        "-t",
        "home/#",
        "-v",
        "-q",
        "1",
    ];
    sub_args.extend(["-i", &id]);
    sub_args.extend(strs(&dashboard));
    let sub = MosquittoSub::start_with_args(&sub_args);

    let sensor = pki.client_args("sensor");
    let topic = format!("home/sensors/{}", unique_id("t"));
    let out = mqtk_pub(&broker, "localhost", &strs(&sensor), &topic, "21.5");
    assert_ok(&out);
    // Only the user `sensor` may write there: the message arriving proves the CN was used.
    assert_eq!(
        sub.take(1, Duration::from_secs(10)),
        [format!("{topic} 21.5")]
    );
    // The broker's log reaches us through a pipe: the line may follow the exit by a moment.
    wait_for(Duration::from_secs(5), || {
        broker.log().contains("u'sensor'")
    });
}

#[test]
fn a_missing_client_certificate_exits_3_with_a_hint() {
    let pki = Pki::new(&["--client", "sensor"]);
    let ca = pki.ca();
    // TLS 1.3: the broker's alert arrives after the handshake, while waiting for CONNACK.
    let broker = tls_broker(&pki);
    for version in ["311", "5"] {
        let out = mqtk_pub(
            &broker,
            "localhost",
            &["--cafile", &ca, "-V", version],
            "tls/nocert",
            "x",
        );
        assert_fails(
            &out,
            3,
            "the broker requires a client certificate",
            Some("--cert FILE --key FILE"),
        );
    }
    // TLS 1.2: the handshake itself fails.
    let dir = tempfile::tempdir().unwrap();
    let broker12 = Broker::start(
        BrokerConfig::plain()
            .listener_from_file(pki.listener())
            .tls12_only(dir.path()),
    );
    let out = mqtk_pub(
        &broker12,
        "localhost",
        &["--cafile", &ca],
        "tls/nocert",
        "x",
    );
    assert_fails(
        &out,
        3,
        "it may require a client certificate",
        Some("--cert FILE --key FILE"),
    );
}

#[test]
fn insecure_skips_the_name_check_and_nothing_else() {
    let pki = Pki::new(&["--host", "localhost"]);
    let broker = tls_broker(&pki);
    let ca = pki.ca();
    let out = mqtk_pub(&broker, "127.0.0.1", &["--cafile", &ca], "tls/name", "x");
    assert_fails(
        &out,
        3,
        "certificate not valid for name 127.0.0.1; it is valid for localhost",
        Some("use --insecure to skip the name check"),
    );
    let out = mqtk_pub(
        &broker,
        "127.0.0.1",
        &["--cafile", &ca, "--insecure"],
        "tls/name",
        "x",
    );
    assert_ok(&out);
    // The chain is still verified: another CA fails with or without --insecure.
    let other = Pki::new(&[]);
    let other_ca = other.ca();
    for extra in [&[][..], &["--insecure"][..]] {
        let mut args = vec!["--cafile", other_ca.as_str()];
        args.extend_from_slice(extra);
        let out = mqtk_pub(&broker, "127.0.0.1", &args, "tls/name", "x");
        assert_fails(&out, 3, "not signed by a trusted CA", Some("--cafile"));
    }
}

#[test]
fn a_certificate_from_another_ca_exits_3() {
    let pki = Pki::new(&[]);
    let stranger = Pki::new(&[]);
    let broker = tls_broker(&pki);
    let out = mqtk_pub(
        &broker,
        "localhost",
        &["--cafile", &stranger.ca()],
        "tls/ca",
        "x",
    );
    assert_fails(
        &out,
        3,
        "could not connect to localhost:",
        Some("the CA that signed the broker's certificate"),
    );
    // mosquitto_pub agrees: this is not our client being strict.
    let st = Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &broker.port.to_string()])
        .args(["--cafile", &stranger.ca(), "-t", "tls/ca", "-m", "x"])
        .output()
        .unwrap();
    assert!(!st.status.success());
}

#[test]
fn tls_versions_follow_the_listener() {
    let pki = Pki::new(&[]);
    let ca = pki.ca();
    // mosquitto's `tls_version tlsv1.3` allows 1.3 only; our minimum of 1.2 includes it.
    let only13 = Broker::start(
        BrokerConfig::plain()
            .listener_from_file(pki.listener())
            .listener_line("tls_version tlsv1.3"),
    );
    let out = mqtk_pub(
        &only13,
        "localhost",
        &["--cafile", &ca, "--tls-version", "tlsv1.2"],
        "tls/v",
        "x",
    );
    assert_ok(&out);

    let dir = tempfile::tempdir().unwrap();
    let only12 = Broker::start(
        BrokerConfig::plain()
            .listener_from_file(pki.listener())
            .tls12_only(dir.path()),
    );
    let out = mqtk_pub(
        &only12,
        "localhost",
        &["--cafile", &ca, "--tls-version", "tlsv1.2"],
        "tls/v",
        "x",
    );
    assert_ok(&out);
    let out = mqtk_pub(
        &only12,
        "localhost",
        &["--cafile", &ca, "--tls-version", "TLSv1.3"],
        "tls/v",
        "x",
    );
    assert_fails(
        &out,
        3,
        "does not accept this TLS version",
        Some("--tls-version tlsv1.2"),
    );
}

#[test]
fn alpn_and_mqtts_urls() {
    let pki = Pki::new(&[]);
    let broker = tls_broker(&pki);
    let ca = pki.ca();
    let out = mqtk_pub(
        &broker,
        "localhost",
        &["--cafile", &ca, "--tls-alpn", "mqtt"],
        "tls/alpn",
        "x",
    );
    assert_ok(&out);

    // mqtts:// turns on TLS with the OS store; SSL_CERT_FILE makes our CA that store.
    let url = format!("mqtts://localhost:{}/tls/url", broker.port);
    let out = cmd()
        .env("SSL_CERT_FILE", &ca)
        .args(["pub", "-L", &url, "-m", "x", "-q", "1"])
        .output()
        .unwrap();
    assert_ok(&out);
    let out = cmd()
        .env("SSL_CERT_FILE", Pki::new(&[]).ca())
        .args(["pub", "-L", &url, "-m", "x", "-q", "1"])
        .output()
        .unwrap();
    assert_fails(
        &out,
        3,
        "not signed by a trusted CA",
        Some("operating system's CA store was used"),
    );
    // --cafile next to the URL replaces the OS store.
    let out = cmd()
        .env("SSL_CERT_FILE", "/nonexistent")
        .args(["pub", "-L", &url, "--cafile", &ca, "-m", "x"])
        .output()
        .unwrap();
    assert_ok(&out);
}

#[test]
fn port_8883_turns_on_tls_and_loads_the_os_store_only_then() {
    // An empty OS store is an error only when it is read: with -p 8883 (TLS), not with a
    // plain port. Nothing listens on either port; plain TCP gets as far as "refused".
    let empty = tempfile::tempdir().unwrap();
    let none = empty.path().join("none.pem");
    fs::write(&none, "").unwrap();
    let out = cmd()
        .env("SSL_CERT_FILE", &none)
        .env_remove("SSL_CERT_DIR")
        .args(["pub", "-h", "127.0.0.1", "-p", "8883", "-t", "t", "-m", "x"])
        .output()
        .unwrap();
    assert_fails(
        &out,
        2,
        "no CA certificates found in the operating system's store",
        Some("--cafile"),
    );
    let port = crate::support::free_port().to_string();
    let out = cmd()
        .env("SSL_CERT_FILE", &none)
        .args(["pub", "-h", "127.0.0.1", "-p", &port, "-t", "t", "-m", "x"])
        .output()
        .unwrap();
    assert_fails(&out, 3, "connection refused", None);
}

#[test]
fn tls_on_a_plain_port_and_plain_on_a_tls_port_get_hints() {
    let pki = Pki::new(&[]);
    let tls = tls_broker(&pki);
    let plain = Broker::start(BrokerConfig::plain());
    let out = mqtk_pub(&tls, "localhost", &[], "tls/hint", "x");
    assert_fails(&out, 3, "could not connect", Some("is this a TLS port?"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cafile"));
    let out = mqtk_pub(
        &plain,
        "localhost",
        &["--cafile", &pki.ca()],
        "tls/hint",
        "x",
    );
    assert_fails(
        &out,
        3,
        "could not connect",
        Some("a plain MQTT port (usually 1883) does not speak TLS"),
    );
}

#[test]
fn bad_certificate_files_exit_2_before_connecting() {
    let pki = Pki::new(&["--client", "sensor"]);
    let other = Pki::new(&["--client", "sensor"]);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    fs::write(&empty, "").unwrap();
    let encrypted = dir.path().join("encrypted.key");
    let st = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:secret",
        ])
        .arg("-in")
        .arg(pki.path("client-sensor.key"))
        .arg("-out")
        .arg(&encrypted)
        .status()
        .unwrap();
    assert!(st.success());
    let encrypted = encrypted.display().to_string();
    let empty = empty.display().to_string();
    let missing = dir.path().join("missing.crt").display().to_string();
    let capath_file = pki.ca();
    let (ca, cert, key) = (
        pki.ca(),
        pki.path("client-sensor.crt"),
        pki.path("client-sensor.key"),
    );
    let foreign_key = other.path("client-sensor.key");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--cafile", &missing], "cannot read the CA file"),
        (vec!["--cafile", &empty], "holds no PEM certificate"),
        (vec!["--capath", &capath_file], "is not a directory"),
        (
            vec!["--cafile", &ca, "--cert", &missing, "--key", &key],
            "cannot read the certificate",
        ),
        (
            vec!["--cafile", &ca, "--cert", &cert, "--key", &missing],
            "cannot read the key file",
        ),
        (
            vec!["--cafile", &ca, "--cert", &cert, "--key", &empty],
            "holds no PEM private key",
        ),
        (
            vec!["--cafile", &ca, "--cert", &cert, "--key", &foreign_key],
            "do not match",
        ),
        (
            vec!["--cafile", &ca, "--cert", &cert, "--key", &encrypted],
            "encrypted keys are not supported",
        ),
        (vec!["--cafile", &ca, "--cert", &cert], "--cert needs --key"),
        (vec!["--cafile", &ca, "--key", &key], "--key needs --cert"),
        (vec!["--ws-path", "/mqtt"], "--ws-path needs --ws"),
    ];
    // Nothing listens on this port: reaching the network would be exit 3.
    let port = crate::support::free_port().to_string();
    for (args, needle) in cases {
        let out = cmd()
            .args(["pub", "-h", "localhost", "-p", &port, "-t", "t", "-m", "x"])
            .args(&args)
            .output()
            .unwrap();
        let (code, err) = status_and_stderr(&out);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.starts_with("mqtk pub: error: "), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
    let out = cmd()
        .args(["pub", "-h", "localhost", "-p", &port, "-t", "t", "-m", "x"])
        .args(["--cafile", &ca, "--cert", &cert, "--key", &encrypted])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hint: decrypt it with openssl pkey"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
