//! Passwords and ACLs against a real mosquitto, with password files from `mqtk passwd`:
//! every password source (prompt, MQTK_PASSWORD, --password-file, argv), exit 4 for a wrong
//! one, and the seed's ACL challenge with its v3.1.1 and v5 outcomes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::subscriber::Subscriber;
use crate::support::terminal::Terminal;
use crate::support::{
    Broker, BrokerConfig, add_user, bin, cmd, status_and_stderr, unique_id, unique_topic,
};

/// A broker that only lets in `sensor` (password `s3nsor`) and `dashboard` (`d4sh`).
fn password_broker(dir: &Path) -> (Broker, PathBuf) {
    let file = dir.join("passwd");
    add_user(&file, "sensor", "s3nsor");
    add_user(&file, "dashboard", "d4sh");
    (Broker::start(BrokerConfig::password(&file)), file)
}

fn pub_args(broker: &Broker, topic: &str) -> Vec<String> {
    let mut a: Vec<String> = vec!["pub".into()];
    a.extend(broker.args());
    a.extend(["-i".into(), unique_id("authpub"), "-q".into(), "1".into()]);
    a.extend(["-t".into(), topic.into(), "-m".into(), "hello".into()]);
    a
}

fn ok(out: &Output) {
    let (code, err) = status_and_stderr(out);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn passwords_from_argv_env_and_file_never_need_argv() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = password_broker(dir.path());
    let topic = unique_topic("auth");
    let sub = Subscriber::start_with(&broker, &topic, 1, |o| {
        o.set_credentials("dashboard", "d4sh");
    });

    // argv still works.
    let out = cmd()
        .args(pub_args(&broker, &topic))
        .args(["-u", "sensor", "-P", "s3nsor"])
        .output()
        .unwrap();
    ok(&out);
    // MQTK_PASSWORD.
    let out = cmd()
        .env("MQTK_PASSWORD", "s3nsor")
        .args(pub_args(&broker, &topic))
        .args(["-u", "sensor"])
        .output()
        .unwrap();
    ok(&out);
    // --password-file: the first line, without its line end (CRLF too).
    let pw = dir.path().join("sensor.pw");
    fs::write(&pw, "s3nsor\r\nignored\n").unwrap();
    let out = cmd()
        .args(pub_args(&broker, &topic))
        .args(["-u", "sensor", "--password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    ok(&out);
    // A file named on the command line beats an exported MQTK_PASSWORD.
    let out = cmd()
        .env("MQTK_PASSWORD", "stale")
        .args(pub_args(&broker, &topic))
        .args(["-u", "sensor", "--password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    ok(&out);
    // -P and --password-file together are ambiguous.
    let out = cmd()
        .args(pub_args(&broker, &topic))
        .args(["-u", "sensor", "-P", "s3nsor", "--password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    assert_eq!(status_and_stderr(&out).0, Some(2));
    assert_eq!(sub.take(4, Duration::from_secs(10)).len(), 4);
}

#[test]
fn dash_p_without_a_value_prompts_on_the_terminal_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = password_broker(dir.path());
    let topic = unique_topic("prompt");
    let sub = Subscriber::start_with(&broker, &topic, 1, |o| {
        o.set_credentials("dashboard", "d4sh");
    });
    // `script` gives mqtk a pseudo-terminal (rpassword reads /dev/tty); the password is typed
    // only once the prompt has appeared, as a person would.
    let line = format!(
        "{} {} -u sensor -P",
        bin().display(),
        pub_args(&broker, &topic).join(" ")
    );
    let mut term = Terminal::spawn(&line);
    term.wait_for("Password: ", Duration::from_secs(20));
    term.type_line("s3nsor");
    let status = term.wait(Duration::from_secs(20));
    let screen = term.screen().to_string();
    assert!(
        status.success(),
        "{status}; the terminal showed {screen:?}; broker log:\n{}",
        broker.log()
    );
    assert!(
        !screen.contains("s3nsor"),
        "the password was echoed: {screen:?}"
    );
    assert_eq!(sub.take(1, Duration::from_secs(10))[0].payload, b"hello");
}

#[test]
fn a_wrong_password_exits_4_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = password_broker(dir.path());
    for version in ["311", "5"] {
        let out = cmd()
            .env("MQTK_PASSWORD", "wrong")
            .args(pub_args(&broker, "auth/wrong"))
            .args(["-u", "sensor", "-V", version])
            .output()
            .unwrap();
        let (code, err) = status_and_stderr(&out);
        assert_eq!(code, Some(4), "{err}");
        assert!(
            err.starts_with("mqtk pub: error: the broker refused the connection"),
            "{err}"
        );
        assert!(
            err.contains("hint: mosquitto answers 'not authorized'"),
            "{err}"
        );
    }
    // Without a terminal the prompt cannot work: a usage error that names the alternatives.
    // (setsid: no controlling terminal, even when the tests run in one.)
    let out = Command::new("setsid")
        .arg("-w")
        .arg(bin())
        .args(pub_args(&broker, "auth/notty"))
        .args(["-u", "sensor", "-P"])
        .env_remove("MQTK_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("MQTK_PASSWORD or --password-file"), "{err}");
}

/// "not authorized" without any user name: the hint says the broker wants credentials, not
/// that a password was wrong.
#[test]
fn refused_without_a_user_name_says_the_broker_wants_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = password_broker(dir.path());
    for version in ["311", "5"] {
        let out = cmd()
            .args(pub_args(&broker, "auth/anonymous"))
            .args(["-V", version])
            .output()
            .unwrap();
        let (code, err) = status_and_stderr(&out);
        assert_eq!(code, Some(4), "{err}");
        assert!(
            err.contains("hint: no user name was given and this broker requires credentials"),
            "{err}"
        );
        assert!(!err.contains("wrong password"), "{err}");
    }
}

/// `--profile lab -u other`: the password would come from lab's password file, the user name
/// from the command line. A warning says so; with the profile's own user there is none.
#[test]
fn a_profile_password_with_another_user_name_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = password_broker(dir.path());
    let secret = dir.path().join("sensor.pw");
    fs::write(&secret, "s3nsor\n").unwrap();
    fs::create_dir_all(dir.path().join("mqtk")).unwrap();
    fs::write(
        dir.path().join("mqtk/config.toml"),
        format!(
            "[profile.lab]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"sensor\"\n\
             password-file = \"{}\"\n",
            broker.port,
            secret.display()
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        cmd()
            .env("XDG_CONFIG_HOME", dir.path())
            .args(["pub", "--profile", "lab", "-t", "auth/profile", "-m", "x"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(status_and_stderr(&out), (Some(0), String::new()));
    for (extra, env) in [
        (&["-u", "dashboard"][..], None),
        (&[][..], Some("dashboard")),
    ] {
        let mut c = cmd();
        c.env("XDG_CONFIG_HOME", dir.path())
            .args(["pub", "--profile", "lab", "-t", "auth/profile", "-m", "x"])
            .args(extra);
        if let Some(user) = env {
            c.env("MQTK_USERNAME", user);
        }
        let out = c.output().unwrap();
        let (code, err) = status_and_stderr(&out);
        assert_eq!(code, Some(4), "{err}");
        assert!(
            err.starts_with("mqtk: warning: the user name comes from the command line"),
            "{err}"
        );
        assert!(err.contains("--password-file in [profile.lab]"), "{err}");
    }
}

/// The seed's ACL challenge as mosquitto.conf settings plus an acl_file.
pub const ACL: &str =
    "user sensor\ntopic write home/sensors/#\n\nuser dashboard\ntopic read home/#\n";

#[test]
fn the_acl_challenge_v5_rejects_denied_publishes_and_v311_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    add_user(&file, "sensor", "s3nsor");
    add_user(&file, "dashboard", "d4sh");
    let acl = dir.path().join("acl");
    fs::write(&acl, ACL).unwrap();
    let broker = Broker::start(BrokerConfig::password(&file).acl(&acl));

    let dashboard = Subscriber::start_with(&broker, "home/#", 1, |o| {
        o.set_credentials("dashboard", "d4sh");
    });
    // mosquitto 2.0 grants any SUBSCRIBE; `read` decides what is delivered.
    let sensor_sub = Subscriber::start_with(&broker, "home/#", 1, |o| {
        o.set_credentials("sensor", "s3nsor");
    });
    let run = |user: &str, pw: &str, version: &str, topic: &str, msg: &str| {
        let mut a: Vec<String> = vec!["pub".into()];
        a.extend(broker.args());
        cmd()
            .env("MQTK_PASSWORD", pw)
            .args(a)
            .args([
                "-i",
                &unique_id("acl"),
                "-u",
                user,
                "-V",
                version,
                "-q",
                "1",
            ])
            .args(["-t", topic, "-m", msg])
            .output()
            .unwrap()
    };

    ok(&run("sensor", "s3nsor", "5", "home/sensors/temp", "21.5"));
    let got = dashboard.take(1, Duration::from_secs(10));
    assert_eq!(
        (got[0].topic.as_str(), &got[0].payload[..]),
        ("home/sensors/temp", &b"21.5"[..])
    );

    for (user, pw, topic) in [
        ("sensor", "s3nsor", "home/other"),
        ("dashboard", "d4sh", "home/dashboard/x"),
    ] {
        let out = run(user, pw, "5", topic, "denied-v5");
        let (code, err) = status_and_stderr(&out);
        assert_eq!(code, Some(5), "{user}: {err}");
        assert!(err.contains("not authorized"), "{user}: {err}");
        // v3.1.1 has no way to say no: the broker acknowledges and drops.
        ok(&run(user, pw, "311", topic, "denied-v311"));
    }
    // A marker proves the denied messages would have arrived by now.
    ok(&run(
        "sensor",
        "s3nsor",
        "311",
        "home/sensors/marker",
        "marker",
    ));
    let got = dashboard.take(1, Duration::from_secs(10));
    assert_eq!(got[0].payload, b"marker", "a denied publish was delivered");
    sensor_sub.assert_nothing(Duration::from_millis(300));
    let log = broker.log();
    assert!(log.contains("Denied PUBLISH"), "{log}");
}
