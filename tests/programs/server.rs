//! The real `linedns` binary on loopback, queried with real clients (kdig) and with
//! crafted bytes, including a burst of malformed input.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::inprocess::InProcess;
use common::server::{RunningServer, answers as answer_data, dig, rules_with, test_dir};

const RULES: &str = "tests/rules/server.yaml";

fn status(output: &str) -> String {
    output.split("status: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("none").to_string()
}

#[test]
fn kdig_gets_per_line_answers_and_scopes_over_udp_and_tcp() {
    common::tools::require(&["kdig"]);
    let server = RunningServer::start(RULES, &["127.0.0.1:0", "[::1]:0"]);
    let cases: &[(&str, &[&str], &str)] = &[
        ("198.51.100.0/27", &["192.0.2.11"], "198.51.100.0/27/27"),
        ("198.51.100.64/26", &["192.0.2.1", "192.0.2.2"], "198.51.100.64/26/26"),
        ("198.51.100.128/25", &["192.0.2.21", "192.0.2.22", "192.0.2.23"], "198.51.100.128/25/25"),
        ("198.51.100.0/24", &["192.0.2.11"], "198.51.100.0/24/27"),
        ("8.8.8.0/24", &["192.0.2.101"], "8.8.8.0/24/"),
    ];
    for &addr in &server.addrs {
        for transport in ["+notcp", "+tcp"] {
            for (subnet, want, echo) in cases {
                let out = dig(addr, &["www.example.com", "A", transport, &format!("+subnet={subnet}")]);
                assert_eq!(status(&out), "NOERROR", "{out}");
                assert_eq!(answer_data(&out), *want, "{subnet} via {addr} {transport}:\n{out}");
                assert!(out.contains(&format!("CLIENT-SUBNET: {echo}")), "{subnet} via {addr} {transport}:\n{out}");
                assert!(out.contains("Flags: qr aa"), "authoritative:\n{out}");
                let over = if transport == "+tcp" { "(TCP)" } else { "(UDP)" };
                assert!(out.contains(over), "{out}");
            }
        }
        let v6 = dig(addr, &["www.example.com", "AAAA", "+subnet=2001:db8:1::/48"]);
        assert_eq!(answer_data(&v6), ["2001:db8:f::1"], "{v6}");
        assert!(v6.contains("CLIENT-SUBNET: 2001:db8:1::/48/48"), "{v6}");
    }
    let log = server.stop();
    assert!(log.contains("linedns stopped"), "{log}");
}

/// The bundled rules, as the README runs them (on port 0 here, so a test never collides
/// with anything on 5353): every line gets its pool and scope, over UDP and TCP.
#[test]
fn bundled_rules_answer_kdig_for_every_line() {
    common::tools::require(&["kdig"]);
    let server = RunningServer::start("rules/default.yaml", &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let cases: &[(&str, &[&str], &str)] = &[
        ("198.51.100.0/27", &["192.0.2.11"], "198.51.100.0/27/27"), // gd-telecom
        ("198.51.100.32/27", &["192.0.2.1", "192.0.2.2"], "198.51.100.32/27/27"), // telecom
        ("198.51.100.128/25", &["192.0.2.21", "192.0.2.22"], "198.51.100.128/25/25"), // unicom
        ("203.0.113.0/25", &["192.0.2.31", "192.0.2.32"], "203.0.113.0/25/25"), // mobile
        ("198.51.100.64/26", &["192.0.2.51", "192.0.2.52"], "198.51.100.64/26/26"), // cernet → domestic
        ("198.18.0.0/24", &["192.0.2.51", "192.0.2.52"], "198.18.0.0/24/15"), // domestic
        ("8.8.8.0/24", &["192.0.2.101", "192.0.2.102", "192.0.2.103"], "8.8.8.0/24/1"), // default
    ];
    for transport in ["+notcp", "+tcp"] {
        for (subnet, want, echo) in cases {
            let out = dig(addr, &["www.example.com", "A", transport, &format!("+subnet={subnet}")]);
            assert_eq!(answer_data(&out), *want, "{subnet} {transport}:\n{out}");
            assert!(out.contains(&format!("CLIENT-SUBNET: {echo}")), "{subnet} {transport}:\n{out}");
        }
    }
    let log = server.stop_with("INT");
    assert!(log.contains("SIGINT received") && log.contains("linedns stopped"), "{log}");
}

#[test]
fn kdig_sees_negative_answers_refusals_and_truncation() {
    common::tools::require(&["kdig"]);
    let server = InProcess::start(RULES, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let nx = dig(addr, &["nope.example.com", "A"]);
    assert_eq!(status(&nx), "NXDOMAIN", "{nx}");
    assert!(nx.contains("AUTHORITY SECTION") && nx.contains("SOA"), "{nx}");
    let nodata = dig(addr, &["static.example.com", "AAAA"]);
    assert_eq!(status(&nodata), "NOERROR", "{nodata}");
    assert!(nodata.contains("ANSWER: 0") && nodata.contains("SOA"), "{nodata}");
    assert_eq!(status(&dig(addr, &["example.org", "A"])), "REFUSED");
    // kdig lowercases names, so the 0x20 echo is checked with a query of our own.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    socket.send_to(&hickory_query("WwW.ExAmPlE.cOm."), addr).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "WwW.ExAmPlE.cOm.");
    assert_eq!(m.answers[0].name.to_ascii(), "WwW.ExAmPlE.cOm.");
    // 40 A records do not fit 512 octets without EDNS: TC, then kdig retries over TCP.
    let truncated = dig(addr, &["many.example.com", "A", "+noedns", "+ignore"]);
    assert!(truncated.contains("Flags: qr tc aa") || truncated.contains("tc"), "{truncated}");
    assert!(truncated.contains("ANSWER: 0"), "{truncated}");
    let retried = dig(addr, &["many.example.com", "A", "+noedns"]);
    assert_eq!(answer_data(&retried).len(), 40, "{retried}");
    assert!(retried.contains("(TCP)"), "kdig fell back to TCP:\n{retried}");
    let chaos = dig(addr, &["version.bind", "TXT", "CH"]);
    assert!(chaos.contains("\"linedns-test\""), "{chaos}");
    server.stop();
}

/// A bounded burst of bad input of every kind, then correct queries still work and no
/// server thread panicked.
#[test]
fn malformed_burst_leaves_the_server_answering() {
    common::tools::require(&["kdig"]);
    let server = InProcess::start(RULES, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut rng = fastrand::Rng::with_seed(0xbad);
    let good_query = hickory_query("www.example.com.");
    let mut sent = 0;
    for i in 0..12_000u32 {
        let packet: Vec<u8> = match i % 6 {
            // Random bytes of random length.
            0 => (0..rng.usize(0..600)).map(|_| rng.u8(..)).collect(),
            // Truncated header.
            1 => good_query[..rng.usize(0..12)].to_vec(),
            // A good query cut anywhere.
            2 => good_query[..rng.usize(12..good_query.len())].to_vec(),
            // Bad ECS: host bits, wrong length, unknown family.
            3 => with_raw_ecs(
                &good_query,
                [[0, 1, 20, 0, 198, 51, 101].as_slice(), &[0, 1, 24, 0, 198, 51], &[0, 9, 0, 0]][rng.usize(0..3)],
            ),
            // A good query with random bytes flipped.
            4 => {
                let mut p = good_query.clone();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(..p.len());
                    p[at] = rng.u8(..);
                }
                p
            }
            // Header only claiming many records.
            _ => vec![0x12, 0x34, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        };
        socket.send_to(&packet, addr).unwrap();
        sent += 1;
        // Drain answers now and then so the socket buffer never fills.
        if i % 64 == 0 {
            socket.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 2048];
            while socket.recv_from(&mut buf).is_ok() {}
            socket.set_nonblocking(false).unwrap();
        }
    }
    assert_eq!(sent, 12_000);
    // TCP: a 65,535-octet length prefix followed by 100 KB of junk, and one that stops short.
    let mut junk = vec![0xff, 0xff];
    junk.extend((0..100_000).map(|_| rng.u8(..)));
    if let Ok(mut tcp) = TcpStream::connect(addr) {
        let _ = tcp.write_all(&junk);
    }
    if let Ok(mut tcp) = TcpStream::connect(addr) {
        let _ = tcp.write_all(&[0xff, 0xff, 1, 2, 3]);
    }
    // Correct queries still get correct answers, over UDP and TCP. The server may still
    // be working through the thousands of burst packets queued on its sockets (on a busy
    // 2-core machine that took over 2 s once): kdig waits up to 10 s for each answer.
    let out = dig(addr, &["+timeout=10", "www.example.com", "A", "+subnet=198.51.100.128/25"]);
    assert_eq!(answer_data(&out), ["192.0.2.21", "192.0.2.22", "192.0.2.23"], "{out}");
    let out = dig(addr, &["+timeout=10", "www.example.com", "A", "+tcp", "+subnet=198.51.100.0/27"]);
    assert_eq!(answer_data(&out), ["192.0.2.11"], "{out}");
    // A malformed ECS gets FORMERR with the ID echoed. The burst socket's buffer may be
    // full of late answers (the kernel would drop this one): ask from a fresh socket.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bad = with_raw_ecs(&good_query, &[0, 1, 20, 0, 198, 51, 101]);
    bad[..2].copy_from_slice(&[0x77, 0x77]);
    socket.send_to(&bad, addr).unwrap();
    let mut buf = [0u8; 2048];
    let n = loop {
        let (n, _) = socket.recv_from(&mut buf).expect("FORMERR answer within the read timeout");
        if n >= 12 && buf[..2] == [0x77, 0x77] {
            break n;
        }
    };
    assert_eq!(buf[3] & 0x0f, 1, "FORMERR: {:?}", &buf[..n]);
    // RFC 6891 §7: the query had an OPT record, so the FORMERR has one (and only that).
    let formerr = hickory_proto::op::Message::from_vec(&buf[..n]).expect("the FORMERR parses");
    assert!(formerr.edns.is_some(), "FORMERR to a query with OPT carries OPT: {:?}", &buf[..n]);
    assert_eq!(u16::from_be_bytes([buf[10], buf[11]]), 1, "ARCOUNT: the OPT alone");
    // The in-process server fails `stop` if any of its threads panicked.
    server.stop();
}

#[test]
fn tcp_connection_answers_pipelined_queries_in_order_then_idles_out() {
    let server = InProcess::start(RULES, &["127.0.0.1:0"]);
    let mut tcp = TcpStream::connect(server.addrs[0]).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let names = ["www.example.com.", "static.example.com.", "nope.example.com."];
    let mut burst = Vec::new();
    for name in names {
        let q = hickory_query(name);
        burst.extend((q.len() as u16).to_be_bytes());
        burst.extend(q);
    }
    tcp.write_all(&burst).unwrap();
    for name in names {
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len).into()];
        tcp.read_exact(&mut msg).unwrap();
        let m = hickory_proto::op::Message::from_vec(&msg).unwrap();
        assert_eq!(m.queries[0].name().to_ascii(), name);
    }
    // tests/rules/server.yaml sets a 2 s idle timeout: the server closes the connection.
    let started = std::time::Instant::now();
    let mut rest = [0u8; 1];
    let closed = tcp.read(&mut rest);
    assert!(matches!(closed, Ok(0)), "{closed:?}");
    assert!(started.elapsed() >= Duration::from_millis(1500), "closed after {:?}", started.elapsed());
    server.stop();
}

fn hickory_query(name: &str) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::query();
    m.metadata.id = 0x4242;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.set_edns(Edns::new());
    m.to_vec().unwrap()
}

