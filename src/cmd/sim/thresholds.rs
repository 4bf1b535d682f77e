//! `--fail-if EXPR`: checks on the final report for CI. `errors>0` means "fail if there was
//! any error"; every check that holds is a failure, listed with its value, and the run exits 6.
//!
//! EXPR is `NAME OP NUMBER` with OP one of `>`, `>=`, `<`, `<=`, `==`, `!=`. Names:
//!
//! | name | value |
//! |---|---|
//! | `devices` | devices in this run |
//! | `connects`, `reconnects`, `drops` | accepted connections; of them after a loss; drops on purpose (`--chaos`, reboot) |
//! | `publishes`, `acks` | telemetry messages sent; acknowledged by the broker (QoS 1/2) |
//! | `commands`, `rejected_commands` | commands handled by devices; answered with an error ack |
//! | `errors` | all errors; `errors_connect`, `errors_refused`, `errors_lost`, `errors_publish`, `errors_subscribe`, `errors_timeout` by kind |
//! | `lost`, `duplicates` | telemetry sequence numbers never received; received twice (needs `--verify`) |
//! | `rate` | telemetry messages sent per second |
//! | `scheduled_rate` | telemetry messages per second the schedule made due |
//! | `rate_pct` | `rate` as a percentage of `scheduled_rate` |
//! | `behind` | 1 when the simulator sent under 95 % of what was due, else 0 |
//! | `pSS_WHAT_ms` | latency percentile in milliseconds: SS = 50, 90, 99, 999 (99.9) or `max` for `max_WHAT_ms`; WHAT = `connect`, `ack` (publish→ack), `cmd` (command round trip) |
//!
//! A latency check fails when nothing was measured (`p99_ack_ms>50` at QoS 0 has no acks):
//! a check that can never see a value must not pass silently.

use std::fmt;

use super::metrics::{ErrorKind, Latency};
use super::report::Report;

/// What a check reads from the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Devices,
    Connects,
    Reconnects,
    Drops,
    Publishes,
    Acks,
    Commands,
    RejectedCommands,
    Errors,
    ErrorsOf(ErrorKind),
    Lost,
    Duplicates,
    Rate,
    ScheduledRate,
    RatePct,
    Behind,
    Latency(Latency, Stat),
}

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Stat {
    const ALL: [Stat; 5] = [Stat::P50, Stat::P90, Stat::P99, Stat::P999, Stat::Max];

    fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::P999 => "p999",
            Stat::Max => "max",
        }
    }
}

const SIMPLE: [(&str, Quantity); 15] = [
    ("devices", Quantity::Devices),
    ("connects", Quantity::Connects),
    ("reconnects", Quantity::Reconnects),
    ("drops", Quantity::Drops),
    ("publishes", Quantity::Publishes),
    ("acks", Quantity::Acks),
    ("commands", Quantity::Commands),
    ("rejected_commands", Quantity::RejectedCommands),
    ("errors", Quantity::Errors),
    ("lost", Quantity::Lost),
    ("duplicates", Quantity::Duplicates),
    ("rate", Quantity::Rate),
    ("scheduled_rate", Quantity::ScheduledRate),
    ("rate_pct", Quantity::RatePct),
    ("behind", Quantity::Behind),
];

