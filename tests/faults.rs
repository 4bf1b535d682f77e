//! Delivery guarantees under faults, black-box: the mqtk binary against mosquitto behind
//! `support::proxy::Proxy` (connection resets at a chosen packet, blackholes, refusals), against
//! a frozen (SIGSTOP) or restarted mosquitto, or against `support::fake_broker::FakeBroker` for
//! what a real broker will not do on cue. Each test injects its fault at the moment that
//! matters and waits for events (packet counts, printed lines), not for time, wherever there
//! is an event to wait for.
//!
//! The first tests check the proxy and the fake broker themselves with the mosquitto clients.

use std::collections::BTreeMap;
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::fake_broker::{self, FakeBroker, Pkt, RecvError, Version};
use crate::support::proxy::{Proxy, packet};
use crate::support::{
    Broker, BrokerConfig, MosquittoSub, MqtkChild, cmd, unique_id, unique_topic, wait_for,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The time a test has left: every wait in a fault test takes its limit from one budget, so
/// the test as a whole stays under 30 s whatever hangs.
struct Budget(Instant);

impl Budget {
    fn new() -> Budget {
        Budget(Instant::now() + secs(28))
    }

    fn left(&self) -> Duration {
        let left = self.0.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the test ran out of its 28 s");
        left
    }

    /// `d`, or what is left if that is less.
    fn at_most(&self, d: Duration) -> Duration {
        d.min(self.left())
    }
}

/// Writes `from..=to`, one number a line, to a child's stdin on a thread; drops it (end of
/// input) when done. A child that dies early just ends the writing.
fn feed(stdin: ChildStdin, from: usize, to: usize) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut w = BufWriter::new(stdin);
        for i in from..=to {
            if writeln!(w, "{i}").is_err() {
                return;
            }
        }
        let _ = w.flush();
    })
}

/// `1\n2\n...n\n`.
fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// How a list of received lines compares with `1..=n`.
struct Tally {
    total: usize,
    missing: Vec<usize>,
    /// Line → how many times it came, for those that came more than once.
    dups: BTreeMap<usize, usize>,
    foreign: Vec<String>,
}

impl Tally {
    fn of<S: AsRef<str>>(lines: &[S], n: usize) -> Tally {
        let mut seen = vec![0usize; n + 1];
        let mut foreign = Vec::new();
        for l in lines {
            match l.as_ref().parse::<usize>() {
                Ok(i) if (1..=n).contains(&i) => seen[i] += 1,
                _ => foreign.push(l.as_ref().to_string()),
            }
        }
        Tally {
            total: lines.len(),
            missing: (1..=n).filter(|&i| seen[i] == 0).collect(),
            dups: (1..=n)
                .filter(|&i| seen[i] > 1)
                .map(|i| (i, seen[i]))
                .collect(),
            foreign,
        }
    }

    fn summary(&self, n: usize) -> String {
        let first = |v: &[usize]| {
            v.iter()
                .take(10)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let dups: Vec<String> = self
            .dups
            .iter()
            .take(10)
            .map(|(l, c)| format!("{l}×{c}"))
            .collect();
        format!(
            "{} lines for 1..={n}: {} missing (first: {}), {} duplicated (first: {}), {} foreign \
             (first: {:?})",
            self.total,
            self.missing.len(),
            first(&self.missing),
            self.dups.len(),
            dups.join(" "),
            self.foreign.len(),
            self.foreign.iter().take(3).collect::<Vec<_>>()
        )
    }
}

/// Every line of `1..=n` exactly once, nothing else.
fn assert_exactly_once<S: AsRef<str>>(lines: &[S], n: usize, what: &str) {
    let t = Tally::of(lines, n);
    assert!(
        t.missing.is_empty() && t.dups.is_empty() && t.foreign.is_empty(),
        "{what}: {}",
        t.summary(n)
    );
}

/// Every line of `1..=n` at least once (QoS 1 may repeat after a fault), nothing else.
fn assert_at_least_once<S: AsRef<str>>(lines: &[S], n: usize, what: &str) {
    let t = Tally::of(lines, n);
    assert!(
        t.missing.is_empty() && t.foreign.is_empty(),
        "{what}: {}",
        t.summary(n)
    );
}

/// Takes lines from `watcher` into `got` until it holds `n`.
fn take_until(
    watcher: &MosquittoSub,
    got: &mut Vec<String>,
    n: usize,
    limit: Duration,
    sender: &MqtkChild,
) {
    if got.len() < n {
        got.extend(take_from(watcher, n - got.len(), limit, sender));
    }
}

/// The lines an mqtk child printed so far.
fn lines_of(child: &MqtkChild) -> Vec<String> {
    child.stdout().lines().map(str::to_string).collect()
}

/// An mqtk child's stderr for a failure message: whole when short; else (a `-d` trace is
/// long) its first lines, every line that reports an error or a lost connection, and its last
/// lines.
fn stderr_tail(child: &MqtkChild) -> String {
    let err = child.stderr();
    let lines: Vec<&str> = err.lines().collect();
    if lines.len() <= 40 {
        return err;
    }
    let mut out: Vec<&str> = lines[..10].to_vec();
    out.push("...");
    out.extend(
        lines[10..lines.len() - 10]
            .iter()
            .filter(|l| l.contains("error") || l.contains("lost"))
            .take(20),
    );
    out.push("...");
    out.extend(&lines[lines.len() - 10..]);
    out.join("\n")
}

/// Waits until `check` accepts what the child printed (Err says what is still wanting);
/// panics with the child's stderr when `limit` passes or the child exits first.
fn wait_output(
    child: &mut MqtkChild,
    limit: Duration,
    check: impl Fn(&[String]) -> Result<(), String>,
) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let exited = child.try_wait();
        if exited.is_some() {
            // Let the reader threads drain the pipes.
            thread::sleep(ms(50));
        }
        let lines = lines_of(child);
        let Err(wanting) = check(&lines) else {
            return lines;
        };
        if let Some(status) = exited {
            panic!(
                "mqtk exited ({status}) with {wanting}; stderr:\n{}",
                stderr_tail(child)
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "still {wanting} after {limit:?}; stderr:\n{}",
                stderr_tail(child)
            );
        }
        thread::sleep(ms(20));
    }
}

