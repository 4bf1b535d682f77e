//! The fuzz targets' checks (fuzz/oracles.rs, compiled here too) in an ordinary `cargo test`:
//! every input kept under tests/fuzz_regressions/<target>/ — each one a crash the fuzzer found,
//! fixed since — goes through the oracle of its target again.

use std::path::{Path, PathBuf};

#[path = "../fuzz/oracles.rs"]
mod oracles;

/// Inputs whose crash is in code outside the fuzzed cores' own files and not fixed yet: they
/// are replayed, their failure printed and not asserted, and one that passes fails the test,
/// so the list only shrinks.
const KNOWN_WRONG: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = root().join("tests/fuzz_regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&dir).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            oracles::TARGETS.contains(&name.as_str()),
            "{} is not named after a fuzz target",
            target.display()
        );
        for input in std::fs::read_dir(&target).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let id = format!("{name}/{}", input.file_name().unwrap().to_str().unwrap());
            let outcome = std::panic::catch_unwind(|| oracles::run(&name, &data));
            match (outcome.is_ok(), KNOWN_WRONG.iter().find(|(k, _)| *k == id)) {
                (true, None) => {}
                (false, None) => panic!("{} fails again", input.display()),
                (false, Some((_, why))) => eprintln!("KNOWN_WRONG, not asserted: {id} ({why})"),
                (true, Some(_)) => panic!("{id} passes now: remove it from KNOWN_WRONG"),
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no regression inputs under {}", dir.display());
    for (id, _) in KNOWN_WRONG {
        assert!(dir.join(id).is_file(), "KNOWN_WRONG names no input: {id}");
    }
}

#[test]
fn fuzz_oracles_hold_on_ordinary_inputs() {
    oracles::smoke();
}

/// Every target in fuzz/Cargo.toml has its oracle, and every oracle a target.
#[test]
fn fuzz_targets_and_oracles_agree() {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "mqtk-fuzz")
        .collect();
    bins.sort_unstable();
    let mut targets = oracles::TARGETS.to_vec();
    targets.sort_unstable();
    assert_eq!(bins, targets);
    for t in targets {
        let file = root().join(format!("fuzz/fuzz_targets/{t}.rs"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains(&format!("oracles::{t}(data)")),
            "{}",
            file.display()
        );
    }
}
