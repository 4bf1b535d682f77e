//! `mqtk sub` against a real mosquitto, with mosquitto_pub as the sender.

use std::time::Duration;

use serde_json::Value;

use crate::support::subscriber::Subscriber;
use crate::support::{
    Broker, BrokerConfig, MqtkChild, cmd, dynsec_broker, mosquitto_pub, unique_id, unique_topic,
};

const LIMIT: Duration = Duration::from_secs(15);

/// `mqtk sub <broker> <args>` in the background, returned once it is subscribed.
fn sub(broker: &Broker, args: &[&str]) -> MqtkChild {
    let mut all: Vec<String> = vec!["sub".into()];
    all.extend(broker.args());
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    MqtkChild::subscribed(&all)
}

fn sub_args(broker: &Broker, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = vec!["sub".into()];
    all.extend(broker.args());
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

#[test]
fn prints_payloads_and_exits_after_count() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("count");
    let mut s = sub(&broker, &["-t", &t, "-C", "3"]);
    for m in ["one", "two words", "three"] {
        mosquitto_pub(&broker, &["-t", &t, "-m", m]);
    }
    assert_eq!(s.wait(LIMIT), 0, "{}", s.stderr());
    assert_eq!(s.stdout(), "one\ntwo words\nthree\n");
}

#[test]
fn verbose_shows_the_topic_and_null_for_empty_payloads() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("verbose");
    let mut s = sub(&broker, &["-t", &format!("{t}/#"), "-v", "-C", "2"]);
    mosquitto_pub(&broker, &["-t", &format!("{t}/a"), "-m", "hello world"]);
    mosquitto_pub(&broker, &["-t", &format!("{t}/b"), "-n"]);
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), format!("{t}/a hello world\n{t}/b (null)\n"));
}

#[test]
fn no_newline_and_empty_payloads_count_but_print_nothing() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("nonl");
    let mut s = sub(&broker, &["-t", &t, "-N", "-C", "3"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "a"]);
    mosquitto_pub(&broker, &["-t", &t, "-n"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "b"]);
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), "ab");
}

#[test]
fn timeout_exits_27_and_says_so_unless_quiet() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("timeout");
    let mut args = sub_args(&broker, &["-t", &t, "-W", "0.5"]);
    cmd()
        .args(&args)
        .assert()
        .code(27)
        .stdout("")
        .stderr("mqtk sub: error: timed out\n");
    args.push("--quiet".into());
    cmd().args(&args).assert().code(27).stderr("");
}

#[test]
fn timeout_counts_while_the_broker_is_unreachable_too() {
    // Nothing listens there: -W still bounds the run (exit 3 comes first if refused at once).
    let port = crate::support::free_port().to_string();
    cmd()
        .args(["sub", "-h", "127.0.0.1", "-p", &port, "-t", "x", "-W", "5"])
        .assert()
        .code(3);
}

#[test]
fn exit_after_suback() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("suback");
    cmd()
        .args(sub_args(&broker, &["-t", &t, "-E"]))
        .assert()
        .success()
        .stdout("");
}

#[test]
fn skip_retained_on_311_and_5() {
    let broker = Broker::start(BrokerConfig::plain());
    for v in ["311", "5"] {
        let t = unique_topic("noret");
        mosquitto_pub(&broker, &["-t", &t, "-m", "old", "-r"]);
        let mut s = sub(&broker, &["-t", &t, "-R", "-C", "1", "-V", v]);
        mosquitto_pub(&broker, &["-t", &t, "-m", "new"]);
        assert_eq!(s.wait(LIMIT), 0);
        assert_eq!(s.stdout(), "new\n", "-V {v}");
    }
}