/// Waits until the child has printed every line of `1..=n` (each at least once).
fn wait_all_printed(child: &mut MqtkChild, n: usize, limit: Duration) -> Vec<String> {
    wait_output(child, limit, |lines| {
        let t = Tally::of(lines, n);
        if t.missing.is_empty() {
            Ok(())
        } else {
            Err(t.summary(n))
        }
    })
}

/// Waits until the child has printed at least `n` lines.
fn wait_printed(child: &mut MqtkChild, n: usize, limit: Duration) {
    wait_output(child, limit, |lines| {
        if lines.len() >= n {
            Ok(())
        } else {
            Err(format!("{} of {n} lines printed", lines.len()))
        }
    });
}

/// `watcher.take(n)`, adding the stderr of the mqtk child that should have sent them to the
/// failure.
fn take_from(watcher: &MosquittoSub, n: usize, limit: Duration, sender: &MqtkChild) -> Vec<String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| watcher.take(n, limit))) {
        Ok(lines) => lines,
        Err(_) => panic!(
            "{n} lines did not arrive within {limit:?}; the sender's stderr:\n{}",
            stderr_tail(sender)
        ),
    }
}

/// Waits for a non-mqtk child (a mosquitto client), killing it after `limit`.
fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{child:?} did not exit within {limit:?}");
        }
        thread::sleep(ms(10));
    }
}

/// Joins a script thread, passing its panic on.
fn join<T>(h: JoinHandle<T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e),
    }
}

/// Sends SIGCONT to a broker on drop, so a failing test does not leave it frozen.
struct Frozen<'a>(&'a Broker);

impl<'a> Frozen<'a> {
    fn new(broker: &'a Broker) -> Frozen<'a> {
        broker.pause();
        Frozen(broker)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.resume();
    }
}

/// `mqtk ARGS` with the connection args of `to` in front.
fn with_conn(to: Vec<String>, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let mut rest = args.iter();
    // The subcommand first.
    if let Some(sub) = rest.next() {
        all.push((*sub).to_string());
    }
    all.extend(to);
    all.extend(rest.map(|s| (*s).to_string()));
    all
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A plain TCP listener standing in for a broker in the proxy's own tests.
fn raw_upstream() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    (l, port)
}

fn accept_within(l: &TcpListener, limit: Duration) -> TcpStream {
    let deadline = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(secs(5))).unwrap();
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection within {limit:?}");
                thread::sleep(ms(2));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(secs(5))).unwrap();
    s
}

/// Reads until the stream fails or ends; returns the bytes and how it ended.
fn read_to_end_or_error(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

#[test]
fn proxy_forwards_between_mosquitto_clients_and_counts_packets() {
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("proxy");
    let port = proxy.port().to_string();
    let sub = MosquittoSub::start_with_args(&["-h", "127.0.0.1", "-p", &port, "-t", &topic]);
    let ok = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-t", &topic, "-q", "1"])
        .args(["-m", "through the proxy"])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(sub.take(1, secs(10)), ["through the proxy"]);
    assert_eq!(proxy.accepted(), 2);
    assert_eq!(proxy.broker_sent(packet::CONNACK), 2);
    assert_eq!(proxy.client_sent(packet::SUBSCRIBE), 1);
    assert_eq!(proxy.client_sent(packet::PUBLISH), 1);
    assert_eq!(proxy.broker_sent(packet::PUBACK), 1);
    proxy.wait_broker_sent(packet::PUBLISH, 1, secs(5));
}

#[test]
fn proxy_reset_all_is_a_reset_for_both_peers() {
    let (up, up_port) = raw_upstream();
    let proxy = Proxy::start(up_port);
    let mut client = connect(proxy.port());
    client.write_all(b"hi").unwrap();
    let mut server = accept_within(&up, secs(5));
    let mut two = [0u8; 2];
    server.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"hi");
    proxy.reset_all();
    assert_eq!(proxy.resets(), 1);
    let (_, client_end) = read_to_end_or_error(&mut client);
    let (_, server_end) = read_to_end_or_error(&mut server);
    assert_eq!(client_end, Some(ErrorKind::ConnectionReset), "client side");
    assert_eq!(server_end, Some(ErrorKind::ConnectionReset), "broker side");
}

#[test]
fn proxy_reset_all_makes_mosquitto_sub_reconnect_and_resume() {
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("proxyreset");
    let id = unique_id("proxysub");
    let port = proxy.port().to_string();
    let sub = MosquittoSub::start_with_args(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        &topic,
        "-q",
        "1",
        "-c",
        "-i",
        &id,
    ]);
    proxy.reset_all();
    // libmosquitto reconnects after about a second.
    proxy.wait_broker_sent(packet::CONNACK, 2, secs(10));
    assert!(proxy.accepted() >= 2);
    crate::support::mosquitto_pub(&broker, &["-t", &topic, "-q", "1", "-m", "after the reset"]);
    assert_eq!(sub.take(1, secs(10)), ["after the reset"]);
}

