//! mosquitto password files: parse, hash, verify, edit and render, with no I/O.
//!
//! A file is a list of lines, each kept with its own terminator (`\n`, `\r\n` or none on the
//! last line). Lines the edit does not touch are rendered from their original bytes, so
//! comments, blank lines, CRLF and lines we do not understand survive byte for byte
//! (`tests/passwd.rs` pins this against real files).
//!
//! Entry lines are read the way the mosquitto 2.0 broker reads them: user name = the text
//! before the first `:`, password field = the text up to the next `:`, both trimmed of blanks.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// mosquitto 2.1's PBKDF2 default; 2.0 wrote 101 but reads any count.
pub const DEFAULT_ITERATIONS: u32 = 210_000;
/// The salt length every mosquitto broker accepts for `$6$` and `$7$` (2.0 reads only 12).
pub const SALT_LEN: usize = 12;
/// User names and passwords must be shorter than this, as in mosquitto_passwd.
pub const MAX_LEN: usize = 65_536;

/// The largest cost an entry may ask for. Checking a password runs the hash at the cost the
/// file names, so a crafted line (`$7$4294967295$...`, `m=4294967295`) would otherwise make
/// `--verify` run for hours or abort on a 4 TiB allocation. These bounds are far above any
/// sensible setting (mosquitto 2.1 writes 210 000 iterations, or m=47104,t=1,p=1) and keep one
/// check to seconds; lines beyond them are corrupt (`tests/passwd.rs` pins this).
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// argon2id memory, in KiB: 1 GiB.
pub const MAX_ARGON2_M: u32 = 1_048_576;
/// argon2id passes.
pub const MAX_ARGON2_T: u32 = 100;
/// argon2id lanes.
pub const MAX_ARGON2_P: u32 = 64;
/// argon2id work, memory times passes, in KiB: 4 GiB in all.
pub const MAX_ARGON2_WORK: u64 = 4 * 1_048_576;

/// mosquitto 2.1's argon2id parameters: 46 MiB, one pass, one lane, 64-byte salt and hash.
const ARGON2_M: u32 = 47_104;
const ARGON2_T: u32 = 1;
const ARGON2_P: u32 = 1;
const ARGON2_SALT_LEN: usize = 64;
const HASH_LEN: usize = 64;

/// How a new password is hashed (`-H`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512.
    Pbkdf2 { iterations: u32 },
    /// `$6$<salt>$<hash>`: one pass of SHA-512 over password ‖ salt.
    Sha512,
    /// `$argon2id$v=19$m=47104,t=1,p=1$<salt>$<hash>`: mosquitto 2.1 only.
    Argon2id,
}

impl Scheme {
    /// Salt length written for new entries.
    pub fn salt_len(self) -> usize {
        match self {
            Scheme::Pbkdf2 { .. } | Scheme::Sha512 => SALT_LEN,
            Scheme::Argon2id => ARGON2_SALT_LEN,
        }
    }
}

/// Hashes `password` with a fresh random salt from the operating system's CSPRNG.
pub fn hash(scheme: Scheme, password: &[u8]) -> Result<String, getrandom::Error> {
    let mut salt = vec![0u8; scheme.salt_len()];
    getrandom::fill(&mut salt)?;
    Ok(hash_with_salt(scheme, password, &salt))
}

/// Hashes `password` with the given salt; the stored form, without the `user:` prefix.
pub fn hash_with_salt(scheme: Scheme, password: &[u8], salt: &[u8]) -> String {
    match scheme {
        Scheme::Pbkdf2 { iterations } => {
            let h = pbkdf2_sha512(password, salt, iterations);
            format!(
                "$7${iterations}${}${}",
                STANDARD.encode(salt),
                STANDARD.encode(h)
            )
        }
        Scheme::Sha512 => {
            let h = sha512(password, salt);
            format!("$6${}${}", STANDARD.encode(salt), STANDARD.encode(h))
        }
        Scheme::Argon2id => {
            let h = argon2id(password, salt, ARGON2_M, ARGON2_T, ARGON2_P)
                .expect("mosquitto's argon2id parameters are valid");
            // PHC strings use base64 without padding (as libargon2, which mosquitto 2.1 uses).
            format!(
                "$argon2id$v=19$m={ARGON2_M},t={ARGON2_T},p={ARGON2_P}${}${}",
                STANDARD_NO_PAD.encode(salt),
                STANDARD_NO_PAD.encode(h)
            )
        }
    }
}

fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
    out
}

fn sha512(password: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut d = Sha512::new();
    d.update(password);
    d.update(salt);
    d.finalize().to_vec()
}

fn argon2id(password: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Option<Vec<u8>> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(m, t, p, Some(HASH_LEN)).ok()?;
    let mut out = vec![0u8; HASH_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut out)
        .ok()?;
    Some(out)
}

/// A stored password field, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Pbkdf2 {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Sha512 {
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Argon2id {
        m: u32,
        t: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$id$...` with an id we do not know (a newer format): kept, never verified.
    Unknown,
    /// Anything else: a plaintext password, as `-U` expects to find.
    Plain,
}

/// Why a `$6$`, `$7$` or `$argon2id$` field cannot be used (the brokers drop such entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Malformed {}

/// Decodes a password field (already trimmed).
pub fn decode(field: &[u8]) -> Result<Stored, Malformed> {
    let Some(rest) = field.strip_prefix(b"$") else {
        return Ok(Stored::Plain);
    };
    let parts: Vec<&[u8]> = rest.split(|&b| b == b'$').collect();
    let salt_of = |b: &[u8]| -> Result<Vec<u8>, Malformed> {
        let s = STANDARD
            .decode(b)
            .map_err(|_| Malformed("salt is not base64"))?;
        // The lengths mosquitto brokers accept: 12 (2.0 and 2.1) or 64 (2.1).
        if s.len() == SALT_LEN || s.len() == ARGON2_SALT_LEN {
            Ok(s)
        } else {
            Err(Malformed("salt is not 12 or 64 bytes"))
        }
    };
    let hash_of = |b: &[u8]| -> Result<Vec<u8>, Malformed> {
        let h = STANDARD
            .decode(b)
            .map_err(|_| Malformed("hash is not base64"))?;
        if h.len() == HASH_LEN {
            Ok(h)
        } else {
            Err(Malformed("hash is not 64 bytes"))
        }
    };
    match parts[0] {
        b"7" => {
            let [_, it, salt, hash] = parts[..] else {
                return Err(Malformed("$7$ needs $7$ITERATIONS$SALT$HASH"));
            };
            let digits = std::str::from_utf8(it)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(Malformed("iteration count is not a number"))?;
            // More digits than a u64 holds is over the bound as well.
            let iterations = digits.parse::<u64>().unwrap_or(u64::MAX);
            if iterations == 0 {
                return Err(Malformed("iteration count is 0"));
            }
            if iterations > u64::from(MAX_ITERATIONS) {
                return Err(Malformed(
                    "iteration count is over 10000000, the most mqtk will run",
                ));
            }
            let iterations = iterations as u32;
            Ok(Stored::Pbkdf2 {
                iterations,
                salt: salt_of(salt)?,
                hash: hash_of(hash)?,
            })
        }
        b"6" => {
            let [_, salt, hash] = parts[..] else {
                return Err(Malformed("$6$ needs $6$SALT$HASH"));
            };
            Ok(Stored::Sha512 {
                salt: salt_of(salt)?,
                hash: hash_of(hash)?,
            })
        }
        b"argon2id" => decode_argon2id(&parts),
        id if !id.is_empty()
            && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && parts.len() > 2 =>
        {
            Ok(Stored::Unknown)
        }
        _ => Ok(Stored::Plain),
    }
}

fn decode_argon2id(parts: &[&[u8]]) -> Result<Stored, Malformed> {
    let [_, version, params, salt, hash] = parts[..] else {
        return Err(Malformed(
            "$argon2id$ needs $argon2id$v=19$m=M,t=T,p=P$SALT$HASH",
        ));
    };
    if version != b"v=19" {
        return Err(Malformed("argon2id version is not v=19"));
    }
    let params = std::str::from_utf8(params).map_err(|_| Malformed("bad argon2id parameters"))?;
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or(Malformed("bad argon2id parameters"))?;
        let v: u32 = v
            .parse()
            .map_err(|_| Malformed("bad argon2id parameters"))?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return Err(Malformed("bad argon2id parameters")),
        }
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(Malformed("argon2id needs m, t and p"));
    };
    if m > MAX_ARGON2_M {
        return Err(Malformed(
            "argon2id memory m is over 1048576 (1 GiB), the most mqtk will use",
        ));
    }
    if t > MAX_ARGON2_T {
        return Err(Malformed(
            "argon2id passes t is over 100, the most mqtk will run",
        ));
    }
    if p > MAX_ARGON2_P {
        return Err(Malformed(
            "argon2id lanes p is over 64, the most mqtk will use",
        ));
    }
    if u64::from(m) * u64::from(t) > MAX_ARGON2_WORK {
        return Err(Malformed(
            "argon2id work m*t is over 4194304 (4 GiB), the most mqtk will run",
        ));
    }
    // PHC omits the padding; accept it anyway, as libargon2 does not care either way.
    let unpad = |b: &[u8]| -> Vec<u8> {
        let mut v = b.to_vec();
        while v.last() == Some(&b'=') {
            v.pop();
        }
        v
    };
    let salt = STANDARD_NO_PAD
        .decode(unpad(salt))
        .map_err(|_| Malformed("argon2id salt is not base64"))?;
    let hash = STANDARD_NO_PAD
        .decode(unpad(hash))
        .map_err(|_| Malformed("argon2id hash is not base64"))?;
    if salt.len() < 8 || hash.len() < 4 {
        return Err(Malformed("argon2id salt or hash too short"));
    }
    if argon2::Params::new(m, t, p, Some(hash.len())).is_err() {
        return Err(Malformed("argon2id parameters out of range"));
    }
    Ok(Stored::Argon2id {
        m,
        t,
        p,
        salt,
        hash,
    })
}

impl Stored {
    /// Constant-time check of `password` against this entry. `None`: we cannot check this
    /// form (unknown `$id$`, or plaintext, which no mosquitto broker accepts).
    pub fn verify(&self, password: &[u8]) -> Option<bool> {
        let (computed, expected) = match self {
            Stored::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => (pbkdf2_sha512(password, salt, *iterations).to_vec(), hash),
            Stored::Sha512 { salt, hash } => (sha512(password, salt), hash),
            Stored::Argon2id {
                m,
                t,
                p,
                salt,
                hash,
            } => {
                let params = argon2::Params::new(*m, *t, *p, Some(hash.len())).ok()?;
                let mut out = vec![0u8; hash.len()];
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(password, salt, &mut out)
                    .ok()?;
                (out, hash)
            }
            Stored::Unknown | Stored::Plain => return None,
        };
        Some(computed.ct_eq(expected).into())
    }
}

/// Why a user name cannot be written (or looked up): every name that the broker would read
/// back as another name, or not at all. mosquitto skips lines whose first byte is `#`, splits
/// at the first `:`, and trims blanks from the name; so `#bob:...` is a comment and
/// ` alice:...` is a second entry for `alice`.
pub fn check_username(user: &str) -> Result<(), &'static str> {
    if user.is_empty() {
        Err("user name must not be empty")
    } else if user.contains(':') {
        Err("user name must not contain ':'")
    } else if user.chars().any(char::is_control) {
        Err("user name must not contain control characters")
    } else if user.starts_with('#') {
        Err("user name must not start with '#' (the line would be a comment)")
    } else if user.starts_with(' ') || user.ends_with(' ') {
        Err("user name must not start or end with a space (mosquitto trims it)")
    } else if user.len() >= MAX_LEN {
        Err("user name must be shorter than 65536 bytes")
    } else {
        Ok(())
    }
}

