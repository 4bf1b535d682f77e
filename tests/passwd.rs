//! `mqtk passwd` against the real thing: files mosquitto 2.0 loads and checks passwords with,
//! files mosquitto_passwd wrote, and every bad input leaving the file's bytes as they were.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    fails(passwd(&["-c", s(&file), "u"]).write_stdin(""), 2);
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
