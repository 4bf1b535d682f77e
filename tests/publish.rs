//! `mqtk pub` against a real mosquitto: every message source, QoS, retained messages, wills,
//! v5 properties, the lossless line mode, interop with mosquitto_sub, and each error class with
//! its exit code (nothing is sent on a usage error).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::subscriber::Subscriber;
use crate::support::{
    Broker, BrokerConfig, MosquittoSub, add_user, cmd, std_cmd, unique_id, unique_topic, wait_for,
};

const WAIT: Duration = Duration::from_secs(20);

/// `mqtk pub -h 127.0.0.1 -p PORT -i <unique> ARGS...`
fn publish(broker: &Broker, args: &[&str]) -> assert_cmd::Command {
    let mut c = cmd();
    c.arg("pub")
        .args(broker.args())
        .args(["-i", &unique_id("pub")])
        .args(args);
    c
}

fn stderr_of(c: &mut assert_cmd::Command, code: i32) -> String {
    let out = c.assert().code(code).get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn message_from_argument_at_each_qos() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("qos");
    let sub = Subscriber::start(&broker, &topic, 2);
    for qos in ["0", "1", "2"] {
        publish(
            &broker,
            &["-t", &topic, "-m", &format!("at qos {qos}"), "-q", qos],
        )
        .assert()
        .success()
        .stdout("")
        .stderr("");
    }
    let got = sub.take(3, WAIT);
    let payloads: Vec<_> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload))
        .collect();
    assert_eq!(payloads, ["at qos 0", "at qos 1", "at qos 2"]);
    assert_eq!(got.iter().map(|m| m.qos).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn file_stdin_and_null_sources_are_byte_exact() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("sources");
    let sub = Subscriber::start(&broker, &topic, 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    let binary: Vec<u8> = (0..=255u8).chain([b'\n', 0, b'\r']).collect();
    std::fs::write(&file, &binary).unwrap();
    publish(
        &broker,
        &["-t", &topic, "-q", "1", "-f", file.to_str().unwrap()],
    )
    .assert()
    .success();
    publish(&broker, &["-t", &topic, "-q", "1", "-s"])
        .write_stdin("message1\nmessage2")
        .assert()
        .success();
    publish(&broker, &["-t", &topic, "-q", "1", "-n"])
        .assert()
        .success();
    let got = sub.take(3, WAIT);
    assert_eq!(got[0].payload, binary);
    assert_eq!(got[1].payload, b"message1\nmessage2");
    assert_eq!(got[2].payload, b"");
}

#[test]
fn lines_keep_cr_send_empty_lines_and_an_unterminated_last_line() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("lines");
    let sub = Subscriber::start(&broker, &topic, 2);
    publish(&broker, &["-t", &topic, "-q", "2", "-l"])
        .write_stdin("one\r\n\nthree\nlast")
        .assert()
        .success();
    let got = sub.take(4, WAIT);
    let payloads: Vec<_> = got.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(
        payloads,
        [
            b"one\r".to_vec(),
            b"".to_vec(),
            b"three".to_vec(),
            b"last".to_vec()
        ]
    );
    // Empty stdin: connects, sends nothing, exits 0.
    publish(&broker, &["-t", &topic, "-l"])
        .write_stdin("")
        .assert()
        .success();
    sub.assert_nothing(Duration::from_millis(300));
}

/// mosquitto_pub -l at QoS 1 delivers about a third of this and exits 0; every line must
/// arrive, in order.
#[test]
fn lines_200k_at_qos_1_all_arrive() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("bulk");
    let sub = Subscriber::start(&broker, &topic, 1);
    let input: String = (0..200_000).map(|i| format!("{i}\n")).collect();
    publish(&broker, &["-t", &topic, "-q", "1", "-l"])
        .write_stdin(input)
        .assert()
        .success();
    let got = sub.take(200_000, Duration::from_secs(120));
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.payload, i.to_string().as_bytes(), "message {i}");
    }
    sub.assert_nothing(Duration::from_millis(200));
}

