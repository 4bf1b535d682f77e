//! Where values come from, against a real mosquitto: argv words that start with '-' (taken as
//! values, as mosquitto's clients do), `MQTK_*` variables, `--profile` keys; and that no
//! password shows on the way (errors, `-d`, `--help`, the process's argv).

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::support::subscriber::Subscriber;
use crate::support::terminal::Terminal;
use crate::support::{
    Broker, BrokerConfig, MqtkChild, add_user, bin, cmd, mosquitto_pub, status_and_stderr, std_cmd,
    unique_id, unique_topic, wait_for,
};

const WAIT: Duration = Duration::from_secs(15);

fn code_and_stderr(out: &Output) -> (i32, String) {
    let (code, err) = status_and_stderr(out);
    (code.expect("exited"), err)
}

/// A broker that lets in `leaduser` with the password `-secret` (B1's reproduction).
fn dash_password_broker(dir: &Path) -> Broker {
    let file = dir.join("passwd");
    add_user(&file, "leaduser", "-secret");
    Broker::start(BrokerConfig::password(&file))
}

fn user_properties(p: &Option<PublishProperties>) -> Vec<(String, String)> {
    p.as_ref()
        .map(|p| p.user_properties.clone())
        .unwrap_or_default()
}

// ---- values that start with '-' --------------------------------------------------------------

/// B1: `-P -secret`, `-t -neg`, `-m -5`, `-D publish user-property k -1`, as mosquitto_pub takes
/// them (each exited 2 with "unexpected argument" before).
#[test]
fn values_starting_with_a_dash_reach_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = dash_password_broker(dir.path());
    let sub = Subscriber::start_with(&broker, "#", 1, |o| {
        o.set_credentials("leaduser", "-secret");
    });
    let mut args: Vec<String> = vec!["pub".into()];
    args.extend(broker.args());
    let out = cmd()
        .args(&args)
        .args(["-u", "leaduser", "-P", "-secret", "-t", "-neg", "-m", "-5"])
        .args(["-D", "publish", "user-property", "k", "-1", "-q", "1"])
        .args(["--will-topic", "-w", "--will-payload", "-1"])
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 0, "{err}");
    let got = sub.take(1, WAIT);
    assert_eq!(
        (got[0].topic.as_str(), &got[0].payload[..]),
        ("-neg", &b"-5"[..])
    );
    assert_eq!(
        user_properties(&got[0].properties),
        [("k".to_string(), "-1".to_string())]
    );
    // The same password from the environment and from a profile.
    let cfg = dir.path().join("cfg");
    fs::create_dir_all(cfg.join("mqtk")).unwrap();
    fs::write(
        cfg.join("mqtk/config.toml"),
        "[profile.lead]\nusername = \"leaduser\"\npw = \"-secret\"\n",
    )
    .unwrap();
    for (var, value) in [("MQTK_PASSWORD", "-secret"), ("MQTK_PROFILE", "lead")] {
        let out = cmd()
            .env("XDG_CONFIG_HOME", &cfg)
            .env(var, value)
            .args(&args)
            .args(["-u", "leaduser", "-t", "dash/env", "-m", var, "-q", "1"])
            .output()
            .unwrap();
        let (code, err) = code_and_stderr(&out);
        assert_eq!(code, 0, "{var}: {err}");
        assert_eq!(sub.take(1, WAIT)[0].payload, var.as_bytes());
    }
    // Positive control: a wrong password is refused, so the ones above were checked.
    let out = cmd()
        .args(&args)
        .args(["-u", "leaduser", "-P", "secret", "-t", "x", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(code_and_stderr(&out).0, 4);
}

/// The CONNECT packet `mqtk pub <args>` sends, read by a listener that never answers.
fn connect_packet(args: &[&str]) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = std_cmd()
        .args(["pub", "-h", "127.0.0.1", "-p", &port, "-t", "x", "-m", "x"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    // Fixed header: type, then the remaining length as a variable-length integer.
    let mut byte = [0u8; 1];
    conn.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0], 0x10, "not a CONNECT");
    let (mut len, mut shift) = (0usize, 0);
    loop {
        conn.read_exact(&mut byte).unwrap();
        len |= usize::from(byte[0] & 0x7f) << shift;
        shift += 7;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    body
}

/// `-P ""` sends an empty password, as mosquitto_pub does (it prompted before); `-P` before
/// another option prompts. (mosquitto refuses every empty password, so the CONNECT packet
/// itself is checked.)
#[test]
fn an_empty_password_is_sent_and_dash_p_before_an_option_prompts() {
    // MQTT 3.1.1 CONNECT: "MQTT", level 4, flags (0x80 user name, 0x40 password), keep-alive,
    // then client id, user name and password, each with a 2-byte length: the password is last.
    let body = connect_packet(&["-u", "nopw", "-P", ""]);
    assert_eq!(&body[..7], b"\0\x04MQTT\x04");
    assert_eq!(
        body[7] & 0xc0,
        0xc0,
        "user name and password flags: {body:?}"
    );
    assert!(body.ends_with(b"\0\x04nopw\0\0"), "{body:?}");
    // Positive control: a one-letter password shows as one.
    let body = connect_packet(&["-u", "nopw", "-P", "x"]);
    assert!(body.ends_with(b"\0\x04nopw\0\x01x"), "{body:?}");
    // Without a terminal, `-P -t ...` asks for the prompt and says it cannot.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(bin())
        .args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            "1",
            "-u",
            "nopw",
            "-P",
            "-t",
            "x",
            "-m",
            "x",
        ])
        .env_remove("MQTK_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot prompt for the password"), "{err}");
}

