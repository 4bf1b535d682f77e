//! The command line: its types (what the user typed, before validation), the clap value
//! parsers that check single values (`-V`, `-x`, delays, timeouts), and reading argv into them
//! (`mqtk-pub` style links, `--profile` expansion, which flags came from `MQTK_*` variables).
//!
//! House rules for this file:
//! - every short flag is an explicit char (`short = 'h'`), never derived from the field name;
//! - value names are UPPERCASE;
//! - every connection flag reads an `MQTK_<NAME>` env var; secrets use `hide_env_values`;
//! - doc comments are the help: a short imperative first line, details in later paragraphs;
//! - rarely used flags get `hide_short_help` so `mqtk pub --help` stays readable.
//!
//! Turning these into validated settings happens elsewhere (`conn::ConnConfig::from_args`,
//! the `cmd::*` modules), so that every usage error is found before a byte is sent.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{
    NonEmptyStringValueParser, PossibleValue, PossibleValuesParser, StringValueParser,
    TypedValueParser,
};
use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
    ValueHint,
};

/// A mosquitto-style MQTT toolkit: publish, subscribe, request/response, password files,
/// certificates.
#[derive(Parser, Debug)]
#[command(
    name = "mqtk",
    version,
    disable_help_flag = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 could not connect, \
                  4 refused by the broker, 5 publish or subscription rejected, 27 timed out."
)]
pub struct Cli {
    /// Print help (`-h` is the broker host, as in mosquitto's clients)
    #[arg(long, action = ArgAction::Help, global = true)]
    help: Option<bool>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Publish messages: from an argument, a file, stdin, or stdin line by line
    ///
    /// Exits only after the broker has acknowledged every QoS 1/2 message (QoS 0 messages:
    /// written to the socket), so exit status 0 means delivered to the broker. With -l, each
    /// line is a message; a bounded in-flight window (-M) keeps memory flat on an endless
    /// stdin, and after a lost connection whatever was not acknowledged is sent again.
    ///
    ///     mqtk pub -t home/sensors/temp -m 21.5 -q 1
    ///     mqtk pub -t home/sensors/temp -m 21.5 -r            # retained
    ///     mqtk pub -t home/sensors/temp -r -n                 # clear the retained message
    ///     tail -f app.log | mqtk pub -t logs/app -l -q 1
    ///     mqtk pub -L mqtt://sensor:pw@broker:1883/home/sensors/temp -m 21.5
    ///     mqtk pub -V 5 -t t -m '{}' -D publish content-type application/json
    #[command(name = "pub", verbatim_doc_comment)]
    Publish(PublishArgs),

    /// Subscribe and print messages as they arrive
    ///
    /// Prints each payload on its own line (-v: "topic payload"), flushed as it arrives, so
    /// pipelines see every message at once. Reconnects with backoff when the connection is
    /// lost and subscribes again; with -c -i ID -q 1 the broker keeps what was published
    /// meanwhile. Ctrl-C and SIGTERM disconnect cleanly: the broker does not publish the Will.
    ///
    ///     mqtk sub -t 'home/#' -v
    ///     mqtk sub -t home/door -C 1 -W 30        # wait for one message; exit 27 on timeout
    ///     mqtk sub -t 'sensors/#' --format json | jq -r '.payload'
    ///     mqtk sub -t 'sensors/#' -F '%I %t %p'
    ///     mqtk sub -t 'old/#' --remove-retained   # clear old/'s retained messages, then exit
    ///     mqtk sub -c -i logger -q 1 -t 'logs/#'  # a persistent session: nothing lost
    ///
    /// Exit codes: 0 after -C messages, -E, the retained messages (--retained-only,
    /// --remove-retained), Ctrl-C or SIGTERM, or when the reader of stdout goes away; 5 when
    /// the broker refuses every filter; 27 on -W timeout.
    #[command(name = "sub", verbatim_doc_comment)]
    Subscribe(SubscribeArgs),

    /// Request/response: publish one request and print the first response
    ///
    /// Subscribes to the response topic (-e), publishes the request to -t with the MQTT v5
    /// response topic and a fresh correlation data, and prints the first message on -e that
    /// carries that correlation data. With -V 311 (no properties) the responder must know the
    /// response topic, and the first message on it is the answer.
    ///
    ///     mqtk rr -t devices/lamp/get -e replies/me -m '{"want":"state"}'
    ///     mqtk rr -t rpc/add -e rpc/add/reply -m '[1,2]' -W 5 --format json | jq .payload
    ///
    /// Exit codes: 0 a response was printed; 5 the broker refused the subscription or the
    /// request; 27 no response within -W.
    #[command(name = "rr", verbatim_doc_comment)]
    Request(RequestArgs),

