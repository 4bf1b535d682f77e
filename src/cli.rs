//! The command line: its types (what the user typed, before validation), the clap value
//! parsers that check single values (`-V`, `-x`, delays, timeouts), and reading argv into them
//! (`mqtk-pub` style links, `--profile` expansion, which flags came from `MQTK_*` variables).
//!
//! House rules for this file:
//! - every short flag is an explicit char (`short = 'h'`), never derived from the field name;
//! - value names are UPPERCASE;
//! - every option reads an `MQTK_<LONG NAME>` variable (`MQTK_<FIELD>` for short-only flags,
//!   `MQTK_PASSWORD` for `--pw`), except those `every_option_reads_the_environment` lists;
//!   secrets (and URLs, which may hold one) use `hide_env_values`;
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

    /// Simulate a fleet of sensor devices, each with its own connection
    ///
    /// Every device is a task (not a thread) with its own client id, a Last Will of "offline"
    /// on <prefix>/<id>/status, "online" there once connected, telemetry on
    /// <prefix>/<id>/telemetry every --interval with a gap-free "seq", and commands on
    /// <prefix>/<id>/commands and <prefix>/all/commands: {"led":"on"}, {"interval":"5s"},
    /// {"reboot":true}, each answered on <prefix>/<id>/ack. A clean stop publishes "offline".
    ///
    ///     mqtk sim --devices 100 --duration 1m
    ///     mqtk sim --fleet examples/fleet.toml --duration 30s --report run.json
    ///     mqtk sim --devices 1000 --count 10 --verify --fail-if 'lost>0' --fail-if 'p99_ack_ms>50'
    ///     mqtk sim --devices 20000 --shard 0/2 --bind-addr 127.0.0.1,127.0.0.2
    ///     mqtk sim --devices 10 --dry-run
    ///
    /// Exit codes: 0 when the run ended (--duration, --count, Ctrl-C); 6 when a --fail-if
    /// check failed (each failed check is listed); 3 or 4 when not one device could connect
    /// (unreachable, or refused); 2 for a bad flag or fleet file, or more devices than the
    /// open-file limit allows (use --shard).
    #[command(name = "sim", verbatim_doc_comment)]
    Sim(SimCommand),

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
            Command::Sim(_) => "sim",
            Command::Certgen(_) => "certgen",
            Command::Passwd(_) => "passwd",
            Command::Generate(_) => "generate",
        }
    }
}

