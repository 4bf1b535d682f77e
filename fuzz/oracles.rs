//! What each fuzz target checks on one input: a function per target, taking the raw bytes and
//! panicking when an invariant breaks.
//!
//! The same file is compiled into the integration tests (`tests/fuzz_replay.rs`), which feed
//! every input kept under `tests/fuzz_regressions/<target>/` to the function of that name, so a
//! crash found once is replayed by every `cargo test`.
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use chrono::FixedOffset;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use serde::de::IgnoredAny;
use serde_json::Value;

use mqtk::cli::Protocol;
use mqtk::conn::codec::{Codec, Connect, In, Props};
use mqtk::conn::state::{Event, Fault, Settings, State};
use mqtk::conn::{Incoming, Message, PropCommand, Reason, SubCode, Subscription, V5Props, Will};
use mqtk::format::{Message as Shown, Output, OutputKind, OutputSpec, Properties, Zone};
use mqtk::pwfile::{self, PasswordFile, Scheme};
use mqtk::topic::{topic_matches, validate_topic_filter, validate_topic_name};

/// The targets, by name: the fuzz target `fuzz/fuzz_targets/<name>.rs` and the regression
/// directory `tests/fuzz_regressions/<name>/` both use `run(name, ...)`.
pub const TARGETS: &[&str] = &[
    "format", "pwfile", "topic", "url", "property", "decode", "session", "fleet",
];

/// Runs the oracle of target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "format" => format(data),
        "pwfile" => pwfile(data),
        "topic" => topic(data),
        "url" => url(data),
        "property" => property(data),
        "decode" => decode(data),
        "session" => session(data),
        "fleet" => fleet(data),
        _ => panic!("no fuzz target {name:?}"),
    }
}

/// Structured values drawn from the input, front to back; an exhausted input gives zeros.
struct Draw<'a>(&'a [u8]);

impl<'a> Draw<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `max` bytes, the count given by the next byte.
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.byte()).min(max).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// -F format strings and the JSON outputs