    /// Make a private CA, server and client certificates, and a mosquitto TLS listener
    ///
    /// Writes ca.crt, ca.key, server.crt, server.key, client-NAME.crt and client-NAME.key for each
    /// --client, and mosquitto-tls.conf: a listener (port 8883, or --listen) using them, with
    /// `require_certificate true` and `use_identity_as_username true` when client certificates
    /// were made (the certificate's CN becomes the MQTT username). Keys are 0600, certificates
    /// and mosquitto-tls.conf 0644, a new DIR 0755, whatever the umask.
    ///
    /// Nothing is overwritten without --force. When DIR already holds ca.crt and ca.key, that CA
    /// signs the new certificates, so clients can be added later; with only --client given, the
    /// existing server certificate is kept. All files are written, or none: each goes to a temp
    /// file in DIR first, and only when all are written are they renamed into place.
    ///
    ///     mqtk certgen --host broker.lan --client sensor --client dashboard
    ///     mqtk certgen --client thermostat        # later: one more client, same CA
    ///     mqtk sub -h localhost --cafile certs/ca.crt -t '#' -v
    ///
    /// Exit codes: 0 written; 1 a write failed (nothing was written); 2 usage error: a bad
    /// value, a file that exists without --force, a CA that does not match its key, or a DIR
    /// that cannot be written.
    #[command(verbatim_doc_comment)]
    Certgen(CertgenArgs),
    /// Create and edit mosquitto password files; check a password against one
    ///
    /// The interface of mosquitto_passwd, and its file format:
    /// USER:$7$ITERATIONS$SALT$HASH (PBKDF2-HMAC-SHA512, read by mosquitto 2.0 and 2.1).
    /// Without -b the password is asked for twice on the terminal, or read as two lines from
    /// a pipe.
    ///
    ///     mqtk passwd -c /etc/mosquitto/passwd sensor-01
    ///     mqtk passwd -b /etc/mosquitto/passwd sensor-02 s3cret
    ///     mqtk passwd -D /etc/mosquitto/passwd sensor-01
    ///     printf 'pw\npw\n' | mqtk passwd -c - sensor-01 > passwd
    ///     mqtk passwd --verify /etc/mosquitto/passwd sensor-02 s3cret
    ///
    /// Unlike mosquitto_passwd, the file is replaced atomically (a temp file in its directory,
    /// synced, then renamed over it), keeps its mode and owner (new files are 0600), and keeps
    /// comments, blank lines, CRLF line ends and unknown lines byte for byte. A corrupt entry is
    /// reported with its line number and nothing is written; -U leaves hashed entries alone.
    /// Send the broker SIGHUP to make it reload the file.
    ///
    /// Concurrent runs on one file take turns: each holds an advisory lock (flock) on the
    /// file's directory from reading the file to renaming the new one into place, and gives up
    /// with exit 1 after waiting 10 s. `flock DIR COMMAND` takes the same lock.
    ///
    /// FILE must be a regular file; a FIFO, a device or a directory is refused, and so is a file
    /// with several hard links for edits (the rename would leave the other names on the old
    /// file). User names must not contain ':' or control characters, start with '#' or start
    /// or end with a space: mosquitto would read such a line as a comment or as another user.
    /// Entries asking for more than 10000000 PBKDF2 iterations, or argon2id m > 1048576 (1 GiB),
    /// t > 100, p > 64 or m*t > 4194304, are corrupt: checking one would take minutes or
    /// gigabytes.
    #[command(name = "passwd", verbatim_doc_comment)]
    Passwd(PasswdArgs),

    /// Write shell completions and man pages (for packagers)
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// Invoked through a link named `mqtk-pub` (or `mqtk-sub`, ...), act as `mqtk pub`: the
/// subcommand name is put back in after the program name.
pub fn multicall_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let applet = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_stem())
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("mqtk-"))
        .map(str::to_owned);
    if let Some(name) = applet
        && Cli::command().find_subcommand(&name).is_some()
    {
        args.insert(1, name.into());
    }
    args
}

impl Command {
    /// The name users typed, for error lines (`mqtk pub: error: ...`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Publish(_) => "pub",
            Command::Subscribe(_) => "sub",
            Command::Request(_) => "rr",
            Command::Certgen(_) => "certgen",
            Command::Passwd(_) => "passwd",
            Command::Generate(_) => "generate",
        }
    }
}

/// MQTT protocol version.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    V311,
    V5,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s.to_ascii_lowercase().as_str() {
        "311" | "mqttv311" | "3.1.1" => Ok(Protocol::V311),
        "5" | "mqttv5" => Ok(Protocol::V5),
        "31" | "mqttv31" | "3.1" => Err("MQTT 3.1 is not supported; use 311 or 5".into()),
        _ => Err("expected 311 or 5".into()),
    }
}

/// `-V`: parsed by `parse_protocol`; the possible values are what shell completion offers.
#[derive(Copy, Clone, Debug)]
struct ProtocolParser;

impl TypedValueParser for ProtocolParser {
    type Value = Protocol;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Protocol, clap::Error> {
        StringValueParser::new()
            .try_map(|s| parse_protocol(&s))
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            [
                PossibleValue::new("311").help("MQTT 3.1.1"),
                PossibleValue::new("5").help("MQTT 5"),
            ]
            .into_iter(),
        ))
    }
}

/// QoS 0, 1 or 2 as a number; listed, so shell completion offers them.
fn qos_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new([
        PossibleValue::new("0").help("at most once"),
        PossibleValue::new("1").help("at least once"),
        PossibleValue::new("2").help("exactly once"),
    ])
    .map(|s| s.parse::<u8>().expect("one of the possible values"))
}

/// `--retain-handling` 0, 1 or 2 as a number; listed, so shell completion offers them.
fn retain_handling_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new([
        PossibleValue::new("0").help("send retained messages on every subscribe"),
        PossibleValue::new("1").help("only for a new subscription"),
        PossibleValue::new("2").help("never"),
    ])
    .map(|s| s.parse::<u8>().expect("one of the possible values"))
}

