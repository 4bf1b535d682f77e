//! How `sub` and `rr` print a received message: the default and `-v` lines, mosquitto_sub's `-F`
//! format strings, `%j`/`%J` JSON, and our own `--format json|hex|base64` and `--pretty`.
//!
//! Everything here is pure: an [`Output`] is compiled once from the options (a bad format string
//! is a usage error before any connection is made), then [`Output::write`] appends one rendered
//! message to a buffer, so the caller decides when to write and flush.
//!
//! Where mosquitto_sub 2.0 is wrong we deliberately differ (each difference is pinned by a test
//! below): a field width pads but never truncates a payload (`%5p`, `%18x`), while a precision
//! does, as printf's `%.10s` (`%.10p`; mosquitto ignores it); `%I` and `tst` are
//! valid RFC 3339 timestamps (2.0.11 prints `…Z+0000`); `%j` keeps binary payloads (base64 plus
//! `"payload_encoding":"base64"`) and always emits valid UTF-8 JSON; user properties are an array
//! of pairs, so duplicate names survive a JSON parser.

use std::fmt::Write as _;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, Local, SecondsFormat, Utc};

/// One received message, as the formatter sees it (filled in from the MQTT packet by the
/// printer of `sub` and `rr`).
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    /// Packet identifier; 0 for QoS 0.
    pub mid: u16,
    /// `None` on MQTT 3.1.1.
    pub properties: Option<&'a Properties>,
    pub received: SystemTime,
}

/// The MQTT v5 PUBLISH properties a subscriber can see, in the order they are printed.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub topic_alias: Option<u16>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    /// Several when overlapping subscriptions with different identifiers match.
    pub subscription_identifiers: Vec<u32>,
    /// In packet order, duplicates kept.
    pub user_properties: Vec<(String, String)>,
}

impl Properties {
    fn is_empty(&self) -> bool {
        *self == Properties::default()
    }
}

/// `--format`: what a message becomes when no `-F` string is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputKind {
    /// The payload bytes as they are (`-v` prefixes the topic).
    #[default]
    Plain,
    /// One JSON object per message.
    Json,
    /// The payload as lowercase hex.
    Hex,
    /// The payload as standard, padded base64.
    Base64,
}

impl OutputKind {
    fn name(self) -> &'static str {
        match self {
            OutputKind::Plain => "plain",
            OutputKind::Json => "json",
            OutputKind::Hex => "hex",
            OutputKind::Base64 => "base64",
        }
    }
}

/// The time zone timestamps are shown in. Injectable so that tests do not depend on the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Zone {
    /// The machine's local time (as mosquitto_sub), looked up per message so DST changes apply.
    #[default]
    Local,
    Fixed(FixedOffset),
}

impl Zone {
    fn at(self, t: SystemTime) -> DateTime<FixedOffset> {
        let utc = DateTime::<Utc>::from(t);
        match self {
            Zone::Local => utc.with_timezone(&Local).fixed_offset(),
            Zone::Fixed(offset) => utc.with_timezone(&offset),
        }
    }
}

/// The output options as the user gave them.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputSpec<'a> {
    /// `-v`: prefix the topic (ignored by `-F` and `--format json`).
    pub verbose: bool,
    /// `-N`: no newline after each message.
    pub no_newline: bool,
    /// `-F`: a mosquitto_sub format string.
    pub format_string: Option<&'a str>,
    /// `--format`.
    pub kind: OutputKind,
    /// `--pretty`: indent JSON output (`%j`, `%J`, `--format json`) by two spaces.
    pub pretty: bool,
    pub zone: Zone,
}

/// Why a set of output options cannot be used. Every variant is a usage error (exit 2); the
/// message names the offending text and its column (1-based, in characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("incomplete format specifier \"{text}\" at the end of the format string")]
    IncompleteSpecifier { text: String },
    #[error("invalid format specifier {spec:?} in {text:?} at column {column}")]
    InvalidSpecifier {
        spec: char,
        text: String,
        column: usize,
    },
    #[error(
        "field width or precision too large in {text:?} at column {column} (at most {MAX_WIDTH})"
    )]
    WidthTooLarge { text: String, column: usize },
    #[error("incomplete escape specifier \"\\\" at the end of the format string")]
    IncompleteEscape,
    #[error("invalid escape specifier {spec:?} in \"\\{}\" at column {column}", spec.escape_debug())]
    InvalidEscape { spec: char, column: usize },
    #[error("incomplete time specifier \"@\" at the end of the format string")]
    IncompleteTime,
    #[error(
        "invalid time specifier {spec:?} in \"@{}\" at column {column} (see strftime(3))",
        spec.escape_debug()
    )]
    InvalidTime { spec: char, column: usize },
    #[error(
        "%{spec} takes no flags, width or precision: {text:?} at column {column} (a JSON \
         object cannot be padded or cut)"
    )]
    JsonField {
        spec: char,
        text: String,
        column: usize,
    },
    #[error("-F cannot be combined with --format {kind}")]
    Conflict { kind: &'static str },
}

/// `%J` met a payload that is not JSON. Nothing was appended for that message; the caller
/// reports this on stderr and carries on with the next message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("payload on topic {topic} is not valid JSON ({reason})")]
pub struct NotJson {
    pub topic: String,
    pub reason: String,
}

/// Widths beyond this are surely a typo; refusing them keeps a format string from asking for
/// gigabytes of padding per message.
const MAX_WIDTH: usize = 65_535;

/// Compiled output options: build once with [`Output::new`], then [`Output::write`] per message.
#[derive(Debug)]
pub struct Output {
    mode: Mode,
    newline: bool,
    pretty: bool,
    zone: Zone,
}

#[derive(Debug)]
enum Mode {
    Plain { verbose: bool },
    Hex { verbose: bool },
    Base64 { verbose: bool },
    Json,
    Template(Vec<Piece>),
}

/// One parsed element of a `-F` string.
#[derive(Debug)]
enum Piece {
    /// Plain text, `%%`, `@@` and `\` escapes, merged.
    Literal(Vec<u8>),
    Field(Spec, Field),
    /// `@X`: strftime on the receive time.
    Time(Vec<Item<'static>>),
    /// `@N`: nanoseconds of the receive time, 9 digits.
    Nanos,
}

/// Flags, width and precision of one `%` specifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Field {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    Topic,
    Payload,
    Hex { upper: bool },
    Length,
    Mid,
    Qos,
    Retain,
    Iso,
    Unix,
    Json { embed: bool },
    TopicAlias,
    ContentType,
    CorrelationData,
    ExpiryInterval,
    FormatIndicator,
    UserProperties,
    ResponseTopic,
    SubscriptionId,
}

impl Spec {
    fn from_char(c: char) -> Option<Spec> {
        Some(match c {
            't' => Spec::Topic,
            'p' => Spec::Payload,
            'x' => Spec::Hex { upper: false },
            'X' => Spec::Hex { upper: true },
            'l' => Spec::Length,
            'm' => Spec::Mid,
            'q' => Spec::Qos,
            'r' => Spec::Retain,
            'I' => Spec::Iso,
            'U' => Spec::Unix,
            'j' => Spec::Json { embed: false },
            'J' => Spec::Json { embed: true },
            'A' => Spec::TopicAlias,
            'C' => Spec::ContentType,
            'D' => Spec::CorrelationData,
            'E' => Spec::ExpiryInterval,
            'F' => Spec::FormatIndicator,
            'P' => Spec::UserProperties,
            'R' => Spec::ResponseTopic,
            'S' => Spec::SubscriptionId,
            _ => return None,
        })
    }
}

impl Output {
    /// Validates and compiles the options. `-F` takes precedence over `-v` (as in mosquitto_sub)
    /// but cannot be combined with a `--format` other than plain.
    pub fn new(spec: OutputSpec<'_>) -> Result<Output, FormatError> {
        let mode = match (spec.format_string, spec.kind) {
            (Some(_), kind) if kind != OutputKind::Plain => {
                return Err(FormatError::Conflict { kind: kind.name() });
            }
            (Some(format), _) => Mode::Template(parse(format)?),
            (None, OutputKind::Plain) => Mode::Plain {
                verbose: spec.verbose,
            },
            (None, OutputKind::Hex) => Mode::Hex {
                verbose: spec.verbose,
            },
            (None, OutputKind::Base64) => Mode::Base64 {
                verbose: spec.verbose,
            },
            (None, OutputKind::Json) => Mode::Json,
        };
        Ok(Output {
            mode,
            newline: !spec.no_newline,
            pretty: spec.pretty,
            zone: spec.zone,
        })
    }