/// A password, or a URL that may hold one: `Debug` shows `"***"`, so no trace, panic or
/// `{:?}` can print it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
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
    #[arg(short = 'L', long, env = "MQTK_URL", hide_env_values = true, value_name = "URL",
          value_hint = ValueHint::Url, value_parser = parse_secret)]
    pub url: Option<Secret>,

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

    /// Password; -P with no value prompts for it on the terminal
    ///
    /// As in mosquitto's clients the next word is the password, even when it starts with '-'
    /// (-P -secret), except a word that is exactly one of this command's options: -P -t x
    /// prompts, and so does -P as the last word. -P=WORD and --pw=WORD always take WORD;
    /// -P "" is an empty password. A password on the command line is visible to other users of
    /// the machine: prefer the prompt, MQTK_PASSWORD or --password-file.
    #[arg(short = 'P', long = "pw", env = "MQTK_PASSWORD", hide_env_values = true,
          value_name = "PASSWORD", value_parser = parse_secret)]
    pub password: Option<Option<Secret>>,

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
          value_parser = qos_parser(), requires = "will_topic")]
    pub will_qos: u8,

    /// Retain the Last Will
    #[arg(long, env = "MQTK_WILL_RETAIN", requires = "will_topic")]
    pub will_retain: bool,

    /// MQTT v5 property: -D CMD NAME VALUE (user-property takes NAME VALUE)
    ///
    /// CMD is connect, publish or will (sub and rr also take subscribe and unsubscribe).
    /// Example: -D publish content-type application/json -D publish user-property site lab
    ///
    /// Each -D takes the next three words (four for user-property), whatever they look like:
    /// -D publish user-property k -1. Not read from the environment or a profile.
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
    #[arg(short = 'm', long, value_name = "MESSAGE", group = "source")]
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
    #[arg(short = 'r', long, env = "MQTK_RETAIN")]
    pub retain: bool,

    /// Publish the message N times (not with -l)
    #[arg(long, env = "MQTK_REPEAT", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "stdin_line")]
    pub repeat: u64,

    /// Seconds to wait between repeats, counted from the previous acknowledgement
    #[arg(long, env = "MQTK_REPEAT_DELAY", value_name = "SECS", default_value = "0",
          value_parser = parse_delay,
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
    #[arg(short = 'v', long, env = "MQTK_VERBOSE")]
    pub verbose: bool,

    /// Print no newline after each message
    #[arg(short = 'N', long = "no-newline", env = "MQTK_NO_NEWLINE")]
    pub no_newline: bool,

    /// Print each message with this format string (mosquitto_sub's -F: %t %p %j %I ...)
    ///
    /// %t topic, %p payload, %x/%X hex payload, %l length, %m message id, %q QoS, %r retain,
    /// %I ISO 8601 time, %U Unix time, %j/%J JSON, v5: %A topic alias, %C content type,
    /// %D correlation data, %E expiry, %F payload format, %P user properties, %R response topic,
    /// %S subscription id; @H @M @S ... strftime, @N nanoseconds; \n \t ... escapes.
    /// Flags, width and precision as in printf: %-20t, %08l, %.10p. A width pads and never
    /// cuts; a precision cuts text and payloads to that many characters (%.10p) and gives
    /// numbers at least that many digits (%.3q is 001). %j and %J take neither.
    #[arg(
        short = 'F',
        env = "MQTK_FORMAT_STRING",
        value_name = "FORMAT",
        conflicts_with = "format"
    )]
    pub format_string: Option<String>,

    /// Output format: plain, json (one object per line), hex or base64 (the payload)
    #[arg(long = "format", env = "MQTK_FORMAT", value_name = "FORMAT", value_enum,
          default_value_t = OutputFormat::Plain)]
    pub format: OutputFormat,

    /// Indent JSON output (%j, %J, --format json)
    #[arg(long, env = "MQTK_PRETTY")]
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
    ///
    /// MQTK_TOPIC gives one filter; -t on the command line, or a -L URL's topic, replaces it.
    #[arg(short = 't', long = "topic", env = "MQTK_TOPIC", value_name = "FILTER")]
    pub topics: Vec<String>,

    /// Quality of service requested for every filter: 0, 1 or 2
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub qos: u8,

    /// Do not print messages whose topic matches this filter (repeat for more)
    #[arg(
        short = 'T',
        long = "filter-out",
        env = "MQTK_FILTER_OUT",
        value_name = "FILTER"
    )]
    pub filter_out: Vec<String>,

    /// Unsubscribe from this filter after subscribing (e.g. to clean up a -c session)
    #[arg(
        short = 'U',
        long = "unsubscribe",
        env = "MQTK_UNSUBSCRIBE",
        value_name = "FILTER"
    )]
    pub unsubscribe: Vec<String>,

    /// Exit after printing N messages
    #[arg(short = 'C', long, env = "MQTK_COUNT", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Exit with status 27 ("timed out") when not done after SECS seconds
    #[arg(short = 'W', env = "MQTK_TIMEOUT", value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,

    /// Exit as soon as the broker has acknowledged the subscriptions
    #[arg(short = 'E', env = "MQTK_EXIT_AFTER_SUBACK")]
    pub exit_after_suback: bool,

    /// Do not print retained messages (v5: ask the broker not to send them)
    #[arg(
        short = 'R',
        env = "MQTK_NO_RETAINED",
        conflicts_with = "retained_only"
    )]
    pub no_retained: bool,

    /// Print only retained messages; exit 0 once the broker has sent them all
    ///
    /// A live message that comes first also ends the run (unprinted). The end of the retained
    /// messages is the broker's answer to a PINGREQ sent after them: see the README.
    #[arg(long = "retained-only", env = "MQTK_RETAINED_ONLY")]
    pub retained_only: bool,

    /// Clear every retained message received (publish an empty retained message to its
    /// topic); exit 0 once all are cleared
    #[arg(long = "remove-retained", env = "MQTK_REMOVE_RETAINED")]
    pub remove_retained: bool,

    /// v5: keep the retain flag of forwarded messages as the publisher set it
    #[arg(
        long = "retain-as-published",
        env = "MQTK_RETAIN_AS_PUBLISHED",
        hide_short_help = true
    )]
    pub retain_as_published: bool,

    /// v5: do not receive messages this client publishes
    #[arg(long = "no-local", env = "MQTK_NO_LOCAL", hide_short_help = true)]
    pub no_local: bool,

    /// v5: retained messages on subscribe: 0 always, 1 only for a new subscription, 2 never
    #[arg(long = "retain-handling", env = "MQTK_RETAIN_HANDLING", value_name = "N",
          hide_short_help = true, value_parser = retain_handling_parser())]
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
    #[arg(short = 'm', long, value_name = "MESSAGE", group = "request")]
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

/// `mqtk sim` (the help text is on `Command::Sim`): the fleet's flags, then the shared
/// connection flags every device uses.
#[derive(Args, Debug, Clone)]
pub struct SimCommand {
    #[command(flatten)]
    pub sim: crate::cmd::sim::args::SimArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `mqtk rr` (the help text is on `Command::Request`).
#[derive(Args, Debug, Clone)]
pub struct RequestArgs {
    /// Topic to publish the request to
    #[arg(short = 't', long, env = "MQTK_TOPIC", value_name = "TOPIC")]
    pub topic: Option<String>,