/// `-x`: seconds, or `-1` / `∞` for "never expires" (as mosquitto).
fn parse_session_expiry(s: &str) -> Result<u32, String> {
    match s {
        "-1" | "∞" | "inf" => Ok(u32::MAX),
        _ => s
            .parse::<u32>()
            .map_err(|_| "expected seconds from 0 to 4294967295, or -1 for never".into()),
    }
}

/// Connection, authentication, will and protocol flags shared by every command that talks to
/// a broker.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// Broker host name or IP address [default: localhost]
    #[arg(short = 'h', long, env = "MQTK_HOST", value_name = "HOST", value_hint = ValueHint::Hostname)]
    pub host: Option<String>,

    /// Broker port [default: 1883; with TLS 8883; WebSockets 80, with TLS 443]
    ///
    /// -p 8883 alone turns on TLS, trusting the OS's CA certificates.
    #[arg(short = 'p', long, env = "MQTK_PORT", value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Broker URL: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (also ws://, wss://)
    ///
    /// User and password are percent-decoded, so `p%40ss` is `p@ss`. Flags given on the
    /// command line (-h, -p, -u, -P, -t) take precedence over the URL's parts. mqtts:// and
    /// wss:// turn on TLS (trusting the OS's CA certificates unless --cafile or --capath is
    /// given); with ws:// and wss:// the path is still the topic, and the WebSocket path is
    /// --ws-path (/mqtt).
    #[arg(short = 'L', long, env = "MQTK_URL", value_name = "URL", value_hint = ValueHint::Url)]
    pub url: Option<String>,

    /// Connect through a Unix domain socket instead of TCP
    #[arg(long, env = "MQTK_UNIX", value_name = "PATH", value_hint = ValueHint::FilePath,
          hide_short_help = true)]
    pub unix: Option<PathBuf>,

    /// Client id [default: mqtk-<pid>]
    #[arg(short = 'i', long = "id", env = "MQTK_ID", value_name = "ID",
          value_parser = NonEmptyStringValueParser::new())]
    pub id: Option<String>,

    /// Client id prefix; the process id is appended
    #[arg(
        short = 'I',
        long = "id-prefix",
        env = "MQTK_ID_PREFIX",
        value_name = "PREFIX",
        conflicts_with = "id",
        hide_short_help = true
    )]
    pub id_prefix: Option<String>,

    /// Keep-alive interval in seconds (5 to 65535)
    #[arg(short = 'k', long, env = "MQTK_KEEPALIVE", value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u16).range(5..))]
    pub keepalive: u16,

    /// Keep the session on the broker after disconnecting (needs -i)
    #[arg(
        short = 'c',
        long = "disable-clean-session",
        env = "MQTK_DISABLE_CLEAN_SESSION"
    )]
    pub disable_clean_session: bool,

    /// Session expiry in seconds (v5); -1 means never [default with -c: never]
    #[arg(short = 'x', long = "session-expiry", env = "MQTK_SESSION_EXPIRY", value_name = "SECS",
          allow_negative_numbers = true, value_parser = parse_session_expiry,
          hide_short_help = true)]
    pub session_expiry: Option<u32>,

    /// MQTT protocol version: 311 or 5
    #[arg(short = 'V', long = "protocol-version", env = "MQTK_PROTOCOL_VERSION",
          value_name = "VERSION", value_parser = ProtocolParser)]
    pub protocol_version: Option<Protocol>,

    /// User name
    #[arg(short = 'u', long, env = "MQTK_USERNAME", value_name = "USER")]
    pub username: Option<String>,

    /// Password; without a value, prompt for it on the terminal
    ///
    /// A password on the command line is visible to other users of the machine: prefer the
    /// prompt, MQTK_PASSWORD or --password-file.
    #[arg(short = 'P', long = "pw", env = "MQTK_PASSWORD", hide_env_values = true,
          value_name = "PASSWORD", num_args = 0..=1, default_missing_value = "")]
    pub password: Option<String>,

    /// Read the password from the first line of a file
    // Not a clap conflict with -P: an exported MQTK_PASSWORD must not make --password-file
    // unusable (the command line wins over the environment; see `resolve_password`).
    #[arg(long, env = "MQTK_PASSWORD_FILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub password_file: Option<PathBuf>,

    /// Trust the CA certificates in this PEM file (turns on TLS)
    ///
    /// The broker's certificate must chain to one of them and carry the name given with -h.
    ///
    ///     mqtk pub -h broker.lan --cafile certs/ca.crt -t hello -m world
    #[arg(long, env = "MQTK_CAFILE", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub cafile: Option<PathBuf>,

    /// Trust every PEM CA certificate in this directory (turns on TLS)
    #[arg(long, env = "MQTK_CAPATH", value_name = "DIR", value_hint = ValueHint::DirPath,
          hide_short_help = true)]
    pub capath: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS; needs --key
    #[arg(long, env = "MQTK_CERT", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub cert: Option<PathBuf>,

    /// Private key of --cert (PEM: PKCS#8, SEC1 or RSA; not encrypted)
    #[arg(long, env = "MQTK_KEY", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub key: Option<PathBuf>,

    /// Do not check that the broker's certificate carries the host name (the chain is still
    /// verified)
    #[arg(long, env = "MQTK_INSECURE")]
    pub insecure: bool,

    /// Trust the operating system's CA certificates (turns on TLS)
    ///
    /// The default when TLS is on without --cafile or --capath: with an mqtts:// or wss:// URL,
    /// or -p 8883.
    #[arg(long, env = "MQTK_TLS_USE_OS_CERTS", hide_short_help = true)]
    pub tls_use_os_certs: bool,

    /// Oldest TLS version to accept: tlsv1.2 (default: 1.2 or 1.3) or tlsv1.3 (1.3 only)
    #[arg(
        long,
        env = "MQTK_TLS_VERSION",
        value_name = "VERSION",
        value_enum,
        ignore_case = true,
        hide_short_help = true
    )]
    pub tls_version: Option<TlsVersion>,

    /// Offer this ALPN protocol in the TLS handshake (e.g. x-amzn-mqtt-ca)
    #[arg(long, env = "MQTK_TLS_ALPN", value_name = "PROTOCOL",
          value_parser = NonEmptyStringValueParser::new(), hide_short_help = true)]
    pub tls_alpn: Option<String>,

    /// Connect over WebSockets to -h and -p (with TLS options: secure WebSockets)
    ///
    /// A ws:// or wss:// URL given with -L does the same.
    #[arg(long, env = "MQTK_WS", hide_short_help = true)]
    pub ws: bool,

    /// HTTP path of the broker's WebSocket endpoint [default: /mqtt]
    #[arg(
        long,
        env = "MQTK_WS_PATH",
        value_name = "PATH",
        hide_short_help = true
    )]
    pub ws_path: Option<String>,

    /// Topic of the Last Will, published by the broker if this client dies
    #[arg(long, env = "MQTK_WILL_TOPIC", value_name = "TOPIC")]
    pub will_topic: Option<String>,

    /// Payload of the Last Will
    #[arg(
        long,
        env = "MQTK_WILL_PAYLOAD",
        value_name = "PAYLOAD",
        requires = "will_topic"
    )]
    pub will_payload: Option<String>,

    /// QoS of the Last Will
    #[arg(long, env = "MQTK_WILL_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub will_qos: u8,

    /// Retain the Last Will
    #[arg(long, env = "MQTK_WILL_RETAIN", requires = "will_topic")]
    pub will_retain: bool,

    /// MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)
    ///
    /// CMD is connect, publish or will (sub and rr also take subscribe and unsubscribe).
    /// Example: -D publish content-type application/json -D publish user-property site lab
    #[arg(short = 'D', long = "property", value_names = ["CMD", "NAME", "VALUE"],
          num_args = 3..=4, action = ArgAction::Append)]
    property: Vec<String>,

    /// The -D occurrences, each with its own words (filled in by `Cli::parse_from_args`).
    #[arg(skip)]
    pub properties: Vec<Vec<String>>,

    /// Maximum QoS 1/2 messages in flight at once (1 to 65535)
    #[arg(short = 'M', long = "max-inflight", env = "MQTK_MAX_INFLIGHT", value_name = "N",
          default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..),
          hide_short_help = true)]
    pub max_inflight: u16,

    /// Print a trace of every MQTT packet on stderr
    #[arg(short = 'd', long, env = "MQTK_DEBUG")]
    pub debug: bool,

    /// Print no runtime errors (usage errors are still printed)
    #[arg(long, env = "MQTK_QUIET")]
    pub quiet: bool,

    /// Fill in connection flags from [profile.NAME] in $XDG_CONFIG_HOME/mqtk/config.toml
    ///
    /// Keys are the long flag names (host, port, username, password-file, cafile, ...); the
    /// command line and MQTK_* variables win over the profile.
    #[arg(long, env = "MQTK_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Ids of the flags above whose value came from an `MQTK_*` variable.
    #[arg(skip)]
    pub from_env: Vec<String>,
}

