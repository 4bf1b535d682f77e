//! Delivery guarantees under faults, black-box: the mqtk binary against mosquitto behind
//! `support::proxy::Proxy` (connection resets at a chosen packet, blackholes, refusals), against
//! a frozen (SIGSTOP) or restarted mosquitto, or against `support::fake_broker::FakeBroker` for
//! what a real broker will not do on cue. Each test injects its fault at the moment that
//! matters and waits for events (packet counts, printed lines), not for time, wherever there
//! is an event to wait for.
//!
//! The first tests check the proxy and the fake broker themselves with the mosquitto clients.

use std::collections::{BTreeMap, HashSet};
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
fn take_until(watcher: &MosquittoSub, got: &mut Vec<String>, n: usize, limit: Duration) {
    if got.len() < n {
        got.extend(watcher.take(n - got.len(), limit));
    }
}

/// The lines an mqtk child printed so far.
fn lines_of(child: &MqtkChild) -> Vec<String> {
    child.stdout().lines().map(str::to_string).collect()
}

/// Waits until the child has printed every line of `1..=n` (each at least once).
fn wait_all_printed(child: &MqtkChild, n: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let lines = lines_of(child);
        let t = Tally::of(&lines, n);
        if t.missing.is_empty() {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "not every line printed within {limit:?}: {}\nstderr:\n{}",
            t.summary(n),
            child.stderr()
        );
        thread::sleep(ms(20));
    }
}

/// Waits until the child has printed at least `n` lines.
fn wait_printed(child: &MqtkChild, n: usize, limit: Duration) {
    child.wait_lines(n, limit);
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
        broker.signal("STOP");
        Frozen(broker)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.signal("CONT");
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
    assert_eq!(proxy.from_broker(packet::CONNACK), 2);
    assert_eq!(proxy.from_client(packet::SUBSCRIBE), 1);
    assert_eq!(proxy.from_client(packet::PUBLISH), 1);
    assert_eq!(proxy.from_broker(packet::PUBACK), 1);
    proxy.wait_from_broker(packet::PUBLISH, 1, secs(5));
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
    proxy.wait_from_broker(packet::CONNACK, 2, secs(10));
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
    assert_eq!(proxy.from_broker(packet::PUBREL), 2);
    assert_eq!(proxy.from_broker(packet::PUBCOMP), 0);
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
    // The positive control for `d1_*_fake_broker`: the script is a valid MQTT exchange.
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
        "311",
        "-c",
        "-i",
        &id,
        "-q",
        "2",
        "-t",
        "fake/q2",
    ]);
    assert_eq!(sub.take(2, secs(15)), ["one", "two"]);
    join(script);
    sub.assert_nothing(ms(300));
}
