//! One simulated device: a single task with its own connection, running the session core
//! (`conn::state` for the rules, `conn::link` for the bytes) directly — no channel, no second
//! task, no buffer while idle — so ten thousand of them fit in a few tens of megabytes.
//!
//! What it does is the device contract of `mqtk sim --help`: a Last Will of `offline` on
//! `/status`, `online` there once connected, telemetry on schedule with a gap-free `seq`,
//! commands on `/commands` and the fleet's `all/commands`, an ack for each, `/state` kept
//! retained, a reboot that drops the socket without DISCONNECT, reconnects with backoff, and
//! `offline` published before a clean stop. Tests: tests/sim.rs.

use std::collections::VecDeque;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::metrics::{ErrorKind, Metrics};
use super::payload::{self, Action};
use super::plan::Device;
use super::schedule::{Backoff, Chaos};
use crate::conn::codec::{Codec, In};
use crate::conn::driver::{self, Hello};
use crate::conn::link::{Link, Progress};
use crate::conn::state::{Event, Settings, State};
use crate::conn::transport::Bind;
use crate::conn::{Incoming, Message, SubCode, Subscription, Will};
use crate::exit::ExitStatus;

/// Tags of messages that are not telemetry (status, state, acks): above every `seq`.
const CONTROL: u64 = 1 << 63;

/// How long a rebooting device stays away before it connects again.
const REBOOT_DELAY: Duration = Duration::from_secs(1);

/// Telemetry waiting for a connection, at most; older messages beyond it are counted as
/// errors and not sent.
const BACKLOG: usize = 1000;

/// What every device of one group shares.
pub struct Group {
    pub conn: driver::Plan,
    pub codec: Codec,
    pub settings: Settings,
}

/// What every device of the run shares.
pub struct Fleet {
    pub metrics: Arc<Metrics>,
    /// Handshakes in progress at once. mosquitto accepts with a backlog of 100: past it, the
    /// kernel drops the handshake's last ACK and the client waits for the SYN-ACK to be sent
    /// again (1 s, 3 s, 7 s, ...), so 10 000 devices connecting at once take longer than a
    /// few at a time do.
    pub handshakes: tokio::sync::Semaphore,
    /// When the run started: device schedules count from here.
    pub start: Instant,
    pub count: Option<u64>,
    pub chaos: Option<f64>,
    /// Devices also take commands on `<prefix>/all/commands` (not with --no-broadcast).
    pub broadcast: bool,
    /// The first failed connection attempt of the run: the error of a run in which no device
    /// ever connected.
    pub first_failure: std::sync::Mutex<Option<crate::exit::Failure>>,
}

/// What a device reports when it ends: how many telemetry messages it published (its seqs are
/// 0 to sent - 1).
pub struct Outcome {
    pub id: String,
    pub sent: u64,
}

/// Why a connection of the device ended.
enum End {
    Stop,
    Lost,
    /// Dropped on purpose (a reboot command or --chaos): no DISCONNECT, so the Will fires.
    Dropped(Duration),
}

/// One device: everything its task keeps between wake-ups, owned in one place (the task's
/// future holds this struct once, and each wait adds only what that wait needs).
struct Sim {
    dev: Device,
    group: Arc<Group>,
    fleet: Arc<Fleet>,
    stop: watch::Receiver<bool>,
    bind: Bind,
    /// When its schedule starts: the run's start plus its place in the connect ramp.
    start: Instant,
    /// `<prefix>/<id>`: the device's topics are this and a leaf (kept as one string: every
    /// byte here is multiplied by the fleet).
    base: String,
    st: State,
    readings: super::generators::Readings,
    schedule: super::schedule::Schedule,
    backoff: Backoff,
    chaos: Option<Chaos>,
    /// Offset of the next telemetry message from the device's start.
    next: Duration,
    seq: u64,
    led: bool,
    control: u64,
    /// Telemetry in flight and when it fell due (nanoseconds from the fleet's start: half
    /// the bytes of an `Instant`), for the ack latency.
    in_flight: VecDeque<(u64, u64)>,
    /// Telemetry that fell due while the window was full or the device away.
    late: Option<Box<Late>>,
    /// Connected: telemetry can go to the session.
    online: bool,
    reboot: bool,
}