/// Retained messages only, then exit 0 by itself: no live message and no -W needed.
#[test]
fn retained_only_prints_the_retained_messages_and_ends() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("retonly");
    mosquitto_pub(&broker, &["-t", &format!("{t}/a"), "-m", "ra", "-r"]);
    mosquitto_pub(&broker, &["-t", &format!("{t}/b"), "-m", "rb", "-r"]);
    let mut s = MqtkChild::spawn(
        &sub_args(&broker, &["-t", &format!("{t}/#"), "--retained-only", "-v"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(s.wait(LIMIT), 0, "{}", s.stderr());
    let mut lines: Vec<String> = s.stdout().lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, [format!("{t}/a ra"), format!("{t}/b rb")]);
}

#[test]
fn retained_only_and_no_retained_conflict() {
    cmd()
        .args(["sub", "-t", "x", "-R", "--retained-only"])
        .assert()
        .code(2);
}

#[test]
fn remove_retained_with_count_exits_and_clears() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("remove");
    for n in ["1", "2", "3"] {
        mosquitto_pub(&broker, &["-t", &format!("{t}/{n}"), "-m", n, "-r"]);
    }
    // mosquitto_sub hangs here forever; we wait for the clears' PUBACKs and exit.
    cmd()
        .args(sub_args(
            &broker,
            &[
                "-t",
                &format!("{t}/#"),
                "--remove-retained",
                "-C",
                "3",
                "-W",
                "10",
            ],
        ))
        .timeout(LIMIT)
        .assert()
        .success();
    // Nothing retained is left: a fresh --retained-only subscriber prints nothing before the
    // live message ends it.
    let mut s = sub(&broker, &["-t", &format!("{t}/#"), "--retained-only", "-v"]);
    mosquitto_pub(&broker, &["-t", &format!("{t}/1"), "-m", "live"]);
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), "");
}

#[test]
fn filter_out_hides_matching_topics_and_they_do_not_count() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("filterout");
    let mut s = sub(
        &broker,
        &[
            "-t",
            &format!("{t}/#"),
            "-T",
            &format!("{t}/skip/#"),
            "-T",
            &format!("{t}/+/noise"),
            "-v",
            "-C",
            "2",
        ],
    );
    for (topic, m) in [
        ("skip/x", "1"),
        ("a", "2"),
        ("skip", "3"),
        ("b/noise", "4"),
        ("b", "5"),
    ] {
        mosquitto_pub(&broker, &["-t", &format!("{t}/{topic}"), "-m", m]);
    }
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), format!("{t}/a 2\n{t}/b 5\n"));
}

#[test]
fn unsubscribe_removes_a_filter_from_a_persistent_session() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("unsub");
    let id = unique_id("unsub");
    let (a, b) = (format!("{t}/a"), format!("{t}/b"));
    let base = ["-c", "-i", &id, "-q", "1"];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        cmd().args(sub_args(&broker, &args)).assert().success();
    };
    run(&["-t", &a, "-t", &b, "-E"]);
    run(&["-U", &b, "-E"]);
    // Offline: queued for the session only where it is still subscribed.
    mosquitto_pub(&broker, &["-t", &b, "-m", "dropped", "-q", "1"]);
    mosquitto_pub(&broker, &["-t", &a, "-m", "kept", "-q", "1"]);
    let mut args: Vec<&str> = base.to_vec();
    args.extend_from_slice(&["-t", &a, "-C", "1", "-v"]);
    let out = cmd()
        .args(sub_args(&broker, &args))
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{a} kept\n"));
}

#[test]
fn invalid_filters_and_v5_options_on_311_are_usage_errors() {
    // Nothing listens on port 1: a usage error must come before any connection attempt.
    for args in [
        &["-t", "a/b+"][..],
        &["-t", "a/#/b"],
        &["-t", ""],
        &["-t", "ok", "-T", "x#"],
        &["-t", "ok", "-U", "+x"],
        &["-t", "ok", "--no-local"],
        &["-t", "ok", "--retain-as-published"],
        &["-t", "ok", "--retain-handling", "1"],
        &["-t", "ok", "-V", "5", "--retain-handling", "3"],
        &["-t", "ok", "-F", "%Z"],
        &["-t", "ok", "-F", "%j", "--format", "json"],
        &["-t", "ok", "-C", "0"],
        &["-t", "ok", "-W", "0"],
        &["-t", "ok", "-D", "publish", "content-type", "x"],
        &[],
    ] {
        let mut all = vec!["sub", "-h", "127.0.0.1", "-p", "1"];
        all.extend_from_slice(args);
        cmd().args(&all).assert().code(2);
    }
}

