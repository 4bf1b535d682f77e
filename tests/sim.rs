//! `mqtk sim` against a real mosquitto: the device contract (status, telemetry, commands,
//! reboot, clean stop), reproducible and sharded fleets, `--fail-if` and `--report`, a broker
//! restart, a thousand devices, `--connect-rate`, `--bind-addr`, `--chaos`, TLS, passwords and
//! WebSockets (per-group credentials too), a broker that never answers, the open-file limit,
//! fleet-file errors, plain output off a terminal, and the `mqtk sim` commands of the
//! deployment files (GitHub Actions, Kubernetes, Compose).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::docs::mqtk_invocations;
use crate::support::{
    self, Broker, BrokerConfig, MosquittoSub, MqtkChild, Pki, cmd, mosquitto_pub, unique_topic,
};

/// How long any one wait of these tests may take.
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Running a fleet and watching it

/// `sim -h 127.0.0.1 -p PORT --prefix PREFIX ARGS`.
fn sim_args(broker: &Broker, prefix: &str, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = vec!["sim".into()];
    all.extend(broker.args());
    all.extend(["--prefix".into(), prefix.into()]);
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

/// Runs a fleet to its end.
fn run_sim(broker: &Broker, prefix: &str, args: &[&str]) -> Output {
    cmd()
        .args(sim_args(broker, prefix, args))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Starts a fleet in the background.
fn spawn_sim(broker: &Broker, prefix: &str, args: &[&str]) -> MqtkChild {
    let all = sim_args(broker, prefix, args);
    MqtkChild::spawn(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// How many connections of clients whose id starts with `id` ended without a DISCONNECT, as
/// mosquitto logs it (a FIN; a reset when unread bytes were left).
fn dropped(broker: &Broker, id: &str) -> usize {
    broker
        .log()
        .lines()
        .filter(|l| {
            (l.contains(&format!("Client {id}")) && l.contains("closed its connection"))
                || l.contains(&format!("Socket error on client {id}"))
        })
        .count()
}

/// TCP connections mosquitto accepted, without the harness's probe of its port (always the
/// first, logged a moment after the broker starts).
fn connections(broker: &Broker) -> usize {
    support::wait_for(LIMIT, || broker.log().contains("New connection"));
    log_count(broker, "New connection") - 1
}

/// Lines of the broker's log that contain `needle`.
fn log_count(broker: &Broker, needle: &str) -> usize {
    broker.log().matches(needle).count()
}

/// One message on a device's topic, `<prefix>/<id>/<leaf>` (`id` is `all` for broadcast
/// commands).
#[derive(Debug, Clone)]
struct Msg {
    id: String,
    leaf: String,
    payload: String,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or_else(|e| {
            panic!(
                "{}/{}: not JSON ({e}): {}",
                self.id, self.leaf, self.payload
            )
        })
    }

    fn is(&self, id: &str, leaf: &str) -> bool {
        self.id == id && self.leaf == leaf
    }

    /// Its `status` field, for a message on `/status`.
    fn status(&self) -> Option<String> {
        (self.leaf == "status").then(|| self.json()["status"].as_str().unwrap().to_string())
    }
}

/// A `mosquitto_sub -v` on `<prefix>/#` that keeps what it saw.
struct Watch {
    sub: MosquittoSub,
    prefix: String,
    seen: Vec<Msg>,
}

impl Watch {
    fn start(broker: &Broker, prefix: &str) -> Watch {
        let filter = format!("{prefix}/#");
        Watch {
            sub: MosquittoSub::start(broker, &["-v", "-q", "1", "-t", &filter]),
            prefix: prefix.to_string(),
            seen: Vec::new(),
        }
    }

    fn push(&mut self, line: &str) {
        let (topic, payload) = line.split_once(' ').unwrap_or((line, ""));
        let rest = topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or_else(|| panic!("{topic} is not under {}", self.prefix));
        let (id, leaf) = rest.split_once('/').expect("<prefix>/<id>/<leaf>");
        self.seen.push(Msg {
            id: id.into(),
            leaf: leaf.into(),
            payload: payload.into(),
        });
    }

    /// Reads until `done` holds for everything seen so far; panics after `limit` with the
    /// last messages.
    fn until(&mut self, what: &str, done: impl Fn(&[Msg]) -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{what}: not seen within {LIMIT:?}; the last messages:\n{}",
                self.tail()
            );
            if let Some(line) = self.sub.next_line(left.min(Duration::from_millis(100))) {
                self.push(&line);
            }
        }
    }

    /// Takes what arrives until nothing has for half a second.
    fn settle(&mut self) {
        while let Some(line) = self.sub.next_line(Duration::from_millis(500)) {
            self.push(&line);
        }
    }

    fn of(&self, id: &str, leaf: &str) -> Vec<&Msg> {
        self.seen.iter().filter(|m| m.is(id, leaf)).collect()
    }

    fn statuses(&self, id: &str) -> Vec<String> {
        self.of(id, "status")
            .iter()
            .filter_map(|m| m.status())
            .collect()
    }

    fn tail(&self) -> String {
        let from = self.seen.len().saturating_sub(30);
        self.seen[from..]
            .iter()
            .map(|m| format!("  {}/{} {}\n", m.id, m.leaf, m.payload))
            .collect()
    }
}

/// `done` for `Watch::until`: every device in `ids` has published `status` on /status.
fn all_say<'a>(ids: &'a [String], status: &'static str) -> impl Fn(&[Msg]) -> bool + 'a {
    move |seen| {
        ids.iter().all(|id| {
            seen.iter()
                .any(|m| m.id == *id && m.status().as_deref() == Some(status))
        })
    }
}

fn sensor_ids(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("sensor-{i:04}")).collect()
}

/// The retained messages on `<prefix>/+/<leaf>`, by device, as a subscriber that comes later
/// sees them; panics unless there are `n` and each has the retain flag.
fn retained(broker: &Broker, prefix: &str, leaf: &str, n: usize) -> BTreeMap<String, Value> {
    let filter = format!("{prefix}/+/{leaf}");
    let sub = MosquittoSub::start(broker, &["-F", "%r %t %p", "-t", &filter]);
    let mut out = BTreeMap::new();
    for line in sub.take(n, LIMIT) {
        let mut parts = line.splitn(3, ' ');
        let (flag, topic, payload) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap_or_default(),
        );
        assert_eq!(flag, "1", "not retained: {line}");
        let id = topic
            .strip_prefix(&format!("{prefix}/"))
            .and_then(|t| t.strip_suffix(&format!("/{leaf}")))
            .unwrap();
        out.insert(id.to_string(), serde_json::from_str(payload).unwrap());
    }
    sub.assert_nothing(Duration::from_millis(300));
    out
}