    /// Topic to wait for the response on
    #[arg(
        short = 'e',
        long = "response-topic",
        env = "MQTK_RESPONSE_TOPIC",
        value_name = "TOPIC"
    )]
    pub response_topic: String,

    #[command(flatten)]
    pub source: RequestSource,

    /// Quality of service of the request and of the response subscription: 0, 1 or 2
    #[arg(short = 'q', long, env = "MQTK_QOS", value_name = "QOS", default_value_t = 0,
          value_parser = qos_parser())]
    pub qos: u8,

    /// Exit with status 27 ("timed out") when no response came within SECS seconds
    #[arg(short = 'W', env = "MQTK_TIMEOUT", value_name = "SECS", value_parser = parse_timeout)]
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
        env = "MQTK_HASH",
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
    #[arg(short = 'I', long = "iterations", env = "MQTK_ITERATIONS", value_name = "N",
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

// ---------------------------------------------------------------------------------------------
// Reading argv, the environment and --profile
//
// clap reads the words; what it cannot express is arranged here first:
// - an option's value is the next word even when it starts with '-' (mosquitto's rule:
//   `-P -secret`, `-t -neg`, `--will-payload -1`): `parsing_command` sets
//   `allow_hyphen_values` on every option that takes a value;
// - `-D` takes three words, four for user-property: `Words::read` ends each occurrence after
//   its words, so the next flag is a flag again;
// - `-P` takes an optional value: the next word is the password unless it is exactly one of
//   the command's options (`-P -t x` prompts), and is glued on as `-P=WORD`;
// - `MQTK_*` variables and profile keys are defaults: each value is checked on its own first,
//   so an error names the variable (or the profile, its file and the key) rather than a flag;
//   they yield to a command-line flag they conflict with, and a default never needs the flag
//   it qualifies (`MQTK_WILL_QOS=1` applies when a Will is given).

/// Ends the words of one `-D` occurrence (clap's value terminator); argv cannot hold a NUL.
const PROPERTY_END: &str = "\0";

/// The id of `-D`, whose number of words depends on its second word.
const PROPERTY: &str = "property";

/// Connection flags that a `-L` URL also gives: a profile's must not override the URL.
const URL_PARTS: [&str; 4] = ["host", "port", "username", "password"];

/// `Cli::command()` with the reading rules above. Help, man pages and completions come from
/// `Cli::command()`; these settings change only how words are read.
pub fn parsing_command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| {
        sub.mut_args(|arg| {
            let values = arg.get_num_args();
            if arg.is_positional() {
                arg
            } else if matches!(arg.get_action(), ArgAction::SetTrue) {
                // Flags read from the environment take 1/0, true/false, yes/no, on/off; an
                // empty variable is off.
                arg.value_parser(parse_switch)
            } else if arg.get_id() == PROPERTY {
                arg.allow_hyphen_values(true).value_terminator(PROPERTY_END)
            } else if arg.get_action().takes_values() && values.is_none_or(|v| v.min_values() > 0) {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        })
    })
}

/// A flag's value from the environment (or `--flag=VALUE`): 1/0, true/false, yes/no, on/off.
fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err("expected 1 or 0, true or false, yes or no, on or off".into()),
    }
}

impl Cli {
    /// Parses argv with the environment and `--profile`, and records which flags came from
    /// `MQTK_*` variables: a URL given with -L beats the environment, but not the command line.
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // Built once: building the whole command line is most of a one-shot publish's CPU.
        let unbuilt = parsing_command();
        let mut built = unbuilt.clone();
        built.build();
        // The subcommand is the first word after the program name that is not an option.
        let found = args
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, a)| !a.to_string_lossy().starts_with('-'))
            .and_then(|(at, a)| Some((at, built.find_subcommand(a.to_str()?)?)));
        let Some((at, sub)) = found else {
            // No subcommand, or an unknown one: clap says so, or prints the help.
            let matches = unbuilt.try_get_matches_from(&args)?;
            return Cli::from_arg_matches(&matches);
        };
        let words = Words::read(sub, &args[at + 1..]);
        let mut fallbacks = Fallbacks::default();
        fallbacks.read_env(sub, &words)?;
        let profile = words.profile.clone().or_else(|| {
            let var = find_id(sub, "profile")?.get_env()?;
            std::env::var(var).ok()
        });
        if let Some(name) = profile {
            fallbacks.read_profile(sub, &words, &name)?;
        }
        let cmd = unbuilt.mut_subcommand(sub.get_name(), |mut s| {
            for id in &fallbacks.unset {
                s = s.mut_arg(id, |a| a.env(None));
            }
            for (id, _) in &fallbacks.origins {
                s = s.mut_arg(id, |a| a.requires(clap::builder::Resettable::Reset));
            }
            s
        });
        let mut argv = args[..=at].to_vec();
        argv.extend(fallbacks.profile_words.iter().cloned());
        argv.extend(words.words);
        let matches = cmd
            .try_get_matches_from(argv)
            .map_err(|e| fallbacks.rename(e, sub))?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let Some((_, sub)) = matches.subcommand() {
            let from_env = sub
                .ids()
                .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
                .map(|id| id.to_string())
                .collect();
            if let Some(conn) = cli.command.conn_mut() {
                conn.from_env = from_env;
                if let Ok(Some(groups)) = sub.try_get_occurrences::<String>(PROPERTY) {
                    conn.properties = groups.map(|words| words.cloned().collect()).collect();
                }
            }
        }
        Ok(cli)
    }
}

