//! What a fleet run counts and measures, shared by every device task (`Arc<Metrics>`):
//! counters are atomics (read by the live progress line while devices write them), latencies go
//! to HDR histograms (1 µs to 1 h, 3 significant digits) behind one lock, which an uncontended
//! device task takes in well under a microsecond.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::report::Percentiles;

/// Why something failed, for `errors` in the report.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection: DNS, TCP, TLS.
    Connect,
    /// The broker answered CONNECT with a refusal (credentials, not authorized).
    Refused,
    /// An established connection was lost without the simulator asking for it.
    Lost,
    /// A publish was rejected by the broker or could not be sent.
    Publish,
    /// A subscription to the command topics was refused.
    Subscribe,
    /// An acknowledgement did not come in time.
    Timeout,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Refused,
        ErrorKind::Lost,
        ErrorKind::Publish,
        ErrorKind::Subscribe,
        ErrorKind::Timeout,
    ];

    /// Its key under `errors` in the report.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Refused => "refused",
            ErrorKind::Lost => "lost",
            ErrorKind::Publish => "publish",
            ErrorKind::Subscribe => "subscribe",
            ErrorKind::Timeout => "timeout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The measured latencies.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Latency {
    /// From opening the socket to CONNACK.
    Connect,
    /// From sending a QoS 1/2 telemetry message to its PUBACK/PUBCOMP.
    Ack,
    /// From publishing a command to receiving the device's ack.
    Command,
}

impl Latency {
    pub const ALL: [Latency; 3] = [Latency::Connect, Latency::Ack, Latency::Command];