// ---- the environment ---------------------------------------------------------------------------

/// B3: `sub` takes its filter, count, timeout and format from MQTK_TOPIC, MQTK_COUNT,
/// MQTK_TIMEOUT and MQTK_FORMAT_STRING (it ignored them, and waited for ever).
#[test]
fn sub_takes_topic_count_timeout_and_format_from_the_environment() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("envsub");
    mosquitto_pub(&broker, &["-t", &topic, "-m", "kept", "-r"]);
    let out = cmd()
        .arg("sub")
        .env("MQTK_HOST", "127.0.0.1")
        .env("MQTK_PORT", broker.port.to_string())
        .env("MQTK_TOPIC", &topic)
        .env("MQTK_COUNT", "1")
        .env("MQTK_TIMEOUT", "10")
        .env("MQTK_FORMAT_STRING", "%t=%p r%r")
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{topic}=kept r1\n")
    );

    // MQTK_TIMEOUT alone ends a wait for a message that never comes: exit 27.
    let quiet = unique_topic("envquiet");
    let start = Instant::now();
    let out = cmd()
        .args(["sub", "-C", "1"])
        .args(broker.args())
        .env("MQTK_TOPIC", &quiet)
        .env("MQTK_TIMEOUT", "0.5")
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 27, "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));

    // -t on the command line replaces MQTK_TOPIC (the retained message is not printed).
    let mut s = MqtkChild::subscribed(&[
        "sub",
        "-h",
        "127.0.0.1",
        "-p",
        &broker.port.to_string(),
        "-t",
        &quiet,
        "-C",
        "1",
    ]);
    mosquitto_pub(&broker, &["-t", &quiet, "-m", "typed"]);
    assert_eq!(s.wait(WAIT), 0, "{}", s.stderr());
    assert_eq!(s.stdout(), "typed\n");
}

/// rr reads its topics and timeout from the environment too.
#[test]
fn rr_takes_its_topics_and_timeout_from_the_environment() {
    let broker = Broker::start(BrokerConfig::plain());
    let out = cmd()
        .args(["rr", "-m", "ping"])
        .args(broker.args())
        .env("MQTK_TOPIC", unique_topic("envrr"))
        .env("MQTK_RESPONSE_TOPIC", unique_topic("envrr/reply"))
        .env("MQTK_TIMEOUT", "0.5")
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(
        code, 27,
        "no responder: the timeout from MQTK_TIMEOUT ends it: {err}"
    );
}

