//! `Link`: one open connection's bytes — the stream, what has been read but not decoded (a
//! partial frame), and what is waiting to be written. Both the command driver (`driver.rs`) and
//! `sim`'s devices move their session's packets through it.
//!
//! Memory: an idle link holds no buffer. Reads land in a buffer allocated for the read and given
//! back once every whole packet in it is decoded; only a partial frame keeps it. Writes go out
//! as they are queued (plain TCP: `try_write` at once, no wake-up needed), so the output buffer
//! is empty unless the socket is full. That is what keeps an idle device at ~1–2 KiB.

use std::io;
use std::pin::pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use super::codec::{Codec, DecodeError, In};
use super::transport::{Io, Stream};

/// How much one read takes at most.
const READ_CHUNK: usize = 16 * 1024;

enum Kind {
    /// Plain TCP: readiness-based, no split, no lock.
    Tcp(TcpStream),
    /// TLS, WebSockets, unix sockets: the stream split in two so reading and writing can wait
    /// together.
    Split(ReadHalf<Box<dyn Io>>, WriteHalf<Box<dyn Io>>),
}

/// What `Link::io` made progress on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes arrived: decode them with `next_packet`.
    Read,
    /// Some of `out` was written.
    Wrote,
    /// Everything queued so far has left (written and, for TLS and WebSockets, flushed).
    Flushed,
    /// The broker closed the connection.
    Closed,
}

pub struct Link {
    kind: Kind,
    /// Keep no buffer between reads (many idle connections: `sim`), rather than a reused one
    /// (one busy connection: the commands).
    frugal: bool,
    partial: BytesMut,
    /// Packets to write; encode into it, then call `io` (or `push` for TCP).
    pub out: BytesMut,
    /// Written but not flushed (TLS and WebSockets buffer inside the stream).
    unflushed: bool,
    /// The last read took everything the socket had (plain TCP).
    drained: bool,
}

impl Link {
    /// `rest`: bytes read with the CONNACK that belong to later packets.
    pub fn new(stream: Stream, rest: BytesMut) -> Link {
        let kind = match stream {
            Stream::Tcp(s) => Kind::Tcp(s),
            Stream::Other(s) => {
                let (r, w) = tokio::io::split(s);
                Kind::Split(r, w)
            }
        };
        Link {
            kind,
            frugal: false,
            partial: rest,
            out: BytesMut::new(),
            unflushed: false,
            drained: false,
        }
    }

    /// A link for one of many mostly idle connections: plain TCP reads go through a buffer on
    /// the stack, and only a partial frame is kept on the heap, sized to what arrived.
    pub fn frugal(stream: Stream, rest: BytesMut) -> Link {
        let mut link = Link::new(stream, rest);
        link.frugal = true;
        link
    }

    /// True when the last read emptied the socket (plain TCP): what comes next is not there
    /// yet.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// True when nothing is waiting to be written or flushed.
    pub fn is_flushed(&self) -> bool {
        self.out.is_empty() && !self.unflushed
    }