/// `Output::new` refuses a bad format string or accepts it, and an accepted one renders every
/// message the same way twice without panicking. Every JSON output (`--format json`, `%j`, `%J`,
/// compact and `--pretty`) is valid JSON that gives back the topic, the payload bytes, QoS,
/// retain and the properties; `%J` refuses exactly the payloads serde_json refuses.
pub fn format(data: &[u8]) {
    let mut d = Draw(data);
    let flags = d.byte();
    let kind = match d.byte() % 4 {
        0 => OutputKind::Plain,
        1 => OutputKind::Json,
        2 => OutputKind::Hex,
        _ => OutputKind::Base64,
    };
    let minutes = i32::from(d.u16() as i16) % 1440;
    let zone = Zone::Fixed(FixedOffset::east_opt(minutes * 60).expect("within a day"));
    let received = UNIX_EPOCH + Duration::new(u64::from(d.u32()), d.u32() % 1_000_000_000);
    let topic = d.text(64);
    let payload = d.bytes(255).to_vec();
    let qos = d.byte() % 3;
    let retain = d.bool();
    let mid = d.u16();
    let props = d.bool().then(|| Properties {
        payload_format_indicator: d.bool().then(|| d.byte() % 2),
        message_expiry_interval: d.bool().then(|| d.u32()),
        topic_alias: d.bool().then(|| d.u16()),
        content_type: d.bool().then(|| d.text(32)),
        response_topic: d.bool().then(|| d.text(32)),
        correlation_data: d.bool().then(|| d.bytes(32).to_vec()),
        subscription_identifiers: (0..d.byte() % 3).map(|_| d.u32() % 268_435_456).collect(),
        user_properties: (0..d.byte() % 3)
            .map(|_| (d.text(16), d.text(16)))
            .collect(),
    });
    let format_string = String::from_utf8_lossy(d.rest()).into_owned();
    let msg = Shown {
        topic: &topic,
        payload: &payload,
        qos,
        retain,
        mid,
        properties: props.as_ref(),
        received,
    };

    let spec = OutputSpec {
        verbose: flags & 1 != 0,
        no_newline: flags & 2 != 0,
        format_string: (flags & 4 != 0).then_some(format_string.as_str()),
        kind,
        pretty: flags & 8 != 0,
        zone,
    };
    match Output::new(spec) {
        Ok(out) => {
            let mut first = Vec::new();
            let r1 = out.write(&msg, &mut first);
            let mut second = Vec::new();
            let r2 = out.write(&msg, &mut second);
            assert_eq!(first, second, "the same message rendered twice differs");
            assert_eq!(r1.is_ok(), r2.is_ok());
            if r1.is_err() {
                assert!(first.is_empty(), "a refused message left output behind");
            }
        }
        Err(e) => {
            assert!(
                spec.format_string.is_some(),
                "options without -F refused: {e}"
            );
            assert!(!e.to_string().contains('\n'), "a multi-line error: {e}");
        }
    }

    for pretty in [false, true] {
        let v = json_of(&msg, None, pretty, zone).expect("--format json never refuses");
        assert_eq!(v["topic"], topic.as_str());
        assert_eq!(
            payload_of(&v, "payload", "payload_encoding"),
            Some(payload.clone())
        );
        assert_eq!(v["qos"], qos);
        assert_eq!(v["retain"], retain);
        assert_eq!(v["mid"], mid);
        check_properties(&v, props.as_ref());

        let v = json_of(&msg, Some("%j"), pretty, zone).expect("%j never refuses");
        assert_eq!(v["topic"], topic.as_str());
        assert_eq!(v["payloadlen"], payload.len());
        if payload.is_empty() {
            assert!(v["payload"].is_null());
        } else {
            assert_eq!(
                payload_of(&v, "payload", "payload_encoding"),
                Some(payload.clone())
            );
        }
        check_properties(&v, props.as_ref());

        // serde_json parses 128 levels deep: a payload that deep fits, the object around it
        // does not.
        if payload.iter().filter(|b| matches!(b, b'[' | b'{')).count() > 100 {
            continue;
        }
        // %J embeds any JSON text, numbers beyond f64 included (valid JSON, which
        // serde_json's Value cannot hold): compare values where Value can.
        // %J's own test: UTF-8, and JSON text.
        let is_json = std::str::from_utf8(&payload)
            .is_ok_and(|s| serde_json::from_str::<IgnoredAny>(s).is_ok());
        match json_text(&msg, Some("%J"), pretty, zone) {
            Some(text) if payload.is_empty() => assert!(parse(&text)["payload"].is_null()),
            Some(text) => {
                assert!(is_json, "%J embedded a payload that is not JSON");
                match serde_json::from_slice::<Value>(&payload) {
                    Ok(embedded) => assert_eq!(parse(&text)["payload"], embedded),
                    Err(_) => assert!(
                        serde_json::from_str::<IgnoredAny>(&text).is_ok(),
                        "invalid JSON: {text}"
                    ),
                }
            }
            None => assert!(!is_json && !payload.is_empty(), "%J refused JSON"),
        }
    }
}

/// The JSON value one message renders to (`None`: refused).
fn json_of(msg: &Shown<'_>, format: Option<&str>, pretty: bool, zone: Zone) -> Option<Value> {
    json_text(msg, format, pretty, zone).map(|text| parse(&text))
}

/// The text one message renders to with `--format json` or a JSON `-F` (`None`: refused, as
/// `%J` does for a payload that is not JSON): valid UTF-8, one line unless pretty, then `\n`.
fn json_text(msg: &Shown<'_>, format: Option<&str>, pretty: bool, zone: Zone) -> Option<String> {
    let out = Output::new(OutputSpec {
        format_string: format,
        kind: if format.is_some() {
            OutputKind::Plain
        } else {
            OutputKind::Json
        },
        pretty,
        zone,
        ..OutputSpec::default()
    })
    .expect("a valid JSON output");
    let mut buf = Vec::new();
    out.write(msg, &mut buf).ok()?;
    let text = String::from_utf8(buf).expect("JSON output is UTF-8");
    let body = text
        .strip_suffix('\n')
        .expect("a newline after the message");
    if !pretty {
        assert!(
            !body.contains('\n'),
            "compact JSON on several lines: {body}"
        );
    }
    Some(body.to_string())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"))
}

/// Bytes shown as a JSON string, or as base64 with `<key><suffix>: "base64"`.
fn payload_of(v: &Value, key: &str, encoding: &str) -> Option<Vec<u8>> {
    let s = v[key].as_str()?;
    match v[encoding].as_str() {
        Some("base64") => Some(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("valid base64"),
        ),
        Some(other) => panic!("unknown encoding {other}"),
        None => Some(s.as_bytes().to_vec()),
    }
}

