//! Fuzz target `fleet`: the checks are `oracles::fleet` (fuzz/oracles.rs).
#![no_main]

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::fleet(data));
