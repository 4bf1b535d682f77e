//! Opening the byte stream an MQTT connection runs on: TCP, TLS (the rustls `ClientConfig`
//! from `tls.rs`), WebSockets over either (subprotocol `mqtt`), and unix sockets. Failures are
//! sorted into "could not connect" (exit 3) with words and hints here, where the cause is
//! still known.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use super::config::{ConnConfig, Endpoint};
use super::tls::{self, Tls};
use crate::exit::{self, Failure};

/// How long opening a stream (TCP, TLS and WebSocket handshakes) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open stream. TCP is kept as itself (the common case pays no boxing); the others are
/// boxed.
pub enum Stream {
    Tcp(TcpStream),
    Other(Box<dyn Io>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Other(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Where to connect from (`sim --bind-addr`); `None`: the system chooses.
pub type Bind = Option<std::net::IpAddr>;

/// Opens the stream for `cfg.endpoint`, within `CONNECT_TIMEOUT`.
pub async fn open(cfg: &ConnConfig, bind: Bind) -> Result<Stream, Failure> {
    match tokio::time::timeout(CONNECT_TIMEOUT, open_inner(cfg, bind)).await {
        Ok(r) => r,
        Err(_) => Err(exit::connect(format!(
            "could not connect to {} (timed out after {}s)",
            cfg.endpoint,
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

async fn open_inner(cfg: &ConnConfig, bind: Bind) -> Result<Stream, Failure> {
    let endpoint = &cfg.endpoint;
    match endpoint {
        #[cfg(unix)]
        Endpoint::Unix(path) => {
            let s = Box::pin(tokio::net::UnixStream::connect(path))
                .await
                .map_err(|e| connect_failure(endpoint, &io_words(&e), None))?;
            Ok(Stream::Other(Box::new(s)))
        }
        Endpoint::Tcp { host, port, tls } => {
            let tcp = tcp(host, *port, bind, endpoint, cfg.resolver.as_deref()).await?;
            if !*tls {
                return Ok(Stream::Tcp(tcp));
            }
            let t = cfg
                .tls
                .as_ref()
                .expect("a TLS endpoint has its configuration");
            let s = tls_handshake(t, host, tcp, endpoint).await?;
            Ok(Stream::Other(Box::new(s)))
        }
        Endpoint::WebSocket {
            host, port, tls, ..
        } => {
            let tcp = tcp(host, *port, bind, endpoint, cfg.resolver.as_deref()).await?;
            let url = endpoint.to_string();
            if *tls {
                let t = cfg
                    .tls
                    .as_ref()
                    .expect("a TLS endpoint has its configuration");
                let s = Box::pin(tls_handshake(t, host, tcp, endpoint)).await?;
                Box::pin(websocket(&url, s, endpoint)).await
            } else {
                Box::pin(websocket(&url, tcp, endpoint)).await
            }
        }
    }
}

/// Host names looked up for many connections to the same endpoint (`sim`'s devices): one
/// lookup serves every connection opened within `Resolver::FRESH` of it, and a connection
/// that needs a lookup while one is running waits for it and takes its answer, a failure
/// included (kept `Resolver::FAILED` only, so that a name that comes back is found soon). Each
/// lookup of a name takes a thread of tokio's blocking pool: without this, 300 devices
/// connecting to `localhost` ran 55 threads (test
/// sim::a_fleet_connecting_to_a_host_name_runs_no_thread_per_device). An address given as
/// digits is never looked up.
#[derive(Debug, Default)]
pub struct Resolver {
    cache: tokio::sync::Mutex<Option<Resolved>>,
}

#[derive(Debug)]
struct Resolved {
    host: String,
    port: u16,
    at: std::time::Instant,
    /// The addresses, or the failure's kind and words.
    answer: Result<Vec<SocketAddr>, (io::ErrorKind, String)>,
}

impl Resolver {
    /// How long a lookup's answer is used. Short: a broker that moves (a restarted pod behind
    /// a headless service) is found again by devices reconnecting to it.
    pub const FRESH: Duration = Duration::from_secs(5);
    /// How long a failed lookup is the answer.
    pub const FAILED: Duration = Duration::from_secs(1);

    /// The addresses of `host`, from the last lookup when it is recent and for the same name.
    pub async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let mut cache = self.cache.lock().await;
        if let Some(r) = cache.as_ref()
            && r.host == host
            && r.port == port
            && r.at.elapsed()
                < if r.answer.is_ok() {
                    Self::FRESH
                } else {
                    Self::FAILED
                }
        {
            return r
                .answer
                .clone()
                .map_err(|(kind, words)| io::Error::new(kind, words));
        }
        let answer = match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err((e.kind(), e.to_string())),
        };
        let r = cache.insert(Resolved {
            host: host.to_string(),
            port,
            at: std::time::Instant::now(),
            answer,
        });
        r.answer
            .clone()
            .map_err(|(kind, words)| io::Error::new(kind, words))
    }
}

async fn tcp(
    host: &str,
    port: u16,
    bind: Bind,
    endpoint: &Endpoint,
    resolver: Option<&Resolver>,
) -> Result<TcpStream, Failure> {
    let addrs: Vec<SocketAddr> = match resolver {
        // Digits need no lookup (and no lock).
        Some(r) if host.parse::<std::net::IpAddr>().is_err() => r.lookup(host, port).await,
        _ => tokio::net::lookup_host((host, port))
            .await
            .map(|a| a.collect()),
    }
    .map_err(|e| connect_failure(endpoint, &io_words(&e), None))?;
    let mut last = None;
    for addr in addrs {
        let attempt = async {
            let socket = socket_for(addr, bind)?;
            socket.connect(addr).await
        };
        match attempt.await {
            Ok(s) => {
                // Small packets waiting for the peer's delayed ACK (Nagle) cost a round trip
                // per in-flight window.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let why = match last {
        Some(e) => io_words(&e),
        None => "unknown host name".into(),
    };
    Err(connect_failure(endpoint, &why, None))
}

/// A socket to connect to `addr`, from `bind` when given.
fn socket_for(addr: SocketAddr, bind: Bind) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = bind {
        // The source port is chosen at connect(), for the whole 4-tuple, as when no address
        // is bound: bind() holds no port of its own (test
        // `a_bound_socket_holds_no_port_until_it_connects`), and a port whose earlier
        // connection (a previous run's) is in TIME_WAIT is reused wherever connect() reuses
        // one (`net.ipv4.tcp_tw_reuse`), so a rerun is not starved of ports.
        #[cfg(target_os = "linux")]
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::IpBindAddressNoPort,
            &true,
        )?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    Ok(socket)
}

async fn tls_handshake<S: Io + 'static>(
    t: &Tls,
    host: &str,
    s: S,
    endpoint: &Endpoint,
) -> Result<tokio_rustls::client::TlsStream<S>, Failure> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| {
        connect_failure(
            endpoint,
            &format!("{host:?} is not a valid TLS server name"),
            None,
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(t.config.clone());
    connector
        .connect(name, s)
        .await
        .map_err(|e| tls_failure(&e, endpoint, Some(t)))
}

/// A TLS error (during the handshake, or an alert that arrives later, e.g. the broker refusing
/// our client certificate under TLS 1.3) in words, or `None` if `e` is not one.
pub fn tls_failure(e: &io::Error, endpoint: &Endpoint, t: Option<&Tls>) -> Failure {
    if let Some(cause) = tls::rustls_cause(e) {
        let (what, hint) = tls::explain(cause, endpoint.host(), t);
        return connect_failure(endpoint, &what, hint);
    }
    let hint = if endpoint.tls() {
        "is this a TLS port? a plain MQTT port (usually 1883) does not speak TLS"
    } else {
        "is this a TLS port? add --cafile FILE (or use an mqtts:// URL) to connect with TLS"
    };
    connect_failure(
        endpoint,
        &format!("TLS handshake failed: {}", io_words(e)),
        Some(hint.into()),
    )
}

async fn websocket<S: Io + 'static>(
    url: &str,
    s: S,
    endpoint: &Endpoint,
) -> Result<Stream, Failure> {
    use async_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url
        .into_client_request()
        .map_err(|e| connect_failure(endpoint, &format!("invalid WebSocket URL: {e}"), None))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "mqtt".parse().expect("a valid header"),
    );
    let (ws, response) = async_tungstenite::tokio::client_async(request, s)
        .await
        .map_err(|e| {
            let what = if endpoint.tls() {
                format!("TLS or WebSocket handshake failed: {e}")
            } else {
                format!("WebSocket handshake failed: {e}")
            };
            connect_failure(endpoint, &what, Some(ws_hint(endpoint)))
        })?;
    let proto = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if proto != Some("mqtt") {
        return Err(connect_failure(
            endpoint,
            "not an MQTT WebSocket endpoint: the answer names no \"mqtt\" subprotocol",
            Some(ws_hint(endpoint)),
        ));
    }
    Ok(Stream::Other(Box::new(
        ws_stream_tungstenite::WsStream::new(ws),
    )))
}

pub fn connect_failure(endpoint: &Endpoint, why: &str, hint: Option<String>) -> Failure {
    let mut f = exit::connect(format!("could not connect to {endpoint} ({why})"));
    if let Some(h) = hint {
        f = f.with_hint(h);
    } else if why.contains("refused") {
        f = f.with_hint("is a broker running there? check -h and -p");
    }
    f
}

fn ws_hint(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::WebSocket {
            path, tls: true, ..
        } => format!(
            "is this the broker's secure WebSocket port, and is its path {path} (--ws-path)? \
             a plain ws port does not speak TLS"
        ),
        Endpoint::WebSocket { path, .. } => format!(
            "is this the broker's WebSocket port, and is its path {path} (--ws-path)? \
             for a port with TLS use wss:// or --cafile"
        ),
        _ => "check the WebSocket port and --ws-path".into(),
    }
}

pub fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::NotFound => "no such socket".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the broker".into(),
        io::ErrorKind::UnexpectedEof => "the broker closed the connection".into(),
        io::ErrorKind::BrokenPipe => "the broker closed the connection".into(),
        _ => {
            let s = e.to_string();
            if s.contains("failed to lookup address") || s.contains("Name or service not known") {
                "unknown host name".into()
            } else {
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resolver_answers_from_its_last_lookup_until_it_is_stale_or_for_another_name() {
        let r = Resolver::default();
        let at = |r: &Resolver| {
            let c = r.cache.try_lock().unwrap();
            let e = c.as_ref().unwrap();
            (e.host.clone(), e.port, e.at)
        };
        let first = r.lookup("localhost", 1883).await.unwrap();
        assert!(!first.is_empty());
        // A recent answer is used as it is: the entry keeps the time of its lookup.
        let (_, _, looked_up) = at(&r);
        assert_eq!(r.lookup("localhost", 1883).await.unwrap(), first);
        assert_eq!(at(&r).2, looked_up);
        // Another port is another lookup, and so is another name.
        let other = r.lookup("localhost", 1884).await.unwrap();
        assert!(other.iter().all(|a| a.port() == 1884));
        assert_eq!(at(&r).1, 1884);
        let digits = r.lookup("127.0.0.2", 1884).await.unwrap();
        assert_eq!(digits, ["127.0.0.2:1884".parse().unwrap()]);
        assert_eq!(at(&r).0, "127.0.0.2");
        // A stale answer is looked up again.
        r.cache.try_lock().unwrap().as_mut().unwrap().at -= Resolver::FRESH;
        let stale = at(&r).2;
        assert_eq!(r.lookup("127.0.0.2", 1884).await.unwrap(), digits);
        assert!(at(&r).2 > stale);
    }

    /// A failed lookup is the answer for the connections waiting on it, for a second.
    #[tokio::test]
    async fn a_resolver_shares_a_failed_lookup_briefly() {
        let r = Resolver::default();
        *r.cache.try_lock().unwrap() = Some(Resolved {
            host: "broker.test".into(),
            port: 1883,
            at: std::time::Instant::now(),
            answer: Err((io::ErrorKind::Other, "failed to lookup address".into())),
        });
        let e = r.lookup("broker.test", 1883).await.unwrap_err();
        assert_eq!(io_words(&e), "unknown host name");
        // Past `FAILED`, the name is looked up again (here: it resolves).
        *r.cache.try_lock().unwrap() = Some(Resolved {
            host: "localhost".into(),
            port: 1883,
            at: std::time::Instant::now() - Resolver::FAILED,
            answer: Err((io::ErrorKind::Other, "failed to lookup address".into())),
        });
        assert!(r.lookup("localhost", 1883).await.is_ok());
    }

    #[tokio::test]
    async fn a_bound_socket_holds_no_port_until_it_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let socket = socket_for(to, Some("127.0.0.2".parse().unwrap())).unwrap();
        let bound = socket.local_addr().unwrap();
        assert_eq!(bound.ip().to_string(), "127.0.0.2");
        #[cfg(target_os = "linux")]
        assert_eq!(bound.port(), 0, "bind() took a port of its own");
        let stream = socket.connect(to).await.unwrap();
        let local = stream.local_addr().unwrap();
        assert_eq!(local.ip().to_string(), "127.0.0.2");
        assert_ne!(local.port(), 0);
    }
}
