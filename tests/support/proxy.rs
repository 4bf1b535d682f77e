//! A TCP proxy between the client under test and a broker, to inject network faults on cue.
//!
//! `Proxy::start(broker.port)` listens on its own 127.0.0.1 port and forwards every connection
//! to the broker, on plain std threads. The test controls it while traffic flows:
//!
//! - `reset_all()` aborts every current connection: both peers see a TCP reset (SO_LINGER 0),
//!   as after a crash or a NAT timeout, not an orderly close;
//! - `blackhole(true)` stops forwarding in both directions without closing anything (bytes wait
//!   in the kernel's buffers, as on a link that went quiet); new connections are accepted and
//!   held, not forwarded, until `blackhole(false)`;
//! - `delay(d)` holds every chunk read for `d` before forwarding it;
//! - `refuse(true)` resets every new connection at once;
//! - `reset_after_broker_sends(packet::PUBREL, n)` (and `reset_after_client_sends`) reset every
//!   connection right after the n-th packet of that type went through, before anything else
//!   does: the proxy follows the MQTT framing of both byte streams (fixed header and remaining
//!   length), which is also how it counts the packets of each type (`broker_sent`,
//!   `client_sent`) that tests wait for.
//!
//! Dropping the proxy closes its listener and connections and stops its threads.
#![allow(
    dead_code,
    reason = "the packet-type table and the waits are the full vocabulary of the proxy, used or not yet"
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// MQTT control packet types (the high nibble of the first byte).
pub mod packet {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// How often blocked threads look at the proxy's switches.
const TICK: Duration = Duration::from_millis(10);

/// After a triggered reset, how long the packet that triggered it has to reach its peer's
/// application before the reset does (a reset right behind the data can overtake it there).
/// Nothing else is forwarded meanwhile.
const TRIGGER_GRACE: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    FromClient = 0,
    FromBroker = 1,
}

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: u16,
    stop: AtomicBool,
    blackhole: AtomicBool,
    refuse: AtomicBool,
    delay_us: AtomicU64,
    accepted: AtomicUsize,
    resets: AtomicUsize,
    conns: Mutex<Vec<Arc<Conn>>>,
    /// Packets forwarded, by direction and type.
    counts: [[AtomicUsize; 16]; 2],
    trigger: Mutex<Option<Trigger>>,
}

struct Trigger {
    dir: Dir,
    kind: u8,
    left: usize,
}

/// One proxied connection: the client's socket and, once forwarded, the broker's.
struct Conn {
    dead: AtomicBool,
    client: TcpStream,
    upstream: Mutex<Option<TcpStream>>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:`port()` to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listener");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            blackhole: AtomicBool::new(false),
            refuse: AtomicBool::new(false),
            delay_us: AtomicU64::new(0),
            accepted: AtomicUsize::new(0),
            resets: AtomicUsize::new(0),
            conns: Mutex::new(Vec::new()),
            counts: Default::default(),
            trigger: Mutex::new(None),
        });
        let s = shared.clone();
        let acceptor = thread::spawn(move || accept_loop(listener, s));
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `-h 127.0.0.1 -p PORT`, the arguments that point a client at the proxy.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ]
    }

    /// Aborts every current connection (both peers see a reset) and returns once their
    /// sockets are closed.
    pub fn reset_all(&self) {
        let gone = self.shared.abort_all();
        self.shared.resets.fetch_add(1, Ordering::SeqCst);
        wait_closed(&gone);
    }

    /// On: nothing is forwarded either way and new connections are held, unforwarded.
    /// Off: everything held flows again.
    pub fn blackhole(&self, on: bool) {
        self.shared.blackhole.store(on, Ordering::SeqCst);
    }

    /// Holds every chunk read (either way) for `d` before forwarding it. Zero turns it off.
    pub fn delay(&self, d: Duration) {
        self.shared
            .delay_us
            .store(d.as_micros() as u64, Ordering::SeqCst);
    }

    /// On: every new connection is reset as soon as it is accepted (a broker that is down).
    pub fn refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    /// Resets every connection right after the `nth` packet of `kind` (a [`packet`] constant)
    /// from the broker, counted from now on all connections, has been forwarded to the client.
    /// Whatever followed it is not forwarded. Fires once.
    pub fn reset_after_broker_sends(&self, kind: u8, nth: usize) {
        self.arm(Dir::FromBroker, kind, nth);
    }

    /// Same as [`Proxy::reset_after_broker_sends`], for packets from the client.
    pub fn reset_after_client_sends(&self, kind: u8, nth: usize) {
        self.arm(Dir::FromClient, kind, nth);
    }

    fn arm(&self, dir: Dir, kind: u8, nth: usize) {
        assert!(nth >= 1, "the first packet is nth = 1");
        *self.shared.trigger.lock().unwrap() = Some(Trigger {
            dir,
            kind,
            left: nth,
        });
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Resets so far: `reset_all` calls and triggers that fired.
    pub fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// Packets of `kind` forwarded from the broker to clients so far.
    pub fn broker_sent(&self, kind: u8) -> usize {
        self.shared.counts[Dir::FromBroker as usize][usize::from(kind & 15)].load(Ordering::SeqCst)
    }

    /// Packets of `kind` forwarded from clients to the broker so far.
    pub fn client_sent(&self, kind: u8) -> usize {
        self.shared.counts[Dir::FromClient as usize][usize::from(kind & 15)].load(Ordering::SeqCst)
    }

    /// Waits until `broker_sent(kind) >= n`, or panics after `limit`.
    pub fn wait_broker_sent(&self, kind: u8, n: usize, limit: Duration) {
        self.wait(
            limit,
            &format!("{n} packets of type {kind} from the broker"),
            || self.broker_sent(kind) >= n,
        );
    }

    /// Waits until `client_sent(kind) >= n`, or panics after `limit`.
    pub fn wait_client_sent(&self, kind: u8, n: usize, limit: Duration) {
        self.wait(
            limit,
            &format!("{n} packets of type {kind} from clients"),
            || self.client_sent(kind) >= n,
        );
    }

    /// Waits until `resets() >= n` (e.g. for an armed trigger), or panics after `limit`.
    pub fn wait_resets(&self, n: usize, limit: Duration) {
        self.wait(limit, &format!("{n} resets"), || self.resets() >= n);
    }

    fn wait(&self, limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "proxy: no {what} within {limit:?} (accepted {}, resets {}, CONNACKs {})",
                self.accepted(),
                self.resets(),
                self.broker_sent(packet::CONNACK)
            );
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let gone = self.shared.abort_all();
        wait_closed(&gone);
    }
}

