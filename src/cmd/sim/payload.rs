//! The messages a simulated device sends and the commands it understands (JSON).
//!
//! | topic | payload |
//! |---|---|
//! | `<prefix>/<id>/telemetry` | `{"device":"sensor-0001","ts":1700000000000,"seq":0,"temp":22.1,...}` |
//! | `<prefix>/<id>/status` (retained) | `{"status":"online","id":"sensor-0001","ts":...}`; Will and clean stop: `{"status":"offline","id":"sensor-0001"}` |
//! | `<prefix>/<id>/state` (retained) | `{"id":"sensor-0001","led":"off","interval":"1s","ts":...}` |
//! | `<prefix>/<id>/ack` | `{"cmd":"led","ok":true}`, `{"cmd":"interval","ok":false,"error":"..."}`, `{"ok":false,"error":"..."}` |
//!
//! `ts` is Unix time in milliseconds; `seq` counts each device's telemetry from 0 without gaps.
//! Commands on `<prefix>/<id>/commands` and `<prefix>/all/commands` are one JSON object with
//! one command: `{"led":"on"}` / `{"led":"off"}`, `{"interval":"5s"}`, `{"reboot":true}`;
//! an optional `"id"` (any JSON value) is echoed in the ack, so a sender can match acks to
//! its commands, and an optional `"ts"` (the sender's clock, Unix milliseconds) gives the
//! command's round trip in the report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

use super::generators::Value;
use super::plan::parse_interval;

/// Milliseconds since the Unix epoch (0 for a time before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct Telemetry<'d, I> {
    device: &'d str,
    ts: u64,
    seq: u64,
    fields: std::cell::Cell<Option<I>>,
}

impl<'a, I: Iterator<Item = (&'a str, &'a Value)>> Serialize for Telemetry<'_, I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("device", self.device)?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("seq", &self.seq)?;
        for (name, value) in self.fields.take().into_iter().flatten() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A telemetry message: `device`, `ts`, `seq`, then the metrics in order.
pub fn telemetry<'a>(
    device: &str,
    ts: u64,
    seq: u64,
    fields: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Vec<u8> {
    let t = Telemetry {
        device,
        ts,
        seq,
        fields: std::cell::Cell::new(Some(fields)),
    };
    serde_json::to_vec(&t).expect("telemetry serializes")
}

#[derive(Serialize)]
struct Status<'a> {
    status: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
}

/// Retained on `/status` when the device is connected.
pub fn online(id: &str, ts: u64) -> Vec<u8> {
    serde_json::to_vec(&Status {
        status: "online",
        id,
        ts: Some(ts),
    })
    .expect("status serializes")
}

/// The Last Will on `/status`, and what a clean stop publishes there: the same bytes, so a
/// consumer cannot tell them apart (it does not need to).
pub fn offline(id: &str) -> Vec<u8> {
    serde_json::to_vec(&Status {
        status: "offline",
        id,
        ts: None,
    })
    .expect("status serializes")
}

/// What a device holds that commands change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub led: bool,
    pub interval: Duration,
}

#[derive(Serialize)]
struct StateJson<'a> {
    id: &'a str,
    led: &'static str,
    interval: String,
    ts: u64,
}

/// Retained on `/state` at connect and after every change.
pub fn state(id: &str, state: &State, ts: u64) -> Vec<u8> {
    serde_json::to_vec(&StateJson {
        id,
        led: if state.led { "on" } else { "off" },
        interval: humantime::format_duration(state.interval).to_string(),
        ts,
    })
    .expect("state serializes")
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Led(bool),
    Interval(Duration),
    Reboot,
}

impl Action {
    /// Its key in the command and `cmd` in the ack.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Led(_) => "led",
            Action::Interval(_) => "interval",
            Action::Reboot => "reboot",
        }
    }
}

/// A valid command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub action: Action,
    /// The sender's `"id"`, echoed in the ack.
    pub id: Option<Json>,
    /// The sender's `"ts"`: when the command was sent, in Unix milliseconds.
    pub sent: Option<u64>,
}

/// A command the device refuses, with what it could make of it for the error ack.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The command's name when it was one of ours.
    pub cmd: Option<&'static str>,
    pub id: Option<Json>,
    pub error: String,
    /// The sender's `"ts"`, when it was a valid one.
    pub sent: Option<u64>,
}

const COMMANDS: [&str; 3] = ["led", "interval", "reboot"];

