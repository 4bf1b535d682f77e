//! `mqtk certgen`: check everything the user asked for, then make the certificates (`pki`), then
//! write them, then print what was written and how to use it.
//!
//! Every usage error (bad days, host or client name, a CA pair that does not match, a file that
//! would be overwritten, an unwritable directory) is found before the first byte is written.
//! The files are then written all or none: each to a temp file in DIR, and only when every one
//! is written and synced are they renamed into place (`tests/certgen.rs`:
//! a_failed_write_leaves_nothing_behind).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
#[cfg(unix)]
use std::fs::{DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::net::IpAddr;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cli::{self, CertgenArgs};
use crate::exit;
use crate::pki::{self, Ca, Host, KeyType, Validity};

const CONF: &str = "mosquitto-tls.conf";
/// mosquitto's conventional MQTT-over-TLS port.
const DEFAULT_PORT: u16 = 8883;

pub fn run(args: CertgenArgs) -> anyhow::Result<()> {
    let plan = Plan::from_args(args)?;
    // The last check: creating DIR. Bad input never leaves an empty directory behind, and a
    // failed write removes the directories this run created.
    let created = plan.create_dir()?;
    let made = plan
        .make()
        .and_then(|made| plan.write(&made).map(|()| made));
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
    };
    print_summary(&plan, &made).context("cannot print the summary")
}

/// Where the signing CA comes from.
enum CaSource {
    /// A new CA, written to DIR/ca.crt and DIR/ca.key.
    New { common_name: String },
    /// DIR's own ca.crt + ca.key, left as they are.
    InDir(Ca),
    /// --ca-cert/--ca-key: used where they are, nothing copied.
    External { cert: PathBuf, ca: Ca },
}

/// Everything validated: what to make and where.
struct Plan {
    dir: PathBuf,
    key_type: KeyType,
    days: i64,
    ca_days: i64,
    ca: CaSource,
    /// None: only clients were asked for, and DIR's server certificate is kept.
    server: Option<Vec<Host>>,
    clients: Vec<String>,
    /// Client certificates exist (now or from an earlier run): the listener requires one.
    mutual: bool,
    force: bool,
    /// The host clients connect to in the printed examples.
    example_host: String,
    /// The client whose certificate the printed examples use, when `mutual`.
    example_client: Option<String>,
    listen: Listen,
    conf: String,
}

/// `--listen [ADDR:]PORT`: mosquitto's `listener PORT [ADDR]`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listen {
    port: u16,
    /// None: every interface.
    addr: Option<String>,
}

impl Listen {
    fn parse(s: &str) -> Result<Listen, String> {
        let port_of = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{p:?} is not a port (1 to 65535)")),
        };
        let Some((addr, port)) = s.rsplit_once(':') else {
            return Ok(Listen {
                port: port_of(s)?,
                addr: None,
            });
        };
        let port = port_of(port)?;
        let addr = if let Some(v6) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>()
                .map_err(|_| format!("{v6:?} is not an IPv6 address"))?
                .to_string()
        } else if addr.contains(':') {
            return Err(format!("put an IPv6 address in brackets: [{addr}]:{port}"));
        } else if let Ok(ip) = addr.parse::<IpAddr>() {
            ip.to_string()
        } else {
            match Host::parse(addr)? {
                Host::Dns(name) if !name.starts_with('*') => name,
                _ => return Err(format!("{addr:?} is not an address or host name")),
            }
        };
        Ok(Listen {
            port,
            addr: Some(addr),
        })
    }

    /// The `listener` line of mosquitto.conf.
    fn line(&self) -> String {
        match &self.addr {
            Some(a) => format!("listener {} {a}", self.port),
            None => format!("listener {}", self.port),
        }
    }

    fn describe(&self) -> String {
        match &self.addr {
            Some(a) if a.contains(':') => format!("[{a}]:{}", self.port),
            Some(a) => format!("{a}:{}", self.port),
            None => format!("port {} (every interface)", self.port),
        }
    }
}

/// The certificates made by `Plan::make`, in the order they are written and listed.
struct Made {
    files: Vec<Output>,
}