impl Quantity {
    /// Every name `--fail-if` knows, in the documented order.
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = SIMPLE.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(
            ErrorKind::ALL
                .iter()
                .map(|k| format!("errors_{}", k.name())),
        );
        for l in Latency::ALL {
            names.extend(
                Stat::ALL
                    .iter()
                    .map(|s| format!("{}_{}_ms", s.name(), l.name())),
            );
        }
        names
    }

    pub fn parse(name: &str) -> Option<Quantity> {
        if let Some((_, q)) = SIMPLE.iter().find(|(n, _)| *n == name) {
            return Some(*q);
        }
        if let Some(kind) = name.strip_prefix("errors_") {
            return ErrorKind::ALL
                .into_iter()
                .find(|k| k.name() == kind)
                .map(Quantity::ErrorsOf);
        }
        let (stat, rest) = name.split_once('_')?;
        let what = rest.strip_suffix("_ms")?;
        let stat = Stat::ALL.into_iter().find(|s| s.name() == stat)?;
        let which = Latency::ALL.into_iter().find(|l| l.name() == what)?;
        Some(Quantity::Latency(which, stat))
    }

    fn name(self) -> String {
        match self {
            Quantity::ErrorsOf(k) => format!("errors_{}", k.name()),
            Quantity::Latency(l, s) => format!("{}_{}_ms", s.name(), l.name()),
            q => SIMPLE
                .iter()
                .find(|(_, x)| *x == q)
                .map(|(n, _)| n.to_string())
                .expect("every simple quantity has a name"),
        }
    }

    /// Its value in `report`; `None` when the run could not measure it.
    pub fn value(self, r: &Report) -> Option<f64> {
        let n = |v: u64| Some(v as f64);
        match self {
            Quantity::Devices => n(r.devices),
            Quantity::Connects => n(r.connects),
            Quantity::Reconnects => n(r.reconnects),
            Quantity::Drops => n(r.drops),
            Quantity::Publishes => n(r.publishes),
            Quantity::Acks => n(r.acks),
            Quantity::Commands => n(r.commands),
            Quantity::RejectedCommands => n(r.rejected_commands),
            Quantity::Errors => n(r.errors.total),
            Quantity::ErrorsOf(k) => n(r.errors.of(k)),
            Quantity::Lost => r.verify.map(|v| v.lost as f64),
            Quantity::Duplicates => r.verify.map(|v| v.duplicates as f64),
            Quantity::Rate => Some(r.rate.achieved),
            Quantity::ScheduledRate => Some(r.rate.scheduled),
            Quantity::RatePct => {
                (r.rate.scheduled > 0.0).then(|| 100.0 * r.rate.achieved / r.rate.scheduled)
            }
            Quantity::Behind => Some(if r.rate.behind { 1.0 } else { 0.0 }),
            Quantity::Latency(which, stat) => {
                let p = r.latency_ms.of(which);
                match stat {
                    Stat::P50 => p.p50,
                    Stat::P90 => p.p90,
                    Stat::P99 => p.p99,
                    Stat::P999 => p.p999,
                    Stat::Max => p.max,
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(s, _)| *s)
            .expect("every operator has a symbol")
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One `--fail-if` check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub quantity: Quantity,
    pub op: Op,
    pub value: f64,
}

impl Threshold {
    /// `NAME OP NUMBER`, spaces allowed around each part.
    pub fn parse(s: &str) -> Result<Threshold, String> {
        let at = s.find(['<', '>', '=', '!']).ok_or_else(|| {
            format!("{s:?}: expected NAME OP NUMBER, as in errors>0 or p99_ack_ms>50")
        })?;
        let name = s[..at].trim();
        let rest = &s[at..];
        let (symbol, op) = Op::ALL
            .iter()
            .find(|(sym, _)| rest.starts_with(sym))
            .ok_or_else(|| format!("{s:?}: unknown operator (use >, >=, <, <=, == or !=)"))?;
        let number = rest[symbol.len()..].trim();
        let quantity = Quantity::parse(name).ok_or_else(|| {
            format!(
                "{s:?}: unknown name {name:?} (known: {})",
                Quantity::names().join(", ")
            )
        })?;
        let value = match number.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => return Err(format!("{s:?}: {number:?} is not a number")),
        };
        Ok(Threshold {
            quantity,
            op: *op,
            value,
        })
    }

    /// Whether the check reads what only `--verify` measures.
    pub fn needs_verify(&self) -> bool {
        matches!(self.quantity, Quantity::Lost | Quantity::Duplicates)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.quantity.name(),
            self.op.symbol(),
            self.value
        )
    }
}

