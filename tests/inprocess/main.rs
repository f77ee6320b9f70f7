//! The in-process tier: what `cargo test` runs on any machine with Rust and nothing else,
//! in one test binary — the engine's tables (resolve, wire), the server as a library
//! (`Server::spawn`), health checks against backends the tests start, bad rules and
//! their errors, the real carrier data, the fuzz corpora, and the house's layer rules.
//!
//! The tests that drive outside programs are in `tests/programs` (feature
//! `test-programs`, run by `scripts/test`); soak and load in `tests/slow` (feature
//! `test-slow`, named steps of `.ci/run`).

#[path = "../common/mod.rs"]
mod common;

mod config_errors;
mod fuzz_corpus;
mod health;
mod layers;
mod line_types;
mod real_data;
mod resolve;
mod spawn;
mod wire;