#[test]
fn lines_at_qos_2_on_v5_all_arrive() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("bulk2");
    let sub = Subscriber::start(&broker, &topic, 2);
    let input: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    publish(&broker, &["-t", &topic, "-q", "2", "-V", "5", "-l"])
        .write_stdin(input)
        .assert()
        .success();
    let got = sub.take(20_000, Duration::from_secs(60));
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, m)| m.payload == i.to_string().as_bytes())
    );
}

/// The broker goes away in the middle of a line stream: pub reconnects and resends what was
/// not acknowledged, so no line is lost.
#[test]
fn reconnect_during_lines_loses_nothing() {
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let topic = unique_topic("restart");
    let sub = Subscriber::start_persistent(&broker, &topic, 1, &unique_id("keeper"));
    let mut child = std_cmd()
        .arg("pub")
        .args(broker.args())
        .args(["-i", &unique_id("pub"), "-t", &topic, "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..500 {
        writeln!(stdin, "{i}").unwrap();
    }
    stdin.flush().unwrap();
    let first = sub.take(500, WAIT);
    broker.restart();
    for i in 500..1000 {
        writeln!(stdin, "{i}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("reconnecting"));
    let mut seen: BTreeSet<String> = first
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    // At least once: a message in flight during the restart may come twice.
    while seen.len() < 1000 {
        let m = sub.take(1, WAIT).pop().unwrap();
        seen.insert(String::from_utf8_lossy(&m.payload).into_owned());
    }
    let expected: BTreeSet<String> = (0..1000).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected);
}

/// SIGTERM (`timeout 60 mqtk pub -l`) or Ctrl-C ends the input, not the delivery: what was
/// read is delivered, then a normal DISCONNECT, so the Will stays unpublished. The broker is
/// frozen while the signal arrives, so acknowledgements are outstanding at that moment: a pub
/// that gave up on them would lose the second half of the lines.
#[test]
fn sigterm_during_lines_delivers_what_was_read_and_disconnects_cleanly() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("sigterm");
    let will = unique_topic("sigterm-will");
    let sub = Subscriber::start(&broker, &topic, 1);
    let watcher = Subscriber::start(&broker, &will, 1);
    let mut child = std_cmd()
        .arg("pub")
        .args(broker.args())
        .args(["-i", &unique_id("term"), "-t", &topic, "-q", "1", "-l"])
        .args(["--will-topic", &will, "--will-payload", "gone"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut write_lines = |range: std::ops::Range<u32>| {
        for i in range {
            writeln!(stdin, "{i}").unwrap();
        }
        stdin.flush().unwrap();
    };
    write_lines(0..100);
    let mut seen: BTreeSet<Vec<u8>> = sub.take(100, WAIT).into_iter().map(|m| m.payload).collect();

    // More than the in-flight window (-M 20) while the broker cannot acknowledge anything.
    broker.pause();
    write_lines(100..200);
    // Time for pub to read them (one batch) and fill its window.
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "pub exited while its messages were unacknowledged"
    );
    broker.resume();

    // Lines in any order, a QoS 1 duplicate allowed; a lost one ends `take` with a panic.
    while seen.len() < 200 {
        seen.extend(sub.take(1, WAIT).into_iter().map(|m| m.payload));
    }
    let expected: BTreeSet<Vec<u8>> = (0..200).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(seen, expected, "every line pub read arrives");
    // stdin stays open until pub has exited: only the signal ended the input.
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pub did not exit after the broker resumed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(stdin);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}: {err}");
    watcher.assert_nothing(Duration::from_millis(500));
}

#[test]
fn retained_message_is_set_then_cleared() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("retain");
    publish(&broker, &["-t", &topic, "-m", "21.5", "-r", "-q", "1"])
        .assert()
        .success();
    let late = Subscriber::start(&broker, &topic, 1);
    let got = late.take(1, WAIT);
    assert_eq!(got[0].payload, b"21.5");
    assert!(got[0].retain);
    publish(&broker, &["-t", &topic, "-r", "-n", "-q", "1"])
        .assert()
        .success();
    // The clearing message itself is delivered live (retain flag off), then nothing is kept.
    assert_eq!(late.take(1, WAIT)[0].payload, b"");
    let later = Subscriber::start(&broker, &topic, 1);
    later.assert_nothing(Duration::from_millis(300));
}

