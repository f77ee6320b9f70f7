//! The slow tier: a soak, a load test and a reload under load, each a minute or less but
//! too long for every `cargo test`. Built with the feature `test-slow`; `.ci/run` runs
//! each as its own named step (`cargo test --features test-slow --test slow soak::`).

#[path = "../common/mod.rs"]
mod common;

mod load;
mod reload_load;
mod soak;
