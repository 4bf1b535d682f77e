//! Fuzz target `decode`: the checks are `oracles::decode` (fuzz/oracles.rs).
#![no_main]

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::decode(data));