/// The words after the subcommand, arranged for clap (see above), and what they give.
#[derive(Debug, Default)]
struct Words {
    words: Vec<OsString>,
    /// Ids of the flags and options on the command line.
    typed: Vec<String>,
    /// The value of `--profile`.
    profile: Option<String>,
}

impl Words {
    fn read(sub: &clap::Command, input: &[OsString]) -> Words {
        let mut w = Words {
            words: Vec::with_capacity(input.len() + 4),
            ..Words::default()
        };
        let mut rest = input.iter();
        while let Some(word) = rest.next() {
            let Some(text) = word.to_str() else {
                w.words.push(word.clone());
                continue;
            };
            if text == "--" {
                w.words.push(word.clone());
                w.words.extend(rest.cloned());
                break;
            }
            // The option that takes a value in this word, and the value attached to it
            // (`--pw=x`, `-tx`, `-dP=x`); flags before it in a cluster (`-dP`) are noted.
            let (arg, attached) = if let Some(long) = text.strip_prefix("--") {
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (long, None),
                };
                match find_long(sub, name) {
                    Some(a) if takes_values(a) => (Some(a), value),
                    Some(a) => {
                        w.typed.push(a.get_id().to_string());
                        (None, None)
                    }
                    None => (None, None),
                }
            } else if let Some(cluster) = text.strip_prefix('-').filter(|c| !c.is_empty()) {
                let mut found = (None, None);
                for (at, c) in cluster.char_indices() {
                    let Some(a) = find_short(sub, c) else { break };
                    if !takes_values(a) {
                        w.typed.push(a.get_id().to_string());
                        continue;
                    }
                    let tail = &cluster[at + c.len_utf8()..];
                    let value = (!tail.is_empty()).then(|| tail.strip_prefix('=').unwrap_or(tail));
                    found = (Some(a), value);
                    break;
                }
                found
            } else {
                (None, None)
            };
            let Some(arg) = arg else {
                w.words.push(word.clone());
                continue;
            };
            let id = arg.get_id().as_str();
            w.typed.push(id.to_string());
            let mut values: Vec<OsString> = attached.map(OsString::from).into_iter().collect();
            if arg.get_num_args().is_some_and(|n| n.min_values() == 0) {
                // -P: glue the next word on, unless it is one of the command's options.
                match rest.as_slice().first() {
                    Some(next) if attached.is_none() && !is_option(sub, next) => {
                        rest.next();
                        let mut glued = word.clone();
                        glued.push("=");
                        glued.push(next);
                        w.words.push(glued);
                    }
                    _ => w.words.push(word.clone()),
                }
                continue;
            }
            w.words.push(word.clone());
            let wanted = |values: &[OsString]| match values.get(1) {
                _ if id != PROPERTY => 1,
                Some(name) if name == "user-property" => 4,
                _ => 3,
            };
            while values.len() < wanted(&values) {
                let Some(v) = rest.next() else { break };
                w.words.push(v.clone());
                values.push(v.clone());
            }
            if id == PROPERTY && values.len() == 3 && rest.len() > 0 {
                w.words.push(PROPERTY_END.into());
            }
            if id == "profile" {
                w.profile = values.first().and_then(|v| v.to_str()).map(str::to_owned);
            }
        }
        w
    }

    fn typed(&self, id: &str) -> bool {
        self.typed.iter().any(|t| t == id)
    }
}

fn takes_values(arg: &clap::Arg) -> bool {
    arg.get_num_args()
        .map_or(arg.get_action().takes_values(), |n| n.takes_values())
}

fn find_long<'a>(sub: &'a clap::Command, name: &str) -> Option<&'a clap::Arg> {
    sub.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|all| all.contains(&name))
    })
}

fn find_short(sub: &clap::Command, c: char) -> Option<&clap::Arg> {
    sub.get_arguments().find(|a| {
        a.get_short() == Some(c)
            || a.get_all_short_aliases()
                .is_some_and(|all| all.contains(&c))
    })
}

