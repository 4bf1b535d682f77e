//! Fuzz target `topic`: the checks are `oracles::topic` (fuzz/oracles.rs).
#![no_main]

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::topic(data));