/// Each device's telemetry, in the order received, with `ts` taken out.
fn telemetry_without_ts(watch: &Watch) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in watch.seen.iter().filter(|m| m.leaf == "telemetry") {
        let mut v = m.json();
        assert!(v.as_object_mut().unwrap().remove("ts").is_some(), "{v}");
        out.entry(m.id.clone()).or_default().push(v);
    }
    out
}

/// The `seq` of each message in order.
fn seqs(msgs: &[&Msg]) -> Vec<u64> {
    msgs.iter()
        .map(|m| m.json()["seq"].as_u64().unwrap())
        .collect()
}

fn ts_gaps(msgs: &[&Msg]) -> Vec<u64> {
    let ts: Vec<u64> = msgs
        .iter()
        .map(|m| m.json()["ts"].as_u64().unwrap())
        .collect();
    ts.windows(2).map(|w| w[1].saturating_sub(w[0])).collect()
}

fn median(mut v: Vec<u64>) -> u64 {
    assert!(!v.is_empty());
    v.sort_unstable();
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The device contract

#[test]
fn devices_are_online_publish_numbered_telemetry_and_end_offline() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(3);
    let mut watch = Watch::start(&broker, &prefix);
    let start = now_ms();
    let mut sim = spawn_sim(
        &broker,
        &prefix,
        &["--devices", "3", "--interval", "100ms", "--duration", "3s"],
    );
    watch.until("every device online", all_say(&ids, "online"));
    // Retained: a subscriber that comes later learns at once that they are online.
    let online = retained(&broker, &prefix, "status", 3);
    for id in &ids {
        let s = &online[id];
        assert_eq!(
            (s["status"].as_str(), s["id"].as_str()),
            (Some("online"), Some(id.as_str()))
        );
        let ts = s["ts"].as_u64().unwrap();
        assert!(ts >= start && ts <= now_ms(), "{s}");
    }
    assert_eq!(sim.wait(LIMIT), 0, "{}", sim.stderr());
    let end = now_ms();
    watch.settle();

    for id in &ids {
        let telemetry = watch.of(id, "telemetry");
        // 3 s at 100 ms, minus the time to connect.
        assert!(telemetry.len() >= 20, "{id}: {} messages", telemetry.len());
        assert_eq!(
            seqs(&telemetry),
            (0..telemetry.len() as u64).collect::<Vec<_>>(),
            "{id}: seq counts from 0 without gaps"
        );
        for m in &telemetry {
            let v = m.json();
            let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["device", "ts", "seq", "temp", "hum"]),
                "{v}"
            );
            assert_eq!(v["device"].as_str(), Some(id.as_str()));
            let ts = v["ts"].as_u64().unwrap();
            assert!(ts >= start && ts <= end, "{v}");
            assert!(v["temp"].is_number() && v["hum"].is_number(), "{v}");
        }
        // The clean stop says offline itself (no Will: nothing was dropped).
        assert_eq!(watch.statuses(id), ["online", "offline"], "{id}");
        let offline = watch.of(id, "status").last().unwrap().json();
        assert_eq!(offline, serde_json::json!({"status": "offline", "id": id}));
    }
    let offline = retained(&broker, &prefix, "status", 3);
    assert!(
        offline.values().all(|s| s["status"] == "offline"),
        "{offline:?}"
    );
    assert_eq!(dropped(&broker, "sensor-"), 0, "{}", broker.log());
}

#[test]
fn commands_set_the_led_and_the_interval_and_all_commands_reach_every_device() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(2);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut watch = Watch::start(&broker, &prefix);
    let report_arg = report.display().to_string();
    let mut sim = spawn_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "2",
            "--interval",
            "1s",
            "--duration",
            "20s",
            "--report",
            &report_arg,
        ],
    );
    watch.until("every device online", all_say(&ids, "online"));

    // {"led":"on"}: the retained state follows, and the ack echoes the command's id.
    let commands = |id: &str| format!("{prefix}/{id}/commands");
    mosquitto_pub(
        &broker,
        &[
            "-t",
            &commands("sensor-0001"),
            "-m",
            r#"{"led":"on","id":"c1"}"#,
        ],
    );
    watch.until("the led ack", |seen| {
        seen.iter().any(|m| m.is("sensor-0001", "ack"))
    });
    let ack = watch.of("sensor-0001", "ack")[0].json();
    assert_eq!(
        ack,
        serde_json::json!({"cmd": "led", "ok": true, "id": "c1"})
    );
    let state = retained(&broker, &prefix, "state", 1);
    let s = &state["sensor-0001"];
    assert_eq!(
        (s["id"].as_str(), s["led"].as_str(), s["interval"].as_str()),
        (Some("sensor-0001"), Some("on"), Some("1s")),
        "{s}"
    );

    // {"interval":"200ms"}: that device publishes five times as often, the other does not.
    mosquitto_pub(
        &broker,
        &[
            "-t",
            &commands("sensor-0002"),
            "-m",
            r#"{"interval":"200ms"}"#,
        ],
    );
    watch.until("the interval ack", |seen| {
        seen.iter().any(|m| m.is("sensor-0002", "ack"))
    });
    assert_eq!(
        watch.of("sensor-0002", "ack")[0].json(),
        serde_json::json!({"cmd": "interval", "ok": true})
    );
    let from = watch.seen.len();
    watch.until("eight messages at the new interval", |seen| {
        seen[from..]
            .iter()
            .filter(|m| m.is("sensor-0002", "telemetry"))
            .count()
            >= 8
    });
    let window = |id: &str| -> Vec<&Msg> {
        watch.seen[from..]
            .iter()
            .filter(|m| m.is(id, "telemetry"))
            .collect()
    };
    let fast = median(ts_gaps(&window("sensor-0002")));
    let before = median(ts_gaps(&watch.of("sensor-0001", "telemetry")));
    assert!(fast < 400, "sensor-0002 publishes every {fast} ms");
    assert!(before >= 800, "sensor-0001 publishes every {before} ms");
    assert_eq!(
        seqs(&watch.of("sensor-0002", "telemetry")),
        (0..watch.of("sensor-0002", "telemetry").len() as u64).collect::<Vec<_>>()
    );

    // <prefix>/all/commands: every device answers; "ts" gives the command's round trip.
    let acks_before = watch.of("sensor-0001", "ack").len() + watch.of("sensor-0002", "ack").len();
    let broadcast = format!(r#"{{"led":"off","ts":{}}}"#, now_ms());
    mosquitto_pub(
        &broker,
        &["-t", &format!("{prefix}/all/commands"), "-m", &broadcast],
    );
    watch.until("both devices acknowledge the broadcast", |seen| {
        seen.iter().filter(|m| m.leaf == "ack").count() == acks_before + 2
    });
    for id in &ids {
        assert_eq!(
            watch.of(id, "ack").last().unwrap().json(),
            serde_json::json!({"cmd": "led", "ok": true})
        );
    }
    let state = retained(&broker, &prefix, "state", 2);
    assert_eq!(state["sensor-0001"]["led"], "off");
    assert_eq!(state["sensor-0002"]["led"], "off");
    assert_eq!(state["sensor-0002"]["interval"], "200ms");

    // SIGTERM stops the fleet as --duration does: offline, DISCONNECT, exit 0.
    sim.signal("TERM");
    assert_eq!(sim.wait(LIMIT), 0, "{}", sim.stderr());
    let r = read_json(&report);
    assert_eq!(
        (r["commands"].as_u64(), r["rejected_commands"].as_u64()),
        (Some(4), Some(0))
    );
    // Only the broadcast carried "ts": one round trip per device.
    assert_eq!(r["latency_ms"]["command"]["count"], 2, "{r}");
}