/// An invalid value from the environment is a usage error naming the variable, before any
/// connection (the broker here would accept one).
#[test]
fn invalid_values_from_the_environment_name_the_variable() {
    let broker = Broker::start(BrokerConfig::plain());
    let port = broker.port.to_string();
    for (command, var, value, why) in [
        ("pub", "MQTK_PORT", "abc", "invalid digit found in string"),
        ("pub", "MQTK_PORT", "0", "0 is not in 1..=65535"),
        ("pub", "MQTK_QOS", "3", "expected 0, 1 or 2"),
        ("pub", "MQTK_DEBUG", "maybe", "expected 1 or 0"),
        (
            "pub",
            "MQTK_TLS_VERSION",
            "tls1",
            "expected tlsv1.2 or tlsv1.3",
        ),
        (
            "pub",
            "MQTK_PROTOCOL_VERSION",
            "31",
            "MQTT 3.1 is not supported",
        ),
        (
            "pub",
            "MQTK_REPEAT_DELAY",
            "1e300",
            "expected a number of seconds",
        ),
        (
            "sub",
            "MQTK_TIMEOUT",
            "-1",
            "expected a number of seconds greater than 0",
        ),
        ("sub", "MQTK_COUNT", "0", "0 is not in 1.."),
        (
            "sub",
            "MQTK_FORMAT",
            "xml",
            "expected plain, json, hex or base64",
        ),
        ("rr", "MQTK_KEEPALIVE", "1", "1 is not in 5..=65535"),
        ("passwd", "MQTK_ITERATIONS", "0", "0 is not in 1..=10000000"),
    ] {
        // The broker in a URL: a -p here would replace MQTK_PORT.
        let url = format!("mqtt://127.0.0.1:{port}/x");
        let target = ["-L", url.as_str()];
        let args: Vec<&str> = match command {
            "passwd" => vec!["-b", "/nonexistent/passwd", "u", "p"],
            "pub" => [&target[..], &["-n"]].concat(),
            "rr" => [&target[..], &["-n", "-e", "x"]].concat(),
            _ => target.to_vec(),
        };
        let out = cmd()
            .arg(command)
            .args(args)
            .env(var, value)
            .output()
            .unwrap();
        let (code, err) = code_and_stderr(&out);
        let want = format!("mqtk {command}: error: invalid {var} \"{value}\" ({why}");
        assert_eq!(code, 2, "{var}={value}: {err}");
        assert!(err.starts_with(&want), "{var}={value}: {err}");
        assert!(!err.contains("'--"), "{var}={value} names a flag: {err}");
    }
    let log = broker.log();
    assert!(!log.contains("New client connected"), "{log}");
    // A flag on the command line replaces the variable, so its bad value does not matter.
    let out = cmd()
        .args(["pub", "-h", "127.0.0.1", "-p", &port, "-t", "x", "-m", "ok"])
        .env("MQTK_PORT", "abc")
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 0, "{err}");
    // The broker's log reaches us through a pipe: the line may follow the exit by a moment.
    wait_for(Duration::from_secs(5), || {
        broker.log().contains("New client connected")
    });
}