impl ConnArgs {
    /// True when the flag was typed on the command line (not taken from the environment).
    pub fn on_command_line(&self, id: &str) -> bool {
        !self.from_env.iter().any(|e| e == id)
    }
}

/// `--tls-version`: the oldest TLS version the client accepts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TlsVersion {
    /// TLS 1.2 or 1.3
    #[value(name = "tlsv1.2")]
    Tls12,
    /// TLS 1.3 only
    #[value(name = "tlsv1.3")]
    Tls13,
}

/// Where `pub` takes its payload from: exactly one of these.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct MessageSource {
    /// Send this text as the payload
    #[arg(
        short = 'm',
        long,
        value_name = "MESSAGE",
        group = "source",
        allow_hyphen_values = true
    )]
    pub message: Option<OsString>,

    /// Send the contents of a file as the payload
    #[arg(short = 'f', long, value_name = "FILE", group = "source", value_hint = ValueHint::FilePath)]
    pub file: Option<PathBuf>,

    /// Send all of stdin as one payload
    #[arg(short = 's', long = "stdin-file", group = "source")]
    pub stdin_file: bool,

    /// Send each line of stdin as its own message (the newline is not sent)
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub stdin_line: bool,

    /// Send an empty payload (with -r: clear the retained message)
    #[arg(short = 'n', long = "null-message", group = "source")]
    pub null_message: bool,
}

/// Exit codes of the commands that talk to a broker (the table in src/exit.rs).
const NETWORK_EXIT_CODES: &str = "Exit codes: 0 done (every QoS 1/2 message acknowledged); \
    1 runtime failure (connection lost for good, I/O error); 2 usage error, nothing sent; \
    3 could not connect (DNS, TCP, TLS); 4 the broker refused the connection (credentials, \
    not authorized); 5 the broker rejected a message (MQTT v5 reason code >= 0x80).";

