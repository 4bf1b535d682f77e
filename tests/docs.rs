//! The docs that ship: completions and man pages are what `mqtk generate` writes, the fish
//! completions load, and every `mqtk` command line in the README parses. The README's lesson
//! is run command for command by tests/walkthrough.rs, with the README helpers below.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use clap::CommandFactory;
use mqtk::cli::Cli;

use crate::support::cmd;

/// Regenerates into a temp dir and compares with the checked-in copy, file by file.
fn assert_current(what: &str, checked_in: &str) {
    let tmp = tempfile::tempdir().unwrap();
    cmd()
        .args(["generate", what])
        .arg(tmp.path())
        .assert()
        .success();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(checked_in);
    let mut fresh: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    fresh.sort();
    let mut kept: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|_| {
            panic!("{checked_in}/ is missing: run `mqtk generate {what} {checked_in}`")
        })
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(
        fresh, kept,
        "{checked_in}/ has other files than `mqtk generate {what}` writes"
    );
    for name in fresh {
        let a = fs::read(tmp.path().join(&name)).unwrap();
        let b = fs::read(root.join(&name)).unwrap();
        assert!(
            a == b,
            "{checked_in}/{name} is stale: run `cargo run -- generate {what} {checked_in}`"
        );
    }
}

#[test]
fn completions_are_current() {
    assert_current("completions", "completions");
}

#[test]
fn man_pages_are_current() {
    assert_current("man", "man");
}

#[test]
fn help_and_version_exit_zero() {
    cmd().arg("--help").assert().success();
    let out = cmd()
        .arg("--version")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).starts_with("mqtk "));
    cmd().args(["pub", "--help"]).assert().success();
}

#[test]
fn a_link_named_mqtk_pub_acts_as_pub() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("mqtk-pub");
    std::os::unix::fs::symlink(crate::support::bin(), &link).unwrap();
    let out = std::process::Command::new(&link)
        .args(["-t", "a/+", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("mqtk pub: error: invalid topic"), "{err}");
}

/// fish expands `$` inside double quotes: one unescaped there is a syntax error that takes
/// every completion with it (fish 3.6: "$: is not a valid variable").
#[test]
fn fish_completions_have_no_bare_dollar_in_double_quotes() {
    let bad = "complete -c mqtk -s H -r -f -a \"sha512\\t'$6$: weak'\"\n";
    assert_eq!(
        bare_dollars_in_double_quotes(bad),
        [1],
        "the check finds them"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fish = fs::read_to_string(root.join("completions/mqtk.fish")).unwrap();
    assert!(fish.contains("\\$7\\$"), "the -H values are there, escaped");
    assert_eq!(bare_dollars_in_double_quotes(&fish), Vec::<usize>::new());
}

/// Lines (1-based) with a `$` that fish would expand inside a double-quoted string.
fn bare_dollars_in_double_quotes(text: &str) -> Vec<usize> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut line = 1;
    let mut found = Vec::new();
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if double && found.last() != Some(&line) => found.push(line),
            _ => {}
        }
    }
    found
}

/// A fenced code block of the README.
#[derive(Debug, Clone)]
pub struct Block {
    /// The `##` and `###` headings it is under.
    pub section: String,
    pub subsection: String,
    /// `sh`, `console`, `toml`, ... (empty for a plain block).
    pub lang: String,
    /// Its lines, without the indentation of the fence.
    pub lines: Vec<String>,
    /// The last line of prose before it.
    pub before: String,
}

pub fn readme() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let (mut section, mut subsection, mut before) = (String::new(), String::new(), String::new());
    let mut open: Option<(usize, Block)> = None;
    for raw in text.lines() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        if let Some((fence_indent, mut block)) = open.take() {
            if trimmed.starts_with("```") {
                out.push(block);
            } else {
                let cut = raw.len().min(fence_indent);
                block.lines.push(raw[cut..].to_string());
                open = Some((fence_indent, block));
            }
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            open = Some((
                indent,
                Block {
                    section: section.clone(),
                    subsection: subsection.clone(),
                    lang: lang.trim().to_string(),
                    lines: Vec::new(),
                    before: before.clone(),
                },
            ));
        } else if let Some(h) = raw.strip_prefix("### ") {
            subsection = h.to_string();
        } else if let Some(h) = raw.strip_prefix("## ") {
            section = h.to_string();
            subsection.clear();
        } else if !trimmed.is_empty() {
            before = trimmed.to_string();
        }
    }
    assert!(open.is_none(), "README.md has an unclosed code block");
    out
}

/// The command lines of a block: in `sh` blocks every line that is not blank or a comment
/// (with `\` continuations joined), in `console` blocks what follows `$ `.
pub fn commands(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    match block.lang.as_str() {
        "sh" => {
            let mut pending = String::new();
            for line in &block.lines {
                let t = line.trim();
                if pending.is_empty() && (t.is_empty() || t.starts_with('#')) {
                    continue;
                }
                match t.strip_suffix('\\') {
                    Some(head) => {
                        pending.push_str(head.trim_end());
                        pending.push(' ');
                    }
                    None => {
                        pending.push_str(t);
                        out.push(std::mem::take(&mut pending));
                    }
                }
            }
        }
        "console" => {
            out.extend(
                block
                    .lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("$ "))
                    .map(str::to_string),
            );
        }
        _ => {}
    }
    out
}