    /// Appends `msg` as configured, including the trailing newline unless `-N`.
    ///
    /// The only failure is `%J` on a payload that is not JSON; then `out` is left as it was, so
    /// the message is skipped as a whole rather than printed half (mosquitto_sub prints the rest
    /// of the format string around the missing JSON).
    pub fn write(&self, msg: &Message<'_>, out: &mut Vec<u8>) -> Result<(), NotJson> {
        match &self.mode {
            Mode::Plain { verbose: false } => {
                // As mosquitto_sub: a zero-length message (typically a retained message being
                // cleared) prints nothing at all, not even the newline.
                if msg.payload.is_empty() {
                    return Ok(());
                }
                out.extend_from_slice(msg.payload);
            }
            Mode::Plain { verbose: true } => {
                out.extend_from_slice(msg.topic.as_bytes());
                out.push(b' ');
                if msg.payload.is_empty() {
                    // mosquitto_sub -v -N prints nothing for an empty payload; we print the
                    // `(null)` marker either way, so -N does not lose messages.
                    out.extend_from_slice(b"(null)");
                } else {
                    out.extend_from_slice(msg.payload);
                }
            }
            Mode::Hex { verbose } => {
                if *verbose {
                    out.extend_from_slice(msg.topic.as_bytes());
                    out.push(b' ');
                }
                push_hex(out, msg.payload, false);
            }
            Mode::Base64 { verbose } => {
                if *verbose {
                    out.extend_from_slice(msg.topic.as_bytes());
                    out.push(b' ');
                }
                push_base64(out, msg.payload);
            }
            Mode::Json => {
                let received = self.zone.at(msg.received);
                self.json(out, |buf| {
                    json_line(buf, msg, received);
                    Ok(())
                })?;
            }
            Mode::Template(pieces) => {
                let start = out.len();
                if let Err(e) = self.render(pieces, msg, out) {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        if self.newline {
            out.push(b'\n');
        }
        Ok(())
    }

    fn render(
        &self,
        pieces: &[Piece],
        msg: &Message<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), NotJson> {
        let mut clock = Clock::new(self.zone, msg.received);
        let props = msg.properties;
        for piece in pieces {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                Piece::Nanos => {
                    let nanos = clock.get().timestamp_subsec_nanos();
                    push_fmt(out, format_args!("{nanos:09}"));
                }
                Piece::Time(items) => {
                    // Format into a String: a Display error must not panic inside io::Write.
                    let mut s = String::new();
                    let _ = write!(s, "{}", clock.get().format_with_items(items.iter()));
                    out.extend_from_slice(s.as_bytes());
                }
                Piece::Field(spec, f) => match *spec {
                    Spec::Topic => pad_text(out, msg.topic, f),
                    Spec::Payload => pad_bytes(out, msg.payload, f),
                    Spec::Hex { upper } => pad_hex(out, msg.payload, upper, f),
                    Spec::Length => pad_num(out, msg.payload.len() as u64, f),
                    Spec::Mid => pad_num(out, msg.mid, f),
                    Spec::Qos => pad_num(out, msg.qos, f),
                    Spec::Retain => pad_num(out, u8::from(msg.retain), f),
                    Spec::Iso => {
                        // RFC 3339 (`+02:00`), not strftime's `%z` (`+0200`), which ISO 8601
                        // parsers in other languages reject when mixed with the extended form.
                        let t = clock.get().to_rfc3339_opts(SecondsFormat::Secs, false);
                        pad_text(out, &t, f)
                    }
                    Spec::Unix => {
                        let t = clock.get();
                        let s = format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos());
                        pad_text(out, &s, f)
                    }
                    // `parse` refuses flags, width and precision here.
                    Spec::Json { embed } => {
                        let tst = clock.get();
                        self.json(out, |buf| json_template(buf, msg, tst, embed))?
                    }
                    // An absent property prints `width` spaces, so columns stay aligned.
                    // (mosquitto pads absent numbers with the `0` flag's zeros, which reads as a
                    // value, and prints nothing at all for an absent %R or %D.)
                    Spec::TopicAlias => match props.and_then(|p| p.topic_alias) {
                        Some(v) => pad_num(out, v, f),
                        None => blank(out, f.width),
                    },
                    Spec::ContentType => match props.and_then(|p| p.content_type.as_deref()) {
                        Some(v) => pad_text(out, v, f),
                        None => blank(out, f.width),
                    },
                    Spec::CorrelationData => {
                        match props.and_then(|p| p.correlation_data.as_deref()) {
                            Some(v) => pad_bytes(out, v, f),
                            None => blank(out, f.width),
                        }
                    }
                    Spec::ExpiryInterval => match props.and_then(|p| p.message_expiry_interval) {
                        Some(v) => pad_num(out, v, f),
                        None => blank(out, f.width),
                    },
                    Spec::FormatIndicator => match props.and_then(|p| p.payload_format_indicator) {
                        Some(v) => pad_num(out, v, f),
                        None => blank(out, f.width),
                    },
                    Spec::ResponseTopic => match props.and_then(|p| p.response_topic.as_deref()) {
                        Some(v) => pad_text(out, v, f),
                        None => blank(out, f.width),
                    },
                    Spec::UserProperties => {
                        let mut s = String::new();
                        for (i, (k, v)) in props.iter().flat_map(|p| &p.user_properties).enumerate()
                        {
                            if i > 0 {
                                s.push(' ');
                            }
                            let _ = write!(s, "{k}:{v}");
                        }
                        pad_text(out, &s, f)
                    }
                    // mosquitto shows only the first identifier; a message matching several
                    // subscriptions carries them all, so we list them, comma-separated.
                    Spec::SubscriptionId => match props.map(|p| &p.subscription_identifiers[..]) {
                        Some(ids) if !ids.is_empty() => {
                            let mut s = String::new();
                            for (i, id) in ids.iter().enumerate() {
                                let sep = if i > 0 { "," } else { "" };
                                let _ = write!(s, "{sep}{id}");
                            }
                            // A list, not a number: the precision cuts it (ASCII only).
                            let s = &s[..f.precision.map_or(s.len(), |p| p.min(s.len()))];
                            pad(out, s.len(), f, true, |o| o.extend_from_slice(s.as_bytes()))
                        }
                        _ => blank(out, f.width),
                    },
                },
            }
        }
        Ok(())
    }

    /// Builds one compact JSON value with `build`, then copies it to `out`, re-indented when
    /// `--pretty` is on. Building compact first keeps a single code path for both layouts and
    /// lets an embedded `%J` payload be indented along with its surroundings.
    fn json(
        &self,
        out: &mut Vec<u8>,
        build: impl FnOnce(&mut Vec<u8>) -> Result<(), NotJson>,
    ) -> Result<(), NotJson> {
        if self.pretty {
            let mut compact = Vec::new();
            build(&mut compact)?;
            reformat(&compact, true, out);
            Ok(())
        } else {
            build(out)
        }
    }
}

/// The receive time in the output zone, converted at most once per message (the local zone
/// lookup is not free, and most format strings never need it).
struct Clock {
    zone: Zone,
    received: SystemTime,
    cached: Option<DateTime<FixedOffset>>,
}

impl Clock {
    fn new(zone: Zone, received: SystemTime) -> Clock {
        Clock {
            zone,
            received,
            cached: None,
        }
    }

