//! The end of a run: the report written by `--report FILE.json`, the text summary, and the
//! numbers `--fail-if` checks read.
//!
//! JSON schema (version 1; latencies in milliseconds, `null` when nothing was measured):
//!
//! ```json
//! {
//!   "schema": 1, "seed": 0, "shard": "0/1", "devices": 10, "elapsed_s": 60.0,
//!   "connects": 10, "reconnects": 0, "drops": 0, "publishes": 600, "acks": 600,
//!   "commands": 0, "rejected_commands": 0,
//!   "errors": {"total": 0, "connect": 0, "refused": 0, "lost": 0, "publish": 0,
//!              "subscribe": 0, "timeout": 0},
//!   "latency_ms": {
//!     "connect": {"count": 10, "p50": 1.2, "p90": 2.0, "p99": 2.5, "p999": 2.5, "max": 2.5},
//!     "ack": {...}, "command": {...}
//!   },
//!   "rate": {"scheduled": 10.0, "achieved": 10.0, "behind": false},
//!   "verify": {"received": 600, "lost": 0, "duplicates": 0, "foreign": 0}
//! }
//! ```
//!
//! `verify` is `null` without `--verify`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::metrics::{ErrorKind, Latency, Metrics};
use super::plan::Shard;

pub const REPORT_SCHEMA: u32 = 1;

/// The achieved rate below which the report says the simulator fell behind its schedule.
pub const BEHIND_RATIO: f64 = 0.95;

/// Latency percentiles in milliseconds; `None` (`null`) when nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub total: u64,
    pub connect: u64,
    pub refused: u64,
    pub lost: u64,
    pub publish: u64,
    pub subscribe: u64,
    pub timeout: u64,
}

impl Errors {
    pub fn of(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Refused => self.refused,
            ErrorKind::Lost => self.lost,
            ErrorKind::Publish => self.publish,
            ErrorKind::Subscribe => self.subscribe,
            ErrorKind::Timeout => self.timeout,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    pub connect: Percentiles,
    pub ack: Percentiles,
    pub command: Percentiles,
}

impl Latencies {
    pub fn of(&self, which: Latency) -> &Percentiles {
        match which {
            Latency::Connect => &self.connect,
            Latency::Ack => &self.ack,
            Latency::Command => &self.command,
        }
    }
}

/// Telemetry messages per second: as the schedule made them due, and as they were sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub scheduled: f64,
    pub achieved: f64,
    /// The simulator sent less than 95 % of what was due: the numbers measure the simulator,
    /// not the broker.
    pub behind: bool,
}

/// What `--verify` saw of the fleet's telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Messages received from this run's devices, duplicates included.
    pub received: u64,
    /// Sequence numbers sent and never received.
    pub lost: u64,
    /// Messages received more than once.
    pub duplicates: u64,
    /// Messages from devices that are not in this run (another shard, another simulator).
    pub foreign: u64,
}