#[test]
fn will_is_published_when_the_client_dies_and_not_on_a_clean_exit() {
    let broker = Broker::start(BrokerConfig::plain());
    let will = unique_topic("will");
    let topic = unique_topic("alive");
    let watcher = Subscriber::start(&broker, &will, 1);
    let data = Subscriber::start(&broker, &topic, 1);
    let will_args = [
        "--will-topic",
        will.as_str(),
        "--will-payload",
        r#"{"status":"offline"}"#,
        "--will-qos",
        "1",
    ];
    // A clean exit sends DISCONNECT: no will.
    publish(&broker, &["-t", &topic, "-m", "bye", "-q", "1"])
        .args(will_args)
        .assert()
        .success();
    data.take(1, WAIT);
    watcher.assert_nothing(Duration::from_millis(300));

    let mut child = std_cmd()
        .arg("pub")
        .args(broker.args())
        .args(["-i", &unique_id("dying"), "-t", &topic, "-q", "1", "-l"])
        .args(will_args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "still here").unwrap();
    stdin.flush().unwrap();
    assert_eq!(data.take(1, WAIT)[0].payload, b"still here");
    child.kill().unwrap();
    child.wait().unwrap();
    let got = watcher.take(1, WAIT);
    assert_eq!(got[0].payload, br#"{"status":"offline"}"#);
}

#[test]
fn v5_properties_reach_the_subscriber() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("props");
    let sub = Subscriber::start(&broker, &topic, 1);
    publish(
        &broker,
        &[
            "-t",
            &topic,
            "-m",
            r#"{"t":21}"#,
            "-q",
            "1",
            "-D",
            "publish",
            "content-type",
            "application/json",
            "-D",
            "publish",
            "user-property",
            "site",
            "lab",
            "-D",
            "publish",
            "user-property",
            "site",
            "roof",
            "-D",
            "publish",
            "message-expiry-interval",
            "120",
            "-D",
            "publish",
            "response-topic",
            "replies/here",
            "-D",
            "publish",
            "correlation-data",
            "abc",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ],
    )
    .assert()
    .success();
    let got = sub.take(1, WAIT);
    let p = got[0].properties.clone().expect("v5 properties");
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        p.user_properties,
        [
            ("site".to_string(), "lab".to_string()),
            ("site".to_string(), "roof".to_string())
        ]
    );
    assert!(matches!(p.message_expiry_interval, Some(n) if n > 100 && n <= 120));
    assert_eq!(p.response_topic.as_deref(), Some("replies/here"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"abc"[..]));
    assert_eq!(p.payload_format_indicator, Some(1));
}

#[test]
fn interop_both_ways_with_the_mosquitto_clients() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("interop");
    let msub = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1", "-v"]);
    publish(&broker, &["-t", &topic, "-m", "from mqtk", "-q", "1"])
        .assert()
        .success();
    publish(&broker, &["-t", &topic, "-l", "-q", "2"])
        .write_stdin("a\nb\n")
        .assert()
        .success();
    assert_eq!(
        msub.take(3, WAIT),
        [
            format!("{topic} from mqtk"),
            format!("{topic} a"),
            format!("{topic} b")
        ]
    );

    let sub = Subscriber::start(&broker, &topic, 1);
    let status = Command::new("mosquitto_pub")
        .args(broker.args())
        .args(["-t", &topic, "-m", "from mosquitto_pub", "-q", "1"])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(sub.take(1, WAIT)[0].payload, b"from mosquitto_pub");
}

