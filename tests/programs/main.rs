//! The tier that drives outside programs: the real binary asked by kdig, loaded by
//! dnsperf, scraped by curl and promtool, transferred to and from BIND, Knot, NSD and
//! Unbound, its status page in headless Chromium. Built with the feature
//! `test-programs`; `scripts/test` installs the programs (tests/programs.txt) and runs
//! it. A missing program fails its test with the package to install.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod cli;
mod defences;
mod dnssec;
mod dnstap;
mod export;
mod fleet;
mod grafana;
mod line_cname;
mod push;
mod replication;
mod rollover;
mod server;
mod status_page;
mod transfer;
mod zone_files;