/// --no-broadcast: a device takes the commands on its own topic and nothing on
/// `<prefix>/all/commands`, and the plan says so.
#[test]
fn with_no_broadcast_devices_take_only_their_own_commands() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(2);
    let args = [
        "--devices",
        "2",
        "--interval",
        "1h",
        "--duration",
        "20s",
        "--no-broadcast",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let plan = run_sim(&broker, &prefix, &dry);
    assert_exit(&plan, 0);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("commands to every device: none (--no-broadcast"),
        "{text}"
    );
    assert!(!text.contains("all/commands"), "{text}");

    let mut watch = Watch::start(&broker, &prefix);
    let mut sim = spawn_sim(&broker, &prefix, &args);
    watch.until("both devices online", all_say(&ids, "online"));
    // The broadcast goes first: a device subscribed to it would acknowledge it before the
    // command on its own topic.
    mosquitto_pub(
        &broker,
        &[
            "-q",
            "1",
            "-t",
            &format!("{prefix}/all/commands"),
            "-m",
            r#"{"led":"on","id":"everyone"}"#,
        ],
    );
    mosquitto_pub(
        &broker,
        &[
            "-q",
            "1",
            "-t",
            &format!("{prefix}/sensor-0001/commands"),
            "-m",
            r#"{"led":"on","id":"own"}"#,
        ],
    );
    watch.until("the ack of the device's own command", |seen| {
        seen.iter().any(|m| m.is("sensor-0001", "ack"))
    });
    watch.settle();
    let acks: Vec<Value> = watch
        .seen
        .iter()
        .filter(|m| m.leaf == "ack")
        .map(Msg::json)
        .collect();
    assert_eq!(
        acks,
        [serde_json::json!({"cmd": "led", "ok": true, "id": "own"})]
    );
    sim.signal("TERM");
    assert_eq!(sim.wait(LIMIT), 0, "{}", sim.stderr());
}

