//! `mqtk generate completions|man DIR`: the checked-in `completions/` and `man/` come from here,
//! and a test fails when they are stale, so every CLI change carries its docs.
//!
//! Completions: clap_complete's, for the commands users see (the hidden `generate` is left
//! out), with one repair for fish (`fish_quote_dollars`). Man pages: clap_mangen's NAME,
//! SYNOPSIS, DESCRIPTION and OPTIONS, then sections of our own: EXIT STATUS, ENVIRONMENT,
//! FILES and SEE ALSO. The exit-code sentence of a command's help (`after_help`) becomes its
//! EXIT STATUS list instead of clap_mangen's "EXTRA".

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::{Cli, GenerateArgs, Generated};
use crate::exit::ExitStatus;

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    match args.what {
        Generated::Completions => completions(&args.dir),
        Generated::Man => man_pages(&args.dir),
    }
}

const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

fn completions(dir: &Path) -> anyhow::Result<()> {
    for shell in SHELLS {
        let text = completion(shell);
        let path = dir.join(shell.file_name("mqtk"));
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One shell's completion script.
pub fn completion(shell: Shell) -> String {
    let mut cmd = visible_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mqtk", &mut out);
    let text = String::from_utf8(out).expect("clap_complete writes UTF-8");
    match shell {
        Shell::Fish => fish_quote_dollars(&text),
        _ => text,
    }
}

/// `Cli::command()` without its hidden subcommands: clap_complete offers every subcommand,
/// hidden or not, so `mqtk <TAB>` would propose `generate`. The root is rebuilt from the same
/// parts (its own arguments, version and about) with the visible subcommands only.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut root = clap::Command::new("mqtk")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(full.is_disable_help_flag_set());
    if let Some(about) = full.get_about() {
        root = root.about(about.clone());
    }
    for arg in full.get_arguments() {
        root = root.arg(arg.clone());
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        root = root.subcommand(sub.clone());
    }
    root
}

/// clap_complete 4.6 writes the values of an option with their help as one fish double-quoted
/// string (`-a "sha512\t'$6$: ...'"`), where fish expands `$`: `$6$:` is a syntax error ("$: is
/// not a valid variable") that breaks the whole file. Inside those strings a `$` is escaped;
/// fish then evaluates the value list with the help in single quotes, where `$` is literal.
/// Tested by `fish_completions_have_no_bare_dollar_in_double_quotes` (and with fish itself).
fn fish_quote_dollars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(" -a \"") {
        let open = start + " -a \"".len();
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        // clap_complete does not escape `"` in there, so the next one closes the string.
        let close = rest.find('"').unwrap_or(rest.len());
        out.push_str(&rest[..close].replace('$', "\\$"));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn man_pages(dir: &Path) -> anyhow::Result<()> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let names: Vec<String> = root
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, Some(sub.get_name()), &names, dir)?;
    }
    write_page(&root, None, &names, dir)
}

fn write_page(
    cmd: &clap::Command,
    name: Option<&str>,
    all: &[String],
    dir: &Path,
) -> anyhow::Result<()> {
    let page = man_page(cmd, name, all);
    let file = match name {
        Some(n) => format!("mqtk-{n}.1"),
        None => "mqtk.1".to_string(),
    };
    let path = dir.join(file);
    fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))
}

/// The man page of `mqtk` (`name` None) or of one subcommand.
pub fn man_page(cmd: &clap::Command, name: Option<&str>, all: &[String]) -> String {
    let man = Man::new(cmd.clone())
        .source(format!("mqtk {}", env!("CARGO_PKG_VERSION")))
        .manual("mqtk manual");
    // Each clap_mangen part, and ours, starts with the same two-line preamble (for
    // apostrophes); the page keeps one.
    let preamble = Roff::new().render();
    let body = |text: String| -> String {
        text.strip_prefix(&preamble)
            .map(str::to_string)
            .unwrap_or(text)
    };
    type Part = fn(&Man, &mut dyn Write) -> io::Result<()>;
    let mut parts: Vec<Part> = vec![
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
    ];
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        parts.push(Man::render_options_section);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        parts.push(Man::render_subcommands_section);
    }
    let mut ours = Roff::new();
    exit_status_section(&mut ours, name);
    environment_section(&mut ours, cmd, name);
    files_section(&mut ours, name);
    see_also_section(&mut ours, name, all);
    let render = |part: Part| {
        let mut buf = Vec::new();
        part(&man, &mut buf).expect("writing into a Vec cannot fail");
        body(String::from_utf8(buf).expect("roff is UTF-8"))
    };
    let mut page = preamble.clone();
    for part in parts {
        page.push_str(&render(part));
    }
    page.push_str(&body(ours.render()));
    if cmd.get_version().is_some() {
        page.push_str(&render(Man::render_version_section));
    }
    page
}

