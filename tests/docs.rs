use std::fs;
use std::path::Path;

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