/// The whole fleet shares the broadcast topic, shards included: 5 000 devices under one prefix
/// are warned of mosquitto's cost of adding its subscribers; --no-broadcast has no warning.
#[test]
fn a_fleet_of_5000_on_one_broadcast_topic_is_warned_of_its_cost() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let args = [
        "--devices",
        "5000",
        "--shard",
        "0/1000",
        "--count",
        "1",
        "--interval",
        "100ms",
    ];
    let out = run_sim(&broker, &prefix, &args);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = format!("mqtk sim: warning: 5000 devices subscribe to {prefix}/all/commands:");
    assert!(
        stderr.lines().any(|l| l.starts_with(&warning)
            && l.ends_with("--no-broadcast leaves the shared topic out")),
        "{stderr}"
    );
    let out = run_sim(&broker, &prefix, &[&args[..], &["--no-broadcast"]].concat());
    assert_exit(&out, 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn a_bad_command_gets_an_error_ack_and_the_device_keeps_publishing() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(1);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let mut watch = Watch::start(&broker, &prefix);
    let mut sim = spawn_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "1",
            "--interval",
            "100ms",
            "--duration",
            "20s",
            "--report",
            &report_arg,
        ],
    );
    watch.until("the device online", all_say(&ids, "online"));
    let topic = format!("{prefix}/sensor-0001/commands");
    let bad = [
        ("{\"led\":", None, "not JSON"),
        ("[1]", None, "a command is a JSON object"),
        (r#"{"fan":"on"}"#, None, "unknown command \"fan\""),
        (
            r#"{"led":"blue"}"#,
            Some("led"),
            "led must be \"on\" or \"off\"",
        ),
        (r#"{"interval":"soon"}"#, Some("interval"), "interval:"),
    ];
    for (payload, _, _) in &bad {
        mosquitto_pub(&broker, &["-q", "1", "-t", &topic, "-m", payload]);
    }
    watch.until("five error acks", |seen| {
        seen.iter().filter(|m| m.is("sensor-0001", "ack")).count() == bad.len()
    });
    let acks = watch.of("sensor-0001", "ack");
    for ((payload, cmd, why), ack) in bad.iter().zip(&acks) {
        let a = ack.json();
        assert_eq!(a["ok"], false, "{payload}: {a}");
        assert_eq!(a["cmd"].as_str(), *cmd, "{payload}: {a}");
        assert!(a["error"].as_str().unwrap().contains(why), "{payload}: {a}");
    }
    // Still publishing, without a gap.
    let before = watch.of("sensor-0001", "telemetry").len();
    watch.until("five more telemetry messages", |seen| {
        seen.iter()
            .filter(|m| m.is("sensor-0001", "telemetry"))
            .count()
            >= before + 5
    });
    // SIGTERM stops the fleet as --duration does: offline, DISCONNECT, exit 0.
    sim.signal("TERM");
    assert_eq!(sim.wait(LIMIT), 0, "{}", sim.stderr());
    watch.settle();
    let telemetry = watch.of("sensor-0001", "telemetry");
    assert_eq!(
        seqs(&telemetry),
        (0..telemetry.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(watch.statuses("sensor-0001"), ["online", "offline"]);
    let r = read_json(&report);
    assert_eq!(
        (r["commands"].as_u64(), r["rejected_commands"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(r["errors"]["total"], 0, "{r}");
}

#[test]
fn a_reboot_fires_the_will_and_the_device_comes_back_online() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(2);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let mut watch = Watch::start(&broker, &prefix);
    let mut sim = spawn_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "2",
            "--interval",
            "200ms",
            "--duration",
            "20s",
            "--report",
            &report_arg,
        ],
    );
    watch.until("every device online", all_say(&ids, "online"));
    assert_eq!(dropped(&broker, "sensor-0001"), 0);
    mosquitto_pub(
        &broker,
        &[
            "-t",
            &format!("{prefix}/sensor-0001/commands"),
            "-m",
            r#"{"reboot":true}"#,
        ],
    );
    watch.until("offline from the Will, then online again", |seen| {
        let s: Vec<String> = seen
            .iter()
            .filter(|m| m.id == "sensor-0001")
            .filter_map(Msg::status)
            .collect();
        s == ["online", "offline", "online"]
    });
    // The ack went out before the socket was dropped.
    let order: Vec<&str> = watch
        .seen
        .iter()
        .filter(|m| m.id == "sensor-0001" && (m.leaf == "ack" || m.leaf == "status"))
        .map(|m| m.leaf.as_str())
        .collect();
    assert_eq!(order, ["status", "ack", "status", "status"]);
    assert_eq!(
        watch.of("sensor-0001", "ack")[0].json(),
        serde_json::json!({"cmd": "reboot", "ok": true})
    );
    // No DISCONNECT: mosquitto saw the socket close, so the offline was the Will's.
    assert_eq!(dropped(&broker, "sensor-0001"), 1, "{}", broker.log());
    let first = watch.of("sensor-0001", "status")[0].json()["ts"]
        .as_u64()
        .unwrap();
    let again = watch.of("sensor-0001", "status")[2].json()["ts"]
        .as_u64()
        .unwrap();
    assert!(again > first);

    // SIGTERM stops the fleet as --duration does: offline, DISCONNECT, exit 0.
    sim.signal("TERM");
    assert_eq!(sim.wait(LIMIT), 0, "{}", sim.stderr());
    watch.settle();
    // The other device was not touched; the rebooted one lost no seq while away.
    assert_eq!(watch.statuses("sensor-0002"), ["online", "offline"]);
    assert_eq!(
        watch.statuses("sensor-0001"),
        ["online", "offline", "online", "offline"]
    );
    let telemetry = watch.of("sensor-0001", "telemetry");
    let mut got = seqs(&telemetry);
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>());
    let r = read_json(&report);
    assert_eq!(
        (
            r["connects"].as_u64(),
            r["reconnects"].as_u64(),
            r["drops"].as_u64()
        ),
        (Some(3), Some(1), Some(1)),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reproducible and sharded fleets (the README's fleet file: every generator)

fn example_fleet() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/fleet.toml")
        .display()
        .to_string()
}

/// Runs examples/fleet.toml fast with `args` and returns each device's telemetry without
/// `ts`.
fn fleet_telemetry(broker: &Broker, args: &[&str]) -> BTreeMap<String, Vec<Value>> {
    let prefix = unique_topic("sim");
    let mut watch = Watch::start(broker, &prefix);
    let fleet = example_fleet();
    let mut all = vec![
        "--fleet",
        fleet.as_str(),
        "--interval",
        "100ms",
        "--count",
        "3",
    ];
    all.extend_from_slice(args);
    let out = run_sim(broker, &prefix, &all);
    assert_exit(&out, 0);
    watch.settle();
    telemetry_without_ts(&watch)
}

#[test]
fn the_same_seed_gives_the_same_telemetry_apart_from_ts() {
    let broker = Broker::start(BrokerConfig::plain());
    let a = fleet_telemetry(&broker, &["--seed", "7"]);
    let b = fleet_telemetry(&broker, &["--seed", "7"]);
    let c = fleet_telemetry(&broker, &["--seed", "8"]);
    assert_eq!(a.len(), 25, "the fleet file's 25 devices: {:?}", a.keys());
    assert!(a.values().all(|v| v.len() == 3));
    assert_eq!(a, b);
    assert_eq!(a.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
    // Another seed: other values for (nearly) every device.
    let differ = a.keys().filter(|id| a[*id] != c[*id]).count();
    assert!(
        differ >= 20,
        "only {differ} of 25 devices differ with another seed"
    );
}

#[test]
fn two_shards_run_the_fleet_exactly_once_with_the_unsharded_values() {
    let broker = Broker::start(BrokerConfig::plain());
    let whole = fleet_telemetry(&broker, &["--seed", "5"]);
    let shard0 = fleet_telemetry(&broker, &["--seed", "5", "--shard", "0/2"]);
    let shard1 = fleet_telemetry(&broker, &["--seed", "5", "--shard", "1/2"]);
    let ids = |m: &BTreeMap<String, Vec<Value>>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert!(ids(&shard0).is_disjoint(&ids(&shard1)));
    assert_eq!((shard0.len(), shard1.len()), (13, 12));
    let mut union = shard0.clone();
    union.extend(shard1.clone());
    assert_eq!(union, whole);
    for (id, messages) in &union {
        let seqs: Vec<u64> = messages
            .iter()
            .map(|v| v["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [0, 1, 2], "{id}");
    }
}

// ---------------------------------------------------------------------------------------------
// CI: --fail-if, --report

#[test]
fn fail_if_exits_6_listing_the_failed_checks_0_when_they_pass_and_2_when_malformed() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let fleet = ["--devices", "2", "--count", "2", "--interval", "100ms"];
    let with = |checks: &[&str]| {
        let mut a = fleet.to_vec();
        for c in checks {
            a.extend(["--fail-if", c]);
        }
        run_sim(&broker, &prefix, &a)
    };

    let out = with(&["errors>0", "publishes<100", "acks!=4"]);
    assert_exit(&out, 6);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "mqtk sim: error: 1 of 3 --fail-if checks failed: publishes<100 failed: publishes = 4"
    );
    // The summary is still printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 published"));

    // No command was sent: a check on the command round trip fails rather than passes unseen.
    let out = with(&[
        "errors>0",
        "publishes<4",
        "p99_ack_ms>10000",
        "p99_cmd_ms>50",
    ]);
    assert_exit(&out, 6);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "1 of 4 --fail-if checks failed: p99_cmd_ms>50 failed: p99_cmd_ms was not measured"
        ),
        "{err}"
    );

    let out = with(&["errors>0", "publishes<4", "p99_ack_ms>10000", "acks!=4"]);
    assert_exit(&out, 0);

    let before = connections(&broker);
    assert!(before >= 6, "the runs above connected");
    for bad in ["p99>5", "errors>>1", "errors>", "nonsense"] {
        let out = with(&[bad]);
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!(
                "mqtk sim: error: invalid value '{bad}' for '--fail-if <EXPR>'"
            )),
            "{err}"
        );
    }
    // lost and duplicates are counted by --verify only.
    let out = with(&["lost>0"]);
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only counted with --verify"), "{err}");
    assert_eq!(connections(&broker), before, "nothing connected");
}

#[test]
fn the_report_has_every_key_and_counts_that_add_up() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "3",
            "--count",
            "4",
            "--interval",
            "100ms",
            "--seed",
            "9",
            "--verify",
            "--report",
            &report.display().to_string(),
        ],
    );
    assert_exit(&out, 0);
    let r = read_json(&report);
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&r),
        [
            "acks",
            "commands",
            "connects",
            "devices",
            "drops",
            "elapsed_s",
            "errors",
            "latency_ms",
            "publishes",
            "rate",
            "reconnects",
            "rejected_commands",
            "schema",
            "seed",
            "shard",
            "verify"
        ]
    );
    assert_eq!(
        keys(&r["errors"]),
        [
            "connect",
            "lost",
            "publish",
            "refused",
            "subscribe",
            "timeout",
            "total"
        ]
    );
    assert_eq!(keys(&r["latency_ms"]), ["ack", "command", "connect"]);
    for which in ["ack", "command", "connect"] {
        assert_eq!(
            keys(&r["latency_ms"][which]),
            ["count", "max", "p50", "p90", "p99", "p999"]
        );
    }
    assert_eq!(keys(&r["rate"]), ["achieved", "behind", "scheduled"]);
    assert_eq!(
        keys(&r["verify"]),
        ["duplicates", "foreign", "lost", "received"]
    );

    assert_eq!(r["schema"], 1);
    assert_eq!(
        (r["seed"].as_u64(), r["shard"].as_str()),
        (Some(9), Some("0/1"))
    );
    assert_eq!(r["devices"], 3);
    assert_eq!(
        (r["connects"].as_u64(), r["reconnects"].as_u64()),
        (Some(3), Some(0))
    );
    // --count 4 x 3 devices, every one acknowledged (QoS 1) and seen by the verifier.
    assert_eq!(
        (r["publishes"].as_u64(), r["acks"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(r["errors"]["total"], 0);
    assert_eq!(r["latency_ms"]["connect"]["count"], 3);
    assert_eq!(r["latency_ms"]["ack"]["count"], 12);
    let ack = &r["latency_ms"]["ack"];
    let p = |k: &str| ack[k].as_f64().unwrap();
    assert!(
        p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("max"),
        "{ack}"
    );
    assert_eq!(r["latency_ms"]["command"]["count"], 0);
    assert!(r["latency_ms"]["command"]["p50"].is_null());
    assert_eq!(r["verify"]["received"], 12);
    assert_eq!(
        (
            r["verify"]["lost"].as_u64(),
            r["verify"]["duplicates"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(r["elapsed_s"].as_f64().unwrap() > 0.0);
    assert!(r["rate"]["scheduled"].as_f64().unwrap() > 0.0);

    // Without --verify the key is there, null.
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "1",
            "--count",
            "1",
            "--report",
            &report.display().to_string(),
        ],
    );
    assert_exit(&out, 0);
    let r = read_json(&report);
    assert!(r["verify"].is_null(), "{r}");
    assert_eq!(r["publishes"], 1);

    // A report that cannot be written is found out before the run, not after it.
    let before = connections(&broker);
    let nowhere = dir.path().join("no/such/dir/report.json");
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "1",
            "--count",
            "1",
            "--report",
            &nowhere.display().to_string(),
        ],
    );
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "mqtk sim: error: --report: cannot write {}",
            nowhere.display()
        )),
        "{err}"
    );
    assert_eq!(connections(&broker), before, "nothing connected");
}