/// The exit statuses of one command (all of them for `mqtk`), with what each means there.
pub fn exit_statuses(name: Option<&str>) -> Vec<(u8, &'static str)> {
    use ExitStatus::{Connect, Failure, Refused, Rejected, Success, Threshold, Timeout, Usage};
    let connect = (
        Connect.code(),
        "could not connect: DNS, TCP refused or unreachable, TLS handshake or certificate \
         verification",
    );
    let refused = (
        Refused.code(),
        "the broker refused the connection: bad credentials, not authorized, unsupported \
         protocol version",
    );
    let usage = (
        Usage.code(),
        "usage error: a bad option or value, an invalid topic, an unreadable file, a bad format \
         string; nothing was sent",
    );
    match name {
        None => vec![
            (Success.code(), "success (--help and --version too)"),
            (
                Failure.code(),
                "runtime failure not covered below (connection lost for good, I/O error)",
            ),
            usage,
            connect,
            refused,
            (
                Rejected.code(),
                "the broker rejected a publish or subscription (MQTT v5 reason code 0x80 or \
                 more, or every filter refused)",
            ),
            (
                Threshold.code(),
                "sim: a --fail-if threshold failed (each failed check is listed)",
            ),
            (
                Timeout.code(),
                "the -W timeout expired (the same number as mosquitto_sub)",
            ),
        ],
        Some("pub") => vec![
            (
                Success.code(),
                "every message is with the broker: QoS 1 and 2 acknowledged, QoS 0 written",
            ),
            (
                Failure.code(),
                "runtime failure: --reconnect-timeout passed, a second Ctrl-C or SIGTERM while \
                 acknowledgements were outstanding, an I/O error",
            ),
            usage,
            connect,
            refused,
            (
                Rejected.code(),
                "the broker rejected a message (MQTT v5 reason code 0x80 or more), or cannot \
                 take it (bigger than its maximum packet size, or the connection closed on it \
                 three times in a row)",
            ),
        ],
        Some("sub") => vec![
            (
                Success.code(),
                "-C messages printed; -E; the retained messages are through \
                 (--retained-only, --remove-retained) or, with --retained-only, a live message \
                 came first; Ctrl-C or SIGTERM; the reader of stdout went away",
            ),
            (Failure.code(), "runtime failure (an I/O error)"),
            usage,
            connect,
            refused,
            (Rejected.code(), "the broker refused every filter"),
            (Timeout.code(), "-W expired"),
        ],
        Some("rr") => vec![
            (Success.code(), "a response was printed"),
            (
                Failure.code(),
                "runtime failure: Ctrl-C or SIGTERM before a response came, \
                 --reconnect-timeout passed, an I/O error",
            ),
            usage,
            connect,
            refused,
            (
                Rejected.code(),
                "the broker refused the response subscription, or rejected the request \
                 (MQTT v5)",
            ),
            (Timeout.code(), "no response within -W"),
        ],
        Some("passwd") => vec![
            (Success.code(), "done; with --verify: the password matches"),
            (
                Failure.code(),
                "--verify: the password does not match or cannot be checked; the user is not \
                 in the file (-D, --verify); a corrupt line; FILE does not exist (without -c); \
                 another run kept FILE's directory locked for 10 s; an I/O error",
            ),
            (
                Usage.code(),
                "usage error: conflicting options, a wrong number of arguments, an invalid user \
                 name or password, no password on stdin, the two passwords differ, FILE is not \
                 a regular file (or, for edits, has several hard links)",
            ),
        ],
        Some("certgen") => vec![
            (Success.code(), "every file was written"),
            (
                Failure.code(),
                "a write failed: nothing was written (temp files removed, replaced files put \
                 back)",
            ),
            (
                Usage.code(),
                "usage error: a bad value, a file that exists without --force, a CA key that \
                 does not belong to the CA certificate, a DIR that cannot be written; nothing \
                 was written",
            ),
        ],
        Some("sim") => vec![
            (
                Success.code(),
                "the run ended (--duration, --count, Ctrl-C or SIGTERM) and every --fail-if \
                 check passed",
            ),
            (
                Failure.code(),
                "runtime failure: the report cannot be written, an I/O error",
            ),
            (
                Usage.code(),
                "usage error: a bad option or value, a malformed fleet file (its line is \
                 named) or --fail-if expression, more devices than the open-file limit allows \
                 (use --shard); nothing was sent",
            ),
            connect,
            (
                Threshold.code(),
                "a --fail-if threshold failed; each failed check is listed with its value",
            ),
        ],
        Some(_) => Vec::new(),
    }
}