/// `mqtk pub` (the help text is on `Command::Publish`: a variant's doc comment wins).
#[derive(Args, Debug, Clone)]
#[command(after_help = NETWORK_EXIT_CODES)]
pub struct PublishArgs {
    /// Topic to publish to
    #[arg(short = 't', long, env = "MQTK_TOPIC", value_name = "TOPIC")]
    pub topic: Option<String>,

    #[command(flatten)]
    pub source: MessageSource,

    /// Quality of service: 0, 1 or 2
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub qos: u8,

    /// Ask the broker to retain the message
    #[arg(short = 'r', long)]
    pub retain: bool,

    /// Publish the message N times (not with -l)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "stdin_line")]
    pub repeat: u64,

    /// Seconds to wait between repeats, counted from the previous acknowledgement
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_delay,
          allow_negative_numbers = true,
          requires = "repeat")]
    pub repeat_delay: f64,

    /// Give up when the broker stays unreachable for SECS seconds after the connection was lost
    ///
    /// Exits 1 and says how many messages were not acknowledged. Without it, pub retries for
    /// ever (with growing, jittered backoff), resending what was not acknowledged.
    #[arg(long, env = "MQTK_RECONNECT_TIMEOUT", value_name = "SECS", value_parser = parse_timeout)]
    pub reconnect_timeout: Option<f64>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

fn parse_delay(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e9).contains(&v) => Ok(v),
        _ => Err("expected a number of seconds from 0 to 1000000000".into()),
    }
}

/// How `sub` and `rr` print a message (the renderer is `format::Output`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print "topic payload" ("topic (null)" for an empty payload)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Print no newline after each message
    #[arg(short = 'N', long = "no-newline")]
    pub no_newline: bool,

    /// Print each message with this format string (mosquitto_sub's -F: %t %p %j %I ...)
    ///
    /// %t topic, %p payload, %x/%X hex payload, %l length, %m message id, %q QoS, %r retain,
    /// %I ISO 8601 time, %U Unix time, %j/%J JSON, v5: %A topic alias, %C content type,
    /// %D correlation data, %E expiry, %F payload format, %P user properties, %R response topic,
    /// %S subscription id; @H @M @S ... strftime, @N nanoseconds; \n \t ... escapes.
    /// Flags, width and precision as in printf: %-20t, %08l, %.10p.
    #[arg(short = 'F', value_name = "FORMAT", allow_hyphen_values = true)]
    pub format_string: Option<String>,

    /// Output format: plain, json (one object per line), hex or base64 (the payload)
    #[arg(long = "format", value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Plain)]
    pub format: OutputFormat,

    /// Indent JSON output (%j, %J, --format json)
    #[arg(long)]
    pub pretty: bool,
}

/// `--format`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The payload as it is (-v: after the topic)
    Plain,
    /// One JSON object per message and line: topic, payload, qos, retain, mid, properties, received
    Json,
    /// The payload as lowercase hex
    Hex,
    /// The payload as base64
    Base64,
}

/// `mqtk sub` (the help text is on `Command::Subscribe`).
#[derive(Args, Debug, Clone)]
pub struct SubscribeArgs {
    /// Topic filter to subscribe to (repeat for more; + and # wildcards)
    #[arg(short = 't', long = "topic", value_name = "FILTER")]
    pub topics: Vec<String>,

    /// Quality of service requested for every filter: 0, 1 or 2
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub qos: u8,

    /// Do not print messages whose topic matches this filter (repeat for more)
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER")]
    pub filter_out: Vec<String>,

    /// Unsubscribe from this filter after subscribing (e.g. to clean up a -c session)
    #[arg(short = 'U', long = "unsubscribe", value_name = "FILTER")]
    pub unsubscribe: Vec<String>,

    /// Exit after printing N messages
    #[arg(short = 'C', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Exit with status 27 ("timed out") when not done after SECS seconds
    #[arg(short = 'W', value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,

    /// Exit as soon as the broker has acknowledged the subscriptions
    #[arg(short = 'E')]
    pub exit_after_suback: bool,

    /// Do not print retained messages (v5: ask the broker not to send them)
    #[arg(short = 'R', conflicts_with = "retained_only")]
    pub no_retained: bool,

    /// Print only retained messages; exit 0 once the broker has sent them all
    ///
    /// A live message that comes first also ends the run (unprinted). The end of the retained
    /// messages is the broker's answer to a PINGREQ sent after them: see the README.
    #[arg(long = "retained-only")]
    pub retained_only: bool,

    /// Clear every retained message received (publish an empty retained message to its
    /// topic); exit 0 once all are cleared
    #[arg(long = "remove-retained")]
    pub remove_retained: bool,

    /// v5: keep the retain flag of forwarded messages as the publisher set it
    #[arg(long = "retain-as-published", hide_short_help = true)]
    pub retain_as_published: bool,

    /// v5: do not receive messages this client publishes
    #[arg(long = "no-local", hide_short_help = true)]
    pub no_local: bool,

    /// v5: retained messages on subscribe: 0 always, 1 only for a new subscription, 2 never
    #[arg(long = "retain-handling", value_name = "N", hide_short_help = true,
          value_parser = retain_handling_parser())]
    pub retain_handling: Option<u8>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(v),
        _ => Err("expected a number of seconds greater than 0".into()),
    }
}