// ---------------------------------------------------------------------------------------------
// Faults and scale

#[test]
fn a_broker_restart_loses_nothing_at_qos_1() {
    broker_restart_loses_nothing("311");
}

#[test]
fn a_broker_restart_loses_nothing_at_qos_1_v5() {
    broker_restart_loses_nothing("5");
}

/// Devices and the verifier come back after a restart of a broker that keeps sessions, and
/// every seq arrives.
fn broker_restart_loses_nothing(version: &str) {
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let prefix = unique_topic("sim");
    let ids = sensor_ids(5);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let watch_status = format!("{prefix}/+/status");
    let online = MosquittoSub::start(&broker, &["-t", &watch_status]);
    let mut sim = spawn_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "5",
            "--interval",
            "100ms",
            "--duration",
            "6s",
            "-q",
            "1",
            "-V",
            version,
            "--verify",
            "--report",
            &report_arg,
        ],
    );
    online.take(ids.len(), LIMIT);
    std::thread::sleep(Duration::from_millis(1000));
    broker.restart();
    assert_eq!(sim.wait(Duration::from_secs(30)), 0, "{}", sim.stderr());
    let r = read_json(&report);
    assert!(r["reconnects"].as_u64().unwrap() >= 5, "{r}");
    assert_eq!(r["publishes"], r["acks"], "{r}");
    assert!(r["publishes"].as_u64().unwrap() >= 200, "{r}");
    assert_eq!(r["verify"]["lost"], 0, "{r}");
    assert_eq!(
        r["verify"]["received"].as_u64().unwrap() - r["verify"]["duplicates"].as_u64().unwrap(),
        r["publishes"].as_u64().unwrap(),
        "{r}"
    );
    // After the restart every device came back and ended offline.
    let statuses = retained(&broker, &prefix, "status", 5);
    assert!(
        statuses.values().all(|s| s["status"] == "offline"),
        "{statuses:?}"
    );
}

#[test]
fn a_thousand_devices_connect_publish_and_leave() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut watch = Watch::start(&broker, &prefix);
    let started = Instant::now();
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "1000",
            "--count",
            "2",
            "--interval",
            "500ms",
            "--report",
            &report.display().to_string(),
        ],
    );
    assert_exit(&out, 0);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    let r = read_json(&report);
    assert_eq!(
        (
            r["connects"].as_u64(),
            r["publishes"].as_u64(),
            r["acks"].as_u64()
        ),
        (Some(1000), Some(2000), Some(2000)),
        "{r}"
    );
    assert_eq!(r["errors"]["total"], 0, "{r}");
    watch.settle();
    let ids: BTreeSet<&str> = watch.seen.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), 1000);
    for id in ids {
        assert_eq!(watch.statuses(id), ["online", "offline"], "{id}");
        assert_eq!(watch.of(id, "telemetry").len(), 2, "{id}");
    }
}