fn find_id<'a>(sub: &'a clap::Command, id: &str) -> Option<&'a clap::Arg> {
    sub.get_arguments().find(|a| a.get_id() == id)
}

/// Exactly one of the command's options as a word of its own: `-t`, `--topic`, `--topic=x`,
/// or `--`. (`-tx` and `-secret` are not: they can be a password after `-P`.)
fn is_option(sub: &clap::Command, word: &std::ffi::OsStr) -> bool {
    let Some(s) = word.to_str() else { return false };
    if s == "--" {
        return true;
    }
    if let Some(long) = s.strip_prefix("--") {
        let name = long.split_once('=').map_or(long, |(n, _)| n);
        return find_long(sub, name).is_some();
    }
    let mut chars = s.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('-'), Some(c), None) => find_short(sub, c).is_some(),
        _ => false,
    }
}

/// Values that do not come from the command line: `MQTK_*` variables and profile keys.
#[derive(Debug, Default)]
struct Fallbacks {
    /// Arg id, and where its value comes from: "MQTK_PORT", "port in [profile.lab] of FILE".
    origins: Vec<(String, String)>,
    /// Ids whose variable clap must not read: a flag set to 0/false/no/off/"" (off, as if
    /// unset), or a value that yields to a conflicting command-line flag.
    unset: Vec<String>,
    /// The profile's keys as `--key=value` words.
    profile_words: Vec<OsString>,
}

impl Fallbacks {
    fn given(&self, id: &str) -> bool {
        self.origins.iter().any(|(i, _)| i == id)
    }

    /// Checks every `MQTK_*` variable clap would read, each on its own.
    fn read_env(&mut self, sub: &clap::Command, words: &Words) -> Result<(), clap::Error> {
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(var) = arg.get_env() else { continue };
            let Some(value) = std::env::var_os(var) else {
                continue;
            };
            if words.typed(id) {
                continue;
            }
            let var = var.to_string_lossy();
            let shown = if arg.is_hide_env_values_set() {
                String::new()
            } else {
                format!(" {:?}", value.to_string_lossy())
            };
            check_value(arg, &value)
                .map_err(|why| usage_error(format!("invalid {var}{shown} ({why})")))?;
            let off = matches!(arg.get_action(), ArgAction::SetTrue)
                && value.to_str().and_then(|v| parse_switch(v).ok()) == Some(false);
            if off || conflicts_with_typed(sub, arg, words) {
                self.unset.push(id.to_string());
            } else {
                self.origins.push((id.to_string(), var.into_owned()));
            }
        }
        Ok(())
    }

    /// Turns `[profile.NAME]` into `--key=value` words for the connection flags that neither
    /// the command line nor the environment gave, checking each value.
    fn read_profile(
        &mut self,
        sub: &clap::Command,
        words: &Words,
        name: &str,
    ) -> Result<(), clap::Error> {
        let profile = crate::profile::load(name).map_err(usage_error)?;
        let origin = profile.origin();
        let url_given = words.typed("url") || self.given("url");
        // Before the profile's own entries count as given.
        let user_given = words.typed("username") || self.given("username") || url_given;
        for (key, value) in &profile.entries {
            let arg = find_long(sub, key)
                .filter(|a| a.get_help_heading() == Some("Connection") && a.get_id() != "profile")
                .ok_or_else(|| {
                    usage_error(format!("{key:?} in {origin} is not a connection flag"))
                })?;
            let id = arg.get_id().as_str();
            if id == PROPERTY {
                return Err(usage_error(format!(
                    "{key} in {origin}: -D properties cannot come from a profile"
                )));
            }
            // A flag switched off in the environment is given too (MQTK_DEBUG=0 beats
            // `debug = true`).
            let given = words.typed(id) || self.given(id) || self.unset.iter().any(|u| u == id);
            if given
                || (url_given && URL_PARTS.contains(&id))
                || conflicts_with_typed(sub, arg, words)
            {
                continue;
            }
            let flag = format!("--{}", arg.get_long().unwrap_or(key));
            match (value, takes_values(arg)) {
                (crate::profile::Value::Switch(false), false) => continue,
                (crate::profile::Value::Switch(true), false) => {
                    self.profile_words.push(flag.into());
                }
                (crate::profile::Value::Text(text), true) => {
                    let shown = if arg.is_hide_env_values_set() {
                        String::new()
                    } else {
                        format!(" {text:?}")
                    };
                    check_value(arg, text.as_ref()).map_err(|why| {
                        usage_error(format!("invalid {key}{shown} in {origin} ({why})"))
                    })?;
                    self.profile_words.push(format!("{flag}={text}").into());
                }
                (crate::profile::Value::Switch(_), true) => {
                    return Err(usage_error(format!(
                        "{key} in {origin} needs a value, not true or false"
                    )));
                }
                (crate::profile::Value::Text(_), false) => {
                    return Err(usage_error(format!(
                        "{key} in {origin} must be true or false"
                    )));
                }
            }
            self.origins
                .push((id.to_string(), format!("{key} in {origin}")));
        }
        if let Some(w) = crate::profile::credentials_warning(name, &self.profile_words, user_given)
        {
            eprintln!("mqtk: warning: {w}");
        }
        Ok(())
    }

    /// clap's error, with each flag whose value came from here named by its origin
    /// ("the argument MQTK_ID cannot be used with MQTK_ID_PREFIX").
    fn rename(&self, e: clap::Error, sub: &clap::Command) -> clap::Error {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            return e;
        }
        let text = e.to_string();
        let mut renamed = text.clone();
        for (id, origin) in &self.origins {
            if let Some(arg) = find_id(sub, id) {
                renamed = renamed.replace(&format!("'{arg}'"), origin);
            }
        }
        if renamed == text {
            return e;
        }
        let renamed = renamed.strip_prefix("error: ").unwrap_or(&renamed);
        clap::Error::raw(e.kind(), renamed)
    }
}