/// Where `rr` takes the request's payload from: exactly one of these.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("request").required(true).multiple(false)))]
pub struct RequestSource {
    /// Send this text as the request
    #[arg(
        short = 'm',
        long,
        value_name = "MESSAGE",
        group = "request",
        allow_hyphen_values = true
    )]
    pub message: Option<OsString>,

    /// Send the contents of a file as the request
    #[arg(short = 'f', long, value_name = "FILE", group = "request", value_hint = ValueHint::FilePath)]
    pub file: Option<PathBuf>,

    /// Send all of stdin as the request
    #[arg(short = 's', long = "stdin-file", group = "request")]
    pub stdin_file: bool,

    /// Send an empty request
    #[arg(short = 'n', long = "null-message", group = "request")]
    pub null_message: bool,
}

/// `mqtk rr` (the help text is on `Command::Request`).
#[derive(Args, Debug, Clone)]
pub struct RequestArgs {
    /// Topic to publish the request to
    #[arg(short = 't', long, value_name = "TOPIC")]
    pub topic: Option<String>,

    /// Topic to wait for the response on
    #[arg(short = 'e', long = "response-topic", value_name = "TOPIC")]
    pub response_topic: String,

    #[command(flatten)]
    pub source: RequestSource,

    /// Quality of service of the request and of the response subscription: 0, 1 or 2
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub qos: u8,

    /// Exit with status 27 ("timed out") when no response came within SECS seconds
    #[arg(short = 'W', value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,

    /// Give up (exit 1) when the broker stays unreachable for SECS seconds after the
    /// connection was lost; without it, rr retries for ever (or until -W)
    #[arg(long, env = "MQTK_RECONNECT_TIMEOUT", value_name = "SECS", value_parser = parse_timeout)]
    pub reconnect_timeout: Option<f64>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `mqtk passwd` (the help text is on `Command::Passwd`: a variant's doc comment wins).
#[derive(Args, Debug, Clone)]
#[command(after_help = "Exit codes: 0 done (--verify: the password matches); \
                        1 the password does not match, the user is not in the file (-D, \
                        --verify), a corrupt line, another run kept the file locked for 10 s, \
                        or an I/O error; 2 usage error: bad flags, argument count, user name \
                        or password, the two passwords typed differ, or FILE is not a regular \
                        file (or has several hard links, for edits). On any error the file is \
                        unchanged.")]
pub struct PasswdArgs {
    /// Create the file, or overwrite it, with just this user (`-c -` writes to stdout)
    #[arg(short = 'c', long = "create", conflicts_with_all = ["delete", "update"])]
    pub create: bool,

    /// Take the password from the command line (visible to other users: prefer a pipe)
    #[arg(short = 'b', long = "batch", conflicts_with = "delete")]
    pub batch: bool,

    /// Delete the user
    #[arg(short = 'D', long = "delete", conflicts_with = "update")]
    pub delete: bool,

    /// Hash every plaintext password in the file (entries already hashed are left alone)
    #[arg(short = 'U', long = "update")]
    pub update: bool,

    /// Exit 0 when PASSWORD (or the one typed) matches the user's entry, 1 when not
    ///
    /// Checks all three hash forms, whichever tool wrote them.
    #[arg(long, conflicts_with_all = ["create", "batch", "delete", "update"])]
    pub verify: bool,

    /// Hash for new passwords: sha512-pbkdf2 ($7$), sha512 ($6$) or argon2id (mosquitto 2.1 only)
    #[arg(
        short = 'H',
        long = "hash",
        value_enum,
        value_name = "HASH",
        default_value = "sha512-pbkdf2"
    )]
    pub hash: HashKind,

    /// PBKDF2 iterations for sha512-pbkdf2, 1 to 10000000 [default: 210000]
    ///
    /// Every count works with every broker: the count is stored in each line. Above
    /// 10 000 000 a single check would take many seconds, so mqtk neither writes nor reads
    /// such entries.
    #[arg(short = 'I', long = "iterations", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub iterations: Option<u32>,

    /// Password file (`-` with -c: standard output)
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub file: PathBuf,

    /// User name
    #[arg(value_name = "USER")]
    pub user: Option<String>,

    /// Password, with -b or --verify (visible in the process list: prefer the prompt or a pipe)
    #[arg(value_name = "PASSWORD", allow_hyphen_values = true)]
    pub password: Option<String>,
}

/// `-H`: how new passwords are hashed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum HashKind {
    /// $7$: PBKDF2-HMAC-SHA512 with a 12-byte salt (mosquitto 2.0 and 2.1)
    #[value(name = "sha512-pbkdf2")]
    Sha512Pbkdf2,
    /// $6$: one round of salted SHA-512 (mosquitto 1.6 compatible; weak)
    #[value(name = "sha512")]
    Sha512,
    /// $argon2id$: mosquitto 2.1's form; 2.0 brokers reject it
    #[value(name = "argon2id")]
    Argon2id,
}

#[derive(Args, Debug)]
pub struct CertgenArgs {
    /// Directory to write into; created if missing
    #[arg(long, value_name = "DIR", default_value = "certs", value_hint = ValueHint::DirPath)]
    pub out: PathBuf,

