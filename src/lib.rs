#![warn(missing_docs)]
//! # linedns
//!
//! A GeoDNS / split-horizon authoritative DNS engine: each client is classified into a
//! *line* (carrier or region) by its address or its EDNS Client Subnet, and gets that
//! line's nodes, falling back along a chain of lines.
//!
//! ## Layers and the flow of data
//!
//! Each folder is one layer; a layer imports only from the layers below it (checked by
//! `tests/inprocess/layers.rs`), and data flows one way: files → config → compile →
//! [`Snapshot`] → [`Engine`] → packets.
//!
//! ```text
//!  bin/linedns.rs   arguments, logging, binding, signals ─────────────┐
//!  serve/   [feature server] async: udp, tcp, admin (hyper), checker, │ Server::run
//!           probe, reload watch, Prometheus exposition ◄──────────────┘
//!  compile/ rules + data files → Snapshot (lines, sources, zones, line records,
//!           health checks, server settings); load, reload, check-config: one path
//!  engine/  pure and synchronous: no tokio, no clock, no file system
//!           Engine (live snapshot, swap, overrides, answer), resolve + trace,
//!           snapshot, zone, line, overrides, health state (atomics), metrics counters
//!  config/  the YAML file types        geo/  prefix lists, MMDB, the prefix table
//!  wire/    DNS message decode/encode  name, rdata, error: names, record data, places
//!
//! off the query path (load, reload, check-config)
//!   rules/*.yaml ──► config ─┐
//!   CIDR lists / APNIC / .mmdb ──► geo ───┴► compile ──► Snapshot (immutable) ──► Engine::swap
//!
//! query path (sync, no I/O, no locks): Engine::answer
//!   bytes ─► wire::decode ─► Query + ClientInfo ─► Snapshot::resolve ─► Answer ─► wire::encode ─► bytes
//!     1. zone by longest suffix            → REFUSED if none
//!     2. name: exact, zone cut, wildcard   → NXDOMAIN / NODATA with SOA
//!     3. line record: classify (line, ECS scope), walk the fallback chain, choose the
//!        healthy nodes (probe states and overrides, read lock-free)
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
//! let snapshot = compile_str(rules, Path::new("inline.yaml"), &CompileOptions::default()).unwrap().snapshot;
//! let client = ClientInfo::from_ecs("198.51.100.0".parse().unwrap(), 24);
//! let answer = snapshot.resolve(&Query::new("www.example.com.", RecordType::A), &client, &AllUp);
//! assert_eq!(answer.answers[0].data.to_string(), "192.0.2.1");
//! assert_eq!(answer.scope, 24);
//! ```

//!
//! ## Serving
//!
//! Hosts that own their sockets pass bytes in and get bytes out:
//!
//! ```
//! use std::path::Path;
//! use linedns::{CompileOptions, Engine, Request, Transport};
//!
//! let engine = Engine::from_rules(Path::new("rules/default.yaml"), CompileOptions::default()).unwrap();
//! // A query for www.example.com A: header (ID 1, RD), one question.
//! let mut query = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
//! query.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
//! let mut response = Vec::new();
//! assert!(engine.answer(Request::new(&query, "198.51.100.7:5300".parse().unwrap(), Transport::Udp), &mut response));
//! assert_eq!(&response[..2], &[0, 1]); // the ID, echoed
//! assert_eq!(response[3] & 0x0f, 0); // NOERROR
//! ```
//!
//! Others hand sockets they bound themselves to [`serve::Server`], which runs what
//! `linedns serve` runs: DNS over UDP and TCP, the health checker, the admin API and
//! the reload watch, until the shutdown future completes (here [`serve::Server::spawn`],
//! which returns the addresses at once):
//!
//! ```
//! # #[cfg(feature = "server")] {
//! use std::path::Path;
//! use std::time::Duration;
//! use linedns::{CompileOptions, compile_str};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let runtime = tokio::runtime::Runtime::new().unwrap();
//! runtime.block_on(async {
//!     // A backend the health check probes: a TCP listener on loopback.
//!     let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let rules = format!(
//!         "version: 1
//! health_checks:
//!   web: {{ kind: tcp, interval_ms: 100, timeout_ms: 500, fall: 1, rise: 1 }}
//! lines:
//!   - {{ name: telecom, sources: [{{ cidr: [198.51.100.0/24] }}] }}
//! zones:
//!   - origin: example.com
//!     soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}
//!     ns: [ns1]
//!     line_records:
//!       - name: www
//!         type: A
//!         health_check: web
//!         pools:
//!           default: [{{ address: 192.0.2.1, probe: \"{}\" }}]
//! ",
//!         backend.local_addr().unwrap()
//!     );
//!     // The snapshot the engine answers from, and the host settings (listen, admin, state
//!     // directory) apart; the server builds the engine with what its services need.
//!     let compiled = compile_str(&rules, Path::new("host.yaml"), &CompileOptions::default()).unwrap();
//!
//!     // Sockets the host binds itself: DNS on a free port, the admin API on another.
//!     let mut listeners = linedns::serve::bind(&["127.0.0.1:0".parse().unwrap()], 1).unwrap();
//!     listeners.admin = Some(linedns::serve::bind_admin("127.0.0.1:0".parse().unwrap(), None, false).unwrap());
//!     let running = linedns::serve::Server::new(compiled).spawn(listeners).unwrap();
//!
//!     // DNS: www.example.com A over UDP.
//!     let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
//!     let mut query = vec![0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
//!     query.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
//!     client.send_to(&query, running.udp[0]).await.unwrap();
//!     let mut answer = [0u8; 512];
//!     let n = tokio::time::timeout(Duration::from_secs(2), client.recv(&mut answer)).await.unwrap().unwrap();
//!     assert_eq!(&answer[n - 4..n], &[192, 0, 2, 1]);
//!
//!     // The admin API: the node's probe, once the checker has run it.
//!     let nodes = || async {
//!         let mut http = tokio::net::TcpStream::connect(running.admin.unwrap()).await.unwrap();
//!         http.write_all(b"GET /nodes HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
//!         let mut reply = String::new();
//!         http.read_to_string(&mut reply).await.unwrap();
//!         reply
//!     };
//!     let mut reply = nodes().await;
//!     for _ in 0..50 {
//!         if !reply.contains("\"runs\": 0") { break }
//!         tokio::time::sleep(Duration::from_millis(100)).await;
//!         reply = nodes().await;
//!     }
//!     assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("\"up\": true"), "{reply}");
//!     assert!(!reply.contains("\"runs\": 0"), "the probe ran: {reply}");
//!
//!     running.stop().await.unwrap();
//! });
//! # }
//! ```

pub mod compile;
pub mod config;
pub mod engine;
pub mod error;
pub mod geo;
pub mod name;
pub mod rdata;
#[cfg(feature = "server")]
pub mod serve;
pub mod wire;

pub use compile::{CompileOptions, Compiled, GEO_DATA_ENV, RulesSource, compile_file, compile_str};
pub use engine::Engine;
pub use engine::answer::{Answer, Owner, Rcode, RecordRef, Route, Served};
pub use engine::builder::EngineBuilder;
pub use engine::explain::{Explanation, explain};
pub use engine::line::{AllUp, NodeHealth};
pub use engine::prepared::PreparedAnswers;
pub use engine::query::Transport;
pub use engine::query::{ClientInfo, Query};
pub use engine::request::Request;
pub use engine::snapshot::Snapshot;
pub use engine::summary::Summary;
pub use error::{CompileErrors, ConfigError, Place};
pub use rdata::{RData, RecordType};
