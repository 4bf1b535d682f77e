//! ConnArgs (what the user typed) → ConnConfig (validated, defaults applied, files read).
//! Every error here is a usage error (exit 2) found before any connection is attempted.

#[cfg(unix)]
use std::path::PathBuf;

use bytes::Bytes;
use percent_encoding::percent_decode_str;

use super::packet::Will;
use super::props::{PropCommand, V5Props};
use super::tls::{self, Tls, TlsRequest};
use crate::cli::{ConnArgs, Protocol, Secret};
use crate::exit::{Failure, usage};
use crate::topic::validate_topic_name;

/// Where the broker is, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// MQTT over TCP, with TLS when `tls` (the configuration is `ConnConfig::tls`).
    Tcp { host: String, port: u16, tls: bool },
    /// MQTT over a WebSocket at `path`, secure (wss) when `tls`.
    WebSocket {
        host: String,
        port: u16,
        path: String,
        tls: bool,
    },
    /// A Unix domain socket (`--unix`); Windows builds refuse the flag.
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Endpoint {
    /// The host name the broker's certificate must carry.
    pub fn host(&self) -> &str {
        match self {
            Endpoint::Tcp { host, .. } | Endpoint::WebSocket { host, .. } => host,
            #[cfg(unix)]
            Endpoint::Unix(_) => "",
        }
    }

    pub fn tls(&self) -> bool {
        match self {
            Endpoint::Tcp { tls, .. } | Endpoint::WebSocket { tls, .. } => *tls,
            #[cfg(unix)]
            Endpoint::Unix(_) => false,
        }
    }
}

/// `host:port`, with brackets around IPv6 literals so it reads back as host and port.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port, .. } => f.write_str(&host_port(host, *port)),
            // The full URL: it is also what the MQTT library connects to.
            Endpoint::WebSocket {
                host,
                port,
                path,
                tls,
            } => {
                let scheme = if *tls { "wss" } else { "ws" };
                write!(f, "{scheme}://{}{path}", host_port(host, *port))
            }
            #[cfg(unix)]
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// What a command needs from the shared flags, validated.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    pub endpoint: Endpoint,
    pub client_id: String,
    pub clean_start: bool,
    pub session_expiry: Option<u32>,
    pub keepalive: u16,
    pub protocol: Protocol,
    pub username: Option<String>,
    /// Its `Debug` hides it.
    pub password: Option<Secret>,
    pub will: Option<Will>,
    pub props: V5Props,
    pub max_inflight: u16,
    pub debug: bool,
    pub quiet: bool,
    /// The topic part of a -L URL, for commands that take a topic.
    pub url_topic: Option<String>,
    /// Acknowledge incoming QoS 1/2 messages only when the command says so (`Session::ack`):
    /// `sub` acknowledges what it has written out, so `-C N` leaves the rest with the broker.
    pub manual_acks: bool,
    /// Set when the endpoint uses TLS (mqtts, wss).
    pub tls: Option<Tls>,
    /// Shared by connections that look the broker's name up once between them (`sim`).
    pub resolver: Option<std::sync::Arc<super::transport::Resolver>>,
}

/// Per-command defaults: which protocol when -V is not given, which -D commands are allowed.
pub struct Defaults {
    pub protocol: Protocol,
    pub property_commands: &'static [PropCommand],
}