    /// Name or IP address clients use to reach the broker (repeat for more)
    ///
    /// Each becomes a subject alternative name of the server certificate: IPv4 and IPv6
    /// literals as IP addresses, anything else as a DNS name (`*.example.com` allowed).
    /// [default: localhost, 127.0.0.1, ::1 and this machine's host name]
    #[arg(long = "host", value_name = "HOST", value_hint = ValueHint::Hostname)]
    pub hosts: Vec<String>,

    /// Make a client certificate with this common name (repeat for more)
    ///
    /// Written as client-NAME.crt and client-NAME.key. With `use_identity_as_username true`
    /// mosquitto takes NAME as the client's username, for ACLs.
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,

    /// Days the server and client certificates are valid (at most until the CA expires)
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 825,
        allow_negative_numbers = true
    )]
    pub days: i64,

    /// Days a new CA certificate is valid
    #[arg(
        long = "ca-days",
        value_name = "DAYS",
        default_value_t = 3650,
        allow_negative_numbers = true
    )]
    pub ca_days: i64,

    /// Type of the new keys
    #[arg(long = "key-type", value_name = "TYPE", value_enum,
          default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,

    /// Common name of a new CA [default: mqtk CA <host name> <8 random hex digits>]
    ///
    /// The random part gives every CA its own subject, so a client given the wrong CA is told
    /// "unknown issuer". Two CAs made with one --ca-cn share a subject: the wrong one then
    /// reads as a bad signature.
    #[arg(long = "ca-cn", value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    pub ca_cn: Option<String>,

    /// Address and port of the listener in mosquitto-tls.conf [default: 8883 on every interface]
    ///
    /// PORT alone listens on every interface; ADDR (an IP address, `[IPv6]` or a host name)
    /// binds one: --listen 192.168.1.10:8883 writes `listener 8883 192.168.1.10`. Without
    /// --listen, a DIR that already has a mosquitto-tls.conf keeps its listener.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub listen: Option<String>,

    /// Sign with this CA certificate instead of DIR's own CA (needs --ca-key)
    ///
    /// The CA's files stay where they are: mosquitto-tls.conf points at this certificate.
    #[arg(long = "ca-cert", value_name = "FILE", requires = "ca_key",
          value_hint = ValueHint::FilePath)]
    pub ca_cert: Option<PathBuf>,

    /// Private key of --ca-cert (unencrypted PKCS#8 PEM)
    #[arg(long = "ca-key", value_name = "FILE", requires = "ca_cert",
          value_hint = ValueHint::FilePath)]
    pub ca_key: Option<PathBuf>,

    /// Replace existing certificates, keys and mosquitto-tls.conf (an existing CA is still
    /// reused)
    #[arg(long)]
    pub force: bool,
}

/// Key algorithm for certgen. No Ed25519: OpenSSL 3.0, and so mosquitto, cannot load the
/// Ed25519 keys rcgen writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    /// ECDSA on NIST P-256 with SHA-256: small, fast, accepted everywhere
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    /// RSA 2048 bits, for old clients without ECDSA
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// RSA 3072 bits
    #[value(name = "rsa-3072")]
    Rsa3072,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// What to generate
    #[arg(value_enum)]
    pub what: Generated,

    /// Directory to write into
    #[arg(value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub dir: PathBuf,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Generated {
    /// bash, zsh, fish, PowerShell and elvish completions
    Completions,
    /// one man page per command
    Man,
}

impl Cli {
    /// Parses argv, and records which connection flags came from `MQTK_*` variables: a URL
    /// given with -L beats the environment, but not the command line.
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut matches = Cli::command().try_get_matches_from(&args)?;
        if let Some(words) = profile_words(&matches)? {
            // The subcommand is always the first word after the program name.
            let mut args = args;
            args.splice(2..2, words);
            matches = Cli::command().try_get_matches_from(&args)?;
        }
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let Some((_, sub)) = matches.subcommand() {
            let from_env = sub
                .ids()
                .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
                .map(|id| id.to_string())
                .collect();
            if let Some(conn) = cli.command.conn_mut() {
                conn.from_env = from_env;
                if let Ok(Some(groups)) = sub.try_get_occurrences::<String>("property") {
                    conn.properties = groups.map(|words| words.cloned().collect()).collect();
                }
            }
        }
        Ok(cli)
    }
}