#[test]
fn repeat_sends_n_copies() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("repeat");
    let sub = Subscriber::start(&broker, &topic, 1);
    publish(
        &broker,
        &[
            "-t",
            &topic,
            "-m",
            "x",
            "-q",
            "1",
            "--repeat",
            "3",
            "--repeat-delay",
            "0.05",
        ],
    )
    .assert()
    .success();
    assert_eq!(sub.take(3, WAIT).len(), 3);
    sub.assert_nothing(Duration::from_millis(200));
}

#[test]
fn url_gives_host_port_credentials_and_topic() {
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("passwd");
    add_user(&pwfile, "al@ice", "p:ss@w");
    let broker = Broker::start(BrokerConfig::password(&pwfile));
    let topic = unique_topic("url");
    let sub = Subscriber::start_with(&broker, &topic, 1, |o| {
        o.set_credentials("al@ice", "p:ss@w");
    });
    let url = format!(
        "mqtt://al%40ice:p%3Ass%40w@127.0.0.1:{}/{topic}",
        broker.port
    );
    cmd()
        .args(["pub", "-L", &url, "-m", "via url", "-q", "1"])
        .assert()
        .success();
    assert_eq!(sub.take(1, WAIT)[0].payload, b"via url");
    // Credentials from the environment and from a file work the same way.
    cmd()
        .args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            &topic,
        ])
        .args(["-m", "via env", "-q", "1", "-u", "al@ice"])
        .env("MQTK_PASSWORD", "p:ss@w")
        .assert()
        .success();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "p:ss@w\nignored second line\n").unwrap();
    cmd()
        .args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            &topic,
        ])
        .args([
            "-m",
            "via file",
            "-q",
            "1",
            "-u",
            "al@ice",
            "--password-file",
        ])
        .arg(&pw)
        .assert()
        .success();
    let got = sub.take(2, WAIT);
    assert_eq!(got[0].payload, b"via env");
    assert_eq!(got[1].payload, b"via file");
}

#[test]
fn profile_supplies_flags_below_the_command_line_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("passwd");
    add_user(&pwfile, "sensor", "s3cret");
    let broker = Broker::start(BrokerConfig::password(&pwfile));
    let topic = unique_topic("profile");
    let sub = Subscriber::start_with(&broker, &topic, 1, |o| {
        o.set_credentials("sensor", "s3cret");
    });
    let secret = dir.path().join("sensor.pw");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::create_dir_all(dir.path().join("mqtk")).unwrap();
    std::fs::write(
        dir.path().join("mqtk/config.toml"),
        format!(
            "[profile.lab]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"sensor\"\n\
             password-file = \"{}\"\nqos-does-not-exist = 1\n\n[profile.ok]\n\
             host = \"127.0.0.1\"\nport = {}\nusername = \"sensor\"\npassword-file = \"{}\"\n",
            broker.port,
            secret.display(),
            broker.port,
            secret.display()
        ),
    )
    .unwrap();
    let xdg = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut c = cmd();
        c.env("XDG_CONFIG_HOME", xdg).arg("pub").args(args);
        c
    };
    run(&[
        "--profile",
        "ok",
        "-t",
        &topic,
        "-m",
        "from profile",
        "-q",
        "1",
    ])
    .assert()
    .success();
    assert_eq!(sub.take(1, WAIT)[0].payload, b"from profile");
    // The command line and the environment win over the profile.
    let dead = crate::support::free_port().to_string();
    let mut c = run(&["--profile", "ok", "-p", &dead, "-t", &topic, "-m", "x"]);
    assert!(stderr_of(&mut c, 3).contains(&format!(":{dead}")));
    let mut c = run(&["--profile", "ok", "-t", &topic, "-m", "x"]);
    c.env("MQTK_PORT", &dead);
    assert!(stderr_of(&mut c, 3).contains(&format!(":{dead}")));
    // Unknown keys and unknown profiles are usage errors.
    let mut c = run(&["--profile", "lab", "-t", &topic, "-m", "x"]);
    assert!(stderr_of(&mut c, 2).contains("not a connection flag"));
    let mut c = run(&["--profile", "nope", "-t", &topic, "-m", "x"]);
    assert!(stderr_of(&mut c, 2).contains("no [profile.nope]"));
    sub.assert_nothing(Duration::from_millis(200));
}