/// True when `arg` conflicts, either way round, with a flag on the command line.
fn conflicts_with_typed(sub: &clap::Command, arg: &clap::Arg, words: &Words) -> bool {
    let id = arg.get_id();
    sub.get_arg_conflicts_with(arg)
        .iter()
        .any(|c| words.typed(c.get_id().as_str()))
        || words.typed.iter().filter_map(|t| find_id(sub, t)).any(|t| {
            sub.get_arg_conflicts_with(t)
                .iter()
                .any(|c| c.get_id() == id)
        })
}

fn usage_error(message: impl std::fmt::Display) -> clap::Error {
    clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{message}\n"))
}

/// Runs `arg`'s own value parser on one value, alone, and says why it is refused. A flag's
/// value (from the environment) is a switch: 1/0, true/false, ...
fn check_value(arg: &clap::Arg, value: &std::ffi::OsStr) -> Result<(), String> {
    if !takes_values(arg) {
        let text = value.to_str().ok_or("not valid UTF-8")?;
        return parse_switch(text).map(drop);
    }
    let mut probe = clap::Arg::new("value")
        .long("value")
        .action(arg.get_action().clone())
        .value_parser(arg.get_value_parser().clone())
        .ignore_case(arg.is_ignore_case_set());
    if let Some(n) = arg.get_num_args() {
        probe = probe.num_args(n);
    }
    let mut word = OsString::from("--value=");
    word.push(value);
    clap::Command::new("mqtk")
        .disable_help_flag(true)
        .arg(probe)
        .try_get_matches_from(["mqtk".into(), word])
        .map(drop)
        .map_err(|e| reason(&e))
}

/// Why clap refused a value, without clap's name for the flag.
fn reason(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if let Some(source) = std::error::Error::source(e) {
        return source.to_string();
    }
    match (e.kind(), e.get(ContextKind::ValidValue)) {
        (ErrorKind::InvalidUtf8, _) => "not valid UTF-8".into(),
        (_, Some(ContextValue::Strings(valid))) => match valid.split_last() {
            Some((last, [])) => format!("expected {last}"),
            Some((last, rest)) => format!("expected {} or {last}", rest.join(", ")),
            None => "not a valid value".into(),
        },
        (kind, _) => kind.as_str().unwrap_or("not a valid value").into(),
    }
}

impl Command {
    /// `--quiet` of the command, when it has connection flags.
    pub fn quiet(&self) -> bool {
        match self {
            Command::Publish(a) => a.conn.quiet,
            Command::Subscribe(a) => a.conn.quiet,
            Command::Request(a) => a.conn.quiet,
            Command::Sim(a) => a.conn.quiet,
            Command::Certgen(_) | Command::Generate(_) => false,
            Command::Passwd(_) => false,
        }
    }