/// A command line as the shell would split it: the simple commands of its pipelines and
/// lists (at `|`, `&&`, `||`, `;`, `&`), each as words, without comments and redirections.
/// `$NAME` is replaced from `vars` (split into words when unquoted); other expansions become
/// `x`.
pub fn simple_commands(line: &str, vars: &HashMap<String, String>) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let finish = |commands: &mut Vec<Vec<String>>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            commands.last_mut().unwrap().push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        '$' => word.push_str(&expand(&mut chars, vars)),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '$' => {
                // Unquoted: the value is split into words.
                let value = expand(&mut chars, vars);
                let mut parts = value.split_whitespace().peekable();
                while let Some(p) = parts.next() {
                    word.push_str(p);
                    in_word = true;
                    if parts.peek().is_some() {
                        finish(&mut commands, &mut word, &mut in_word);
                    }
                }
            }
            '#' if !in_word => break,
            '|' | '&' | ';' => {
                finish(&mut commands, &mut word, &mut in_word);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                commands.push(Vec::new());
            }
            '>' | '<' => {
                // A redirection: drop it and its target.
                word.clear();
                in_word = false;
                if chars.peek() == Some(&'>') || chars.peek() == Some(&'&') {
                    chars.next();
                }
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                while chars.peek().is_some_and(|c| !c.is_whitespace()) {
                    chars.next();
                }
            }
            c if c.is_whitespace() => finish(&mut commands, &mut word, &mut in_word),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    finish(&mut commands, &mut word, &mut in_word);
    commands.retain(|c| !c.is_empty());
    commands
}

fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    vars: &HashMap<String, String>,
) -> String {
    match chars.peek() {
        Some('(') => {
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            "x".into()
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let mut name = String::new();
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                name.extend(chars.next());
            }
            vars.get(&name).cloned().unwrap_or_else(|| "x".into())
        }
        Some(_) => {
            chars.next();
            "x".into()
        }
        None => "$".into(),
    }
}

/// `NAME=value` alone on a line: a shell variable for the lines after it.
pub fn assignment(line: &str) -> Option<(String, String)> {
    let (name, _) = line.split_once('=')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        return None;
    }
    let words = simple_commands(line, &HashMap::new());
    let [command] = &words[..] else { return None };
    let [word] = &command[..] else { return None };
    let (_, value) = word.split_once('=')?;
    Some((name.to_string(), value.to_string()))
}

/// The argv of every `mqtk` invocation in a command line (also as a `docker run` image
/// argument or after `sudo`).
pub fn mqtk_invocations(line: &str, vars: &HashMap<String, String>) -> Vec<Vec<String>> {
    simple_commands(line, vars)
        .into_iter()
        .filter_map(|words| {
            let at = match words.first().map(String::as_str) {
                Some("docker") if words.get(1).is_some_and(|w| w == "run") => {
                    words.iter().position(|w| w == "mqtk")?
                }
                _ => words.iter().position(|w| w != "sudo")?,
            };
            (words[at] == "mqtk").then(|| words[at..].to_vec())
        })
        .collect()
}

#[test]
fn the_readme_helpers_split_command_lines_as_the_shell_does() {
    let vars = HashMap::from([("T".to_string(), "-p 8883 -V 5".to_string())]);
    assert_eq!(
        mqtk_invocations(
            r#"sudo mqtk sub $T -t 'a/#' -m "x y" | jq -r '.a | .b' > out # note"#,
            &vars
        ),
        [[
            "mqtk", "sub", "-p", "8883", "-V", "5", "-t", "a/#", "-m", "x y"
        ]]
    );
    assert_eq!(
        mqtk_invocations(
            "printf 'pw\\n' | mqtk passwd -c - s > passwd && echo ok",
            &vars
        ),
        [["mqtk", "passwd", "-c", "-", "s"]]
    );
    assert_eq!(
        mqtk_invocations("docker run --rm --network host mqtk sub -t x", &vars),
        [["mqtk", "sub", "-t", "x"]]
    );
    assert_eq!(
        assignment(r#"T="-p 8883 --cafile ca.crt""#),
        Some(("T".into(), "-p 8883 --cafile ca.crt".into()))
    );
}

/// Every `mqtk` command line shown in the README is one mqtk accepts (flags, values, their
/// combinations), checked with the library's own command-line definition. The lesson's are
/// also run, by tests/walkthrough.rs.
#[test]
fn every_mqtk_command_in_the_readme_parses() {
    let mut parsed = 0;
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut subsection = String::new();
    for block in blocks(&readme()) {
        if block.subsection != subsection {
            subsection = block.subsection.clone();
            vars.clear();
        }
        for line in commands(&block) {
            if let Some((name, value)) = assignment(&line) {
                vars.insert(name, value);
                continue;
            }
            for argv in mqtk_invocations(&line, &vars) {
                let result = Cli::command().try_get_matches_from(&argv);
                if let Err(e) = result {
                    use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                    assert!(
                        matches!(e.kind(), DisplayHelp | DisplayVersion),
                        "README, {} / {}: `{line}` does not parse:\n{e}",
                        block.section,
                        block.subsection
                    );
                }
                parsed += 1;
            }
        }
    }
    assert!(
        parsed >= 60,
        "only {parsed} mqtk commands found in README.md"
    );
}