/// A variable is a default: it gives way to a command-line flag it cannot go with, and one
/// that qualifies another flag (MQTK_WILL_QOS) does not need it; two variables that cannot go
/// together are named as variables.
#[test]
fn variables_give_way_to_flags_they_conflict_with() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("envyield");
    mosquitto_pub(&broker, &["-t", &topic, "-m", "kept", "-r"]);
    let sub = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = cmd();
        c.arg("sub")
            .args(broker.args())
            .args(["-t", &topic, "-C", "1", "-W", "10"]);
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    };
    for (env, args, want) in [
        (
            &[("MQTK_FORMAT", "json")][..],
            &["-F", "<%p>"][..],
            "<kept>\n",
        ),
        (
            &[("MQTK_FORMAT_STRING", "<%p>")],
            &["--format", "hex"],
            "6b657074\n",
        ),
        (&[("MQTK_NO_RETAINED", "1")], &["--retained-only"], "kept\n"),
        (
            &[("MQTK_NO_RETAINED", "0"), ("MQTK_RETAINED_ONLY", "1")],
            &[],
            "kept\n",
        ),
        (
            &[("MQTK_ID", "envyield-id")],
            &["-I", "envyield-prefix-"],
            "kept\n",
        ),
        (
            &[("MQTK_WILL_QOS", "1"), ("MQTK_WILL_RETAIN", "yes")],
            &[],
            "kept\n",
        ),
    ] {
        let out = sub(env, args);
        let (code, err) = code_and_stderr(&out);
        assert_eq!(code, 0, "{env:?} {args:?}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{env:?} {args:?}"
        );
    }
    let out = sub(&[("MQTK_ID", "a"), ("MQTK_ID_PREFIX", "b")], &[]);
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("mqtk sub: error: the argument MQTK_ID cannot be used with MQTK_ID_PREFIX"),
        "{err}"
    );
}

/// `--help` shows every option's variable, and whether a secret is set, never its value.
#[test]
fn help_names_the_variables_but_not_secret_values() {
    let out = cmd()
        .args(["sub", "--help"])
        .env("MQTK_PASSWORD", "hunter2")
        .env("MQTK_URL", "mqtt://u:hunter2@h/t")
        .env("MQTK_HOST", "visible.example")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "MQTK_TOPIC",
        "MQTK_TIMEOUT",
        "MQTK_COUNT",
        "MQTK_FORMAT_STRING",
        "MQTK_FORMAT",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "{var}:\n{help}");
    }
    assert!(help.contains("MQTK_HOST=visible.example"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}

// ---- profiles ----------------------------------------------------------------------------------

/// A config dir with `text` as mqtk/config.toml.
fn config(dir: &Path, text: &str) -> PathBuf {
    let xdg = dir.join("xdg");
    fs::create_dir_all(xdg.join("mqtk")).unwrap();
    fs::write(xdg.join("mqtk/config.toml"), text).unwrap();
    xdg
}

/// D14: a bad profile value names the key, the profile and the file, never `--port`.
#[test]
fn bad_profile_values_name_the_profile_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = config(
        dir.path(),
        "[profile.lab]\nport = \"abc\"\n[profile.big]\nport = 70000\n\
         [profile.prop]\nproperty = \"connect\"\n[profile.flag]\ninsecure = \"yes\"\n\
         [profile.float]\nkeepalive = 1.5\n[profile.nokey]\nqos = 1\n",
    );
    let file = xdg.join("mqtk/config.toml").display().to_string();
    for (profile, want) in [
        (
            "lab",
            format!("invalid port \"abc\" in [profile.lab] of {file} (invalid digit"),
        ),
        (
            "big",
            format!("invalid port \"70000\" in [profile.big] of {file} (70000 is not in"),
        ),
        (
            "prop",
            format!("property in [profile.prop] of {file}: -D properties cannot come"),
        ),
        (
            "flag",
            format!("insecure in [profile.flag] of {file} must be true or false"),
        ),
        (
            "float",
            format!("keepalive in [profile.float] of {file} must be a string, a number"),
        ),
        (
            "nokey",
            format!("\"qos\" in [profile.nokey] of {file} is not a connection flag"),
        ),
    ] {
        let out = cmd()
            .env("XDG_CONFIG_HOME", &xdg)
            .args(["pub", "--profile", profile, "-t", "x", "-m", "x"])
            .output()
            .unwrap();
        let (code, err) = code_and_stderr(&out);
        assert_eq!(code, 2, "{profile}: {err}");
        assert!(
            err.starts_with(&format!("mqtk pub: error: {want}")),
            "{profile}: {err}"
        );
        assert!(
            !err.contains("--port") && !err.contains("'--"),
            "{profile}: {err}"
        );
    }
}