impl Shared {
    fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::SeqCst))
    }

    fn halted(&self, conn: &Conn) -> bool {
        conn.dead.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst)
    }

    /// Marks every connection dead and sets SO_LINGER 0 on its sockets, so that closing them
    /// (which their threads do within a tick) sends a reset. Returns them, to wait for.
    fn abort_all(&self) -> Vec<Weak<Conn>> {
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in &conns {
            c.abort();
        }
        conns.iter().map(Arc::downgrade).collect()
    }

    /// Counts the packets in `data` and checks the trigger. Returns the end of the packet
    /// that fired it, if one did.
    fn scan(&self, dir: Dir, framer: &mut Framer, data: &[u8]) -> Option<usize> {
        framer.feed(data, |kind| {
            self.counts[dir as usize][usize::from(kind)].fetch_add(1, Ordering::SeqCst);
            let mut t = self.trigger.lock().unwrap();
            match t.as_mut() {
                Some(tr) if tr.dir == dir && tr.kind == kind => {
                    tr.left -= 1;
                    if tr.left == 0 {
                        *t = None;
                        return true;
                    }
                    false
                }
                _ => false,
            }
        })
    }
}

impl Conn {
    fn abort(&self) {
        self.dead.store(true, Ordering::SeqCst);
        linger_zero(&self.client);
        if let Some(u) = self.upstream.lock().unwrap().as_ref() {
            linger_zero(u);
        }
    }
}

fn linger_zero(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Waits (up to 5 s) until every connection's threads have let go of it, so its sockets are
/// closed and the resets sent.
fn wait_closed(conns: &[Weak<Conn>]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while conns.iter().any(|c| c.strong_count() > 0) {
        assert!(
            Instant::now() < deadline,
            "proxy: connection threads did not stop"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                if shared.refuse.load(Ordering::SeqCst) {
                    linger_zero(&client);
                    continue;
                }
                let s = shared.clone();
                thread::spawn(move || serve(s, client));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(2)),
            Err(_) => thread::sleep(TICK),
        }
    }
}

