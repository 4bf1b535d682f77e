//! What `pub` and `rr` read: one payload from -m, -f or -s, or (`pub -l`) stdin line by line.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::exit::{Failure, usage};

/// Lines per hand-over from the stdin reader, and hand-overs waiting at most: together they
/// bound the memory used on an endless stdin.
const LINE_BATCH: usize = 256;
const LINE_BATCHES: usize = 8;

/// One payload from -m, -f or -s (none of them: -n, empty), refused over `max` bytes.
///
/// A file or stdin is read up to `max + 1` bytes and no further, so `-f /dev/zero` or
/// `yes | mqtk pub -s` ends with the usage error rather than reading until memory runs out
/// (pinned by `bad_input::endless_input_stops_at_the_mqtt_limit`).
pub fn read_body(
    message: Option<&OsString>,
    file: Option<&Path>,
    stdin: bool,
    max: usize,
) -> anyhow::Result<Bytes> {
    let body = if let Some(m) = message {
        message_bytes(m)?
    } else if let Some(path) = file {
        let what = path.display().to_string();
        let cannot = |e: std::io::Error| usage(format!("cannot read {what} ({e})"));
        let f = std::fs::File::open(path).map_err(cannot)?;
        // The size first: no point reading 2 GB to refuse it. Devices and pipes say 0.
        let meta = f.metadata().map_err(cannot)?;
        if meta.is_dir() {
            return Err(usage(format!("cannot read {what} (it is a directory)")).into());
        }
        if meta.len() > max as u64 {
            return Err(too_big(Some(meta.len()), max).into());
        }
        Bytes::from(read_capped(f, max).map_err(cannot)?)
    } else if stdin {
        check_stdin()?;
        let data = read_capped(std::io::stdin().lock(), max)
            .map_err(|e| usage(format!("cannot read stdin ({e})")))?;
        if data.is_empty() {
            // An empty -s is more often a failed pipeline than a wish to clear a retained
            // message; -n says that explicitly.
            return Err(usage("stdin was empty; use -n to send an empty message").into());
        }
        Bytes::from(data)
    } else {
        Bytes::new()
    };
    if body.len() > max {
        // Read up to the cap: the input may go on, so its length is unknown.
        let known = message.is_some().then_some(body.len() as u64);
        return Err(too_big(known, max).into());
    }
    Ok(body)
}

/// -m as given: its bytes on Unix, where an argument is any bytes.
#[cfg(unix)]
fn message_bytes(m: &OsString) -> Result<Bytes, Failure> {
    use std::os::unix::ffi::OsStringExt;
    Ok(Bytes::from(OsString::into_vec(m.clone())))
}

/// -m in UTF-8. Windows hands arguments over as UTF-16; one that is not valid UTF-16 (a lone
/// surrogate) has no UTF-8 form to send.
#[cfg(windows)]
fn message_bytes(m: &OsString) -> Result<Bytes, Failure> {
    m.to_str()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .ok_or_else(|| usage("cannot send -m (it is not valid Unicode)"))
}

fn too_big(len: Option<u64>, max: usize) -> Failure {
    match len {
        Some(len) => usage(format!(
            "the payload is over the MQTT limit ({len} bytes; MQTT allows at most {max} with \
             this topic)"
        )),
        None => usage(format!(
            "the payload is over the MQTT limit (more than {max} bytes; MQTT allows at most \
             {max} with this topic)"
        )),
    }
}

/// At most `max + 1` bytes of `from`: enough to tell that it is too long.
fn read_capped(from: impl Read, max: usize) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    from.take(max as u64 + 1).read_to_end(&mut data)?;
    Ok(data)
}

/// Refuses a stdin that cannot be read at all, before connecting: a directory (`< /some/dir`)
/// or a descriptor open for writing only. `-l` reads stdin only once connected, so without
/// this a directory would be found out after the connection was made.
#[cfg(unix)]
pub fn check_stdin() -> Result<(), Failure> {
    use rustix::fs::FileType;
    let stdin = std::io::stdin();
    let cannot = |why: &str| usage(format!("cannot read stdin ({why})"));
    let stat = rustix::fs::fstat(&stdin).map_err(|e| cannot(&e.to_string()))?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        return Err(cannot("it is a directory"));
    }
    let flags = rustix::fs::fcntl_getfl(&stdin).map_err(|e| cannot(&e.to_string()))?;
    if flags & rustix::fs::OFlags::RWMODE == rustix::fs::OFlags::WRONLY {
        return Err(cannot("it is open for writing only"));
    }
    Ok(())
}

/// Refuses a stdin that is a directory, before connecting (see the Unix version). A console or
/// a pipe has no file metadata, so only a handle to a file-system object is looked at.
/// A handle's access rights are not visible through std there, so a handle opened for writing
/// only is found out at the first read.
#[cfg(windows)]
pub fn check_stdin() -> Result<(), Failure> {
    use std::os::windows::io::AsHandle;
    let Ok(handle) = std::io::stdin().as_handle().try_clone_to_owned() else {
        return Ok(());
    };
    match std::fs::File::from(handle).metadata() {
        Ok(m) if m.is_dir() => Err(usage("cannot read stdin (it is a directory)")),
        _ => Ok(()),
    }
}

/// Reads stdin on its own thread and hands lines over in batches: one wake-up per batch
/// rather than per line keeps the two threads from ping-ponging on every message. A batch
/// ends when the buffered input runs out (so interactive input is not held back) or at
/// `LINE_BATCH` lines; at most `LINE_BATCHES` batches wait, which bounds memory.
pub fn spawn_line_reader() -> mpsc::Receiver<std::io::Result<Vec<Bytes>>> {
    let (tx, rx) = mpsc::channel(LINE_BATCHES);
    std::thread::spawn(move || {
        let mut input = BufReader::with_capacity(256 * 1024, std::io::stdin().lock());
        let mut batch = Vec::with_capacity(LINE_BATCH);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    batch.push(Bytes::from(line));
                    if batch.len() >= LINE_BATCH || input.buffer().is_empty() {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(LINE_BATCH));
                        if tx.blocking_send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    rx
}
