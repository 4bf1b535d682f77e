//! Fuzz target `pwfile`: the checks are `oracles::pwfile` (fuzz/oracles.rs).
#![no_main]

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::pwfile(data));
