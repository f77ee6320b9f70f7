//! Any bytes into `Engine::answer`: no panic, and every response satisfies the
//! properties in `tests/common/packet_properties.rs` (parses, echoes ID and question,
//! keeps the UDP limit, ECS scope within the family's bits; the UDP workers' prepared
//! answers byte for byte the long way's).
//!
//! Run: `cargo fuzz run packet --sanitizer none -- -max_total_time=600`
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use linedns::{CompileOptions, Engine};

#[path = "../../tests/common/packet_properties.rs"]
mod packet_properties;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/rules/server.yaml");
    let compiled = linedns::compile_file(std::path::Path::new(rules), &CompileOptions::default());
    let builder = linedns::engine::builder::EngineBuilder::new(compiled.expect("test rules compile").snapshot);
    // A fixed clock turns DNS cookies on (the same server cookie on both paths).
    builder.clock(packet_properties::FIXED_CLOCK).build()
});

fuzz_target!(|data: &[u8]| {
    packet_properties::check(&ENGINE, data);
});