/// `query` (which ends with an empty OPT RR) with `ecs` as its only option.
fn with_raw_ecs(query: &[u8], ecs: &[u8]) -> Vec<u8> {
    let mut p = query.to_vec();
    let rdlen_at = p.len() - 2;
    let option_len = ecs.len() as u16;
    p[rdlen_at..].copy_from_slice(&(4 + option_len).to_be_bytes());
    p.extend(8u16.to_be_bytes());
    p.extend(option_len.to_be_bytes());
    p.extend(ecs);
    p
}

/// `SO_REUSEPORT` would let a second `linedns serve` on the same address take part of
/// the queries without a word: it must fail to start, naming the address, unless asked
/// to share it (`--share-port`, for a hand-over), and then both answer.
#[test]
fn a_second_instance_on_a_served_address_fails_unless_asked_to_share() {
    common::tools::require(&["kdig"]);
    let first = RunningServer::start(RULES, &["127.0.0.1:0"]);
    let addr = first.addrs[0];
    let second = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"));
        cmd.current_dir(common::repo_path(""))
            .args(["serve", "-c", RULES, "--listen", &addr.to_string(), "--admin-listen", "off"])
            .args(extra)
            .env_remove("LINEDNS_GEO_DATA")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let out = second(&[]).output().expect("run a second linedns");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second instance must not start: {stderr}");
    assert!(
        stderr.contains(&format!("udp {addr} is already served by another process")) && stderr.contains("--share-port"),
        "the error names the address and the way to share it: {stderr}"
    );
    // Asked to share, it starts, and the address still answers.
    let mut sharing = second(&["--share-port"]).spawn().expect("start the sharing instance");
    let mut log = std::io::BufReader::new(sharing.stderr.take().unwrap());
    let mut line = String::new();
    let started = loop {
        line.clear();
        if std::io::BufRead::read_line(&mut log, &mut line).unwrap_or(0) == 0 {
            break false;
        }
        if line.contains(" on udp+tcp ") {
            break true;
        }
    };
    let out = dig(addr, &["www.example.com", "A"]);
    let _ = std::process::Command::new("kill").arg(sharing.id().to_string()).status();
    let _ = sharing.wait();
    assert!(started, "with --share-port the second instance starts");
    assert_eq!(status(&out), "NOERROR", "{out}");
    first.stop();
}