/// Facts about the run that the metrics do not hold.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    pub seed: u64,
    pub shard: Shard,
    pub devices: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub seed: u64,
    pub shard: String,
    pub devices: u64,
    pub elapsed_s: f64,
    pub connects: u64,
    pub reconnects: u64,
    pub drops: u64,
    pub publishes: u64,
    pub acks: u64,
    pub commands: u64,
    pub rejected_commands: u64,
    pub errors: Errors,
    pub latency_ms: Latencies,
    pub rate: Rate,
    pub verify: Option<Verification>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Report {
    pub fn new(run: RunInfo, metrics: &Metrics, verify: Option<Verification>) -> Report {
        let s = metrics.snapshot();
        let secs = run.elapsed.as_secs_f64();
        let per_second = |n: u64| {
            if secs > 0.0 {
                round3(n as f64 / secs)
            } else {
                0.0
            }
        };
        let (scheduled, achieved) = (per_second(s.due), per_second(s.publishes));
        Report {
            schema: REPORT_SCHEMA,
            seed: run.seed,
            shard: run.shard.to_string(),
            devices: run.devices,
            elapsed_s: round3(secs),
            connects: s.connects,
            reconnects: s.reconnects,
            drops: s.drops,
            publishes: s.publishes,
            acks: s.acks,
            commands: s.commands,
            rejected_commands: s.rejected_commands,
            errors: Errors {
                total: s.errors_total(),
                connect: s.errors_of(ErrorKind::Connect),
                refused: s.errors_of(ErrorKind::Refused),
                lost: s.errors_of(ErrorKind::Lost),
                publish: s.errors_of(ErrorKind::Publish),
                subscribe: s.errors_of(ErrorKind::Subscribe),
                timeout: s.errors_of(ErrorKind::Timeout),
            },
            latency_ms: Latencies {
                connect: metrics.percentiles(Latency::Connect),
                ack: metrics.percentiles(Latency::Ack),
                command: metrics.percentiles(Latency::Command),
            },
            rate: Rate {
                scheduled,
                achieved,
                behind: (s.publishes as f64) < BEHIND_RATIO * s.due as f64,
            },
            verify,
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report serializes");
        text.push('\n');
        text
    }

    /// The summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "sim: {} device{} for {:.1} s (seed {}, shard {})",
            self.devices,
            if self.devices == 1 { "" } else { "s" },
            self.elapsed_s,
            self.seed,
            self.shard
        );
        let _ = writeln!(
            w,
            "connects: {} ({} reconnects, {} drops on purpose)",
            self.connects, self.reconnects, self.drops
        );
        let _ = writeln!(
            w,
            "telemetry: {} published, {} acknowledged, {} msg/s of {} scheduled",
            self.publishes,
            self.acks,
            rate(self.rate.achieved),
            rate(self.rate.scheduled)
        );
        if self.rate.behind {
            let pct = if self.rate.scheduled > 0.0 {
                100.0 * self.rate.achieved / self.rate.scheduled
            } else {
                0.0
            };
            let _ = writeln!(
                w,
                "  the simulator fell behind its schedule ({pct:.0} % sent): these numbers measure it, not the broker"
            );
        }
        if self.commands > 0 {
            let _ = writeln!(
                w,
                "commands: {} handled, {} rejected",
                self.commands, self.rejected_commands
            );
        }
        let _ = write!(w, "errors: {}", self.errors.total);
        let kinds: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|k| self.errors.of(**k) > 0)
            .map(|k| format!("{} {}", k.name(), self.errors.of(*k)))
            .collect();
        if !kinds.is_empty() {
            let _ = write!(w, " ({})", kinds.join(", "));
        }
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "latency (ms)    {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (label, p) in [
            ("connect", &self.latency_ms.connect),
            ("publish→ack", &self.latency_ms.ack),
            ("command", &self.latency_ms.command),
        ] {
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
            // Pad by characters: "publish→ack" has a multi-byte arrow.
            let pad = 14usize.saturating_sub(label.chars().count());
            let _ = writeln!(
                w,
                "  {label}{} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
                " ".repeat(pad),
                p.count,
                cell(p.p50),
                cell(p.p90),
                cell(p.p99),
                cell(p.p999),
                cell(p.max)
            );
        }
        if let Some(v) = &self.verify {
            let _ = writeln!(
                w,
                "verify: {} received, {} lost, {} duplicates",
                v.received, v.lost, v.duplicates
            );
        }
        out
    }
}

