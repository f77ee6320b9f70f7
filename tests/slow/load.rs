//! A short, bounded load test: dnsperf (Debian) against the real binary on loopback,
//! every query with its own ECS subnet. Bounded to 2 s and 20,000 queries/s.

use crate::common;

use common::server::RunningServer;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

/// dnsperf's `-B` input: each query as a 2-octet length and the wire message.
fn query_file(count: usize) -> std::path::PathBuf {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut file = Vec::new();
    for i in 0..count {
        let subnet = match i % 4 {
            0 => format!("198.51.100.{}", rng.u8(..) & 0xe0),
            1 => "198.51.100.128".to_string(),
            2 => format!("{}.{}.{}.0", rng.u8(1..224), rng.u8(..), rng.u8(..)),
            _ => "2001:db8:1::".to_string(),
        };
        let (len, qtype) = match i % 4 {
            0 => (27, RecordType::A),
            3 => (48, RecordType::AAAA),
            _ => (24, RecordType::A),
        };
        let mut m = Message::query();
        m.metadata.id = i as u16;
        m.add_query(Query::query(Name::from_ascii("www.example.com.").unwrap(), qtype));
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(subnet.parse().unwrap(), len, 0)));
        m.set_edns(edns);
        let wire = m.to_vec().unwrap();
        file.extend((wire.len() as u16).to_be_bytes());
        file.extend(wire);
    }
    let path = std::env::temp_dir().join(format!("linedns-load-{}.bin", std::process::id()));
    std::fs::write(&path, file).unwrap();
    path
}

fn field<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("")
}

#[test]
fn dnsperf_two_seconds_no_loss_no_errors() {
    common::tools::require(&["dnsperf"]);
    let server = RunningServer::start("tests/rules/server.yaml", &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let input = query_file(10_000);
    let out = common::tools::tool("dnsperf")
        .args(["-s", "127.0.0.1", "-p", &addr.port().to_string(), "-B", "-d"])
        .arg(&input)
        .args(["-l", "2", "-Q", "20000", "-c", "4", "-q", "100", "-t", "2"])
        .output()
        .expect("run dnsperf");
    let _ = std::fs::remove_file(&input);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let sent: u64 = field(&report, "Queries sent").parse().unwrap_or(0);
    let lost = field(&report, "Queries lost");
    assert!(sent > 10_000, "dnsperf sent {sent}:\n{report}");
    assert!(lost.starts_with("0 "), "lost queries:\n{report}");
    assert!(field(&report, "Response codes").starts_with(&format!("NOERROR {sent} (100.00%)")), "{report}");
    let log = server.stop();
    assert!(!log.to_lowercase().contains("panic"), "{log}");
}
