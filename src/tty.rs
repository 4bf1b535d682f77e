//! Asking for a secret on the terminal. Echo is switched off *before* the prompt is shown, so
//! what is typed the moment the prompt appears is never displayed; Ctrl-C is read as a
//! character (not a signal that would leave the terminal without echo) and cancels.
//! Test: tests/auth.rs `dash_p_without_a_value_prompts_on_the_terminal_without_echo`.
//!
//! On Windows the console (CONIN$, CONOUT$) takes the place of /dev/tty, through rpassword.

use std::io;
#[cfg(unix)]
use std::{
    fs::File,
    io::{Read, Write},
};

#[cfg(unix)]
use rustix::termios::{self, LocalModes, OptionalActions};

/// Prompts on /dev/tty and reads one line without echo.
#[cfg(unix)]
pub fn read_secret(prompt: &str) -> io::Result<String> {
    let mut tty = File::options().read(true).write(true).open("/dev/tty")?;
    let saved = termios::tcgetattr(&tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes &= !(LocalModes::ECHO | LocalModes::ISIG);
    quiet.local_modes |= LocalModes::ECHONL | LocalModes::ICANON;
    termios::tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
    let result = (|| {
        tty.write_all(prompt.as_bytes())?;
        tty.flush()?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match tty.read(&mut byte)? {
                0 => break,
                _ if byte[0] == b'\n' => break,
                _ if byte[0] == 0x03 => {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
                }
                _ => line.push(byte[0]),
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8(line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the password is not UTF-8"))
    })();
    let restored = termios::tcsetattr(&tty, OptionalActions::Now, &saved);
    let secret = result?;
    restored?;
    Ok(secret)
}

/// Prompts on the console and reads one line without echo: rpassword switches echo and line
/// input off on CONIN$ (SetConsoleMode) and restores them. The prompt goes out before echo is
/// off, unlike on Unix, and that is safe there: a Windows console echoes a key only when a read
/// in echo mode takes it from the input buffer, so keys typed the moment the prompt appears are
/// read without ever being shown. Ctrl-C raises the console's Ctrl-C event, which ends the
/// process: the prompt comes before any command installs its handler (`cmd::signals`).
#[cfg(windows)]
pub fn read_secret(prompt: &str) -> io::Result<String> {
    rpassword::prompt_password(prompt)
}