/// Telemetry messages that fell due and have their `seq`s (the last `pending` ones) but are
/// not built yet. A message waiting for the window costs these few bytes instead of its
/// topic and payload, so a fleet the broker cannot keep up with stays small. The schedule is
/// a copy from the oldest one on, which gives each its device time when it is built.
struct Late {
    pending: usize,
    /// Device time of the oldest.
    next: Duration,
    schedule: super::schedule::Schedule,
}

/// What ended a wait.
enum Woke {
    /// `stop` changed.
    Stop,
    /// The timer passed its deadline.
    Timer,
    Io(std::io::Result<Progress>),
}

/// Runs one device until `stop` turns true (or `--count` is done).
///
/// Not an `async fn`: its arguments go into one `Sim` before the task starts, so the task's
/// future holds them once (an `async fn` keeps its arguments and their moved-to locals side
/// by side). Test: a_device_task_stays_small.
pub fn run(
    dev: Device,
    group: Arc<Group>,
    fleet: Arc<Fleet>,
    connect_at: Duration,
    bind: Bind,
    stop: watch::Receiver<bool>,
) -> impl Future<Output = Outcome> + Send + 'static {
    let mut sim = Sim::new(dev, group, fleet, connect_at, bind, stop);
    async move { sim.run().await }
}

impl Sim {
    fn new(
        dev: Device,
        group: Arc<Group>,
        fleet: Arc<Fleet>,
        connect_at: Duration,
        bind: Bind,
        stop: watch::Receiver<bool>,
    ) -> Sim {
        let mut st = State::new(group.settings.clone(), group.codec.clone());
        let topics = dev.topics();
        let qos = dev.group.qos.max(1);
        let sub = |filter: String| Subscription {
            filter,
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        };
        let mut subs = vec![sub(topics.commands)];
        if fleet.broadcast {
            subs.push(sub(topics.broadcast));
        }
        st.set_subscriptions(subs, Vec::new());
        let mut schedule = dev.schedule();
        Sim {
            next: schedule.next_due(),
            schedule,
            readings: dev.readings(),
            backoff: dev.backoff(),
            chaos: fleet.chaos.map(|c| dev.chaos(c)),
            base: format!("{}/{}", dev.group.prefix, dev.id),
            start: fleet.start + connect_at,
            dev,
            group,
            fleet,
            stop,
            bind,
            st,
            seq: 0,
            led: false,
            control: CONTROL,
            in_flight: VecDeque::new(),
            late: None,
            online: false,
            reboot: false,
        }
    }