/// A flag switched off in the environment beats the profile's `true`; the profile's value
/// applies otherwise. Profile strings are taken whole (`pw = "-sekrit"` is not split into flags).
#[test]
fn a_flag_switched_off_in_the_environment_beats_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(BrokerConfig::plain());
    let xdg = config(
        dir.path(),
        &format!(
            "[profile.d]\nhost = \"127.0.0.1\"\nport = {}\ndebug = true\n\
             will-topic = \"-w\"\nwill-payload = \"-1\"\n",
            broker.port
        ),
    );
    let run = |env: Option<(&str, &str)>| {
        let mut c = cmd();
        c.env("XDG_CONFIG_HOME", &xdg)
            .args(["pub", "--profile", "d", "-t", "x", "-m", "x"]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let (code, err) = code_and_stderr(&run(None));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("sending CONNECT"), "{err}");
    let (code, err) = code_and_stderr(&run(Some(("MQTK_DEBUG", "0"))));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("sending CONNECT"), "{err}");
}

// ---- secrets -----------------------------------------------------------------------------------

/// D10: a URL error from -L, MQTK_URL or a profile's url shows the URL with `***` for the
/// password, whatever is wrong with it.
#[test]
fn url_errors_never_print_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let bad_urls = [
        "mqtt://alice:sekrit-pw-1@127.0.0.1:189100/auth/x",
        "mqtt://alice:sekrit-pw-1@/auth/x",
        "mqtt://alice:sekrit-pw-1@h h/auth/x",
        "mqtt://alice:sekrit-pw-1@[::1/auth/x",
        "mqtt://al%ffice:sekrit-pw-1@h/x",
        "http://alice:sekrit-pw-1@h/x",
        "mqtt://alice:sekrit/pw-1@h:x/t",
    ];
    for url in bad_urls {
        let xdg = config(dir.path(), &format!("[profile.u]\nurl = \"{url}\"\n"));
        let runs = [
            (
                "-L",
                cmd().args(["pub", "-m", "hi", "-L", url]).output().unwrap(),
            ),
            (
                "MQTK_URL",
                cmd()
                    .args(["pub", "-m", "hi"])
                    .env("MQTK_URL", url)
                    .output()
                    .unwrap(),
            ),
            (
                "profile",
                cmd()
                    .args(["pub", "-m", "hi", "--profile", "u"])
                    .env("XDG_CONFIG_HOME", &xdg)
                    .output()
                    .unwrap(),
            ),
        ];
        for (how, out) in runs {
            let (code, err) = code_and_stderr(&out);
            assert_eq!(code, 2, "{how} {url}: {err}");
            assert!(err.contains("invalid URL \""), "{how} {url}: {err}");
            assert!(err.contains(":***@"), "{how} {url}: {err}");
            assert!(
                !err.contains("sekrit") && !err.contains("pw-1"),
                "{how} {url}: {err}"
            );
        }
    }
}

/// No password in `-d` traces or error lines, from any source; the trace does say one is set.
#[test]
fn no_password_in_debug_traces_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let broker = dash_password_broker(dir.path());
    let pwfile = dir.path().join("pw");
    fs::write(&pwfile, "-secret\n").unwrap();
    let url = format!("mqtt://leaduser:-secret@127.0.0.1:{}/sec/url", broker.port);
    let base = |c: &mut assert_cmd::Command| {
        c.args(["pub", "-d", "-q", "1", "-m", "x", "-u", "leaduser", "-i"])
            .arg(unique_id("hidden"))
            .args(broker.args());
    };
    let mut runs: Vec<(&str, Output)> = Vec::new();
    let mut c = cmd();
    base(&mut c);
    runs.push((
        "env",
        c.args(["-t", "sec/a"])
            .env("MQTK_PASSWORD", "-secret")
            .output()
            .unwrap(),
    ));
    let mut c = cmd();
    base(&mut c);
    runs.push((
        "file",
        c.args(["-t", "sec/b", "--password-file"])
            .arg(&pwfile)
            .output()
            .unwrap(),
    ));
    let out = cmd()
        .args(["pub", "-d", "-q", "1", "-m", "x", "-L", &url])
        .output()
        .unwrap();
    runs.push(("url", out));
    for (how, out) in &runs {
        let (code, err) = code_and_stderr(out);
        assert_eq!(code, 0, "{how}: {err}");
        assert!(err.contains("password set"), "{how}: {err}");
        assert!(!err.contains("secret"), "{how}: {err}");
    }
    // Refused: a wrong password (given in the environment) is not echoed either.
    let mut c = cmd();
    base(&mut c);
    let out = c
        .args(["-t", "sec/c"])
        .env("MQTK_PASSWORD", "-wrong-one")
        .output()
        .unwrap();
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("wrong-one"), "{err}");
}

