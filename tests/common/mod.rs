//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod packet_properties;
pub mod server;

use std::path::{Path, PathBuf};

use linedns::{CompileErrors, CompileOptions, Snapshot, compile_file, compile_str};

/// The real geo data (`../shared/geo-data` beside the clone, or `LINEDNS_GEO_DATA`).
/// Tests that need it fail, never skip, when it is missing.
pub fn real_geo_data() -> PathBuf {
    let dir = match std::env::var_os("LINEDNS_GEO_DATA").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geo-data"),
    };
    assert!(
        dir.join("china-operator-ip/chinanet.txt").is_file(),
        "the real geo data is missing at {}: put shared/geo-data beside the clone or set LINEDNS_GEO_DATA",
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
    compile_file(&repo_path("rules/china-carriers.yaml"), &CompileOptions { geo_data: Some(real_geo_data()) })
        .unwrap_or_else(|e| panic!("china-carriers.yaml must compile on the real data:\n{e}"))
}

/// Compiles rules text as if it were `tests/inline.yaml`, data relative to `geo_data`.
pub fn compile_text(text: &str, geo_data: &Path) -> Result<Snapshot, CompileErrors> {
    compile_str(text, &repo_path("tests/inline.yaml"), &CompileOptions { geo_data: Some(geo_data.to_path_buf()) })
}
