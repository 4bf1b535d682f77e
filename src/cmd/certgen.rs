//! `mqtk certgen`: check everything the user asked for, then make the certificates (`pki`), then
//! write them, then print what was written and how to use it.
//!
//! Every usage error (bad days, host or client name, a CA pair that does not match, a file that
//! would be overwritten, an unwritable directory) is found before the first byte is written.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cli::{self, CertgenArgs};
use crate::exit;
use crate::pki::{self, Ca, Host, KeyType, Validity};

const CONF: &str = "mosquitto-tls.conf";

pub fn run(args: CertgenArgs) -> anyhow::Result<()> {
    let plan = Plan::from_args(args)?;
    let made = plan.make()?;
    plan.write(&made)?;
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
    conf: String,
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
        if let Some(cn) = &args.ca_cn
            && cn.chars().count() > 64
        {
            return Err(exit::usage("--ca-cn: a common name has at most 64 characters").into());
        }

        let dir = std::path::absolute(&args.out)
            .map_err(|e| exit::usage(format!("invalid --out {} ({e})", args.out.display())))?;
        if dir.exists() && !dir.is_dir() {
            return Err(exit::usage(format!("{} is not a directory", dir.display())).into());
        }

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
        let example_host = match &server {
            Some(hosts) => hosts[0].as_client_arg(),
            None => existing_server_host(&dir).unwrap_or_else(|| "localhost".into()),
        };
        let cafile = match &ca {
            CaSource::External { cert, .. } => cert.clone(),
            _ => dir.join("ca.crt"),
        };
        let conf = listener_conf(&dir, &cafile, mutual);

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
            conf,
        };
        plan.check_targets()?;
        plan.check_writable()?;
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

    /// Creates DIR when missing and proves a file can be created in it. This is the last check,
    /// so bad input never leaves an empty directory behind.
    fn check_writable(&self) -> anyhow::Result<()> {
        let unwritable =
            |e: io::Error| exit::usage(format!("cannot write to {} ({e})", self.dir.display()));
        fs::create_dir_all(&self.dir).map_err(unwritable)?;
        let probe = self
            .dir
            .join(format!(".mqtk-certgen-{}", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(unwritable)?;
        fs::remove_file(&probe).map_err(unwritable)?;
        Ok(())
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

    fn write(&self, made: &Made) -> anyhow::Result<()> {
        for f in &made.files {
            let path = self.dir.join(&f.name);
            if f.kind == Kind::Conf && fs::read(&path).is_ok_and(|b| b == f.bytes) {
                continue;
            }
            write_file(&path, &f.bytes, f.kind, self.force)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
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
            let common_name = args.ca_cn.clone().unwrap_or_else(|| match hostname {
                Some(h) if !h.is_empty() && h.len() <= 50 => format!("mqtk CA {h}"),
                _ => "mqtk CA".into(),
            });
            Ok(CaSource::New { common_name })
        }
    }
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

/// The first name in DIR's existing server certificate, for the printed examples.
fn existing_server_host(dir: &Path) -> Option<String> {
    let pem = fs::read_to_string(dir.join("server.crt")).ok()?;
    let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .ok()?
        .1
        .contents;
    let first = pki::describe(&der).ok()?.sans.into_iter().next()?;
    first.split_once(':').map(|(_, v)| v.to_string())
}

/// The listener block, with absolute paths so it works wherever it is included from.
fn listener_conf(dir: &Path, cafile: &Path, mutual: bool) -> String {
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
    c.push_str("listener 8883\n");
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

/// Keys are created with mode 0600 from the start (never written first and restricted after);
/// certificates and the config are 0644. Replacing goes through a temp file in the same
/// directory, created the same way, and a rename.
fn write_file(path: &Path, bytes: &[u8], kind: Kind, replace: bool) -> io::Result<()> {
    let target_exists = fs::symlink_metadata(path).is_ok();
    let fresh = if replace && target_exists {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
    } else {
        path.to_path_buf()
    };
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if kind == Kind::Key { 0o600 } else { 0o644 });
    }
    let mut file = opts.open(&fresh)?;
    let result = (|| {
        #[cfg(unix)]
        if kind != Kind::Key {
            // Public files: 0644 whatever the umask, so mosquitto's user can read them.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o644))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        if fresh != path {
            fs::rename(&fresh, path)?;
        }
        Ok(())
    })();
    if result.is_err() && fresh != path {
        let _ = fs::remove_file(&fresh);
    }
    result
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
    for f in &made.files {
        let what = match (f.name.as_str(), f.kind) {
            ("ca.crt", _) => "CA certificate, new".to_string(),
            ("ca.key", _) => {
                "CA private key (0600): it can sign any certificate, keep it safe".into()
            }
            ("server.crt", _) => "server certificate".into(),
            ("server.key", _) => "server private key (0600)".into(),
            (CONF, _) if plan.mutual => {
                "mosquitto listener on 8883, client certificates required".into()
            }
            (CONF, _) => "mosquitto listener on 8883".into(),
            (name, Kind::Cert) => format!("client certificate, username {}", client_of(name)),
            (_, _) => "client private key (0600)".into(),
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
    writeln!(out, "  3. Restart mosquitto, then try it:")?;
    writeln!(out, "     mqtk sub -h {host} -p 8883 {tls} -t 'test/#' -v")?;
    writeln!(
        out,
        "     mqtk pub -h {host} -p 8883 {tls} -t test/hello -m hello"
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