impl ConnConfig {
    pub fn from_args(args: &ConnArgs, defaults: &Defaults) -> Result<ConnConfig, Failure> {
        let url = match &args.url {
            Some(u) => Some(parse_url(u)?),
            None => None,
        };
        // Precedence: command line > -L URL > environment > defaults. A URL is typed on the
        // command line, so it beats MQTK_HOST, but an explicit -h next to it wins.
        let cli = |id: &str| args.on_command_line(id);
        let pick = |flag: Option<&String>, id: &str, from_url: Option<&String>| -> Option<String> {
            match (flag, from_url) {
                (Some(v), _) if cli(id) => Some(v.clone()),
                (_, Some(u)) => Some(u.clone()),
                (v, None) => v.cloned(),
            }
        };
        let host = pick(args.host.as_ref(), "host", url.as_ref().map(|u| &u.host))
            .unwrap_or_else(|| "localhost".into());
        let scheme = url.as_ref().map(|u| u.scheme);
        // The port, and whether it came from -p / MQTK_PORT (-p 8883 alone means TLS).
        let (port, port_from_flag) = match (args.port, url.as_ref().and_then(|u| u.port)) {
            (Some(p), _) if cli("port") => (Some(p), true),
            (_, Some(p)) => (Some(p), false),
            (Some(p), None) => (Some(p), true),
            (None, None) => (None, false),
        };
        let username = pick(
            args.username.as_ref(),
            "username",
            url.as_ref().and_then(|u| u.user.as_ref()),
        );

        let websocket = match scheme {
            Some(Scheme::Ws | Scheme::Wss) => true,
            Some(Scheme::Mqtt | Scheme::Mqtts) if args.ws => {
                return Err(usage(
                    "--ws does not go with an mqtt:// or mqtts:// URL; use ws:// or wss://",
                ));
            }
            _ => args.ws,
        };
        if args.ws_path.is_some() && !websocket {
            return Err(usage("--ws-path needs --ws or a ws:// or wss:// URL"));
        }
        let tls_flags = args.cafile.is_some()
            || args.capath.is_some()
            || args.tls_use_os_certs
            || args.cert.is_some()
            || args.key.is_some()
            || args.insecure
            || args.tls_version.is_some()
            || args.tls_alpn.is_some();
        // As mosquitto's clients: a TLS scheme, any TLS option, or -p 8883 turns TLS on.
        let tls_on = matches!(scheme, Some(Scheme::Mqtts | Scheme::Wss))
            || tls_flags
            || (port_from_flag && port == Some(8883) && !websocket);
        let port = port.unwrap_or(match (websocket, tls_on) {
            (false, false) => 1883,
            (false, true) => 8883,
            (true, false) => 80,
            (true, true) => 443,
        });

        let endpoint = match &args.unix {
            #[cfg(windows)]
            Some(_) => {
                return Err(usage(
                    "cannot connect through --unix (unix sockets are not available on Windows)",
                ));
            }
            #[cfg(unix)]
            Some(path) => {
                if args.host.is_some() && cli("host") || args.url.is_some() {
                    return Err(usage("--unix cannot be combined with -h or -L"));
                }
                if tls_on || websocket {
                    return Err(usage(
                        "--unix cannot be combined with TLS or WebSocket options",
                    ));
                }
                Endpoint::Unix(path.clone())
            }
            None => {
                if host.is_empty() {
                    return Err(usage("the broker host is empty"));
                }
                if websocket {
                    let path = args.ws_path.clone().unwrap_or_else(|| "/mqtt".into());
                    if path
                        .chars()
                        .any(|c| c.is_whitespace() || c == '#' || c == '?')
                    {
                        return Err(usage(format!("invalid --ws-path {path:?}")));
                    }
                    let path = if path.starts_with('/') {
                        path
                    } else {
                        format!("/{path}")
                    };
                    Endpoint::WebSocket {
                        host,
                        port,
                        path,
                        tls: tls_on,
                    }
                } else {
                    Endpoint::Tcp {
                        host,
                        port,
                        tls: tls_on,
                    }
                }
            }
        };
        // Files are read here, so a missing or mismatched certificate is a usage error.
        let tls = if tls_on {
            Some(tls::build(&TlsRequest {
                cafile: args.cafile.clone(),
                capath: args.capath.clone(),
                // The OS store is read only when TLS is on, and by default only when no CA
                // was named: plain TCP never pays for it.
                os_certs: args.tls_use_os_certs || (args.cafile.is_none() && args.capath.is_none()),
                cert: args.cert.clone(),
                key: args.key.clone(),
                insecure: args.insecure,
                version: args.tls_version,
                alpn: args.tls_alpn.clone(),
            })?)
        } else {
            None
        };

        let password = resolve_password(args, url.as_ref().and_then(|u| u.password.clone()))?;

        let properties = V5Props::parse(&args.properties, defaults.property_commands)?;
        let protocol = match args.protocol_version {
            Some(Protocol::V311) if !properties.is_empty() => {
                return Err(usage("-D properties need MQTT v5; drop -V 311 or use -V 5"));
            }
            Some(p) => p,
            // mosquitto's clients switch to v5 when a property is given; so do we.
            None if !properties.is_empty() => Protocol::V5,
            None => defaults.protocol,
        };
        if protocol == Protocol::V311 && password.is_some() && username.is_none() {
            return Err(usage(
                "MQTT 3.1.1 cannot send a password without a user name (-u)",
            ));
        }

        let client_id = match (&args.id, &args.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            // A generated id rather than an empty one: the library needs one for -c, and brokers
            // log something a person can trace back to this process.
            (None, None) => format!("mqtk-{}", std::process::id()),
        };
        if client_id.len() > 65_535 {
            return Err(usage("the client id is longer than 65535 bytes"));
        }
        let explicit_id = args.id.is_some();
        if args.disable_clean_session && !explicit_id {
            return Err(usage(
                "-c needs a fixed client id (-i ID): the broker finds the session by it",
            ));
        }
        let session_expiry = match (protocol, args.session_expiry, args.disable_clean_session) {
            (Protocol::V311, Some(_), _) => {
                return Err(usage("-x (session expiry) needs MQTT v5 (-V 5)"));
            }
            (Protocol::V5, Some(x), _) => Some(x),
            // As mosquitto: -c without -x on v5 keeps the session forever.
            (Protocol::V5, None, true) => Some(u32::MAX),
            _ => None,
        };

        let will = match &args.will_topic {
            Some(topic) => {
                validate_topic_name(topic)
                    .map_err(|e| usage(format!("invalid will topic: {e}")))?;
                Some(Will {
                    topic: topic.clone(),
                    payload: Bytes::from(args.will_payload.clone().unwrap_or_default()),
                    qos: args.will_qos,
                    retain: args.will_retain,
                })
            }
            None => None,
        };
        if will.is_none() && properties.has_will() {
            return Err(usage("-D will ... needs --will-topic"));
        }
        // CONNECT carries these with a 16-bit length: longer ones cannot be sent, and a broker
        // drops a connection that tries.
        let too_long = [
            ("user name", username.as_ref().map_or(0, |u| u.len())),
            ("password", password.as_ref().map_or(0, |p| p.len())),
            ("Will payload", will.as_ref().map_or(0, |w| w.payload.len())),
        ];
        if let Some((what, len)) = too_long.iter().find(|(_, len)| *len > 65_535) {
            return Err(usage(format!(
                "the {what} is {len} bytes; MQTT allows at most 65535"
            )));
        }

        Ok(ConnConfig {
            endpoint,
            client_id,
            clean_start: !args.disable_clean_session,
            session_expiry,
            keepalive: args.keepalive,
            protocol,
            username,
            password,
            will,
            props: properties,
            max_inflight: args.max_inflight,
            debug: args.debug,
            quiet: args.quiet,
            url_topic: url.and_then(|u| u.topic),
            manual_acks: false,
            tls,
            resolver: None,
        })
    }
}