pub fn check_password(password: &str) -> Result<(), &'static str> {
    if password.is_empty() {
        Err("empty password")
    } else if password.len() >= MAX_LEN {
        Err("password must be shorter than 65536 bytes")
    } else {
        Ok(())
    }
}

/// One line of a password file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    /// The line's bytes without its terminator.
    text: Vec<u8>,
    /// `\n`, `\r\n`, or empty for a last line without one.
    eol: &'static [u8],
    /// The (trimmed) user name, for entry lines.
    user: Option<Vec<u8>>,
    /// Set when an edit replaced the line: rendered instead of `text`.
    new_text: Option<Vec<u8>>,
    deleted: bool,
}

/// An entry line, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based.
    pub line: usize,
    pub user: Vec<u8>,
    /// The password field, trimmed.
    pub field: Vec<u8>,
    pub stored: Stored,
}

/// A line that looks like an entry but that no broker can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// 1-based.
    pub line: usize,
    pub why: String,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for Corrupt {}

/// A parsed password file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordFile {
    lines: Vec<Line>,
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Splits `user:field[:...]` as the broker does; `None` for lines without `:`.
fn split_entry(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = text.iter().position(|&b| b == b':')?;
    let user = &text[..colon];
    let rest = &text[colon + 1..];
    let field = rest.split(|&b| b == b':').next().unwrap_or_default();
    Some((trim(user), trim(field)))
}

