//! `mqtk passwd`: argument checks, password prompts, and the locked, atomic rewrite around
//! `pwfile`, which does the parsing and hashing.

#[cfg(unix)]
use std::fs::Permissions;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Write};
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::{HashKind, PasswdArgs};
use crate::exit::{self, ExitStatus, Failure};
use crate::pwfile::{self, PasswordFile, Scheme, Stored};

/// Where the file goes: a path, or stdout for `-c -`.
enum Target {
    Path(PathBuf),
    Stdout,
}

/// What to do, after every argument check passed.
enum Job {
    /// `-c` / `-b` / plain: set `user`'s password (asking for it when `password` is None).
    Set {
        target: Target,
        create: bool,
        user: String,
        password: Option<String>,
    },
    Delete {
        path: PathBuf,
        user: String,
    },
    Update {
        path: PathBuf,
    },
    Verify {
        path: PathBuf,
        user: String,
        password: Option<String>,
    },
}

pub fn run(args: PasswdArgs) -> anyhow::Result<()> {
    let scheme = scheme(&args);
    match job(args)? {
        Job::Set {
            target: Target::Stdout,
            user,
            password,
            ..
        } => {
            let stored = new_password(scheme, password)?;
            let mut file = PasswordFile::new();
            file.set(&user, &stored);
            write_stdout(&file.render())
        }
        Job::Set {
            target: Target::Path(path),
            create,
            user,
            password,
        } => {
            let path = resolve(&path)?;
            check_file(&path, Access::Replace)?;
            // A missing file or a corrupt line is reported before the password is asked for.
            if !create {
                read(&path)?;
            }
            // Hashing takes a while (210 000 PBKDF2 rounds by default): done before the lock,
            // so concurrent runs only queue for the read-change-rename.
            let stored = new_password(scheme, password)?;
            edit(&path, create, |file| {
                file.set(&user, &stored);
                Ok(true)
            })
        }
        Job::Delete { path, user } => {
            let path = resolve(&path)?;
            check_file(&path, Access::Replace)?;
            edit(&path, false, |file| {
                if file.delete(&user) {
                    Ok(true)
                } else {
                    Err(not_found(&user, &path))
                }
            })
        }
        Job::Update { path } => {
            let path = resolve(&path)?;
            check_file(&path, Access::Replace)?;
            // The plaintext to hash is in the file, so here the hashing is under the lock.
            edit(&path, false, |file| {
                let mut changed = false;
                for e in file.entries() {
                    let name = String::from_utf8_lossy(&e.user).into_owned();
                    match e.stored {
                        Stored::Plain => {
                            if e.field.len() >= pwfile::MAX_LEN {
                                return Err(Failure::new(
                                    ExitStatus::Failure,
                                    format!(
                                        "line {}: the password of '{name}' is too long",
                                        e.line
                                    ),
                                )
                                .into());
                            }
                            let stored = pwfile::hash(scheme, &e.field)
                                .context("cannot get random bytes for the salt")?;
                            file.replace_line(e.line, &e.user, &stored);
                            changed = true;
                        }
                        Stored::Unknown => warn(&format!(
                            "line {}: unknown hash form for user '{name}', left as it is",
                            e.line
                        )),
                        _ => {}
                    }
                }
                // Nothing to hash: leave the file (and its modification time) alone.
                Ok(changed)
            })
        }
        Job::Verify {
            path,
            user,
            password,
        } => {
            check_file(&path, Access::Read)?;
            let file = read(&path)?;
            let Some(stored) = file.stored(&user) else {
                return Err(not_found(&user, &path));
            };
            let password = match password {
                Some(p) => p,
                None => ask(false)?,
            };
            match stored.verify(password.as_bytes()) {
                Some(true) => Ok(()),
                Some(false) => Err(Failure::new(
                    ExitStatus::Failure,
                    format!("wrong password for user '{user}'"),
                )
                .into()),
                None => Err(Failure::new(
                    ExitStatus::Failure,
                    format!("cannot check the password of '{user}': its entry is not hashed"),
                )
                .with_hint(match stored {
                    Stored::Plain => "brokers refuse plaintext entries; hash them with -U",
                    _ => "the entry uses a hash form mqtk does not know",
                })
                .into()),
            }
        }
    }
}