#[test]
fn proxy_blackhole_holds_bytes_and_new_connections_until_lifted() {
    let (up, up_port) = raw_upstream();
    let proxy = Proxy::start(up_port);
    let mut client = connect(proxy.port());
    let mut server = accept_within(&up, secs(5));
    proxy.blackhole(true);
    client.write_all(b"held").unwrap();
    server.set_read_timeout(Some(ms(300))).unwrap();
    let mut buf = [0u8; 4];
    let e = server.read(&mut buf).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    // A new connection is accepted but goes nowhere.
    let _second = connect(proxy.port());
    wait_for(secs(5), || proxy.accepted() == 2);
    thread::sleep(ms(200));
    assert!(
        matches!(up.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "a connection was forwarded through the blackhole"
    );
    proxy.blackhole(false);
    server.set_read_timeout(Some(secs(5))).unwrap();
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"held");
    let _forwarded = accept_within(&up, secs(5));
}

#[test]
fn proxy_refuse_resets_new_connections() {
    let (up, up_port) = raw_upstream();
    let proxy = Proxy::start(up_port);
    proxy.refuse(true);
    let mut client = connect(proxy.port());
    let (_, end) = read_to_end_or_error(&mut client);
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    assert_eq!(proxy.accepted(), 1);
    assert!(matches!(up.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
    proxy.refuse(false);
    let mut client = connect(proxy.port());
    client.write_all(b"ok").unwrap();
    let mut server = accept_within(&up, secs(5));
    let mut two = [0u8; 2];
    server.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
}

#[test]
fn proxy_delay_holds_each_chunk() {
    let (up, up_port) = raw_upstream();
    let proxy = Proxy::start(up_port);
    let mut client = connect(proxy.port());
    let mut server = accept_within(&up, secs(5));
    proxy.delay(ms(400));
    let t0 = Instant::now();
    client.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    server.read_exact(&mut one).unwrap();
    assert!(
        t0.elapsed() >= ms(400),
        "forwarded after {:?}",
        t0.elapsed()
    );
    proxy.delay(Duration::ZERO);
    let t0 = Instant::now();
    server.write_all(b"y").unwrap();
    client.read_exact(&mut one).unwrap();
    assert!(t0.elapsed() < ms(300), "still delayed: {:?}", t0.elapsed());
}

#[test]
fn proxy_trigger_resets_right_after_the_chosen_packet() {
    // PUBREC 1, PUBREL 1, PUBCOMP 1, as a broker would send them.
    let stream: [u8; 12] = [
        0x50, 2, 0, 1, //
        0x62, 2, 0, 1, //
        0x70, 2, 0, 1,
    ];
    let (up, up_port) = raw_upstream();
    let proxy = Proxy::start(up_port);
    for byte_by_byte in [false, true] {
        let resets = proxy.resets();
        proxy.reset_after_broker_sends(packet::PUBREL, 1);
        let mut client = connect(proxy.port());
        let mut server = accept_within(&up, secs(5));
        if byte_by_byte {
            // The writes after the PUBREL meet the reset.
            for b in stream {
                if server.write_all(&[b]).is_err() {
                    break;
                }
                thread::sleep(ms(15));
            }
        } else {
            server.write_all(&stream).unwrap();
        }
        let (got, end) = read_to_end_or_error(&mut client);
        assert_eq!(got, &stream[..8], "byte by byte: {byte_by_byte}");
        assert_eq!(end, Some(ErrorKind::ConnectionReset));
        assert_eq!(proxy.resets(), resets + 1);
    }
    assert_eq!(proxy.broker_sent(packet::PUBREL), 2);
    assert_eq!(proxy.broker_sent(packet::PUBCOMP), 0);
    // Disarmed after firing: the next connection carries everything.
    let mut client = connect(proxy.port());
    let mut server = accept_within(&up, secs(5));
    server.write_all(&stream).unwrap();
    let mut all = [0u8; 12];
    client.read_exact(&mut all).unwrap();
    assert_eq!(all, stream);
}

// ---------------------------------------------------------------------------------------------
// The fake broker

#[test]
fn fake_broker_takes_a_qos_1_publish_from_mosquitto_pub() {
    for (flag, version) in [("311", Version::V311), ("5", Version::V5)] {
        let mut fb = FakeBroker::start();
        let port = fb.port().to_string();
        let mut client = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-V", flag, "-i", "fakepub"])
            .args(["-q", "1", "-t", "fake/one", "-m", "hello"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut c = fb.accept(secs(5));
        assert_eq!(c.version(), version);
        assert_eq!(c.connect().client_id, "fakepub");
        assert!(c.connect().clean);
        c.connack(false);
        let p = c.expect_publish(secs(5));
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos),
            ("fake/one", &b"hello"[..], 1)
        );
        c.puback(p.pkid);
        c.expect_closed(secs(5));
        assert!(wait_child(&mut client, secs(5)).success(), "-V {flag}");
    }
}

/// A QoS 2 message whose PUBREL is lost with the connection: the session resumes
/// (CONNACK session present), the broker releases the message again, and a second message
/// follows. A correct client prints each once.
fn qos2_release_after_reconnect_script(fb: &mut FakeBroker, topic: &str) {
    let mut c = fb.accept(secs(10));
    assert!(
        !c.connect().clean,
        "the client must ask to keep its session"
    );
    c.connack(false);
    c.accept_subscribe(secs(5));
    c.publish(topic, b"one", 2, 1, false);
    assert_eq!(c.recv(secs(5)), Pkt::PubRec { pkid: 1, reason: 0 });
    // The connection drops before the broker's PUBREL.
    c.reset();
    let mut c = fb.accept(secs(10));
    assert!(!c.connect().clean);
    c.connack(true);
    c.pubrel(1);
    let next = |c: &mut fake_broker::FakeConn| loop {
        match c.recv(secs(5)) {
            // Re-subscribing on a resumed session is allowed.
            Pkt::Subscribe { pkid, filters } => {
                c.suback(pkid, &filters.iter().map(|f| f.1).collect::<Vec<_>>())
            }
            p => return p,
        }
    };
    assert_eq!(next(&mut c), Pkt::PubComp { pkid: 1, reason: 0 });
    c.publish(topic, b"two", 2, 2, false);
    assert_eq!(next(&mut c), Pkt::PubRec { pkid: 2, reason: 0 });
    c.pubrel(2);
    assert_eq!(next(&mut c), Pkt::PubComp { pkid: 2, reason: 0 });
    // Keep the connection open until the client is done with it.
    let _ = c.try_recv(secs(3));
}

#[test]
fn fake_broker_qos2_release_after_reconnect_is_handled_by_mosquitto_sub() {
    // The positive control for `sub_answers_a_pubrel_resent_after_reconnect_*`: the script
    // is an MQTT exchange a correct client gets through.
    for version in ["311", "5"] {
        let mut fb = FakeBroker::start();
        let port = fb.port().to_string();
        let script = thread::spawn(move || qos2_release_after_reconnect_script(&mut fb, "fake/q2"));
        let id = unique_id("fakesub");
        let sub = MosquittoSub::start_with_args(&[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            version,
            "-c",
            "-i",
            &id,
            "-q",
            "2",
            "-t",
            "fake/q2",
        ]);
        assert_eq!(sub.take(2, secs(10)), ["one", "two"], "-V {version}");
        join(script);
        sub.assert_nothing(ms(300));
    }
}

// ---------------------------------------------------------------------------------------------
// a QoS 2 subscriber whose connection drops between its PUBREC and the broker's PUBREL

/// Where in the QoS 2 handshake a reset of every connection falls.
#[derive(Clone, Copy)]
enum Cut {
    /// Right after the client's PUBREC reached the broker; the broker's PUBREL is lost.
    ClientPubRec,
    /// Right after the broker's PUBREL reached the client; the client's PUBCOMP is lost.
    BrokerPubRel,
    /// Right after the broker's PUBREC reached the client; the client's PUBREL is lost.
    BrokerPubRec,
    /// Right after the client's PUBREL reached the broker; the broker's PUBCOMP is lost.
    ClientPubRel,
}

/// Arms `cut` to fire after `nth` more packets of its kind.
fn arm(proxy: &Proxy, cut: Cut, nth: usize) {
    match cut {
        Cut::ClientPubRec => proxy.reset_after_client_sends(packet::PUBREC, nth),
        Cut::BrokerPubRel => proxy.reset_after_broker_sends(packet::PUBREL, nth),
        Cut::BrokerPubRec => proxy.reset_after_broker_sends(packet::PUBREC, nth),
        Cut::ClientPubRel => proxy.reset_after_client_sends(packet::PUBREL, nth),
    }
}

/// Injects `cuts` one after the other, each `every` packets of its kind after the client
/// came back from the previous one.
fn cut_in_turn(proxy: &Proxy, cuts: &[Cut], every: usize, budget: &Budget, client: &MqtkChild) {
    let before = proxy.resets();
    for (i, &cut) in cuts.iter().enumerate() {
        arm(proxy, cut, every);
        let limit = budget.at_most(secs(12));
        let deadline = Instant::now() + limit;
        while proxy.resets() < before + i + 1 {
            assert!(
                Instant::now() < deadline,
                "cut {} of {} never came: the client did not get {every} packets further within \
                 {limit:?} (connections {}, CONNACKs {}); its stderr:\n{}",
                i + 1,
                cuts.len(),
                proxy.accepted(),
                proxy.broker_sent(packet::CONNACK),
                stderr_tail(client)
            );
            thread::sleep(ms(5));
        }
    }
}

#[test]
fn sub_qos2_session_prints_once_through_resets_between_pubrec_and_pubrel() {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("d1");
    let id = unique_id("d1sub");
    // Enough that the stream outlasts three cuts 400 packets apart however fast it runs.
    let n = 6000;
    let mut sub = MqtkChild::spawn(&strs(&with_conn(
        proxy.args(),
        &["sub", "-c", "-i", &id, "-q", "2", "-t", &topic],
    )));
    proxy.wait_broker_sent(packet::SUBACK, 1, secs(10));
    let (mut publisher, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &["pub", "-t", &topic, "-q", "2", "-l"],
    )));
    let writer = feed(stdin, 1, n);
    use Cut::*;
    cut_in_turn(
        &proxy,
        &[ClientPubRec, BrokerPubRel, ClientPubRec],
        400,
        &budget,
        &sub,
    );
    join(writer);
    assert_eq!(publisher.wait(budget.left()), 0, "{}", publisher.stderr());
    wait_all_printed(&mut sub, n, budget.at_most(secs(15)));
    // Anything printed twice would come with the redeliveries, right behind the rest.
    thread::sleep(ms(500));
    assert_exactly_once(&lines_of(&sub), n, "sub -c -q 2 through 3 cuts");
}

