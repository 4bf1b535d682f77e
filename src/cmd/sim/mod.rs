//! `mqtk sim`: a fleet of simulated sensor devices. The pure parts live in their own modules,
//! each with its unit tests: the plan (flags and fleet file), value generators and schedules,
//! device payloads and commands, metrics, the report, thresholds and the delivery verifier.
//! `device` is one device's task on the session core; `run` below starts the fleet, watches
//! it, stops it, and reports.

pub mod args;
pub mod device;
pub mod generators;
pub mod metrics;
pub mod payload;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod thresholds;
pub mod verifier;

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::DisconnectProperties;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::device::{Fleet, Group, Outcome};
use self::metrics::Metrics;
use self::plan::Plan;
use self::report::{Report, RunInfo};
use self::verifier::Verifier;
use super::signals::Signals;
use crate::cli::{Protocol, SimCommand};
use crate::conn::codec::Codec;
use crate::conn::driver;
use crate::conn::state::Settings;
use crate::conn::{
    ConnConfig, Defaults, Event, MAX_PACKET, Options, PropCommand, Session, Subscription,
};
use crate::exit::{self, usage};

const DEFAULTS: Defaults = Defaults {
    protocol: Protocol::V311,
    property_commands: &[
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
        PropCommand::Disconnect,
    ],
};

/// Devices connecting at the same moment, at most (see `Fleet::handshakes`).
const HANDSHAKES: usize = 64;

/// How long the broker keeps the MQTT 5 verifier's session while it is away (a broker
/// restart, a network cut), in seconds.
const VERIFY_SESSION_EXPIRY: u32 = 300;

/// How long after the devices stop the verifier waits for telemetry still on its way.
const VERIFY_DRAIN: Duration = Duration::from_secs(5);

pub async fn run(args: SimCommand) -> anyhow::Result<()> {
    refuse_device_flags(&args)?;
    let plan = Plan::from_args(&args.sim)?;
    let base = ConnConfig::from_args(&args.conn, &DEFAULTS)?;
    let groups = group_connections(&args, &plan, &base)?;
    if plan.dry_run {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", plan.dry_run())?;
        out.flush()?;
        return Ok(());
    }
    // Windows has no per-process limit on open sockets like `ulimit -n`: sockets are kernel
    // handles, bounded only by memory, so there is nothing to raise or check there.
    #[cfg(unix)]
    plan.check_open_files(raise_open_files())?;
    if let Some(path) = &plan.report {
        check_report(path)?;
    }
    if !base.quiet {
        for w in plan.warnings() {
            eprintln!("mqtk sim: warning: {w}");
        }
    }

    let metrics = Arc::new(Metrics::new());
    let started = Instant::now();
    let fleet = Arc::new(Fleet {
        metrics: metrics.clone(),
        handshakes: tokio::sync::Semaphore::new(HANDSHAKES),
        start: started,
        count: plan.count,
        chaos: plan.chaos,
        broadcast: plan.broadcast,
        first_failure: std::sync::Mutex::new(None),
    });
    let mut signals = Signals::new()?;
    let verifier = if plan.verify {
        Some(start_verifier(&plan, &base).await?)
    } else {
        None
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut devices = JoinSet::new();
    for dev in plan.devices() {
        let group = groups
            .iter()
            .find(|(g, _)| Arc::ptr_eq(g, &dev.group))
            .map(|(_, c)| c.clone())
            .expect("every device's group has its connection");
        let connect_at = plan.connect_at(dev.n);
        let bind = plan.bind_addr(dev.local);
        devices.spawn(device::run(
            dev,
            group,
            fleet.clone(),
            connect_at,
            bind,
            stop_rx.clone(),
        ));
    }

    let total = plan.shard_devices();
    let mut progress = Progress::new(total, base.quiet);
    let deadline = plan.duration.map(|d| started + d);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total as usize);
    let mut stopping = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            biased;
            joined = devices.join_next() => match joined {
                Some(Ok(o)) => outcomes.push(o),
                Some(Err(e)) => anyhow::bail!("a device task failed: {e}"),
                None => break,
            },
            () = sleep_until(deadline), if !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
            }
            _ = signals.recv() => {
                if stopping {
                    // A second signal: no goodbyes.
                    devices.abort_all();
                } else {
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
            }
            _ = tick.tick() => progress.update(&metrics),
        }
    }
    progress.finish();
    let elapsed = started.elapsed();

    let verification = match verifier {
        Some(v) => Some(v.finish(&outcomes).await),
        None => None,
    };
    let report = Report::new(
        RunInfo {
            seed: plan.seed,
            shard: plan.shard,
            devices: total,
            elapsed,
        },
        &metrics,
        verification,
    );
    if !base.quiet {
        print!("{}", report.summary());
    }
    if let Some(path) = &plan.report {
        std::fs::write(path, report.to_json()).map_err(|e| {
            exit::Failure::new(
                exit::ExitStatus::Failure,
                format!("cannot write the report to {} ({e})", path.display()),
            )
        })?;
    }
    // Not one device connected: the broker was unreachable or refused the fleet throughout,
    // which is the error of the run (exit 3 or 4) rather than a set of numbers.
    // Tests: sim::a_fleet_that_never_connects_exits_3, sim::a_fleet_with_a_password_and_a_group_with_its_own_user.
    if report.connects == 0
        && let Some(f) = fleet.first_failure.lock().ok().and_then(|mut f| f.take())
    {
        let hint = f.hint.clone().unwrap_or_else(|| {
            "no device of the fleet connected; each one retried with backoff until the run ended"
                .into()
        });
        return Err(exit::Failure::new(f.status, f.message)
            .with_hint(hint)
            .into());
    }
    let failed = thresholds::evaluate(&plan.fail_if, &report);
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(ToString::to_string).collect();
        return Err(exit::threshold(format!(
            "{} of {} --fail-if checks failed: {}",
            failed.len(),
            plan.fail_if.len(),
            list.join("; ")
        ))
        .into());
    }
    Ok(())
}