#[test]
fn environment_supplies_connection_flags() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("env");
    let sub = Subscriber::start(&broker, &topic, 1);
    cmd()
        .args(["pub", "-m", "from env", "-q", "1"])
        .env("MQTK_HOST", "127.0.0.1")
        .env("MQTK_PORT", broker.port.to_string())
        .env("MQTK_TOPIC", &topic)
        .assert()
        .success();
    assert_eq!(sub.take(1, WAIT)[0].payload, b"from env");
}

#[test]
fn a_10_mb_payload_goes_through() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("big");
    let sub = Subscriber::start(&broker, &topic, 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let body: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    publish(
        &broker,
        &["-t", &topic, "-q", "1", "-f", file.to_str().unwrap()],
    )
    .assert()
    .success();
    let got = sub.take(1, Duration::from_secs(60));
    assert!(got[0].payload == body, "payload differs");
}

#[test]
fn debug_traces_packets_on_stderr_without_the_password() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("debug");
    let out = publish(
        &broker,
        &[
            "-t",
            &topic,
            "-m",
            "x",
            "-q",
            "1",
            "-d",
            "-u",
            "u",
            "-P",
            "secret-pw",
        ],
    )
    .assert()
    .success()
    .get_output()
    .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [
        "sending CONNECT",
        "received CONNACK",
        "sending PUBLISH",
        "received PUBACK",
        "sending DISCONNECT",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    assert!(!err.contains("secret-pw"), "password printed:\n{err}");
    assert!(out.stdout.is_empty());
}

// ---- errors: one line, the documented exit code, nothing sent ----

/// A broker with a watcher on `#`: every usage error below must leave it silent.
struct Watched {
    broker: Broker,
    sub: Subscriber,
}

fn watched() -> Watched {
    let broker = Broker::start(BrokerConfig::plain());
    let sub = Subscriber::start(&broker, "#", 0);
    Watched { broker, sub }
}