impl PasswordFile {
    /// Parses a file. Comments (`#` first), blank lines and lines without `:` (which the
    /// broker skips) are kept as they are. A line with `:` is an entry; it is corrupt when its
    /// user name or password is empty, or its `$6$`/`$7$`/`$argon2id$` field cannot be decoded:
    /// the broker would drop it, and mosquitto_passwd would truncate the file there.
    pub fn parse(bytes: &[u8]) -> Result<PasswordFile, Corrupt> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        let mut n = 0;
        while !rest.is_empty() {
            n += 1;
            let (text, eol, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) if i > 0 && rest[i - 1] == b'\r' => {
                    (&rest[..i - 1], &b"\r\n"[..], &rest[i + 1..])
                }
                Some(i) => (&rest[..i], &b"\n"[..], &rest[i + 1..]),
                None => (rest, &b""[..], &rest[rest.len()..]),
            };
            rest = next;
            let mut user = None;
            if !text.starts_with(b"#")
                && let Some((u, field)) = split_entry(text)
            {
                let corrupt = |why: String| Corrupt { line: n, why };
                if u.is_empty() {
                    return Err(corrupt("empty user name".into()));
                }
                let name = String::from_utf8_lossy(u);
                if field.is_empty() {
                    return Err(corrupt(format!("user '{name}' has no password")));
                }
                decode(field).map_err(|e| corrupt(format!("user '{name}': {e}")))?;
                user = Some(u.to_vec());
            }
            lines.push(Line {
                text: text.to_vec(),
                eol,
                user,
                new_text: None,
                deleted: false,
            });
        }
        Ok(PasswordFile { lines })
    }

    /// A file with nothing in it (for `-c`).
    pub fn new() -> PasswordFile {
        PasswordFile::default()
    }

    fn live(&self) -> impl DoubleEndedIterator<Item = &Line> {
        self.lines.iter().filter(|l| !l.deleted)
    }

    /// The stored form of `user`'s password, if the user is in the file: the entry the broker
    /// checks. With duplicates that is the last hashed one (mosquitto's hash table finds the
    /// entry added last, after dropping entries it cannot decode); with no hashed entry, the
    /// last one, so that the caller can say why it cannot be checked.
    pub fn stored(&self, user: &str) -> Option<Stored> {
        let all: Vec<Stored> = self
            .live()
            .filter(|l| l.user.as_deref() == Some(user.as_bytes()))
            .filter_map(|l| {
                let text = l.new_text.as_ref().unwrap_or(&l.text);
                decode(split_entry(text)?.1).ok()
            })
            .collect();
        all.iter()
            .rev()
            .find(|s| !matches!(s, Stored::Unknown | Stored::Plain))
            .or(all.last())
            .cloned()
    }

    /// Sets `user`'s password field: replaces every entry of that user (so duplicates cannot
    /// keep an old password alive), or appends one. Returns true when the user was new.
    pub fn set(&mut self, user: &str, stored: &str) -> bool {
        let new_text = format!("{user}:{stored}").into_bytes();
        let mut found = false;
        for l in self.lines.iter_mut().filter(|l| !l.deleted) {
            if l.user.as_deref() == Some(user.as_bytes()) {
                l.new_text = Some(new_text.clone());
                found = true;
            }
        }
        if !found {
            // Append with the file's own line ending, after terminating an unterminated last
            // line (otherwise the new entry would be glued onto it).
            let eol = self.line_ending();
            if let Some(last) = self.lines.iter_mut().rev().find(|l| !l.deleted)
                && last.eol.is_empty()
            {
                last.eol = eol;
            }
            self.lines.push(Line {
                text: new_text,
                eol,
                user: Some(user.as_bytes().to_vec()),
                new_text: None,
                deleted: false,
            });
        }
        !found
    }

    /// The line ending of the last terminated line, `\n` when there is none.
    fn line_ending(&self) -> &'static [u8] {
        self.live()
            .rev()
            .map(|l| l.eol)
            .find(|e| !e.is_empty())
            .unwrap_or(b"\n")
    }

    /// Removes every entry of `user`. Returns false when there was none.
    pub fn delete(&mut self, user: &str) -> bool {
        let mut found = false;
        for l in self.lines.iter_mut() {
            if l.user.as_deref() == Some(user.as_bytes()) && !l.deleted {
                l.deleted = true;
                found = true;
            }
        }
        found
    }

    /// The entries as they are in the file (edited lines excluded), in file order.
    pub fn entries(&self) -> Vec<Entry> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.deleted && l.new_text.is_none() && l.user.is_some())
            .filter_map(|(i, l)| {
                let (user, field) = split_entry(&l.text)?;
                let stored = decode(field).ok()?;
                Some(Entry {
                    line: i + 1,
                    user: user.to_vec(),
                    field: field.to_vec(),
                    stored,
                })
            })
            .collect()
    }

    /// Replaces line `line` (1-based, as in [`Entry::line`]) with
    /// `user:stored`.
    pub fn replace_line(&mut self, line: usize, user: &[u8], stored: &str) {
        let mut text = user.to_vec();
        text.push(b':');
        text.extend_from_slice(stored.as_bytes());
        self.lines[line - 1].new_text = Some(text);
    }

    /// The file's bytes: untouched lines exactly as read.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in self.live() {
            out.extend_from_slice(l.new_text.as_ref().unwrap_or(&l.text));
            out.extend_from_slice(l.eol);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    #[test]
    fn pbkdf2_vectors() {
        assert_eq!(
            hash_with_salt(Scheme::Pbkdf2 { iterations: 101 }, b"sensorpw", &SALT),
            "$7$101$AAECAwQFBgcICQoL$J/vNH9EMqZLqOEdFIcJLmdQ587IOUdaIfYznXw37u6272QfhA3MU1z0SCG5xbN0rVeSa2lH0pH/YHdQWi3ZejQ=="
        );
        assert_eq!(
            hash_with_salt(Scheme::Pbkdf2 { iterations: 1000 }, b"password", &SALT),
            "$7$1000$AAECAwQFBgcICQoL$jAnlt4INwu46PWkRm7yyEckCn4J4haQ0yppM1ySyIKkitAwJUNUFispqMVpKFPJ0N2Xchh5AVd80PCB3xTcE6Q=="
        );
    }

    #[test]
    fn sha512_vector() {
        assert_eq!(
            hash_with_salt(Scheme::Sha512, b"sensorpw", &SALT),
            "$6$AAECAwQFBgcICQoL$SbGVLA+lFaUbdOK8CSD5A7aQj0iwkEj28G1TRvJu/5AmtkdaK+97fdxgtjA5TROYMTLpnNxdnc1RoUZhdkdkow=="
        );
    }

    /// Lines from mosquitto's own broker tests.
    #[test]
    fn mosquitto_sha512_vectors_verify() {
        let cases = [
            (
                "$6$njERlZMi/7DzNB9E$iiavfuXvUm8iyDZArTy7smTxh07GXXOrOsqxfW6gkOYVXHGk+W+i/8d3xDxrMwEPygEBhoA8A/gjQC0N2M4Lkw==",
                "test",
            ),
            (
                "$6$vZY4TS+/HBxHw38S$vvjVFECzb8dyuu/mruD2QKTfdFn0WmKxbc+1TsdB0L8EdHk3v9JRmfjHd56+VaTnUcSZOZ/hzkdvWCtxlX7AUQ==",
                "password",
            ),
        ];
        for (stored, pw) in cases {
            let s = decode(stored.as_bytes()).unwrap();
            assert_eq!(s.verify(pw.as_bytes()), Some(true), "{stored}");
            assert_eq!(s.verify(b"wrong"), Some(false), "{stored}");
        }
    }

    #[test]
    fn pbkdf2_vector_verifies() {
        let s = decode(b"$7$1000$AAECAwQFBgcICQoL$jAnlt4INwu46PWkRm7yyEckCn4J4haQ0yppM1ySyIKkitAwJUNUFispqMVpKFPJ0N2Xchh5AVd80PCB3xTcE6Q==").unwrap();
        assert!(matches!(
            s,
            Stored::Pbkdf2 {
                iterations: 1000,
                ..
            }
        ));
        assert_eq!(s.verify(b"password"), Some(true));
        assert_eq!(s.verify(b"Password"), Some(false));
    }

    #[test]
    fn argon2id_has_mosquitto_21_shape_and_round_trips() {
        let salt: Vec<u8> = (0..64).collect();
        let h = hash_with_salt(Scheme::Argon2id, b"sensorpw", &salt);
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(
            parts[..4],
            ["", "argon2id", "v=19", "m=47104,t=1,p=1"],
            "{h}"
        );
        // 64 bytes in unpadded base64 are 86 characters.
        assert_eq!(parts[4], STANDARD_NO_PAD.encode(&salt));
        assert_eq!((parts[4].len(), parts[5].len()), (86, 86), "{h}");
        assert!(
            !parts[4].contains('=') && !parts[5].contains('='),
            "PHC has no padding: {h}"
        );
        let s = decode(h.as_bytes()).unwrap();
        let Stored::Argon2id {
            m,
            t,
            p,
            salt: ref s2,
            hash: ref hh,
        } = s
        else {
            panic!("{s:?}")
        };
        assert_eq!((m, t, p, s2.len(), hh.len()), (47104, 1, 1, 64, 64));
        assert_eq!(s.verify(b"sensorpw"), Some(true));
        assert_eq!(s.verify(b"sensorpx"), Some(false));
        // Deterministic for a fixed salt, different for another.
        assert_eq!(h, hash_with_salt(Scheme::Argon2id, b"sensorpw", &salt));
        assert_ne!(h, hash_with_salt(Scheme::Argon2id, b"sensorpw", &[7u8; 64]));
    }

    /// Our PHC string is the one the argon2 crate's own encoder writes (which cannot be used
    /// directly: its salt type holds at most 48 bytes, mosquitto 2.1 uses 64).
    #[test]
    fn argon2id_matches_the_argon2_crate_phc_encoder() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt: Vec<u8> = (0..16).collect();
        let params = argon2::Params::new(ARGON2_M, ARGON2_T, ARGON2_P, Some(64)).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let phc = a
            .hash_password(b"sensorpw", &SaltString::encode_b64(&salt).unwrap())
            .unwrap()
            .to_string();
        assert_eq!(hash_with_salt(Scheme::Argon2id, b"sensorpw", &salt), phc);
    }

    #[test]
    fn random_salts_differ_and_have_mosquitto_lengths() {
        let a = hash(Scheme::Pbkdf2 { iterations: 1 }, b"x").unwrap();
        let b = hash(Scheme::Pbkdf2 { iterations: 1 }, b"x").unwrap();
        assert_ne!(a, b);
        let Stored::Pbkdf2 { salt, hash, .. } = decode(a.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!((salt.len(), hash.len()), (12, 64));
        let Stored::Sha512 { salt, .. } = decode(hash_sha(b"x").as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(salt.len(), 12);
    }

    fn hash_sha(pw: &[u8]) -> String {
        hash(Scheme::Sha512, pw).unwrap()
    }

    #[test]
    fn decode_sorts_fields() {
        assert_eq!(decode(b"hunter2"), Ok(Stored::Plain));
        assert_eq!(decode(b"$"), Ok(Stored::Plain));
        assert_eq!(decode(b"$8$abc$def"), Ok(Stored::Unknown));
        assert!(decode(b"$7$0$AAECAwQFBgcICQoL$x").is_err());
        assert!(decode(b"$7$101$AAEC$J/vN").is_err());
        assert!(decode(b"$6$AAECAwQFBgcICQoL$c2hvcnQ=").is_err());
        assert!(decode(b"$6$AAECAwQFBgcICQoL").is_err());
        assert!(decode(b"$argon2id$v=16$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAA").is_err());
    }

    const FILE: &[u8] = b"# sensors\r\n\r\nalice:$6$AAECAwQFBgcICQoL$SbGVLA+lFaUbdOK8CSD5A7aQj0iwkEj28G1TRvJu/5AmtkdaK+97fdxgtjA5TROYMTLpnNxdnc1RoUZhdkdkow==\r\n  bob  :  plain  \nno colon here\nlast:$8$future$thing";

    #[test]
    fn untouched_file_renders_byte_for_byte() {
        let f = PasswordFile::parse(FILE).unwrap();
        assert_eq!(f.render(), FILE);
        assert_eq!(PasswordFile::parse(b"").unwrap().render(), b"");
    }

    #[test]
    fn update_keeps_other_lines_and_the_line_ending() {
        let mut f = PasswordFile::parse(FILE).unwrap();
        assert!(!f.set("alice", "$6$NEW"));
        let want = String::from_utf8_lossy(FILE).replace(
            "alice:$6$AAECAwQFBgcICQoL$SbGVLA+lFaUbdOK8CSD5A7aQj0iwkEj28G1TRvJu/5AmtkdaK+97fdxgtjA5TROYMTLpnNxdnc1RoUZhdkdkow==",
            "alice:$6$NEW",
        );
        assert_eq!(String::from_utf8(f.render()).unwrap(), want);
    }

    #[test]
    fn append_terminates_an_unterminated_last_line() {
        let mut f = PasswordFile::parse(b"a:x\r\nb:y").unwrap();
        assert!(f.set("c", "z"));
        assert_eq!(f.render(), b"a:x\r\nb:y\r\nc:z\r\n");
        let mut f = PasswordFile::new();
        f.set("c", "z");
        assert_eq!(f.render(), b"c:z\n");
    }

    #[test]
    fn delete_removes_every_entry_of_the_user_only() {
        let mut f = PasswordFile::parse(b"#a:x\na:x\nab:y\n a :z\n").unwrap();
        assert!(f.delete("a"));
        assert_eq!(f.render(), b"#a:x\nab:y\n");
        assert!(!f.delete("a"));
        assert!(!f.delete("#a"), "comments are not entries");
    }

    #[test]
    fn corrupt_lines_are_named() {
        let e = PasswordFile::parse(b"a:x\n:nouser\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = PasswordFile::parse(b"# c\n\nbob:\n").unwrap_err();
        assert_eq!(e.to_string(), "corrupt line 3: user 'bob' has no password");
        let e =
            PasswordFile::parse(b"a:x\r\nbob:$7$101$AAECAwQFBgcICQoL$c2hvcnQ=\r\n").unwrap_err();
        assert_eq!((e.line, e.why.contains("64 bytes")), (2, true), "{e}");
    }

    #[test]
    fn plaintext_entries_are_found_and_replaced() {
        let mut f = PasswordFile::parse(FILE).unwrap();
        let e = f.entries();
        let kinds: Vec<_> = e
            .iter()
            .map(|e| (e.line, e.user.as_slice(), &e.stored))
            .collect();
        assert!(
            matches!(
                kinds[..],
                [
                    (3, b"alice", Stored::Sha512 { .. }),
                    (4, b"bob", Stored::Plain),
                    (6, b"last", Stored::Unknown),
                ]
            ),
            "{kinds:?}"
        );
        assert_eq!(e[1].field, b"plain");
        f.replace_line(4, b"bob", "$6$H");
        assert!(
            String::from_utf8(f.render())
                .unwrap()
                .contains("\nbob:$6$H\nno colon here\n")
        );
    }

    #[test]
    fn stored_finds_the_user() {
        let f = PasswordFile::parse(FILE).unwrap();
        assert_eq!(f.stored("alice").unwrap().verify(b"sensorpw"), Some(true));
        assert_eq!(f.stored("bob"), Some(Stored::Plain));
        assert_eq!(f.stored("carol"), None);
    }

    #[test]
    fn names_the_broker_reads_differently_are_refused() {
        for bad in ["#bob", "# bob", " alice", "alice ", " "] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        for ok in ["a#b", "bob#", "al ice", "ålice"] {
            assert!(check_username(ok).is_ok(), "{ok:?}");
        }
        // Why: the parser reads those lines as a comment, or as the trimmed name.
        let f = PasswordFile::parse(b"#bob:x\n alice :y\n").unwrap();
        assert_eq!(f.stored("#bob"), None);
        assert_eq!(f.stored("alice"), Some(Stored::Plain));
    }

    #[test]
    fn the_entry_checked_is_the_one_the_broker_uses() {
        let old = hash_with_salt(Scheme::Pbkdf2 { iterations: 1 }, b"old", &SALT);
        let new = hash_with_salt(Scheme::Sha512, b"new", &SALT);
        let text = format!("alice:{old}\n alice :{new}\nalice:plain\n");
        let f = PasswordFile::parse(text.as_bytes()).unwrap();
        assert_eq!(f.stored("alice").unwrap().verify(b"new"), Some(true));
        let f = PasswordFile::parse(b"alice:plain\nalice:$9$x$y\n").unwrap();
        assert_eq!(f.stored("alice"), Some(Stored::Unknown));
    }

    #[test]
    fn absurd_costs_are_corrupt_before_any_hashing() {
        let salt = STANDARD.encode(SALT);
        let hash = STANDARD.encode([7u8; 64]);
        for (it, ok) in [
            ("10000000", true),
            ("10000001", false),
            ("4294967295", false),
            ("99999999999999999999999", false),
            ("0", false),
            ("", false),
            ("+5", false),
        ] {
            let field = format!("$7${it}${salt}${hash}");
            assert_eq!(decode(field.as_bytes()).is_ok(), ok, "{field}");
        }
        let s = STANDARD_NO_PAD.encode([1u8; 16]);
        let h = STANDARD_NO_PAD.encode([2u8; 32]);
        for (params, ok) in [
            ("m=47104,t=1,p=1", true),
            ("m=1048576,t=4,p=64", true),
            ("m=1048577,t=1,p=1", false),
            ("m=4294967295,t=1,p=1", false),
            ("m=65536,t=100,p=1", false),
            ("m=8,t=101,p=1", false),
            ("m=8,t=4294967295,p=1", false),
            ("m=1024,t=1,p=65", false),
            ("m=1048576,t=5,p=1", false),
        ] {
            let field = format!("$argon2id$v=19${params}${s}${h}");
            let r = decode(field.as_bytes());
            assert_eq!(r.is_ok(), ok, "{field}: {r:?}");
        }
        let e = PasswordFile::parse(
            format!("a:x\nalice:$argon2id$v=19$m=4294967295,t=1,p=1${s}${h}\n").as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.why.contains("1 GiB"), "{e}");
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("sensor-01").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a:b").is_err());
        assert!(check_username("a\nb").is_err());
        assert!(check_username("a\u{7f}").is_err());
        assert!(check_username(&"u".repeat(65_535)).is_ok());
        assert!(check_username(&"u".repeat(65_536)).is_err());
        assert!(check_password("").is_err());
        assert!(check_password(&"p".repeat(65_536)).is_err());
        assert!(check_password(&"p".repeat(65_535)).is_ok());
    }
}