/// A check that failed, with what the run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub threshold: Threshold,
    /// `None`: nothing was measured.
    pub actual: Option<f64>,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.threshold.quantity.name();
        match self.actual {
            Some(v) => write!(f, "{} failed: {name} = {}", self.threshold, round(v)),
            None => write!(f, "{} failed: {name} was not measured", self.threshold),
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The checks of `thresholds` that fail on `report`, in the order given.
pub fn evaluate(thresholds: &[Threshold], report: &Report) -> Vec<Failed> {
    thresholds
        .iter()
        .filter_map(|t| {
            let actual = t.quantity.value(report);
            let fails = actual.is_none_or(|v| t.op.holds(v, t.value));
            fails.then_some(Failed {
                threshold: *t,
                actual,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::sim::metrics::Metrics;
    use crate::cmd::sim::plan::Shard;
    use crate::cmd::sim::report::{RunInfo, Verification};
    use std::time::Duration;

    fn t(s: &str) -> Threshold {
        Threshold::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn report(verify: Option<Verification>) -> Report {
        let m = Metrics::new();
        m.connected(Duration::from_millis(3), false);
        for i in 0..100u64 {
            m.due();
            m.published();
            m.acked(Duration::from_millis(i + 1));
        }
        m.error(ErrorKind::Timeout);
        let run = RunInfo {
            seed: 0,
            shard: Shard::ALL,
            devices: 1,
            elapsed: Duration::from_secs(10),
        };
        Report::new(run, &m, verify)
    }

    #[test]
    fn expressions_parse_with_every_operator_and_spacing() {
        assert_eq!(
            t("errors>0"),
            Threshold {
                quantity: Quantity::Errors,
                op: Op::Gt,
                value: 0.0
            }
        );
        assert_eq!(
            t("p99_ack_ms > 50").quantity,
            Quantity::Latency(Latency::Ack, Stat::P99)
        );
        assert_eq!(t("lost>=1").op, Op::Ge);
        assert_eq!(t("rate<100.5").value, 100.5);
        assert_eq!(t("rate_pct <= 95").op, Op::Le);
        assert_eq!(t("behind==1").op, Op::Eq);
        assert_eq!(t("devices != 10").op, Op::Ne);
        assert_eq!(
            t("errors_connect>0").quantity,
            Quantity::ErrorsOf(ErrorKind::Connect)
        );
        assert_eq!(
            t("max_cmd_ms>1e3").quantity,
            Quantity::Latency(Latency::Command, Stat::Max)
        );
        assert_eq!(
            t("p999_connect_ms>5").quantity,
            Quantity::Latency(Latency::Connect, Stat::P999)
        );
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        for (bad, why) in [
            ("errors", "expected NAME OP NUMBER"),
            ("errors=0", "unknown operator"),
            ("errors=>0", "unknown operator"),
            ("errors>>0", "not a number"),
            ("errors>", "not a number"),
            ("errors>zero", "not a number"),
            ("errors>inf", "not a number"),
            ("p99_ack>50", "unknown name \"p99_ack\""),
            ("p95_ack_ms>50", "unknown name"),
            ("errors_disk>0", "unknown name"),
            (">0", "unknown name \"\""),
            ("Errors>0", "unknown name"),
        ] {
            let err = Threshold::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = Threshold::parse("p99_ack>50").unwrap_err();
        assert!(
            err.contains("p99_ack_ms") && err.contains("errors_timeout"),
            "the names are listed: {err}"
        );
    }

    #[test]
    fn every_documented_name_parses_and_prints_back() {
        let names = Quantity::names();
        assert_eq!(names.len(), 15 + 6 + 15);
        for name in names {
            let th = t(&format!("{name}>1"));
            assert_eq!(th.to_string(), format!("{name}>1"));
        }
    }

    #[test]
    fn a_check_that_holds_fails_the_run_with_its_value() {
        let r = report(None);
        let failed = evaluate(
            &[
                t("errors>0"),
                t("publishes<100"),
                t("acks==100"),
                t("p99_ack_ms>50"),
            ],
            &r,
        );
        let text: Vec<String> = failed.iter().map(|f| f.to_string()).collect();
        assert_eq!(text[0], "errors>0 failed: errors = 1");
        assert_eq!(text[1], "acks==100 failed: acks = 100");
        assert!(
            text[2].starts_with("p99_ack_ms>50 failed: p99_ack_ms = 99."),
            "{}",
            text[2]
        );
        assert_eq!(failed.len(), 3);
    }

    #[test]
    fn checks_that_do_not_hold_pass() {
        let r = report(Some(Verification {
            received: 100,
            lost: 0,
            duplicates: 0,
            foreign: 0,
        }));
        let ok = [
            "lost>0",
            "duplicates>0",
            "errors>1",
            "rate<10",
            "rate_pct<100",
            "behind==1",
            "p50_ack_ms>60",
            "errors_lost>0",
            "devices!=1",
            "max_connect_ms>=4",
        ];
        let checks: Vec<Threshold> = ok.iter().map(|s| t(s)).collect();
        assert_eq!(evaluate(&checks, &r), []);
    }

    #[test]
    fn a_check_on_something_not_measured_fails() {
        let r = report(None);
        let failed = evaluate(&[t("p99_cmd_ms>50"), t("lost>0")], &r);
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].actual, None);
        assert_eq!(
            failed[0].to_string(),
            "p99_cmd_ms>50 failed: p99_cmd_ms was not measured"
        );
    }

    #[test]
    fn lost_and_duplicates_need_verify() {
        assert!(t("lost>0").needs_verify());
        assert!(t("duplicates>0").needs_verify());
        assert!(!t("errors>0").needs_verify());
    }

    #[test]
    fn verification_numbers_are_read_from_the_report() {
        let r = report(Some(Verification {
            received: 98,
            lost: 2,
            duplicates: 1,
            foreign: 0,
        }));
        let failed = evaluate(&[t("lost>0"), t("duplicates>=1")], &r);
        let text: Vec<String> = failed.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            [
                "lost>0 failed: lost = 2",
                "duplicates>=1 failed: duplicates = 1"
            ]
        );
    }
}
