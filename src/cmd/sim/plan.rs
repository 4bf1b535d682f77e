//! The fleet plan: `mqtk sim`'s flags and optional fleet file turned into validated groups of
//! devices, before any connection. Every usage error of `sim` is found here (exit 2).
//!
//! Devices are numbered `n = 1, 2, ...` across the whole fleet, group after group in the
//! file's order. `--shard K/N` runs the devices whose position `n - 1` is `K` modulo `N`: the
//! slices are disjoint, cover the fleet, mix every group into every shard, and a device's
//! values, schedule and connect time depend only on (seed, n), so a sharded fleet sends what
//! the unsharded one does.
//!
//! The fleet file (TOML; `examples/fleet.toml`):
//!
//! ```toml
//! seed = 42                     # optional top-level defaults for every group
//! prefix = "lab/sim"
//! interval = "2s"
//!
//! [[group]]
//! name = "climate"
//! devices = 10
//! id-template = "climate-{n:03}"
//! username = "sensor"           # per-group credentials; paths relative to this file
//! password-file = "sensor.pw"
//!
//! [group.metrics.temp]
//! kind = "walk"
//! start = 22.0
//! step = 0.1
//! min = 15.0
//! max = 30.0
//! ```
//!
//! A flag given on the command line (or through its `MQTK_*` variable) overrides the file's
//! value for every group: `--interval 100ms` speeds up the whole fleet.

use std::fmt::{self, Write as _};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::args::SimArgs;
use super::generators::{Metric, Readings, Spec, default_metrics};
use super::schedule::{Backoff, Chaos, Schedule};
use super::thresholds::Threshold;
use crate::exit::{Failure, usage};

/// Built-in defaults, shown in `--help`.
pub const DEFAULT_DEVICES: u64 = 10;
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_QOS: u8 = 1;
pub const DEFAULT_PREFIX: &str = "mqtk/sim";
pub const DEFAULT_ID_TEMPLATE: &str = "sensor-{n:04}";
pub const DEFAULT_SEED: u64 = 0;
/// The name of the one group a fleet without a fleet file has (`{group}` in a template).
pub const FLAGS_GROUP: &str = "sensors";
/// The level under the prefix that addresses every device: `<prefix>/all/commands`.
pub const BROADCAST: &str = "all";
/// Open files a run needs besides one socket per device: stdio, the runtime, a report file,
/// a TLS trust store being read.
pub const RESERVED_FILES: u64 = 64;
/// Connections from one source address to one broker address before the ephemeral ports
/// (32768-60999 on Linux) run out.
pub const PORTS_PER_SOURCE: u64 = 28_000;
/// Devices on one broadcast topic from which `warnings` names its cost: mosquitto adds the
/// n-th subscriber of a topic after comparing it with the n - 1 it has (README, "The shared
/// command topic").
const SHARED_SUBSCRIBERS: u64 = 5000;

// ---------------------------------------------------------------------------------------------
// Values of flags and fleet-file keys

/// A duration in humane units: `500ms`, `1s`, `5m`, `1h 30m`, `0s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("{s:?} is not a duration such as 500ms, 1s, 5m or 1h 30m ({e})"))?;
    // Schedules add durations up; a bound keeps every sum far from overflowing.
    if d > MAX_DURATION {
        return Err(format!("{s:?}: at most 100 years"));
    }
    Ok(d)
}

/// The longest duration accepted anywhere (100 Julian years).
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// A duration that must be more than zero: intervals, `--duration`, a sine's period.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err(format!("{s:?}: must be more than zero")),
        d => Ok(d),
    }
}

/// How much each interval varies: `± duration` or `± a percentage of the interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    Fixed(Duration),
    Fraction(f64),
}

impl Default for Jitter {
    fn default() -> Jitter {
        Jitter::Fixed(Duration::ZERO)
    }
}

impl Jitter {
    /// `100ms`, `0`, or `10%` (less than 100 %).
    pub fn parse(s: &str) -> Result<Jitter, String> {
        if let Some(pct) = s.trim().strip_suffix('%') {
            return match pct.trim().parse::<f64>() {
                Ok(p) if (0.0..100.0).contains(&p) => Ok(Jitter::Fraction(p / 100.0)),
                _ => Err(format!("{s:?}: a percentage from 0% to less than 100%")),
            };
        }
        parse_duration(s).map(Jitter::Fixed)
    }

    /// The most an interval of `interval` moves either way, always less than the interval
    /// itself so that no delay is zero or negative (an `{"interval"}` command can make the
    /// interval shorter than a fixed jitter).
    pub fn amount(self, interval: Duration) -> Duration {
        match self {
            Jitter::Fixed(d) if d < interval => d,
            Jitter::Fixed(_) => interval.mul_f64(0.99),
            Jitter::Fraction(f) => interval.mul_f64(f),
        }
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jitter::Fixed(d) => write!(f, "{}", humantime::format_duration(*d)),
            Jitter::Fraction(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

/// The slowest `--connect-rate`: one connection a minute.
pub const MIN_CONNECT_RATE: f64 = 1.0 / 60.0;

/// `--connect-rate`: `500/s`, `500`, `30/m` (connections per second, at least 1/m).
pub fn parse_connect_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some(_) => return Err(format!("{s:?}: expected N/s or N/m, as in 500/s")),
        None => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v / per >= MIN_CONNECT_RATE => Ok(v / per),
        _ => Err(format!(
            "{s:?}: expected connections per second or minute, at least 1/m, as in 500/s"
        )),
    }
}

/// `--chaos`: the fraction of the fleet dropped per minute, `0.05` or `5%` (up to 60: each
/// device once a second).
pub fn parse_chaos(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let parsed = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    };
    match parsed {
        Ok(v) if v > 0.0 && v <= 60.0 => Ok(v),
        _ => Err(format!(
            "{s:?}: expected the fraction of devices to drop per minute, above 0 and at most 60, as in 0.05 or 5%"
        )),
    }
}

/// `--shard K/N`: slice K (0-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole fleet in one process.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?}: expected K/N with 0 <= K < N, as in 0/4");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the device at `position` (`n - 1`) runs in this shard.
    pub fn contains(self, position: u64) -> bool {
        position % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A client-id template: literal text with `{n}`, `{n:0W}` (zero-padded to W digits) and
/// `{group}`; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    N { width: usize },
    Group,
}

/// Whether `c` may appear in a client id that is also a topic level.
fn id_char(c: char) -> bool {
    !matches!(c, '/' | '+' | '#') && !c.is_control()
}

impl IdTemplate {
    pub fn parse(s: &str) -> Result<IdTemplate, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("{s:?}: unclosed {{ in the id template")),
                        }
                    }
                    let part = match name.as_str() {
                        "n" => Part::N { width: 0 },
                        "group" => Part::Group,
                        _ => match name.strip_prefix("n:0").map(str::parse::<usize>) {
                            Some(Ok(width @ 1..=20)) => Part::N { width },
                            _ => {
                                return Err(format!(
                                    "{s:?}: unknown placeholder {{{name}}} (use {{n}}, {{n:04}} or {{group}})"
                                ));
                            }
                        },
                    };
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                }
                '}' => return Err(format!("{s:?}: unmatched }} (write }}}} for a brace)")),
                c if !id_char(c) => {
                    return Err(format!(
                        "{s:?}: a client id here is also a topic level, so it cannot contain {c:?}"
                    ));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        if parts.is_empty() {
            return Err("the id template is empty".into());
        }
        Ok(IdTemplate {
            text: s.to_string(),
            parts,
        })
    }

    /// Whether the template numbers its devices (else every device gets the same id).
    pub fn has_n(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::N { .. }))
    }

    /// The literal text before the first `{n}`, and after the last one, with `{group}` filled
    /// in: two templates whose ids can meet agree on the shorter of each.
    fn literal_ends(&self, group: &str) -> (String, String) {
        let text = |parts: &[Part]| {
            let mut out = String::new();
            for p in parts {
                match p {
                    Part::Text(t) => out.push_str(t),
                    Part::Group => out.push_str(group),
                    Part::N { .. } => {}
                }
            }
            out
        };
        let is_n = |p: &Part| matches!(p, Part::N { .. });
        let first = self.parts.iter().position(is_n).unwrap_or(self.parts.len());
        let last = self.parts.iter().rposition(is_n).map_or(0, |i| i + 1);
        (text(&self.parts[..first]), text(&self.parts[last..]))
    }

    /// Whether ids of this template (for `group`) and of `other` (for `other_group`) can
    /// possibly be equal; `false` is certain, `true` means "check".
    fn may_meet(&self, group: &str, other: &IdTemplate, other_group: &str) -> bool {
        let (h1, t1) = self.literal_ends(group);
        let (h2, t2) = other.literal_ends(other_group);
        (h1.starts_with(&h2) || h2.starts_with(&h1)) && (t1.ends_with(&t2) || t2.ends_with(&t1))
    }

    /// Whether this template renders `id` for some device number in `range` of `group`.
    pub fn renders(&self, id: &str, group: &str, range: std::ops::RangeInclusive<u64>) -> bool {
        fn digits(v: u64) -> usize {
            v.checked_ilog10().map_or(1, |l| l as usize + 1)
        }
        fn matches(
            parts: &[Part],
            s: &str,
            group: &str,
            n: Option<u64>,
            range: &std::ops::RangeInclusive<u64>,
        ) -> bool {
            let Some((first, rest)) = parts.split_first() else {
                return s.is_empty() && n.is_none_or(|n| range.contains(&n));
            };
            match first {
                Part::Text(t) => s
                    .strip_prefix(t.as_str())
                    .is_some_and(|r| matches(rest, r, group, n, range)),
                Part::Group => s
                    .strip_prefix(group)
                    .is_some_and(|r| matches(rest, r, group, n, range)),
                Part::N { width } => {
                    let run = s.bytes().take_while(u8::is_ascii_digit).count();
                    (1..=run.min(20)).any(|len| {
                        let (number, r) = s.split_at(len);
                        // Only the way `render` writes v: zero-padded to `width`, no more.
                        number.parse::<u64>().is_ok_and(|v| {
                            len == digits(v).max(*width)
                                && n.is_none_or(|m| m == v)
                                && matches(rest, r, group, Some(v), range)
                        })
                    })
                }
            }
        }
        matches(&self.parts, id, group, None, &range)
    }

    pub fn render(&self, n: u64, group: &str) -> String {
        let mut id = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => id.push_str(t),
                Part::N { width } => {
                    let _ = write!(id, "{n:0width$}");
                }
                Part::Group => id.push_str(group),
            }
        }
        id
    }
}