    fn conn_mut(&mut self) -> Option<&mut ConnArgs> {
        match self {
            Command::Publish(a) => Some(&mut a.conn),
            Command::Subscribe(a) => Some(&mut a.conn),
            Command::Request(a) => Some(&mut a.conn),
            Command::Sim(a) => Some(&mut a.conn),
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

    fn publish(args: &[&str]) -> PublishArgs {
        match parse(args)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
        {
            Command::Publish(a) => a,
            other => panic!("{other:?}"),
        }
    }

    /// The password as parsed: None (not given), Some(None) (prompt) or Some(Some(value)).
    fn password(args: &[&str]) -> Option<Option<String>> {
        publish(args)
            .conn
            .password
            .map(|p| p.map(|s| s.to_string()))
    }

    #[test]
    fn password_flag_without_value_means_prompt() {
        assert_eq!(password(&["pub", "-t", "t", "-n", "-P"]), Some(None));
        assert_eq!(password(&["pub", "-t", "t", "-n"]), None);
        assert_eq!(
            password(&["pub", "-P", "s3cret", "-t", "t", "-n"]),
            Some(Some("s3cret".into()))
        );
    }

    /// mosquitto's rule, with one exception for the prompt: the word after -P is the password
    /// unless it is exactly one of the command's options.
    #[test]
    fn the_word_after_dash_p_is_the_password_unless_it_is_an_option() {
        let value = |v: &str| Some(Some(v.to_string()));
        for (args, want) in [
            (
                &["pub", "-P", "-secret", "-t", "t", "-n"][..],
                value("-secret"),
            ),
            (&["pub", "-P", "", "-t", "t", "-n"], value("")),
            (&["pub", "-P", "-", "-t", "t", "-n"], value("-")),
            (&["pub", "-P", "-tx", "-t", "t", "-n"], value("-tx")),
            (
                &["pub", "--pw", "--secret", "-t", "t", "-n"],
                value("--secret"),
            ),
            (&["pub", "-P=-t", "-t", "t", "-n"], value("-t")),
            (&["pub", "--pw=-t", "-t", "t", "-n"], value("-t")),
            (&["pub", "-P-t", "-t", "t", "-n"], value("-t")),
            (&["pub", "-dP", "-1", "-t", "t", "-n"], value("-1")),
            (&["pub", "-P", "-t", "t", "-n"], Some(None)),
            (&["pub", "-P", "--topic", "t", "-n"], Some(None)),
            (&["pub", "-P", "--topic=t", "-n"], Some(None)),
            (&["pub", "-t", "t", "-n", "-dP"], Some(None)),
        ] {
            assert_eq!(password(args), want, "{args:?}");
        }
        let a = publish(&["pub", "-P", "-t", "t", "-n"]);
        assert_eq!(a.topic.as_deref(), Some("t"));
        let a = publish(&["pub", "-dP", "-1", "-t", "t", "-n"]);
        assert!(a.conn.debug);
    }

    /// B1: `-t -neg`, `-m -5`, `--will-payload -1`, `-D publish user-property k -1` (each
    /// "unexpected argument" before).
    #[test]
    fn values_starting_with_a_dash_are_values() {
        let a = publish(&[
            "pub",
            "-t",
            "-neg",
            "-m",
            "-5",
            "--will-topic",
            "-w",
            "--will-payload",
            "-1",
            "-i",
            "--id",
            "-D",
            "publish",
            "user-property",
            "k",
            "-1",
            "-D",
            "publish",
            "content-type",
            "-x",
            "-q",
            "1",
        ]);
        assert_eq!(a.topic.as_deref(), Some("-neg"));
        assert_eq!(
            a.source.message.as_deref(),
            Some(std::ffi::OsStr::new("-5"))
        );
        assert_eq!(a.conn.will_topic.as_deref(), Some("-w"));
        assert_eq!(a.conn.will_payload.as_deref(), Some("-1"));
        assert_eq!(a.conn.id.as_deref(), Some("--id"));
        assert_eq!(
            a.conn.properties,
            [
                vec!["publish", "user-property", "k", "-1"],
                vec!["publish", "content-type", "-x"],
            ]
        );
        assert_eq!(a.qos, 1, "the word after -D's three words is a flag again");
        let e = parse(&["pub", "-t"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{e}");
    }

    #[test]
    fn a_short_property_occurrence_is_left_to_its_own_check() {
        // Two words, then a flag: the flag is -D's third word, as in mosquitto_pub.
        let a = publish(&["pub", "-n", "-D", "publish", "content-type", "-t"]);
        assert_eq!(a.conn.properties, [vec!["publish", "content-type", "-t"]]);
        let e = parse(&["pub", "-n", "-D", "publish", "content-type", "-t", "x"]).unwrap_err();
        assert!(e.to_string().contains("unexpected argument 'x'"), "{e}");
        assert!(parse(&["pub", "-t", "t", "-n", "-D", "publish", "content-type"]).is_err());
    }

    /// The reading rules are the only difference between the parsed and the documented command.
    #[test]
    fn parsing_command_is_consistent() {
        parsing_command().debug_assert();
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let cli = parse(&["pub", "-P", "hunter2", "-t", "t", "-n"]).unwrap();
        let shown = format!("{cli:?} {:#?}", cli);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    /// Options whose value may not come from `MQTK_*`, and why.
    const NO_ENVIRONMENT: &[(&str, &str, &str)] = &[
        // A payload source is chosen per run, and they exclude each other: an exported one
        // would clash with every other source.
        ("pub", "message", "payload source"),
        ("pub", "file", "payload source"),
        ("pub", "stdin_file", "payload source"),
        ("pub", "stdin_line", "payload source"),
        ("pub", "null_message", "payload source"),
        ("rr", "message", "payload source"),
        ("rr", "file", "payload source"),
        ("rr", "stdin_file", "payload source"),
        ("rr", "null_message", "payload source"),
        // Several words per occurrence, repeated: no single variable holds that.
        ("pub", "property", "-D"),
        ("sub", "property", "-D"),
        ("rr", "property", "-D"),
        ("sim", "property", "-D"),
        // What passwd does to a file must be typed each time: an exported MQTK_CREATE would
        // truncate password files.
        ("passwd", "create", "mode"),
        ("passwd", "batch", "mode"),
        ("passwd", "delete", "mode"),
        ("passwd", "update", "mode"),
        ("passwd", "verify", "mode"),
    ];

    /// Commands that read no `MQTK_*` variable: certgen runs once to set a broker up, and a
    /// variable meant for pub and sub (MQTK_HOST) must not change the certificates it makes.
    const NO_ENVIRONMENT_COMMANDS: &[&str] = &["certgen", "generate"];

    /// Every option of pub, sub, rr and passwd has `[env: MQTK_<NAME>]`, NAME being its long
    /// name (the field name when it has none; MQTK_PASSWORD for --pw), save the list above.
    #[test]
    fn every_option_reads_the_environment() {
        let cmd = Cli::command();
        let mut checked = 0;
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            if NO_ENVIRONMENT_COMMANDS.contains(&name) {
                assert!(
                    sub.get_arguments().all(|a| a.get_env().is_none()),
                    "{name} reads the environment"
                );
                continue;
            }
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional() || id == "help" {
                    continue;
                }
                let excluded = NO_ENVIRONMENT
                    .iter()
                    .any(|(cmd, arg, _)| *cmd == name && *arg == id);
                let env = arg.get_env().and_then(|e| e.to_str());
                if excluded {
                    assert_eq!(env, None, "{name} {id} is excluded but reads {env:?}");
                    continue;
                }
                let stem = match (id, arg.get_long()) {
                    ("password", _) => "password".to_string(),
                    (_, Some(long)) => long.to_string(),
                    (id, None) => id.to_string(),
                };
                let want = format!("MQTK_{}", stem.to_uppercase().replace('-', "_"));
                assert_eq!(env, Some(want.as_str()), "{name} {id}");
                checked += 1;
            }
        }
        assert!(checked > 60, "only {checked} options checked");
        for (cmd_name, id, _) in NO_ENVIRONMENT {
            let sub = cmd.find_subcommand(cmd_name).unwrap();
            assert!(
                sub.get_arguments().any(|a| a.get_id() == *id),
                "{cmd_name} has no {id}: the list is stale"
            );
        }
    }

    /// One variable, one meaning: where commands share a variable, it is the same flag.
    #[test]
    fn a_variable_means_the_same_flag_in_every_command() {
        let cmd = Cli::command();
        let mut seen: Vec<(String, Option<char>, Option<String>)> = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(env) = arg.get_env() else { continue };
                let env = env.to_string_lossy().into_owned();
                let flag = (arg.get_short(), arg.get_long().map(str::to_owned));
                match seen.iter().find(|(e, ..)| *e == env) {
                    Some((_, s, l)) => assert_eq!((*s, l.clone()), flag, "{env}"),
                    None => seen.push((env, flag.0, flag.1)),
                }
            }
        }
    }

    #[test]
    fn flags_read_from_the_environment_take_yes_and_no() {
        for (text, want) in [
            ("1", true),
            ("yes", true),
            ("TRUE", true),
            ("on", true),
            ("0", false),
            ("", false),
            ("No", false),
            ("off", false),
        ] {
            assert_eq!(parse_switch(text), Ok(want), "{text:?}");
        }
        assert!(parse_switch("maybe").is_err());
    }

    #[test]
    fn values_are_checked_alone_with_the_reason_in_words() {
        let cmd = parsing_command();
        let sub = cmd.find_subcommand("pub").unwrap();
        let port = find_id(sub, "port").unwrap();
        assert_eq!(
            check_value(port, "abc".as_ref()),
            Err("invalid digit found in string".into())
        );
        assert_eq!(check_value(port, "1883".as_ref()), Ok(()));
        let tls = find_id(sub, "tls_version").unwrap();
        assert_eq!(
            check_value(tls, "tls1".as_ref()),
            Err("expected tlsv1.2 or tlsv1.3".into())
        );
        assert_eq!(check_value(tls, "TLSv1.3".as_ref()), Ok(()));
        let debug = find_id(sub, "debug").unwrap();
        assert!(check_value(debug, "maybe".as_ref()).is_err());
        assert_eq!(check_value(debug, "".as_ref()), Ok(()));
        let pw = find_id(sub, "password").unwrap();
        assert_eq!(check_value(pw, "-sekrit".as_ref()), Ok(()));
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