fn check_properties(v: &Value, props: Option<&Properties>) {
    let Some(p) = props.filter(|p| **p != Properties::default()) else {
        assert!(v.get("properties").is_none(), "properties without any: {v}");
        return;
    };
    let shown = &v["properties"];
    assert_eq!(
        shown.get("content-type").and_then(Value::as_str),
        p.content_type.as_deref()
    );
    assert_eq!(
        shown.get("response-topic").and_then(Value::as_str),
        p.response_topic.as_deref()
    );
    assert_eq!(
        payload_of(shown, "correlation-data", "correlation-data-encoding"),
        p.correlation_data
    );
    assert_eq!(
        shown.get("message-expiry-interval").and_then(Value::as_u64),
        p.message_expiry_interval.map(u64::from)
    );
    let users: Vec<(String, String)> = shown
        .get("user-properties")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(users, p.user_properties);
}

// ---------------------------------------------------------------------------------------------
// Password files

/// A file that parses renders back byte for byte; every entry the parser lists can be looked up;
/// and setting a valid user's password, then deleting the user, gives files that parse again
/// with exactly that change (the other users keep what they had).
pub fn pwfile(data: &[u8]) {
    let mut d = Draw(data);
    let user = d.text(40);
    let text = d.rest();
    let Ok(file) = PasswordFile::parse(text) else {
        return;
    };
    assert_eq!(file.render(), text, "render(parse(x)) != x");
    let entries = file.entries();
    let users: Vec<String> = entries
        .iter()
        .filter_map(|e| String::from_utf8(e.user.clone()).ok())
        .collect();
    for u in &users {
        assert!(file.stored(u).is_some(), "entry {u:?} cannot be looked up");
    }
    if pwfile::check_username(&user).is_err() {
        return;
    }
    // One PBKDF2 round: the oracle is about the file, not the hash.
    let stored = pwfile::hash_with_salt(Scheme::Pbkdf2 { iterations: 1 }, b"pw", &[7; 12]);
    let mut edited = file.clone();
    edited.set(&user, &stored);
    let reread = PasswordFile::parse(&edited.render())
        .unwrap_or_else(|e| panic!("the file with {user:?} set does not parse: {e}"));
    assert_eq!(
        reread.stored(&user),
        pwfile::decode(stored.as_bytes()).ok(),
        "{user:?} does not read back as set"
    );
    for u in users.iter().filter(|u| **u != user) {
        assert_eq!(
            reread.stored(u),
            file.stored(u),
            "setting {user:?} changed {u:?}"
        );
    }
    let mut deleted = reread.clone();
    assert!(deleted.delete(&user));
    let reread = PasswordFile::parse(&deleted.render())
        .unwrap_or_else(|e| panic!("the file with {user:?} deleted does not parse: {e}"));
    assert_eq!(reread.stored(&user), None, "{user:?} is still there");
    for u in users.iter().filter(|u| **u != user) {
        assert_eq!(
            reread.stored(u),
            file.stored(u),
            "deleting {user:?} changed {u:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Topic names and filters

/// Validation and matching never panic, and agree with each other and with the spec: a valid
/// topic name is a valid filter that matches itself; `#` matches every topic not starting with
/// `$`; a filter made from the topic by replacing one level with `+`, or by cutting it after a
/// level and adding `/#`, matches it; `topic_matches` agrees with a level-by-level reading of
/// MQTT 5 §4.7 on every valid pair.
pub fn topic(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (filter, topic) = text.split_once('\n').unwrap_or((&text, ""));
    let filter_ok = validate_topic_filter(filter).is_ok();
    let name_ok = validate_topic_name(topic).is_ok();
    let got = topic_matches(filter, topic);
    if filter_ok && name_ok {
        assert_eq!(
            got,
            reference_match(filter, topic),
            "{filter:?} vs {topic:?}"
        );
    }
    if validate_topic_name(filter).is_ok() {
        assert!(filter_ok, "topic name {filter:?} is not a valid filter");
    }
    if !name_ok {
        return;
    }
    assert!(validate_topic_filter(topic).is_ok(), "{topic:?}");
    assert!(
        topic_matches(topic, topic),
        "{topic:?} does not match itself"
    );
    assert_eq!(
        topic_matches("#", topic),
        !topic.starts_with('$'),
        "{topic:?}"
    );
    let levels: Vec<&str> = topic.split('/').collect();
    for i in 0..levels.len() {
        let mut f = levels.clone();
        f[i] = "+";
        let f = f.join("/");
        if validate_topic_filter(&f).is_ok() {
            let dollar = i == 0 && topic.starts_with('$');
            assert_eq!(topic_matches(&f, topic), !dollar, "{f:?} vs {topic:?}");
        }
        let prefix = levels[..=i].join("/") + "/#";
        if validate_topic_filter(&prefix).is_ok() {
            assert!(topic_matches(&prefix, topic), "{prefix:?} vs {topic:?}");
        }
    }
}

/// MQTT 5 §4.7, level by level: `+` is exactly one level, `#` (last) is the parent level and
/// any number below it, and a wildcard as the first level does not match a `$` topic.
fn reference_match(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    fn go(f: &[&str], t: &[&str]) -> bool {
        match (f, t) {
            (["#"], _) => true,
            ([], []) => true,
            (["+", fr @ ..], [_, tr @ ..]) => go(fr, tr),
            ([fl, fr @ ..], [tl, tr @ ..]) => fl == tl && go(fr, tr),
            _ => false,
        }
    }
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    go(&f, &t)
}

// ---------------------------------------------------------------------------------------------
// -L URLs

/// `parse_url` never panics; its errors never show the password; what it accepts has a host and
/// a port from 1 up, and the URL written back from its parts (user and password
/// percent-encoded) parses to the same parts.
/// (The round trip is checked for host names and IP literals only: the parser takes any other
/// text as a host too, which then fails to resolve.)
pub fn url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let u = match mqtk::conn::parse_url(&text) {
        Ok(u) => u,
        Err(e) => return url_error_hides_the_password(&text, &e.to_string()),
    };
    assert!(!u.host.is_empty());
    assert_ne!(u.port, Some(0));
    assert_ne!(u.topic.as_deref(), Some(""));
    let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if !u.host.chars().all(plausible) {
        return;
    }
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let scheme = match u.scheme {
        mqtk::conn::Scheme::Mqtt => "mqtt",
        mqtk::conn::Scheme::Mqtts => "mqtts",
        mqtk::conn::Scheme::Ws => "ws",
        mqtk::conn::Scheme::Wss => "wss",
    };
    let mut s = format!("{scheme}://");
    if let Some(user) = &u.user {
        s += &utf8_percent_encode(user, NON_ALPHANUMERIC).to_string();
        if let Some(pw) = &u.password {
            s += ":";
            s += &utf8_percent_encode(pw, NON_ALPHANUMERIC).to_string();
        }
        s += "@";
    }
    if u.host.contains(':') {
        s += &format!("[{}]", u.host);
    } else {
        s += &u.host;
    }
    if let Some(port) = u.port {
        s += &format!(":{port}");
    }
    if let Some(topic) = &u.topic {
        s += "/";
        s += topic;
    }
    let again = mqtk::conn::parse_url(&s)
        .unwrap_or_else(|e| panic!("{s:?}, written back from {text:?}, does not parse: {e}"));
    assert_eq!(again, u, "{s:?} written back from {text:?}");
}

/// An error about a URL never shows its password: whatever lies between the first ':' after
/// the scheme and the last '@' (checked for passwords that cannot be mistaken for the words of
/// a reason: 8 bytes or more, with a character no reason uses).
fn url_error_hides_the_password(text: &str, error: &str) {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let Some((userinfo, after)) = rest.rsplit_once('@') else {
        return;
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return;
    };
    // The URL as an error may show it (quoted, escaped): a password that is also part of
    // that is no secret.
    let shown = format!("{:?}", format!("{scheme}{user}:***@{after}"));
    let unusual =
        |c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || " .:'\"-/()".contains(c));
    if password.len() < 8 || !password.chars().any(unusual) || shown.contains(password) {
        return;
    }
    assert!(
        !error.contains(password),
        "{error:?} shows the password of {text:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// -D properties

const COMMANDS: &[&str] = &[
    "connect",
    "publish",
    "will",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "auth",
    "Publish",
];

const NAMES: &[&str] = &[
    "session-expiry-interval",
    "receive-maximum",
    "maximum-packet-size",
    "topic-alias-maximum",
    "request-response-information",
    "request-problem-information",
    "authentication-method",
    "authentication-data",
    "user-property",
    "content-type",
    "correlation-data",
    "message-expiry-interval",
    "payload-format-indicator",
    "response-topic",
    "topic-alias",
    "subscription-identifier",
    "will-delay-interval",
    "reason-string",
    "Content-Type",
];

fn word(d: &mut Draw<'_>, dict: &[&str]) -> String {
    match d.byte() % 5 {
        0 | 1 => dict[usize::from(d.byte()) % dict.len()].to_string(),
        2 => d.u32().to_string(),
        // Around the 65 535-byte limit of MQTT strings.
        3 => "v".repeat(65_530 + usize::from(d.byte() % 12)),
        _ => d.text(24),
    }
}

/// Whatever `V5Props::parse` accepts can be sent: each packet encoded with the accepted
/// properties (CONNECT with the Will, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT) is read back
/// by rumqttc's MQTT 5 decoder, as a broker would, with the same properties; and every
/// response topic accepted is a valid topic name.
pub fn property(data: &[u8]) {
    let mut d = Draw(data);
    let all = [
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
        PropCommand::Subscribe,
        PropCommand::Unsubscribe,
        PropCommand::Disconnect,
    ];
    let mask = d.byte();
    let allowed: Vec<PropCommand> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect();
    let mut groups = Vec::new();
    for _ in 0..d.byte() % 6 {
        // As clap hands them over: CMD NAME VALUE, or CMD NAME VALUE VALUE for user-property.
        let mut g = vec![
            word(&mut d, COMMANDS),
            word(&mut d, NAMES),
            word(&mut d, NAMES),
        ];
        if d.bool() {
            g.push(word(&mut d, NAMES));
        }
        groups.push(g);
    }
    let Ok(props) = V5Props::parse(&groups, &allowed) else {
        return;
    };
    for (got, allowed_cmd) in [
        (props.connect.is_some(), PropCommand::Connect),
        (props.publish.is_some(), PropCommand::Publish),
        (props.will.is_some(), PropCommand::Will),
        (props.subscribe.is_some(), PropCommand::Subscribe),
        (props.unsubscribe.is_some(), PropCommand::Unsubscribe),
        (props.disconnect.is_some(), PropCommand::Disconnect),
    ] {
        assert!(
            !got || allowed.contains(&allowed_cmd),
            "{allowed_cmd:?} not allowed"
        );
    }
    if let Some(t) = props
        .publish
        .as_ref()
        .and_then(|p| p.response_topic.as_deref())
    {
        assert!(
            validate_topic_name(t).is_ok(),
            "publish response topic {t:?}"
        );
    }
    if let Some(t) = props
        .will
        .as_ref()
        .and_then(|p| p.response_topic.as_deref())
    {
        assert!(validate_topic_name(t).is_ok(), "will response topic {t:?}");
    }

    let mut codec = Codec::new(Protocol::V5, 1 << 20);
    codec.props = Some(Arc::new(Props {
        publish: props.publish.clone(),
        subscribe: props.subscribe.clone(),
        unsubscribe: props.unsubscribe.clone(),
    }));
    let read = |out: &mut BytesMut| -> v5::Packet {
        let p = v5::Packet::read(out, None).unwrap_or_else(|e| panic!("not readable: {e:?}"));
        assert!(out.is_empty(), "bytes after the packet");
        p
    };

    let will = Will {
        topic: "w".into(),
        payload: Bytes::from_static(b"gone"),
        qos: 1,
        retain: false,
    };
    let mut out = BytesMut::new();
    codec.connect(
        &Connect {
            client_id: "fuzz",
            keepalive: 60,
            clean_start: true,
            username: None,
            password: None,
            will: props.will.is_some().then_some(&will),
            properties: props.connect.clone(),
            will_properties: props.will.clone(),
        },
        &mut out,
    );
    match read(&mut out) {
        v5::Packet::Connect(c, w, _) => {
            assert_eq!(c.properties, props.connect);
            assert_eq!(w.and_then(|w| w.properties), props.will);
        }
        p => panic!("CONNECT read back as {p:?}"),
    }

    let mut out = BytesMut::new();
    codec.publish(
        1,
        false,
        &Message::new("t", Bytes::from_static(b"x"), 1, false),
        &mut out,
    );
    match read(&mut out) {
        v5::Packet::Publish(p) => assert_eq!(p.properties, props.publish),
        p => panic!("PUBLISH read back as {p:?}"),
    }

    let sub = Subscription {
        filter: "a/#".into(),
        qos: 1,
        no_local: false,
        retain_as_published: false,
        retain_handling: 0,
    };
    let mut out = BytesMut::new();
    codec.subscribe(2, &[sub], &mut out);
    match read(&mut out) {
        v5::Packet::Subscribe(s) => assert_eq!(s.properties, props.subscribe),
        p => panic!("SUBSCRIBE read back as {p:?}"),
    }

    let mut out = BytesMut::new();
    codec.unsubscribe(3, "a/#", &mut out);
    match read(&mut out) {
        v5::Packet::Unsubscribe(u) => assert_eq!(u.properties, props.unsubscribe),
        p => panic!("UNSUBSCRIBE read back as {p:?}"),
    }

    let mut out = BytesMut::new();
    codec.disconnect(props.disconnect.clone(), &mut out);
    if props.disconnect.is_none() && out[..] == [0xE0, 0x00] {
        // A normal disconnection without properties: MQTT 5 allows leaving out the reason
        // code, rumqttc writes it so, and its reader (unlike mosquitto) refuses it.
        return;
    }
    match read(&mut out) {
        v5::Packet::Disconnect(x) => assert_eq!(x.properties, props.disconnect),
        p => panic!("DISCONNECT read back as {p:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The packet decoder

/// `Codec::decode` on any bytes, MQTT 3.1.1 and 5, never panics; a packet it returns consumed
/// bytes, and `None` (a partial packet) consumed none; and the bytes arriving in small pieces
/// decode to the same packets as all at once (the driver reads whatever the socket gives).
pub fn decode(data: &[u8]) {
    let mut d = Draw(data);
    let protocol = if d.bool() {
        Protocol::V5
    } else {
        Protocol::V311
    };
    let max = match d.byte() % 3 {
        0 => 16,
        1 => 1024,
        _ => 1 << 20,
    };
    let step = 1 + usize::from(d.byte() % 7);
    let codec = Codec::new(protocol, max);
    let bytes = d.rest();
    let whole = packets(&codec, bytes, bytes.len().max(1));
    let pieces = packets(&codec, bytes, step);
    assert_eq!(whole, pieces, "decoding in pieces of {step} differs");
}

/// The packets (as Debug text) decoded from `bytes` fed `step` bytes at a time, and whether
/// the stream ended in an error.
fn packets(codec: &Codec, bytes: &[u8], step: usize) -> (Vec<String>, bool) {
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in bytes.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.clone();
            match codec.decode(&mut buf) {
                Ok(Some(p)) => {
                    assert!(buf.len() < before.len(), "{p:?} consumed nothing");
                    got.push(format!("{p:?}"));
                }
                Ok(None) => {
                    assert_eq!(buf, before, "a partial packet was consumed");
                    break;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    return (got, true);
                }
            }
        }
    }
    (got, false)
}

// ---------------------------------------------------------------------------------------------
// The session state machine

/// A `State` driven by any sequence of operations a driver can perform — publish, connect (with
/// any CONNACK), lose the connection, bytes from the broker through the decoder, broker packets
/// built directly with any packet id, transmit, flush, acks, fences, compaction, time — never
/// panics and loses or repeats nothing: every message published is settled at most once, a
/// settlement names a message that was published, until a fault ends the run the published
/// messages are exactly those settled plus those outstanding, and no fence is answered that
/// was not asked for. What it transmits is valid MQTT: rumqttc's
/// decoder reads it back, and every QoS 1/2 PUBLISH carries a packet id.
pub fn session(data: &[u8]) {
    let mut d = Draw(data);
    let protocol = if d.bool() {
        Protocol::V5
    } else {
        Protocol::V311
    };
    let settings = Settings {
        window: 1 + d.u16() % 64,
        keepalive: Duration::from_secs(u64::from(d.byte() % 3) * 5),
        manual_acks: d.bool(),
    };
    let codec = Codec::new(protocol, 1 << 16);
    let mut state = State::new(settings, codec.clone());
    if d.bool() {
        let sub = Subscription {
            filter: "in/#".into(),
            qos: d.byte() % 3,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        };
        let unsubs = if d.bool() { vec!["old".into()] } else { vec![] };
        state.set_subscriptions(vec![sub], unsubs);
    }
    let mut now = Instant::now();
    let mut published = 0u64;
    let mut settled = HashSet::new();
    let mut tokens = Vec::new();
    let mut inbound = BytesMut::new();
    // As the driver: CONNACK only between connections, broker packets only on one.
    let mut connected = false;
    let (mut fences, mut fences_asked) = (0u32, 0u32);
    while !d.is_empty() {
        let op = d.byte() % 13;
        if matches!(op, 2 | 3 | 8..=10) && !connected || op == 1 && connected {
            continue;
        }
        let fault = match op {
            0 => {
                let qos = d.byte() % 3;
                let payload = Bytes::copy_from_slice(d.bytes(16));
                state.publish(
                    published,
                    Message::new(format!("out/{published}"), payload, qos, d.bool()),
                );
                published += 1;
                None
            }
            1 => {
                let session_present = d.bool();
                let receive_max = d.bool().then(|| d.u16());
                let max_packet = d.bool().then(|| u32::from(d.u16()));
                state.connected(session_present, receive_max, max_packet, now);
                connected = true;
                None
            }
            2 => {
                inbound.clear();
                connected = false;
                state.disconnected()
            }
            3 => {
                inbound.extend_from_slice(d.bytes(255));
                let mut fault = None;
                loop {
                    match codec.decode(&mut inbound) {
                        Ok(Some(In::Disconnect { .. })) | Err(_) => {
                            inbound.clear();
                            connected = false;
                            fault = state.disconnected();
                            break;
                        }
                        Ok(Some(p)) => state.received(p, now),
                        Ok(None) => break,
                    }
                }
                fault
            }
            4 => {
                let mut out = BytesMut::new();
                let r = state.transmit(&mut out, now);
                check_outgoing(protocol, out);
                r.err()
            }
            5 => {
                state.flushed();
                None
            }
            6 => {
                if !tokens.is_empty() {
                    let t = tokens.remove(usize::from(d.byte()) % tokens.len());
                    state.ack(t);
                }
                None
            }
            7 => {
                now += Duration::from_millis(u64::from(d.u16()) * 10);
                let _ = state.deadline();
                state.check(now).err()
            }
            8 => {
                // Broker packets with ids near those in use, as a broker (or a confused one)
                // would send them.
                let pkid = 1 + d.u16() % 8;
                let reason = d.bool().then(|| Reason {
                    code: d.byte(),
                    text: "fuzz".into(),
                });
                let p = match d.byte() % 6 {
                    0 => In::PubAck { pkid, reason },
                    1 => In::PubRec { pkid, reason },
                    2 => In::PubRel { pkid },
                    3 => In::PubComp { pkid, reason },
                    4 => In::SubAck {
                        pkid,
                        codes: vec![SubCode::Granted(d.byte() % 3)],
                    },
                    _ => In::UnsubAck { pkid },
                };
                state.received(p, now);
                None
            }
            9 => {
                let qos = d.byte() % 3;
                state.received(
                    In::Publish(Incoming {
                        topic: "in/x".into(),
                        payload: Bytes::copy_from_slice(d.bytes(8)),
                        qos,
                        retain: d.bool(),
                        dup: d.bool(),
                        pkid: if qos == 0 { 0 } else { 1 + d.u16() % 8 },
                        properties: None,
                        generation: 0,
                    }),
                    now,
                );
                None
            }
            10 => {
                state.received(In::PingResp, now);
                None
            }
            11 => {
                state.fence();
                fences_asked += 1;
                None
            }
            _ => {
                state.compact();
                None
            }
        };
        while let Some(ev) = state.poll_event() {
            match ev {
                Event::Done { tag, .. } => {
                    assert!(tag < published, "settled {tag}, never published");
                    assert!(settled.insert(tag), "message {tag} settled twice");
                }
                Event::Message(m) => tokens.push(m.ack_token()),
                Event::Fence => {
                    fences += 1;
                    assert!(
                        fences <= fences_asked,
                        "a fence answered that was not asked"
                    );
                }
                Event::SubAck(_) | Event::UnsubAck => {}
            }
        }
        assert!(!state.has_events());
        match fault {
            // The driver ends the run on these: the message cannot be sent.
            Some(Fault::TooLarge { .. } | Fault::Refused { .. }) => return,
            // The driver drops the connection.
            Some(Fault::KeepAliveTimeout) => {
                inbound.clear();
                connected = false;
                if let Some(Fault::TooLarge { .. } | Fault::Refused { .. }) = state.disconnected() {
                    return;
                }
                while let Some(ev) = state.poll_event() {
                    if let Event::Done { tag, .. } = ev {
                        assert!(settled.insert(tag), "message {tag} settled twice");
                    }
                }
            }
            None => {}
        }
        assert_eq!(
            state.outstanding() as u64 + settled.len() as u64,
            published,
            "published messages neither settled nor outstanding"
        );
    }
}

/// What a client sends must be readable by a broker: whole packets only, each a valid MQTT
/// packet, QoS 1/2 PUBLISHes with a non-zero packet id.
fn check_outgoing(protocol: Protocol, mut out: BytesMut) {
    while !out.is_empty() {
        match protocol {
            Protocol::V5 => match v5::Packet::read(&mut out, None) {
                Ok(v5::Packet::Publish(p)) => {
                    assert!(p.qos as u8 == 0 || p.pkid != 0, "QoS {:?} with id 0", p.qos)
                }
                Ok(_) => {}
                Err(e) => panic!("sent an unreadable packet: {e:?}"),
            },
            Protocol::V311 => match v4::Packet::read(&mut out, usize::MAX) {
                Ok(v4::Packet::Publish(p)) => {
                    assert!(p.qos as u8 == 0 || p.pkid != 0, "QoS {:?} with id 0", p.qos)
                }
                Ok(_) => {}
                Err(e) => panic!("sent an unreadable packet: {e:?}"),
            },
        }
    }
}

/// The oracles exercised on a few inputs of each kind, so that they stay in working order
/// even while no regression input exists for a target.
/// A fleet file (`mqtk sim --fleet`) is either refused with one line that names the file, or
/// gives a plan whose devices have ids, valid topic names and metrics that sample without
/// panicking; the telemetry of the first devices is JSON.
pub fn fleet(data: &[u8]) {
    use mqtk::cmd::sim::{args::SimArgs, payload, plan::Plan};
    let text = String::from_utf8_lossy(data);
    let path = std::path::Path::new("fleet.toml");
    let no_files = |p: &std::path::Path| -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} (no files while fuzzing)", p.display()),
        ))
    };
    let plan = match Plan::build(&SimArgs::default(), Some((path, &text)), &no_files) {
        Ok(plan) => plan,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "a fleet error spans lines: {msg:?}");
            assert!(!msg.is_empty());
            return;
        }
    };
    for dev in plan.devices().take(50) {
        assert!(!dev.id.is_empty());
        let t = dev.topics();
        for topic in [
            &t.telemetry,
            &t.status,
            &t.commands,
            &t.state,
            &t.ack,
            &t.broadcast,
        ] {
            validate_topic_name(topic).unwrap_or_else(|e| panic!("{topic:?}: {e}"));
        }
        let mut readings = dev.readings();
        let mut schedule = dev.schedule();
        for seq in 0..4 {
            let at = schedule.next_due();
            let body = payload::telemetry(&dev.id, 0, seq, readings.sample(at));
            let v: Value = serde_json::from_slice(&body).expect("telemetry is JSON");
            assert_eq!(v["seq"], seq);
        }
    }
    if plan.shard_devices() <= 100 {
        let _ = plan.dry_run().to_string();
    }
}