/// A fleet that names its broker (`-h localhost`) looks the name up once, not once per
/// device: each lookup takes a thread of tokio's blocking pool, and 300 devices connecting
/// with one lookup each ran 55 (tokio's blocking pool allows 512).
#[cfg(target_os = "linux")]
#[test]
fn a_fleet_connecting_to_a_host_name_runs_no_thread_per_device() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let port = broker.port.to_string();
    let mut sim = MqtkChild::spawn(&[
        "sim",
        "-h",
        "localhost",
        "-p",
        &port,
        "--prefix",
        &prefix,
        "--devices",
        "300",
        "--interval",
        "1h",
        "--duration",
        "30s",
    ]);
    support::wait_for(LIMIT, || connections(&broker) >= 300);
    let status = std::fs::read_to_string(format!("/proc/{}/status", sim.pid())).unwrap();
    let threads: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    // The command's thread, the connections' worker and the one lookup's thread.
    assert!(threads <= 3, "{threads} threads");
    sim.signal("TERM");
    assert_eq!(sim.wait(LIMIT), 0);
}

#[test]
fn connect_rate_spreads_the_connections_over_time() {
    let broker = Broker::start(BrokerConfig::plain());
    // The spread of the devices' "online" times, in milliseconds.
    let spread = |rate: &[&str]| {
        let prefix = unique_topic("sim");
        let mut watch = Watch::start(&broker, &prefix);
        let mut args = vec!["--devices", "10", "--count", "1", "--interval", "100ms"];
        args.extend_from_slice(rate);
        assert_exit(&run_sim(&broker, &prefix, &args), 0);
        watch.settle();
        let ts: Vec<u64> = watch
            .seen
            .iter()
            .filter(|m| m.status().as_deref() == Some("online"))
            .map(|m| m.json()["ts"].as_u64().unwrap())
            .collect();
        assert_eq!(ts.len(), 10);
        ts.iter().max().unwrap() - ts.iter().min().unwrap()
    };
    // 10 devices at 10 a second: the last one about 0.9 s after the first.
    let paced = spread(&["--connect-rate", "10/s"]);
    assert!((700..2000).contains(&paced), "{paced} ms");
    let at_once = spread(&[]);
    assert!(at_once < 300, "{at_once} ms");
}

#[test]
fn bind_addr_spreads_the_devices_over_source_addresses() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "6",
            "--count",
            "1",
            "--bind-addr",
            "127.0.0.2,127.0.0.3",
            "--fail-if",
            "errors>0",
        ],
    );
    assert_exit(&out, 0);
    // Round robin: three devices from each address (every 127.x.y.z is the local host).
    for source in ["127.0.0.2", "127.0.0.3"] {
        assert_eq!(
            log_count(&broker, &format!("New connection from {source}:")),
            3,
            "{}",
            broker.log()
        );
    }
}

#[test]
fn chaos_drops_devices_so_their_wills_fire_and_they_come_back() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut watch = Watch::start(&broker, &prefix);
    // 60 per minute: each device is dropped about once a second.
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "--devices",
            "4",
            "--interval",
            "200ms",
            "--duration",
            "5s",
            "--chaos",
            "60",
            "--verify",
            "--report",
            &report.display().to_string(),
        ],
    );
    assert_exit(&out, 0);
    watch.settle();
    let r = read_json(&report);
    let drops = r["drops"].as_u64().unwrap();
    assert!(drops >= 4, "{r}");
    assert!(r["reconnects"].as_u64().unwrap() >= drops - 4, "{r}");
    assert_eq!(r["verify"]["lost"], 0, "{r}");
    // Each drop is a socket closed without DISCONNECT: the Will said offline, and the device
    // came back online after it.
    assert_eq!(
        dropped(&broker, "sensor-") as u64,
        drops,
        "{}",
        broker.log()
    );
    let mut back = 0;
    for id in sensor_ids(4) {
        let s = watch.statuses(&id);
        assert_eq!(s.first().map(String::as_str), Some("online"), "{id}: {s:?}");
        assert_eq!(s.last().map(String::as_str), Some("offline"), "{id}: {s:?}");
        back += s
            .windows(2)
            .filter(|w| w[0] == "offline" && w[1] == "online")
            .count();
    }
    assert!(back >= 2, "{back} comebacks");
}

// ---------------------------------------------------------------------------------------------
// Connections: TLS, passwords, per-group credentials

/// A fleet file in `dir` with a group on the connection flags' credentials (sensor-0001,
/// sensor-0002) and a group "doors" with `door_lines` (door-03, door-04).
fn two_group_fleet(dir: &Path, door_lines: &str) -> PathBuf {
    let path = dir.join("fleet.toml");
    fs::write(
        &path,
        format!(
            "[[group]]\nname = \"plain\"\ndevices = 2\n\
             [group.metrics.temp]\nkind = \"constant\"\nvalue = 21.5\n\n\
             [[group]]\nname = \"doors\"\ndevices = 2\nid-template = \"door-{{n:02}}\"\n{door_lines}\
             [group.metrics.open]\nkind = \"bool\"\nprobability = 0.5\n"
        ),
    )
    .unwrap();
    path
}

/// The user name mosquitto logged for client `id`.
fn logged_user(broker: &Broker, id: &str) -> String {
    let log = broker.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!(" as {id} (")))
        .unwrap_or_else(|| panic!("{id} never connected:\n{log}"));
    let user = line
        .split("u'")
        .nth(1)
        .unwrap_or_else(|| panic!("no user: {line}"));
    user[..user.find('\'').unwrap()].to_string()
}

#[test]
fn a_fleet_over_mutual_tls_with_a_group_on_its_own_client_certificate() {
    let pki = Pki::new(&["--client", "sensor", "--client", "door"]);
    // The listener requires a client certificate and takes its CN as the user name.
    let broker = Broker::start(BrokerConfig::plain().listener_from_file(pki.listener()));
    let fleet = two_group_fleet(
        pki.dir.path(),
        "cert = \"client-door.crt\"\nkey = \"client-door.key\"\n",
    );
    let prefix = unique_topic("sim");
    let port = broker.port.to_string();
    let mut args: Vec<String> = ["sim", "-h", "localhost", "-p", &port, "--prefix", &prefix]
        .map(String::from)
        .to_vec();
    args.extend(pki.client_args("sensor"));
    args.extend(["--fleet".into(), fleet.display().to_string()]);
    args.extend(["--count", "2", "--interval", "100ms"].map(String::from));
    let out = cmd().args(&args).output().unwrap();
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("8 published, 8 acknowledged"));
    for (id, user) in [
        ("sensor-0001", "sensor"),
        ("sensor-0002", "sensor"),
        ("door-03", "door"),
        ("door-04", "door"),
    ] {
        assert_eq!(logged_user(&broker, id), user, "{id}");
    }

    // Without a client certificate on the command line the listener refuses the shared-flags
    // group while the doors connect: a run with errors (--fail-if makes it exit 6)...
    let base: Vec<String> = [
        "sim",
        "-h",
        "localhost",
        "-p",
        &port,
        "--prefix",
        &prefix,
        "--cafile",
        &pki.ca(),
        "--duration",
        "1s",
    ]
    .map(String::from)
    .to_vec();
    let fleet_arg = fleet.display().to_string();
    let out = cmd()
        .args(&base)
        .args(["--fleet", &fleet_arg, "--fail-if", "errors_connect>0"])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(String::from_utf8_lossy(&out.stdout).contains("connects: 2 "));
    // ...and when no device connects at all, the run fails as a connection does (exit 3).
    let out = cmd().args(&base).args(["--devices", "2"]).output().unwrap();
    assert_exit(&out, 3);
    assert!(String::from_utf8_lossy(&out.stdout).contains("connects: 0 "));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("mqtk sim: error: "), "{err}");
}