struct Output {
    name: String,
    bytes: Vec<u8>,
    kind: Kind,
    /// For certificates: the DER, to describe it in the summary.
    der: Option<Vec<u8>>,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Kind {
    Key,
    Cert,
    Conf,
}

impl Plan {
    fn from_args(args: CertgenArgs) -> anyhow::Result<Plan> {
        check_days("--days", args.days)?;
        check_days("--ca-days", args.ca_days)?;
        let hostname = gethostname::gethostname().into_string().ok();

        let mut hosts = Vec::new();
        for h in &args.hosts {
            let host = Host::parse(h).map_err(|e| exit::usage(format!("--host: {e}")))?;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        let mut clients: Vec<String> = Vec::new();
        for c in &args.clients {
            pki::validate_client_name(c).map_err(|e| exit::usage(format!("--client: {e}")))?;
            if !clients.contains(c) {
                clients.push(c.clone());
            }
        }
        if let Some(cn) = &args.ca_cn {
            if cn.chars().count() > 64 {
                return Err(exit::usage("--ca-cn: a common name has at most 64 characters").into());
            }
            if cn.chars().any(char::is_control) {
                return Err(
                    exit::usage(format!("--ca-cn: {cn:?} contains a control character")).into(),
                );
            }
        }
        let listen = match &args.listen {
            Some(l) => Some(Listen::parse(l).map_err(|e| exit::usage(format!("--listen: {e}")))?),
            None => None,
        };

        let dir = std::path::absolute(&args.out)
            .map_err(|e| exit::usage(format!("invalid --out {} ({e})", args.out.display())))?;
        if dir.exists() && !dir.is_dir() {
            return Err(exit::usage(format!("{} is not a directory", dir.display())).into());
        }

        // Without --listen, a later run (one more client) keeps the listener DIR already has.
        let listen = listen.or_else(|| existing_listen(&dir)).unwrap_or(Listen {
            port: DEFAULT_PORT,
            addr: None,
        });

        let ca = choose_ca(&args, &dir, hostname.as_deref())?;
        let reusing = !matches!(ca, CaSource::New { .. });
        // Adding clients to a DIR that already has its server certificate keeps that one.
        let keep_server = reusing
            && args.hosts.is_empty()
            && !clients.is_empty()
            && dir.join("server.crt").is_file()
            && dir.join("server.key").is_file();
        let server = if keep_server {
            None
        } else if hosts.is_empty() {
            Some(pki::default_hosts(hostname.as_deref()))
        } else {
            Some(hosts)
        };
        let earlier_clients = existing_clients(&dir);
        let mutual = !clients.is_empty() || !earlier_clients.is_empty();
        let example_client = clients.first().or(earlier_clients.first()).cloned();
        let names = match &server {
            Some(hosts) => hosts.iter().map(Host::as_client_arg).collect(),
            None => existing_server_names(&dir),
        };
        // The examples connect to the listener's own address when the certificate names it.
        let example_host = listen
            .addr
            .clone()
            .filter(|a| names.contains(a))
            .or_else(|| names.first().cloned())
            .unwrap_or_else(|| "localhost".into());
        let cafile = match &ca {
            CaSource::External { cert, .. } => cert.clone(),
            _ => dir.join("ca.crt"),
        };
        let conf = listener_conf(&dir, &cafile, mutual, &listen);

        let plan = Plan {
            dir,
            key_type: key_type(args.key_type),
            days: args.days,
            ca_days: args.ca_days,
            ca,
            server,
            clients,
            mutual,
            force: args.force,
            example_host,
            example_client,
            listen,
            conf,
        };
        plan.check_targets()?;
        Ok(plan)
    }

    /// The names this run writes.
    fn targets(&self) -> Vec<String> {
        let mut names = Vec::new();
        if matches!(self.ca, CaSource::New { .. }) {
            names.extend(["ca.crt".to_string(), "ca.key".to_string()]);
        }
        if self.server.is_some() {
            names.extend(["server.crt".to_string(), "server.key".to_string()]);
        }
        for c in &self.clients {
            names.push(format!("client-{c}.crt"));
            names.push(format!("client-{c}.key"));
        }
        names.push(CONF.to_string());
        names
    }

    /// Without --force, no existing file may be replaced (an identical mosquitto-tls.conf is
    /// not a change, so adding a client to a mutual-TLS directory needs no --force).
    fn check_targets(&self) -> anyhow::Result<()> {
        // Not even --force replaces a directory (or makes one the DIR of a file).
        if let Some(name) = self
            .targets()
            .into_iter()
            .find(|name| self.dir.join(name).is_dir())
        {
            return Err(exit::usage(format!(
                "{} is a directory; nothing was written",
                self.dir.join(name).display()
            ))
            .into());
        }
        if self.force {
            return Ok(());
        }
        let taken: Vec<String> = self
            .targets()
            .into_iter()
            .filter(|name| {
                let path = self.dir.join(name);
                match fs::symlink_metadata(&path) {
                    Err(_) => false,
                    Ok(_) if name == CONF => fs::read(&path)
                        .map(|b| b != self.conf.as_bytes())
                        .unwrap_or(true),
                    Ok(_) => true,
                }
            })
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        let list = taken.join(", ");
        Err(exit::usage(format!(
            "{} already has {list}; nothing was written",
            self.dir.display()
        ))
        .with_hint("use --force to replace them, or another --out DIR")
        .into())
    }

    /// Creates DIR (and missing parents) mode 0755 whatever the umask — the keys in it are 0600
    /// on their own, and mosquitto's user must be able to reach server.crt — and proves a file
    /// can be created in it. Returns the directories it created, outermost first.
    fn create_dir(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut missing = Vec::new();
        let mut d = self.dir.as_path();
        while fs::symlink_metadata(d).is_err() {
            missing.push(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        missing.reverse();
        let mut created = Vec::new();
        let result = (|| -> io::Result<()> {
            for d in &missing {
                #[cfg(unix)]
                DirBuilder::new().mode(0o755).create(d)?;
                #[cfg(windows)]
                fs::create_dir(d)?;
                created.push(d.clone());
                #[cfg(unix)]
                fs::set_permissions(d, Permissions::from_mode(0o755))?;
            }
            let probe = self
                .dir
                .join(format!(".mqtk-certgen-{}", std::process::id()));
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)?;
            fs::remove_file(&probe)
        })();
        if let Err(e) = result {
            for d in created.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(
                exit::usage(format!("cannot write to {} ({e})", self.dir.display())).into(),
            );
        }
        Ok(created)
    }

    fn make(&self) -> anyhow::Result<Made> {
        let now = OffsetDateTime::now_utc();
        let leaf = Validity::days(now, self.days);
        let mut files = Vec::new();
        let (new_ca, ca) = match &self.ca {
            CaSource::New { common_name } => {
                let ca = Ca::generate(
                    common_name,
                    self.key_type,
                    Validity::days(now, self.ca_days),
                )?;
                files.push(cert_output("ca.crt", &ca.cert_pem, &ca.cert_der));
                files.push(key_output("ca.key", ca.key_pem()));
                (Some(ca), None)
            }
            CaSource::InDir(ca) | CaSource::External { ca, .. } => (None, Some(ca)),
        };
        let ca = ca.or(new_ca.as_ref()).expect("a CA");
        if let Some(hosts) = &self.server {
            let s = ca.issue_server(hosts, self.key_type, leaf)?;
            files.push(cert_output("server.crt", &s.cert_pem, &s.cert_der));
            files.push(key_output("server.key", &s.key_pem));
        }
        for name in &self.clients {
            let c = ca.issue_client(name, self.key_type, leaf)?;
            files.push(cert_output(
                &format!("client-{name}.crt"),
                &c.cert_pem,
                &c.cert_der,
            ));
            files.push(key_output(&format!("client-{name}.key"), &c.key_pem));
        }
        files.push(Output {
            name: CONF.into(),
            bytes: self.conf.clone().into_bytes(),
            kind: Kind::Conf,
            der: None,
        });
        Ok(Made { files })
    }

    /// All the files, or none: see [`stage`] and [`commit`].
    fn write(&self, made: &Made) -> anyhow::Result<()> {
        let files: Vec<&Output> = made
            .files
            .iter()
            .filter(|f| {
                !(f.kind == Kind::Conf
                    && fs::read(self.dir.join(&f.name)).is_ok_and(|b| b == f.bytes))
            })
            .collect();
        let mut nonce = [0u8; 6];
        getrandom::fill(&mut nonce).context("cannot get random bytes")?;
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let staged = stage(&self.dir, &files, &nonce)?;
        commit(&staged, &nonce)?;
        // Windows: std opens no directory as a file, so there is no directory to sync; every
        // file's contents were synced before the renames.
        #[cfg(unix)]
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync the directory {}", self.dir.display()))?;
        Ok(())
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn cafile(&self) -> String {
        match &self.ca {
            CaSource::External { cert, .. } => cert.display().to_string(),
            _ => self.path("ca.crt"),
        }
    }
}

fn check_days(flag: &str, days: i64) -> anyhow::Result<()> {
    if days <= 0 || days > pki::MAX_DAYS {
        return Err(exit::usage(format!(
            "{flag} must be from 1 to {} (got {days})",
            pki::MAX_DAYS
        ))
        .into());
    }
    Ok(())
}

fn key_type(k: cli::KeyType) -> KeyType {
    match k {
        cli::KeyType::EcdsaP256 => KeyType::EcdsaP256,
        cli::KeyType::EcdsaP384 => KeyType::EcdsaP384,
        cli::KeyType::Rsa2048 => KeyType::Rsa2048,
        cli::KeyType::Rsa3072 => KeyType::Rsa3072,
    }
}

/// --ca-cert/--ca-key, else DIR's ca.crt + ca.key, else a new CA. Any CA that is read must be a
/// CA whose key matches its certificate.
fn choose_ca(args: &CertgenArgs, dir: &Path, hostname: Option<&str>) -> anyhow::Result<CaSource> {
    let load = |cert: &Path, key: &Path| -> anyhow::Result<Ca> {
        let read = |p: &Path| {
            fs::read_to_string(p)
                .map_err(|e| exit::usage(format!("cannot read {} ({e})", p.display())))
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        Ca::load(&cert_pem, &key_pem)
            .map_err(|e| exit::usage(format!("{}: {e}", cert.display())).into())
    };
    if let (Some(cert), Some(key)) = (&args.ca_cert, &args.ca_key) {
        if args.ca_cn.is_some() {
            return Err(exit::usage("--ca-cn names a new CA; it cannot rename --ca-cert").into());
        }
        let cert = std::path::absolute(cert)
            .map_err(|e| exit::usage(format!("invalid --ca-cert {} ({e})", cert.display())))?;
        let ca = load(&cert, key)?;
        return Ok(CaSource::External { cert, ca });
    }
    let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
    match (crt.exists(), key.exists()) {
        (true, true) => {
            if args.ca_cn.is_some() {
                return Err(exit::usage(format!(
                    "--ca-cn names a new CA, but {} already has one (ca.crt, ca.key)",
                    dir.display()
                ))
                .with_hint("remove ca.crt and ca.key to start a new CA, or drop --ca-cn")
                .into());
            }
            Ok(CaSource::InDir(load(&crt, &key)?))
        }
        (true, false) | (false, true) if !args.force => {
            let (has, lacks) = if crt.exists() {
                ("ca.crt", "ca.key")
            } else {
                ("ca.key", "ca.crt")
            };
            Err(
                exit::usage(format!("{} has {has} but no {lacks}", dir.display()))
                    .with_hint("restore it to sign with that CA, or use --force to make a new CA")
                    .into(),
            )
        }
        _ => {
            let common_name = match &args.ca_cn {
                Some(cn) => cn.clone(),
                None => default_ca_name(hostname)?,
            };
            Ok(CaSource::New { common_name })
        }
    }
}

/// `mqtk CA <host> <8 hex digits>`: the random part gives every CA its own subject. Two CAs
/// with one subject make a client given the wrong one report a bad signature (the issuer
/// name matched, the key did not) instead of an unknown issuer
/// (`tests/certgen.rs`: every_ca_has_its_own_subject).
fn default_ca_name(hostname: Option<&str>) -> anyhow::Result<String> {
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).context("cannot get random bytes")?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    // At most 64 characters in all: "mqtk CA " + host + " " + tag.
    Ok(match hostname {
        Some(h) if !h.is_empty() && h.len() <= 47 && h.chars().all(|c| c.is_ascii_graphic()) => {
            format!("mqtk CA {h} {tag}")
        }
        _ => format!("mqtk CA {tag}"),
    })
}

/// NAMEs of the client-NAME.crt files already in DIR, sorted.
fn existing_clients(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let names: BTreeSet<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| Some(n.strip_prefix("client-")?.strip_suffix(".crt")?.to_string()))
        .collect();
    names.into_iter().collect()
}

/// The names in DIR's existing server certificate, for the printed examples.
fn existing_server_names(dir: &Path) -> Vec<String> {
    let names = || -> Option<Vec<String>> {
        let pem = fs::read_to_string(dir.join("server.crt")).ok()?;
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .ok()?
            .1
            .contents;
        let sans = pki::describe(&der).ok()?.sans;
        Some(
            sans.iter()
                .filter_map(|san| Some(san.split_once(':')?.1.to_string()))
                .collect(),
        )
    };
    names().unwrap_or_default()
}

/// The `listener PORT [ADDR]` line of DIR's mosquitto-tls.conf, if it has one.
fn existing_listen(dir: &Path) -> Option<Listen> {
    let conf = fs::read_to_string(dir.join(CONF)).ok()?;
    let line = conf.lines().find_map(|l| l.strip_prefix("listener "))?;
    let mut words = line.split_whitespace();
    let port = words.next()?;
    let spec = match words.next() {
        Some(addr) if addr.contains(':') => format!("[{addr}]:{port}"),
        Some(addr) => format!("{addr}:{port}"),
        None => port.to_string(),
    };
    Listen::parse(&spec).ok()
}

/// The listener block, with absolute paths so it works wherever it is included from.
fn listener_conf(dir: &Path, cafile: &Path, mutual: bool, listen: &Listen) -> String {
    let key = dir.join("server.key");
    let mut c = String::new();
    c.push_str(
        "# A TLS listener for mosquitto, made by `mqtk certgen`.\n\
         #\n\
         # To use it, copy this file into the directory mosquitto.conf includes with\n\
         # `include_dir` (Debian and Ubuntu: /etc/mosquitto/conf.d/), or paste the lines below\n\
         # into mosquitto.conf; then restart mosquitto.\n\
         #\n\
         # Started as root, mosquitto switches to the user `mosquitto` before it reads the key,\n\
         # so that user must be able to read it:\n",
    );
    c.push_str(&format!("#   sudo chown mosquitto: {}\n", key.display()));
    c.push_str("#\n");
    c.push_str(&listen.line());
    c.push('\n');
    c.push_str(&format!("cafile {}\n", cafile.display()));
    c.push_str(&format!("certfile {}\n", dir.join("server.crt").display()));
    c.push_str(&format!("keyfile {}\n", key.display()));
    if mutual {
        c.push_str(
            "# Clients must present a certificate signed by the CA; its common name becomes\n\
             # their username, for acl_file rules (`user NAME`).\n\
             require_certificate true\n\
             use_identity_as_username true\n",
        );
    } else {
        c.push_str(
            "# Clients without certificates need a user in password_file, or\n\
             # `allow_anonymous true` (both are global unless `per_listener_settings true`).\n",
        );
    }
    c
}

fn cert_output(name: &str, pem: &str, der: &[u8]) -> Output {
    Output {
        name: name.into(),
        bytes: pem.as_bytes().to_vec(),
        kind: Kind::Cert,
        der: Some(der.to_vec()),
    }
}

fn key_output(name: &str, pem: &str) -> Output {
    Output {
        name: name.into(),
        bytes: pem.as_bytes().to_vec(),
        kind: Kind::Key,
        der: None,
    }
}

/// A file written to its temp name, not yet renamed into place.
struct Staged {
    tmp: PathBuf,
    target: PathBuf,
}

fn temp_name(target: &Path, nonce: &str, ext: &str) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.mqtk-{nonce}.{ext}"))
}

/// Writes every file to a temp file beside its target and syncs it. Keys are created 0600
/// (never written first and restricted after), certificates and the config 0644, whatever the
/// umask. On any failure the temp files written so far are removed and nothing else changed.
///
/// Windows has no mode bits: who may read a file there is its ACL, which a new file inherits
/// from DIR, so a key is as private as the directory it is written to.
fn stage(dir: &Path, files: &[&Output], nonce: &str) -> anyhow::Result<Vec<Staged>> {
    let mut staged: Vec<Staged> = Vec::new();
    for f in files {
        let target = dir.join(&f.name);
        let tmp = temp_name(&target, nonce, "tmp");
        let written = (|| -> io::Result<()> {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            let mode = if f.kind == Kind::Key { 0o600 } else { 0o644 };
            #[cfg(unix)]
            options.mode(mode);
            let mut file = options.open(&tmp)?;
            #[cfg(unix)]
            file.set_permissions(Permissions::from_mode(mode))?;
            file.write_all(&f.bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            for s in &staged {
                let _ = fs::remove_file(&s.tmp);
            }
            return Err(write_error("cannot write", &target, &e));
        }
        staged.push(Staged { tmp, target });
    }
    Ok(staged)
}

/// Exit 1, one line: `cannot write DIR/server.crt (No space left on device (os error 28));
/// nothing was written`.
fn write_error(what: &str, path: &Path, e: &io::Error) -> anyhow::Error {
    exit::Failure::new(
        exit::ExitStatus::Failure,
        format!("{what} {} ({e}); nothing was written", path.display()),
    )
    .into()
}

/// Renames the staged files into place. Files being replaced (--force) are first kept under a
/// backup name, so that when a rename fails halfway the ones already renamed are put back: the
/// directory ends as it was, or with every new file.
fn commit(staged: &[Staged], nonce: &str) -> anyhow::Result<()> {
    // Removes the temp files and backups from `from` on; earlier backups were renamed back.
    let discard = |from: usize, backups: &[Option<PathBuf>]| {
        for s in &staged[from..] {
            let _ = fs::remove_file(&s.tmp);
        }
        for b in backups.iter().skip(from).flatten() {
            let _ = fs::remove_file(b);
        }
    };
    let mut backups: Vec<Option<PathBuf>> = Vec::new();
    for s in staged {
        if fs::symlink_metadata(&s.target).is_err() {
            backups.push(None);
            continue;
        }
        let backup = temp_name(&s.target, nonce, "old");
        // A hard link costs nothing; a file system without them gets a copy.
        if let Err(e) =
            fs::hard_link(&s.target, &backup).or_else(|_| fs::copy(&s.target, &backup).map(drop))
        {
            let _ = fs::remove_file(&backup);
            discard(0, &backups);
            return Err(write_error("cannot keep a copy of", &s.target, &e));
        }
        backups.push(Some(backup));
    }
    for (i, s) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(&s.tmp, &s.target) {
            for (done, backup) in staged[..i].iter().zip(&backups).rev() {
                let _ = match backup {
                    Some(b) => fs::rename(b, &done.target),
                    None => fs::remove_file(&done.target),
                };
            }
            discard(i, &backups);
            return Err(write_error("cannot write", &s.target, &e));
        }
    }
    for b in backups.iter().flatten() {
        let _ = fs::remove_file(b);
    }
    Ok(())
}

fn print_summary(plan: &Plan, made: &Made) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let width = made
        .files
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(out, "In {}:", plan.dir.display())?;
    match &plan.ca {
        CaSource::InDir(ca) => {
            writeln!(
                out,
                "  {:width$}  CA certificate, reused (kept as it was)",
                "ca.crt"
            )?;
            describe(&mut out, width, &ca.cert_der)?;
        }
        CaSource::External { cert, ca } => {
            writeln!(
                out,
                "  CA certificate {} (kept where it is)",
                cert.display()
            )?;
            describe(&mut out, width, &ca.cert_der)?;
        }
        CaSource::New { .. } => {}
    }
    // Windows gives a key no mode of its own (see `stage`), so there is none to show.
    let key_mode = if cfg!(unix) { " (0600)" } else { "" };
    for f in &made.files {
        let what = match (f.name.as_str(), f.kind) {
            ("ca.crt", _) => "CA certificate, new".to_string(),
            ("ca.key", _) => {
                format!("CA private key{key_mode}: it can sign any certificate, keep it safe")
            }
            ("server.crt", _) => "server certificate".into(),
            ("server.key", _) => format!("server private key{key_mode}"),
            (CONF, _) if plan.mutual => format!(
                "mosquitto listener on {}, client certificates required",
                plan.listen.describe()
            ),
            (CONF, _) => format!("mosquitto listener on {}", plan.listen.describe()),
            (name, Kind::Cert) => format!("client certificate, username {}", client_of(name)),
            (_, _) => format!("client private key{key_mode}"),
        };
        writeln!(out, "  {:width$}  {what}", f.name)?;
        if let Some(der) = &f.der {
            describe(&mut out, width, der)?;
        }
    }
    if plan.server.is_none() {
        writeln!(out, "  {:width$}  kept as it was", "server.crt")?;
    }

    let cafile = plan.cafile();
    let tls = match (&plan.example_client, plan.mutual) {
        (Some(c), true) => format!(
            "--cafile {cafile} --cert {} --key {}",
            plan.path(&format!("client-{c}.crt")),
            plan.path(&format!("client-{c}.key"))
        ),
        _ => format!("--cafile {cafile}"),
    };
    let host = &plan.example_host;
    let port = plan.listen.port;
    writeln!(out)?;
    writeln!(out, "Next:")?;
    writeln!(
        out,
        "  1. Copy {} into /etc/mosquitto/conf.d/ (or paste it into mosquitto.conf).",
        plan.path(CONF)
    )?;
    writeln!(
        out,
        "  2. mosquitto reads the key as user mosquitto: sudo chown mosquitto: {}",
        plan.path("server.key")
    )?;
    writeln!(
        out,
        "     (or run it with `user root`, or as the user who owns the key)."
    )?;
    // mosquitto 2 refuses clients without credentials unless told otherwise; a client
    // certificate under use_identity_as_username is a credential of its own
    // (`tests/certgen.rs`: next_steps_say_what_the_broker_still_needs).
    if plan.mutual {
        writeln!(
            out,
            "  3. Clients log in with their certificate: its CN is the user name, no password."
        )?;
    } else {
        writeln!(
            out,
            "  3. mosquitto 2 lets no client in without credentials: add users to a password file"
        )?;
        writeln!(
            out,
            "     (mqtk passwd -c /etc/mosquitto/passwd USER, then `password_file /etc/mosquitto/passwd`"
        )?;
        writeln!(
            out,
            "     in mosquitto.conf) and give the commands below -u USER -P; or set `allow_anonymous true`."
        )?;
    }
    writeln!(out, "  4. Restart mosquitto, then try it:")?;
    writeln!(
        out,
        "     mqtk sub -h {host} -p {port} {tls} -t 'test/#' -v"
    )?;
    writeln!(
        out,
        "     mqtk pub -h {host} -p {port} {tls} -t test/hello -m hello"
    )?;
    Ok(())
}

fn client_of(file: &str) -> &str {
    file.strip_prefix("client-")
        .and_then(|n| n.strip_suffix(".crt"))
        .unwrap_or(file)
}

fn describe(out: &mut impl Write, width: usize, der: &[u8]) -> io::Result<()> {
    let pad = width + 4;
    let Ok(info) = pki::describe(der) else {
        return writeln!(out, "{:pad$}(cannot be parsed)", "");
    };
    writeln!(out, "{:pad$}subject  {}", "", info.subject)?;
    if !info.sans.is_empty() {
        writeln!(out, "{:pad$}names    {}", "", info.sans.join(", "))?;
    }
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let expiry = info
        .not_after
        .format(&fmt)
        .unwrap_or_else(|_| info.not_after.to_string());
    writeln!(out, "{:pad$}expires  {expiry}", "")?;
    writeln!(out, "{:pad$}sha256   {}", "", info.fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_a_port_and_an_optional_address() {
        let l = |s: &str| Listen::parse(s).map(|l| l.line());
        assert_eq!(l("8883").unwrap(), "listener 8883");
        assert_eq!(l("127.0.0.1:8884").unwrap(), "listener 8884 127.0.0.1");
        assert_eq!(l("[::1]:8883").unwrap(), "listener 8883 ::1");
        assert_eq!(l("Broker.LAN:8883").unwrap(), "listener 8883 broker.lan");
        assert_eq!(l("0.0.0.0:1").unwrap(), "listener 1 0.0.0.0");
        for bad in [
            "",
            "0",
            "65536",
            "x",
            ":8883",
            "::1:8883",
            "[::1]",
            "[x]:1",
            "a b:1",
            "*.lan:1",
            "h:",
            "1.2.3.4:-1",
        ] {
            assert!(Listen::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            Listen::parse("::1:8883")
                .unwrap_err()
                .contains("[::1]:8883")
        );
        let d = |s: &str| Listen::parse(s).unwrap().describe();
        assert_eq!(d("8883"), "port 8883 (every interface)");
        assert_eq!(d("[::1]:9"), "[::1]:9");
        assert_eq!(d("10.0.0.1:9"), "10.0.0.1:9");
    }

    #[test]
    fn default_ca_names_are_unique_and_fit_a_common_name() {
        let a = default_ca_name(Some("myhost")).unwrap();
        let b = default_ca_name(Some("myhost")).unwrap();
        assert_ne!(a, b);
        let (head, tag) = a.rsplit_once(' ').unwrap();
        assert_eq!(head, "mqtk CA myhost");
        assert!(
            tag.len() == 8 && tag.chars().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
        let long = "h".repeat(47);
        assert_eq!(default_ca_name(Some(&long)).unwrap().len(), 64);
        for odd in [
            Some("h".repeat(48)),
            Some("a\nb".into()),
            Some(String::new()),
            None,
        ] {
            let n = default_ca_name(odd.as_deref()).unwrap();
            assert!(n.starts_with("mqtk CA ") && n.len() == 16, "{n:?}");
        }
    }

    fn output(name: &str, bytes: &str, kind: Kind) -> Output {
        Output {
            name: name.into(),
            bytes: bytes.as_bytes().to_vec(),
            kind,
            der: None,
        }
    }

    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let content = fs::read_to_string(e.path()).unwrap_or_else(|_| "<dir>".into());
                (e.file_name().into_string().unwrap(), content)
            })
            .collect();
        v.sort();
        v
    }

    /// A rename that fails halfway (here: its temp file vanished) puts back what was already
    /// replaced and leaves no temp file or backup.
    #[test]
    fn a_rename_failing_halfway_restores_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("a.crt"), "old a").unwrap();
        fs::write(dir.join("b.key"), "old b").unwrap();
        let before = listing(dir);
        let files = [
            output("a.crt", "new a", Kind::Cert),
            output("new.crt", "new", Kind::Cert),
            output("b.key", "new b", Kind::Key),
            output("c.conf", "new c", Kind::Conf),
        ];
        let refs: Vec<&Output> = files.iter().collect();
        let staged = stage(dir, &refs, "n0nce").unwrap();
        assert_eq!(listing(dir).len(), before.len() + 4, "four temp files");
        fs::remove_file(&staged[2].tmp).unwrap();
        let e = commit(&staged, "n0nce").unwrap_err();
        assert!(
            e.to_string()
                .contains("b.key (No such file or directory (os error 2)); nothing was written"),
            "{e}"
        );
        assert_eq!(listing(dir), before);

        // A target that cannot be kept aside (a directory): refused before any rename.
        fs::create_dir(dir.join("c.conf")).unwrap();
        let before = listing(dir);
        let staged = stage(dir, &refs, "n0nce").unwrap();
        let e = commit(&staged, "n0nce").unwrap_err();
        assert!(e.to_string().contains("cannot keep a copy of"), "{e}");
        assert_eq!(listing(dir), before);

        // Without obstacles, every file lands, with its mode.
        fs::remove_dir(dir.join("c.conf")).unwrap();
        let staged = stage(dir, &refs, "n0nce").unwrap();
        commit(&staged, "n0nce").unwrap();
        let names: Vec<String> = listing(dir).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a.crt", "b.key", "c.conf", "new.crt"]);
        assert_eq!(fs::read_to_string(dir.join("a.crt")).unwrap(), "new a");
        #[cfg(unix)]
        {
            let mode = |n: &str| fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
            assert_eq!((mode("b.key"), mode("a.crt")), (0o600, 0o644));
        }
    }
}