pub fn smoke() {
    let mut format_input = vec![
        0b100, 1, 0, 0, 10, 0, 0, 0, 5, 0, 0, 0, 1, b't', 2, b'h', b'i',
    ];
    format_input.extend_from_slice(b"%t %p %j");
    format(&format_input);
    pwfile(b"\x05alicealice:pw\n# comment\r\nbob:$6$AAECAwQFBgcICQoL$J/vNH9EMqZLqOEdFIcJLmdQ587IOUdaIfYznXw37u6272QfhA3MU1z0SCG5xbN0rVeSa2lH0pH/YHdQWi3ZejQ==");
    topic(b"a/+/c\na/b/c");
    topic(b"#\n$SYS/x");
    url(b"mqtts://al%40ice:p%3Ass@[::1]:8883/home/+/temp");
    url(b"mqtt://alice:Sekrit-PW-1@127.0.0.1:189100/x");
    property(b"\x3f\x02\x00\x01\x00\x09\x00\x00\x00\x03\x00\x01\x00\x09\x00\x00\x00\x07\x00");
    decode(b"\x00\x02\x07\x20\x02\x00\x00\x30\x05\x00\x01tab");
    decode(b"\x01\x02\x03\x20\x03\x00\x00\x00\x30\x06\x00\x01t\x00ab\xe0\x00");
    session(b"\x00\x04\x00\x00\x00\x01\x01\x00\x00\x00\x01\x04\x00\x01\x01\x00\x00\x00\x08\x00\x01\x00\x00\x04");
    fleet(include_bytes!("../examples/fleet.toml"));
}