    /// Its part of a threshold name (`p99_ack_ms`).
    pub fn name(self) -> &'static str {
        match self {
            Latency::Connect => "connect",
            Latency::Ack => "ack",
            Latency::Command => "cmd",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters and histograms of a run.
#[derive(Debug)]
pub struct Metrics {
    connected: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
    drops: AtomicU64,
    due: AtomicU64,
    publishes: AtomicU64,
    acks: AtomicU64,
    commands: AtomicU64,
    rejected_commands: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    /// `u32` counts: half the memory (three histograms of 23 552 counts), and a count saturates
    /// at 4 billion samples, more than a run records.
    histograms: Mutex<[Histogram<u32>; Latency::ALL.len()]>,
}

/// Latencies recorded in microseconds, from 1 µs to an hour.
const HIGHEST_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            connected: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            due: AtomicU64::new(0),
            publishes: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            rejected_commands: AtomicU64::new(0),
            errors: Default::default(),
            histograms: Mutex::new([histogram(), histogram(), histogram()]),
        }
    }

    /// A CONNACK accepted the connection after `latency`; `reconnect` when the device had
    /// been connected before (after a loss, a chaos drop or a reboot).
    pub fn connected(&self, latency: Duration, reconnect: bool) {
        self.connected.fetch_add(1, Relaxed);
        self.connects.fetch_add(1, Relaxed);
        if reconnect {
            self.reconnects.fetch_add(1, Relaxed);
        }
        self.record(Latency::Connect, latency);
    }

    /// A connected device is no longer connected (for whatever reason).
    pub fn disconnected(&self) {
        // Never below zero, even if a caller reports a disconnect twice.
        let _ = self
            .connected
            .fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(1)));
    }

    /// The device dropped its own connection on purpose (`--chaos`, a reboot command).
    pub fn dropped(&self) {
        self.drops.fetch_add(1, Relaxed);
    }

    /// A telemetry message fell due on the schedule.
    pub fn due(&self) {
        self.due.fetch_add(1, Relaxed);
    }

    /// A telemetry message was handed to the connection.
    pub fn published(&self) {
        self.publishes.fetch_add(1, Relaxed);
    }

    /// The broker acknowledged a telemetry message `latency` after it was sent.
    pub fn acked(&self, latency: Duration) {
        self.acks.fetch_add(1, Relaxed);
        self.record(Latency::Ack, latency);
    }

    /// A device handled a command: `accepted` false when it answered with an error ack.
    pub fn command(&self, accepted: bool) {
        self.commands.fetch_add(1, Relaxed);
        if !accepted {
            self.rejected_commands.fetch_add(1, Relaxed);
        }
    }

    /// A command's ack came back `latency` after the command was published.
    pub fn command_round_trip(&self, latency: Duration) {
        self.record(Latency::Command, latency);
    }

    pub fn error(&self, kind: ErrorKind) {
        self.errors[kind.index()].fetch_add(1, Relaxed);
    }

    pub fn record(&self, which: Latency, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut h = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        h[which.index()].saturating_record(us);
    }

    /// Folds another run's (another worker's) measurements into this one.
    pub fn merge(&self, other: &Metrics) {
        let pairs = [
            (&self.connected, &other.connected),
            (&self.connects, &other.connects),
            (&self.reconnects, &other.reconnects),
            (&self.drops, &other.drops),
            (&self.due, &other.due),
            (&self.publishes, &other.publishes),
            (&self.acks, &other.acks),
            (&self.commands, &other.commands),
            (&self.rejected_commands, &other.rejected_commands),
        ];
        for (mine, theirs) in pairs {
            mine.fetch_add(theirs.load(Relaxed), Relaxed);
        }
        for (mine, theirs) in self.errors.iter().zip(&other.errors) {
            mine.fetch_add(theirs.load(Relaxed), Relaxed);
        }
        let theirs = other
            .histograms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut mine = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        for (m, t) in mine.iter_mut().zip(theirs.iter()) {
            m.add(t).expect("histograms with the same bounds add up");
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut errors = [0; ErrorKind::ALL.len()];
        for (e, a) in errors.iter_mut().zip(&self.errors) {
            *e = a.load(Relaxed);
        }
        Snapshot {
            connected: self.connected.load(Relaxed),
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            drops: self.drops.load(Relaxed),
            due: self.due.load(Relaxed),
            publishes: self.publishes.load(Relaxed),
            acks: self.acks.load(Relaxed),
            commands: self.commands.load(Relaxed),
            rejected_commands: self.rejected_commands.load(Relaxed),
            errors,
        }
    }

    /// p50/p90/p99/p99.9/max of one latency, in milliseconds.
    pub fn percentiles(&self, which: Latency) -> Percentiles {
        let h = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let h = &h[which.index()];
        let ms = |us: u64| Some(us as f64 / 1000.0);
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Devices connected right now.
    pub connected: u64,
    pub connects: u64,
    pub reconnects: u64,
    pub drops: u64,
    pub due: u64,
    pub publishes: u64,
    pub acks: u64,
    pub commands: u64,
    pub rejected_commands: u64,
    /// By `ErrorKind` order.
    pub errors: [u64; ErrorKind::ALL.len()],
}

impl Snapshot {
    pub fn errors_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    /// The live progress line: connected/target, publishes per second since `previous`
    /// (taken `dt` earlier), acks, errors, reconnects. Plain text, no control characters.
    pub fn progress(&self, previous: &Snapshot, dt: Duration, target: u64) -> String {
        let secs = dt.as_secs_f64();
        let rate = if secs > 0.0 {
            self.publishes.saturating_sub(previous.publishes) as f64 / secs
        } else {
            0.0
        };
        let mut line = format!(
            "connected {}/{target}  {rate:.0} msg/s  published {}  acks {}  errors {}  reconnects {}",
            self.connected,
            self.publishes,
            self.acks,
            self.errors_total(),
            self.reconnects
        );
        if self.commands > 0 {
            let _ = write!(line, "  commands {}", self.commands);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counters_count_what_devices_report() {
        let m = Metrics::new();
        m.connected(MS, false);
        m.connected(MS, false);
        m.disconnected();
        m.connected(MS, true);
        m.dropped();
        for _ in 0..5 {
            m.due();
        }
        for _ in 0..4 {
            m.published();
        }
        m.acked(MS);
        m.command(true);
        m.command(false);
        m.error(ErrorKind::Lost);
        m.error(ErrorKind::Lost);
        m.error(ErrorKind::Timeout);
        let s = m.snapshot();
        assert_eq!(
            (
                s.connected,
                s.connects,
                s.reconnects,
                s.drops,
                s.due,
                s.publishes,
                s.acks
            ),
            (2, 3, 1, 1, 5, 4, 1)
        );
        assert_eq!((s.commands, s.rejected_commands), (2, 1));
        assert_eq!(s.errors_of(ErrorKind::Lost), 2);
        assert_eq!(s.errors_of(ErrorKind::Timeout), 1);
        assert_eq!(s.errors_of(ErrorKind::Connect), 0);
        assert_eq!(s.errors_total(), 3);
    }

    #[test]
    fn connected_never_goes_below_zero() {
        let m = Metrics::new();
        m.disconnected();
        assert_eq!(m.snapshot().connected, 0);
    }

    #[test]
    fn percentiles_come_from_the_histogram_in_milliseconds() {
        let m = Metrics::new();
        for ms in 1..=1000 {
            m.acked(Duration::from_millis(ms));
        }
        let p = m.percentiles(Latency::Ack);
        assert_eq!(p.count, 1000);
        let near = |got: Option<f64>, want: f64| {
            let got = got.unwrap();
            assert!(
                (got - want).abs() <= want * 0.001 + 0.001,
                "{got} vs {want}"
            );
        };
        near(p.p50, 500.0);
        near(p.p90, 900.0);
        near(p.p99, 990.0);
        near(p.p999, 999.0);
        near(p.max, 1000.0);
        // The other histograms are separate.
        assert_eq!(m.percentiles(Latency::Connect), Percentiles::default());
    }

    #[test]
    fn microsecond_latencies_keep_their_precision() {
        let m = Metrics::new();
        m.command_round_trip(Duration::from_micros(250));
        assert_eq!(m.percentiles(Latency::Command).p50, Some(0.25));
        assert_eq!(m.percentiles(Latency::Command).count, 1);
    }

    #[test]
    fn latencies_beyond_an_hour_count_as_an_hour_and_zero_as_a_microsecond() {
        let m = Metrics::new();
        m.record(Latency::Connect, Duration::from_secs(7200));
        m.record(Latency::Connect, Duration::ZERO);
        let p = m.percentiles(Latency::Connect);
        assert_eq!(p.count, 2);
        assert!(p.max.unwrap() >= 3_600_000.0 && p.max.unwrap() < 3_700_000.0);
        assert_eq!(p.p50, Some(0.001));
    }

    #[test]
    fn an_empty_histogram_has_no_percentiles() {
        let p = Metrics::new().percentiles(Latency::Ack);
        assert_eq!(
            p,
            Percentiles {
                count: 0,
                p50: None,
                p90: None,
                p99: None,
                p999: None,
                max: None
            }
        );
    }

    #[test]
    fn merging_adds_counters_and_histograms() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.published();
        b.published();
        b.error(ErrorKind::Publish);
        a.acked(Duration::from_millis(1));
        b.acked(Duration::from_millis(3));
        a.merge(&b);
        let s = a.snapshot();
        assert_eq!(
            (s.publishes, s.acks, s.errors_of(ErrorKind::Publish)),
            (2, 2, 1)
        );
        let p = a.percentiles(Latency::Ack);
        assert_eq!(p.count, 2);
        assert!((p.max.unwrap() - 3.0).abs() < 0.01);
    }

    #[test]
    fn the_progress_line_has_connected_rate_acks_errors_and_reconnects() {
        let m = Metrics::new();
        let before = m.snapshot();
        for _ in 0..3 {
            m.connected(MS, false);
        }
        m.connected(MS, true);
        for _ in 0..500 {
            m.published();
            m.acked(MS);
        }
        m.error(ErrorKind::Connect);
        let line = m
            .snapshot()
            .progress(&before, Duration::from_millis(500), 10);
        assert_eq!(
            line,
            "connected 4/10  1000 msg/s  published 500  acks 500  errors 1  reconnects 1"
        );
        assert!(!line.chars().any(|c| c.is_control()));
        m.command(true);
        assert!(
            m.snapshot()
                .progress(&before, Duration::ZERO, 10)
                .ends_with("commands 1")
        );
    }

    #[test]
    fn error_and_latency_names_are_the_documented_ones() {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "connect",
                "refused",
                "lost",
                "publish",
                "subscribe",
                "timeout"
            ]
        );
        let names: Vec<&str> = Latency::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["connect", "ack", "cmd"]);
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