/// -P VALUE, -P (prompt), MQTK_PASSWORD, --password-file, or the URL's password.
fn resolve_password(args: &ConnArgs, from_url: Option<Secret>) -> Result<Option<Secret>, Failure> {
    if args.password_file.is_some()
        && args.password.is_some()
        && args.on_command_line("password")
        && args.on_command_line("password_file")
    {
        return Err(usage(
            "-P and --password-file both give the password; use one",
        ));
    }
    // A file named on the command line beats MQTK_PASSWORD; MQTK_PASSWORD_FILE loses to -P.
    let file_wins = args.on_command_line("password_file")
        || args.password.is_none()
        || !args.on_command_line("password");
    if let Some(path) = args.password_file.as_ref().filter(|_| file_wins) {
        let text = std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "cannot read the password file {} ({e})",
                path.display()
            ))
        })?;
        let first = text.lines().next().unwrap_or("");
        return Ok(Some(Secret::new(first)));
    }
    match &args.password {
        // `-P` with no value: ask, without echo. Only the command line can say this: an
        // empty MQTK_PASSWORD (or `-P ""`) is an empty password.
        Some(None) => {
            let entered = crate::tty::read_secret("Password: ").map_err(|e| {
                usage(format!(
                    "cannot prompt for the password ({e}); use MQTK_PASSWORD or --password-file"
                ))
            })?;
            Ok(Some(Secret::new(entered)))
        }
        Some(Some(p)) if args.on_command_line("password") => Ok(Some(p.clone())),
        Some(Some(p)) => Ok(Some(from_url.unwrap_or_else(|| p.clone()))),
        None => Ok(from_url),
    }
}