    fn get(&mut self) -> DateTime<FixedOffset> {
        *self
            .cached
            .get_or_insert_with(|| self.zone.at(self.received))
    }
}

/// Parses a `-F` string. The grammar is mosquitto_sub's: `%` then optional flags `-` and `0`,
/// an optional width, an optional `.precision`, then the specifier; `@X` is strftime's `%X`;
/// `\` starts an escape. Everything is checked here so that printing cannot fail.
fn parse(format: &str) -> Result<Vec<Piece>, FormatError> {
    let chars: Vec<(usize, char)> = format.char_indices().collect();
    let text_from = |i: usize, end: usize| -> String {
        let from = chars[i].0;
        let to = chars.get(end).map_or(format.len(), |&(b, _)| b);
        format[from..to].to_owned()
    };
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let push = |pieces: &mut Vec<Piece>, literal: &mut Vec<u8>, piece: Piece| {
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(literal)));
        }
        pieces.push(piece);
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        match c {
            '%' => {
                let start = i;
                let mut f = Field::default();
                i += 1;
                // mosquitto accepts one flag; printf-style, we accept both in either order.
                while let Some(&(_, flag @ ('-' | '0'))) = chars.get(i) {
                    if flag == '-' {
                        f.left = true;
                    } else {
                        f.zero = true;
                    }
                    i += 1;
                }
                let mut too_large = false;
                let mut number = |i: &mut usize| -> usize {
                    let mut n: usize = 0;
                    while let Some(d) = chars.get(*i).and_then(|&(_, c)| c.to_digit(10)) {
                        n = n.saturating_mul(10).saturating_add(d as usize);
                        too_large |= n > MAX_WIDTH;
                        *i += 1;
                    }
                    n
                };
                f.width = number(&mut i);
                if chars.get(i).is_some_and(|&(_, c)| c == '.') {
                    i += 1;
                    f.precision = Some(number(&mut i));
                }
                let Some(&(_, spec_char)) = chars.get(i) else {
                    return Err(FormatError::IncompleteSpecifier {
                        text: text_from(start, i),
                    });
                };
                if too_large {
                    return Err(FormatError::WidthTooLarge {
                        text: text_from(start, i + 1),
                        column: start + 1,
                    });
                }
                if spec_char == '%' {
                    literal.push(b'%');
                } else if let Some(spec) = Spec::from_char(spec_char) {
                    if matches!(spec, Spec::Json { .. }) && i != start + 1 {
                        return Err(FormatError::JsonField {
                            spec: spec_char,
                            text: text_from(start, i + 1),
                            column: start + 1,
                        });
                    }
                    push(&mut pieces, &mut literal, Piece::Field(spec, f));
                } else {
                    return Err(FormatError::InvalidSpecifier {
                        spec: spec_char,
                        text: text_from(start, i + 1),
                        column: start + 1,
                    });
                }
            }
            '@' => {
                let Some(&(_, t)) = chars.get(i + 1) else {
                    return Err(FormatError::IncompleteTime);
                };
                match t {
                    '@' => literal.push(b'@'),
                    'N' => push(&mut pieces, &mut literal, Piece::Nanos),
                    _ => {
                        let items = strftime_items(t).ok_or(FormatError::InvalidTime {
                            spec: t,
                            column: i + 1,
                        })?;
                        push(&mut pieces, &mut literal, Piece::Time(items));
                    }
                }
                i += 1;
            }
            '\\' => {
                let Some(&(_, e)) = chars.get(i + 1) else {
                    return Err(FormatError::IncompleteEscape);
                };
                literal.push(match e {
                    '\\' => b'\\',
                    '0' => 0,
                    'a' => 0x07,
                    'e' => 0x1b,
                    'n' => b'\n',
                    'r' => b'\r',
                    't' => b'\t',
                    'v' => 0x0b,
                    _ => {
                        return Err(FormatError::InvalidEscape {
                            spec: e,
                            column: i + 1,
                        });
                    }
                });
                i += 1;
            }
            _ => {
                let mut buf = [0; 4];
                literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        i += 1;
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// chrono's items for strftime `%<c>`, or `None` when chrono does not know the conversion.
/// Each is tried once on a sample date so that no conversion can fail later, per message.
fn strftime_items(c: char) -> Option<Vec<Item<'static>>> {
    let pattern = format!("%{c}");
    let items = StrftimeItems::new(&pattern).parse_to_owned().ok()?;
    let sample = DateTime::<Utc>::UNIX_EPOCH.fixed_offset();
    let mut s = String::new();
    write!(s, "{}", sample.format_with_items(items.iter())).ok()?;
    Some(items)
}

fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail, and every Display used here is infallible.
    out.write_fmt(args)
        .expect("formatting into a Vec<u8> cannot fail");
}

fn blank(out: &mut Vec<u8>, width: usize) {
    out.resize(out.len() + width, b' ');
}

/// Writes `body` (which produces `len` columns) padded to the field width. Never truncates.
fn pad(out: &mut Vec<u8>, len: usize, f: &Field, zero_ok: bool, body: impl FnOnce(&mut Vec<u8>)) {
    let fill = f.width.saturating_sub(len);
    if !f.left {
        let c = if f.zero && zero_ok { b'0' } else { b' ' };
        out.resize(out.len() + fill, c);
    }
    body(out);
    if f.left {
        blank(out, fill);
    }
}

/// Text fields (%t %C %R %I %U %P): the precision is a maximum number of characters (as
/// printf's `%.Ns`, but counting characters, so a multi-byte character is never cut in half);
/// padding is always spaces.
fn pad_text(out: &mut Vec<u8>, s: &str, f: &Field) {
    let s = match f.precision.and_then(|p| s.char_indices().nth(p)) {
        Some((end, _)) => &s[..end],
        None => s,
    };
    pad(out, s.chars().count(), f, false, |o| {
        o.extend_from_slice(s.as_bytes())
    });
}

/// Numeric fields, as printf's `%d`: `0` pads with zeros, and a precision is the minimum number
/// of digits (`%.3q` is `001`), which turns the `0` flag off. Unlike printf, `%.0m` still
/// prints a zero.
fn pad_num(out: &mut Vec<u8>, n: impl Into<u64>, f: &Field) {
    let s = n.into().to_string();
    let digits = f.precision.map_or(s.len(), |p| p.max(s.len()));
    pad(out, digits, f, f.precision.is_none(), |o| {
        o.resize(o.len() + (digits - s.len()), b'0');
        o.extend_from_slice(s.as_bytes())
    });
}

/// Payload-like fields (%p %D): the width and the precision count characters when the bytes are
/// UTF-8 (so columns line up and a character is never cut in half), bytes otherwise. The
/// precision cuts (`%.10p`: at most 10 characters); the width only pads. (mosquitto 2.0 cut
/// the payload to the width and ignored the precision.)
fn pad_bytes(out: &mut Vec<u8>, bytes: &[u8], f: &Field) {
    let (bytes, len) = match std::str::from_utf8(bytes) {
        Ok(s) => {
            let end = f
                .precision
                .and_then(|p| s.char_indices().nth(p))
                .map_or(s.len(), |(end, _)| end);
            (&bytes[..end], s[..end].chars().count())
        }
        Err(_) => {
            let end = f.precision.map_or(bytes.len(), |p| p.min(bytes.len()));
            (&bytes[..end], end)
        }
    };
    pad(out, len, f, true, |o| o.extend_from_slice(bytes));
}

/// %x %X: two digits per payload byte; the precision is the maximum number of digits
/// (`%.4x`: the first two bytes), the width pads.
fn pad_hex(out: &mut Vec<u8>, bytes: &[u8], upper: bool, f: &Field) {
    let digits = f
        .precision
        .map_or(2 * bytes.len(), |p| p.min(2 * bytes.len()));
    pad(out, digits, f, true, |o| {
        let start = o.len();
        push_hex(o, &bytes[..digits.div_ceil(2)], upper);
        o.truncate(start + digits);
    });
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8], upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.reserve(2 * bytes.len());
    for &b in bytes {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 0x0f)]);
    }
}

fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(BASE64.encode(bytes).as_bytes());
}

// ---------------------------------------------------------------------------------------------
// JSON
//
// Objects are written by hand (not through serde_json::Value) because the key order is part of
// the contract and Value sorts keys; strings go through serde_json for correct escaping.