fn exit_status_section(roff: &mut Roff, name: Option<&str>) {
    let statuses = exit_statuses(name);
    if statuses.is_empty() {
        return;
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in statuses {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(meaning)]);
    }
    let after = match name {
        Some("passwd") => Some("On any error the file is unchanged."),
        Some("certgen") => Some("On any error nothing is written."),
        _ => None,
    };
    if let Some(after) = after {
        roff.control("PP", []);
        roff.text([roman(after)]);
    }
}

/// Commands that talk to a broker (they have the connection options).
fn connects(cmd: &clap::Command) -> bool {
    cmd.get_arguments().any(|a| a.get_id() == "profile")
}

fn environment_section(roff: &mut Roff, cmd: &clap::Command, name: Option<&str>) {
    let vars: Vec<(String, String)> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let env = a.get_env()?.to_string_lossy().into_owned();
            let flag = match (a.get_long(), a.get_short()) {
                (Some(l), _) => format!("--{l}"),
                (None, Some(s)) => format!("-{s}"),
                (None, None) => a.get_id().to_string(),
            };
            Some((env, flag))
        })
        .collect();
    let network = name.is_none() || connects(cmd);
    if vars.is_empty() && !network {
        return;
    }
    roff.control("SH", ["ENVIRONMENT"]);
    if name.is_none() {
        roff.text([roman(
            "The options of the commands that talk to a broker (pub, sub, rr) can also come \
             from MQTK_<NAME> variables (MQTK_HOST, MQTK_PORT, MQTK_USERNAME, MQTK_PASSWORD, \
             MQTK_PROFILE, ...); each command's page lists them. The command line wins over a \
             -L URL, which wins over the environment, which wins over --profile.",
        )]);
    } else if !vars.is_empty() {
        roff.text([roman(
            "Each option below can also come from the environment. The command line wins over \
             the environment",
        )]);
        if network {
            roff.text([roman(
                "(a -L URL on the command line too), and the environment over --profile.",
            )]);
        } else {
            roff.text([roman(".")]);
        }
        let width = vars.iter().map(|(env, _)| env.len()).max().unwrap_or(0) + 2;
        roff.control("PP", []);
        roff.control("RS", ["4"]);
        roff.control("nf", []);
        for (env, flag) in vars {
            let pad = " ".repeat(width - env.len());
            roff.text([bold(env), roman(pad), roman(flag)]);
        }
        roff.control("fi", []);
        roff.control("RE", []);
    }
    if network {
        roff.control("TP", []);
        roff.text([bold("XDG_CONFIG_HOME"), roman(", "), bold("HOME")]);
        roff.text([roman("where the configuration file is (see FILES).")]);
        roff.control("TP", []);
        roff.text([bold("SSL_CERT_FILE"), roman(", "), bold("SSL_CERT_DIR")]);
        roff.text([roman(
            "the operating system's CA certificates, trusted when TLS is on without --cafile \
             or --capath, or with --tls-use-os-certs.",
        )]);
    }
}