#[test]
fn format_string_on_311() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("fmt3");
    let mut s = sub(
        &broker,
        &[
            "-t",
            &t,
            "-q",
            "1",
            "-C",
            "1",
            "-F",
            "[%t] [%10p] [%-8p] [%x] [%X] [%05l] [%-3l] [%q] [%r] [%m] [%.3t] [%C] [%5R] %%\\t@@",
        ],
    );
    mosquitto_pub(&broker, &["-t", &t, "-m", "message", "-q", "1"]);
    assert_eq!(s.wait(LIMIT), 0);
    let out = s.stdout();
    assert_eq!(
        out,
        format!(
            "[{t}] [   message] [message ] [6d657373616765] [6D657373616765] [00007] [7  ] [1] \
             [0] [1] [{}] [] [     ] %\t@\n",
            &t[..3]
        )
    );
}

/// The help's own example, `%.10p`, cuts the payload; a JSON specifier with a width is
/// refused before connecting.
#[test]
fn format_string_precision_cuts_the_payload_as_the_help_says() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("fmtp");
    let mut s = sub(
        &broker,
        &["-t", &t, "-C", "1", "-F", "[%.10p] [%.4t] [%.3l]"],
    );
    mosquitto_pub(&broker, &["-t", &t, "-m", "abcdefghijklmnopqrstuvwxyz"]);
    assert_eq!(s.wait(LIMIT), 0, "{}", s.stderr());
    assert_eq!(s.stdout(), format!("[abcdefghij] [{}] [026]\n", &t[..4]));
    let out = cmd()
        .args(sub_args(&broker, &["-t", &t, "-F", "%5j"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("mqtk sub: error: %j takes no flags, width or precision"),
        "{err}"
    );
}

#[test]
fn format_string_on_5_shows_properties() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("fmt5");
    let mut s = sub(
        &broker,
        &[
            "-t",
            &t,
            "-V",
            "5",
            "-D",
            "subscribe",
            "subscription-identifier",
            "56",
            "-C",
            "1",
            "-F",
            "%C|%R|%D|%E|%F|%P|%S|%-6S|%p",
        ],
    );
    mosquitto_pub(
        &broker,
        &[
            "-t",
            &t,
            "-m",
            "body",
            "-V",
            "5",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "response-topic",
            "replies/1",
            "-D",
            "publish",
            "correlation-data",
            "c123",
            "-D",
            "publish",
            "message-expiry-interval",
            "3600",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "user-property",
            "k",
            "v1",
            "-D",
            "publish",
            "user-property",
            "k",
            "v2",
        ],
    );
    assert_eq!(s.wait(LIMIT), 0);
    let out = s.stdout();
    // The expiry is counted down by the broker: 3600 or, at a second boundary, 3599.
    let expected = |e: u32| format!("text/plain|replies/1|c123|{e}|1|k:v1 k:v2|56|56    |body\n");
    assert!(out == expected(3600) || out == expected(3599), "{out:?}");
}