fn qos2_release_with_fake_broker(version: &str) {
    let mut fb = FakeBroker::start();
    let port = fb.port().to_string();
    let topic = "d1/fake";
    let script = thread::spawn(move || qos2_release_after_reconnect_script(&mut fb, topic));
    let id = unique_id("d1fake");
    let sub = MqtkChild::spawn(&[
        "sub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        version,
        "-c",
        "-i",
        &id,
        "-q",
        "2",
        "-t",
        topic,
    ]);
    join(script);
    assert_eq!(lines_of(&sub), ["one", "two"], "stderr:\n{}", sub.stderr());
}

#[test]
fn sub_answers_a_pubrel_resent_after_reconnect_v311() {
    qos2_release_with_fake_broker("311");
}

#[test]
fn sub_answers_a_pubrel_resent_after_reconnect_v5() {
    qos2_release_with_fake_broker("5");
}

// ---------------------------------------------------------------------------------------------
// a persistent QoS 1 session coming back to a large backlog

#[test]
fn sub_resumes_a_backlog_of_20000_and_acknowledges_all() {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("d2");
    let id = unique_id("logger");
    let n = 20_000;
    let sub_args = |extra: &[&str]| {
        let mut a = with_conn(
            broker.args(),
            &["sub", "-c", "-i", &id, "-q", "1", "-t", &topic],
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // Create the session, then publish while it is away.
    cmd()
        .args(sub_args(&["-E"]))
        .timeout(budget.left())
        .assert()
        .success();
    cmd()
        .args(with_conn(
            broker.args(),
            &["pub", "-t", &topic, "-q", "1", "-l"],
        ))
        .write_stdin(numbered(n))
        .timeout(budget.left())
        .assert()
        .success();
    let mut sub = MqtkChild::spawn(&strs(&sub_args(&["-C", &n.to_string()])));
    let code = sub.wait(budget.left());
    assert_eq!(code, 0, "stderr:\n{}", sub.stderr());
    assert_exactly_once(&lines_of(&sub), n, "the backlog");
    // Everything printed was acknowledged: the session holds nothing more.
    let again = MqtkChild::spawn(&strs(&sub_args(&["-W", "2"])));
    let mut again = again;
    assert_eq!(again.wait(budget.left()), 27, "{}", again.stderr());
    assert_eq!(again.stdout(), "", "printed again by the next run");
}

// ---------------------------------------------------------------------------------------------
// QoS 2 publishing through cuts in the QoS 2 handshake

fn pub_qos2_through_cuts(version: &str, persistent: bool, cuts: &[Cut]) {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("qos2cut");
    let n = 20_000;
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "2"]);
    let id = unique_id("qos2pub");
    let mut args = vec!["pub", "-V", version, "-t", &topic, "-q", "2", "-l"];
    if persistent {
        args.extend(["-c", "-i", &id]);
    }
    let (mut publisher, stdin) =
        MqtkChild::spawn_with_stdin(&strs(&with_conn(proxy.args(), &args)));
    let writer = feed(stdin, 1, n);
    cut_in_turn(&proxy, cuts, 1500, &budget, &publisher);
    join(writer);
    let code = publisher.wait(budget.at_most(secs(20)));
    assert_eq!(code, 0, "stderr:\n{}", publisher.stderr());
    let got = watcher.drain(budget.at_most(secs(2)));
    assert_exactly_once(
        &got,
        n,
        &format!(
            "pub -V {version} -q 2 -l (persistent {persistent}) through {} cuts",
            cuts.len()
        ),
    );
}