fn files_section(roff: &mut Roff, name: Option<&str>) {
    match name {
        None | Some("pub" | "sub" | "rr") => {
            roff.control("SH", ["FILES"]);
            roff.control("TP", []);
            roff.text([italic("$XDG_CONFIG_HOME/mqtk/config.toml")]);
            roff.text([roman(
                "(~/.config/mqtk/config.toml when XDG_CONFIG_HOME is unset or empty): the \
                 profiles of --profile NAME, one [profile.NAME] table each, keyed by the long \
                 names of the connection options. A profile fills in only what neither the \
                 command line nor the environment gave. For example:",
            )]);
            roff.control("sp", []);
            roff.control("RS", ["4"]);
            roff.control("nf", []);
            for line in [
                "[profile.lab]",
                "host = \"broker.lab\"",
                "port = 8883",
                "username = \"sensor\"",
                "password-file = \"/home/me/.config/mqtk/sensor.pw\"",
                "cafile = \"/home/me/.config/mqtk/lab-ca.crt\"",
            ] {
                roff.text([roman(line)]);
            }
            roff.control("fi", []);
            roff.control("RE", []);
        }
        Some("passwd") => {
            roff.control("SH", ["FILES"]);
            roff.control("TP", []);
            roff.text([italic("FILE")]);
            roff.text([roman(
                "the mosquitto password file: one USER:HASH line per user. An edit writes a \
                 temp file in FILE's directory, syncs it and renames it over FILE, holding an \
                 advisory lock (flock(2)) on the directory from reading FILE until the rename. \
                 Send the broker SIGHUP to make it read the file again.",
            )]);
        }
        Some("certgen") => {
            roff.control("SH", ["FILES"]);
            for (file, what) in [
                (
                    "DIR/ca.crt, DIR/ca.key",
                    "the CA certificate (give it to clients: --cafile) and its key (0600); an \
                     existing pair signs the new certificates",
                ),
                (
                    "DIR/server.crt, DIR/server.key",
                    "the broker's certificate, with a subject alternative name per --host, and \
                     its key (0600)",
                ),
                (
                    "DIR/client-NAME.crt, DIR/client-NAME.key",
                    "one pair per --client NAME, with NAME as the common name (0600 key)",
                ),
                (
                    "DIR/mosquitto-tls.conf",
                    "a mosquitto listener block using them, with absolute paths",
                ),
            ] {
                roff.control("TP", []);
                roff.text([italic(file)]);
                roff.text([roman(what)]);
            }
        }
        Some(_) => {}
    }
}

