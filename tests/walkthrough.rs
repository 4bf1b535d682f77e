//! The README's walkthrough of the seed's exercise 3 (passwords), exercise 5 (TLS) and the ACL
//! challenge, run command for command: `mqtk passwd`, `mqtk certgen`, the mosquitto.conf lines
//! and `mqtk pub`/`mqtk sub` (the subscribers are `mqtk sub` children that have had their
//! SUBACK before anything is published).

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::{Broker, BrokerConfig, MqtkChild, Pki, cmd, status_and_stderr, unique_id};

/// `printf 'PW\nPW\n' | mqtk passwd [-c] FILE USER`: the scripted form of the prompt.
fn passwd(args: &[&str], file: &Path, user: &str, pw: &str) {
    let out = cmd()
        .arg("passwd")
        .args(args)
        .arg(file)
        .arg(user)
        .write_stdin(format!("{pw}\n{pw}\n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mqtk pub ARGS`, with a unique client id.
fn mqtk_pub(args: &[&str]) -> Output {
    cmd()
        .arg("pub")
        .args(["-i", &unique_id("walk")])
        .args(args)
        .output()
        .unwrap()
}

fn code(out: &Output) -> (Option<i32>, String) {
    status_and_stderr(out)
}

#[test]
fn readme_walkthrough_passwords_tls_and_the_acl_challenge() {
    let etc = tempfile::tempdir().unwrap();
    let etc = etc.path();
    let pwfile = etc.join("passwd");

    // Exercise 3: two users, passwords typed (here: piped) rather than put in argv.
    passwd(&["-c"], &pwfile, "sensor", "s3nsor-pw");
    passwd(&[], &pwfile, "dashboard", "d4sh-pw");
    // Each client keeps its password in a file of its own.
    let sensor_pw = etc.join("sensor.pw");
    let dashboard_pw = etc.join("dashboard.pw");
    fs::write(&sensor_pw, "s3nsor-pw\n").unwrap();
    fs::write(&dashboard_pw, "d4sh-pw\n").unwrap();
    let (sensor_pw, dashboard_pw) = (
        sensor_pw.display().to_string(),
        dashboard_pw.display().to_string(),
    );

    // mosquitto.conf: allow_anonymous false + password_file.
    let plain = Broker::start(BrokerConfig::password(&pwfile));
    let port = plain.port.to_string();
    let host = ["-h", "localhost", "-p", port.as_str()];
    let sub = MqtkChild::subscribed(
        &[
            &["sub"][..],
            &host[..],
            &["-u", "dashboard", "--password-file", &dashboard_pw],
            &["-t", "home/#", "-v"],
        ]
        .concat(),
    );
    let out = mqtk_pub(
        &[
            &host[..],
            &["-u", "sensor", "--password-file", &sensor_pw],
            &["-t", "home/sensors/temp", "-m", "21.5"],
        ]
        .concat(),
    );
    assert_eq!(code(&out), (Some(0), String::new()));
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        ["home/sensors/temp 21.5"]
    );
    // A wrong password, or none: exit 4.
    for creds in [&["-u", "sensor", "-P", "wrong"][..], &[][..]] {
        let out = mqtk_pub(&[&host[..], creds, &["-t", "home/x", "-m", "x"]].concat());
        let (c, err) = code(&out);
        assert_eq!(c, Some(4), "{creds:?}: {err}");
        assert!(err.contains("not authorized"), "{err}");
    }
    drop(sub);
    drop(plain);

    // Exercise 5: `mqtk certgen --out /etc/mosquitto/certs`, its listener block in
    // mosquitto.conf; then the ACL challenge: `acl_file /etc/mosquitto/acl`.
    let pki = Pki::new(&[]);
    let acl = etc.join("acl");
    fs::write(
        &acl,
        "user sensor\ntopic write home/sensors/#\n\nuser dashboard\ntopic read home/#\n",
    )
    .unwrap();
    let broker = Broker::start(
        BrokerConfig::password(&pwfile)
            .acl(&acl)
            .listener_from_file(pki.listener()),
    );
    let port = broker.port.to_string();
    let ca = pki.ca();
    let tls = [
        "-h",
        "localhost",
        "-p",
        port.as_str(),
        "--cafile",
        ca.as_str(),
    ];
    let sub = MqtkChild::subscribed(
        &[
            &["sub"][..],
            &tls[..],
            &["-u", "dashboard", "--password-file", &dashboard_pw],
            &["-V", "5", "-t", "home/#", "-v"],
        ]
        .concat(),
    );
    let sensor = ["-u", "sensor", "--password-file", sensor_pw.as_str()];
    let dashboard = ["-u", "dashboard", "--password-file", dashboard_pw.as_str()];
    let v5 = ["-V", "5", "-q", "1"];

    // Allowed: sensor writes under home/sensors, dashboard reads it.
    let out = mqtk_pub(
        &[
            &tls[..],
            &sensor,
            &v5,
            &["-t", "home/sensors/temp", "-m", "22.0"],
        ]
        .concat(),
    );
    assert_eq!(code(&out), (Some(0), String::new()));
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        ["home/sensors/temp 22.0"]
    );

    // Denied, v5: exit 5 naming the reason.
    for (who, topic) in [(&sensor, "home/other"), (&dashboard, "home/dashboard/cmd")] {
        let out = mqtk_pub(&[&tls[..], who, &v5, &["-t", topic, "-m", "nope"]].concat());
        let (c, err) = code(&out);
        assert_eq!(c, Some(5), "{topic}: {err}");
        assert!(err.contains("not authorized"), "{err}");
    }
    // Denied, v3.1.1: the broker acknowledges and drops it; the client cannot tell.
    let out = mqtk_pub(
        &[
            &tls[..],
            &sensor,
            &["-q", "1", "-t", "home/other", "-m", "lost"],
        ]
        .concat(),
    );
    assert_eq!(code(&out).0, Some(0));

    // Nothing denied was delivered: the next allowed message is the next one seen.
    let out = mqtk_pub(&[&tls[..], &sensor, &["-t", "home/sensors/hum", "-m", "40"]].concat());
    assert_eq!(code(&out).0, Some(0));
    assert_eq!(
        sub.wait_lines(2, Duration::from_secs(10)),
        ["home/sensors/temp 22.0", "home/sensors/hum 40"]
    );

    // "sensor cannot subscribe": mosquitto 2.0 grants the SUBSCRIBE but delivers nothing it
    // may not read.
    let sensor_sub = MqtkChild::subscribed(
        &[
            &["sub"][..],
            &tls[..],
            &["-u", "sensor", "--password-file", &sensor_pw],
            &["-t", "home/#", "-v"],
        ]
        .concat(),
    );
    let out = mqtk_pub(
        &[
            &tls[..],
            &sensor,
            &["-t", "home/sensors/temp", "-m", "23.0"],
        ]
        .concat(),
    );
    assert_eq!(code(&out).0, Some(0));
    assert_eq!(
        sub.wait_lines(3, Duration::from_secs(10))[2],
        "home/sensors/temp 23.0"
    );
    // The same message went to both subscribers at the same moment: by now sensor's would
    // have arrived too, were it delivered.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sensor_sub.stdout(), "");
}