/// The argv of a running `mqtk sub`, read from /proc.
fn cmdline(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// The pid of the running mqtk whose argv holds `needle` (not the `script` around it).
fn mqtk_with(needle: &str) -> Option<u32> {
    let program = bin().display().to_string();
    fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let raw = fs::read(e.path().join("cmdline")).ok()?;
        let argv = String::from_utf8_lossy(&raw);
        let mut words = argv.split('\0');
        (words.next() == Some(program.as_str()) && words.any(|w| w == needle)).then_some(pid)
    })
}

/// A password from the environment, a file or the prompt never appears in the process's argv
/// (what `ps` shows other users), checked while `mqtk sub` runs; a password typed after -P
/// does appear there, which shows the check can see one.
#[test]
fn a_password_from_the_environment_a_file_or_the_prompt_is_not_in_argv() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    add_user(&file, "sensor", "pw-in-argv-7");
    let broker = Broker::start(BrokerConfig::password(&file));
    let pwfile = dir.path().join("sensor.pw");
    fs::write(&pwfile, "pw-in-argv-7\n").unwrap();
    let port = broker.port.to_string();
    let running = |how: &str, extra: &[&str], env: Option<&str>| {
        let id = unique_id(&format!("argv-{how}"));
        let mut c = std_cmd();
        c.args([
            "sub",
            "-d",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "sensor",
            "-t",
            "a/#",
        ])
        .args(["-i", &id])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(pw) = env {
            c.env("MQTK_PASSWORD", pw);
        }
        let mut child = c.spawn().unwrap();
        let mut err = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&seen).contains("received SUBACK") {
            let n = err.read(&mut buf).unwrap();
            assert!(n > 0, "{how}: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        let argv = cmdline(child.id());
        let _ = child.kill();
        let _ = child.wait();
        argv
    };
    let argv = running("env", &[], Some("pw-in-argv-7"));
    assert!(argv.contains("-u sensor"), "{argv}");
    assert!(!argv.contains("pw-in-argv-7"), "{argv}");
    let pwpath = pwfile.display().to_string();
    let argv = running("file", &["--password-file", &pwpath], None);
    assert!(!argv.contains("pw-in-argv-7"), "{argv}");
    // Positive control.
    let argv = running("argv", &["-P", "pw-in-argv-7"], None);
    assert!(argv.contains("pw-in-argv-7"), "{argv}");

    // The prompt: `script` gives mqtk a terminal; the password is typed once it asks.
    let id = unique_id("argv-prompt");
    let line = format!(
        "{} sub -d -h 127.0.0.1 -p {port} -u sensor -t 'a/#' -i {id} -P",
        bin().display()
    );
    let mut term = Terminal::spawn(&line);
    term.wait_for("Password: ", WAIT);
    term.type_line("pw-in-argv-7");
    term.wait_for("received SUBACK", WAIT);
    let screen = term.screen().to_string();
    let pid = mqtk_with(&id).expect("the running mqtk sub");
    let argv = cmdline(pid);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    term.kill();
    assert!(argv.contains(&id), "{argv}");
    assert!(!argv.contains("pw-in-argv-7"), "{argv}");
    assert!(
        !screen.contains("pw-in-argv-7"),
        "the password was echoed: {screen:?}"
    );
}