/// The readiness protocol of a `Type=notify` systemd unit (`sd_notify(3)`), with a Unix
/// datagram socket standing in for systemd: READY=1 once it answers, RELOADING=1 and
/// READY=1 around a SIGHUP reload, STOPPING=1 at SIGTERM.
#[test]
fn a_service_manager_hears_ready_reloading_and_stopping() {
    common::tools::require(&["kdig", "kill"]);
    let path = std::env::temp_dir().join(format!("linedns-notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let manager = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    manager.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let heard = || {
        let mut buf = [0u8; 512];
        let n = manager.recv(&mut buf).expect("a notification within 20 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let server = RunningServer::start_with(
        "tests/rules/server.yaml",
        &["127.0.0.1:0"],
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    assert_eq!(heard(), "READY=1\nSTATUS=serving");
    // Ready means answering.
    assert!(dig(server.addrs[0], &["static.example.com", "A"]).contains("192.0.2.80"));
    common::tools::tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert_eq!(heard(), "RELOADING=1");
    assert_eq!(heard(), "READY=1\nSTATUS=serving");
    server.stop();
    assert_eq!(heard(), "STOPPING=1");
    let _ = std::fs::remove_file(&path);
}

/// Without systemd: started as root, `serve` binds port 53, then runs as the rules'
/// `server.user` (every uid and gid changed, root not kept), the state directory handed
/// to that user; a user that does not exist stops the start with a message naming it.
#[test]
fn started_as_root_it_binds_port_53_then_runs_as_the_configured_user() {
    common::tools::require(&["kdig", "kill"]);
    assert!(running_as_root(), "this test binds port 53 and changes user, which needs root: run it as root (CI does)");
    let dir = test_dir("user");
    let state = dir.join("state");
    let rules_file =
        std::path::PathBuf::from(rules_with(&dir, &format!("  state_dir: {}\n  user: nobody\n", state.display())));
    // A loopback address of this test's own, so port 53 is free whatever else runs here.
    let listen = format!("127.53.{}.1:53", std::process::id() % 250);
    let server = RunningServer::start_args(rules_file.to_str().unwrap(), &[&listen], &[], &[]);
    assert_eq!(server.addrs[0].port(), 53);
    assert!(dig(server.addrs[0], &["static.example.com", "A"]).contains("192.0.2.80"));
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let ids =
        |key: &str| status.lines().find(|l| l.starts_with(key)).unwrap().split_whitespace().skip(1).collect::<Vec<_>>();
    assert_eq!(ids("Uid:"), ["65534"; 4], "real, effective, saved and filesystem uid are nobody's:\n{status}");
    assert_eq!(ids("Gid:"), ["65534"; 4], "and every gid nogroup's:\n{status}");
    assert_eq!(ids("Groups:"), ["65534"], "no supplementary group of root's is kept:\n{status}");
    assert_eq!(ids("CapEff:"), ["0000000000000000"], "no capability is left:\n{status}");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&state).unwrap());
    assert_eq!(owner, 65534, "the state directory is handed to the user");
    let log = server.stop();
    assert!(log.contains("running as user nobody (uid 65534, gid 65534)"), "{log}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .args(["serve", "-c", rules_file.to_str().unwrap(), "--listen", "127.0.0.1:0", "--admin-listen", "off"])
        .args(["--user", "no-such-user-here"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown user stops the start:\n{log}");
    assert!(log.contains("user \"no-such-user-here\" does not exist") && log.contains("not started"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether this test runs as root (uid 0), read from /proc like `id -u`.
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("Uid:")).is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}