/// The scheme of a `-L` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Mqtt,
    Mqtts,
    Ws,
    Wss,
}

/// A parsed `-L` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    pub host: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// Its `Debug` hides it.
    pub password: Option<Secret>,
    pub topic: Option<String>,
}

/// `url` with its password replaced by `***`, for messages: `mqtt://user:***@host/topic`.
///
/// Cautious on purpose, since it serves URLs that did not parse: everything between the first
/// ':' after the scheme and the last '@' is hidden, so a password holding '/' or '@' is hidden
/// too (`url_errors_never_show_the_password`).
pub fn masked(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}{user}:***@{after}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `mqtt[s]://[user[:password]@]host[:port]/topic` (or `ws[s]://`), user and password
/// percent-decoded. The port is left out when the URL has none: its default depends on TLS and
/// WebSocket options given beside the URL. An error shows the URL without its password, and
/// its reason quotes no part of the URL (a malformed one may have its password anywhere).
pub fn parse_url(s: &str) -> Result<Url, Failure> {
    let bad = |why: &str| usage(format!("invalid URL {:?}: {why}", masked(s)));
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| bad("expected mqtt://HOST/TOPIC"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" => Scheme::Mqtt,
        "mqtts" => Scheme::Mqtts,
        "ws" => Scheme::Ws,
        "wss" => Scheme::Wss,
        _ => return Err(bad("the scheme must be mqtt://, mqtts://, ws:// or wss://")),
    };
    let (authority, topic) = match rest.split_once('/') {
        Some((a, t)) => (a, Some(t.to_string())),
        None => (rest, None),
    };
    // userinfo ends at the LAST '@': a percent-encoded or raw '@' in the password still works.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let decode = |v: &str| -> Result<String, Failure> {
        percent_decode_str(v)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad("user or password is not valid UTF-8 after percent-decoding"))
    };
    let (user, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Some(decode(n)?), Some(Secret::new(decode(p)?))),
            None => (Some(decode(u)?), None),
        },
        None => (None, None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed '[' in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("unexpected text after the IPv6 address")),
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if hostport.starts_with(|c| c != '[') && host.contains(':') {
        return Err(bad("an IPv6 address must be in brackets: [::1]:1883"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("the host contains a space or a control character"));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad("the port is not a number from 1 to 65535")),
        },
        None => None,
    };
    Ok(Url {
        scheme,
        host,
        port,
        user,
        password,
        topic: topic.filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_everything() {
        let u = parse_url("mqtt://al%40ice:p%3Ass%40@broker.local:1884/home/+/temp").unwrap();
        assert_eq!(
            u,
            Url {
                scheme: Scheme::Mqtt,
                host: "broker.local".into(),
                port: Some(1884),
                user: Some("al@ice".into()),
                password: Some("p:ss@".into()),
                topic: Some("home/+/temp".into()),
            }
        );
    }

    #[test]
    fn url_defaults_and_ipv6() {
        let u = parse_url("MQTT://[::1]/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", None));
        let u = parse_url("WSS://[::1]:9001/a/b").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.topic.as_deref()),
            (Scheme::Wss, "::1", Some(9001), Some("a/b"))
        );
        let u = parse_url("mqtt://h").unwrap();
        assert_eq!(u.topic, None);
    }

    #[test]
    fn masked_hides_the_password_and_keeps_the_rest() {
        for (url, want) in [
            ("mqtt://alice:pw@h:1883/t", "mqtt://alice:***@h:1883/t"),
            ("mqtt://alice@h/t", "mqtt://alice@h/t"),
            ("mqtt://h:1883/t", "mqtt://h:1883/t"),
            ("wss://a:p@ss@h/t", "wss://a:***@h/t"),
            ("mqtt://a:p/w@h/t", "mqtt://a:***@h/t"),
            ("a:pw@h/t", "a:***@h/t"),
        ] {
            assert_eq!(masked(url), want, "{url}");
        }
    }

    /// D10: every kind of URL error, with a password that would show if any part of the URL
    /// were quoted unmasked.
    #[test]
    fn url_errors_never_show_the_password() {
        for bad in [
            "mqtt://alice:sekrit@127.0.0.1:189100/auth/x",
            "mqtt://alice:sekrit@:1883/t",
            "mqtt://alice:sekrit@h:0/t",
            "mqtt://alice:sekrit@h:x/t",
            "mqtt://alice:sekrit@[::1/t",
            "mqtt://alice:sekrit@[::1]x/t",
            "mqtt://alice:sekrit@h h/t",
            "mqtt://al%ffice:sekrit@h/t",
            "mqtt://alice:sek%ffrit@h/t",
            "http://alice:sekrit@h/t",
            "alice:sekrit@h/t",
            "mqtt://alice:sek/rit@h/t",
            "mqtt://alice:sek:rit@h:1:2/t",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert_eq!(e.status, crate::exit::ExitStatus::Usage, "{bad}");
            let text = e.to_string();
            assert!(!text.contains("sek"), "{bad} -> {text}");
            assert!(text.contains(":***@"), "{bad} -> {text}");
        }
    }

    #[test]
    fn debug_of_a_url_and_a_config_hides_the_password() {
        let u = parse_url("mqtt://alice:sekrit@h/t").unwrap();
        assert_eq!(u.password.as_deref(), Some("sekrit"));
        let shown = format!("{u:?}");
        assert!(
            !shown.contains("sekrit") && shown.contains("***"),
            "{shown}"
        );
        let cli = crate::cli::Cli::parse_from_args([
            "mqtk",
            "pub",
            "-n",
            "-L",
            "mqtt://alice:sekrit@h/t",
        ])
        .unwrap();
        let crate::cli::Command::Publish(publish) = cli.command else {
            panic!()
        };
        let args = publish.conn;
        let defaults = Defaults {
            protocol: Protocol::V5,
            property_commands: &[],
        };
        let cfg = ConnConfig::from_args(&args, &defaults).unwrap();
        assert_eq!(cfg.password.as_deref(), Some("sekrit"));
        let shown = format!("{cfg:?} {args:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
    }

    #[test]
    fn a_space_in_the_host_is_a_usage_error() {
        let e = parse_url("mqtt://h h/t").unwrap_err();
        assert_eq!(e.status, crate::exit::ExitStatus::Usage);
    }

    #[test]
    fn url_errors_are_usage_errors() {
        for bad in [
            "http://h/t",
            "mqtt://:1883/t",
            "mqtt://h:0/t",
            "mqtt://h:99999/t",
            "h/t",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert_eq!(e.status, crate::exit::ExitStatus::Usage, "{bad}");
        }
    }
}