    async fn run(&mut self) -> Outcome {
        // One timer for the device's life, moved to each deadline (a timer is 112 bytes).
        let mut timer = pin!(tokio::time::sleep_until(self.start));
        let mut reconnect_at = self.start;
        let mut reconnect = false;
        // Stopped while away with telemetry waiting: one more connection delivers it (and says
        // offline itself), so a stop that falls between a drop and the reconnect loses nothing.
        // Test: sim::chaos_drops_devices_so_their_wills_fire_and_they_come_back.
        let mut last_try = false;
        loop {
            // Away: telemetry still falls due and waits for the connection.
            loop {
                if self.count_done() {
                    return self.outcome();
                }
                if *self.stop.borrow() {
                    if last_try || self.unsent() == 0 {
                        return self.outcome();
                    }
                    last_try = true;
                    break;
                }
                let telemetry_at = (reconnect && !self.all_sent()).then(|| self.start + self.next);
                let wake = telemetry_at.map_or(reconnect_at, |t| t.min(reconnect_at));
                if let Woke::Timer = wait(&mut self.stop, None, timer.as_mut(), Some(wake)).await {
                    if telemetry_at.is_some_and(|t| t <= Instant::now()) {
                        self.telemetry();
                    }
                    if reconnect_at <= Instant::now() {
                        break;
                    }
                }
            }
            let permit = self.fleet.handshakes.acquire().await;
            let t0 = Instant::now();
            let attempt = {
                // Built for each attempt rather than kept: an idle device does not need it.
                let will = Will {
                    topic: self.topic("status"),
                    payload: Bytes::from(payload::offline(&self.dev.id)),
                    qos: 1,
                    retain: true,
                };
                let hello = Hello {
                    client_id: &self.dev.id,
                    clean_start: true,
                    will: Some(&will),
                    bind: self.bind,
                };
                // Boxed: its state is needed only while connecting.
                Box::pin(driver::handshake_as(
                    &self.group.conn,
                    self.st.codec(),
                    &hello,
                ))
                .await
            };
            drop(permit);
            let (stream, connack, rest) = match attempt {
                Ok(x) => x,
                Err(f) => {
                    if self.group.conn.cfg.debug {
                        eprintln!("mqtk sim: {}: {}", self.dev.id, f.message);
                    }
                    self.fleet
                        .metrics
                        .error(if f.status == ExitStatus::Refused {
                            ErrorKind::Refused
                        } else {
                            ErrorKind::Connect
                        });
                    if let Ok(mut first) = self.fleet.first_failure.lock() {
                        first.get_or_insert(f);
                    }
                    if last_try {
                        return self.outcome();
                    }
                    reconnect = true;
                    reconnect_at = Instant::now() + self.backoff.next_delay();
                    continue;
                }
            };
            self.fleet.metrics.connected(t0.elapsed(), reconnect);
            reconnect = true;
            // The next loss starts again from the shortest delay.
            self.backoff.reset();
            self.st.connected(
                connack.session_present,
                connack.receive_max,
                connack.max_packet,
                std::time::Instant::now(),
            );
            let ts = payload::unix_ms(SystemTime::now());
            let online = payload::online(&self.dev.id, ts);
            self.control(&self.topic("status"), online, true);
            let chaos_at = self.chaos.as_mut().map(|c| Instant::now() + c.next_gap());
            let mut link = Link::frugal(stream, rest);
            self.online = true;
            let end = self.connected(&mut link, chaos_at, timer.as_mut()).await;
            if !matches!(end, End::Stop) {
                self.online = false;
            }
            match end {
                End::Stop => {
                    // Boxed: needed once, at the end.
                    Box::pin(self.goodbye(link)).await;
                    return self.outcome();
                }
                End::Lost => {
                    drop(link);
                    self.fleet.metrics.disconnected();
                    self.fleet.metrics.error(ErrorKind::Lost);
                    self.st.disconnected();
                    reconnect_at = Instant::now() + self.backoff.next_delay();
                }
                End::Dropped(after) => {
                    drop(link);
                    self.fleet.metrics.dropped();
                    self.st.disconnected();
                    reconnect_at = Instant::now() + after;
                }
            }
        }
    }