/// Parses a command payload. Anything but one known command with a valid value is a
/// `Rejection` (never a panic): the device answers it with an error ack and carries on.
pub fn parse_command(payload: &[u8]) -> Result<Command, Rejection> {
    let reject = |cmd, id, error: String| Rejection {
        cmd,
        id,
        error,
        sent: None,
    };
    let json: Json = serde_json::from_slice(payload)
        .map_err(|e| reject(None, None, format!("not JSON ({e})")))?;
    let Json::Object(mut obj) = json else {
        return Err(reject(
            None,
            None,
            r#"a command is a JSON object such as {"led":"on"}"#.into(),
        ));
    };
    let id = obj.remove("id");
    let sent = match obj.remove("ts") {
        None => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            return Err(reject(
                None,
                id,
                format!(
                    "ts must be the time the command was sent in Unix milliseconds, not {other}"
                ),
            ));
        }
    };
    // From here on a rejection carries the sender's time: the round trip counts for it too.
    let reject = |cmd, id, error| Rejection {
        sent,
        ..reject(cmd, id, error)
    };
    let keys: Vec<&String> = obj.keys().collect();
    if let Some(unknown) = keys.iter().find(|k| !COMMANDS.contains(&k.as_str())) {
        return Err(reject(
            None,
            id,
            format!("unknown command {unknown:?} (known: led, interval, reboot)"),
        ));
    }
    let (name, value) = match keys.len() {
        0 => {
            return Err(reject(
                None,
                id,
                "no command (known: led, interval, reboot)".into(),
            ));
        }
        1 => obj.into_iter().next().expect("one key"),
        _ => {
            let names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            return Err(reject(
                None,
                id,
                format!("one command per message, not {}", names.join(" and ")),
            ));
        }
    };
    let cmd = COMMANDS
        .iter()
        .copied()
        .find(|c| *c == name)
        .expect("checked above");
    let action = match (cmd, &value) {
        ("led", Json::String(s)) if s == "on" => Action::Led(true),
        ("led", Json::String(s)) if s == "off" => Action::Led(false),
        ("led", _) => {
            return Err(reject(
                Some(cmd),
                id,
                format!(r#"led must be "on" or "off", not {value}"#),
            ));
        }
        ("interval", Json::String(s)) => match parse_interval(s) {
            Ok(d) => Action::Interval(d),
            Err(e) => return Err(reject(Some(cmd), id, format!("interval: {e}"))),
        },
        ("interval", _) => {
            return Err(reject(
                Some(cmd),
                id,
                format!(r#"interval must be a duration such as "5s", not {value}"#),
            ));
        }
        ("reboot", Json::Bool(true)) => Action::Reboot,
        _ => {
            return Err(reject(
                Some(cmd),
                id,
                format!("reboot must be true, not {value}"),
            ));
        }
    };
    Ok(Command { action, id, sent })
}

#[derive(Serialize)]
struct AckJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<&'a str>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Json>,
}

fn ack_json(cmd: Option<&str>, ok: bool, error: Option<&str>, id: Option<&Json>) -> Vec<u8> {
    serde_json::to_vec(&AckJson { cmd, ok, error, id }).expect("an ack serializes")
}

/// `{"cmd":"led","ok":true}` (with the sender's `"id"` if it gave one).
pub fn ack(command: &Command) -> Vec<u8> {
    ack_json(Some(command.action.name()), true, None, command.id.as_ref())
}

/// `{"cmd":"interval","ok":false,"error":"..."}`; without `cmd` when the command was not one.
pub fn ack_error(rejection: &Rejection) -> Vec<u8> {
    ack_json(
        rejection.cmd,
        false,
        Some(&rejection.error),
        rejection.id.as_ref(),
    )
}

/// What a verifier reads from a telemetry message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub device: String,
    pub seq: u64,
    pub ts: u64,
}

/// Reads `device`, `seq` and `ts` of a telemetry message.
pub fn parse_telemetry(payload: &[u8]) -> Result<Received, String> {
    let json: Map<String, Json> = serde_json::from_slice(payload)
        .map_err(|e| format!("telemetry is not a JSON object ({e})"))?;
    let device = json
        .get("device")
        .and_then(Json::as_str)
        .ok_or("telemetry without a \"device\" string")?;
    let seq = json
        .get("seq")
        .and_then(Json::as_u64)
        .ok_or("telemetry without a \"seq\" number")?;
    let ts = json
        .get("ts")
        .and_then(Json::as_u64)
        .ok_or("telemetry without a \"ts\" number")?;
    Ok(Received {
        device: device.to_string(),
        seq,
        ts,
    })
}

/// What a command sender reads from an ack.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub cmd: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
    pub id: Option<Json>,
}