#[test]
fn json_outputs_parse_and_keep_binary_payloads() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("json");
    let bin = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bin.path(), [0u8, 0xff, 0x00, 0x80]).unwrap();
    let bin_path = bin.path().to_str().unwrap();
    for (args, v5) in [
        (&["--format", "json"][..], false),
        (&["-F", "%j"], false),
        (&["-F", "%j", "-V", "5"], true),
        (&["--format", "json", "--pretty", "-N"], false),
    ] {
        let mut all = vec!["-t", &t, "-C", "3", "-q", "1"];
        all.extend_from_slice(args);
        let mut s = sub(&broker, &all);
        mosquitto_pub(&broker, &["-t", &t, "-m", "{\"led\":\"on\"}", "-q", "1"]);
        mosquitto_pub(&broker, &["-t", &t, "-f", bin_path]);
        let mut p = vec!["-t", t.as_str(), "-m", "with props"];
        if v5 {
            p.extend_from_slice(&["-V", "5", "-D", "publish", "user-property", "a", "b"]);
        }
        mosquitto_pub(&broker, &p);
        assert_eq!(s.wait(LIMIT), 0, "{args:?}: {}", s.stderr());
        let out = s.stdout();
        let values: Vec<Value> = serde_json::Deserializer::from_str(&out)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"));
        assert_eq!(values.len(), 3, "{args:?}: {out}");
        assert_eq!(values[0]["topic"], t.as_str());
        assert_eq!(values[0]["payload"], "{\"led\":\"on\"}", "{args:?}");
        assert_eq!(values[0]["qos"], 1);
        assert_eq!(values[1]["payload"], "AP8AgA==", "{args:?}");
        assert_eq!(values[1]["payload_encoding"], "base64");
        if v5 {
            assert_eq!(
                values[2]["properties"]["user-properties"],
                serde_json::json!([["a", "b"]])
            );
        } else {
            assert!(values[2].get("properties").is_none());
        }
        if args[0] == "--format" {
            assert_eq!(values[0]["retain"], false);
            assert!(values[0]["received"].is_string());
        } else {
            assert_eq!(values[0]["retain"], 0);
            assert!(values[0]["tst"].is_string());
        }
    }
}

#[test]
fn embedded_json_skips_invalid_payloads_with_an_error() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("jsonJ");
    let mut s = sub(&broker, &["-t", &t, "-C", "2", "-F", "%J"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "{\"led\":\"on\",\"n\":[1,2]}"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "not json"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "42"]);
    assert_eq!(s.wait(LIMIT), 0);
    let lines: Vec<Value> = s
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["payload"],
        serde_json::json!({"led": "on", "n": [1, 2]})
    );
    assert_eq!(lines[1]["payload"], 42);
    assert!(
        s.stderr()
            .contains(&format!("payload on topic {t} is not valid JSON")),
        "{}",
        s.stderr()
    );
}

#[test]
fn hex_and_base64_output() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("hex");
    for (fmt, expected) in [("hex", "686921"), ("base64", "aGkh")] {
        let mut s = sub(&broker, &["-t", &t, "-C", "1", "--format", fmt, "-v"]);
        mosquitto_pub(&broker, &["-t", &t, "-m", "hi!"]);
        assert_eq!(s.wait(LIMIT), 0);
        assert_eq!(s.stdout(), format!("{t} {expected}\n"));
    }
}

#[test]
fn retain_as_published_and_retain_handling() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("rap");
    // A live retained publish arrives with retain 0, unless retain-as-published.
    for (rap, flag) in [(false, "0"), (true, "1")] {
        let mut args = vec![
            "-t",
            &t,
            "-V",
            "5",
            "-C",
            "1",
            "-F",
            "%r %p",
            "--retain-handling",
            "2",
        ];
        if rap {
            args.push("--retain-as-published");
        }
        let mut s = sub(&broker, &args);
        mosquitto_pub(&broker, &["-t", &t, "-m", "x", "-r"]);
        assert_eq!(s.wait(LIMIT), 0);
        assert_eq!(s.stdout(), format!("{flag} x\n"), "rap {rap}");
    }
    // retain-handling 1: retained messages only for a new subscription.
    let id = unique_id("rh1");
    let run = || {
        let mut s = sub(
            &broker,
            &[
                "-t",
                &t,
                "-V",
                "5",
                "-c",
                "-i",
                &id,
                "--retain-handling",
                "1",
                "-C",
                "1",
                "-F",
                "%r %p",
            ],
        );
        // After the retained message (if any) the broker sends this live one.
        mosquitto_pub(&broker, &["-t", &t, "-m", "live"]);
        assert_eq!(s.wait(LIMIT), 0);
        s.stdout()
    };
    assert_eq!(run(), "1 x\n", "new subscription: the retained message");
    assert_eq!(
        run(),
        "0 live\n",
        "existing subscription: no retained message"
    );
}