    fn topic(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.base)
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            id: self.dev.id.clone(),
            sent: self.seq,
        }
    }

    fn all_sent(&self) -> bool {
        self.fleet.count.is_some_and(|c| self.seq >= c)
    }

    /// `--count` messages published and settled.
    fn count_done(&self) -> bool {
        self.all_sent() && self.unsent() == 0
    }

    /// Telemetry and control messages not settled yet, built or not.
    fn unsent(&self) -> usize {
        self.st.outstanding() + self.late.as_ref().map_or(0, |l| l.pending)
    }

    /// Whether a telemetry message can go to the session now: connected, and the in-flight
    /// window not full.
    fn has_room(&self) -> bool {
        self.online && self.st.outstanding() < usize::from(self.group.settings.window.max(1))
    }

    /// Publishes every telemetry message that is due by now: built at once when there is
    /// room, else given its `seq` and left to `build_late`.
    fn telemetry(&mut self) {
        let now = Instant::now();
        while self.start + self.next <= now && !self.all_sent() {
            self.fleet.metrics.due();
            if self.unsent() >= BACKLOG {
                self.fleet.metrics.error(ErrorKind::Publish);
            } else {
                if let Some(late) = &mut self.late {
                    late.pending += 1;
                } else if self.has_room() {
                    self.build(self.seq, self.next, SystemTime::now(), now);
                } else {
                    self.late = Some(Box::new(Late {
                        pending: 1,
                        next: self.next,
                        schedule: self.schedule.clone(),
                    }));
                }
                self.fleet.metrics.published();
                self.seq += 1;
            }
            self.next = self.schedule.next_due();
        }
    }

    /// Builds late telemetry, oldest first, at most `most` messages while there is room (or
    /// regardless, `force`); returns how many. Each carries the `ts` and device time it fell
    /// due at, and its ack latency counts from then.
    fn build_late(&mut self, force: bool, most: usize) -> usize {
        let mut built = 0;
        while let Some(late) = &self.late {
            if built == most || !(force || self.has_room()) {
                break;
            }
            built += 1;
            let at = late.next;
            let seq = self.seq - late.pending as u64;
            let due = self.start + at;
            let behind = Instant::now().saturating_duration_since(due);
            let ts = SystemTime::now() - behind;
            self.build(seq, at, ts, due);
            let late = self.late.as_mut().expect("checked above");
            late.pending -= 1;
            if late.pending == 0 {
                self.late = None;
            } else {
                late.next = late.schedule.next_due();
            }
        }
        built
    }

    /// Telemetry message `seq` at device time `at`, handed to the session.
    fn build(&mut self, seq: u64, at: Duration, ts: SystemTime, due: Instant) {
        let ts = payload::unix_ms(ts);
        let mut body = payload::telemetry(&self.dev.id, ts, seq, self.readings.sample(at));
        // Exactly sized: in flight, it is held until the broker acknowledges it.
        body.shrink_to_fit();
        let qos = self.dev.group.qos;
        let m = Message::new(self.topic("telemetry"), body, qos, false);
        self.st.publish(seq, m);
        if qos > 0 {
            // A window's worth at once, not a doubling past it.
            if self.in_flight.capacity() == 0 {
                self.in_flight
                    .reserve_exact(usize::from(self.group.settings.window.max(1)));
            }
            let due = due.saturating_duration_since(self.fleet.start).as_nanos();
            self.in_flight
                .push_back((seq, u64::try_from(due).unwrap_or(u64::MAX)));
        }
    }

    /// Status, state and acks: QoS 1, tagged apart from telemetry.
    fn control(&mut self, topic: &str, body: Vec<u8>, retain: bool) {
        self.control += 1;
        self.st
            .publish(self.control, Message::new(topic, body, 1, retain));
    }

    fn command(&mut self, m: &Incoming) {
        let ts = payload::unix_ms(SystemTime::now());
        let parsed = payload::parse_command(&m.payload);
        // A command that says when it was sent gives the round trip to our ack.
        let sent = match &parsed {
            Ok(cmd) => cmd.sent,
            Err(rejection) => rejection.sent,
        };
        if let Some(sent) = sent
            && ts >= sent
        {
            self.fleet
                .metrics
                .command_round_trip(Duration::from_millis(ts - sent));
        }
        let ack_topic = self.topic("ack");
        match parsed {
            Ok(cmd) => {
                self.fleet.metrics.command(true);
                match &cmd.action {
                    Action::Led(on) => {
                        self.led = *on;
                        self.publish_state(ts);
                    }
                    Action::Interval(d) => {
                        // Late messages fell due at the old interval: built now, their times
                        // come from the schedule as it was.
                        self.build_late(true, usize::MAX);
                        self.schedule.set_interval(*d);
                        self.publish_state(ts);
                    }
                    Action::Reboot => self.reboot = true,
                }
                self.control(&ack_topic, payload::ack(&cmd), false);
            }
            Err(rejection) => {
                self.fleet.metrics.command(false);
                self.control(&ack_topic, payload::ack_error(&rejection), false);
            }
        }
    }

    fn publish_state(&mut self, ts: u64) {
        let state = payload::State {
            led: self.led,
            interval: self.schedule.interval(),
        };
        let body = payload::state(&self.dev.id, &state, ts);
        let topic = self.topic("state");
        self.control(&topic, body, true);
    }

    fn events(&mut self) {
        while let Some(ev) = self.st.poll_event() {
            match ev {
                Event::Done { tag, result } => {
                    if tag < CONTROL
                        && let Some(i) = self.in_flight.iter().position(|(t, _)| *t == tag)
                    {
                        let (_, due) = self.in_flight.remove(i).expect("found above");
                        let due = self.fleet.start + Duration::from_nanos(due);
                        self.fleet.metrics.acked(due.elapsed());
                    }
                    if result.is_err() {
                        self.fleet.metrics.error(ErrorKind::Publish);
                    }
                }
                Event::Message(m) => self.command(&m),
                Event::SubAck(codes) => {
                    if codes.iter().any(|c| matches!(c, SubCode::Refused(_))) {
                        self.fleet.metrics.error(ErrorKind::Subscribe);
                    }
                }
                Event::UnsubAck | Event::Fence => {}
            }
        }
    }

    /// Decodes what was read; false when the broker sent DISCONNECT or garbage.
    fn read(&mut self, link: &mut Link) -> bool {
        let now = std::time::Instant::now();
        loop {
            match link.next_packet(self.st.codec()) {
                Ok(Some(In::Disconnect { .. })) | Err(_) => return false,
                Ok(Some(p)) => {
                    self.st.received(p, now);
                    // Handled one by one: a read full of acks does not pile up events.
                    self.events();
                }
                Ok(None) => return true,
            }
        }
    }

    /// Encodes what is due and writes what the socket takes now; false when the connection
    /// failed.
    fn send(&mut self, link: &mut Link) -> bool {
        let now = std::time::Instant::now();
        loop {
            if self.st.transmit(&mut link.out, now).is_err() {
                return false;
            }
            // Late telemetry one message at a time, each encoded before the next is built:
            // the session's queue (128 bytes a slot) stays short.
            if self.build_late(false, 1) == 0 {
                break;
            }
        }
        match link.push() {
            Ok(true) => {
                self.st.flushed();
                true
            }
            Ok(false) => true,
            Err(_) => false,
        }
    }

    /// One connection, until it ends (`End::Stop`: the caller says goodbye on `link`).
    async fn connected(
        &mut self,
        link: &mut Link,
        chaos_at: Option<Instant>,
        mut timer: Pin<&mut Sleep>,
    ) -> End {
        let mut decode = true;
        loop {
            if decode {
                decode = false;
                if !self.read(link) {
                    return End::Lost;
                }
            }
            self.events();
            if !self.send(link) {
                return End::Lost;
            }
            // Sending may have settled QoS 0 messages.
            self.events();
            if self.reboot {
                self.reboot = false;
                // The ack goes out (and is acknowledged) first; then the socket is dropped
                // without DISCONNECT.
                Box::pin(self.settle(link, Duration::from_millis(500))).await;
                return End::Dropped(REBOOT_DELAY);
            }
            if *self.stop.borrow() || self.count_done() {
                return End::Stop;
            }
            let deadline = self.st.deadline().map(Instant::from_std);
            if let Err(_timeout) = self.st.check(std::time::Instant::now()) {
                return End::Lost;
            }
            self.st.compact();
            if self.in_flight.is_empty() {
                self.in_flight = VecDeque::new();
            }
            // One timer for the three things that fall due.
            let telemetry_at = (!self.all_sent()).then(|| self.start + self.next);
            let wake = [telemetry_at, deadline, chaos_at]
                .into_iter()
                .flatten()
                .min();
            match wait(&mut self.stop, Some(link), timer.as_mut(), wake).await {
                Woke::Stop => {}
                Woke::Io(r) => match r {
                    Ok(Progress::Read) => decode = true,
                    Ok(Progress::Wrote) => {}
                    Ok(Progress::Flushed) => self.st.flushed(),
                    Ok(Progress::Closed) | Err(_) => return End::Lost,
                },
                Woke::Timer => {
                    let now = Instant::now();
                    if chaos_at.is_some_and(|t| t <= now) {
                        return End::Dropped(Duration::from_millis(500));
                    }
                    if telemetry_at.is_some_and(|t| t <= now) {
                        self.telemetry();
                    }
                }
            }
        }
    }

    /// Sends what is queued and waits until the broker has acknowledged everything, at most
    /// `limit`; false when it did not come to that.
    async fn settle(&mut self, link: &mut Link, limit: Duration) -> bool {
        let settle = async {
            loop {
                self.events();
                if !self.send(link) {
                    return false;
                }
                if self.unsent() == 0 {
                    return true;
                }
                self.st.compact();
                match io(link).await {
                    Ok(Progress::Read) => {
                        if !self.read(link) {
                            return false;
                        }
                    }
                    Ok(Progress::Flushed) => self.st.flushed(),
                    Ok(Progress::Wrote) => {}
                    Ok(Progress::Closed) | Err(_) => return false,
                }
            }
        };
        matches!(tokio::time::timeout(limit, settle).await, Ok(true))
    }

    /// A clean stop: `offline` on /status, everything settled (bounded), DISCONNECT.
    async fn goodbye(&mut self, mut link: Link) {
        let offline = payload::offline(&self.dev.id);
        let topic = self.topic("status");
        self.control(&topic, offline, true);
        if !self.settle(&mut link, Duration::from_secs(5)).await {
            self.fleet.metrics.error(ErrorKind::Timeout);
        }
        self.st.codec().disconnect(None, &mut link.out);
        link.close(Duration::from_millis(200)).await;
    }
}

