//! Replays the fuzz corpus (`fuzz/corpus/packet/`) on stable: every saved input must
//! still satisfy the packet properties.

use crate::common;

use common::packet_properties;
use linedns::CompileOptions;
use linedns::engine::builder::EngineBuilder;

#[test]
fn fuzz_corpus_replays_clean() {
    let rules = common::repo_path("tests/rules/server.yaml");
    let engine = EngineBuilder::new(linedns::compile_file(&rules, &CompileOptions::default()).unwrap().snapshot)
        .clock(packet_properties::FIXED_CLOCK)
        .build();
    replay("packet", 20, |bytes| packet_properties::check(&engine, bytes));
}

/// Replays `fuzz/corpus/NAME/` through `check`; every input must pass.
fn replay(name: &str, at_least: usize, check: impl Fn(&[u8])) {
    let dir = common::repo_path(&format!("fuzz/corpus/{name}"));
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(result.is_ok(), "corpus input {} fails", path.display());
        count += 1;
    }
    assert!(count >= at_least, "{} holds {count} inputs; it should hold its seeds at least", dir.display());
}

#[test]
fn rules_corpus_replays_clean() {
    replay("rules", 4, common::input_properties::rules);
}

#[test]
fn lists_corpus_replays_clean() {
    replay("lists", 4, common::input_properties::lists);
}

#[test]
fn mmdb_corpus_replays_clean() {
    replay("mmdb", 8, common::input_properties::mmdb);
}

#[test]
fn ecs_corpus_replays_clean() {
    replay("ecs", 8, common::input_properties::ecs);
}

#[test]
fn zone_file_corpus_replays_clean() {
    replay("zone_file", 4, common::input_properties::zone_file);
}