#[test]
fn no_local_keeps_our_own_publishes_away() {
    // Our only publishes are --remove-retained's clears. The broker echoes each one back (an
    // empty live message, which sub hides) unless the subscription has no-local: count the
    // PUBLISH packets received in the -d trace.
    let broker = Broker::start(BrokerConfig::plain());
    for (no_local, received) in [(false, 2), (true, 1)] {
        let t = unique_topic("nolocal");
        mosquitto_pub(&broker, &["-t", &t, "-m", "r", "-r"]);
        let mut args = vec![
            "-t",
            t.as_str(),
            "-V",
            "5",
            "--remove-retained",
            "-C",
            "1",
            "-d",
        ];
        if no_local {
            args.push("--no-local");
        }
        let out = cmd()
            .args(sub_args(&broker, &args))
            .timeout(LIMIT)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "r\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.matches("received PUBLISH").count(),
            received,
            "no-local {no_local}:\n{err}"
        );
    }
}

#[test]
fn all_filters_refused_exits_5_and_some_refused_warns() {
    let broker = dynsec_broker();
    let t = unique_topic("refused");
    // Anonymous clients may subscribe nowhere.
    for (v, code) in [("311", "0x80"), ("5", "0x87")] {
        let out = cmd()
            .args(sub_args(&broker, &["-t", &t, "-t", "other/#", "-V", v]))
            .timeout(LIMIT)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("refused every subscription"), "{err}");
        assert!(err.contains(code), "{err}");
    }
    // reader may subscribe to allowed/# only: the other filter is refused, the rest works.
    let allowed = format!("allowed/{t}");
    let mut s = sub(
        &broker,
        &[
            "-u", "reader", "-P", "readerpw", "-V", "5", "-t", &allowed, "-t", &t, "-C", "1",
        ],
    );
    mosquitto_pub(&broker, &["-t", &allowed, "-m", "hello"]);
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), "hello\n");
    assert!(
        s.stderr()
            .contains("warning: the broker refused one subscription"),
        "{}",
        s.stderr()
    );
    assert!(s.stderr().contains("0x87"), "{}", s.stderr());
}

#[test]
fn sigterm_and_sigint_disconnect_cleanly_so_the_will_is_not_published() {
    let broker = Broker::start(BrokerConfig::plain());
    let will = unique_topic("will");
    let watcher = Subscriber::start(&broker, &will, 1);
    for sig in ["TERM", "INT"] {
        let t = unique_topic("sig");
        let mut s = sub(
            &broker,
            &[
                "-t",
                &t,
                "-V",
                "5",
                "--will-topic",
                &will,
                "--will-payload",
                "gone",
            ],
        );
        s.signal(sig);
        assert_eq!(s.wait(LIMIT), 0, "SIG{sig}: {}", s.stderr());
        watcher.assert_nothing(Duration::from_secs(1));
    }
    // The check above can fail: a killed subscriber's Will does arrive.
    let t = unique_topic("sig");
    let mut s = sub(
        &broker,
        &[
            "-t",
            &t,
            "-V",
            "5",
            "--will-topic",
            &will,
            "--will-payload",
            "gone",
        ],
    );
    s.signal("KILL");
    let _ = s.wait_status(LIMIT);
    let got = watcher.take(1, LIMIT);
    assert_eq!(got[0].payload, b"gone");
}

