//! `mqtk passwd` against the real thing: files mosquitto 2.0 loads and checks passwords with,
//! files mosquitto_passwd wrote, and every bad input leaving the file's bytes as they were.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::{Broker, BrokerConfig, cmd, unique_id};

/// `mqtk passwd ARGS...`.
fn passwd(args: &[&str]) -> assert_cmd::Command {
    let mut c = cmd();
    c.arg("passwd").args(args);
    c
}

fn dir_and_file() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    (dir, file)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// True when mosquitto lets `user` connect with `password` (mosquitto_pub exits 0).
fn login(broker: &Broker, user: &str, password: Option<&str>) -> bool {
    let mut c = Command::new("mosquitto_pub");
    c.args(broker.args())
        .args(["-i", &unique_id("pw"), "-t", "t", "-m", "x"]);
    c.args(["-u", user]);
    if let Some(p) = password {
        c.args(["-P", p]);
    }
    c.output()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)")
        .status
        .success()
}

fn mosquitto_passwd(args: &[&str]) {
    let out = Command::new("mosquitto_passwd")
        .args(args)
        .output()
        .expect("mosquitto_passwd");
    assert!(out.status.success(), "mosquitto_passwd {args:?}: {out:?}");
}

/// Runs `c`, expects exit `code`, and returns stderr.
fn fails(c: &mut assert_cmd::Command, code: i32) -> String {
    let out = c.assert().code(code).get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn mosquitto_accepts_our_entries_and_sees_changes_after_sighup() {
    let (dir, file) = dir_and_file();
    passwd(&["-c", "-b", "-I", "1000", s(&file), "alice", "alice-pw"])
        .assert()
        .success();
    passwd(&["-H", "sha512", "-b", s(&file), "bob", "bob-pw"])
        .assert()
        .success();
    // The default iterations (210 000), with the password typed twice on a pipe.
    passwd(&[s(&file), "carol"])
        .write_stdin("carol pw\ncarol pw\n")
        .assert()
        .success();
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("\nbob:$6$"), "{text}");
    assert!(text.contains("\ncarol:$7$210000$"), "{text}");
    assert_eq!(text.lines().count(), 3);

    let broker = Broker::start(BrokerConfig::password(&file));
    assert!(login(&broker, "alice", Some("alice-pw")));
    assert!(login(&broker, "bob", Some("bob-pw")));
    assert!(login(&broker, "carol", Some("carol pw")));
    assert!(!login(&broker, "alice", Some("bob-pw")), "wrong password");
    assert!(!login(&broker, "mallory", Some("alice-pw")), "unknown user");
    assert!(!login(&broker, "alice", None), "no password");

    passwd(&["-D", s(&file), "bob"]).assert().success();
    passwd(&["-b", "-I", "1000", s(&file), "alice", "new-pw"])
        .assert()
        .success();
    broker.reload();
    assert!(!login(&broker, "bob", Some("bob-pw")), "deleted user");
    assert!(!login(&broker, "alice", Some("alice-pw")), "old password");
    assert!(login(&broker, "alice", Some("new-pw")));
    assert!(login(&broker, "carol", Some("carol pw")));
    assert_eq!(names_in(dir.path()), ["passwd"], "no temp file left behind");
}

#[test]
fn files_from_mosquitto_passwd_are_updated_and_verified() {
    let (_dir, file) = dir_and_file();
    mosquitto_passwd(&["-c", "-b", s(&file), "m1", "pw1"]);
    mosquitto_passwd(&["-H", "sha512", "-b", s(&file), "m2", "pw2"]);
    let theirs = fs::read_to_string(&file).unwrap();

    passwd(&["--verify", s(&file), "m1", "pw1"])
        .assert()
        .success();
    passwd(&["--verify", s(&file), "m2", "pw2"])
        .assert()
        .success();
    passwd(&["--verify", s(&file), "m1", "pw2"])
        .assert()
        .code(1);

    passwd(&["-b", "-I", "1000", s(&file), "ours", "pw3"])
        .assert()
        .success();
    let now = fs::read_to_string(&file).unwrap();
    assert!(
        now.starts_with(&theirs),
        "mosquitto_passwd's lines are kept:\n{now}"
    );
    // And mosquitto_passwd can still edit what we wrote.
    mosquitto_passwd(&["-b", s(&file), "m2", "pw2b"]);

    let broker = Broker::start(BrokerConfig::password(&file));
    assert!(login(&broker, "m1", Some("pw1")));
    assert!(login(&broker, "m2", Some("pw2b")));
    assert!(login(&broker, "ours", Some("pw3")));
    assert!(!login(&broker, "ours", Some("pw1")));
}