#[test]
fn a_fleet_with_a_password_and_a_group_with_its_own_user() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwd");
    support::add_user(&passwords, "fleet", "fleet-secret");
    support::add_user(&passwords, "doors", "door-secret");
    let broker = Broker::start(BrokerConfig::password(&passwords));
    fs::write(dir.path().join("doors.pw"), "door-secret\n").unwrap();
    let fleet = two_group_fleet(
        dir.path(),
        "username = \"doors\"\npassword-file = \"doors.pw\"\n",
    );
    let prefix = unique_topic("sim");
    let fleet_arg = fleet.display().to_string();
    let out = run_sim(
        &broker,
        &prefix,
        &[
            "-u",
            "fleet",
            "-P",
            "fleet-secret",
            "--fleet",
            &fleet_arg,
            "--count",
            "2",
            "--interval",
            "100ms",
            "--fail-if",
            "errors>0",
        ],
    );
    assert_exit(&out, 0);
    for (id, user) in [
        ("sensor-0002", "fleet"),
        ("door-03", "doors"),
        ("door-04", "doors"),
    ] {
        assert_eq!(logged_user(&broker, id), user, "{id}");
    }

    // A wrong shared password: that group is refused while the doors connect, the refusals
    // are counted, --fail-if makes it exit 6...
    let wrong = |extra: &[&str]| {
        let mut a = vec!["-u", "fleet", "-P", "wrong-secret", "--duration", "1s"];
        a.extend_from_slice(extra);
        run_sim(&broker, &prefix, &a)
    };
    let some = wrong(&["--fleet", &fleet_arg, "--fail-if", "errors_refused>0"]);
    assert_exit(&some, 6);
    let err = String::from_utf8_lossy(&some.stderr);
    assert!(err.contains("errors_refused>0 failed"), "{err}");
    // ...and with nobody let in, the run fails as a refused connection does (exit 4).
    let none = wrong(&["--devices", "2"]);
    assert_exit(&none, 4);
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.starts_with("mqtk sim: error: "), "{err}");
    for out in [&some, &none] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("wrong-secret") && !all.contains("fleet-secret"),
            "{all}"
        );
    }
}

#[test]
fn a_fleet_that_never_connects_exits_3() {
    // A port nobody listens on: every device retries with backoff until --duration ends.
    let port = support::free_port().to_string();
    let out = cmd()
        .args([
            "sim",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--devices",
            "3",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().next().unwrap(),
        format!("mqtk sim: error: could not connect to 127.0.0.1:{port} (connection refused)")
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("connects: 0 ") && summary.contains("errors: "),
        "{summary}"
    );
}

#[test]
fn a_fleet_over_websockets() {
    // amqtt: Debian's mosquitto has no WebSocket listener.
    let broker = crate::support::amqtt::AmqttBroker::start(None);
    let prefix = unique_topic("sim");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let port = broker.ws_port.to_string();
    let out = cmd()
        .args([
            "sim",
            "--ws",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--prefix",
            &prefix,
        ])
        .args(["--devices", "3", "--count", "2", "--interval", "100ms"])
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let r = read_json(&report);
    assert_eq!(
        (
            r["connects"].as_u64(),
            r["acks"].as_u64(),
            r["errors"]["total"].as_u64()
        ),
        (Some(3), Some(6), Some(0)),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------------
// Limits and bad input: exit 2 before connecting

/// `program` with the isolated environment `support::cmd` gives mqtk, for a wrapper that runs
/// it (prlimit, script).
fn wrapper(program: &str) -> Command {
    let mut c = Command::new(program);
    for (k, v) in support::std_cmd().get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// `prlimit --nofile=SOFT:HARD mqtk ARGS`.
fn with_nofile(soft: u64, hard: u64, args: &[String]) -> Output {
    wrapper("prlimit")
        .arg(format!("--nofile={soft}:{hard}"))
        .arg(support::bin())
        .args(args)
        .output()
        .expect("prlimit (util-linux)")
}

#[test]
fn more_devices_than_open_files_exit_2_with_a_shard_hint_before_connecting() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let args = |extra: &[&str]| {
        let mut a = vec!["--count", "1", "--interval", "100ms"];
        a.extend_from_slice(extra);
        sim_args(&broker, &prefix, &a)
    };
    let out = with_nofile(200, 200, &args(&["--devices", "500"]));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("mqtk sim: error: 500 devices need about")
            && lines[0].contains("this process may open 200"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("  hint: ") && lines[1].contains("--shard K/4"),
        "{err}"
    );
    assert_eq!(connections(&broker), 0, "{}", broker.log());

    // The hint works: a quarter of the fleet fits.
    let out = with_nofile(200, 200, &args(&["--devices", "500", "--shard", "3/4"]));
    assert_exit(&out, 0);
    assert_eq!(connections(&broker), 125);
    // A soft limit below the hard one is raised to it.
    let out = with_nofile(100, 1000, &args(&["--devices", "300"]));
    assert_exit(&out, 0);
    assert_eq!(connections(&broker), 425);
}

#[test]
fn a_malformed_fleet_file_exits_2_naming_the_line() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    let dir = tempfile::tempdir().unwrap();
    let head = "seed = 1\n\n[[group]]\nname = \"a\"\ndevices = 2\n";
    for (body, line, why) in [
        (format!("{head}interval = 5\n"), 6, "expected a string"),
        (
            format!("{head}intervall = \"1s\"\n"),
            6,
            "unknown field `intervall`",
        ),
        (
            format!("{head}[group.metrics.t]\nkind = \"gauss\"\n"),
            7,
            "gauss",
        ),
        (format!("{head}qos = 3\n"), 6, "qos must be"),
        ("seed = 1\n[[group]\nname = \"a\"\n".to_string(), 2, ""),
    ] {
        let path = dir.path().join("bad.toml");
        fs::write(&path, &body).unwrap();
        let out = run_sim(
            &broker,
            &prefix,
            &["--fleet", &path.display().to_string(), "--count", "1"],
        );
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with(&format!(
                "mqtk sim: error: fleet file {}, line {line}: ",
                path.display()
            )) && first.contains(why),
            "{body}\n{err}"
        );
    }
    assert_eq!(connections(&broker), 0, "{}", broker.log());
    // The same file, fixed, runs.
    let path = dir.path().join("good.toml");
    fs::write(
        &path,
        format!("{head}interval = \"100ms\"\n[group.metrics.t]\nkind = \"counter\"\n"),
    )
    .unwrap();
    let out = run_sim(
        &broker,
        &prefix,
        &["--fleet", &path.display().to_string(), "--count", "1"],
    );
    assert_exit(&out, 0);
}

// ---------------------------------------------------------------------------------------------
// Output

/// Bytes a log or a pipe should never see: control characters other than newline and tab.
fn control_characters(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| (*b < 0x20 && *b != b'\n' && *b != b'\t') || *b == 0x7f)
        .collect()
}