impl fmt::Display for IdTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A topic prefix: a valid topic name without wildcards, not starting with `$` (brokers keep
/// those for themselves) and not ending with `/`.
pub fn parse_prefix(s: &str) -> Result<String, String> {
    crate::topic::validate_topic_name(s).map_err(|e| format!("prefix: {e}"))?;
    if s.starts_with('$') {
        return Err(format!(
            "prefix {s:?} starts with $: brokers do not let clients publish there"
        ));
    }
    if s.ends_with('/') {
        return Err(format!(
            "prefix {s:?} ends with /: the device id follows a / already"
        ));
    }
    Ok(s.to_string())
}

fn parse_group_name(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("a group name is empty".into());
    }
    if let Some(c) = s.chars().find(|c| !id_char(*c)) {
        return Err(format!(
            "group name {s:?}: {c:?} cannot be part of a client id ({{group}})"
        ));
    }
    Ok(s.to_string())
}

// ---------------------------------------------------------------------------------------------
// The plan

/// A password from a fleet file, never shown (`Debug` and the dry run print `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A group's own credentials; what is `None` comes from the connection flags (`-u`, `-P`,
/// `--cert`, `--key`) shared by the fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<Password>,
    /// Client certificate and its key (both or neither), resolved against the fleet file's
    /// directory.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        *self == Credentials::default()
    }
}

/// Devices that share a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: Arc<str>,
    /// `n` of its first device.
    pub first_n: u64,
    /// Its devices in the whole fleet (all shards).
    pub devices: u64,
    pub id_template: IdTemplate,
    pub prefix: Arc<str>,
    pub interval: Duration,
    pub jitter: Jitter,
    pub qos: u8,
    pub metrics: Vec<Metric>,
    pub credentials: Credentials,
}

impl Group {
    /// Positions `n - 1` of its devices.
    fn positions(&self) -> std::ops::Range<u64> {
        self.first_n - 1..self.first_n - 1 + self.devices
    }
}

/// The topics of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub telemetry: String,
    pub status: String,
    pub commands: String,
    pub state: String,
    pub ack: String,
    /// `<prefix>/all/commands`: commands for every device under the prefix.
    pub broadcast: String,
}

impl Topics {
    pub fn new(prefix: &str, id: &str) -> Topics {
        let t = |leaf: &str| format!("{prefix}/{id}/{leaf}");
        Topics {
            telemetry: t("telemetry"),
            status: t("status"),
            commands: t("commands"),
            state: t("state"),
            ack: t("ack"),
            broadcast: format!("{prefix}/{BROADCAST}/commands"),
        }
    }
}

/// One device of this shard (owned, so a device task can take it).
#[derive(Debug, Clone)]
pub struct Device {
    /// Its number in the whole fleet, from 1.
    pub n: u64,
    /// Its index among this shard's devices, from 0 (source address round robin).
    pub local: u64,
    pub id: String,
    pub group: Arc<Group>,
    seed: u64,
}

impl Device {
    pub fn topics(&self) -> Topics {
        Topics::new(&self.group.prefix, &self.id)
    }

    /// Its metric generators.
    pub fn readings(&self) -> Readings {
        Readings::new(&self.group.metrics, self.seed, self.n)
    }

    /// When its telemetry falls due.
    pub fn schedule(&self) -> Schedule {
        Schedule::new(self.seed, self.n, self.group.interval, self.group.jitter)
    }

    /// When `--chaos per_minute` drops it.
    pub fn chaos(&self, per_minute: f64) -> Chaos {
        Chaos::new(self.seed, self.n, per_minute)
    }

    /// Its reconnect delays.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.seed, self.n)
    }
}

/// Everything `mqtk sim` will do, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub shard: Shard,
    /// The whole fleet's groups, in order.
    pub groups: Vec<Arc<Group>>,
    pub fleet_file: Option<PathBuf>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop each device after this many telemetry messages.
    pub count: Option<u64>,
    /// Connections per second across the fleet.
    pub connect_rate: Option<f64>,
    /// Fraction of the fleet dropped per minute.
    pub chaos: Option<f64>,
    pub bind_addrs: Vec<IpAddr>,
    /// Devices subscribe to `<prefix>/all/commands` as well as their own commands topic.
    pub broadcast: bool,
    pub verify: bool,
    pub report: Option<PathBuf>,
    pub fail_if: Vec<Threshold>,
    pub dry_run: bool,
}

/// The fleet file's form, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FleetFile {
    seed: Option<u64>,
    #[serde(default, deserialize_with = "de_prefix")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "de_template")]
    id_template: Option<IdTemplate>,
    #[serde(default, deserialize_with = "de_interval")]
    interval: Option<Duration>,
    #[serde(default, deserialize_with = "de_jitter")]
    jitter: Option<Jitter>,
    #[serde(default, deserialize_with = "de_qos")]
    qos: Option<u8>,
    #[serde(rename = "group", default)]
    groups: Vec<toml::Spanned<GroupFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GroupFile {
    #[serde(default, deserialize_with = "de_name")]
    name: Option<String>,
    #[serde(deserialize_with = "de_devices")]
    devices: u64,
    #[serde(default, deserialize_with = "de_template")]
    id_template: Option<IdTemplate>,
    #[serde(default, deserialize_with = "de_prefix")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "de_interval")]
    interval: Option<Duration>,
    #[serde(default, deserialize_with = "de_jitter")]
    jitter: Option<Jitter>,
    #[serde(default, deserialize_with = "de_qos")]
    qos: Option<u8>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    #[serde(default)]
    metrics: MetricList,
}

fn de_with<'de, D, T>(
    d: D,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: de::Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).map(Some).map_err(de::Error::custom)
}

fn de_prefix<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    de_with(d, parse_prefix)
}

fn de_template<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<IdTemplate>, D::Error> {
    de_with(d, IdTemplate::parse)
}

fn de_interval<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_with(d, parse_interval)
}

fn de_jitter<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Jitter>, D::Error> {
    de_with(d, Jitter::parse)
}

fn de_name<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    de_with(d, parse_group_name)
}

fn de_qos<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    match i64::deserialize(d) {
        Ok(q @ 0..=2) => Ok(Some(q as u8)),
        _ => Err(de::Error::custom("qos must be the number 0, 1 or 2")),
    }
}

fn de_devices<'de, D: de::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match i64::deserialize(d) {
        Ok(n @ 1..) => Ok(n as u64),
        _ => Err(de::Error::custom(
            "devices must be a whole number, at least 1",
        )),
    }
}

/// A group's metrics in the file's order (`[group.metrics.NAME]` tables).
#[derive(Default)]
struct MetricList(Vec<Metric>);

/// Telemetry fields every message has; a metric cannot take their names.
pub const RESERVED_FIELDS: [&str; 3] = ["device", "ts", "seq"];