/// The new password (given, or asked for), hashed.
fn new_password(scheme: Scheme, password: Option<String>) -> anyhow::Result<String> {
    let password = match password {
        Some(p) => p,
        None => ask(true)?,
    };
    pwfile::hash(scheme, password.as_bytes()).context("cannot get random bytes for the salt")
}

fn scheme(args: &PasswdArgs) -> Scheme {
    match args.hash {
        HashKind::Sha512Pbkdf2 => Scheme::Pbkdf2 {
            iterations: args.iterations.unwrap_or(pwfile::DEFAULT_ITERATIONS),
        },
        HashKind::Sha512 => Scheme::Sha512,
        HashKind::Argon2id => Scheme::Argon2id,
    }
}

/// The argument checks mosquitto_passwd makes, and a few more; all are usage errors (exit 2).
fn job(args: PasswdArgs) -> Result<Job, Failure> {
    if args.iterations.is_some() && args.hash != HashKind::Sha512Pbkdf2 {
        warn("-I applies to -H sha512-pbkdf2 only; ignored");
    }
    let stdout = args.file.as_os_str() == "-";
    if stdout && !args.create {
        return Err(exit::usage("FILE '-' (standard output) needs -c"));
    }
    let path = args.file;
    let user = |u: Option<String>, what: &str| -> Result<String, Failure> {
        let u = u.ok_or_else(|| exit::usage(format!("USER is missing ({what})")))?;
        pwfile::check_username(&u).map_err(exit::usage)?;
        Ok(u)
    };
    if args.update {
        if args.user.is_some() {
            return Err(exit::usage("-U takes FILE only"));
        }
        return Ok(Job::Update { path });
    }
    if args.delete {
        if args.password.is_some() {
            return Err(exit::usage("-D takes FILE and USER only"));
        }
        return Ok(Job::Delete {
            path,
            user: user(args.user, "-D FILE USER")?,
        });
    }
    if args.verify {
        let user = user(args.user, "--verify FILE USER [PASSWORD]")?;
        return Ok(Job::Verify {
            path,
            user,
            password: args.password,
        });
    }
    let user = user(
        args.user,
        if args.batch {
            "-b FILE USER PASSWORD"
        } else {
            "FILE USER"
        },
    )?;
    let password = match (args.batch, args.password) {
        (true, Some(p)) => {
            pwfile::check_password(&p).map_err(exit::usage)?;
            warn_visible();
            Some(p)
        }
        (true, None) => return Err(exit::usage("-b needs FILE, USER and PASSWORD")),
        (false, Some(_)) => {
            return Err(exit::usage("a PASSWORD argument needs -b (or --verify)"));
        }
        (false, None) => None,
    };
    let target = if stdout {
        Target::Stdout
    } else {
        Target::Path(path)
    };
    Ok(Job::Set {
        target,
        create: args.create,
        user,
        password,
    })
}

fn warn(what: &str) {
    eprintln!("mqtk passwd: warning: {what}");
}

fn warn_visible() {
    warn("a password on the command line is visible in the process list; prefer a pipe");
}

fn not_found(user: &str, path: &Path) -> anyhow::Error {
    Failure::new(
        ExitStatus::Failure,
        format!("user '{user}' is not in {}", path.display()),
    )
    .into()
}

/// A symlink is followed once, here, so that the lock, the read and the rename all act on the
/// file it points to (the link itself stays).
fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)
            .with_context(|| format!("cannot follow the symlink {}", path.display())),
        _ => Ok(path.to_path_buf()),
    }
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Access {
    Read,
    /// The file will be replaced by a new one (rename over it).
    Replace,
}

/// Only a regular file can be a password file: reading a FIFO would block until someone
/// writes to it, and renaming over a device or a FIFO would replace it with a regular file.
/// A file with several hard links is refused for edits: the rename gives this name a new file
/// and leaves the other names on the old one, so the broker may keep reading the old
/// passwords. A missing file is left to the caller (`-c` creates it, otherwise `read` says so).
fn check_file(path: &Path, access: Access) -> Result<(), Failure> {
    let m = match fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    let ft = m.file_type();
    let links = hard_links(&m);
    let kind = if ft.is_dir() {
        "a directory"
    } else if let Some(kind) = special_kind(&ft) {
        kind
    } else if !ft.is_file() {
        "not a regular file"
    } else if access == Access::Replace && links > 1 {
        return Err(exit::usage(format!(
            "{} has {links} hard links; replacing it would leave the other names with the old \
             contents, so nothing was written",
            path.display(),
        ))
        .with_hint(
            "keep one name for the file (make the others symlinks to it), or copy it to a \
             file of its own",
        ));
    } else {
        return Ok(());
    };
    let written = match access {
        Access::Read => "",
        Access::Replace => "; nothing was written",
    };
    Err(exit::usage(format!(
        "{} is {kind}, not a password file{written}",
        path.display()
    )))
}

