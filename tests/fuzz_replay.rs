//! The fuzz targets' checks (fuzz/oracles.rs, compiled here too) in an ordinary `cargo test`:
//! every input kept under tests/fuzz_regressions/<target>/ — each one a crash the fuzzer found,
//! fixed since — goes through the oracle of its target again.

use std::path::{Path, PathBuf};

#[path = "../fuzz/oracles.rs"]
mod oracles;

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
            let outcome = std::panic::catch_unwind(|| oracles::run(&name, &data));
            assert!(outcome.is_ok(), "{} fails again", input.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no regression inputs under {}", dir.display());
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
        assert!(text.contains(&format!("oracles::{t}(data)")), "{}", file.display());
    }
}