impl<'de> Deserialize<'de> for MetricList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetricList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of metrics, one [group.metrics.NAME] table each")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricList, A::Error> {
                let mut metrics = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name.is_empty() || RESERVED_FIELDS.contains(&name.as_str()) {
                        return Err(de::Error::custom(format!(
                            "metric name {name:?} is taken: every message has device, ts and seq"
                        )));
                    }
                    let spec: Spec = map.next_value()?;
                    metrics.push(Metric::new(&name, spec));
                }
                Ok(MetricList(metrics))
            }
        }
        d.deserialize_map(V)
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Plan {
    /// Reads the fleet file and password files named in `args`, then validates everything.
    pub fn from_args(args: &SimArgs) -> Result<Plan, Failure> {
        let fleet = match &args.fleet {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    usage(format!(
                        "cannot read the fleet file {} ({e})",
                        path.display()
                    ))
                })?;
                Some((path.as_path(), text))
            }
            None => None,
        };
        Plan::build(
            args,
            fleet.as_ref().map(|(p, t)| (*p, t.as_str())),
            &|p: &Path| std::fs::read_to_string(p),
        )
    }

    /// Validates `args` and the fleet file's `(path, text)`; `read` reads password files.
    pub fn build(
        args: &SimArgs,
        fleet: Option<(&Path, &str)>,
        read: &dyn Fn(&Path) -> io::Result<String>,
    ) -> Result<Plan, Failure> {
        let (groups, file_seed) = match fleet {
            Some((path, text)) => {
                let file_error = |line: Option<usize>, msg: &str| {
                    let at = line.map(|l| format!(", line {l}")).unwrap_or_default();
                    usage(format!("fleet file {}{at}: {msg}", path.display()))
                };
                let file: FleetFile = toml::from_str(text).map_err(|e| {
                    file_error(e.span().map(|s| line_of(text, s.start)), e.message())
                })?;
                let base = path.parent().unwrap_or(Path::new(""));
                let groups = file_groups(args, &file, base, read)
                    .map_err(|(span, msg)| file_error(span.map(|s| line_of(text, s)), &msg))?;
                (groups, file.seed)
            }
            None => (vec![Arc::new(flags_group(args)?)], None),
        };
        let plan = Plan {
            seed: args.seed.or(file_seed).unwrap_or(DEFAULT_SEED),
            shard: args.shard.unwrap_or(Shard::ALL),
            groups,
            fleet_file: fleet.map(|(p, _)| p.to_path_buf()),
            duration: args.duration,
            count: args.count,
            connect_rate: args.connect_rate,
            chaos: args.chaos,
            bind_addrs: args.bind_addr.clone(),
            broadcast: !args.no_broadcast,
            verify: args.verify,
            report: args.report.clone(),
            fail_if: args.fail_if.clone(),
            dry_run: args.dry_run,
        };
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&self) -> Result<(), Failure> {
        if let Some(t) = self
            .fail_if
            .iter()
            .find(|t| t.needs_verify() && !self.verify)
        {
            return Err(usage(format!(
                "--fail-if {t}: lost and duplicate messages are only counted with --verify"
            )));
        }
        if self.bind_addrs.iter().any(|a| a.is_unspecified()) {
            return Err(usage(
                "--bind-addr: 0.0.0.0 and :: are not source addresses; give local addresses such as 127.0.0.2",
            ));
        }
        // Ids are unique within a group that numbers its devices (a number renders one way).
        // Across groups two templates can still meet ("s-{n}" and "s-1{n}"): render the ids
        // of the smaller group and ask whether the other's template makes any of them.
        for (i, a) in self.groups.iter().enumerate() {
            for b in &self.groups[i + 1..] {
                let (small, big) = if a.devices <= b.devices {
                    (a, b)
                } else {
                    (b, a)
                };
                if !big
                    .id_template
                    .may_meet(&big.name, &small.id_template, &small.name)
                {
                    continue;
                }
                for n in small.positions().map(|p| p + 1) {
                    let id = small.id_template.render(n, &small.name);
                    if big.id_template.renders(
                        &id,
                        &big.name,
                        big.first_n..=big.first_n + big.devices - 1,
                    ) {
                        return Err(usage(format!(
                            "device id {id:?} is given to a device of group {} and one of group {}; change an id-template",
                            a.name, b.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Devices in the whole fleet.
    pub fn fleet_devices(&self) -> u64 {
        self.groups.iter().map(|g| g.devices).sum()
    }

    /// Devices of `group` in this shard.
    pub fn shard_devices_of(&self, group: &Group) -> u64 {
        let Shard { index, count } = self.shard;
        let r = group.positions();
        // Positions p in r with p % count == index: count those below each end.
        let below = |end: u64| end / count + u64::from(end % count > index);
        below(r.end) - below(r.start)
    }

    /// Devices in this shard.
    pub fn shard_devices(&self) -> u64 {
        self.groups.iter().map(|g| self.shard_devices_of(g)).sum()
    }

    /// This shard's devices, in order of `n`.
    pub fn devices(&self) -> impl Iterator<Item = Device> + '_ {
        let Shard { index, count } = self.shard;
        self.groups.iter().flat_map(move |g| {
            let r = g.positions();
            let first = r.start + (index + count - r.start % count) % count;
            (first..r.end).step_by(count as usize).map(move |p| Device {
                n: p + 1,
                local: p / count,
                id: g.id_template.render(p + 1, &g.name),
                group: g.clone(),
                seed: self.seed,
            })
        })
    }

    /// When device `n` opens its connection, counted from the start of the run: devices
    /// connect in order of `n` at `--connect-rate` across the fleet (each of N shards at
    /// 1/N of it), at once without a rate.
    pub fn connect_at(&self, n: u64) -> Duration {
        match self.connect_rate {
            Some(rate) => {
                Duration::try_from_secs_f64((n - 1) as f64 / rate).unwrap_or(Duration::MAX)
            }
            None => Duration::ZERO,
        }
    }

    /// The local address the device with shard index `local` binds to, round robin.
    pub fn bind_addr(&self, local: u64) -> Option<IpAddr> {
        if self.bind_addrs.is_empty() {
            return None;
        }
        Some(self.bind_addrs[(local % self.bind_addrs.len() as u64) as usize])
    }

    /// Telemetry messages per second this shard is scheduled to send once every device is up.
    pub fn scheduled_rate(&self) -> f64 {
        self.groups
            .iter()
            .map(|g| self.shard_devices_of(g) as f64 / g.interval.as_secs_f64())
            .sum()
    }

    /// The broadcast command topics, one per prefix.
    pub fn broadcast_topics(&self) -> Vec<String> {
        self.broadcast_audiences()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    /// Each broadcast topic with the devices of the whole fleet (all shards) under it.
    fn broadcast_audiences(&self) -> Vec<(String, u64)> {
        let mut topics: Vec<(String, u64)> = Vec::new();
        for g in &self.groups {
            let t = Topics::new(&g.prefix, BROADCAST).broadcast;
            match topics.iter_mut().find(|(seen, _)| *seen == t) {
                Some((_, n)) => *n += g.devices,
                None => topics.push((t, g.devices)),
            }
        }
        topics
    }

    /// Telemetry filters for `--verify`, one per prefix: `<prefix>/+/telemetry`.
    pub fn telemetry_filters(&self) -> Vec<String> {
        let mut filters: Vec<String> = Vec::new();
        for g in &self.groups {
            let f = format!("{}/+/telemetry", g.prefix);
            if !filters.contains(&f) {
                filters.push(f);
            }
        }
        filters
    }

    /// Fails when this shard's connections cannot fit in `limit` open files (the hard limit of
    /// `ulimit -n`, to which the soft limit can be raised).
    pub fn check_open_files(&self, limit: u64) -> Result<(), Failure> {
        let devices = self.shard_devices();
        let needed = devices + u64::from(self.verify) + RESERVED_FILES;
        if needed <= limit {
            return Ok(());
        }
        let per_process = limit.saturating_sub(RESERVED_FILES + 1).max(1);
        let shards = self.fleet_devices().div_ceil(per_process).max(2);
        Err(usage(format!(
            "{devices} devices need about {needed} open files, and this process may open {limit} (ulimit -n)"
        ))
        .with_hint(format!(
            "split the fleet over processes with --shard K/{shards} (K = 0..{}), or raise the hard open-file limit",
            shards - 1
        )))
    }

    /// Things that will not stop the run but may spoil it.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let devices = self.shard_devices();
        if devices == 0 {
            warnings.push(format!(
                "shard {} has no devices: the fleet has {} and {} shards",
                self.shard,
                self.fleet_devices(),
                self.shard.count
            ));
        }
        let sources = self.bind_addrs.len().max(1) as u64;
        if devices.div_ceil(sources) > PORTS_PER_SOURCE {
            warnings.push(format!(
                "{} connections per source address: past about {PORTS_PER_SOURCE} one source address runs out of ports to one broker address; spread them with --bind-addr 127.0.0.1,127.0.0.2,...",
                devices.div_ceil(sources)
            ));
        }
        if self.broadcast {
            for (topic, n) in self.broadcast_audiences() {
                if n >= SHARED_SUBSCRIBERS {
                    warnings.push(format!(
                        "{n} devices subscribe to {topic}: mosquitto compares each new subscriber of a topic with those it has, about 2 s of its CPU for 10 000; --no-broadcast leaves the shared topic out"
                    ));
                }
            }
        }
        warnings
    }

    /// `--dry-run`: this shard's plan as text, written as it is formatted (a large fleet
    /// has a line per device): `write!(stdout, "{}", plan.dry_run())`.
    pub fn dry_run(&self) -> impl fmt::Display + '_ {
        DryRun(self)
    }
}

struct DryRun<'p>(&'p Plan);

impl fmt::Display for DryRun<'_> {
    fn fmt(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        plan.write_dry_run(w)
    }
}

impl Plan {
    fn write_dry_run(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fleet = self.fleet_devices();
        let groups = self.groups.len();
        write!(
            w,
            "fleet: {fleet} device{} in {groups} group{}",
            plural(fleet),
            plural(groups as u64)
        )?;
        if let Some(path) = &self.fleet_file {
            write!(w, " from {}", path.display())?;
        }
        writeln!(w, ", seed {}", self.seed)?;
        writeln!(
            w,
            "shard: {} runs {} of them",
            self.shard,
            self.shard_devices()
        )?;
        let stop = match (self.duration, self.count) {
            (None, None) => "until interrupted (Ctrl-C)".to_string(),
            (Some(d), None) => format!("for {}", humantime::format_duration(d)),
            (None, Some(c)) => format!("{c} message{} per device", plural(c)),
            (Some(d), Some(c)) => format!(
                "for {} or {c} message{} per device, whichever comes first",
                humantime::format_duration(d),
                plural(c)
            ),
        };
        writeln!(w, "run: {stop}")?;
        writeln!(
            w,
            "telemetry: {} msg/s scheduled for this shard",
            number(self.scheduled_rate())
        )?;
        let connect = match self.connect_rate {
            Some(r) => format!(
                "{} per second across the fleet ({} per second in this shard)",
                number(r),
                number(r / self.shard.count as f64)
            ),
            None => "all at once".into(),
        };
        writeln!(w, "connect: {connect}")?;
        if let Some(c) = self.chaos {
            writeln!(
                w,
                "chaos: {}% of the devices dropped per minute (the Will fires, they come back)",
                number(c * 100.0)
            )?;
        }
        if !self.bind_addrs.is_empty() {
            let addrs: Vec<String> = self.bind_addrs.iter().map(|a| a.to_string()).collect();
            writeln!(w, "source addresses: {}", addrs.join(", "))?;
        }
        if self.verify {
            writeln!(
                w,
                "verify: subscribe to {} and count lost and duplicate messages",
                self.telemetry_filters().join(", ")
            )?;
        }
        if let Some(r) = &self.report {
            writeln!(w, "report: {}", r.display())?;
        }
        if !self.fail_if.is_empty() {
            let checks: Vec<String> = self.fail_if.iter().map(|t| t.to_string()).collect();
            writeln!(w, "fail if: {} (exit 6)", checks.join(", "))?;
        }
        if self.broadcast {
            writeln!(
                w,
                "commands to every device: {}",
                self.broadcast_topics().join(", ")
            )?;
        } else {
            writeln!(
                w,
                "commands to every device: none (--no-broadcast: each device takes only its own)"
            )?;
        }
        for g in &self.groups {
            let here = self.shard_devices_of(g);
            writeln!(w)?;
            writeln!(
                w,
                "group {}: {} device{} (n {}-{}), {here} in this shard",
                g.name,
                g.devices,
                plural(g.devices),
                g.first_n,
                g.first_n + g.devices - 1
            )?;
            writeln!(w, "  ids: {}", g.id_template)?;
            writeln!(
                w,
                "  topics: {}/<id>/telemetry, status, commands, state, ack",
                g.prefix
            )?;
            writeln!(
                w,
                "  telemetry: every {} ± {} at QoS {}, {} msg/s in this shard",
                humantime::format_duration(g.interval),
                g.jitter,
                g.qos,
                number(here as f64 / g.interval.as_secs_f64())
            )?;
            for m in &g.metrics {
                writeln!(w, "  metric {}: {}", m.name, m.spec)?;
            }
            writeln!(w, "  credentials: {}", describe_credentials(&g.credentials))?;
        }
        writeln!(w)?;
        writeln!(w, "devices:")?;
        for d in self.devices() {
            write!(w, "  {:>6}  {}  {}", d.n, d.id, d.topics().telemetry)?;
            if let Some(a) = self.bind_addr(d.local) {
                write!(w, "  from {a}")?;
            }
            if self.connect_rate.is_some() {
                let at = self.connect_at(d.n);
                write!(w, "  connects at {}", seconds(at))?;
            }
            writeln!(w)?;
        }
        Ok(())
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A rate or a percentage for people: at most 2 decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn seconds(d: Duration) -> String {
    format!("{}s", number(d.as_secs_f64()))
}

fn describe_credentials(c: &Credentials) -> String {
    if c.is_empty() {
        return "the connection flags' (-u, -P, --cert, --key)".into();
    }
    let mut parts = Vec::new();
    if let Some(u) = &c.username {
        parts.push(format!("username {u}"));
    }
    if c.password.is_some() {
        parts.push("a password".into());
    }
    if let (Some(cert), Some(key)) = (&c.cert, &c.key) {
        parts.push(format!(
            "client certificate {} with key {}",
            cert.display(),
            key.display()
        ));
    }
    parts.join(", ")
}

/// The one group of a fleet given by flags only.
fn flags_group(args: &SimArgs) -> Result<Group, Failure> {
    let interval = args.interval.unwrap_or(DEFAULT_INTERVAL);
    let jitter = args.jitter.unwrap_or_default();
    check_jitter(jitter, interval).map_err(|e| usage(format!("--jitter {jitter}: {e}")))?;
    let devices = args.devices.unwrap_or(DEFAULT_DEVICES);
    let id_template = match &args.id_template {
        Some(t) => t.clone(),
        None => IdTemplate::parse(DEFAULT_ID_TEMPLATE).expect("the default template is valid"),
    };
    check_ids(&id_template, FLAGS_GROUP, devices)
        .map_err(|e| usage(format!("--id-template {id_template}: {e}")))?;
    Ok(Group {
        name: FLAGS_GROUP.into(),
        first_n: 1,
        devices,
        id_template,
        prefix: args.prefix.as_deref().unwrap_or(DEFAULT_PREFIX).into(),
        interval,
        jitter,
        qos: args.qos.unwrap_or(DEFAULT_QOS),
        metrics: default_metrics(),
        credentials: Credentials::default(),
    })
}

fn check_jitter(jitter: Jitter, interval: Duration) -> Result<(), String> {
    match jitter {
        Jitter::Fixed(d) if d >= interval => Err(format!(
            "must be less than the interval ({})",
            humantime::format_duration(interval)
        )),
        _ => Ok(()),
    }
}

/// A template without `{n}` gives every device of its group the same id, and no id may be
/// `all`, the level of the broadcast topic.
fn check_ids(template: &IdTemplate, group: &str, devices: u64) -> Result<(), String> {
    if !template.has_n() {
        if devices > 1 {
            return Err(format!(
                "gives all {devices} devices of group {group} the same id; add {{n}}"
            ));
        }
        if template.render(1, group) == BROADCAST {
            return Err(format!(
                "gives the id {BROADCAST:?}, which would receive every broadcast command; pick another"
            ));
        }
    }
    Ok(())
}

type SpannedError = (Option<usize>, String);

/// The fleet file's groups with the flags applied over them.
fn file_groups(
    args: &SimArgs,
    file: &FleetFile,
    base: &Path,
    read: &dyn Fn(&Path) -> io::Result<String>,
) -> Result<Vec<Arc<Group>>, SpannedError> {
    if file.groups.is_empty() {
        return Err((
            None,
            "no [[group]] tables: a fleet file needs at least one".into(),
        ));
    }
    let mut groups: Vec<Arc<Group>> = Vec::new();
    let mut next_n: u64 = 1;
    for (i, spanned) in file.groups.iter().enumerate() {
        let at = Some(spanned.span().start);
        let g = spanned.get_ref();
        let name = g.name.clone().unwrap_or_else(|| format!("group{}", i + 1));
        let err = |msg: String| (at, format!("group {name}: {msg}"));
        if groups.iter().any(|other| *other.name == *name) {
            return Err(err("another group has this name".into()));
        }
        if g.metrics.0.is_empty() {
            return Err(err(
                "no metrics: add a [group.metrics.NAME] table with a kind".into(),
            ));
        }
        let interval = args
            .interval
            .or(g.interval)
            .or(file.interval)
            .unwrap_or(DEFAULT_INTERVAL);
        let jitter = args.jitter.or(g.jitter).or(file.jitter).unwrap_or_default();
        check_jitter(jitter, interval).map_err(|e| err(format!("jitter {jitter}: {e}")))?;
        let id_template = args
            .id_template
            .clone()
            .or_else(|| g.id_template.clone())
            .or_else(|| file.id_template.clone())
            .unwrap_or_else(|| IdTemplate::parse(DEFAULT_ID_TEMPLATE).expect("valid"));
        check_ids(&id_template, &name, g.devices)
            .map_err(|e| err(format!("id template {id_template}: {e}")))?;
        let prefix = args
            .prefix
            .clone()
            .or_else(|| g.prefix.clone())
            .or_else(|| file.prefix.clone())
            .unwrap_or_else(|| DEFAULT_PREFIX.into());
        let password = match (&g.password, &g.password_file) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "password and password-file both give the password; use one".into(),
                ));
            }
            (Some(p), None) => Some(Password::new(p.clone())),
            (None, Some(path)) => {
                let path = base.join(path);
                let text = read(&path).map_err(|e| {
                    err(format!(
                        "cannot read the password file {} ({e})",
                        path.display()
                    ))
                })?;
                // The first line, as --password-file reads it.
                Some(Password::new(text.lines().next().unwrap_or("")))
            }
            (None, None) => None,
        };
        if g.cert.is_some() != g.key.is_some() {
            return Err(err("cert and key go together: give both or neither".into()));
        }
        let devices = g.devices;
        groups.push(Arc::new(Group {
            name: name.as_str().into(),
            first_n: next_n,
            devices,
            id_template,
            prefix: prefix.into(),
            interval,
            jitter,
            qos: args.qos.or(g.qos).or(file.qos).unwrap_or(DEFAULT_QOS),
            metrics: g.metrics.0.clone(),
            credentials: Credentials {
                username: g.username.clone(),
                password,
                cert: g.cert.as_ref().map(|p| base.join(p)),
                key: g.key.as_ref().map(|p| base.join(p)),
            },
        }));
        next_n = next_n
            .checked_add(devices)
            .ok_or_else(|| err("the fleet has more devices than can be counted".into()))?;
    }
    Ok(groups)
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        Shard::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::sim::generators::Value;
    use clap::Parser;
    use std::collections::BTreeSet;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn args(words: &[&str]) -> SimArgs {
        Cli::try_parse_from(std::iter::once("sim").chain(words.iter().copied()))
            .unwrap_or_else(|e| panic!("{words:?}: {e}"))
            .sim
    }

    fn no_files(p: &Path) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", p.display()),
        ))
    }

    fn plan(words: &[&str]) -> Plan {
        Plan::build(&args(words), None, &no_files).unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    fn plan_err(words: &[&str]) -> String {
        Plan::build(&args(words), None, &no_files)
            .expect_err(&format!("{words:?}"))
            .message
    }

    fn fleet(text: &str, words: &[&str]) -> Result<Plan, Failure> {
        Plan::build(
            &args(words),
            Some((Path::new("conf/fleet.toml"), text)),
            &|p: &Path| match p.to_str() {
                Some("conf/secret.pw") => Ok("s3cret\nignored\n".into()),
                _ => no_files(p),
            },
        )
    }

    fn fleet_err(text: &str) -> String {
        fleet(text, &[]).expect_err(text).message
    }

    const TWO_GROUPS: &str = r#"
seed = 7
prefix = "lab"
interval = "2s"

[[group]]
name = "climate"
devices = 3
id-template = "c-{n:02}"
[group.metrics.temp]
kind = "walk"
start = 20
step = 0.5
min = 10
max = 30
[group.metrics.hum]
kind = "gaussian"
mean = 50
sd = 5

[[group]]
name = "door"
devices = 2
id-template = "{group}-{n}"
interval = "500ms"
qos = 2
prefix = "lab/doors"
username = "doors"
password-file = "secret.pw"
cert = "door.crt"
key = "door.key"
[group.metrics.open]
kind = "bool"
probability = 0.1
"#;

    #[test]
    fn durations_read_humane_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").unwrap_err().contains("not a duration"));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_interval("0s").unwrap_err().contains("more than zero"));
        assert_eq!(parse_duration("100y"), Ok(MAX_DURATION));
        assert!(
            parse_duration("101y")
                .unwrap_err()
                .contains("at most 100 years")
        );
        assert!(parse_duration("500000000000y").is_err());
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn jitter_is_a_duration_or_a_percentage_and_always_less_than_the_interval() {
        assert_eq!(
            Jitter::parse("100ms"),
            Ok(Jitter::Fixed(Duration::from_millis(100)))
        );
        assert_eq!(Jitter::parse("10%"), Ok(Jitter::Fraction(0.1)));
        assert!(Jitter::parse("100%").is_err());
        assert!(Jitter::parse("-5%").is_err());
        let second = Duration::from_secs(1);
        assert_eq!(
            Jitter::Fraction(0.1).amount(second),
            Duration::from_millis(100)
        );
        assert_eq!(
            Jitter::Fixed(Duration::from_millis(100)).amount(second),
            Duration::from_millis(100)
        );
        assert!(Jitter::Fixed(Duration::from_secs(5)).amount(second) < second);
        assert_eq!(Jitter::Fraction(0.1).to_string(), "10%");
        assert_eq!(
            Jitter::Fixed(Duration::from_millis(1500)).to_string(),
            "1s 500ms"
        );
    }

    #[test]
    fn connect_rate_is_per_second_or_per_minute() {
        assert_eq!(parse_connect_rate("500/s"), Ok(500.0));
        assert_eq!(parse_connect_rate("500"), Ok(500.0));
        assert_eq!(parse_connect_rate("30/m"), Ok(0.5));
        assert_eq!(parse_connect_rate("0.5/s"), Ok(0.5));
        assert_eq!(parse_connect_rate("1/m"), Ok(MIN_CONNECT_RATE));
        for bad in ["0/s", "-1", "fast", "5/h", "inf", "0.001/s", "1e-300"] {
            assert!(parse_connect_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chaos_is_a_fraction_or_a_percentage_per_minute() {
        assert_eq!(parse_chaos("0.05"), Ok(0.05));
        assert_eq!(parse_chaos("5%"), Ok(0.05));
        assert_eq!(parse_chaos("2"), Ok(2.0));
        for bad in ["0", "-0.1", "61", "often", "NaN"] {
            assert!(parse_chaos(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_is_k_of_n_with_k_below_n() {
        assert_eq!(Shard::parse("0/2"), Ok(Shard { index: 0, count: 2 }));
        assert_eq!(Shard::parse(" 3/4 "), Ok(Shard { index: 3, count: 4 }));
        for bad in ["2/2", "0/0", "1", "a/b", "-1/2", "1/2/3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 3 }.to_string(), "1/3");
    }

    #[test]
    fn id_templates_number_pad_and_name_the_group() {
        let t = IdTemplate::parse("sensor-{n:04}").unwrap();
        assert_eq!(t.render(7, "g"), "sensor-0007");
        assert_eq!(t.render(12345, "g"), "sensor-12345");
        let t = IdTemplate::parse("{group}-{n}").unwrap();
        assert_eq!(t.render(7, "door"), "door-7");
        let t = IdTemplate::parse("{{x}}-{n}").unwrap();
        assert_eq!(t.render(1, "g"), "{x}-1");
        assert!(!IdTemplate::parse("fixed").unwrap().has_n());
        assert_eq!(IdTemplate::parse("a{n:03}").unwrap().to_string(), "a{n:03}");
    }

    #[test]
    fn bad_id_templates_are_refused() {
        for (bad, why) in [
            ("s-{id}", "unknown placeholder"),
            ("s-{n:4}", "unknown placeholder"),
            ("s-{n:00}", "unknown placeholder"),
            ("s-{n", "unclosed"),
            ("s-}", "unmatched"),
            ("a/{n}", "topic level"),
            ("a+{n}", "topic level"),
            ("a#{n}", "topic level"),
            ("", "empty"),
        ] {
            let err = IdTemplate::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn prefixes_are_topic_names_without_wildcards() {
        assert_eq!(parse_prefix("a/b"), Ok("a/b".into()));
        for bad in ["", "a/+", "a/#", "$SYS/x", "a/", "a\0b"] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flags_alone_make_one_group_with_the_defaults() {
        let p = plan(&[]);
        assert_eq!(p.seed, DEFAULT_SEED);
        assert_eq!(p.shard, Shard::ALL);
        assert_eq!(p.groups.len(), 1);
        let g = &p.groups[0];
        assert_eq!(g.devices, DEFAULT_DEVICES);
        assert_eq!(
            (g.interval, g.qos, &*g.prefix),
            (DEFAULT_INTERVAL, 1, "mqtk/sim")
        );
        let names: Vec<&str> = g.metrics.iter().map(|m| &*m.name).collect();
        assert_eq!(names, ["temp", "hum"]);
        let ids: Vec<String> = p.devices().map(|d| d.id).collect();
        assert_eq!(ids.first().map(String::as_str), Some("sensor-0001"));
        assert_eq!(ids.last().map(String::as_str), Some("sensor-0010"));
    }

    #[test]
    fn flags_set_the_fleet() {
        let p = plan(&[
            "--devices",
            "3",
            "--interval",
            "250ms",
            "--jitter",
            "10%",
            "-q",
            "0",
            "--prefix",
            "plant/a",
            "--id-template",
            "dev{n}",
            "--seed",
            "9",
            "--duration",
            "1m",
            "--count",
            "5",
        ]);
        let g = &p.groups[0];
        assert_eq!(
            (g.devices, g.interval, g.jitter, g.qos),
            (3, Duration::from_millis(250), Jitter::Fraction(0.1), 0)
        );
        assert_eq!(
            (p.seed, p.duration, p.count),
            (9, Some(Duration::from_secs(60)), Some(5))
        );
        let d = p.devices().nth(1).unwrap();
        assert_eq!(d.id, "dev2");
        assert_eq!(
            d.topics(),
            Topics {
                telemetry: "plant/a/dev2/telemetry".into(),
                status: "plant/a/dev2/status".into(),
                commands: "plant/a/dev2/commands".into(),
                state: "plant/a/dev2/state".into(),
                ack: "plant/a/dev2/ack".into(),
                broadcast: "plant/a/all/commands".into(),
            }
        );
    }

    #[test]
    fn flag_values_that_cannot_work_are_usage_errors() {
        assert!(
            plan_err(&["--interval", "1s", "--jitter", "1s"]).contains("less than the interval")
        );
        assert!(plan_err(&["--devices", "2", "--id-template", "same"]).contains("same id"));
        assert!(plan_err(&["--devices", "1", "--id-template", "all"]).contains("broadcast"));
        assert!(plan_err(&["--fail-if", "lost>0"]).contains("--verify"));
        assert!(plan_err(&["--bind-addr", "0.0.0.0"]).contains("source addresses"));
        plan(&["--fail-if", "lost>0", "--verify"]);
        plan(&["--devices", "1", "--id-template", "only-one"]);
    }

    #[test]
    fn flag_syntax_errors_are_caught_by_the_parser() {
        let parse = |words: &[&str]| {
            Cli::try_parse_from(std::iter::once("sim").chain(words.iter().copied())).err()
        };
        for bad in [
            &["--interval", "0s"][..],
            &["--interval", "5"],
            &["--qos", "3"],
            &["--devices", "0"],
            &["--count", "0"],
            &["--shard", "2/2"],
            &["--connect-rate", "0/s"],
            &["--chaos", "0"],
            &["--bind-addr", "localhost"],
            &["--prefix", "a/#"],
            &["--id-template", "{x}"],
            &["--fail-if", "errors>>0"],
            &["--duration", "0s"],
            &["--devices", "2", "--fleet", "f.toml"],
        ] {
            assert!(parse(bad).is_some(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_fleet_with_the_same_ids() {
        let whole: Vec<(u64, String)> = plan(&["--devices", "23"])
            .devices()
            .map(|d| (d.n, d.id))
            .collect();
        for count in 1..=5u64 {
            let mut seen = BTreeSet::new();
            for index in 0..count {
                let shard = format!("{index}/{count}");
                let p = plan(&["--devices", "23", "--shard", &shard]);
                let devices: Vec<Device> = p.devices().collect();
                assert_eq!(devices.len() as u64, p.shard_devices(), "{shard}");
                for (i, d) in devices.iter().enumerate() {
                    assert_eq!(d.local, i as u64, "{shard}: local index");
                    assert!(p.shard.contains(d.n - 1), "{shard}: {}", d.n);
                    if count > 1 {
                        let next = Shard {
                            index: (index + 1) % count,
                            count,
                        };
                        assert!(!next.contains(d.n - 1), "{shard}: {} also in {next}", d.n);
                    }
                    assert!(seen.insert((d.n, d.id.clone())), "{shard}: {} twice", d.id);
                }
            }
            let all: Vec<(u64, String)> = seen.into_iter().collect();
            assert_eq!(all, whole, "{count} shards");
        }
    }

    #[test]
    fn shards_mix_every_group_and_count_their_devices() {
        let p = fleet(TWO_GROUPS, &["--shard", "1/2"]).unwrap();
        let ns: Vec<(u64, String)> = p
            .devices()
            .map(|d| (d.n, d.group.name.to_string()))
            .collect();
        assert_eq!(ns, [(2, "climate".into()), (4, "door".into())]);
        assert_eq!(p.shard_devices_of(&p.groups[0]), 1);
        assert_eq!(p.shard_devices_of(&p.groups[1]), 1);
        let p = fleet(TWO_GROUPS, &["--shard", "0/2"]).unwrap();
        let ns: Vec<u64> = p.devices().map(|d| d.n).collect();
        assert_eq!(ns, [1, 3, 5]);
        assert_eq!(p.shard_devices(), 3);
    }

    #[test]
    fn a_sharded_device_sends_the_values_and_schedule_of_the_unsharded_one() {
        let first_values = |p: &Plan, n: u64| {
            let d = p.devices().find(|d| d.n == n).unwrap();
            let mut r = d.readings();
            let mut s = d.schedule();
            let mut out = Vec::new();
            for _ in 0..5 {
                let at = s.next_due();
                out.push((
                    at,
                    r.sample(at)
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect::<Vec<(String, Value)>>(),
                ));
            }
            out
        };
        let whole = plan(&["--devices", "6", "--seed", "3", "--jitter", "100ms"]);
        let shard = plan(&[
            "--devices",
            "6",
            "--seed",
            "3",
            "--jitter",
            "100ms",
            "--shard",
            "2/3",
        ]);
        assert_eq!(first_values(&whole, 6), first_values(&shard, 6));
        assert_eq!(whole.connect_at(6), shard.connect_at(6));
        fn device(p: &Plan) -> Device {
            p.devices().find(|d| d.n == 6).unwrap()
        }
        let drops = |p: &Plan| {
            (0..3)
                .map({
                    let mut c = device(p).chaos(1.0);
                    move |_| c.next_gap()
                })
                .collect::<Vec<_>>()
        };
        let delays = |p: &Plan| {
            (0..3)
                .map({
                    let mut b = device(p).backoff();
                    move |_| b.next_delay()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(drops(&whole), drops(&shard));
        assert_eq!(delays(&whole), delays(&shard));
        let other_seed = plan(&["--devices", "6", "--seed", "4", "--jitter", "100ms"]);
        assert_ne!(first_values(&whole, 6), first_values(&other_seed, 6));
    }

    #[test]
    fn devices_connect_in_order_at_the_fleet_rate() {
        let p = plan(&["--devices", "10", "--connect-rate", "4/s", "--shard", "1/2"]);
        let at: Vec<Duration> = p.devices().map(|d| p.connect_at(d.n)).collect();
        assert_eq!(at[0], Duration::from_millis(250));
        assert_eq!(at[1], Duration::from_millis(750));
        assert_eq!(plan(&["--devices", "3"]).connect_at(3), Duration::ZERO);
    }

    #[test]
    fn bind_addresses_are_used_round_robin_over_the_shard() {
        let p = plan(&["--devices", "5", "--bind-addr", "127.0.0.1,127.0.0.2"]);
        let addrs: Vec<String> = p
            .devices()
            .map(|d| p.bind_addr(d.local).unwrap().to_string())
            .collect();
        assert_eq!(
            addrs,
            [
                "127.0.0.1",
                "127.0.0.2",
                "127.0.0.1",
                "127.0.0.2",
                "127.0.0.1"
            ]
        );
        assert_eq!(plan(&[]).bind_addr(0), None);
    }

    #[test]
    fn the_scheduled_rate_is_this_shards_devices_over_their_intervals() {
        assert_eq!(
            plan(&["--devices", "10", "--interval", "500ms"]).scheduled_rate(),
            20.0
        );
        assert_eq!(
            plan(&["--devices", "10", "--interval", "500ms", "--shard", "0/4"]).scheduled_rate(),
            6.0
        );
        // 3 climate devices every 2s, 2 door devices every 500ms.
        assert_eq!(fleet(TWO_GROUPS, &[]).unwrap().scheduled_rate(), 5.5);
    }

    #[test]
    fn a_fleet_file_gives_groups_numbered_across_the_fleet() {
        let p = fleet(TWO_GROUPS, &[]).unwrap();
        assert_eq!(p.seed, 7);
        let ids: Vec<String> = p.devices().map(|d| d.id).collect();
        assert_eq!(ids, ["c-01", "c-02", "c-03", "door-4", "door-5"]);
        let (climate, door) = (&p.groups[0], &p.groups[1]);
        assert_eq!((climate.first_n, door.first_n), (1, 4));
        assert_eq!(
            (climate.interval, door.interval),
            (Duration::from_secs(2), Duration::from_millis(500))
        );
        assert_eq!((climate.qos, door.qos), (DEFAULT_QOS, 2));
        assert_eq!((&*climate.prefix, &*door.prefix), ("lab", "lab/doors"));
        let names: Vec<&str> = climate.metrics.iter().map(|m| &*m.name).collect();
        assert_eq!(names, ["temp", "hum"], "the file's order");
        assert!(climate.credentials.is_empty());
        assert_eq!(
            door.credentials,
            Credentials {
                username: Some("doors".into()),
                password: Some(Password::new("s3cret")),
                cert: Some(PathBuf::from("conf/door.crt")),
                key: Some(PathBuf::from("conf/door.key")),
            }
        );
        assert_eq!(
            p.broadcast_topics(),
            ["lab/all/commands", "lab/doors/all/commands"]
        );
        assert_eq!(
            p.telemetry_filters(),
            ["lab/+/telemetry", "lab/doors/+/telemetry"]
        );
    }

    #[test]
    fn flags_override_the_fleet_file_for_every_group() {
        let p = fleet(
            TWO_GROUPS,
            &[
                "--interval",
                "100ms",
                "-q",
                "0",
                "--prefix",
                "x",
                "--seed",
                "1",
            ],
        )
        .unwrap();
        assert!(
            p.groups
                .iter()
                .all(|g| g.interval == Duration::from_millis(100)
                    && g.qos == 0
                    && &*g.prefix == "x")
        );
        assert_eq!(p.seed, 1);
    }

    #[test]
    fn fleet_file_errors_name_the_file_and_line() {
        let cases = [
            (
                "[[group]]\ndevices = 1\nintervl = '1s'\n",
                3,
                "unknown field `intervl`",
            ),
            (
                "[[group]]\ndevices = 1\ninterval = '0s'\n",
                3,
                "more than zero",
            ),
            (
                "[[group]]\ndevices = 1\nqos = 3\n",
                3,
                "qos must be the number 0, 1 or 2",
            ),
            (
                "[[group]]\ndevices = 1\nqos = '1'\n",
                3,
                "qos must be the number 0, 1 or 2",
            ),
            ("[[group]]\ndevices = 2.5\n", 2, "a whole number"),
            ("[[group]]\ndevices = 0\n", 2, "a whole number, at least 1"),
            ("\n\n[[group]\n", 3, ""),
            ("[[group]]\ndevices = 1\nprefix = 'a/+'\n", 3, "wildcard"),
            (
                "[[group]]\ndevices = 1\nid-template = 'x{y}'\n",
                3,
                "placeholder",
            ),
            (
                "[[group]]\ndevices = 1\n[group.metrics.t]\nkind = 'walk'\nstart = 1\nstep = 1\nmin = 2\nmax = 3\n",
                3,
                "start = 1",
            ),
            (
                "[[group]]\ndevices = 1\n[group.metrics.seq]\nkind = 'counter'\n",
                3,
                "taken",
            ),
        ];
        for (text, line, want) in cases {
            let err = fleet_err(text);
            assert!(
                err.starts_with(&format!("fleet file conf/fleet.toml, line {line}: "))
                    && err.contains(want),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn group_errors_name_the_group_and_its_line() {
        let metric = "[group.metrics.t]\nkind = 'constant'\nvalue = 1\n";
        let cases = [
            (
                format!(
                    "[[group]]\nname = 'a'\ndevices = 1\n{metric}[[group]]\nname = 'a'\ndevices = 1\n{metric}"
                ),
                7,
                "group a: another group has this name",
            ),
            (
                "seed = 1\n[[group]]\nname = 'a'\ndevices = 1\n".to_string(),
                2,
                "group a: no metrics",
            ),
            (
                format!("[[group]]\ndevices = 2\nid-template = 'one'\n{metric}"),
                1,
                "group group1: id template one: gives all 2 devices",
            ),
            (
                format!("[[group]]\ndevices = 1\ninterval = '1s'\njitter = '2s'\n{metric}"),
                1,
                "less than the interval",
            ),
            (
                format!(
                    "[[group]]\ndevices = 1\npassword = 'x'\npassword-file = 'secret.pw'\n{metric}"
                ),
                1,
                "use one",
            ),
            (
                format!("[[group]]\ndevices = 1\npassword-file = 'missing.pw'\n{metric}"),
                1,
                "cannot read the password file conf/missing.pw",
            ),
            (
                format!("[[group]]\ndevices = 1\ncert = 'a.crt'\n{metric}"),
                1,
                "give both",
            ),
        ];
        for (text, line, want) in cases {
            let err = fleet_err(&text);
            assert!(
                err.contains(&format!("line {line}: ")) && err.contains(want),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn a_fleet_file_without_groups_is_refused() {
        assert!(fleet_err("seed = 1\n").contains("no [[group]]"));
    }

    #[test]
    fn ids_that_meet_across_groups_are_refused() {
        let metric = "[group.metrics.t]\nkind = 'constant'\nvalue = 1\n";
        let two = |a: &str, a_devices: u64, b: &str, b_devices: u64| {
            format!(
                "[[group]]\nname = 'a'\ndevices = {a_devices}\nid-template = '{a}'\n{metric}\
                 [[group]]\nname = 'b'\ndevices = {b_devices}\nid-template = '{b}'\n{metric}"
            )
        };
        // Group a has n 1-10, group b starts at 11.
        let err = fleet_err(&two("s-{n}", 10, "s-1", 1));
        assert!(
            err.contains("device id \"s-1\" is given to a device of group a and one of group b"),
            "{err}"
        );
        let err = fleet_err(&two("s-1{n}", 10, "s-{n}", 200));
        assert!(err.contains("is given to a device"), "{err}");
        // The same text, different numbers: no device shares an id.
        fleet(&two("s-{n}", 10, "s-{n}", 10), &[]).unwrap();
        fleet(&two("s-{n:04}", 10, "s-{n}", 10), &[]).unwrap();
        fleet(&two("{group}-{n}", 10, "{group}-{n}", 10), &[]).unwrap();
        // b's ids s-11 ... s-20 are also what "s-1{n}" renders for n 1-10, but a has n 1-10
        // and b has 11-20: "s-11" is a's n = 1 and b's n = 11.
        let err = fleet_err(&two("s-1{n}", 10, "s-{n}", 10));
        assert!(err.contains("\"s-11\""), "{err}");
    }

    #[test]
    fn a_template_knows_which_ids_it_renders() {
        let t = |s: &str| IdTemplate::parse(s).unwrap();
        assert!(t("s-{n:04}").renders("s-0012", "g", 1..=100));
        assert!(
            !t("s-{n:04}").renders("s-12", "g", 1..=100),
            "not padded as rendered"
        );
        assert!(
            !t("s-{n:04}").renders("s-00012", "g", 1..=100),
            "padded more than rendered"
        );
        assert!(t("s-{n:04}").renders("s-12345", "g", 1..=20_000));
        assert!(!t("s-{n}").renders("s-012", "g", 1..=100));
        assert!(
            !t("s-{n}").renders("s-101", "g", 1..=100),
            "out of the group's range"
        );
        assert!(t("{n}-{group}-{n}").renders("7-door-7", "door", 1..=9));
        assert!(!t("{n}-{group}-{n}").renders("7-door-8", "door", 1..=9));
        assert!(
            t("{n}1").renders("111", "g", 1..=20),
            "backtracks over digits"
        );
        assert!(t("fixed").renders("fixed", "g", 5..=5));
        assert!(!t("fixed").renders("fixed2", "g", 5..=5));
        for n in [1, 9, 10, 99, 100, 12345] {
            let tpl = t("x{n:03}y{group}");
            assert!(tpl.renders(&tpl.render(n, "g"), "g", n..=n), "{n}");
        }
    }

    #[test]
    fn templates_with_different_literal_ends_cannot_meet() {
        let t = |s: &str| IdTemplate::parse(s).unwrap();
        assert!(!t("c-{n}").may_meet("a", &t("d-{n}"), "b"));
        assert!(!t("{group}-{n}").may_meet("door", &t("{group}-{n}"), "window"));
        assert!(!t("{n}-x").may_meet("a", &t("{n}-y"), "b"));
        assert!(t("s-{n}").may_meet("a", &t("s-1{n}"), "b"));
        assert!(t("s-{n}").may_meet("a", &t("s-1"), "b"));
    }

    #[test]
    fn passwords_never_show() {
        let p = fleet(TWO_GROUPS, &[]).unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(!p.dry_run().to_string().contains("s3cret"));
        assert_eq!(
            p.groups[1].credentials.password.as_ref().unwrap().expose(),
            "s3cret"
        );
    }

    #[test]
    fn the_dry_run_shows_this_shards_devices_topics_and_rates() {
        let p = fleet(
            TWO_GROUPS,
            &[
                "--shard",
                "0/2",
                "--duration",
                "1m",
                "--connect-rate",
                "10/s",
                "--bind-addr",
                "127.0.0.2",
            ],
        )
        .unwrap();
        let text = p.dry_run().to_string();
        for want in [
            "fleet: 5 devices in 2 groups from conf/fleet.toml, seed 7\n",
            "shard: 0/2 runs 3 of them\n",
            "run: for 1m\n",
            "telemetry: 3 msg/s scheduled for this shard\n",
            "connect: 10 per second across the fleet (5 per second in this shard)\n",
            "source addresses: 127.0.0.2\n",
            "commands to every device: lab/all/commands, lab/doors/all/commands\n",
            "group climate: 3 devices (n 1-3), 2 in this shard\n",
            "  ids: c-{n:02}\n",
            "  topics: lab/<id>/telemetry, status, commands, state, ack\n",
            "  telemetry: every 2s ± 0s at QoS 1, 1 msg/s in this shard\n",
            "  metric temp: walk(start 20, step 0.5, min 10, max 30)\n",
            "  credentials: the connection flags'",
            "  credentials: username doors, a password, client certificate conf/door.crt with key conf/door.key\n",
            "       1  c-01  lab/c-01/telemetry  from 127.0.0.2  connects at 0s\n",
            "       3  c-03  lab/c-03/telemetry  from 127.0.0.2  connects at 0.2s\n",
            "       5  door-5  lab/doors/door-5/telemetry  from 127.0.0.2  connects at 0.4s\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("c-02"), "{text}");
    }

    #[test]
    fn the_dry_run_says_how_the_run_stops() {
        assert!(
            plan(&[])
                .dry_run()
                .to_string()
                .contains("run: until interrupted")
        );
        assert!(
            plan(&["--count", "1"])
                .dry_run()
                .to_string()
                .contains("run: 1 message per device\n")
        );
        assert!(
            plan(&["--count", "5", "--duration", "10s"])
                .dry_run()
                .to_string()
                .contains("run: for 10s or 5 messages per device, whichever comes first\n")
        );
        assert!(
            plan(&["--chaos", "5%"])
                .dry_run()
                .to_string()
                .contains("chaos: 5% of the devices dropped per minute")
        );
        let text = plan(&["--verify", "--fail-if", "lost>0", "--report", "r.json"])
            .dry_run()
            .to_string();
        assert!(
            text.contains("verify: subscribe to mqtk/sim/+/telemetry"),
            "{text}"
        );
        assert!(text.contains("report: r.json\n"), "{text}");
        assert!(text.contains("fail if: lost>0 (exit 6)\n"), "{text}");
    }

    #[test]
    fn open_files_are_checked_before_connecting_with_a_shard_hint() {
        let p = plan(&["--devices", "50000"]);
        assert!(p.check_open_files(1_000_000).is_ok());
        let err = p.check_open_files(20_000).unwrap_err();
        assert_eq!(err.status, crate::exit::ExitStatus::Usage);
        assert!(
            err.message
                .contains("50000 devices need about 50064 open files"),
            "{}",
            err.message
        );
        assert_eq!(
            err.hint.as_deref(),
            Some(
                "split the fleet over processes with --shard K/3 (K = 0..2), or raise the hard open-file limit"
            )
        );
        let sharded = plan(&["--devices", "50000", "--shard", "0/3"]);
        assert!(sharded.check_open_files(20_000).is_ok());
    }

    #[test]
    fn warnings_say_when_a_shard_is_empty_or_ports_will_run_out() {
        assert!(plan(&["--devices", "2", "--shard", "2/3"]).warnings()[0].contains("no devices"));
        let many = ["--devices", "30000", "--no-broadcast"];
        assert!(plan(&many).warnings()[0].contains("--bind-addr"));
        let spread = ["--bind-addr", "127.0.0.1,127.0.0.2"];
        assert!(
            plan(&[&many[..], &spread[..]].concat())
                .warnings()
                .is_empty()
        );
        assert!(plan(&[]).warnings().is_empty());
    }

    #[test]
    fn warnings_say_when_many_devices_share_the_broadcast_topic() {
        let w = plan(&["--devices", "5000", "--shard", "0/2"]).warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("5000 devices subscribe to mqtk/sim/all/commands:")
                && w[0].ends_with("--no-broadcast leaves the shared topic out"),
            "{w:?}"
        );
        assert!(plan(&["--devices", "4999"]).warnings().is_empty());
        // Groups under one prefix share its topic; under two prefixes they do not.
        let groups = |second: &str| {
            let text = format!(
                "[[group]]\nname = 'a'\ndevices = 2500\n[group.metrics.t]\nkind = 'counter'\n\n\
                 [[group]]\nname = 'b'\ndevices = 2500\n{second}[group.metrics.t]\nkind = 'counter'\n"
            );
            fleet(&text, &[]).unwrap().warnings()
        };
        let shared = groups("");
        assert_eq!(shared.len(), 1, "{shared:?}");
        assert!(shared[0].starts_with("5000 devices subscribe to mqtk/sim/all/commands:"));
        assert!(groups("prefix = 'other'\n").is_empty());
        assert!(
            plan(&["--devices", "5000", "--no-broadcast"])
                .warnings()
                .is_empty()
        );
    }

    #[test]
    fn run_options_are_carried_into_the_plan() {
        let p = plan(&[
            "--dry-run",
            "--verify",
            "--report",
            "out.json",
            "--chaos",
            "0.1",
            "--fail-if",
            "errors>0",
        ]);
        assert!(p.dry_run && p.verify);
        assert_eq!(p.report, Some(PathBuf::from("out.json")));
        assert_eq!(p.chaos, Some(0.1));
        assert_eq!(p.fail_if.len(), 1);
        assert!(!plan(&[]).dry_run);
    }

    #[test]
    fn from_args_reads_the_fleet_file_and_its_password_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.pw"), "s3cret\n").unwrap();
        let path = dir.path().join("fleet.toml");
        std::fs::write(&path, TWO_GROUPS).unwrap();
        let p = Plan::from_args(&args(&["--fleet", path.to_str().unwrap()])).unwrap();
        assert_eq!(
            p.groups[1].credentials.password,
            Some(Password::new("s3cret"))
        );
        assert_eq!(
            p.groups[1].credentials.cert,
            Some(dir.path().join("door.crt"))
        );
        assert_eq!(p.fleet_file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn a_missing_fleet_file_is_a_usage_error_naming_it() {
        let err = Plan::from_args(&args(&["--fleet", "/nonexistent/fleet.toml"])).unwrap_err();
        assert_eq!(err.status, crate::exit::ExitStatus::Usage);
        assert!(
            err.message
                .starts_with("cannot read the fleet file /nonexistent/fleet.toml ("),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_example_fleet_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let p = Plan::build(&args(&[]), Some((&path, &text)), &no_files)
            .unwrap_or_else(|e| panic!("{e}"));
        let temp_hum = p.groups.iter().find(|g| {
            let names: Vec<&str> = g.metrics.iter().map(|m| &*m.name).collect();
            names.starts_with(&["temp", "hum"])
        });
        assert!(
            temp_hum.is_some(),
            "a group sends the lesson's temp and hum"
        );
        assert!(p.dry_run().to_string().contains("devices:"));
    }
}