    /// Writes what plain TCP takes right now, without waiting. Returns true when `out` became
    /// empty by it (everything queued has left). Other streams write in `io`.
    pub fn push(&mut self) -> io::Result<bool> {
        let Kind::Tcp(tcp) = &self.kind else {
            return Ok(false);
        };
        if self.out.is_empty() {
            return Ok(false);
        }
        while !self.out.is_empty() {
            match tcp.try_write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.out = BytesMut::new();
        Ok(true)
    }

    /// Waits until bytes arrive (with `reading`), or `out` can be written or flushed. Cancel-safe:
    /// progress is only made in the step that returns it.
    pub async fn io(&mut self, reading: bool) -> io::Result<Progress> {
        let want_write = !self.out.is_empty() || self.unflushed;
        if !reading && !want_write {
            return std::future::pending().await;
        }
        match &mut self.kind {
            Kind::Tcp(tcp) => loop {
                let writable = tokio::select! {
                    biased;
                    r = tcp.writable(), if want_write => { r?; true }
                    r = tcp.readable(), if reading => { r?; false }
                };
                let step = if writable {
                    write_step(tcp, &mut self.out)
                } else {
                    read_step(tcp, &mut self.partial, self.frugal, &mut self.drained)
                };
                if let Some(r) = step {
                    return r;
                }
            },
            Kind::Split(rd, wr) => {
                if self.partial.capacity() - self.partial.len() < 1024 {
                    self.partial.reserve(READ_CHUNK);
                }
                let out = &self.out;
                tokio::select! {
                    biased;
                    // One branch for writing and flushing: a `write` that completed is never
                    // dropped unaccounted.
                    r = write_or_flush(wr, out), if want_write => match r? {
                        0 => {
                            self.unflushed = false;
                            Ok(Progress::Flushed)
                        }
                        n => {
                            self.out.advance(n);
                            self.unflushed = true;
                            Ok(Progress::Wrote)
                        }
                    },
                    r = rd.read_buf(&mut self.partial), if reading => match r? {
                        0 => Ok(Progress::Closed),
                        _ => Ok(Progress::Read),
                    },
                }
            }
        }
    }

    /// Whether this is a plain TCP link, which `poll_tcp` can drive.
    pub fn is_tcp(&self) -> bool {
        matches!(self.kind, Kind::Tcp(_))
    }

    /// `io` for plain TCP as a poll function: the socket's readiness is polled in place, so a
    /// task waiting on it stores no future for it (`sim` keeps thousands of such tasks; `io`'s
    /// future is hundreds of bytes). Same steps and results as `io`; pending for other streams.
    pub fn poll_tcp(&mut self, cx: &mut Context<'_>, reading: bool) -> Poll<io::Result<Progress>> {
        let Kind::Tcp(tcp) = &self.kind else {
            return Poll::Pending;
        };
        let want_write = !self.out.is_empty();
        loop {
            if want_write && tcp.poll_write_ready(cx)?.is_ready() {
                match write_step(tcp, &mut self.out) {
                    Some(r) => return Poll::Ready(r),
                    None => continue,
                }
            }
            if !(reading && tcp.poll_read_ready(cx)?.is_ready()) {
                return Poll::Pending;
            }
            if let Some(r) = read_step(tcp, &mut self.partial, self.frugal, &mut self.drained) {
                return Poll::Ready(r);
            }
        }
    }

    /// The next whole packet read, if any. The read buffer is given back once it is empty.
    pub fn next_packet(&mut self, codec: &Codec) -> Result<Option<In>, DecodeError> {
        let p = codec.decode(&mut self.partial)?;
        if p.is_none()
            && self.partial.is_empty()
            && (self.frugal || self.partial.capacity() > 4 * READ_CHUNK)
        {
            self.partial = BytesMut::new();
        }
        Ok(p)
    }

    /// After DISCONNECT: writes what is queued, ends our side, then reads until the broker
    /// closes (at most `linger`). Closing a socket that still holds unread data makes the kernel
    /// send a reset, which throws away what we wrote last (acks, the DISCONNECT itself), so the
    /// broker would redeliver acknowledged messages and publish our Will. Tested by
    /// tests/subscribe.rs `count_leaves_unprinted_messages_*`.
    pub async fn close(mut self, linger: std::time::Duration) {
        let Kind::Tcp(_) = &self.kind else {
            return Box::pin(self.close_split(linger)).await;
        };
        // Plain TCP is polled in place, with one timer for both waits: each of `sim`'s devices
        // holds this future while it stops (test `link::tests::closing_holds_a_small_future`).
        // The deadline is read from the clock before each poll: while the socket keeps
        // returning data the timer is not polled, and once the task's budget is spent a polled
        // timer does not fire either (test
        // `closing_ends_after_linger_while_the_peer_keeps_sending`).
        let mut timer = pin!(tokio::time::sleep(linger));
        std::future::poll_fn(|cx| {
            loop {
                if self.is_flushed() || tokio::time::Instant::now() >= timer.deadline() {
                    return Poll::Ready(());
                }
                match self.poll_tcp(cx, false) {
                    Poll::Ready(Ok(_)) => {}
                    // The socket failed: shutting it down and draining it end at once.
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => return timer.as_mut().poll(cx),
                }
            }
        })
        .await;
        let Kind::Tcp(tcp) = &mut self.kind else {
            unreachable!("checked above");
        };
        let _ = tcp.shutdown().await;
        timer.as_mut().reset(tokio::time::Instant::now() + linger);
        std::future::poll_fn(|cx| {
            loop {
                if tokio::time::Instant::now() >= timer.deadline() {
                    return Poll::Ready(());
                }
                // Small, and on the stack only while polled: what comes after DISCONNECT is
                // usually nothing.
                let mut sink = [0u8; 64];
                let mut buf = tokio::io::ReadBuf::new(&mut sink);
                match std::pin::Pin::new(&mut *tcp).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                    Poll::Ready(_) => return Poll::Ready(()),
                    Poll::Pending => return timer.as_mut().poll(cx),
                }
            }
        })
        .await;
    }

    /// `close` for TLS, WebSockets and unix sockets.
    async fn close_split(&mut self, linger: std::time::Duration) {
        let _ = tokio::time::timeout(linger, async {
            while !self.is_flushed() {
                if self.io(false).await.is_err() {
                    return;
                }
            }
        })
        .await;
        let mut sink = [0u8; 64];
        if let Kind::Split(rd, wr) = &mut self.kind {
            let _ = wr.shutdown().await;
            let _ = tokio::time::timeout(linger, drain(rd, &mut sink)).await;
        }
    }
}