#[test]
fn usage_errors_exit_2_and_send_nothing() {
    let w = watched();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let long_topic = "x".repeat(65_536);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-t", "", "-m", "x"], "topic is empty"),
        (vec!["-t", "a/+", "-m", "x"], "wildcard"),
        (vec!["-t", "a/#", "-m", "x"], "wildcard"),
        (vec!["-t", &long_topic, "-m", "x"], "65535"),
        (
            vec!["-t", "t", "-f", missing.to_str().unwrap()],
            "cannot read",
        ),
        (vec!["-t", "t", "-m", "x", "-q", "3"], "--qos"),
        (vec!["-t", "t", "-m", "x", "-k", "2"], "--keepalive"),
        (vec!["-t", "t", "-m", "x", "-V", "31"], "not supported"),
        (vec!["-t", "t", "-m", "x", "-n"], "cannot be used with"),
        (vec!["-t", "t"], "required"),
        (vec!["-m", "x"], "no topic"),
        (vec!["-t", "t", "-m", "x", "-c"], "client id"),
        (
            vec![
                "-t",
                "t",
                "-m",
                "x",
                "-V",
                "311",
                "-D",
                "publish",
                "content-type",
                "a",
            ],
            "MQTT v5",
        ),
        (
            vec![
                "-t",
                "t",
                "-m",
                "x",
                "-D",
                "publish",
                "topic-alias-maximum",
                "1",
            ],
            "not a property",
        ),
        (
            vec!["-t", "t", "-m", "x", "--will-payload", "p"],
            "will-topic",
        ),
        (
            vec!["-t", "t", "-m", "x", "--will-topic", "w/#"],
            "will topic",
        ),
        (vec!["-t", "t", "-m", "x", "--repeat", "0"], "repeat"),
        (
            vec![
                "-t",
                "t",
                "-m",
                "x",
                "--repeat",
                "2",
                "--repeat-delay",
                "-1",
            ],
            "repeat-delay",
        ),
        (vec!["-t", "t", "-s"], "stdin was empty"),
        (
            vec!["-t", "t", "-m", "x", "-L", "http://h/t"],
            "invalid URL",
        ),
    ];
    for (args, expect) in cases {
        let mut c = cmd();
        c.arg("pub")
            .args(w.broker.args())
            .args(&args)
            .write_stdin("");
        let err = stderr_of(&mut c, 2);
        assert!(err.starts_with("mqtk pub: error: "), "{args:?}: {err}");
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in {err}"
        );
    }
    // A topic that is not UTF-8 (argv cannot carry NUL; the library check covers it).
    {
        use std::os::unix::ffi::OsStrExt;
        let mut c = cmd();
        c.arg("pub").args(w.broker.args()).arg("-t");
        c.arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
            .args(["-m", "x"]);
        let err = stderr_of(&mut c, 2);
        assert!(err.contains("UTF-8"), "{err}");
    }
    // A bad port is refused by the parser too.
    for port in ["0", "65536", "x"] {
        let mut c = cmd();
        c.args(["pub", "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "x"]);
        stderr_of(&mut c, 2);
    }
    w.sub.assert_nothing(Duration::from_millis(300));
}

#[test]
fn oversized_payload_is_a_usage_error_before_connecting() {
    // A file just over the MQTT limit, sparse so it costs no disk.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.bin");
    let f = std::fs::File::create(&file).unwrap();
    f.set_len(268_435_456).unwrap();
    // Port 1 has no broker: a usage error must come before any connection attempt (exit 2, not 3).
    let mut c = cmd();
    c.args([
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        "1",
        "-t",
        "t",
        "-f",
        file.to_str().unwrap(),
    ]);
    let err = stderr_of(&mut c, 2);
    assert!(err.contains("MQTT allows at most"), "{err}");
}

#[test]
fn unreachable_broker_exits_3() {
    let port = crate::support::free_port().to_string();
    let mut c = cmd();
    c.args(["pub", "-h", "127.0.0.1", "-p", &port, "-t", "t", "-m", "x"]);
    let err = stderr_of(&mut c, 3);
    assert!(err.contains("connection refused"), "{err}");
    let mut c = cmd();
    c.args(["pub", "-h", "no-such-host.invalid", "-t", "t", "-m", "x"]);
    let err = stderr_of(&mut c, 3);
    assert!(
        err.contains("could not connect to no-such-host.invalid"),
        "{err}"
    );
    let mut c = cmd();
    c.args([
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "t",
        "-m",
        "x",
        "--quiet",
    ]);
    assert_eq!(stderr_of(&mut c, 3), "");
}

#[test]
fn bad_credentials_exit_4_with_the_reason_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("passwd");
    add_user(&pwfile, "sensor", "right");
    let broker = Broker::start(BrokerConfig::password(&pwfile));
    for v in ["311", "5"] {
        for creds in [
            vec!["-u", "sensor", "-P", "wrong"],
            vec!["-u", "nobody", "-P", "x"],
            vec![],
        ] {
            let mut c = publish(&broker, &["-t", "t", "-m", "x", "-V", v]);
            c.args(&creds);
            let err = stderr_of(&mut c, 4);
            assert!(
                err.contains("refused the connection (not authorized)"),
                "{err}"
            );
        }
        publish(
            &broker,
            &["-t", "t", "-m", "x", "-V", v, "-u", "sensor", "-P", "right"],
        )
        .assert()
        .success();
    }
}