/// `link.io(true)`, polled in place for plain TCP (a device saying goodbye keeps no I/O future).
async fn io(link: &mut Link) -> std::io::Result<Progress> {
    if link.is_tcp() {
        std::future::poll_fn(|cx| link.poll_tcp(cx, true)).await
    } else {
        Box::pin(link.io(true)).await
    }
}

/// Waits until `stop` changes, `link` (if any) makes progress, or `wake` (if any) passes.
///
/// Plain TCP is polled for readiness in place, so waiting stores no I/O future; other streams
/// (TLS, WebSockets, unix sockets) wait on `Link::io`, boxed for the wait.
async fn wait(
    stop: &mut watch::Receiver<bool>,
    link: Option<&mut Link>,
    mut timer: Pin<&mut Sleep>,
    wake: Option<Instant>,
) -> Woke {
    if let Some(t) = wake
        && timer.deadline() != t
    {
        timer.as_mut().reset(t);
    }
    let mut changed = pin!(stop.changed());
    let (mut tcp, mut other) = match link {
        Some(l) if l.is_tcp() => (Some(l), None),
        Some(l) => (None, Some(Box::pin(l.io(true)))),
        None => (None, None),
    };
    std::future::poll_fn(|cx| {
        if changed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woke::Stop);
        }
        if let Some(l) = tcp.as_mut()
            && let Poll::Ready(r) = l.poll_tcp(cx, true)
        {
            return Poll::Ready(Woke::Io(r));
        }
        if let Some(f) = other.as_mut()
            && let Poll::Ready(r) = f.as_mut().poll(cx)
        {
            return Poll::Ready(Woke::Io(r));
        }
        if wake.is_some() && timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woke::Timer);
        }
        Poll::Pending
    })
    .await
}