/// Flags of one client that make no sense for a fleet: refused rather than ignored.
fn refuse_device_flags(args: &SimCommand) -> Result<(), exit::Failure> {
    let c = &args.conn;
    let given = [
        (
            c.id.is_some(),
            "-i/--id (each device's id comes from --id-template)",
        ),
        (c.id_prefix.is_some(), "-I/--id-prefix (use --id-template)"),
        (
            c.will_topic.is_some(),
            "--will-topic (each device's Will is its offline status)",
        ),
        (
            c.disable_clean_session,
            "-c (devices start clean sessions; --verify checks delivery)",
        ),
    ];
    match given.iter().find(|(set, _)| *set) {
        Some((_, what)) => Err(usage(format!("sim does not take {what}"))),
        None => Ok(()),
    }
}

/// A group of the plan and how its devices connect.
type GroupConnection = (Arc<plan::Group>, Arc<Group>);

/// Each group's connection settings: the shared flags, with the group's own credentials or
/// client certificate on top.
fn group_connections(
    args: &SimCommand,
    plan: &Plan,
    base: &ConnConfig,
) -> Result<Vec<GroupConnection>, exit::Failure> {
    let mut out = Vec::new();
    // Every group connects to the same broker: one lookup of its name serves the fleet.
    let resolver = Arc::new(crate::conn::transport::Resolver::default());
    for g in &plan.groups {
        let creds = &g.credentials;
        let mut cfg = if creds.cert.is_some() || creds.key.is_some() {
            let mut a = args.conn.clone();
            a.cert = creds.cert.clone().or(a.cert);
            a.key = creds.key.clone().or(a.key);
            ConnConfig::from_args(&a, &DEFAULTS)?
        } else {
            base.clone()
        };
        if let Some(u) = &creds.username {
            cfg.username = Some(u.clone());
        }
        if let Some(p) = &creds.password {
            cfg.password = Some(crate::cli::Secret::new(p.expose()));
        }
        cfg.manual_acks = false;
        cfg.resolver = Some(resolver.clone());
        let mut codec = Codec::new(cfg.protocol, MAX_PACKET + 5);
        codec.props = Some(Arc::new(crate::conn::codec::Props {
            publish: cfg.props.publish.clone(),
            ..Default::default()
        }));
        let settings = Settings {
            window: cfg.max_inflight.max(1),
            keepalive: Duration::from_secs(cfg.keepalive.into()),
            manual_acks: false,
        };
        let conn = driver::Plan {
            cfg,
            run_session: false,
            linger: Duration::from_millis(200),
            reconnect_timeout: None,
            bind: None,
        };
        out.push((
            g.clone(),
            Arc::new(Group {
                conn,
                codec,
                settings,
            }),
        ));
    }
    Ok(out)
}

/// Finds out before the run, not after it, that the report cannot be written: opens the
/// file for writing without truncating it (an earlier report stays until this run's replaces
/// it). Test: sim::the_report_has_every_key_and_counts_that_add_up.
fn check_report(path: &std::path::Path) -> Result<(), exit::Failure> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|e| usage(format!("--report: cannot write {} ({e})", path.display())))
}