#[test]
fn off_a_terminal_the_output_has_no_control_characters() {
    let broker = Broker::start(BrokerConfig::plain());
    let prefix = unique_topic("sim");
    // Long enough for the progress line to be drawn several times on a terminal, with a
    // failed check and the verifier's lines.
    let args = sim_args(
        &broker,
        &prefix,
        &[
            "--devices",
            "3",
            "--interval",
            "100ms",
            "--duration",
            "1500ms",
            "--verify",
            "--fail-if",
            "publishes<1000",
        ],
    );
    let out = cmd().args(&args).output().unwrap();
    assert_exit(&out, 6);
    assert!(!out.stdout.is_empty() && !out.stderr.is_empty());
    assert!(
        control_characters(&out.stdout).is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        control_characters(&out.stderr).is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The control: on a terminal (script(1) gives it one) the progress line redraws itself.
    let line: Vec<String> = std::iter::once(support::bin().display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect();
    let out = wrapper("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .output()
        .expect("script (util-linux)");
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("\u{1b}[2K") && tty.contains("connected 3/3"),
        "{tty:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The deployment files: their `mqtk sim` commands are ones mqtk accepts

/// A file of the repository.
fn repo_file(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `mqtk sim ...` command lines of a shell script inside a YAML file (a `run: |` block), with
/// `\` continuations joined.
fn shell_sim_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if pending.is_empty() && !t.starts_with("mqtk sim") {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(t);
                out.extend(mqtk_invocations(
                    &std::mem::take(&mut pending),
                    &HashMap::new(),
                ));
            }
        }
    }
    out
}

/// The exec-form argument lists (`args: [...]`, `command: [...]`, written as JSON arrays
/// over one or more lines) whose first word is `sim`, as `mqtk sim ...` argv.
fn exec_form_sim_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(": [") {
        let list = &rest[at + 2..];
        let end = list.find(']').expect("a closed list") + 1;
        if let Ok(words) = serde_json::from_str::<Vec<String>>(&list[..end])
            && words.first().is_some_and(|w| w == "sim")
        {
            out.push(std::iter::once("mqtk".to_string()).chain(words).collect());
        }
        rest = &list[end..];
    }
    out
}

/// Runs `mqtk sim ARGS --dry-run` (from the repository root, where the files' relative paths
/// point) and returns its output.
fn dry_run(file: &str, argv: &[String]) -> String {
    let out = cmd()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&argv[1..])
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: `{}` is refused:\n{}",
        argv.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_sim_commands_of_the_ci_kubernetes_and_compose_files_are_accepted() {
    // GitHub Actions: a shell step.
    let ci = repo_file("examples/ci/sim.yml");
    let commands = shell_sim_commands(&ci);
    assert_eq!(commands.len(), 1, "examples/ci/sim.yml: {commands:?}");
    assert!(
        commands[0].iter().any(|w| w == "--fail-if"),
        "{:?}",
        commands[0]
    );
    dry_run("examples/ci/sim.yml", &commands[0]);
    assert!(ci.contains("services:") && ci.contains("eclipse-mosquitto"));

    // Kubernetes: an Indexed Job whose index is the shard, out of `completions` shards.
    let job = repo_file("deploy/k8s/sim-job.yaml");
    let commands = exec_form_sim_commands(&job);
    assert_eq!(commands.len(), 1, "deploy/k8s/sim-job.yaml: {commands:?}");
    let completions: u64 = job
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions:"))
        .expect("completions:")
        .trim()
        .parse()
        .unwrap();
    assert!(job.contains("completionMode: Indexed"));
    let shard = commands[0]
        .iter()
        .skip_while(|w| *w != "--shard")
        .nth(1)
        .expect("--shard");
    assert_eq!(shard, &format!("$(JOB_COMPLETION_INDEX)/{completions}"));
    let mut seen = BTreeSet::new();
    for index in 0..completions {
        let argv: Vec<String> = commands[0]
            .iter()
            .map(|w| w.replace("$(JOB_COMPLETION_INDEX)", &index.to_string()))
            .collect();
        let plan = dry_run("deploy/k8s/sim-job.yaml", &argv);
        assert!(
            plan.contains(&format!("shard: {index}/{completions}")),
            "{plan}"
        );
        seen.insert(index);
    }
    assert_eq!(seen.len() as u64, completions);

    // Compose: the sim service's command, with the fleet file it mounts.
    let compose = repo_file("compose.yaml");
    let commands = exec_form_sim_commands(&compose);
    assert_eq!(commands.len(), 1, "compose.yaml: {commands:?}");
    let mounts: Vec<(String, String)> = compose
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ./"))
        .filter_map(|m| {
            let mut p = m.split(':');
            Some((p.next()?.to_string(), p.next()?.to_string()))
        })
        .collect();
    let argv: Vec<String> = commands[0]
        .iter()
        .map(|w| {
            mounts
                .iter()
                .find(|(_, inside)| inside == w)
                .map_or_else(|| w.clone(), |(host, _)| host.clone())
        })
        .collect();
    assert!(argv.iter().any(|w| w == "examples/fleet.toml"), "{argv:?}");
    let plan = dry_run("compose.yaml", &argv);
    assert!(plan.contains("fleet: 25 devices"), "{plan}");
}
