//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod admin;
pub mod backend;
pub mod browser;
pub mod inprocess;
pub mod input_properties;
pub mod netns;
pub mod packet_properties;
pub mod resolver;
pub mod secondaries;
pub mod server;
pub mod tools;

use std::path::{Path, PathBuf};

use linedns::{CompileErrors, CompileOptions, Snapshot, compile_file, compile_str};

/// The real geo data the tests run on: licensed copies of the carrier lists, APNIC's CN
/// lists and MaxMind's test databases, kept in this repository (`tests/data/geo-data`,
/// whose README gives each file's source and licence). The tests assert counts of this
/// exact data, so `LINEDNS_GEO_DATA` (for the benches and other data) does not apply here.
pub fn real_geo_data() -> PathBuf {
    let dir = repo_path("tests/data/geo-data");
    assert!(
        dir.join("china-operator-ip/chinanet.txt").is_file(),
        "the test fixtures are missing at {}: this checkout is incomplete",
        dir.display()
    );
    dir
}

/// A file of this repository.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `rules/china-carriers.yaml` compiled on the real data.
pub fn real_snapshot() -> Snapshot {
    compile_file(
        &repo_path("rules/china-carriers.yaml"),
        &CompileOptions { geo_data: Some(real_geo_data()), ..CompileOptions::default() },
    )
    .unwrap_or_else(|e| panic!("china-carriers.yaml must compile on the real data:\n{e}"))
    .snapshot
}

/// Compiles rules text as if it were `tests/inline.yaml`, data relative to `geo_data`.
pub fn compile_text(text: &str, geo_data: &Path) -> Result<Snapshot, CompileErrors> {
    compile_str(
        text,
        &repo_path("tests/inline.yaml"),
        &CompileOptions { geo_data: Some(geo_data.to_path_buf()), ..CompileOptions::default() },
    )
    .map(|compiled| compiled.snapshot)
}
