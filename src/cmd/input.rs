//! What `pub` and `rr` read: one payload from -m, -f or -s, or (`pub -l`) stdin line by line.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::exit::usage;

/// Lines per hand-over from the stdin reader, and hand-overs waiting at most: together they
/// bound the memory used on an endless stdin.
const LINE_BATCH: usize = 256;
const LINE_BATCHES: usize = 8;

/// One payload from -m, -f or -s (none of them: -n, empty), refused over `max` bytes.
pub fn read_body(
    message: Option<&OsString>,
    file: Option<&Path>,
    stdin: bool,
    max: usize,
) -> anyhow::Result<Bytes> {
    let too_big = |len: u64| {
        usage(format!(
            "the payload is {len} bytes; MQTT allows at most {max} with this topic"
        ))
    };
    let body = if let Some(m) = message {
        Bytes::from(OsString::into_vec(m.clone()))
    } else if let Some(path) = file {
        // Check the size first: no point reading 2 GB to refuse it.
        if let Ok(meta) = std::fs::metadata(path)
            && meta.len() > max as u64
        {
            return Err(too_big(meta.len()).into());
        }
        let data = std::fs::read(path)
            .map_err(|e| usage(format!("cannot read {} ({e})", path.display())))?;
        Bytes::from(data)
    } else if stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut data)
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
        return Err(too_big(body.len() as u64).into());
    }
    Ok(body)
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
