//! Any bytes into the zone-file reader (and its rewriting of the types the scanner lacks): see `input_properties::zone_file` in
//! `tests/common/input_properties.rs` for what must hold (the corpus replay in
//! `cargo test` checks the same).
//!
//! Run: `cargo fuzz run zone_file --sanitizer none -- -max_total_time=600`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/input_properties.rs"]
#[allow(dead_code)] // each target uses one of the properties
mod input_properties;

fuzz_target!(|data: &[u8]| {
    input_properties::zone_file(data);
});