fn see_also_section(roff: &mut Roff, name: Option<&str>, all: &[String]) {
    let mut refs: Vec<String> = Vec::new();
    if name.is_some() {
        refs.push("mqtk(1)".into());
    }
    refs.extend(
        all.iter()
            .filter(|n| Some(n.as_str()) != name)
            .map(|n| format!("mqtk-{n}(1)")),
    );
    let peer = match name {
        Some("pub") => Some("mosquitto_pub(1)"),
        Some("sub") => Some("mosquitto_sub(1)"),
        Some("rr") => Some("mosquitto_rr(1)"),
        Some("passwd") => Some("mosquitto_passwd(1)"),
        Some("certgen") => Some("openssl(1)"),
        _ => None,
    };
    refs.extend(peer.map(String::from));
    refs.extend(["mosquitto(8)".into(), "mosquitto.conf(5)".into()]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(refs.join(", "))]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_leave_out_the_hidden_generate_command() {
        let full = Cli::command();
        assert!(
            full.find_subcommand("generate")
                .is_some_and(|g| g.is_hide_set())
        );
        for shell in SHELLS {
            let text = completion(shell);
            assert!(!text.contains("generate"), "{shell}");
            for sub in ["pub", "sub", "rr", "passwd", "certgen"] {
                assert!(text.contains(sub), "{shell}: {sub}");
            }
        }
        // The rebuilt root has the same arguments and visible subcommands as the real one.
        let visible = visible_command();
        let ids = |c: &clap::Command| -> Vec<String> {
            c.get_arguments().map(|a| a.get_id().to_string()).collect()
        };
        assert_eq!(ids(&visible), ids(&full));
        let subs = |c: &clap::Command| -> Vec<String> {
            c.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name().to_string())
                .collect()
        };
        assert_eq!(subs(&visible), subs(&full));
    }

    #[test]
    fn fish_dollars_are_escaped_inside_value_lists_only() {
        let fish = "complete -c m -s H -d 'sha ($7$)' -r -f -a \"a\\t'$7$: x'\nb\\t'$6$'\"\n\
                    complete -c m -a \"(__fish_complete_directories)\"\n";
        assert_eq!(
            fish_quote_dollars(fish),
            "complete -c m -s H -d 'sha ($7$)' -r -f -a \"a\\t'\\$7\\$: x'\nb\\t'\\$6\\$'\"\n\
             complete -c m -a \"(__fish_complete_directories)\"\n"
        );
    }

    #[test]
    fn enumerated_values_are_completed() {
        let bash = completion(Shell::Bash);
        let fish = completion(Shell::Fish);
        for (flag, values) in [
            ("-q", "0 1 2"),
            ("-V", "311 5"),
            ("--retain-handling", "0 1 2"),
            ("--will-qos", "0 1 2"),
        ] {
            assert!(
                bash.contains(&format!(
                    "{flag})\n                    COMPREPLY=($(compgen -W \"{values}\""
                )),
                "bash: {flag}"
            );
            let first = values.split(' ').next().unwrap();
            let long_or_short = flag.trim_start_matches('-');
            let opt = if flag.starts_with("--") { "-l" } else { "-s" };
            assert!(
                fish.lines()
                    .any(|l| l.contains(&format!(" {opt} {long_or_short} "))
                        && l.contains(&format!("-a \"{first}"))),
                "fish: {flag}"
            );
        }
    }

    /// Every exit code a command's help names is in its man page's EXIT STATUS, and the
    /// codes are the ones of `ExitStatus`.
    #[test]
    fn exit_status_sections_cover_what_the_help_says() {
        let mut root = Cli::command().disable_help_subcommand(true);
        root.build();
        let all: Vec<u8> = exit_statuses(None).iter().map(|(c, _)| *c).collect();
        assert_eq!(all, [0, 1, 2, 3, 4, 5, 6, 27]);
        let mut commands: Vec<(Option<String>, &clap::Command)> = vec![(None, &root)];
        commands.extend(
            root.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| (Some(s.get_name().to_string()), s)),
        );
        for (name, cmd) in commands {
            let listed: Vec<u8> = exit_statuses(name.as_deref())
                .iter()
                .map(|(c, _)| *c)
                .collect();
            assert!(!listed.is_empty(), "{name:?} has no EXIT STATUS");
            assert!(listed.iter().all(|c| all.contains(c)), "{name:?}");
            let help = [cmd.get_after_help(), cmd.get_long_about()]
                .into_iter()
                .flatten()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            let Some(at) = help.find("Exit codes:") else {
                continue;
            };
            let sentence = &help[at + "Exit codes:".len()..];
            let sentence = &sentence[..sentence.find(".\n").unwrap_or(sentence.len())];
            // "0 ok, 1 runtime failure, ..." or "0 done; 1 ...": a clause that starts with a
            // number names an exit code.
            let named: Vec<u8> = sentence
                .split([';', ','])
                .filter_map(|clause| clause.split_whitespace().next()?.parse::<u8>().ok())
                .collect();
            assert!(named.contains(&0), "{name:?}: {sentence:?}");
            for code in named {
                assert!(
                    listed.contains(&code),
                    "{name:?}: the help names exit {code}"
                );
            }
            // The sentence is rendered as EXIT STATUS; nothing else may be lost with it.
            if let Some(after) = cmd.get_after_help() {
                assert!(after.to_string().starts_with("Exit codes:"), "{name:?}");
            }
        }
    }

    #[test]
    fn man_pages_have_the_standard_sections() {
        let mut root = Cli::command().disable_help_subcommand(true);
        root.build();
        let all: Vec<String> = ["pub", "sub", "rr", "certgen", "passwd"]
            .map(String::from)
            .to_vec();
        let page = man_page(&root, None, &all);
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH SUBCOMMANDS",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(section), "mqtk.1: {section}");
        }
        assert!(!page.contains(".SH EXTRA"));
        assert!(!page.contains("generate"));
        assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble");
        let sub = root.find_subcommand("sub").unwrap();
        let page = man_page(sub, Some("sub"), &all);
        for needle in [
            ".SH \"EXIT STATUS\"",
            "\\fBMQTK_HOST\\fR",
            "config.toml",
            "mosquitto_sub(1)",
            "mqtk\\-pub(1)",
        ] {
            assert!(page.contains(needle), "mqtk-sub.1: {needle}");
        }
        assert!(!page.contains("mqtk\\-sub(1)"), "no reference to itself");
    }
}