fn rate(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_metrics() -> Metrics {
        let m = Metrics::new();
        for _ in 0..4 {
            m.connected(Duration::from_millis(2), false);
        }
        m.connected(Duration::from_millis(4), true);
        m.dropped();
        for _ in 0..100 {
            m.due();
            m.published();
            m.acked(Duration::from_millis(1));
        }
        m.error(ErrorKind::Lost);
        m
    }

    fn info() -> RunInfo {
        RunInfo {
            seed: 3,
            shard: Shard { index: 1, count: 2 },
            devices: 4,
            elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_report_holds_counters_rates_and_percentiles() {
        let r = Report::new(info(), &sample_metrics(), None);
        assert_eq!(
            (r.schema, r.seed, r.shard.as_str(), r.devices),
            (1, 3, "1/2", 4)
        );
        assert_eq!(
            (r.connects, r.reconnects, r.drops, r.publishes, r.acks),
            (5, 1, 1, 100, 100)
        );
        assert_eq!(
            r.errors,
            Errors {
                total: 1,
                lost: 1,
                ..Errors::default()
            }
        );
        assert_eq!(
            r.rate,
            Rate {
                scheduled: 10.0,
                achieved: 10.0,
                behind: false
            }
        );
        assert_eq!(r.latency_ms.ack.count, 100);
        assert_eq!(r.latency_ms.connect.count, 5);
        assert_eq!(r.latency_ms.command, Percentiles::default());
        assert_eq!(r.elapsed_s, 10.0);
    }

    #[test]
    fn the_report_says_when_the_simulator_fell_behind() {
        let m = Metrics::new();
        for i in 0..100 {
            m.due();
            if i < 94 {
                m.published();
            }
        }
        let r = Report::new(info(), &m, None);
        assert!(r.rate.behind);
        assert_eq!((r.rate.scheduled, r.rate.achieved), (10.0, 9.4));
        assert!(
            r.summary().contains("fell behind its schedule (94 % sent)"),
            "{}",
            r.summary()
        );
        m.published();
        assert!(
            !Report::new(info(), &m, None).rate.behind,
            "95 % is on schedule"
        );
    }

    #[test]
    fn the_json_schema_has_the_documented_keys() {
        let r = Report::new(
            info(),
            &sample_metrics(),
            Some(Verification {
                received: 100,
                lost: 0,
                duplicates: 0,
                foreign: 0,
            }),
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "schema",
            "seed",
            "shard",
            "devices",
            "elapsed_s",
            "connects",
            "reconnects",
            "drops",
            "publishes",
            "acks",
            "commands",
            "rejected_commands",
            "errors",
            "latency_ms",
            "rate",
            "verify",
        ];
        let mut got = keys.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        let errors: Vec<&str> = v["errors"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(errors.len(), 7);
        for key in [
            "total",
            "connect",
            "refused",
            "lost",
            "publish",
            "subscribe",
            "timeout",
        ] {
            assert!(errors.contains(&key), "{key}");
        }
        for h in ["connect", "ack", "command"] {
            let p = &v["latency_ms"][h];
            for key in ["count", "p50", "p90", "p99", "p999", "max"] {
                assert!(p.get(key).is_some(), "latency_ms.{h}.{key}");
            }
        }
        assert!(v["latency_ms"]["command"]["p99"].is_null());
        assert_eq!(v["rate"]["behind"], false);
        assert_eq!(v["verify"]["lost"], 0);
        assert!(r.to_json().ends_with("}\n"));
    }

    #[test]
    fn without_verify_the_report_says_null() {
        let r = Report::new(info(), &Metrics::new(), None);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert!(v["verify"].is_null());
    }

    #[test]
    fn the_report_reads_back_as_written() {
        let r = Report::new(
            info(),
            &sample_metrics(),
            Some(Verification {
                received: 9,
                lost: 1,
                duplicates: 2,
                foreign: 3,
            }),
        );
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_zero_length_run_has_zero_rates() {
        let mut run = info();
        run.elapsed = Duration::ZERO;
        let r = Report::new(run, &sample_metrics(), None);
        assert_eq!((r.rate.scheduled, r.rate.achieved), (0.0, 0.0));
    }

    #[test]
    fn the_summary_lists_counts_errors_latencies_and_verification() {
        let r = Report::new(
            info(),
            &sample_metrics(),
            Some(Verification {
                received: 100,
                lost: 2,
                duplicates: 1,
                foreign: 0,
            }),
        );
        let text = r.summary();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "sim: 4 devices for 10.0 s (seed 3, shard 1/2)");
        assert_eq!(lines[1], "connects: 5 (1 reconnects, 1 drops on purpose)");
        assert_eq!(
            lines[2],
            "telemetry: 100 published, 100 acknowledged, 10.0 msg/s of 10.0 scheduled"
        );
        assert_eq!(lines[3], "errors: 1 (lost 1)");
        assert_eq!(
            lines[4],
            "latency (ms)       count       p50       p90       p99     p99.9       max"
        );
        assert!(
            lines[5].starts_with("  connect               5     2.000"),
            "{}",
            lines[5]
        );
        assert!(
            lines[6].starts_with("  publish→ack         100     1.000"),
            "{}",
            lines[6]
        );
        assert_eq!(
            lines[7],
            "  command               0         -         -         -         -         -"
        );
        assert_eq!(lines[8], "verify: 100 received, 2 lost, 1 duplicates");
        assert!(!text.contains("commands:"));
    }
}