fn serve(shared: Arc<Shared>, client: TcpStream) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    let conn = Arc::new(Conn {
        dead: AtomicBool::new(false),
        client: client.try_clone().expect("clone client socket"),
        upstream: Mutex::new(None),
    });
    shared.conns.lock().unwrap().push(conn.clone());
    // Blackholed: accepted, held, not forwarded.
    while shared.blackhole.load(Ordering::SeqCst) {
        if shared.halted(&conn) {
            return;
        }
        thread::sleep(TICK);
    }
    let up = match TcpStream::connect(("127.0.0.1", shared.upstream)) {
        Ok(u) => u,
        Err(_) => {
            // The broker is down: the client sees a reset, as from a dead host.
            conn.abort();
            forget(&shared, &conn);
            return;
        }
    };
    let _ = up.set_nodelay(true);
    {
        // Under the lock `Conn::abort` takes, so a reset cannot slip between check and store.
        let mut slot = conn.upstream.lock().unwrap();
        if shared.halted(&conn) {
            linger_zero(&up);
            return;
        }
        *slot = Some(up.try_clone().expect("clone upstream socket"));
    }
    let back = {
        let (s, c) = (shared.clone(), conn.clone());
        let (from, to) = (up.try_clone().unwrap(), client.try_clone().unwrap());
        thread::spawn(move || pump(&s, &c, Dir::FromBroker, from, to))
    };
    pump(&shared, &conn, Dir::FromClient, client, up);
    let _ = back.join();
    forget(&shared, &conn);
}

fn forget(shared: &Shared, conn: &Arc<Conn>) {
    shared
        .conns
        .lock()
        .unwrap()
        .retain(|c| !Arc::ptr_eq(c, conn));
}

/// Forwards one direction of a connection until either side closes or the proxy aborts it.
fn pump(shared: &Shared, conn: &Conn, dir: Dir, mut from: TcpStream, mut to: TcpStream) {
    let _ = from.set_read_timeout(Some(TICK));
    let _ = to.set_write_timeout(Some(TICK));
    let mut buf = vec![0u8; 64 * 1024];
    let mut framer = Framer::default();
    loop {
        if shared.halted(conn) {
            return;
        }
        if shared.blackhole.load(Ordering::SeqCst) {
            thread::sleep(TICK);
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                // An orderly close: pass it on, the other direction carries on until its own.
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if is_tick(&e) => continue,
            Err(_) => {
                // A reset (or worse) from this side: the other side gets a reset too.
                conn.abort();
                return;
            }
        };
        // Read just as the blackhole began: held with the rest.
        while shared.blackhole.load(Ordering::SeqCst) && !shared.halted(conn) {
            thread::sleep(TICK);
        }
        let delay = shared.delay();
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        if let Some(end) = shared.scan(dir, &mut framer, &buf[..n]) {
            // Freeze everything first, so no answer to this packet gets through, then let the
            // packet itself through and reset.
            shared.abort_all();
            write_all(&mut to, &buf[..end], || shared.stop.load(Ordering::SeqCst));
            thread::sleep(TRIGGER_GRACE);
            shared.resets.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if !write_all(&mut to, &buf[..n], || shared.halted(conn)) {
            conn.abort();
            return;
        }
    }
}

fn is_tick(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Writes everything unless `halted()` turns true or the socket fails; false if not all went.
fn write_all(to: &mut TcpStream, mut data: &[u8], halted: impl Fn() -> bool) -> bool {
    while !data.is_empty() {
        if halted() {
            return false;
        }
        match to.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e) if is_tick(&e) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Follows MQTT framing across reads: a type byte, a variable-length remaining length, a body.
#[derive(Default)]
struct Framer {
    kind: u8,
    state: Frame,
}

#[derive(Default, Clone, Copy)]
enum Frame {
    #[default]
    Header,
    Length {
        value: usize,
        shift: u32,
    },
    Body(usize),
}

impl Framer {
    /// Calls `done(kind)` as each packet ends; when it returns true, stops and returns the
    /// offset just past that packet.
    fn feed(&mut self, data: &[u8], mut done: impl FnMut(u8) -> bool) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                Frame::Header => {
                    self.kind = data[i] >> 4;
                    self.state = Frame::Length { value: 0, shift: 0 };
                    i += 1;
                }
                Frame::Length { value, shift } => {
                    let b = data[i];
                    i += 1;
                    let value = value | (usize::from(b & 0x7f) << shift);
                    if b & 0x80 != 0 && shift < 21 {
                        self.state = Frame::Length {
                            value,
                            shift: shift + 7,
                        };
                    } else if value == 0 {
                        self.state = Frame::Header;
                        if done(self.kind) {
                            return Some(i);
                        }
                    } else {
                        self.state = Frame::Body(value);
                    }
                }
                Frame::Body(left) => {
                    let take = left.min(data.len() - i);
                    i += take;
                    if take == left {
                        self.state = Frame::Header;
                        if done(self.kind) {
                            return Some(i);
                        }
                    } else {
                        self.state = Frame::Body(left - take);
                    }
                }
            }
        }
        None
    }
}