const QOS2_CUTS: [Cut; 6] = [
    Cut::BrokerPubRec,
    Cut::ClientPubRel,
    Cut::BrokerPubRec,
    Cut::ClientPubRel,
    Cut::BrokerPubRec,
    Cut::ClientPubRel,
];

#[test]
fn pub_qos2_persistent_session_through_cuts_exits_0_exactly_once_v311() {
    pub_qos2_through_cuts("311", true, &QOS2_CUTS);
}

#[test]
fn pub_qos2_persistent_session_through_cuts_exits_0_exactly_once_v5() {
    pub_qos2_through_cuts("5", true, &QOS2_CUTS);
}

#[test]
fn pub_qos2_clean_session_through_8_cuts_is_exactly_once() {
    pub_qos2_through_cuts("311", false, &[Cut::ClientPubRel; 8]);
}

// ---------------------------------------------------------------------------------------------
// a message the broker never accepts; a broker that stays away

/// The error line of a run that gave up: non-zero exit (1 runtime, or 5 rejected), one
/// `mqtk pub: error:` line.
fn assert_gave_up(child: &mut MqtkChild, limit: Duration) -> String {
    let t0 = Instant::now();
    let status = child.wait_status(limit);
    let err = child.stderr();
    assert!(
        matches!(status.code(), Some(1 | 5)),
        "exit {status} after {:?}; stderr:\n{err}",
        t0.elapsed()
    );
    assert!(
        err.lines().any(|l| l.starts_with("mqtk pub: error: ")),
        "no error line; stderr:\n{err}"
    );
    err
}

fn payload_file(dir: &tempfile::TempDir, size: usize) -> String {
    let path = dir.path().join("payload");
    std::fs::write(&path, vec![b'a'; size]).unwrap();
    path.display().to_string()
}

fn over_max_packet_size(version: &str) -> String {
    let broker = Broker::start(BrokerConfig::plain().global_line("max_packet_size 2000"));
    let dir = tempfile::tempdir().unwrap();
    let file = payload_file(&dir, 5000);
    let topic = unique_topic("d5");
    let mut p = MqtkChild::spawn(&strs(&with_conn(
        broker.args(),
        &["pub", "-V", version, "-t", &topic, "-q", "1", "-f", &file],
    )));
    assert_gave_up(&mut p, secs(20))
}

#[test]
fn payload_over_the_brokers_max_packet_size_ends_with_an_error_v311() {
    over_max_packet_size("311");
}

#[test]
fn payload_over_the_brokers_max_packet_size_ends_with_an_error_naming_it_v5() {
    let err = over_max_packet_size("5");
    // mosquitto announces its limit in the v5 CONNACK: the error can say it.
    assert!(err.contains("2000"), "stderr:\n{err}");
}