#[test]
fn comments_crlf_and_unknown_lines_survive_byte_for_byte() {
    let (_dir, file) = dir_and_file();
    let known = "$7$101$AAECAwQFBgcICQoL$J/vNH9EMqZLqOEdFIcJLmdQ587IOUdaIfYznXw37u6272QfhA3MU1z0SCG5xbN0rVeSa2lH0pH/YHdQWi3ZejQ==";
    let before = format!(
        "# sensors, one per line\r\n\r\nsensor-1:{known}\r\n  spaced  :  {known}  \r\n\
         no colon here\r\nfuture:$9$some$newer$form\r\nsensor-2:{known}"
    );
    fs::write(&file, &before).unwrap();
    passwd(&["--verify", s(&file), "spaced", "sensorpw"])
        .assert()
        .success();

    passwd(&["-b", "-I", "1000", s(&file), "sensor-1", "changed"])
        .assert()
        .success();
    passwd(&["-b", "-I", "1000", s(&file), "sensor-3", "new"])
        .assert()
        .success();
    let after = fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = after.split_inclusive('\n').collect();
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 8, "{after:?}");
    for i in [0, 1, 3, 4, 5] {
        assert_eq!(lines[i], old[i], "line {}", i + 1);
    }
    assert!(lines[2].starts_with("sensor-1:$7$1000$") && lines[2].ends_with("==\r\n"));
    // The unterminated last line got the file's line ending; the new user came after it.
    assert_eq!(lines[6], format!("{}\r\n", old[6]));
    assert!(lines[7].starts_with("sensor-3:$7$1000$") && lines[7].ends_with("==\r\n"));
    passwd(&["--verify", s(&file), "sensor-1", "changed"])
        .assert()
        .success();
    passwd(&["--verify", s(&file), "sensor-3", "new"])
        .assert()
        .success();

    passwd(&["-D", s(&file), "sensor-3"]).assert().success();
    let deleted = fs::read_to_string(&file).unwrap();
    assert_eq!(deleted, lines[..7].concat());
}

#[test]
fn update_hashes_plaintext_and_leaves_hashes_alone() {
    let (_dir, file) = dir_and_file();
    let known = "bob:$6$AAECAwQFBgcICQoL$SbGVLA+lFaUbdOK8CSD5A7aQj0iwkEj28G1TRvJu/5AmtkdaK+97fdxgtjA5TROYMTLpnNxdnc1RoUZhdkdkow==\n";
    fs::write(&file, format!("# plain\nalice:  plain pw  \n{known}")).unwrap();
    passwd(&["-U", "-I", "1000", s(&file)]).assert().success();
    let once = fs::read_to_string(&file).unwrap();
    assert!(once.starts_with("# plain\nalice:$7$1000$"), "{once}");
    assert!(once.ends_with(known), "the hashed entry is kept: {once}");
    passwd(&["--verify", s(&file), "alice", "plain pw"])
        .assert()
        .success();

    passwd(&["-U", s(&file)]).assert().success();
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        once,
        "nothing left to hash"
    );

    let broker = Broker::start(BrokerConfig::password(&file));
    assert!(login(&broker, "alice", Some("plain pw")));
    assert!(login(&broker, "bob", Some("sensorpw")));
}