pub fn parse_ack(payload: &[u8]) -> Result<Ack, String> {
    let mut json: Map<String, Json> = serde_json::from_slice(payload)
        .map_err(|e| format!("an ack is not a JSON object ({e})"))?;
    let ok = json
        .get("ok")
        .and_then(Json::as_bool)
        .ok_or("an ack without an \"ok\" boolean")?;
    let text = |j: &Map<String, Json>, k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
    Ok(Ack {
        cmd: text(&json, "cmd"),
        ok,
        error: text(&json, "error"),
        id: json.remove("id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    fn rejected(payload: &str) -> Rejection {
        parse_command(payload.as_bytes()).expect_err(payload)
    }

    #[test]
    fn telemetry_has_device_ts_seq_then_the_metrics_in_order() {
        let values = [
            ("temp", Value::Float(22.5)),
            ("hum", Value::Int(50)),
            ("door", Value::Bool(false)),
            ("mode", Value::Str(Arc::from("eco"))),
        ];
        let payload = telemetry(
            "sensor-0001",
            1_700_000_000_123,
            7,
            values.iter().map(|(k, v)| (*k, v)),
        );
        assert_eq!(
            text(payload),
            r#"{"device":"sensor-0001","ts":1700000000123,"seq":7,"temp":22.5,"hum":50,"door":false,"mode":"eco"}"#
        );
    }

    #[test]
    fn a_device_sends_its_readings_as_telemetry_with_consecutive_seqs() {
        let mut readings = crate::cmd::sim::generators::Readings::new(
            &crate::cmd::sim::generators::default_metrics(),
            0,
            1,
        );
        for seq in 0..3u64 {
            let at = Duration::from_secs(seq);
            let payload = telemetry("sensor-0001", 1000 + seq, seq, readings.sample(at));
            let j: Json = serde_json::from_slice(&payload).unwrap();
            let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(sorted, ["device", "hum", "seq", "temp", "ts"]);
            assert_eq!(j["seq"], seq);
            assert!(j["temp"].is_f64() && j["hum"].is_f64());
            assert_eq!(parse_telemetry(&payload).unwrap().seq, seq);
        }
    }

    #[test]
    fn telemetry_escapes_what_json_needs_escaped() {
        let v = Value::Str(Arc::from("a\"b"));
        let payload = telemetry("d\"1", 0, 0, [("q\"", &v)].into_iter());
        let back: Json = serde_json::from_slice(&payload).unwrap();
        assert_eq!(back["device"], "d\"1");
        assert_eq!(back["q\""], "a\"b");
    }

    #[test]
    fn telemetry_reads_back_for_the_verifier() {
        let payload = telemetry("s-1", 42, 9, std::iter::empty());
        assert_eq!(
            parse_telemetry(&payload),
            Ok(Received {
                device: "s-1".into(),
                seq: 9,
                ts: 42
            })
        );
        assert!(
            parse_telemetry(b"{\"device\":\"x\",\"ts\":1}")
                .unwrap_err()
                .contains("seq")
        );
        assert!(
            parse_telemetry(b"{\"seq\":1,\"ts\":1}")
                .unwrap_err()
                .contains("device")
        );
        assert!(
            parse_telemetry(b"[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
    }

    #[test]
    fn status_messages_are_the_documented_json() {
        assert_eq!(
            text(online("s-1", 5)),
            r#"{"status":"online","id":"s-1","ts":5}"#
        );
        assert_eq!(text(offline("s-1")), r#"{"status":"offline","id":"s-1"}"#);
    }

    #[test]
    fn state_has_led_and_interval() {
        let s = State {
            led: true,
            interval: Duration::from_millis(1500),
        };
        assert_eq!(
            text(state("s-1", &s, 9)),
            r#"{"id":"s-1","led":"on","interval":"1s 500ms","ts":9}"#
        );
        let s = State {
            led: false,
            interval: Duration::from_secs(5),
        };
        assert_eq!(
            text(state("s-1", &s, 9)),
            r#"{"id":"s-1","led":"off","interval":"5s","ts":9}"#
        );
    }

    #[test]
    fn the_three_commands_parse() {
        let c = |p: &str| parse_command(p.as_bytes()).unwrap().action;
        assert_eq!(c(r#"{"led":"on"}"#), Action::Led(true));
        assert_eq!(c(r#"{"led":"off"}"#), Action::Led(false));
        assert_eq!(
            c(r#"{"interval":"5s"}"#),
            Action::Interval(Duration::from_secs(5))
        );
        assert_eq!(
            c(r#"{"interval":"250ms"}"#),
            Action::Interval(Duration::from_millis(250))
        );
        assert_eq!(c(r#"{"reboot":true}"#), Action::Reboot);
        assert_eq!(c(" { \"led\" : \"on\" } \n"), Action::Led(true));
    }

    #[test]
    fn a_command_id_is_echoed_in_the_ack() {
        let cmd = parse_command(br#"{"led":"on","id":"c-17"}"#).unwrap();
        assert_eq!(cmd.id, Some(Json::from("c-17")));
        assert_eq!(text(ack(&cmd)), r#"{"cmd":"led","ok":true,"id":"c-17"}"#);
        let cmd = parse_command(br#"{"id":3,"reboot":true}"#).unwrap();
        assert_eq!(text(ack(&cmd)), r#"{"cmd":"reboot","ok":true,"id":3}"#);
        let no_id = parse_command(br#"{"interval":"1s"}"#).unwrap();
        assert_eq!(text(ack(&no_id)), r#"{"cmd":"interval","ok":true}"#);
    }

    #[test]
    fn a_command_may_say_when_it_was_sent() {
        let cmd = parse_command(br#"{"led":"on","ts":1700000000123}"#).unwrap();
        assert_eq!(cmd.action, Action::Led(true));
        assert_eq!(cmd.sent, Some(1_700_000_000_123));
        assert_eq!(text(ack(&cmd)), r#"{"cmd":"led","ok":true}"#);
        assert_eq!(parse_command(br#"{"reboot":true}"#).unwrap().sent, None);
        let r = rejected(r#"{"led":"blue","ts":5}"#);
        assert_eq!((r.cmd, r.sent), (Some("led"), Some(5)));
        for bad in [r#"{"led":"on","ts":"now"}"#, r#"{"led":"on","ts":-1}"#] {
            let r = rejected(bad);
            assert!(r.error.starts_with("ts must be"), "{bad}: {}", r.error);
            assert_eq!(r.sent, None);
        }
        assert!(rejected(r#"{"ts":5}"#).error.contains("no command"));
    }

    #[test]
    fn malformed_and_unknown_commands_are_rejections_with_a_reason() {
        for (payload, cmd, why) in [
            ("{\"led\":", None, "not JSON"),
            ("", None, "not JSON"),
            ("\u{0}\u{ff}", None, "not JSON"),
            ("[\"led\"]", None, "a JSON object"),
            ("\"on\"", None, "a JSON object"),
            ("{}", None, "no command"),
            ("{\"id\":1}", None, "no command"),
            ("{\"fan\":\"on\"}", None, "unknown command \"fan\""),
            (
                "{\"led\":\"on\",\"interval\":\"1s\"}",
                None,
                "one command per message",
            ),
            ("{\"led\":\"blue\"}", Some("led"), "\"on\" or \"off\""),
            ("{\"led\":true}", Some("led"), "not true"),
            ("{\"interval\":\"0s\"}", Some("interval"), "more than zero"),
            (
                "{\"interval\":\"soon\"}",
                Some("interval"),
                "not a duration",
            ),
            ("{\"interval\":5}", Some("interval"), "such as \"5s\""),
            ("{\"reboot\":false}", Some("reboot"), "must be true"),
            ("{\"reboot\":\"yes\"}", Some("reboot"), "must be true"),
        ] {
            let r = rejected(payload);
            assert_eq!(r.cmd, cmd, "{payload:?}");
            assert!(r.error.contains(why), "{payload:?}: {}", r.error);
        }
    }

    #[test]
    fn error_acks_carry_the_command_and_the_reason() {
        let r = rejected(r#"{"led":"blue","id":"x"}"#);
        assert_eq!(
            text(ack_error(&r)),
            r#"{"cmd":"led","ok":false,"error":"led must be \"on\" or \"off\", not \"blue\"","id":"x"}"#
        );
        let r = rejected("garbage");
        let back: Json = serde_json::from_slice(&ack_error(&r)).unwrap();
        assert_eq!(back["ok"], false);
        assert!(back.get("cmd").is_none());
        assert!(back["error"].as_str().unwrap().starts_with("not JSON"));
    }

    #[test]
    fn acks_read_back_for_the_command_sender() {
        let cmd = parse_command(br#"{"led":"on","id":7}"#).unwrap();
        assert_eq!(
            parse_ack(&ack(&cmd)),
            Ok(Ack {
                cmd: Some("led".into()),
                ok: true,
                error: None,
                id: Some(Json::from(7))
            })
        );
        let r = rejected("{}");
        let a = parse_ack(&ack_error(&r)).unwrap();
        assert!(!a.ok && a.cmd.is_none() && a.error.unwrap().contains("no command"));
        assert!(parse_ack(b"{\"cmd\":\"led\"}").unwrap_err().contains("ok"));
    }

    #[test]
    fn unix_ms_counts_milliseconds_from_the_epoch() {
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1234)), 1234);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