#[test]
fn v5_publish_denied_by_acl_exits_5_naming_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("passwd");
    let acl = dir.path().join("acl");
    add_user(&pwfile, "sensor", "pw");
    std::fs::write(&acl, "user sensor\ntopic write home/sensors/#\n").unwrap();
    let broker = Broker::start(BrokerConfig::password(&pwfile).acl(&acl));
    let creds = ["-u", "sensor", "-P", "pw"];
    publish(
        &broker,
        &["-t", "home/sensors/temp", "-m", "1", "-q", "1", "-V", "5"],
    )
    .args(creds)
    .assert()
    .success();
    for qos in ["1", "2"] {
        let mut c = publish(
            &broker,
            &["-t", "home/other", "-m", "1", "-q", qos, "-V", "5"],
        );
        c.args(creds);
        let err = stderr_of(&mut c, 5);
        assert!(err.contains("not authorized"), "{err}");
        assert!(err.contains("home/other"), "{err}");
    }
    // v3.1.1 has no reason codes: the broker acknowledges and drops the message.
    publish(
        &broker,
        &["-t", "home/other", "-m", "1", "-q", "1", "-V", "311"],
    )
    .args(creds)
    .assert()
    .success();
    wait_for(WAIT, || broker.log().contains("Denied PUBLISH"));
}

/// QoS 0 is settled once written: a one-shot publish leaves at once, not when the keep-alive
/// timer next wakes the connection (60 s here).
#[test]
fn qos0_one_shot_exits_as_soon_as_it_is_written() {
    let broker = Broker::start(BrokerConfig::plain());
    let t0 = std::time::Instant::now();
    cmd()
        .arg("pub")
        .args(broker.args())
        .args(["-t", "q0/once", "-m", "x", "-q", "0", "-k", "60"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
}

/// Whether the broker still holds a session for `id`: a v5 connection that asks to resume
/// (clean start off) is told in its CONNACK.
fn session_present(broker: &Broker, id: &str) -> bool {
    let out = cmd()
        .arg("sub")
        .args(broker.args())
        .args([
            "-V",
            "5",
            "-c",
            "-x",
            "0",
            "-i",
            id,
            "-t",
            "probe/none",
            "-E",
            "-d",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("session present: "), "{err}");
    err.contains("session present: true")
}

/// QoS 2 keeps a session at the broker for the life of the run (exactly once across
/// connection loss); a clean exit removes it, on MQTT 5 (session expiry 0 in DISCONNECT) and
/// on 3.1.1 (a clean connection at the end).
#[test]
fn a_qos2_run_leaves_no_session_behind() {
    let broker = Broker::start(BrokerConfig::plain());
    for version in ["5", "311"] {
        let id = unique_id("q2run");
        cmd()
            .arg("pub")
            .args(broker.args())
            .args([
                "-V", version, "-q", "2", "-i", &id, "-t", "q2/run", "-m", "x",
            ])
            .timeout(Duration::from_secs(30))
            .assert()
            .success();
        assert!(
            !session_present(&broker, &id),
            "-V {version} left a session"
        );
    }
    // Positive control: a session the user asked to keep (-c -x) is still there.
    let id = unique_id("q2keep");
    cmd()
        .arg("pub")
        .args(broker.args())
        .args([
            "-V", "5", "-c", "-x", "600", "-q", "2", "-i", &id, "-t", "q2/run", "-m", "x",
        ])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    assert!(
        session_present(&broker, &id),
        "the -c -x 600 session is gone"
    );
}

/// `-D disconnect ...` goes into the DISCONNECT: a session expiry of 0 there ends a session
/// the CONNECT asked the broker to keep.
#[test]
fn disconnect_properties_are_sent() {
    let broker = Broker::start(BrokerConfig::plain());
    let id = unique_id("dprops");
    cmd()
        .arg("pub")
        .args(broker.args())
        .args([
            "-V", "5", "-c", "-x", "600", "-i", &id, "-t", "d/props", "-m", "x",
        ])
        .args(["-D", "disconnect", "session-expiry-interval", "0"])
        .args(["-D", "disconnect", "reason-string", "bye"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    assert!(
        !session_present(&broker, &id),
        "the session outlived -D disconnect"
    );
}
