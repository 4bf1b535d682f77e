//! `mqtk sim`'s own flags (the connection flags are shared with pub, sub and rr and come
//! from elsewhere). What the user typed, parsed but not yet combined: `plan::Plan` does that.
//! Flags that a fleet file can also set are `Option`s, so the plan knows which were given.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, ValueHint};

use super::plan::{self, IdTemplate, Jitter, Shard};
use super::thresholds::Threshold;

#[derive(Args, Debug, Clone, Default)]
pub struct SimArgs {
    /// Simulate N devices (the whole fleet, all shards together) [default: 10]
    #[arg(long, env = "MQTK_DEVICES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "fleet")]
    pub devices: Option<u64>,

    /// Read groups of devices, their metrics, rates and credentials from a TOML file
    ///
    /// Flags given as well override the file's value for every group.
    ///
    ///     mqtk sim --fleet examples/fleet.toml --duration 1m
    #[arg(long, env = "MQTK_FLEET", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub fleet: Option<PathBuf>,

    /// Publish telemetry every DURATION: 500ms, 1s, 5m [default: 1s]
    #[arg(long, env = "MQTK_INTERVAL", value_name = "DURATION",
          value_parser = plan::parse_interval)]
    pub interval: Option<Duration>,

    /// Move each interval by up to ± DURATION or ± a percentage of it: 100ms, 10% [default: 0]
    #[arg(long, env = "MQTK_JITTER", value_name = "JITTER", value_parser = Jitter::parse)]
    pub jitter: Option<Jitter>,

    /// Quality of service of the telemetry: 0, 1 or 2 [default: 1]
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS",
          value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: Option<u8>,

    /// Stop after DURATION (each device publishes "offline" and disconnects)
    #[arg(long, env = "MQTK_DURATION", value_name = "DURATION",
          value_parser = plan::parse_interval)]
    pub duration: Option<Duration>,

    /// Stop each device after N telemetry messages
    #[arg(short = 'C', long, env = "MQTK_COUNT", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Seed every value and schedule: the same seed gives the same run [default: 0]
    #[arg(long, env = "MQTK_SEED", value_name = "SEED")]
    pub seed: Option<u64>,

    /// Client id of each device, from its number and group [default: sensor-{n:04}]
    ///
    /// {n:04} is the device's number (from 1) zero-padded to 4 digits ({n:01}: not padded),
    /// {group} its group's name; {{ and }} are braces.
    ///
    ///     mqtk sim --devices 3 --id-template 'kitchen-{n:02}'   # kitchen-01 ... kitchen-03
    #[arg(long, env = "MQTK_ID_TEMPLATE", value_name = "TEMPLATE",
          value_parser = IdTemplate::parse)]
    pub id_template: Option<IdTemplate>,

    /// Put each device's topics under PREFIX/<id>/ [default: mqtk/sim]
    ///
    /// Each device publishes PREFIX/<id>/telemetry, status (retained), state (retained) and
    /// ack, and takes commands on PREFIX/<id>/commands and PREFIX/all/commands.
    #[arg(long, env = "MQTK_PREFIX", value_name = "PREFIX", value_parser = plan::parse_prefix)]
    pub prefix: Option<String>,

    /// Run only slice K of N of the fleet (K from 0), for N processes sharing one fleet
    ///
    /// Slices are disjoint and together are the whole fleet; each device sends the values
    /// it would send in an unsharded run with the same seed.
    ///
    ///     mqtk sim --devices 30000 --shard $JOB_COMPLETION_INDEX/3
    #[arg(long, env = "MQTK_SHARD", value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,

    /// Open at most RATE connections per second across the fleet: 500/s, 30/m
    #[arg(long, env = "MQTK_CONNECT_RATE", value_name = "RATE",
          value_parser = plan::parse_connect_rate)]
    pub connect_rate: Option<f64>,

    /// Drop RATE of the devices per minute abruptly, at random times: 0.05 or 5%
    ///
    /// A dropped device closes its socket without DISCONNECT, so the broker publishes its
    /// Will ("offline"); it reconnects after a backoff and is online again.
    #[arg(long, env = "MQTK_CHAOS", value_name = "RATE", value_parser = plan::parse_chaos,
          hide_short_help = true)]
    pub chaos: Option<f64>,

    /// Spread the connections over these local source addresses (comma-separated)
    ///
    /// One source address runs out of ports past about 28 000 connections to one broker.
    ///
    ///     mqtk sim --devices 50000 --bind-addr 127.0.0.1,127.0.0.2
    #[arg(long, env = "MQTK_BIND_ADDR", value_name = "ADDR", value_delimiter = ',',
          action = ArgAction::Append, hide_short_help = true)]
    pub bind_addr: Vec<IpAddr>,

    /// Devices take commands on PREFIX/<id>/commands only, not on PREFIX/all/commands
    ///
    /// mosquitto compares a new subscriber with each one a topic already has: N devices on
    /// the shared topic cost it N²/2 comparisons, and 10 000 devices about two seconds of its
    /// one thread. Leave the shared topic out to measure how fast a broker takes
    /// connections, without this cost.
    #[arg(long, env = "MQTK_NO_BROADCAST", hide_short_help = true)]
    pub no_broadcast: bool,

    /// Also subscribe to the fleet's telemetry and count lost and duplicate messages
    #[arg(long, env = "MQTK_VERIFY")]
    pub verify: bool,

    /// Write the final report as JSON to FILE
    #[arg(long, env = "MQTK_REPORT", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub report: Option<PathBuf>,

    /// Exit 6 when EXPR holds at the end (repeatable): 'errors>0', 'p99_ack_ms>50', 'lost>0'
    ///
    /// EXPR is NAME OP NUMBER with OP one of > >= < <= == !=. Names: devices, connects,
    /// reconnects, drops, publishes, acks, commands, rejected_commands, errors,
    /// errors_KIND (connect, refused, lost, publish, subscribe, timeout), lost and duplicates
    /// (with --verify), rate and scheduled_rate (msg/s), rate_pct, behind (1 when the
    /// simulator fell behind its schedule), and latencies in milliseconds
    /// p50|p90|p99|p999|max _ connect|ack|cmd _ms (ack: publish to PUBACK; cmd: command to
    /// its ack). A latency that was not measured fails its check.
    #[arg(long, env = "MQTK_FAIL_IF", value_name = "EXPR", value_delimiter = ',',
          action = ArgAction::Append, value_parser = Threshold::parse)]
    pub fail_if: Vec<Threshold>,

    /// Print this shard's plan (devices, topics, rates) and exit without connecting
    #[arg(long, env = "MQTK_DRY_RUN")]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    #[command(name = "sim")]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(words: &[&str]) -> Result<SimArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("sim").chain(words.iter().copied())).map(|c| c.sim)
    }

    #[test]
    fn the_flags_are_a_consistent_clap_definition() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_reads_an_mqtk_variable_and_names_its_value_in_uppercase() {
        let cmd = Cli::command();
        for arg in cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some_and(|l| l != "help"))
        {
            let long = arg.get_long().unwrap();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let want = format!("MQTK_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(env.as_deref(), Some(want.as_str()), "--{long}");
            for name in arg.get_value_names().into_iter().flatten() {
                assert_eq!(name.to_uppercase(), name.as_str(), "--{long} {name}");
            }
        }
    }

    #[test]
    fn nothing_given_means_nothing_set() {
        let a = parse(&[]).unwrap();
        assert!(a.devices.is_none() && a.interval.is_none() && a.qos.is_none() && a.seed.is_none());
        assert!(a.fail_if.is_empty() && a.bind_addr.is_empty() && !a.verify && !a.dry_run);
    }

    #[test]
    fn typed_values_are_parsed() {
        let a = parse(&[
            "--devices",
            "5",
            "--interval",
            "500ms",
            "--jitter",
            "10%",
            "-q",
            "2",
            "--duration",
            "1m",
            "--count",
            "3",
            "--seed",
            "42",
            "--id-template",
            "t-{n}",
            "--prefix",
            "p/q",
            "--shard",
            "1/4",
            "--connect-rate",
            "100/s",
            "--chaos",
            "5%",
            "--bind-addr",
            "127.0.0.1,127.0.0.2",
            "--bind-addr",
            "::1",
            "--verify",
            "--report",
            "r.json",
            "--fail-if",
            "errors>0",
            "--fail-if",
            "p99_ack_ms>50,lost>0",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(a.devices, Some(5));
        assert_eq!(a.interval, Some(Duration::from_millis(500)));
        assert_eq!(a.jitter, Some(Jitter::Fraction(0.1)));
        assert_eq!((a.qos, a.count, a.seed), (Some(2), Some(3), Some(42)));
        assert_eq!(a.duration, Some(Duration::from_secs(60)));
        assert_eq!(a.id_template.unwrap().render(3, "g"), "t-3");
        assert_eq!(a.prefix.as_deref(), Some("p/q"));
        assert_eq!(a.shard, Some(Shard { index: 1, count: 4 }));
        assert_eq!((a.connect_rate, a.chaos), (Some(100.0), Some(0.05)));
        assert_eq!(a.bind_addr.len(), 3);
        assert!(a.verify && a.dry_run);
        assert_eq!(a.report, Some(PathBuf::from("r.json")));
        let checks: Vec<String> = a.fail_if.iter().map(|t| t.to_string()).collect();
        assert_eq!(checks, ["errors>0", "p99_ack_ms>50", "lost>0"]);
    }

    #[test]
    fn a_bad_threshold_is_a_usage_error_naming_the_flag() {
        let e = parse(&["--fail-if", "p99>5"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(e.to_string().contains("--fail-if"), "{e}");
    }

    #[test]
    fn the_help_shows_every_placeholder_of_the_id_template() {
        // clap turns a literal "{n}" in help into a line break: the help must not rely on it.
        let help = Cli::command().render_long_help().to_string();
        for placeholder in ["{n:04}", "{n:01}", "{group}", "sensor-{n:04}"] {
            assert!(
                help.contains(placeholder),
                "{placeholder} missing from\n{help}"
            );
        }
    }

    #[test]
    fn devices_and_a_fleet_file_do_not_mix() {
        let e = parse(&["--devices", "3", "--fleet", "f.toml"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