#[test]
fn a_publish_the_broker_always_closes_on_ends_the_run() {
    let mut fb = FakeBroker::start();
    let port = fb.port().to_string();
    // Accept every connection, and close it as soon as the PUBLISH comes.
    let script = thread::spawn(move || {
        let mut closed = 0;
        while let Some(mut c) = fb.try_accept(secs(4)) {
            c.connack(false);
            loop {
                match c.try_recv(secs(4)) {
                    Ok(Pkt::Publish(_)) => {
                        closed += 1;
                        c.close();
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        closed
    });
    let mut p = MqtkChild::spawn(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        "311",
        "-t",
        "d5/closed",
        "-q",
        "1",
        "-m",
        "never accepted",
    ]);
    assert_gave_up(&mut p, secs(20));
    assert!(join(script) >= 1, "the PUBLISH never reached the broker");
}

#[test]
fn v5_publish_over_the_announced_maximum_packet_size_is_not_sent() {
    let mut fb = FakeBroker::start();
    let port = fb.port().to_string();
    let script = thread::spawn(move || {
        let mut sent_anyway = 0;
        while let Some(mut c) = fb.try_accept(secs(3)) {
            c.connack_v5(
                false,
                fake_broker::ConnAckProperties {
                    max_packet_size: Some(2000),
                    ..fake_broker::connack_props()
                },
            );
            loop {
                match c.try_recv(secs(3)) {
                    Ok(Pkt::Publish(_)) => {
                        sent_anyway += 1;
                        c.close();
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        sent_anyway
    });
    let dir = tempfile::tempdir().unwrap();
    let file = payload_file(&dir, 5000);
    let mut p = MqtkChild::spawn(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        "5",
        "-t",
        "d5/max",
        "-q",
        "1",
        "-f",
        &file,
    ]);
    let err = assert_gave_up(&mut p, secs(10));
    assert!(err.contains("2000"), "stderr:\n{err}");
    assert_eq!(
        join(script),
        0,
        "a PUBLISH over the broker's maximum was sent"
    );
}

#[test]
fn v5_property_over_65535_bytes_is_a_usage_error_before_connecting() {
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let big = "c".repeat(70_000);
    for prop in [
        vec!["content-type", big.as_str()],
        vec!["correlation-data", big.as_str()],
        vec!["user-property", "n", big.as_str()],
        vec!["response-topic", big.as_str()],
    ] {
        let mut args = with_conn(
            proxy.args(),
            &["pub", "-V", "5", "-t", "d5/prop", "-q", "1"],
        );
        args.extend(["-m", "hello", "-D", "publish"].map(String::from));
        args.extend(prop.iter().map(|s| s.to_string()));
        let out = cmd().args(&args).timeout(secs(10)).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", prop[0]);
        assert!(err.starts_with("mqtk pub: error: "), "{}: {err}", prop[0]);
        assert_eq!(proxy.accepted(), 0, "{} connected", prop[0]);
    }
}

#[test]
fn reconnect_timeout_ends_pub_when_the_broker_refuses_and_counts_what_was_lost() {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("gone");
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1"]);
    let (mut p, mut stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        proxy.args(),
        &[
            "pub",
            "-t",
            &topic,
            "-q",
            "1",
            "-l",
            "--reconnect-timeout",
            "3",
        ],
    )));
    stdin.write_all(b"1\n2\n3\n4\n5\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        take_from(&watcher, 5, budget.at_most(secs(10)), &p),
        ["1", "2", "3", "4", "5"]
    );
    proxy.wait_broker_sent(packet::PUBACK, 5, budget.at_most(secs(5)));
    // The broker goes away: every new connection is reset.
    proxy.refuse(true);
    proxy.reset_all();
    let t0 = Instant::now();
    stdin.write_all(b"6\n7\n8\n").unwrap();
    drop(stdin);
    let code = p.wait(budget.left());
    let took = t0.elapsed();
    let err = p.stderr();
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        took >= ms(2500) && took <= secs(8),
        "gave up after {took:?}"
    );
    assert!(
        err.contains("3 message"),
        "does not say 3 messages were lost:\n{err}"
    );
}

#[test]
fn reconnect_timeout_ends_pub_when_the_broker_is_killed() {
    let budget = Budget::new();
    let mut broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("killed");
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1"]);
    let (mut p, mut stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &[
            "pub",
            "-t",
            &topic,
            "-q",
            "1",
            "-l",
            "--reconnect-timeout",
            "2",
        ],
    )));
    stdin.write_all(b"1\n2\n3\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        take_from(&watcher, 3, budget.at_most(secs(10)), &p),
        ["1", "2", "3"]
    );
    broker.stop();
    let t0 = Instant::now();
    stdin.write_all(b"4\n5\n").unwrap();
    drop(stdin);
    let code = p.wait(budget.left());
    let took = t0.elapsed();
    let err = p.stderr();
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        took >= ms(1500) && took <= secs(7),
        "gave up after {took:?}"
    );
    assert!(
        err.contains("2 message"),
        "does not say 2 messages were lost:\n{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// one signal after the end of input, acks outstanding

#[test]
fn one_sigterm_after_end_of_input_still_delivers_everything() {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    // Only to see the PUBLISHes leave mqtk; nothing is injected here.
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("d6");
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1"]);
    let (mut p, mut stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        proxy.args(),
        &["pub", "-t", &topic, "-q", "1", "-l"],
    )));
    proxy.wait_broker_sent(packet::CONNACK, 1, budget.at_most(secs(10)));
    let frozen = Frozen::new(&broker);
    stdin.write_all(b"1\n2\n3\n4\n5\n").unwrap();
    drop(stdin);
    proxy.wait_client_sent(packet::PUBLISH, 5, budget.at_most(secs(10)));
    // Let it read the end of input (nothing on the wire shows that).
    thread::sleep(ms(300));
    p.signal("TERM");
    thread::sleep(secs(1));
    assert!(
        p.try_wait().is_none(),
        "one SIGTERM ended the run with acks outstanding; stderr:\n{}",
        p.stderr()
    );
    drop(frozen);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    assert_eq!(
        take_from(&watcher, 5, budget.at_most(secs(10)), &p),
        ["1", "2", "3", "4", "5"]
    );
}

