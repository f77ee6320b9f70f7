//! Rules and queries the engine's unit tests share (test builds only): a classless
//! reverse zone compiled, and a query built from raw wire labels (so that a test can
//! send octets the server's own encoder would escape).

use std::path::Path;

use super::{CompileOptions, compile_str};
use crate::engine::snapshot::Snapshot;

/// A classless reverse zone (RFC 2317 §4): a delegation at `0/25` and the CNAME into it.
const RULES: &str = "version: 1
lines:
  - name: telecom
    sources: [{ cidr: [198.51.100.0/24] }]
zones:
  - origin: 2.0.192.in-addr.arpa
    soa: { mname: ns1.example.org., rname: hostmaster.example.org., serial: 7 }
    ns: [ns1.example.org.]
    records:
      - { name: \"0/25\", type: NS, values: [ns.customer.example.] }
      - { name: \"1\", type: CNAME, values: [\"1.0/25\"] }
      - { name: \"a\\\\.b\", type: TXT, values: [\"a dot inside a label\"] }
transfers:
  - { name: local, allow: [127.0.0.1] }
";

/// [`RULES`], compiled.
pub fn snapshot() -> Snapshot {
    compile_str(RULES, Path::new("fixture.yaml"), &CompileOptions::default()).unwrap().snapshot
}

/// A query with ID 0x1234, `flags`, one question of `labels` (wire form) and `qtype`.
pub fn query(labels: &[u8], qtype: u16, flags: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34];
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(labels);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}