/// Reads and drops what comes until the end of the stream (or an error).
async fn drain<R: AsyncRead + Unpin + ?Sized>(r: &mut R, sink: &mut [u8]) {
    while matches!(r.read(sink).await, Ok(n) if n > 0) {}
}

/// One write of what `out` holds, once the socket is writable. `None`: it was not writable
/// after all (wait again).
fn write_step(tcp: &TcpStream, out: &mut BytesMut) -> Option<io::Result<Progress>> {
    match tcp.try_write(out) {
        Ok(0) => Some(Err(io::ErrorKind::WriteZero.into())),
        Ok(n) => {
            out.advance(n);
            if out.is_empty() {
                *out = BytesMut::new();
                Some(Ok(Progress::Flushed))
            } else {
                Some(Ok(Progress::Wrote))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => Some(Err(e)),
    }
}

/// One read into `partial`, once the socket is readable: through a stack buffer for a frugal
/// link, else straight into `partial`. `None`: nothing was there after all (wait again).
fn read_step(
    tcp: &TcpStream,
    partial: &mut BytesMut,
    frugal: bool,
    drained: &mut bool,
) -> Option<io::Result<Progress>> {
    let read = if frugal {
        read_via_stack(tcp, partial)
    } else {
        read_draining(tcp, partial, drained)
    };
    match read {
        Ok(0) => Some(Ok(Progress::Closed)),
        Ok(_) => Some(Ok(Progress::Read)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => Some(Err(e)),
    }
}

/// Reads what is there into a buffer on the stack and appends it to `partial`, which so grows
/// only by what arrived (an idle connection's PINGRESP costs 2 bytes, not a read buffer).
fn read_via_stack(tcp: &TcpStream, partial: &mut BytesMut) -> io::Result<usize> {
    let mut buf = [0u8; 4096];
    let n = tcp.try_read(&mut buf)?;
    partial.extend_from_slice(&buf[..n]);
    Ok(n)
}

/// Reads into `partial`. A read that did not fill the room offered has emptied the socket, so
/// its readiness is cleared with it (as tokio's own `poll_read` does): the next wait goes
/// straight to the poller instead of first making a read that finds nothing.
fn read_draining(tcp: &TcpStream, partial: &mut BytesMut, drained: &mut bool) -> io::Result<usize> {
    partial.reserve(READ_CHUNK);
    let room = partial.capacity() - partial.len();
    let mut got = 0;
    let r = tcp.try_io(tokio::io::Interest::READABLE, || {
        got = tcp.try_read_buf(partial)?;
        *drained = got < room;
        if got > 0 && got < room {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(got)
        }
    });
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        r => r,
    }
}

/// Writes what it can of `buf` (the count), or with `buf` empty flushes (0).
async fn write_or_flush<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut W,
    buf: &[u8],
) -> io::Result<usize> {
    if buf.is_empty() {
        wr.flush().await?;
        Ok(0)
    } else {
        match wr.write(buf).await? {
            0 => Err(io::ErrorKind::WriteZero.into()),
            n => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// `close` writes what is queued, ends our side, and returns once the peer closes; the
    /// future it takes is small, as thousands of `sim` devices hold one at once when they stop
    /// (with a timeout and an `io` future per wait it was 816 bytes in a release build).
    #[tokio::test]
    async fn closing_holds_a_small_future() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut link = Link::frugal(Stream::Tcp(tcp), BytesMut::new());
        link.out.extend_from_slice(b"DISCONNECT");
        let started = Instant::now();
        let close = link.close(Duration::from_secs(5));
        let size = std::mem::size_of_val(&close);
        assert!(size <= 448, "closing holds {size} bytes");
        close.await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(peer.await.unwrap(), b"DISCONNECT");
    }

    /// A peer that keeps sending and never closes: `close` still returns once `linger` has
    /// passed, though every read finds more data.
    #[tokio::test]
    async fn closing_ends_after_linger_while_the_peer_keeps_sending() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let chunk = [7u8; 4096];
            // Writes until the test is over (the client is gone or says stop).
            while stop_rx.try_recv().is_err() {
                if std::io::Write::write_all(&mut s, &chunk).is_err() {
                    break;
                }
            }
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let link = Link::frugal(Stream::Tcp(tcp), BytesMut::new());
        // The peer is sending by now.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(5),
            link.close(Duration::from_millis(100)),
        )
        .await
        .expect("close ended within 5 s");
        let took = started.elapsed();
        let _ = stop_tx.send(());
        peer.join().unwrap();
        assert!(took < Duration::from_secs(1), "close took {took:?}");
    }
}