#[test]
fn password_prompt_reads_two_lines_from_a_pipe() {
    let (dir, file) = dir_and_file();
    let err = fails(passwd(&["-c", s(&file), "u"]).write_stdin("one\ntwo\n"), 2);
    assert!(err.contains("passwords do not match"), "{err}");
    assert!(!file.exists(), "nothing written on a mismatch");
    let err = fails(passwd(&["-c", s(&file), "u"]).write_stdin("\n\n"), 2);
    assert!(err.contains("empty password"), "{err}");
    let err = fails(passwd(&["-c", s(&file), "u"]).write_stdin(""), 2);
    assert!(err.contains("no password on stdin"), "{err}");
    let err = fails(passwd(&["-c", s(&file), "u"]).write_stdin("pw\n"), 2);
    assert!(
        err.contains("stdin ended before the password was repeated"),
        "{err}"
    );
    assert_eq!(names_in(dir.path()), Vec::<String>::new());

    passwd(&["-c", "-I", "1000", s(&file), "u"])
        .write_stdin("sëcret\r\nsëcret\r\n")
        .assert()
        .success();
    passwd(&["--verify", s(&file), "u"])
        .write_stdin("sëcret\n")
        .assert()
        .success();
    passwd(&["--verify", s(&file), "u"])
        .write_stdin("secret\n")
        .assert()
        .code(1);
}

#[test]
fn create_dash_writes_the_file_to_stdout() {
    let (dir, file) = dir_and_file();
    let out = passwd(&["-c", "-I", "1000", "-", "sensor"])
        .current_dir(dir.path())
        .write_stdin("pw\npw\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("sensor:$7$1000$") && text.ends_with("==\n"),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 1);
    assert_eq!(
        names_in(dir.path()),
        Vec::<String>::new(),
        "no file written"
    );
    fs::write(&file, &text).unwrap();
    passwd(&["--verify", s(&file), "sensor", "pw"])
        .assert()
        .success();
    let err = fails(&mut passwd(&["-b", "-", "sensor", "pw"]), 2);
    assert!(err.contains("needs -c"), "{err}");
}

#[test]
fn mode_and_symlinks_are_kept_and_new_files_are_private() {
    let (dir, file) = dir_and_file();
    passwd(&["-c", "-b", "-I", "1", s(&file), "a", "pw"])
        .assert()
        .success();
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    passwd(&["-b", "-I", "1", s(&file), "b", "pw"])
        .assert()
        .success();
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    passwd(&["-c", "-b", "-I", "1", s(&file), "c", "pw"])
        .assert()
        .success();
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    passwd(&["-b", "-I", "1", s(&link), "d", "pw"])
        .assert()
        .success();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    passwd(&["--verify", s(&file), "d", "pw"])
        .assert()
        .success();
}

#[test]
fn argon2id_entries_verify() {
    let (_dir, file) = dir_and_file();
    passwd(&["-c", "-b", "-H", "argon2id", s(&file), "a", "pw"])
        .assert()
        .success();
    let text = fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("a:$argon2id$v=19$m=47104,t=1,p=1$"),
        "{text}"
    );
    passwd(&["--verify", s(&file), "a", "pw"])
        .assert()
        .success();
    passwd(&["--verify", s(&file), "a", "px"]).assert().code(1);
}

