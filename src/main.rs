//! mqtk: a mosquitto-style MQTT toolkit. This file is a switchboard over the `mqtk` library:
//! parse the command line, run the command, turn the outcome into an exit code (the table lives
//! in `exit.rs`).

use std::process::ExitCode;

use mqtk::cli::{self, Cli, Command};
use mqtk::cmd;
use mqtk::exit::{self, ExitStatus};

fn main() -> ExitCode {
    let args = cli::multicall_args(std::env::args_os());
    let sub = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| !a.starts_with('-'))
        .map(str::to_owned);
    let cli = match Cli::parse_from_args(args) {
        Ok(cli) => cli,
        Err(e) => return report_usage(e, sub.as_deref()),
    };
    let name = cli.command.name();
    let quiet = cli.command.quiet();
    let result = match cli.command {
        Command::Generate(args) => cmd::generate::run(args),
        Command::Certgen(args) => cmd::certgen::run(args),
        Command::Passwd(args) => cmd::passwd::run(args),
        command => runtime(&command).and_then(|rt| rt.block_on(dispatch(command))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let c = exit::classify(&err);
            // --quiet silences runtime errors only: a usage error is always explained.
            if !c.silent && (!quiet || c.status == ExitStatus::Usage) {
                eprintln!("mqtk {name}: error: {}", render(&err));
                if let Some(hint) = c.hint {
                    eprintln!("  hint: {hint}");
                }
            }
            ExitCode::from(c.status.code())
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Publish(args) => cmd::publish::run(args).await,
        Command::Subscribe(args) => cmd::subscribe::run(args).await,
        Command::Request(args) => cmd::request::run(args).await,
        Command::Sim(args) => cmd::sim::run(args).await,
        Command::Generate(_) | Command::Certgen(_) | Command::Passwd(_) => {
            unreachable!("handled without a runtime")
        }
    }
}

/// One runtime for the whole process: every connection is a task on it, never a thread.
///
/// `sub` and `sim` write while their connections must keep going: the command runs on this
/// thread and the connections' tasks on one worker, so a command blocked on a full stdout pipe
/// does not stop keep-alive (tests/faults.rs `sub_blocked_on_a_full_pipe_*`). `pub` and `rr`
/// block on nothing and stay on one thread, which spares a one-shot publish the worker's start
/// and a thread hand-over per packet.
fn runtime(command: &Command) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = match command {
        Command::Subscribe(_) | Command::Sim(_) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            b
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    Ok(b.enable_all().build()?)
}

/// `what (why: deeper why)`: the first message, then its causes in parentheses.
fn render(err: &anyhow::Error) -> String {
    let mut chain = err.chain().map(|c| c.to_string());
    let head = chain.next().unwrap_or_default();
    let causes: Vec<String> = chain.filter(|c| !head.contains(c.as_str())).collect();
    if causes.is_empty() {
        head
    } else {
        format!("{head} ({})", causes.join(": "))
    }
}

/// clap's errors, as one line in our format. `--help` and `--version` are not errors.
fn report_usage(e: clap::Error, sub: Option<&str>) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(ExitStatus::Usage.code())
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's first paragraph, on one line ("... not provided: --will-topic <TOPIC>").
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = first.join(" ");
    let line = joined.strip_prefix("error: ").unwrap_or(&joined);
    let prefix = sub.map_or("mqtk".to_string(), |s| format!("mqtk {s}"));
    eprintln!("{prefix}: error: {line}");
    eprintln!("  hint: see '{prefix} --help'");
    ExitCode::from(ExitStatus::Usage.code())
}