#[cfg(unix)]
fn special_kind(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() || ft.is_block_device() {
        Some("a device")
    } else {
        None
    }
}

/// Windows has no FIFOs or device files in a directory: what is neither a directory nor a
/// file is refused as "not a regular file".
#[cfg(windows)]
fn special_kind(_: &fs::FileType) -> Option<&'static str> {
    None
}

#[cfg(unix)]
fn hard_links(m: &fs::Metadata) -> u64 {
    m.nlink()
}

/// NTFS has hard links too, but std tells their number on Windows only through an unstable
/// API (`MetadataExt::number_of_links`), so a file with several names is edited like one with
/// a single name there.
#[cfg(windows)]
fn hard_links(_: &fs::Metadata) -> u64 {
    1
}

/// Reads and parses the file; a corrupt line is a failure (exit 1) that names it.
fn read(path: &Path) -> anyhow::Result<PasswordFile> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("{} does not exist", path.display()),
            )
            .with_hint("-c creates it")
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    PasswordFile::parse(&bytes).map_err(|c| {
        Failure::new(ExitStatus::Failure, format!("{}: {c}", path.display()))
            .with_hint("nothing was written; fix or remove that line")
            .into()
    })
}

/// How long an edit waits for another one on the same directory before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Reads the file (or starts empty for `-c`), applies `change`, and writes the result when
/// `change` says it changed something — all under an exclusive lock, so that concurrent runs
/// on one file each see the previous one's result and no user is lost
/// (`tests/passwd.rs`: concurrent_edits_keep_every_user).
fn edit(
    path: &Path,
    create: bool,
    change: impl FnOnce(&mut PasswordFile) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let dir = parent(path);
    let _lock = lock(&dir)?;
    // Checked again under the lock: the file may have been replaced since.
    check_file(path, Access::Replace)?;
    let mut file = if create {
        PasswordFile::new()
    } else {
        read(path)?
    };
    if change(&mut file)? {
        write_atomically(path, &dir, &file.render())?;
    }
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive advisory lock (`flock`) on the directory that holds the file, released when
/// dropped. The directory, not the file: the file is replaced by a rename, so a lock on it
/// would be a lock on the old inode, and a lock file beside it would be one more file to
/// clean up. `flock DIR COMMAND` takes the same lock, to keep mqtk out while editing by hand.
/// On Windows, see the other `lock`.
struct DirLock {
    _held: File,
}

#[cfg(unix)]
fn lock(dir: &Path) -> anyhow::Result<Option<DirLock>> {
    use rustix::fs::{FlockOperation, flock};
    use rustix::io::Errno;
    let unlocked = |why: &dyn std::fmt::Display| {
        warn(&format!(
            "cannot lock {} ({why}); a concurrent edit could be lost",
            dir.display()
        ));
        Ok(None)
    };
    let handle = match File::open(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot write to {}", dir.display()));
        }
        Err(e) => return unlocked(&e),
    };
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match flock(&handle, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Some(DirLock { _held: handle })),
            Err(Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(Errno::WOULDBLOCK) => return Err(kept_locked(dir)),
            Err(Errno::INTR) => {}
            // A file system without flock (some network mounts): edit as mosquitto_passwd
            // does, unlocked.
            Err(e) => return unlocked(&e),
        }
    }
}

/// The lock on Windows, where a directory cannot be locked (std opens no directory as a file,
/// and LockFileEx locks bytes of a file): the hidden file `.mqtk-passwd.lock` in the directory,
/// opened with no sharing, so that every other open of it fails with a sharing violation while
/// it is held, and deleted by the system when its handle closes, also when the process dies.
/// It keeps other mqtk runs out, not other programs.
#[cfg(windows)]
fn lock(dir: &Path) -> anyhow::Result<Option<DirLock>> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_ATTRIBUTE_HIDDEN: u32 = 0x2;
    const FILE_FLAG_DELETE_ON_CLOSE: u32 = 0x0400_0000;
    const ERROR_SHARING_VIOLATION: i32 = 32;
    let path = dir.join(".mqtk-passwd.lock");
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .share_mode(0)
            .attributes(FILE_ATTRIBUTE_HIDDEN)
            .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
            .open(&path);
        match opened {
            Ok(f) => return Ok(Some(DirLock { _held: f })),
            Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) => {
                if Instant::now() >= deadline {
                    return Err(kept_locked(dir));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot write to {}", dir.display()));
            }
            Err(e) => {
                warn(&format!(
                    "cannot lock {} ({e}); a concurrent edit could be lost",
                    dir.display()
                ));
                return Ok(None);
            }
        }
    }
}