#[test]
fn batch_mode_warns_that_the_password_is_visible() {
    let (_dir, file) = dir_and_file();
    let out = passwd(&["-c", "-b", "-I", "1", s(&file), "a", "pw"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("warning") && err.contains("process list"),
        "{err}"
    );
}

/// A file with one of each kind of line, to check that failures do not touch it.
const FILE: &str = "# comment\nalice:$6$AAECAwQFBgcICQoL$SbGVLA+lFaUbdOK8CSD5A7aQj0iwkEj28G1TRvJu/5AmtkdaK+97fdxgtjA5TROYMTLpnNxdnc1RoUZhdkdkow==\r\nplain:text\n";

#[test]
fn bad_input_exits_non_zero_and_leaves_the_file_alone() {
    let (dir, file) = dir_and_file();
    fs::write(&file, FILE).unwrap();
    let f = s(&file);
    let long = "x".repeat(65_536);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["-D", f, "nobody"], 1, "'nobody' is not in"),
        (vec!["--verify", f, "nobody", "pw"], 1, "'nobody' is not in"),
        (vec!["--verify", f, "alice", "wrong"], 1, "wrong password"),
        (vec!["--verify", f, "plain", "text"], 1, "not hashed"),
        (vec!["-b", f, "", "pw"], 2, "empty"),
        (vec!["-b", f, "a:b", "pw"], 2, "':'"),
        (vec!["-b", f, "a\tb", "pw"], 2, "control"),
        (vec!["-b", f, "#bob", "pw"], 2, "start with '#'"),
        (vec!["-b", f, " alice", "pw"], 2, "space"),
        (vec!["-b", f, "alice ", "pw"], 2, "space"),
        (vec!["-D", f, " alice"], 2, "space"),
        (vec!["--verify", f, "#bob", "pw"], 2, "start with '#'"),
        (
            vec!["-I", "10000001", "-b", f, "alice", "pw"],
            2,
            "10000000",
        ),
        (vec!["-b", f, "a\u{7f}", "pw"], 2, "control"),
        (vec!["-D", f, "a\nb"], 2, "control"),
        (vec!["-b", f, &long, "pw"], 2, "65536"),
        (vec!["-b", f, "alice", &long], 2, "65536"),
        (vec!["-b", f, "alice", ""], 2, "empty password"),
        (vec!["-c", "-D", f, "alice"], 2, "cannot be used with"),
        (vec!["-c", "-U", f], 2, "cannot be used with"),
        (vec!["-D", "-U", f], 2, "cannot be used with"),
        (vec!["-b", "-D", f, "alice"], 2, "cannot be used with"),
        (
            vec!["--verify", "-b", f, "alice", "pw"],
            2,
            "cannot be used with",
        ),
        (vec!["-b", f, "alice"], 2, "-b needs"),
        (vec![f], 2, "USER is missing"),
        (vec![f, "alice", "pw"], 2, "needs -b"),
        (vec!["-U", f, "alice"], 2, "-U takes FILE only"),
        (vec!["-D", f, "alice", "pw"], 2, "-D takes"),
        (vec!["-I", "0", "-b", f, "alice", "pw"], 2, "0"),
        (vec!["-H", "md5", "-b", f, "alice", "pw"], 2, "md5"),
        (vec![], 2, ""),
    ];
    for (args, code, needle) in cases {
        let err = fails(&mut passwd(&args), code);
        assert!(err.contains(needle), "{args:.40?}: {err}");
        assert!(
            err.starts_with("mqtk passwd: ") || args.is_empty(),
            "{args:.40?}: {err}"
        );
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            FILE,
            "{args:.40?} changed the file"
        );
    }
    // Two typed passwords that differ.
    fails(passwd(&[f, "alice"]).write_stdin("a\nb\n"), 2);
    assert_eq!(fs::read_to_string(&file).unwrap(), FILE);
    assert_eq!(names_in(dir.path()), ["passwd"]);

    let missing = dir.path().join("missing");
    let err = fails(&mut passwd(&["-b", s(&missing), "alice", "pw"]), 1);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn a_corrupt_line_is_named_and_nothing_is_written() {
    let (dir, file) = dir_and_file();
    let before = format!("{FILE}bob:\nafter:$6$x$y\n");
    fs::write(&file, &before).unwrap();
    let f = s(&file);
    for args in [
        vec!["-b", f, "carol", "pw"],
        vec!["-b", f, "alice", "pw"],
        vec!["-D", f, "alice"],
        vec!["-U", f],
        vec!["--verify", f, "alice", "sensorpw"],
    ] {
        let err = fails(&mut passwd(&args), 1);
        assert!(
            err.contains("corrupt line 4") && err.contains("'bob'"),
            "{args:?}: {err}"
        );
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
    fs::write(
        &file,
        format!("{FILE}x:$7$101$AAECAwQFBgcICQoL$dG9vc2hvcnQ=\n"),
    )
    .unwrap();
    let err = fails(&mut passwd(&["-b", f, "carol", "pw"]), 1);
    assert!(
        err.contains("corrupt line 4") && err.contains("64 bytes"),
        "{err}"
    );
    assert_eq!(names_in(dir.path()), ["passwd"]);
}

/// Twenty `passwd -b` runs at once on one file: each one's read-change-rename happens under
/// the directory lock, so none overwrites another's user.
#[test]
fn concurrent_edits_keep_every_user() {
    let (dir, file) = dir_and_file();
    passwd(&["-c", "-b", "-I", "1000", s(&file), "base", "pw"])
        .assert()
        .success();
    let children: Vec<_> = (1..=20)
        .map(|i| {
            crate::support::std_cmd()
                .args(["passwd", "-I", "1000", "-b", s(&file)])
                .args([format!("user{i}"), format!("pw{i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = fs::read_to_string(&file).unwrap();
    let mut users: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    users.sort();
    let mut want: Vec<String> = (1..=20).map(|i| format!("user{i}")).collect();
    want.push("base".into());
    want.sort();
    assert_eq!(users, want, "{text}");
    passwd(&["--verify", s(&file), "user17", "pw17"])
        .assert()
        .success();
    assert_eq!(
        names_in(dir.path()),
        ["passwd"],
        "no temp or lock file left"
    );
}

/// Holds the lock `mqtk passwd` takes (an flock on the file's directory), as `flock DIR` would.
fn hold_lock(dir: &Path) -> fs::File {
    let handle = fs::File::open(dir).unwrap();
    rustix::fs::flock(
        &handle,
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .unwrap();
    handle
}

#[test]
fn an_edit_waits_for_the_lock_then_gives_up_after_10_s() {
    let (dir, file) = dir_and_file();
    fs::write(&file, FILE).unwrap();

    // Released after a second: the edit waits, then goes ahead.
    let held = hold_lock(dir.path());
    let mut waiting = crate::support::std_cmd()
        .args(["passwd", "-I", "1000", "-b", s(&file), "carol", "pw"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(waiting.try_wait().unwrap().is_none(), "did not wait");
    assert_eq!(fs::read_to_string(&file).unwrap(), FILE);
    drop(held);
    assert!(waiting.wait().unwrap().success());
    passwd(&["--verify", s(&file), "carol", "pw"])
        .assert()
        .success();
    let before = fs::read_to_string(&file).unwrap();

    // Held for good: exit 1 after the bound, naming the directory; nothing written.
    let _held = hold_lock(dir.path());
    let start = Instant::now();
    let err = fails(
        passwd(&["-I", "1000", s(&file), "dave"]).write_stdin("pw\npw\n"),
        1,
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert!(
        err.starts_with("mqtk passwd: error: another program kept ")
            && err.contains(s(dir.path()))
            && err.contains("locked for 10 s; nothing was written"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), before);
    // Reading needs no lock.
    passwd(&["--verify", s(&file), "carol", "pw"])
        .assert()
        .success();
    assert_eq!(names_in(dir.path()), ["passwd"]);
}

/// mosquitto skips lines starting with `#` and trims blanks around names: such names are
/// refused, and with duplicates `--verify` checks the entry the broker uses.
#[test]
fn names_the_broker_would_read_differently_are_refused() {
    let (dir, file) = dir_and_file();
    passwd(&["-c", "-b", "-I", "1000", s(&file), "alice", "old"])
        .assert()
        .success();
    let before = fs::read_to_string(&file).unwrap();
    for name in ["#bob", " alice", "alice ", "  "] {
        for args in [
            vec!["-b", s(&file), name, "new"],
            vec!["-D", s(&file), name],
            vec!["--verify", s(&file), name, "old"],
        ] {
            let err = fails(&mut passwd(&args), 2);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.starts_with("mqtk passwd: error: user name must not"),
                "{err}"
            );
            assert_eq!(fs::read_to_string(&file).unwrap(), before, "{args:?}");
        }
        let err = fails(passwd(&[s(&file), name]).write_stdin("new\nnew\n"), 2);
        assert!(err.contains("user name must not"), "{err}");
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), before);

    // A hand-edited file with a second, padded entry for alice: the broker uses the later
    // one, and so does --verify.
    let other = dir.path().join("other");
    passwd(&["-c", "-b", "-I", "1000", s(&other), "alice", "new"])
        .assert()
        .success();
    let padded = format!(
        " {}",
        fs::read_to_string(&other).unwrap().replace(':', " :")
    );
    fs::write(&file, format!("{before}{padded}")).unwrap();
    let broker = Broker::start(BrokerConfig::password(&file));
    assert!(login(&broker, "alice", Some("new")));
    assert!(!login(&broker, "alice", Some("old")));
    passwd(&["--verify", s(&file), "alice", "new"])
        .assert()
        .success();
    passwd(&["--verify", s(&file), "alice", "old"])
        .assert()
        .code(1);
}

/// Entries asking for absurd work are corrupt lines (exit 1, named), found before any hashing:
/// nothing runs for hours or aborts on a 4 TiB allocation.
#[test]
fn absurd_hash_costs_are_refused_before_any_hashing() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let (dir, file) = dir_and_file();
    let (s12, h64) = (STANDARD.encode([b's'; 12]), STANDARD.encode([b'h'; 64]));
    let (s16, h32) = (
        STANDARD_NO_PAD.encode([b's'; 16]),
        STANDARD_NO_PAD.encode([b'h'; 32]),
    );
    let lines = [
        format!("alice:$argon2id$v=19$m=4294967295,t=1,p=1${s16}${h32}"),
        format!("alice:$argon2id$v=19$m=47104,t=4294967295,p=1${s16}${h32}"),
        format!("alice:$argon2id$v=19$m=1048576,t=1,p=65${s16}${h32}"),
        format!("alice:$7$4294967295${s12}${h64}"),
        format!("alice:$7$10000001${s12}${h64}"),
    ];
    for line in lines {
        let text = format!("# costly\nalice2:plain\n{line}\n");
        fs::write(&file, &text).unwrap();
        for args in [
            vec!["--verify", s(&file), "alice", "x"],
            vec!["-U", s(&file)],
            vec!["-b", s(&file), "bob", "pw"],
            vec!["-D", s(&file), "alice"],
        ] {
            let start = Instant::now();
            let err = fails(passwd(&args).timeout(Duration::from_secs(20)), 1);
            assert!(start.elapsed() < Duration::from_secs(5), "{args:?} {line}");
            assert!(
                err.contains(&format!(
                    "mqtk passwd: error: {}: corrupt line 3: user 'alice': ",
                    s(&file)
                )) && err.contains("the most mqtk will"),
                "{args:?}: {err}"
            );
            assert_eq!(fs::read_to_string(&file).unwrap(), text, "{args:?}");
        }
    }
    // The bounds themselves are accepted (and -I writes up to the same bound).
    fs::write(
        &file,
        format!("alice:$argon2id$v=19$m=8,t=100,p=1${s16}${h32}\n"),
    )
    .unwrap();
    let err = fails(&mut passwd(&["--verify", s(&file), "alice", "x"]), 1);
    assert!(err.contains("wrong password"), "{err}");
    assert_eq!(names_in(dir.path()), ["passwd"]);
}

/// A FIFO is refused at once (reading it would block), as are devices and directories; a
/// file with several hard links is refused for edits (the rename would split the names).
#[test]
fn fifos_devices_and_hard_linked_files_are_refused() {
    let (dir, file) = dir_and_file();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for args in [
        vec!["-b", s(&fifo), "a", "pw"],
        vec!["-c", "-b", s(&fifo), "a", "pw"],
        vec!["-D", s(&fifo), "a"],
        vec!["-U", s(&fifo)],
        vec!["--verify", s(&fifo), "a", "pw"],
    ] {
        let err = fails(passwd(&args).timeout(Duration::from_secs(10)), 2);
        assert!(
            err.contains("is a FIFO, not a password file"),
            "{args:?}: {err}"
        );
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
    let err = fails(&mut passwd(&["-c", "-b", "/dev/null", "a", "pw"]), 2);
    assert!(err.contains("/dev/null is a device"), "{err}");
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let err = fails(&mut passwd(&["-c", "-b", s(dir.path()), "a", "pw"]), 2);
    assert!(err.contains("is a directory"), "{err}");

    fs::write(&file, FILE).unwrap();
    let link = dir.path().join("link");
    fs::hard_link(&file, &link).unwrap();
    for args in [
        vec!["-b", s(&link), "a", "pw"],
        vec!["-c", "-b", s(&file), "a", "pw"],
        vec!["-D", s(&file), "alice"],
        vec!["-U", s(&file)],
    ] {
        let err = fails(&mut passwd(&args), 2);
        assert!(
            err.contains("has 2 hard links") && err.contains("nothing was written"),
            "{args:?}: {err}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), FILE);
        assert_eq!(fs::metadata(&file).unwrap().nlink(), 2);
    }
    // Reading through either name is fine; with one name left, edits work again.
    passwd(&["--verify", s(&link), "alice", "sensorpw"])
        .assert()
        .success();
    fs::remove_file(&link).unwrap();
    passwd(&["-b", "-I", "1000", s(&file), "a", "pw"])
        .assert()
        .success();
}
