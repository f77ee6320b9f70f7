#![warn(missing_docs)]
//! # linedns
//!
//! A GeoDNS / split-horizon authoritative DNS engine: each client is classified into a
//! *line* (carrier or region) by its address or its EDNS Client Subnet, and gets that
//! line's nodes, falling back along a chain of lines.
//!
//! ```text
//! off the query path (load, reload, check-config: one code path)
//!   rules/*.yaml ──► config (file types) ─┐
//!   CIDR lists / APNIC / .mmdb ──► geo ───┴► compile ──► Snapshot (immutable) ──► Engine
//!
//! query path (sync, no I/O, no locks)
//!   Query + ClientInfo ─► Snapshot::resolve ─► Answer
//!     1. zone by longest suffix            → REFUSED if none
//!     2. name: exact, zone cut, wildcard   → NXDOMAIN / NODATA with SOA
//!     3. line record: classify (line, ECS scope), walk the fallback chain, choose nodes
//! ```
//!
//! ## Embedding
//!
//! ```
//! use std::path::Path;
//! use linedns::{compile_str, AllUp, ClientInfo, CompileOptions, Query, RecordType};
//!
//! let rules = r#"
//! version: 1
//! lines:
//!   - name: telecom
//!     sources:
//!       - cidr: [198.51.100.0/24]
//! zones:
//!   - origin: example.com
//!     soa: { mname: ns1, rname: hostmaster, serial: 1 }
//!     ns: [ns1]
//!     line_records:
//!       - name: www
//!         type: A
//!         pools:
//!           telecom: [192.0.2.1]
//!           default: [192.0.2.100]
//! "#;
//! let snapshot = compile_str(rules, Path::new("inline.yaml"), &CompileOptions::default()).unwrap();
//! let client = ClientInfo::from_ecs("198.51.100.0".parse().unwrap(), 24);
//! let answer = snapshot.resolve(&Query::new("www.example.com.", RecordType::A), &client, &AllUp);
//! assert_eq!(answer.answers[0].data.to_string(), "192.0.2.1");
//! assert_eq!(answer.scope, 24);
//! ```

//!
//! ## Serving
//!
//! Hosts that own their sockets pass bytes in and get bytes out; others hand bound
//! sockets and a shutdown future to [`net::Server`] (the `linedns serve` command does).
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use linedns::{CompileOptions, Engine, Transport};
//!
//! let engine = Arc::new(Engine::from_rules(Path::new("rules/default.yaml"), CompileOptions::default()).unwrap());
//!
//! // A query for www.example.com A: header (ID 1, RD), one question.
//! let mut query = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
//! query.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
//! let mut response = Vec::new();
//! assert!(engine.handle_packet(&query, "198.51.100.7:5300".parse().unwrap(), Transport::Udp, &mut response));
//! assert_eq!(&response[..2], &[0, 1]); // the ID, echoed
//! assert_eq!(response[3] & 0x0f, 0); // NOERROR
//!
//! // The whole server on sockets bound here (port 0), until the future completes.
//! let listeners = linedns::net::bind(&["127.0.0.1:0".parse().unwrap()], 1).unwrap();
//! let runtime = tokio::runtime::Runtime::new().unwrap();
//! let shutdown = async { /* e.g. a signal; here: stop at once */ };
//! runtime.block_on(linedns::net::Server::new(engine).run(listeners, shutdown)).unwrap();
//! ```

#[cfg(feature = "server")]
pub mod admin;
pub mod answer;
pub mod compile;
pub mod config;
pub mod engine;
pub mod error;
pub mod explain;
pub mod geo;
pub mod handle;
pub mod health;
pub mod line;
pub mod metrics;
pub mod name;
#[cfg(feature = "server")]
pub mod net;
pub mod overrides;
pub mod query;
pub mod rdata;
#[cfg(feature = "server")]
pub mod reload;
pub mod settings;
pub mod snapshot;
pub mod wire;
pub mod zone;

pub use answer::{Answer, Owner, Rcode, RecordRef, Route, Served};
pub use compile::{CompileOptions, GEO_DATA_ENV, Summary, compile_file, compile_str};
pub use engine::Engine;
pub use error::{CompileErrors, ConfigError, Place};
pub use explain::{Explanation, explain};
pub use handle::Transport;
pub use line::{AllUp, NodeHealth};
pub use query::{ClientInfo, Query};
pub use rdata::{RData, RecordType};
pub use snapshot::Snapshot;