// ---------------------------------------------------------------------------------------------
// a full stdout pipe must not stop keep-alive

#[test]
fn sub_blocked_on_a_full_pipe_keeps_its_connection_and_its_will_unsent() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("d17");
    let will = unique_topic("d17will");
    let will_watch = MosquittoSub::start(&broker, &["-t", &will, "-q", "1"]);
    let (mut sub, _unread) = MqtkChild::spawn_unread_stdout(&strs(&with_conn(
        broker.args(),
        &[
            "sub",
            "-k",
            "5",
            "-q",
            "1",
            "-t",
            &topic,
            "--will-topic",
            &will,
            "--will-payload",
            "fullpipe",
            "-d",
        ],
    )));
    sub.wait_stderr("received SUBACK", secs(10));
    // 2 MB for a 64 KiB pipe.
    let line = "a".repeat(1000);
    let input: String = (0..2000).map(|_| format!("{line}\n")).collect();
    cmd()
        .args(with_conn(
            broker.args(),
            &["pub", "-t", &topic, "-q", "1", "-l"],
        ))
        .write_stdin(input)
        .timeout(secs(20))
        .assert()
        .success();
    // mosquitto drops a client after 1.5 keep-alives of silence (7.5 s).
    will_watch.assert_nothing(secs(12));
    assert!(sub.try_wait().is_none(), "sub exited: {}", sub.stderr());
    // Positive control: the Will does come when the client really dies.
    sub.signal("KILL");
    assert_eq!(will_watch.take(1, secs(10)), ["fullpipe"]);
}

// ---------------------------------------------------------------------------------------------
// A frozen broker, a restarted broker

#[test]
fn pub_lines_qos1_survive_a_broker_frozen_past_the_keepalive() {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("frozen");
    let n = 10_000;
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1"]);
    let (mut p, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &["pub", "-k", "5", "-t", &topic, "-q", "1", "-l"],
    )));
    let writer = feed(stdin, 1, n);
    let mut got = Vec::new();
    take_until(&watcher, &mut got, n / 3, budget.at_most(secs(15)), &p);
    {
        let _frozen = Frozen::new(&broker);
        // Past two keep-alives: mqtk's own keep-alive check gives up on the connection.
        thread::sleep(secs(11));
    }
    join(writer);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    got.extend(watcher.drain(budget.at_most(secs(2))));
    assert_at_least_once(&got, n, "pub -l -q 1 with the broker frozen for 11 s");
}

#[test]
fn pub_lines_qos1_survive_a_persistent_broker_restart() {
    let budget = Budget::new();
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let topic = unique_topic("restartpub");
    let n = 20_000;
    // The watcher's session survives the restart too (mosquitto_sub reconnects by itself).
    let wid = unique_id("watch");
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1", "-c", "-i", &wid]);
    let (mut p, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &["pub", "-t", &topic, "-q", "1", "-l"],
    )));
    let writer = feed(stdin, 1, n);
    let mut got = Vec::new();
    take_until(&watcher, &mut got, n / 3, budget.at_most(secs(15)), &p);
    broker.restart();
    join(writer);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    take_until(&watcher, &mut got, n, budget.at_most(secs(10)), &p);
    got.extend(watcher.drain(budget.at_most(ms(500))));
    assert_at_least_once(&got, n, "pub -l -q 1 through a broker restart");
}

/// QoS 2 without -c through a restart of a persistent broker: the session the run keeps at
/// the broker is saved with it (it never started clean), so every line reaches the broker
/// exactly once.
///
/// The counted copy is a QoS 2 session that is offline while mqtk publishes, so the broker only
/// queues for it and the count holds nothing but what mqtk delivered. A subscriber that stays
/// connected across the restart is no witness: mosquitto 2.0.11 resends it, with DUP, QoS 2
/// messages it had already completed before the restart (the outgoing state it saves lags behind
/// the PUBCOMPs it received), while the messages it forwarded are each new exactly once.
fn pub_lines_qos2_exactly_once_through_a_persistent_broker_restart(version: &str) {
    let budget = Budget::new();
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let topic = unique_topic("restartq2");
    let n = 10_000;
    let wid = unique_id("watch");
    // Creates the counted session, then leaves it offline.
    drop(MosquittoSub::start(
        &broker,
        &["-t", &topic, "-q", "2", "-c", "-i", &wid],
    ));
    // Paces the restart only; what it sees is not counted.
    let pacer = MosquittoSub::start(&broker, &["-t", &topic, "-q", "0"]);
    let (mut p, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &["pub", "-V", version, "-t", &topic, "-q", "2", "-l"],
    )));
    let writer = feed(stdin, 1, n);
    let mut seen = Vec::new();
    take_until(&pacer, &mut seen, n / 3, budget.at_most(secs(15)), &p);
    drop(pacer);
    broker.restart();
    join(writer);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", "2", "-c", "-i", &wid]);
    let mut got = Vec::new();
    take_until(&watcher, &mut got, n, budget.at_most(secs(15)), &p);
    got.extend(watcher.drain(budget.at_most(ms(500))));
    assert_exactly_once(&got, n, "pub -l -q 2 through a broker restart");
}

#[test]
fn pub_lines_qos2_exactly_once_through_a_persistent_broker_restart_v5() {
    pub_lines_qos2_exactly_once_through_a_persistent_broker_restart("5");
}

#[test]
fn pub_lines_qos2_exactly_once_through_a_persistent_broker_restart_v311() {
    pub_lines_qos2_exactly_once_through_a_persistent_broker_restart("311");
}