/// `--profile NAME` as extra words for the command line: only the connection flags the user
/// gave neither on the command line nor in the environment.
fn profile_words(matches: &clap::ArgMatches) -> Result<Option<Vec<OsString>>, clap::Error> {
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(None);
    };
    let Ok(Some(profile)) = sub.try_get_one::<String>("profile") else {
        return Ok(None);
    };
    let cmd = Cli::command();
    let Some(sub_cmd) = cmd.find_subcommand(name) else {
        return Ok(None);
    };
    let connection: Vec<(String, String)> = sub_cmd
        .get_arguments()
        .filter(|a| a.get_help_heading() == Some("Connection"))
        .filter_map(|a| Some((a.get_long()?.to_string(), a.get_id().to_string())))
        .collect();
    let id_of = |long: &str| {
        connection
            .iter()
            .find(|(l, _)| l == long)
            .map(|(_, id)| id.clone())
    };
    let typed = |long: &str| {
        id_of(long).is_some_and(|id| {
            matches!(
                sub.value_source(&id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
    };
    // A -L URL names the broker and the user itself: the profile's must not override it.
    let url_parts = ["host", "port", "username", "pw"];
    let given = |long: &str| typed(long) || (url_parts.contains(&long) && typed("url"));
    crate::profile::load(profile, |long| id_of(long).is_some(), given)
        .map(Some)
        .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))
}

impl Command {
    /// `--quiet` of the command, when it has connection flags.
    pub fn quiet(&self) -> bool {
        match self {
            Command::Publish(a) => a.conn.quiet,
            Command::Subscribe(a) => a.conn.quiet,
            Command::Request(a) => a.conn.quiet,
            Command::Certgen(_) | Command::Generate(_) => false,
            Command::Passwd(_) => false,
        }
    }

    fn conn_mut(&mut self) -> Option<&mut ConnArgs> {
        match self {
            Command::Publish(a) => Some(&mut a.conn),
            Command::Subscribe(a) => Some(&mut a.conn),
            Command::Request(a) => Some(&mut a.conn),
            Command::Certgen(_) | Command::Generate(_) => None,
            Command::Passwd(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_from_args(std::iter::once("mqtk").chain(args.iter().copied()))
    }

    #[test]
    fn links_named_mqtk_pub_act_as_pub() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            multicall_args(args(&["/usr/bin/mqtk-pub", "-t", "x"])),
            args(&["/usr/bin/mqtk-pub", "pub", "-t", "x"])
        );
        assert_eq!(
            multicall_args(args(&["mqtk", "pub"])),
            args(&["mqtk", "pub"])
        );
        assert_eq!(
            multicall_args(args(&["mqtk-nope", "x"])),
            args(&["mqtk-nope", "x"])
        );
    }

    #[test]
    fn dash_h_is_the_host() {
        let Command::Publish(a) = parse(&["pub", "-h", "broker", "-t", "t", "-n"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.conn.host.as_deref(), Some("broker"));
    }

    #[test]
    fn password_flag_without_value_means_prompt() {
        let Command::Publish(a) = parse(&["pub", "-t", "t", "-n", "-P"]).unwrap().command else {
            panic!()
        };
        assert_eq!(a.conn.password.as_deref(), Some(""));
        let Command::Publish(a) = parse(&["pub", "-P", "s3cret", "-t", "t", "-n"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.conn.password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn properties_group_three_or_four_words() {
        let Command::Publish(a) = parse(&[
            "pub",
            "-t",
            "t",
            "-n",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(a.conn.properties.len(), 2);
        assert_eq!(
            a.conn.properties[0],
            ["publish", "content-type", "text/plain"]
        );
        assert_eq!(a.conn.properties[1], ["publish", "user-property", "k", "v"]);
    }

    #[test]
    fn message_sources_are_exclusive() {
        let e = parse(&["pub", "-t", "t", "-m", "x", "-n"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let e = parse(&["pub", "-t", "t"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn protocol_31_is_refused_in_words() {
        let e = parse(&["pub", "-t", "t", "-n", "-V", "31"]).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn certgen_repeats_hosts_and_clients() {
        let Command::Certgen(a) = parse(&[
            "certgen",
            "--host",
            "a.lan",
            "--host",
            "10.0.0.1",
            "--client",
            "s",
            "--client",
            "d",
            "--key-type",
            "rsa-2048",
            "--days",
            "-3",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(a.hosts, ["a.lan", "10.0.0.1"]);
        assert_eq!(a.clients, ["s", "d"]);
        assert_eq!(a.key_type, KeyType::Rsa2048);
        assert_eq!(a.days, -3, "checked later, so the error is ours");
        assert_eq!(a.out, PathBuf::from("certs"));
        let e = parse(&["certgen", "--ca-cert", "x"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let e = parse(&["certgen", "--key-type", "ed25519"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn passwd_takes_mosquitto_passwd_flags_and_hyphen_passwords() {
        let Command::Passwd(a) =
            parse(&["passwd", "-H", "sha512", "-I", "9", "-b", "f", "u", "-pw"])
                .unwrap()
                .command
        else {
            panic!()
        };
        assert_eq!((a.hash, a.iterations), (HashKind::Sha512, Some(9)));
        assert_eq!(a.password.as_deref(), Some("-pw"));
        let Command::Passwd(a) = parse(&["passwd", "f", "u"]).unwrap().command else {
            panic!()
        };
        assert_eq!((a.hash, a.iterations), (HashKind::Sha512Pbkdf2, None));
    }

    #[test]
    fn passwd_modes_conflict_as_in_mosquitto_passwd() {
        for pair in [["-c", "-D"], ["-c", "-U"], ["-D", "-U"], ["-b", "-D"]] {
            let e = parse(&["passwd", pair[0], pair[1], "f", "u"]).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{pair:?}"
            );
        }
        let e = parse(&["passwd", "-I", "0", "f", "u"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn tls_version_is_case_insensitive_and_checked() {
        let Command::Publish(a) = parse(&["pub", "-t", "t", "-n", "--tls-version", "TLSv1.3"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.conn.tls_version, Some(TlsVersion::Tls13));
        let e = parse(&["pub", "-t", "t", "-n", "--tls-version", "tlsv1.1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn session_expiry_accepts_minus_one() {
        let Command::Publish(a) = parse(&["pub", "-t", "t", "-n", "-x", "-1"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.conn.session_expiry, Some(u32::MAX));
    }
}