/// Raises the soft open-file limit to the hard one (each device is a socket) and returns it.
#[cfg(unix)]
fn raise_open_files() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current != l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// `--verify`: a subscriber on the fleet's telemetry that checks every `seq` arrived.
struct Verify {
    session: Session,
    verifier: Verifier,
}

async fn start_verifier(plan: &Plan, base: &ConnConfig) -> anyhow::Result<Verify> {
    let mut cfg = base.clone();
    cfg.client_id = format!("mqtk-sim-verify-{}", std::process::id());
    cfg.will = None;
    let qos = plan.groups.iter().map(|g| g.qos).max().unwrap_or(1);
    let subs = plan
        .telemetry_filters()
        .into_iter()
        .map(|filter| Subscription {
            filter,
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        })
        .collect();
    // A session kept at the broker for the run and removed at the end, whatever the QoS:
    // across a broker restart with persistence, telemetry published while the verifier
    // reconnects waits for it there instead of counting as lost. mosquitto saves only sessions
    // that did not start clean, so it is asked for without a clean start from the first
    // CONNECT: on MQTT 3.1.1 the session core's own session for the run (which it keeps for
    // QoS 2, hence `max_qos: 2`, and purges at the end); on MQTT 5 a session with an expiry,
    // ended by the DISCONNECT's expiry of 0. Tests: sim::a_broker_restart_loses_nothing_at_qos_1
    // and ..._v5.
    if cfg.protocol == Protocol::V5 {
        cfg.clean_start = false;
        cfg.session_expiry = Some(VERIFY_SESSION_EXPIRY);
        cfg.props.disconnect = Some(DisconnectProperties {
            session_expiry_interval: Some(0),
            reason_string: None,
            user_properties: Vec::new(),
            server_reference: None,
        });
    }
    let opts = Options {
        max_qos: 2,
        reconnect_timeout: None,
    };
    let mut session = Session::open(&cfg, subs, Vec::new(), opts).await?;
    // Subscribed before the first device publishes.
    loop {
        if let Event::SubAck(_) = session.next_event().await? {
            break;
        }
    }
    let verifier = Verifier::new(plan.devices().map(|d| d.id));
    Ok(Verify { session, verifier })
}

impl Verify {
    /// Takes what arrives until every published message is in, or nothing came for a while.
    async fn finish(mut self, outcomes: &[Outcome]) -> report::Verification {
        let expected: u64 = outcomes.iter().map(|o| o.sent).sum();
        for o in outcomes {
            self.verifier.sent(&o.id, o.sent);
        }
        loop {
            while let Ok(Some(ev)) = self.session.try_next_event() {
                self.observe(ev);
            }
            // Distinct messages: duplicates (a QoS 1 resend, a broker redelivering after its
            // restart) do not stand in for one still on its way.
            let r = self.verifier.result();
            if r.received.saturating_sub(r.duplicates) >= expected {
                break;
            }
            match tokio::time::timeout(VERIFY_DRAIN, self.session.next_event()).await {
                Ok(Ok(ev)) => self.observe(ev),
                _ => break,
            }
        }
        let result = self.verifier.result();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.disconnect()).await;
        result
    }

    fn observe(&mut self, ev: Event) {
        if let Event::Message(m) = ev
            && let Ok(t) = payload::parse_telemetry(&m.payload)
        {
            self.verifier.observe(&t.device, t.seq);
        }
    }
}

/// The live progress line: on a terminal only (indicatif), never control characters in a
/// pipe or a CI log.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    previous: metrics::Snapshot,
    at: Instant,
    target: u64,
}

impl Progress {
    fn new(target: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .expect("a valid template"),
            );
            bar
        });
        Progress {
            bar,
            previous: Metrics::new().snapshot(),
            at: Instant::now(),
            target,
        }
    }

    fn update(&mut self, metrics: &Metrics) {
        let Some(bar) = &self.bar else { return };
        let now = metrics.snapshot();
        bar.set_message(now.progress(&self.previous, self.at.elapsed(), self.target));
        bar.tick();
        self.previous = now;
        self.at = Instant::now();
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle device is its task's future plus a few small allocations; the future must not
    /// carry the handshake's or the goodbye's state (they are boxed while they run), its
    /// arguments twice, or an I/O future while it waits on plain TCP (1.75 KiB in a debug build).
    #[test]
    fn a_device_task_stays_small() {
        let plan = Plan::from_args(&args::SimArgs::default()).unwrap();
        let dev = plan.devices().next().unwrap();
        let (group, fleet) = device::shared(20, Instant::now());
        let (_tx, rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let task = device::run(dev, group, fleet, Duration::ZERO, None, rx);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2 * 1024, "a device's future is {size} bytes");
    }
}