#[test]
fn sub_c_qos1_loses_nothing_across_a_persistent_broker_restart() {
    let budget = Budget::new();
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let topic = unique_topic("restartsub");
    let id = unique_id("restartsub");
    let n = 20_000;
    let half = n / 2;
    let mut sub = MqtkChild::subscribed(&strs(&with_conn(
        broker.args(),
        &["sub", "-c", "-i", &id, "-q", "1", "-t", &topic],
    )));
    // Frozen while the first half is published, so the broker holds a backlog for it when it
    // restarts.
    sub.signal("STOP");
    let pub_args = with_conn(broker.args(), &["pub", "-t", &topic, "-q", "1", "-l"]);
    let publish = |from: usize, to: usize, budget: &Budget| {
        let input: String = (from..=to).map(|i| format!("{i}\n")).collect();
        cmd()
            .args(&pub_args)
            .write_stdin(input)
            .timeout(budget.left())
            .assert()
            .success();
    };
    publish(1, half, &budget);
    sub.signal("CONT");
    wait_printed(&mut sub, 500, budget.at_most(secs(10)));
    let before = lines_of(&sub).len();
    broker.restart();
    assert!(before < half, "the backlog was gone before the restart");
    publish(half + 1, n, &budget);
    let lines = wait_all_printed(&mut sub, n, budget.left());
    assert_at_least_once(&lines, n, "sub -c -q 1 across a restart");
}

// ---------------------------------------------------------------------------------------------
// Long streams through resets

fn pub_stream_through_three_resets(qos: &str) {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("stream");
    let n = 50_000;
    let watcher = MosquittoSub::start(&broker, &["-t", &topic, "-q", qos]);
    let (mut p, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        proxy.args(),
        &["pub", "-t", &topic, "-q", qos, "-l"],
    )));
    let writer = feed(stdin, 1, n);
    let mut got = Vec::new();
    for k in 1..=3 {
        take_until(&watcher, &mut got, k * n / 4, budget.at_most(secs(15)), &p);
        proxy.reset_all();
    }
    join(writer);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    got.extend(watcher.drain(budget.at_most(secs(2))));
    let what = format!("pub -l -q {qos}, 50 000 lines, 3 resets");
    if qos == "2" {
        assert_exactly_once(&got, n, &what);
    } else {
        assert_at_least_once(&got, n, &what);
    }
}

#[test]
fn pub_stream_of_50000_qos1_lines_through_three_resets_all_arrive() {
    pub_stream_through_three_resets("1");
}

#[test]
fn pub_stream_of_50000_qos2_lines_through_three_resets_arrive_exactly_once() {
    pub_stream_through_three_resets("2");
}

fn sub_stream_through_three_resets(qos: &str) {
    let budget = Budget::new();
    let broker = Broker::start(BrokerConfig::plain());
    let proxy = Proxy::start(broker.port);
    let topic = unique_topic("substream");
    let id = unique_id("substream");
    let n = 50_000;
    let mut sub = MqtkChild::spawn(&strs(&with_conn(
        proxy.args(),
        &["sub", "-c", "-i", &id, "-q", qos, "-t", &topic],
    )));
    proxy.wait_broker_sent(packet::SUBACK, 1, secs(10));
    let (mut p, stdin) = MqtkChild::spawn_with_stdin(&strs(&with_conn(
        broker.args(),
        &["pub", "-t", &topic, "-q", qos, "-l"],
    )));
    let writer = feed(stdin, 1, n);
    for k in 1..=3 {
        wait_printed(&mut sub, k * n / 4, budget.at_most(secs(15)));
        proxy.reset_all();
    }
    join(writer);
    assert_eq!(p.wait(budget.left()), 0, "stderr:\n{}", p.stderr());
    wait_all_printed(&mut sub, n, budget.left());
    thread::sleep(ms(500));
    let what = format!("sub -c -q {qos}, 50 000 messages, 3 resets");
    if qos == "2" {
        assert_exactly_once(&lines_of(&sub), n, &what);
    } else {
        assert_at_least_once(&lines_of(&sub), n, &what);
    }
}

#[test]
fn sub_stream_of_50000_qos1_messages_through_three_resets_all_printed() {
    sub_stream_through_three_resets("1");
}

#[test]
fn sub_stream_of_50000_qos2_messages_through_three_resets_printed_exactly_once() {
    sub_stream_through_three_resets("2");
}

// ---------------------------------------------------------------------------------------------
// MQTT 5 flow control announced by the broker

#[test]
fn v5_receive_maximum_bounds_the_messages_in_flight() {
    let mut fb = FakeBroker::start();
    let port = fb.port().to_string();
    let n = 10;
    let script = thread::spawn(move || {
        let mut c = fb.accept(secs(10));
        c.connack_v5(
            false,
            fake_broker::ConnAckProperties {
                receive_max: Some(3),
                ..fake_broker::connack_props()
            },
        );
        let mut payloads = Vec::new();
        while payloads.len() < n {
            // Take what the client sends until 3 are unacknowledged (or all came)...
            let mut unacked = Vec::new();
            while unacked.len() < 3 && payloads.len() < n {
                let p = c.expect_publish(secs(5));
                payloads.push(String::from_utf8(p.payload).unwrap());
                unacked.push(p.pkid);
            }
            // ...then nothing more may come until an ack frees a slot.
            match c.try_recv(ms(500)) {
                Err(RecvError::Timeout) => {}
                other => panic!("a 4th message in flight with receive maximum 3: {other:?}"),
            }
            for pkid in unacked {
                c.puback(pkid);
            }
        }
        c.expect_closed(secs(5));
        payloads
    });
    let input = numbered(n);
    let out = cmd()
        .args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "5",
            "-t",
            "v5/rm",
            "-q",
            "1",
        ])
        .arg("-l")
        .write_stdin(input)
        .timeout(secs(25))
        .output()
        .unwrap();
    let got = join(script);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_exactly_once(&got, n, "PUBLISHes under receive maximum 3");
}