fn kept_locked(dir: &Path) -> anyhow::Error {
    Failure::new(
        ExitStatus::Failure,
        format!(
            "another program kept {} locked for {} s; nothing was written",
            dir.display(),
            LOCK_WAIT.as_secs()
        ),
    )
    .with_hint(if cfg!(unix) {
        "another mqtk passwd (or a `flock` on the directory) is editing this file; \
         try again when it is done"
    } else {
        "another mqtk passwd is editing this file; try again when it is done"
    })
    .into()
}

/// The password, typed twice (`confirm`) or once. On a terminal rpassword reads it with echo
/// off; from a pipe (`printf 'pw\npw\n' | mqtk passwd ...`, CI) one line per answer.
fn ask(confirm: bool) -> anyhow::Result<String> {
    let (first, second) = if io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        check(&first)?;
        let second = if confirm {
            Some(
                rpassword::prompt_password("Reenter password: ")
                    .context("cannot read the password")?,
            )
        } else {
            None
        };
        (first, second)
    } else {
        let mut stdin = io::stdin().lock();
        let first = read_line(&mut stdin)?
            .ok_or_else(|| exit::usage("no password on stdin (it is empty)"))?;
        check(&first)?;
        let second = if confirm {
            Some(read_line(&mut stdin)?.ok_or_else(|| {
                exit::usage("stdin ended before the password was repeated on a second line")
            })?)
        } else {
            None
        };
        (first, second)
    };
    if second.is_some_and(|s| s != first) {
        return Err(exit::usage("passwords do not match").into());
    }
    Ok(first)
}

fn check(password: &str) -> anyhow::Result<()> {
    pwfile::check_password(password).map_err(|e| exit::usage(e).into())
}

/// One line of stdin without its `\n` or `\r\n`; None at the end of input.
fn read_line(stdin: &mut impl BufRead) -> anyhow::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = stdin
        .read_until(b'\n', &mut buf)
        .context("cannot read the password from stdin")?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| exit::usage("the password is not UTF-8").into())
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Replaces `path` with `bytes` so that a reader (the broker on SIGHUP) sees the old file or
/// the new one, never a mix, even after a crash: a temp file in the same directory, synced,
/// renamed over the original, then the directory synced. The original's mode and owner carry
/// over (a root-run edit must not make the broker's file unreadable to the broker); new
/// files are 0600.
fn write_atomically(path: &Path, dir: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let old = match fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
    };
    let name = path
        .file_name()
        .context("FILE names no file")?
        .to_string_lossy();
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).context("cannot get random bytes")?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.mqtk-{nonce}.tmp"));
    let result = write_tmp(&tmp, old.as_ref(), bytes).and_then(|()| {
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {} (it is unchanged)", path.display()))?;
    sync_dir(dir)
}

/// Makes the rename durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))
}

/// Windows: std opens no directory as a file, so there is no directory to sync; the new file's
/// contents were synced before the rename.
#[cfg(windows)]
fn sync_dir(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

fn write_tmp(tmp: &Path, old: Option<&fs::Metadata>, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    #[cfg(unix)]
    if let Some(old) = old {
        let mine = f.metadata()?;
        if (mine.uid(), mine.gid()) != (old.uid(), old.gid()) {
            std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid())).with_context(|| {
                format!(
                    "cannot give the new file the owner {}:{}",
                    old.uid(),
                    old.gid()
                )
            })?;
        }
        // Exactly the old mode: `mode()` above is filtered through the umask.
        f.set_permissions(Permissions::from_mode(old.mode() & 0o7777))?;
    }
    // Windows has no mode bits to carry over or set: who may read the file is its ACL, which
    // the new file inherits from the directory.
    #[cfg(windows)]
    let _ = old;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