/// What the devices of a test share: a group with plain-TCP defaults and `window`, and a fleet
/// starting at `start`.
#[cfg(test)]
pub(super) fn shared(window: u16, start: Instant) -> (Arc<Group>, Arc<Fleet>) {
    let args = crate::cli::ConnArgs::default();
    let cfg = crate::conn::ConnConfig::from_args(&args, &super::DEFAULTS).unwrap();
    let group = Arc::new(Group {
        conn: driver::Plan {
            cfg,
            run_session: false,
            linger: Duration::ZERO,
            reconnect_timeout: None,
            bind: None,
        },
        codec: Codec::new(crate::cli::Protocol::V311, 1 << 20),
        settings: Settings {
            window,
            keepalive: Duration::from_secs(60),
            manual_acks: false,
        },
    });
    let fleet = Arc::new(Fleet {
        metrics: Arc::new(Metrics::new()),
        handshakes: tokio::sync::Semaphore::new(1),
        start,
        count: None,
        chaos: None,
        broadcast: true,
        first_failure: std::sync::Mutex::new(None),
    });
    (group, fleet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Protocol;
    use crate::cmd::sim::args::SimArgs;
    use crate::cmd::sim::plan::Plan;
    use bytes::BytesMut;

    const WINDOW: u16 = 5;

    fn sim(dev: Device, start: Instant) -> Sim {
        let (group, fleet) = shared(WINDOW, start);
        let (_tx, rx) = watch::channel(false);
        Sim::new(dev, group, fleet, Duration::ZERO, None, rx)
    }

    /// The telemetry messages `transmit` wrote, after the SUBSCRIBE: (pkid, JSON payload).
    fn published(st: &mut State) -> Vec<(u16, serde_json::Value)> {
        let mut out = BytesMut::new();
        st.transmit(&mut out, std::time::Instant::now()).unwrap();
        if out.first() == Some(&0x82) {
            let len = usize::from(out[1]);
            let _ = out.split_to(2 + len);
        }
        let codec = Codec::new(Protocol::V311, 1 << 20);
        let mut got = Vec::new();
        while let Some(In::Publish(m)) = codec.decode(&mut out).unwrap() {
            got.push((m.pkid, serde_json::from_slice(&m.payload).unwrap()));
        }
        got
    }

    /// What the device would have sent for `seq` had it been built when due (`ts` aside).
    fn expected(dev: &Device, count: usize) -> Vec<serde_json::Value> {
        let mut schedule = dev.schedule();
        let mut readings = dev.readings();
        (0..count)
            .map(|seq| {
                let at = schedule.next_due();
                let body = payload::telemetry(&dev.id, 0, seq as u64, readings.sample(at));
                serde_json::from_slice(&body).unwrap()
            })
            .collect()
    }

    fn without_ts(mut v: serde_json::Value) -> serde_json::Value {
        v.as_object_mut().unwrap().remove("ts");
        v
    }

    /// A device whose window is full (or that is away) keeps late telemetry as a count, and
    /// builds each message when there is room, in `seq` order, with the device time (metric
    /// values) and `ts` of when it fell due.
    #[test]
    fn late_telemetry_is_a_count_until_the_window_has_room() {
        // A sine with a 1 s period and no noise: its values show the device time.
        let dir = tempfile::tempdir().unwrap();
        let fleet = dir.path().join("fleet.toml");
        std::fs::write(
            &fleet,
            "[[group]]\nname = \"g\"\ndevices = 1\ninterval = \"10ms\"\n\
             [group.metrics.s]\nkind = \"sine\"\nmean = 0\namplitude = 100\n\
             period = \"1s\"\nnoise = 0\ndecimals = 3\n",
        )
        .unwrap();
        let args = SimArgs {
            fleet: Some(fleet),
            seed: Some(7),
            ..SimArgs::default()
        };
        let plan = Plan::from_args(&args).unwrap();
        let dev = plan.devices().next().unwrap();
        let want = expected(&dev, 30);
        let mut schedule = dev.schedule();
        let offsets: Vec<Duration> = (0..30).map(|_| schedule.next_due()).collect();
        // Started long enough ago that 30 fell due.
        let start = Instant::now() - offsets[29] - Duration::from_millis(1);
        let mut sim = sim(dev.clone(), start);

        // Away while they fell due: nothing is built.
        sim.telemetry();
        assert_eq!(sim.seq, 30);
        assert_eq!(sim.st.outstanding(), 0);
        assert_eq!(sim.late.as_ref().map(|l| l.pending), Some(30));
        assert_eq!(sim.unsent(), 30);

        // Connected: a window's worth is built, the oldest first.
        sim.online = true;
        sim.st
            .connected(false, None, None, std::time::Instant::now());
        sim.build_late(false, usize::MAX);
        assert_eq!(sim.st.outstanding(), usize::from(WINDOW));
        assert_eq!(sim.unsent(), 30);
        let wall = payload::unix_ms(SystemTime::now());
        let first = published(&mut sim.st);
        assert_eq!(first.len(), usize::from(WINDOW));
        for (i, (_, body)) in first.iter().enumerate() {
            assert_eq!(without_ts(body.clone()), without_ts(want[i].clone()));
            // Its ts is when it fell due, (offsets[29] - offsets[i]) before now.
            let behind = (offsets[29] - offsets[i]).as_millis() as u64;
            let ts = body["ts"].as_u64().unwrap();
            assert!(wall - ts >= behind && wall - ts <= behind + 1000, "ts {ts}");
        }

        // Each ack makes room for the next one.
        let mut next = usize::from(WINDOW);
        let mut sent = first;
        while next < 30 {
            let (pkid, _) = sent.remove(0);
            sim.st
                .received(In::PubAck { pkid, reason: None }, std::time::Instant::now());
            sim.events();
            sim.build_late(false, usize::MAX);
            let more = published(&mut sim.st);
            assert_eq!(more.len(), 1);
            assert_eq!(
                without_ts(more[0].1.clone()),
                without_ts(want[next].clone())
            );
            sent.extend(more);
            next += 1;
        }
        assert!(sim.late.is_none());
        assert_eq!(sim.unsent(), usize::from(WINDOW));
    }
}