/// Writes a compact JSON object key by key.
struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    fn open(out: &'o mut Vec<u8>) -> Obj<'o> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` and returns the buffer for the value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        push_json_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        push_json_str(self.key(key), value);
    }

    fn num(&mut self, key: &str, value: impl Into<u64>) {
        let value = value.into();
        push_fmt(self.key(key), format_args!("{value}"));
    }

    fn raw(&mut self, key: &str, value: &str) {
        self.key(key).extend_from_slice(value.as_bytes());
    }

    /// Bytes as a JSON string when they are UTF-8, else base64 plus `<key><suffix>: "base64"`
    /// — so a binary payload is never lost or mangled, and the output is always valid UTF-8.
    fn bytes(&mut self, key: &str, value: &[u8], encoding_suffix: &str) {
        match std::str::from_utf8(value) {
            Ok(s) => self.str(key, s),
            Err(_) => {
                let encoded = BASE64.encode(value);
                self.str(key, &encoded);
                self.str(&format!("{key}{encoding_suffix}"), "base64");
            }
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("serialising a str into a Vec<u8> cannot fail");
}

/// `%j` / `%J`: mosquitto's layout — `tst`, `topic`, `qos`, `retain` (0/1), `payloadlen`, `mid`
/// (QoS > 0 only), `properties` (v5, when there are any), then the payload.
fn json_template(
    out: &mut Vec<u8>,
    msg: &Message<'_>,
    tst: DateTime<FixedOffset>,
    embed: bool,
) -> Result<(), NotJson> {
    let mut obj = Obj::open(out);
    obj.str("tst", &tst.to_rfc3339_opts(SecondsFormat::Micros, false));
    obj.str("topic", msg.topic);
    obj.num("qos", msg.qos);
    obj.num("retain", u8::from(msg.retain));
    obj.num("payloadlen", msg.payload.len() as u64);
    if msg.qos > 0 {
        obj.num("mid", msg.mid);
    }
    if let Some(props) = msg.properties.filter(|p| !p.is_empty()) {
        json_properties(obj.key("properties"), props);
    }
    if msg.payload.is_empty() {
        obj.raw("payload", "null");
    } else if embed {
        let json = std::str::from_utf8(msg.payload)
            .map_err(|_| "not UTF-8".to_owned())
            .and_then(|s| {
                serde_json::from_str::<serde::de::IgnoredAny>(s).map_err(|e| e.to_string())?;
                Ok(s)
            })
            .map_err(|reason| NotJson {
                topic: msg.topic.to_owned(),
                reason,
            })?;
        // Embedded as written (key order, duplicate keys and number precision kept), with
        // its whitespace removed so the message stays on one line.
        reformat(json.as_bytes(), false, obj.key("payload"));
    } else {
        obj.bytes("payload", msg.payload, "_encoding");
    }
    obj.close();
    Ok(())
}

/// `--format json`: `topic`, `payload` (+ `payload_encoding`), `qos`, `retain` (boolean), `mid`
/// (always, 0 for QoS 0, so every line has the same shape), `properties` (v5, when there are
/// any), `received`. Unlike `%j` an empty payload is `""`: the payload is always a string.
fn json_line(out: &mut Vec<u8>, msg: &Message<'_>, received: DateTime<FixedOffset>) {
    let mut obj = Obj::open(out);
    obj.str("topic", msg.topic);
    obj.bytes("payload", msg.payload, "_encoding");
    obj.num("qos", msg.qos);
    obj.raw("retain", if msg.retain { "true" } else { "false" });
    obj.num("mid", msg.mid);
    if let Some(props) = msg.properties.filter(|p| !p.is_empty()) {
        json_properties(obj.key("properties"), props);
    }
    obj.str(
        "received",
        &received.to_rfc3339_opts(SecondsFormat::Micros, false),
    );
    obj.close();
}

/// The v5 properties, named as in mosquitto's JSON and in `-D` (`content-type`, ...).
fn json_properties(out: &mut Vec<u8>, p: &Properties) {
    let mut obj = Obj::open(out);
    if let Some(v) = p.payload_format_indicator {
        obj.num("payload-format-indicator", v);
    }
    if let Some(v) = p.message_expiry_interval {
        obj.num("message-expiry-interval", v);
    }
    if let Some(v) = &p.content_type {
        obj.str("content-type", v);
    }
    if let Some(v) = &p.response_topic {
        obj.str("response-topic", v);
    }
    if let Some(v) = &p.correlation_data {
        obj.bytes("correlation-data", v, "-encoding");
    }
    match p.subscription_identifiers[..] {
        [] => {}
        [id] => obj.num("subscription-identifier", id),
        ref ids => {
            let out = obj.key("subscription-identifier");
            out.push(b'[');
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_fmt(out, format_args!("{id}"));
            }
            out.push(b']');
        }
    }
    if let Some(v) = p.topic_alias {
        obj.num("topic-alias", v);
    }
    if !p.user_properties.is_empty() {
        // An array of [name, value] pairs: names repeat, and an object with duplicate keys
        // (mosquitto 2.0) loses all but the last one in every JSON parser.
        let out = obj.key("user-properties");
        out.push(b'[');
        for (i, (k, v)) in p.user_properties.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            push_json_str(out, k);
            out.push(b',');
            push_json_str(out, v);
            out.push(b']');
        }
        out.push(b']');
    }
    obj.close();
}

/// Copies valid JSON text, dropping the whitespace between tokens; with `pretty`, lays it out
/// with two-space indentation, `"key": value`, one element per line and `{}`/`[]` for empty
/// containers (serde_json's pretty style). Working on the text rather than on a parsed value
/// keeps key order, duplicate keys and the exact digits of numbers.
fn reformat(json: &[u8], pretty: bool, out: &mut Vec<u8>) {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
    fn is_space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | b'\r')
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        i += 1;
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            _ if is_space(b) => {}
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                let close = if b == b'{' { b'}' } else { b']' };
                let next = json[i..].iter().position(|&c| !is_space(c)).map(|n| i + n);
                if let Some(n) = next.filter(|&n| json[n] == close) {
                    out.push(close);
                    i = n + 1;
                } else {
                    depth += 1;
                    if pretty {
                        newline(out, depth);
                    }
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if pretty {
                    newline(out, depth);
                }
                out.push(b);
            }
            b',' => {
                out.push(b);
                if pretty {
                    newline(out, depth);
                }
            }
            b':' => {
                out.push(b);
                if pretty {
                    out.push(b' ');
                }
            }
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2026-11-24T21:06:17.321966372Z, the receive time of mosquitto's documented examples.
    fn received() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_795_554_377, 321_966_372)
    }

    fn utc() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(0).unwrap())
    }

    fn plus2() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(2 * 3600).unwrap())
    }

    const TOPIC: &str = "02/sub/format/test";

    /// As mosquitto's 02-subscribe-format test: payload "message", retained, QoS 0.
    fn v311(payload: &[u8]) -> Message<'_> {
        Message {
            topic: TOPIC,
            payload,
            qos: 0,
            retain: true,
            mid: 0,
            properties: None,
            received: received(),
        }
    }

    fn all_properties() -> Properties {
        Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(59),
            topic_alias: Some(3),
            content_type: Some("plain/text".into()),
            response_topic: Some("/dev/null".into()),
            correlation_data: Some(b"c123".to_vec()),
            subscription_identifiers: vec![56],
            user_properties: ["4", "3", "1", "2"]
                .iter()
                .map(|v| ("name".into(), (*v).into()))
                .collect(),
        }
    }

    fn v5<'a>(payload: &'a [u8], props: &'a Properties) -> Message<'a> {
        Message {
            qos: 1,
            mid: 7,
            retain: false,
            properties: Some(props),
            ..v311(payload)
        }
    }

    fn output(spec: OutputSpec<'_>) -> Output {
        Output::new(OutputSpec {
            zone: utc(),
            ..spec
        })
        .unwrap()
    }

    fn render(out: &Output, msg: &Message<'_>) -> String {
        let mut buf = Vec::new();
        out.write(msg, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// `-F format -N` on `msg`, in UTC.
    fn fmt(format: &str, msg: &Message<'_>) -> String {
        render(
            &output(OutputSpec {
                format_string: Some(format),
                no_newline: true,
                ..Default::default()
            }),
            msg,
        )
    }

    fn parse_err(format: &str) -> FormatError {
        Output::new(OutputSpec {
            format_string: Some(format),
            ..Default::default()
        })
        .unwrap_err()
    }

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }

    // ---- default, -v, -N ---------------------------------------------------------------------

    #[test]
    fn default_is_payload_and_newline() {
        let out = output(OutputSpec::default());
        assert_eq!(render(&out, &v311(b"message")), "message\n");
    }

    #[test]
    fn default_prints_nothing_for_an_empty_payload() {
        let out = output(OutputSpec::default());
        assert_eq!(render(&out, &v311(b"")), "");
    }

    #[test]
    fn default_copies_binary_payloads_raw() {
        let out = output(OutputSpec::default());
        let mut buf = Vec::new();
        out.write(&v311(&[0, 0xff, 0]), &mut buf).unwrap();
        assert_eq!(buf, [0, 0xff, 0, b'\n']);
    }

    #[test]
    fn verbose_is_topic_space_payload() {
        let out = output(OutputSpec {
            verbose: true,
            ..Default::default()
        });
        assert_eq!(
            render(&out, &v311(b"message")),
            "02/sub/format/test message\n"
        );
    }

    #[test]
    fn verbose_prints_null_for_an_empty_payload() {
        let out = output(OutputSpec {
            verbose: true,
            ..Default::default()
        });
        assert_eq!(render(&out, &v311(b"")), "02/sub/format/test (null)\n");
        let out = output(OutputSpec {
            verbose: true,
            no_newline: true,
            ..Default::default()
        });
        assert_eq!(render(&out, &v311(b"")), "02/sub/format/test (null)");
    }

    #[test]
    fn no_newline_applies_to_every_kind() {
        for kind in [
            OutputKind::Plain,
            OutputKind::Hex,
            OutputKind::Base64,
            OutputKind::Json,
        ] {
            let out = output(OutputSpec {
                kind,
                no_newline: true,
                ..Default::default()
            });
            let s = render(&out, &v311(b"message"));
            assert!(!s.ends_with('\n'), "{kind:?}: {s:?}");
            let out = output(OutputSpec {
                kind,
                ..Default::default()
            });
            let s = render(&out, &v311(b"message"));
            assert!(
                s.ends_with('\n') && s.matches('\n').count() == 1,
                "{kind:?}: {s:?}"
            );
        }
        assert_eq!(fmt("%p", &v311(b"message")), "message");
        let out = output(OutputSpec {
            format_string: Some("%p"),
            ..Default::default()
        });
        assert_eq!(render(&out, &v311(b"message")), "message\n");
    }

    #[test]
    fn format_string_overrides_verbose() {
        let out = output(OutputSpec {
            verbose: true,
            format_string: Some("%p"),
            ..Default::default()
        });
        assert_eq!(render(&out, &v311(b"message")), "message\n");
    }

    #[test]
    fn write_appends_to_what_is_already_there() {
        let out = output(OutputSpec::default());
        let mut buf = b"earlier\n".to_vec();
        out.write(&v311(b"message"), &mut buf).unwrap();
        assert_eq!(buf, b"earlier\nmessage\n");
    }

    // ---- --format hex / base64 ------------------------------------------------------------------

    #[test]
    fn hex_and_base64() {
        let bin = [0u8, 0xff, 0];
        let hex = output(OutputSpec {
            kind: OutputKind::Hex,
            ..Default::default()
        });
        assert_eq!(render(&hex, &v311(b"message")), "6d657373616765\n");
        assert_eq!(render(&hex, &v311(&bin)), "00ff00\n");
        assert_eq!(render(&hex, &v311(b"")), "\n");
        let b64 = output(OutputSpec {
            kind: OutputKind::Base64,
            ..Default::default()
        });
        assert_eq!(render(&b64, &v311(b"message")), "bWVzc2FnZQ==\n");
        assert_eq!(render(&b64, &v311(&bin)), "AP8A\n");
        assert_eq!(render(&b64, &v311(b"")), "\n");
    }

    #[test]
    fn hex_and_base64_with_verbose_prefix_the_topic() {
        let hex = output(OutputSpec {
            kind: OutputKind::Hex,
            verbose: true,
            ..Default::default()
        });
        assert_eq!(
            render(&hex, &v311(&[0, 0xff, 0])),
            "02/sub/format/test 00ff00\n"
        );
        let b64 = output(OutputSpec {
            kind: OutputKind::Base64,
            verbose: true,
            ..Default::default()
        });
        assert_eq!(
            render(&b64, &v311(&[0, 0xff, 0])),
            "02/sub/format/test AP8A\n"
        );
    }

    // ---- -F specifiers ------------------------------------------------------------------------

    /// Every specifier on a v3.1.1 message and on a v5 message with every property, with the
    /// results of mosquitto's own test where it has one (and our fixes where 2.0 is wrong).
    #[test]
    fn every_specifier_on_v311_and_v5() {
        let props = all_properties();
        let cases: &[(&str, &str, &str)] = &[
            // (format, v3.1.1, v5)
            ("%%", "%", "%"),
            ("text", "text", "text"),
            ("%t", TOPIC, TOPIC),
            ("%.20t", TOPIC, TOPIC),
            ("%-.20t", TOPIC, TOPIC),
            ("%20t", "  02/sub/format/test", "  02/sub/format/test"),
            ("%-20t", "02/sub/format/test  ", "02/sub/format/test  "),
            ("%10.10t", "02/sub/for", "02/sub/for"),
            ("%20.10t", "          02/sub/for", "          02/sub/for"),
            ("%-20.10t", "02/sub/for          ", "02/sub/for          "),
            ("%020t", "  02/sub/format/test", "  02/sub/format/test"),
            ("%p", "message", "message"),
            ("%-12p", "message     ", "message     "),
            ("%12p", "     message", "     message"),
            ("%012p", "00000message", "00000message"),
            ("%5p", "message", "message"),
            ("%05p", "message", "message"),
            ("%.2p", "me", "me"),
            ("%5.2p|", "   me|", "   me|"),
            ("%-5.2p|", "me   |", "me   |"),
            ("%.20p", "message", "message"),
            ("%.3x", "6d6", "6d6"),
            ("%.4X", "6D65", "6D65"),
            ("%6.4x|", "  6d65|", "  6d65|"),
            ("%.3l", "007", "007"),
            ("%05.3l", "  007", "  007"),
            ("%.3m", "000", "007"),
            ("%.2q%.2r", "0001", "0100"),
            ("%.3A|", "|", "003|"),
            ("%.1C|", "|", "p|"),
            ("%.2D|", "|", "c1|"),
            ("%.3E|", "|", "059|"),
            ("%.2F|", "|", "01|"),
            ("%.6P|", "|", "name:4|"),
            ("%.4R|", "|", "/dev|"),
            ("%.1S|", "|", "5|"),
            ("%.4U", "1795", "1795"),
            ("%x", "6d657373616765", "6d657373616765"),
            ("%X", "6D657373616765", "6D657373616765"),
            ("%18x", "    6d657373616765", "    6d657373616765"),
            ("%-18x", "6d657373616765    ", "6d657373616765    "),
            ("%018X", "00006D657373616765", "00006D657373616765"),
            ("%4x", "6d657373616765", "6d657373616765"),
            ("%l", "7", "7"),
            ("%02l", "07", "07"),
            ("%2l", " 7", " 7"),
            ("%-2l", "7 ", "7 "),
            ("%m", "0", "7"),
            ("%03m", "000", "007"),
            ("%-3m|", "0  |", "7  |"),
            ("%q", "0", "1"),
            ("%r", "1", "0"),
            (
                "%I",
                "2026-11-24T21:06:17+00:00",
                "2026-11-24T21:06:17+00:00",
            ),
            ("%.10I", "2026-11-24", "2026-11-24"),
            ("%U", "1795554377.321966372", "1795554377.321966372"),
            ("%A", "", "3"),
            ("%3A|", "   |", "  3|"),
            ("%03A|", "   |", "003|"),
            ("%C", "", "plain/text"),
            ("%2C", "  ", "plain/text"),
            ("%12C|", "            |", "  plain/text|"),
            ("%.5C", "", "plain"),
            ("%D", "", "c123"),
            ("%6D|", "      |", "  c123|"),
            ("%E", "", "59"),
            ("%4E|", "    |", "  59|"),
            ("%F", "", "1"),
            ("%-2F|", "  |", "1 |"),
            ("%P", "", "name:4 name:3 name:1 name:2"),
            ("%R", "", "/dev/null"),
            ("%-11R|", "           |", "/dev/null  |"),
            ("%S", "", "56"),
            ("%3S|", "   |", " 56|"),
            ("\\\\", "\\", "\\"),
            (
                "\\a\\e\\n\\r\\t\\v",
                "\x07\x1b\n\r\t\x0b",
                "\x07\x1b\n\r\t\x0b",
            ),
            ("a\\0b", "a\0b", "a\0b"),
            ("@@", "@", "@"),
            ("@N", "321966372", "321966372"),
            (
                "@Y-@m-@d @H:@M:@S @z",
                "2026-11-24 21:06:17 +0000",
                "2026-11-24 21:06:17 +0000",
            ),
            ("@s", "1795554377", "1795554377"),
            (
                "%t: %p (%l bytes, q%q r%r)",
                "02/sub/format/test: message (7 bytes, q0 r1)",
                "02/sub/format/test: message (7 bytes, q1 r0)",
            ),
            ("é%tö", "é02/sub/format/testö", "é02/sub/format/testö"),
        ];
        let m3 = v311(b"message");
        let m5 = v5(b"message", &props);
        for &(format, want3, want5) in cases {
            assert_eq!(fmt(format, &m3), want3, "v3.1.1 -F {format:?}");
            assert_eq!(fmt(format, &m5), want5, "v5 -F {format:?}");
        }
    }

    #[test]
    fn width_never_truncates_the_payload() {
        // mosquitto 2.0.11 prints "messa" for %05p and 12 spaces + "6d6573" for %18x.
        let m = v311(b"message");
        for w in 0..=7 {
            assert_eq!(fmt(&format!("%{w}p"), &m), "message");
            assert_eq!(fmt(&format!("%-{w}p"), &m), "message");
            assert_eq!(fmt(&format!("%{w}x"), &m), "6d657373616765");
        }
        assert_eq!(fmt("%8p", &m), " message");
        assert_eq!(fmt("%15x", &m), " 6d657373616765");
    }

    #[test]
    fn payload_width_counts_characters_of_utf8_and_bytes_of_binary() {
        assert_eq!(fmt("%4p|", &v311("é".as_bytes())), "   é|");
        let bin = [0xffu8, 0xfe];
        let mut buf = Vec::new();
        output(OutputSpec {
            format_string: Some("%4p|"),
            no_newline: true,
            ..Default::default()
        })
        .write(&v311(&bin), &mut buf)
        .unwrap();
        assert_eq!(buf, b"  \xff\xfe|");
    }

    #[test]
    fn precision_counts_characters_not_bytes() {
        let m = Message {
            topic: "ééé/x",
            ..v311(b"")
        };
        assert_eq!(fmt("%.2t", &m), "éé");
        assert_eq!(fmt("%4.2t", &m), "  éé");
        assert_eq!(fmt("%.0t|", &m), "|");
        assert_eq!(fmt("%.t|", &m), "|");
    }

    #[test]
    fn precision_cuts_the_payload_to_characters_of_utf8_and_bytes_of_binary() {
        // The help's own example: %.10p keeps the first 10 characters.
        let m = v311(b"abcdefghijklmnopqrstuvwxyz");
        assert_eq!(fmt("[%.10p] [%.4t]", &m), "[abcdefghij] [02/s]");
        assert_eq!(fmt("%.2p|", &v311("éüö".as_bytes())), "éü|");
        assert_eq!(fmt("%.0p|", &m), "|");
        let bin = [0xffu8, 0xfe, 0xfd];
        let mut buf = Vec::new();
        output(OutputSpec {
            format_string: Some("%4.2p|%.1x|%.3X"),
            no_newline: true,
            ..Default::default()
        })
        .write(&v311(&bin), &mut buf)
        .unwrap();
        assert_eq!(buf, b"  \xff\xfe|f|FFF");
    }

    #[test]
    fn precision_of_a_number_is_its_minimum_number_of_digits() {
        let m = v311(b"message");
        assert_eq!(fmt("%.3l|%5.3l|%-5.3l|", &m), "007|  007|007  |");
        // As printf: with a precision the 0 flag pads with spaces.
        assert_eq!(fmt("%05.3l|%05l", &m), "  007|00007");
        assert_eq!(fmt("%.0m|%.1l", &m), "0|7");
    }

    /// The help's promise, "flags, width and precision as in printf", for every specifier:
    /// each one pads to a width on either side and honours a precision, or is refused.
    #[test]
    fn every_specifier_honours_width_and_precision_or_refuses_them() {
        let props = all_properties();
        let m = v5(b"message", &props);
        for c in "tpxXlmqrIUACDEFPRS".chars() {
            let plain = fmt(&format!("%{c}"), &m);
            assert!(
                !plain.is_empty() && plain.chars().count() < 40,
                "%{c}: {plain:?}"
            );
            let right = fmt(&format!("%40{c}"), &m);
            assert_eq!(right, format!("{plain:>40}"), "%40{c}");
            let left = fmt(&format!("%-40{c}"), &m);
            assert_eq!(left, format!("{plain:<40}"), "%-40{c}");
            let precise = fmt(&format!("%.12{c}|%.1{c}"), &m);
            let want = if "lmqrAEF".contains(c) {
                format!("{plain:0>12}|{plain}")
            } else {
                let first: String = plain.chars().take(12).collect();
                format!("{first}|{}", &plain[..1])
            };
            assert_eq!(precise, want, "%.12{c}|%.1{c}");
        }
        for c in ['j', 'J'] {
            assert!(
                Output::new(OutputSpec {
                    format_string: Some(&format!("%{c}")),
                    ..Default::default()
                })
                .is_ok()
            );
            assert!(matches!(
                parse_err(&format!("%.1{c}")),
                FormatError::JsonField { .. }
            ));
        }
    }

    #[test]
    fn json_specifiers_refuse_flags_width_and_precision() {
        for f in ["%5j", "%-j", "%0J", "%.3j", "%1.1J"] {
            assert!(
                matches!(parse_err(f), FormatError::JsonField { .. }),
                "{f:?}"
            );
        }
        assert_eq!(
            parse_err("ab %-20j").to_string(),
            "%j takes no flags, width or precision: \"%-20j\" at column 4 (a JSON object \
             cannot be padded or cut)"
        );
    }

    #[test]
    fn flags_in_either_order_left_wins_over_zero() {
        let m = v311(b"message");
        assert_eq!(fmt("%-04l|", &m), "7   |");
        assert_eq!(fmt("%0-4l|", &m), "7   |");
        assert_eq!(fmt("%-05p|", &m), "message|");
    }

    #[test]
    fn several_subscription_identifiers_are_listed() {
        let props = Properties {
            subscription_identifiers: vec![56, 99],
            ..Default::default()
        };
        assert_eq!(fmt("%S|%8S|", &v5(b"m", &props)), "56,99|   56,99|");
    }

    #[test]
    fn empty_v5_properties_behave_as_absent() {
        let props = Properties::default();
        let m = v5(b"m", &props);
        assert_eq!(
            fmt("[%A][%2C][%D][%E][%F][%P][%R][%3S]", &m),
            "[][  ][][][][][][   ]"
        );
    }

    #[test]
    fn iso_time_is_rfc3339_in_the_output_zone() {
        let m = v311(b"m");
        let out = Output::new(OutputSpec {
            format_string: Some("%I"),
            no_newline: true,
            zone: plus2(),
            ..Default::default()
        })
        .unwrap();
        let s = render(&out, &m);
        assert_eq!(s, "2026-11-24T23:06:17+02:00");
        let parsed = DateTime::parse_from_rfc3339(&s).unwrap();
        assert_eq!(
            SystemTime::from(parsed),
            UNIX_EPOCH + Duration::from_secs(1_795_554_377)
        );
        let s = fmt("%I", &m);
        assert_eq!(
            SystemTime::from(DateTime::parse_from_rfc3339(&s).unwrap()),
            UNIX_EPOCH + Duration::from_secs(1_795_554_377)
        );
    }

    #[test]
    fn time_escapes_use_the_output_zone() {
        let out = Output::new(OutputSpec {
            format_string: Some("@H:@M @z @Z|@N"),
            no_newline: true,
            zone: plus2(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(render(&out, &v311(b"m")), "23:06 +0200 +02:00|321966372");
    }

    #[test]
    fn local_zone_renders_a_valid_offset() {
        let out = Output::new(OutputSpec {
            format_string: Some("%I"),
            no_newline: true,
            ..Default::default()
        })
        .unwrap();
        let s = render(&out, &v311(b"m"));
        let parsed = DateTime::parse_from_rfc3339(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            SystemTime::from(parsed),
            UNIX_EPOCH + Duration::from_secs(1_795_554_377)
        );
    }

    // ---- -F parse errors ----------------------------------------------------------------------

    #[test]
    fn incomplete_format_specifiers() {
        for f in ["%", "%0", "%-", "%1", "%.", "%.1", "abc%-12.3"] {
            let text = &f[f.find('%').unwrap()..];
            assert_eq!(
                parse_err(f),
                FormatError::IncompleteSpecifier { text: text.into() },
                "{f:?}"
            );
        }
        assert_eq!(
            parse_err("%-1.").to_string(),
            "incomplete format specifier \"%-1.\" at the end of the format string"
        );
    }

    #[test]
    fn invalid_format_specifier_names_it_and_its_column() {
        assert_eq!(
            parse_err("%Z"),
            FormatError::InvalidSpecifier {
                spec: 'Z',
                text: "%Z".into(),
                column: 1
            }
        );
        let e = parse_err("ab %t %-5.2Z rest");
        assert_eq!(
            e.to_string(),
            "invalid format specifier 'Z' in \"%-5.2Z\" at column 7"
        );
        assert_eq!(
            parse_err("é%ü").to_string(),
            "invalid format specifier 'ü' in \"%ü\" at column 2"
        );
        // mosquitto accepts exactly these; %d and %f are 2.1 additions we do not have.
        for c in ['d', 'f', 'T', ' ', '@'] {
            assert!(
                matches!(
                    parse_err(&format!("%{c}")),
                    FormatError::InvalidSpecifier { .. }
                ),
                "{c:?}"
            );
        }
    }

    #[test]
    fn escape_errors() {
        assert_eq!(parse_err("\\"), FormatError::IncompleteEscape);
        assert_eq!(parse_err("%t\\"), FormatError::IncompleteEscape);
        assert_eq!(
            parse_err("\\Z"),
            FormatError::InvalidEscape {
                spec: 'Z',
                column: 1
            }
        );
        assert_eq!(
            parse_err("ab\\Z").to_string(),
            "invalid escape specifier 'Z' in \"\\Z\" at column 3"
        );
        assert_eq!(
            parse_err("\\").to_string(),
            "incomplete escape specifier \"\\\" at the end of the format string"
        );
    }

    #[test]
    fn time_escape_errors() {
        assert_eq!(parse_err("@"), FormatError::IncompleteTime);
        assert_eq!(parse_err("%t @"), FormatError::IncompleteTime);
        assert_eq!(
            parse_err("%t @Q"),
            FormatError::InvalidTime {
                spec: 'Q',
                column: 4
            }
        );
        assert_eq!(
            parse_err("@Q").to_string(),
            "invalid time specifier 'Q' in \"@Q\" at column 1 (see strftime(3))"
        );
        // Modifiers that need a following character are not complete conversions on their own.
        for c in [':', '.', '-', '3', 'é'] {
            assert!(
                matches!(parse_err(&format!("@{c}")), FormatError::InvalidTime { .. }),
                "{c:?}"
            );
        }
    }

    #[test]
    fn huge_widths_are_refused() {
        assert_eq!(
            parse_err("%99999999999999999999999p"),
            FormatError::WidthTooLarge {
                text: "%99999999999999999999999p".into(),
                column: 1
            }
        );
        assert_eq!(
            parse_err("%.65536t").to_string(),
            "field width or precision too large in \"%.65536t\" at column 1 (at most 65535)"
        );
        assert!(
            Output::new(OutputSpec {
                format_string: Some("%65535t"),
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn format_string_conflicts_with_other_formats() {
        for (kind, name) in [
            (OutputKind::Json, "json"),
            (OutputKind::Hex, "hex"),
            (OutputKind::Base64, "base64"),
        ] {
            let e = Output::new(OutputSpec {
                format_string: Some("%p"),
                kind,
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("-F cannot be combined with --format {name}")
            );
        }
    }

    // ---- %j / %J --------------------------------------------------------------------------------

    fn j(format: &str, msg: &Message<'_>) -> String {
        fmt(format, msg)
    }

    #[test]
    fn j_on_v311_matches_mosquitto_layout_with_a_valid_timestamp() {
        assert_eq!(
            j("%j", &v311(b"message")),
            r#"{"tst":"2026-11-24T21:06:17.321966+00:00","topic":"02/sub/format/test","qos":0,"retain":1,"payloadlen":7,"payload":"message"}"#
        );
        let m = Message {
            qos: 1,
            mid: 1,
            retain: false,
            topic: "t/j",
            ..v311(b"he\"llo\\ x")
        };
        assert_eq!(
            j("%j", &m),
            r#"{"tst":"2026-11-24T21:06:17.321966+00:00","topic":"t/j","qos":1,"retain":0,"payloadlen":9,"mid":1,"payload":"he\"llo\\ x"}"#
        );
        let v = json(&j("%j", &m));
        assert_eq!(v["payload"], "he\"llo\\ x");
        DateTime::parse_from_rfc3339(v["tst"].as_str().unwrap()).unwrap();
    }

    #[test]
    fn j_tst_is_rfc3339_with_microseconds_in_the_output_zone() {
        let out = Output::new(OutputSpec {
            format_string: Some("%j"),
            zone: plus2(),
            ..Default::default()
        })
        .unwrap();
        let v = json(&render(&out, &v311(b"m")));
        let tst = v["tst"].as_str().unwrap();
        assert_eq!(tst, "2026-11-24T23:06:17.321966+02:00");
        let parsed = DateTime::parse_from_rfc3339(tst).unwrap();
        assert_eq!(
            SystemTime::from(parsed),
            UNIX_EPOCH + Duration::new(1_795_554_377, 321_966_000)
        );
    }

    #[test]
    fn j_on_v5_has_every_property_and_user_properties_as_pairs() {
        let props = all_properties();
        assert_eq!(
            j("%j", &v5(b"message", &props)),
            concat!(
                r#"{"tst":"2026-11-24T21:06:17.321966+00:00","topic":"02/sub/format/test","qos":1,"retain":0,"payloadlen":7,"mid":7,"#,
                r#""properties":{"payload-format-indicator":1,"message-expiry-interval":59,"content-type":"plain/text","#,
                r#""response-topic":"/dev/null","correlation-data":"c123","subscription-identifier":56,"topic-alias":3,"#,
                r#""user-properties":[["name","4"],["name","3"],["name","1"],["name","2"]]},"payload":"message"}"#
            )
        );
        let v = json(&j("%j", &v5(b"message", &props)));
        let pairs = v["properties"]["user-properties"].as_array().unwrap();
        assert_eq!(pairs.len(), 4, "duplicates kept");
        assert_eq!(pairs[2], serde_json::json!(["name", "1"]));
    }

    #[test]
    fn j_keeps_binary_payloads_as_base64() {
        // mosquitto 2.0.11 prints "" for 00 ff 00.
        let s = j("%j", &v311(&[0, 0xff, 0]));
        assert!(
            s.ends_with(r#""payloadlen":3,"payload":"AP8A","payload_encoding":"base64"}"#),
            "{s}"
        );
        let v = json(&s);
        assert_eq!(
            BASE64.decode(v["payload"].as_str().unwrap()).unwrap(),
            [0, 0xff, 0]
        );
    }

    #[test]
    fn j_keeps_nul_bytes_of_text_payloads() {
        let s = j("%j", &v311(b"a\0b\x01"));
        assert!(s.ends_with(r#""payload":"a\u0000b\u0001"}"#), "{s}");
        assert_eq!(json(&s)["payload"], "a\0b\x01");
        assert!(json(&s).get("payload_encoding").is_none());
    }

    #[test]
    fn j_output_is_valid_utf8_for_invalid_utf8_payloads() {
        let payload = b"caf\xe9 \xc3\x28";
        let mut buf = Vec::new();
        output(OutputSpec {
            format_string: Some("%j"),
            ..Default::default()
        })
        .write(&v311(payload), &mut buf)
        .unwrap();
        let s = String::from_utf8(buf).expect("valid UTF-8");
        let v = json(&s);
        assert_eq!(v["payload_encoding"], "base64");
        assert_eq!(
            BASE64.decode(v["payload"].as_str().unwrap()).unwrap(),
            payload
        );
    }

    #[test]
    fn j_and_capital_j_print_null_for_an_empty_payload() {
        for f in ["%j", "%J"] {
            let s = j(f, &v311(b""));
            assert!(s.ends_with(r#""payloadlen":0,"payload":null}"#), "{f}: {s}");
            assert!(json(&s)["payload"].is_null());
        }
    }

    #[test]
    fn j_escapes_topic_and_unicode_correctly() {
        let m = Message {
            topic: "a/\"b\"/\u{7}/ü",
            ..v311("naïve\n☃".as_bytes())
        };
        let v = json(&j("%j", &m));
        assert_eq!(v["topic"], "a/\"b\"/\u{7}/ü");
        assert_eq!(v["payload"], "naïve\n☃");
    }

    #[test]
    fn binary_correlation_data_is_base64_with_its_encoding() {
        let props = Properties {
            correlation_data: Some(vec![0xff, 0]),
            ..Default::default()
        };
        let s = j("%j", &v5(b"m", &props));
        assert!(
            s.contains(
                r#""properties":{"correlation-data":"/wA=","correlation-data-encoding":"base64"}"#
            ),
            "{s}"
        );
        json(&s);
    }

    #[test]
    fn several_subscription_identifiers_are_a_json_array() {
        let props = Properties {
            subscription_identifiers: vec![1, 2],
            ..Default::default()
        };
        let v = json(&j("%j", &v5(b"m", &props)));
        assert_eq!(
            v["properties"]["subscription-identifier"],
            serde_json::json!([1, 2])
        );
    }

    #[test]
    fn empty_v5_properties_are_left_out() {
        let props = Properties::default();
        let v = json(&j("%j", &v5(b"m", &props)));
        assert!(v.get("properties").is_none());
    }

    #[test]
    fn capital_j_embeds_the_payload_as_written_on_one_line() {
        let payload =
            b"{ \"b\": 1,\n  \"a\": [1.10, 2e3, 12345678901234567890123],\n \"b\": \"x y\" }";
        let s = j("%J", &v311(payload));
        assert!(
            s.ends_with(r#""payloadlen":68,"payload":{"b":1,"a":[1.10,2e3,12345678901234567890123],"b":"x y"}}"#),
            "{s}"
        );
        assert_eq!(payload.len(), 68);
        assert!(!s.contains('\n'));
        let v = json(&s);
        assert_eq!(v["payload"]["b"], "x y");
        for scalar in ["42", "\"str\"", "true", "null", " [ ] "] {
            let v = json(&j("%J", &v311(scalar.as_bytes())));
            assert_eq!(v["payload"], json(scalar), "{scalar}");
        }
    }

    #[test]
    fn capital_j_refuses_invalid_json_and_appends_nothing() {
        let out = output(OutputSpec {
            format_string: Some("before %J after"),
            ..Default::default()
        });
        for payload in [
            &b"{\"a\":"[..],
            b"not json",
            b"{} {}",
            b"\xff",
            b"\"a\x01\"",
        ] {
            let mut buf = b"kept".to_vec();
            let err = out.write(&v311(payload), &mut buf).unwrap_err();
            assert_eq!(buf, b"kept", "{payload:?}");
            assert_eq!(err.topic, TOPIC);
            assert!(
                err.to_string()
                    .starts_with("payload on topic 02/sub/format/test is not valid JSON ("),
                "{err}"
            );
        }
        // The next message is printed as usual.
        assert_eq!(
            fmt("%J", &v311(b"[1]")).rsplit_once(',').unwrap().1,
            r#""payload":[1]}"#
        );
    }

    #[test]
    fn capital_j_with_v5_properties() {
        let props = all_properties();
        let v = json(&j("%J", &v5(br#"{"temp":21.5}"#, &props)));
        assert_eq!(v["payload"]["temp"], 21.5);
        assert_eq!(v["properties"]["content-type"], "plain/text");
    }

    #[test]
    fn json_inside_a_larger_format_string() {
        let s = j("%t\t%j\\n", &v311(b"m"));
        let (topic, rest) = s.split_once('\t').unwrap();
        assert_eq!(topic, TOPIC);
        json(rest.strip_suffix('\n').unwrap());
    }

    // ---- --pretty -------------------------------------------------------------------------------

    #[test]
    fn pretty_j_is_indented_by_two_spaces() {
        let props = Properties {
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "v2".into())],
            ..Default::default()
        };
        let out = output(OutputSpec {
            format_string: Some("%j"),
            pretty: true,
            ..Default::default()
        });
        let s = render(&out, &v5(b"a, {b}: \"c\"", &props));
        assert_eq!(
            s,
            r#"{
  "tst": "2026-11-24T21:06:17.321966+00:00",
  "topic": "02/sub/format/test",
  "qos": 1,
  "retain": 0,
  "payloadlen": 11,
  "mid": 7,
  "properties": {
    "user-properties": [
      [
        "k",
        "v"
      ],
      [
        "k",
        "v2"
      ]
    ]
  },
  "payload": "a, {b}: \"c\""
}
"#
        );
        json(&s);
    }

    #[test]
    fn pretty_capital_j_indents_the_embedded_payload() {
        let out = output(OutputSpec {
            format_string: Some("%J"),
            pretty: true,
            ..Default::default()
        });
        let s = render(&out, &v311(br#"{"a":{},"b":[ ],"c":[1,{"d":null}]}"#));
        assert!(
            s.ends_with(
                r#"  "payload": {
    "a": {},
    "b": [],
    "c": [
      1,
      {
        "d": null
      }
    ]
  }
}
"#
            ),
            "{s}"
        );
        json(&s);
    }

    #[test]
    fn pretty_matches_serde_json_pretty_style() {
        let src = r#"{"a":[1,2,{"b":"x:y,z"}],"c":{},"d":[],"e":{"f":"\"}"}}"#;
        let mut buf = Vec::new();
        reformat(src.as_bytes(), true, &mut buf);
        let value: serde_json::Value = serde_json::from_str(src).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn pretty_is_ignored_by_non_json_output() {
        let out = output(OutputSpec {
            pretty: true,
            verbose: true,
            ..Default::default()
        });
        assert_eq!(
            render(&out, &v311(b"{\"a\":1}")),
            "02/sub/format/test {\"a\":1}\n"
        );
    }

    // ---- --format json --------------------------------------------------------------------------

    fn line(msg: &Message<'_>) -> String {
        render(
            &output(OutputSpec {
                kind: OutputKind::Json,
                ..Default::default()
            }),
            msg,
        )
    }

    #[test]
    fn format_json_on_v311() {
        assert_eq!(
            line(&v311(b"message")),
            concat!(
                r#"{"topic":"02/sub/format/test","payload":"message","qos":0,"retain":true,"mid":0,"#,
                r#""received":"2026-11-24T21:06:17.321966+00:00"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn format_json_on_v5_with_properties() {
        let props = all_properties();
        let s = line(&v5(b"message", &props));
        assert_eq!(
            s,
            concat!(
                r#"{"topic":"02/sub/format/test","payload":"message","qos":1,"retain":false,"mid":7,"#,
                r#""properties":{"payload-format-indicator":1,"message-expiry-interval":59,"content-type":"plain/text","#,
                r#""response-topic":"/dev/null","correlation-data":"c123","subscription-identifier":56,"topic-alias":3,"#,
                r#""user-properties":[["name","4"],["name","3"],["name","1"],["name","2"]]},"#,
                r#""received":"2026-11-24T21:06:17.321966+00:00"}"#,
                "\n"
            )
        );
        let v = json(&s);
        DateTime::parse_from_rfc3339(v["received"].as_str().unwrap()).unwrap();
    }

    #[test]
    fn format_json_binary_nul_invalid_utf8_and_empty_payloads() {
        let v = json(&line(&v311(&[0, 0xff, 0])));
        assert_eq!(v["payload"], "AP8A");
        assert_eq!(v["payload_encoding"], "base64");
        let s = line(&v311(b"\0"));
        assert!(s.contains(r#""payload":"\u0000","qos""#), "{s}");
        assert!(json(&s).get("payload_encoding").is_none());
        let v = json(&line(&v311(b"\xc3\x28")));
        assert_eq!(
            BASE64.decode(v["payload"].as_str().unwrap()).unwrap(),
            b"\xc3\x28"
        );
        assert_eq!(v["payload_encoding"], "base64");
        let v = json(&line(&v311(b"")));
        assert_eq!(v["payload"], "");
        // A JSON payload stays a string: the shape of a line never depends on the payload.
        let v = json(&line(&v311(b"{\"a\":1}")));
        assert_eq!(v["payload"], "{\"a\":1}");
    }

    #[test]
    fn format_json_is_one_line_per_message_and_pretty_on_request() {
        let payload = b"two\nlines";
        let s = line(&v311(payload));
        assert_eq!(s.matches('\n').count(), 1);
        let out = output(OutputSpec {
            kind: OutputKind::Json,
            pretty: true,
            ..Default::default()
        });
        let s = render(&out, &v311(payload));
        assert!(
            s.starts_with(
                "{\n  \"topic\": \"02/sub/format/test\",\n  \"payload\": \"two\\nlines\",\n"
            ),
            "{s}"
        );
        assert_eq!(json(&s)["payload"], "two\nlines");
    }

    #[test]
    fn format_json_stream_parses_back_message_by_message() {
        let out = output(OutputSpec {
            kind: OutputKind::Json,
            ..Default::default()
        });
        let props = all_properties();
        let mut buf = Vec::new();
        for msg in [v311(b"one"), v5(&[1, 2, 3], &props), v311(b"")] {
            out.write(&msg, &mut buf).unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        let values: Vec<serde_json::Value> = text.lines().map(json).collect();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0]["payload"], "one");
        assert_eq!(
            values[1]["properties"]["user-properties"][3],
            serde_json::json!(["name", "2"])
        );
    }
}