#[test]
fn closed_stdout_ends_quietly() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("pipe");
    let args = sub_args(&broker, &["-t", &t, "-d"]);
    let mut child = crate::support::std_cmd()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx.recv_timeout(LIMIT).expect("no SUBACK");
        if line.contains("received SUBACK") {
            break;
        }
    }
    // Read one line, as `| head -1` would, then close the pipe.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    mosquitto_pub(&broker, &["-t", &t, "-m", "first"]);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "first\n");
    drop(out);
    mosquitto_pub(&broker, &["-t", &t, "-m", "second"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let errors: Vec<String> = rx.try_iter().filter(|l| l.contains("error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn persistent_session_loses_no_qos1_message_across_a_broker_restart() {
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let t = unique_topic("restart");
    let id = unique_id("persist");
    let mut s = sub(&broker, &["-t", &t, "-q", "1", "-c", "-i", &id, "-C", "40"]);
    for n in 0..10 {
        mosquitto_pub(&broker, &["-t", &t, "-m", &format!("m{n}"), "-q", "1"]);
    }
    s.wait_lines(10, LIMIT);
    broker.restart();
    // Published while the subscriber is (most likely) still away: queued for its session.
    for n in 10..40 {
        mosquitto_pub(&broker, &["-t", &t, "-m", &format!("m{n}"), "-q", "1"]);
    }
    assert_eq!(s.wait(Duration::from_secs(60)), 0, "{}", s.stderr());
    let expected: Vec<String> = (0..40).map(|n| format!("m{n}")).collect();
    let got: Vec<String> = s.stdout().lines().map(String::from).collect();
    assert_eq!(got, expected);
    assert!(s.stderr().contains("lost"), "{}", s.stderr());
}

/// `-C N` acknowledges only what it printed: messages that arrived in the same batch after the
/// Nth stay with the broker, and the next run of the same persistent session prints them.
#[test]
fn count_leaves_unprinted_messages_with_a_persistent_session() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("countacks");
    let id = unique_id("countacks");
    let session = ["-t", t.as_str(), "-q", "1", "-c", "-i", id.as_str()];
    // Create the session, then queue 50 messages for it while it is away.
    let mut first = sub(&broker, &[&session[..], &["-E"]].concat());
    assert_eq!(first.wait(LIMIT), 0, "{}", first.stderr());
    let input: String = (0..50).map(|n| format!("m{n}\n")).collect();
    cmd()
        .args(["pub"])
        .args(broker.args())
        .args(["-t", &t, "-q", "1", "-l"])
        .write_stdin(input)
        .assert()
        .success();
    let mut got = Vec::new();
    for count in ["7", "20", "23"] {
        let mut s = MqtkChild::spawn(
            &sub_args(&broker, &[&session[..], &["-C", count]].concat())
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(s.wait(LIMIT), 0, "{}", s.stderr());
        got.extend(s.stdout().lines().map(String::from));
    }
    let expected: Vec<String> = (0..50).map(|n| format!("m{n}")).collect();
    assert_eq!(got, expected);
}

#[test]
fn clean_session_subscribes_again_after_a_broker_restart() {
    let mut broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("resub");
    let mut s = sub(&broker, &["-t", &t, "-C", "2"]);
    mosquitto_pub(&broker, &["-t", &t, "-m", "before"]);
    s.wait_lines(1, LIMIT);
    let acks = s.stderr().matches("received SUBACK").count();
    broker.restart();
    // Wait for the second SUBACK (after the reconnect), then publish.
    crate::support::wait_for(Duration::from_secs(20), || {
        s.stderr().matches("received SUBACK").count() > acks
    });
    mosquitto_pub(&broker, &["-t", &t, "-m", "after"]);
    assert_eq!(s.wait(LIMIT), 0);
    assert_eq!(s.stdout(), "before\nafter\n");
}

/// Publishes retained messages `{prefix}/{i}` = `v{i}` for i in 0..n, at QoS i % 3, and returns
/// once the broker has them all (the last one is acknowledged after the QoS 0 ones before it).
fn retain_many(broker: &Broker, prefix: &str, n: usize) {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{Client, Event, MqttOptions};
    let mut opts = MqttOptions::new(unique_id("retainer"), "127.0.0.1", broker.port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, n + 10);
    let mut acks_due = 0;
    for i in 0..n {
        let qos = match i % 3 {
            0 => QoS::AtMostOnce,
            1 => {
                acks_due += 1;
                QoS::AtLeastOnce
            }
            _ => {
                acks_due += 1;
                QoS::ExactlyOnce
            }
        };
        client
            .publish(format!("{prefix}/{i}"), qos, true, format!("v{i}"))
            .unwrap();
    }
    assert!(
        !(n - 1).is_multiple_of(3),
        "the last message must be acknowledged"
    );
    for event in conn.iter() {
        if let Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_)) =
            event.expect("retainer connection")
        {
            acks_due -= 1;
        }
        if acks_due == 0 {
            break;
        }
    }
    let _ = client.disconnect();
}

/// `--retained-only` ends by itself once the broker has sent every retained message (exit 0,
/// not the -W timeout's 27), at every QoS, also with more retained messages than the broker
/// keeps in flight (`max_inflight_messages 10`: the rest follow our acks); `--remove-retained`
/// clears them all and ends the same way.
fn retained_messages_end_the_run(version: &str) {
    let broker = Broker::start(BrokerConfig::plain().global_line("max_inflight_messages 10"));
    let t = unique_topic("ret500");
    retain_many(&broker, &t, 500);
    let mut expected: Vec<String> = (0..500).map(|i| format!("{t}/{i} v{i}")).collect();
    expected.sort();
    let filter = format!("{t}/#");
    let run = |extra: &[&str]| {
        let out = cmd()
            .args(sub_args(
                &broker,
                &[
                    &["-t", filter.as_str(), "-V", version, "-v", "-W", "60"],
                    extra,
                ]
                .concat(),
            ))
            .timeout(Duration::from_secs(90))
            .output()
            .unwrap();
        let (code, err) = crate::support::status_and_stderr(&out);
        assert_eq!(code, Some(0), "{extra:?}: {err}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    for qos in ["0", "1", "2"] {
        assert_eq!(run(&["--retained-only", "-q", qos]), expected, "-q {qos}");
    }
    assert_eq!(run(&["--remove-retained", "-q", "1"]), expected);
    assert_eq!(run(&["--retained-only"]), Vec::<String>::new());
}

#[test]
fn retained_only_ends_after_500_retained_messages_v311() {
    retained_messages_end_the_run("311");
}

#[test]
fn retained_only_ends_after_500_retained_messages_v5() {
    retained_messages_end_the_run("5");
}

/// Nothing retained: the run ends at once with exit 0 (it used to wait for -W and exit 27).
/// The help's own example, `--remove-retained --retained-only -W 3`, is one of these.
#[test]
fn retained_only_with_nothing_retained_exits_0_at_once() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("noretained");
    let filter = format!("{t}/#");
    for flags in [
        &["--retained-only"][..],
        &["--remove-retained"],
        &["--remove-retained", "--retained-only"],
    ] {
        let started = std::time::Instant::now();
        let out = cmd()
            .args(sub_args(
                &broker,
                &[&["-t", &filter, "-W", "20"], flags].concat(),
            ))
            .output()
            .unwrap();
        assert_eq!(
            crate::support::status_and_stderr(&out),
            (Some(0), String::new()),
            "{flags:?}"
        );
        assert!(out.stdout.is_empty());
        assert!(started.elapsed() < Duration::from_secs(5), "{flags:?}");
    }
}

/// A live message that comes before the broker is through with the retained ones still ends
/// `--retained-only` at once, unprinted and unacknowledged: here one queued for a persistent
/// session, which the broker delivers before it handles the new SUBSCRIBE.
#[test]
fn retained_only_ends_at_a_live_message_that_comes_first() {
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("livefirst");
    let id = unique_id("livefirst");
    let filter = format!("{t}/#");
    let session = ["-t", filter.as_str(), "-q", "1", "-c", "-i", id.as_str()];
    let mut first = sub(&broker, &[&session[..], &["-E"]].concat());
    assert_eq!(first.wait(LIMIT), 0, "{}", first.stderr());
    mosquitto_pub(
        &broker,
        &["-t", &format!("{t}/live"), "-m", "live", "-q", "1"],
    );
    mosquitto_pub(&broker, &["-t", &format!("{t}/old"), "-m", "old", "-r"]);
    let out = cmd()
        .args(sub_args(
            &broker,
            &[&session[..], &["--retained-only", "-v", "-W", "20"]].concat(),
        ))
        .output()
        .unwrap();
    assert_eq!(
        crate::support::status_and_stderr(&out),
        (Some(0), String::new())
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // Control: without the queued live message, the retained one is printed.
    let out = cmd()
        .args(sub_args(
            &broker,
            &["-t", &filter, "--retained-only", "-v", "-W", "20"],
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{t}/old old\n")
    );
}

/// `mqtk sub ... | head -1`: once head has its line and exits, sub ends within a moment
/// although no further message comes, with exit 0, nothing on stderr, and a normal DISCONNECT.
#[test]
fn a_reader_that_exits_ends_sub_without_another_message() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("hangup");
    let id = unique_id("hangup");
    let mut sub = crate::support::std_cmd()
        .args(sub_args(&broker, &["-t", &t, "-i", &id, "-d"]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let head = Command::new("head")
        .args(["-n", "1"])
        .stdin(Stdio::from(sub.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = sub.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    while !rx
        .recv_timeout(LIMIT)
        .expect("no SUBACK")
        .contains("received SUBACK")
    {}
    mosquitto_pub(&broker, &["-t", &t, "-m", "only"]);
    let head = head.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout), "only\n");
    let gone = std::time::Instant::now();
    let status = loop {
        if let Some(status) = sub.try_wait().unwrap() {
            break status;
        }
        if gone.elapsed() > Duration::from_secs(2) {
            let _ = sub.kill();
            panic!("sub still running 2 s after its reader exited");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    let errors: Vec<String> = rx.try_iter().filter(|l| l.contains("error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    crate::support::wait_for(Duration::from_secs(5), || {
        broker.log().contains(&format!("Client {id} disconnected."))
    });
}

/// The notices on stderr say when the connection was lost and when it is back.
#[test]
fn reconnect_notice_says_when_it_is_back() {
    let mut broker = Broker::start(BrokerConfig::plain());
    let t = unique_topic("notice");
    let s = sub(&broker, &["-t", &t]);
    broker.restart();
    s.wait_stderr("reconnected to", Duration::from_secs(20));
    let err = s.stderr();
    let lost = err.find(&format!(
        "mqtk: connection to 127.0.0.1:{} lost",
        broker.port
    ));
    let back = err.find(&format!(
        "mqtk: reconnected to 127.0.0.1:{} after ",
        broker.port
    ));
    assert!(lost.is_some() && lost < back, "{err}");
    assert!(err.contains("s (new session)"), "{err}");
}

/// A long stream arrives in batches (a read's worth at a time, gathered for a moment after a
/// read that emptied the socket): every message is printed once, whole and in the order sent,
/// at each QoS.
#[test]
fn a_stream_of_30000_messages_prints_whole_and_in_order_at_each_qos() {
    let broker = Broker::start(BrokerConfig::plain());
    let n = 30_000;
    // Payloads of several sizes, so packets straddle reads.
    let lines: Vec<String> = (0..n)
        .map(|i| format!("{i}:{}", "x".repeat(i % 300)))
        .collect();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    for qos in ["0", "1", "2"] {
        let t = unique_topic("stream");
        let count = n.to_string();
        let mut s = sub(&broker, &["-t", &t, "-q", qos, "-C", &count]);
        cmd()
            .args(["pub"])
            .args(broker.args())
            .args(["-t", &t, "-q", qos, "-l"])
            .write_stdin(input.clone())
            .timeout(Duration::from_secs(60))
            .assert()
            .success();
        assert_eq!(
            s.wait(Duration::from_secs(60)),
            0,
            "QoS {qos}: {}",
            s.stderr()
        );
        let out = s.stdout();
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(got.len(), n, "QoS {qos}");
        if let Some(i) = (0..n).find(|&i| got[i] != lines[i]) {
            panic!("QoS {qos}: line {i} is {:?}, sent {:?}", got[i], lines[i]);
        }
    }
}
