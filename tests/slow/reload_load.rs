//! Hot reload under load, against the real binary: dnsperf at half the measured maximum
//! rate for 20 s while the rules are reloaded every 0.5 s, alternating two valid rule
//! sets and a broken one. No query may be lost or answered SERVFAIL, every answer must
//! come from a valid rule set, the broken file must never go live, and a node that health
//! checks marked down must stay down through every reload.

use crate::common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::server::RunningServer;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const TOKEN: &str = "reload-token";

/// Held by each load test: two at once would share the two cores and lose queries to each
/// other, not to what they test.
static LOAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A rule set: `version` names it; `hc` has one node probed at a closed port (down) and
/// one probed at a live listener (up).
fn rules(version: &str, www: &str, dead: SocketAddr, live: SocketAddr) -> String {
    format!(
        r#"version: 1
server:
  watch: false
health_checks:
  tcp: {{ kind: tcp, interval_ms: 100, timeout_ms: 100, fall: 1, rise: 1000 }}
lines:
  - name: telecom
    sources: [{{ cidr: [198.51.100.0/24] }}]
zones:
  - origin: example.com
    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}
    ns: [ns1]
    records:
      - {{ name: version, type: TXT, values: "{version}" }}
    line_records:
      - name: www
        type: A
        pools:
          telecom: [{www}]
          default: [192.0.2.100]
      - name: hc
        type: A
        health_check: tcp
        pools:
          default:
            - {{ address: 192.0.2.66, probe: "{dead}" }}
            - {{ address: 192.0.2.77, probe: "{live}" }}
"#
    )
}

fn query(name: &str, qtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

fn dnsperf(port: u16, input: &std::path::Path, seconds: u32, rate: Option<u64>) -> String {
    let mut cmd = common::tools::tool("dnsperf");
    cmd.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-d"]).arg(input).args([
        "-l",
        &seconds.to_string(),
        "-c",
        "4",
        "-q",
        "200",
        "-t",
        "3",
    ]);
    if let Some(r) = rate {
        cmd.args(["-Q", &r.to_string()]);
    }
    let out = cmd.output().expect("run dnsperf");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(report: &str, label: &str) -> String {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The probe targets on loopback (a closed port, a listener accepting for the rest of
/// the test) and a scratch directory named after `name`.
fn probe_targets_and_dir(name: &str) -> (SocketAddr, SocketAddr, std::path::PathBuf) {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let live_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let live = live_listener.local_addr().unwrap();
    std::thread::spawn(move || for _ in live_listener.incoming() {});
    (dead, live, common::server::test_dir(name))
}

fn reload(admin: SocketAddr) -> u16 {
    common::admin::reload(admin, Some(TOKEN))
}

#[test]
fn reload_every_half_second_under_load_loses_nothing() {
    common::tools::require(&["dnsperf", "curl"]);
    let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let (dead, live, dir) = probe_targets_and_dir("reload-load");
    let path = dir.join("rules.yaml");
    let sets = [
        rules("A", "192.0.2.1", dead, live),
        rules("B", "192.0.2.2", dead, live),
        "version: 1\nzones:\n  - origin: example.com\n    soa: { mname: ns1 }\n".to_string(), // broken: no rname, no serial
    ];
    std::fs::write(&path, &sets[0]).unwrap();
    let server = RunningServer::start_with(path.to_str().unwrap(), &["127.0.0.1:0"], &[("LINEDNS_ADMIN_TOKEN", TOKEN)]);
    let (dns, admin) = (server.addrs[0], server.admin);

    // Wait until the dead node is down (fall 1): from then on it must never be answered.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let ask = move |socket: &UdpSocket, name: &str, qtype: RecordType, id: u16| -> Message {
        socket.send_to(&query(name, qtype, id), dns).unwrap();
        let mut buf = [0u8; 1500];
        loop {
            let (n, _) = socket.recv_from(&mut buf).expect("answer within 2 s");
            let m = Message::from_vec(&buf[..n]).unwrap();
            if m.metadata.id == id {
                return m;
            }
        }
    };
    let started = Instant::now();
    loop {
        let m = ask(&socket, "hc.example.com.", RecordType::A, 1);
        if m.answers.len() == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the dead node never went down");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The maximum rate, measured, then half of it for 20 s.
    let input = dir.join("queries.txt");
    std::fs::write(&input, "www.example.com A\nhc.example.com A\nversion.example.com TXT\n").unwrap();
    let max: f64 = field(&dnsperf(dns.port(), &input, 2, None), "Queries per second").parse().unwrap();
    let rate = (max / 2.0) as u64;
    assert!(rate > 1000, "measured maximum {max} QPS");
    let load = std::thread::spawn(move || dnsperf(dns.port(), &input, 20, Some(rate)));

    // Beside the load: every answer must come from set A or B, and the dead node must
    // never come back.
    let stop = Arc::new(AtomicBool::new(false));
    let (seen_a, seen_b, checked) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let verifier = {
        let (stop, seen_a, seen_b, checked) = (stop.clone(), seen_a.clone(), seen_b.clone(), checked.clone());
        std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut id = 100u16;
            while !stop.load(Ordering::Relaxed) {
                id = id.wrapping_add(1);
                let m = ask(&socket, "version.example.com.", RecordType::TXT, id);
                assert_eq!(u16::from(m.metadata.response_code), 0);
                match &m.answers[0].data {
                    RData::TXT(t) if t.to_string() == "A" => seen_a.fetch_add(1, Ordering::Relaxed),
                    RData::TXT(t) if t.to_string() == "B" => seen_b.fetch_add(1, Ordering::Relaxed),
                    other => panic!("an answer from no valid rule set: {other:?}"),
                };
                id = id.wrapping_add(1);
                let m = ask(&socket, "hc.example.com.", RecordType::A, id);
                let addrs: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
                assert_eq!(addrs, ["192.0.2.77"], "the down node's state was reset by a reload");
                checked.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // Reload about every 0.5 s for the length of the load: A, B, broken, A, B, broken, ...
    // (a reload of a file written this moment waits 0.3 s for it to settle, see
    // `RulesSource::load`; the sleep makes up the rest).
    let mut outcomes = (0u32, 0u32);
    let reload_start = Instant::now();
    let mut i = 0;
    while reload_start.elapsed() < Duration::from_secs(19) {
        std::thread::sleep(Duration::from_millis(200));
        let set = [1, 2, 0][i % 3];
        std::fs::write(&path, &sets[set]).unwrap();
        let code = reload(admin);
        match code {
            200 => outcomes.0 += 1,
            422 => outcomes.1 += 1,
            other => panic!("reload answered HTTP {other}"),
        }
        assert_eq!(code == 422, set == 2, "the broken file, and only it, fails to reload (set {set})");
        i += 1;
    }
    let report = load.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    verifier.join().expect("the verifier saw only valid answers");

    assert!(outcomes.0 >= 20 && outcomes.1 >= 10, "reloads: {} good, {} broken", outcomes.0, outcomes.1);
    let sent: u64 = field(&report, "Queries sent").parse().unwrap();
    assert!(sent as f64 > rate as f64 * 15.0, "{report}");
    assert!(field(&report, "Queries lost").starts_with("0 "), "queries lost during reloads:\n{report}");
    assert!(field(&report, "Response codes").starts_with(&format!("NOERROR {sent} (100.00%)")), "{report}");
    assert!(seen_a.load(Ordering::Relaxed) > 0 && seen_b.load(Ordering::Relaxed) > 0, "both rule sets went live");
    assert!(checked.load(Ordering::Relaxed) > 100);

    let metrics = common::tools::tool("curl").args(["-s", &format!("http://{admin}/metrics")]).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains(&format!("linedns_reloads_total{{result=\"success\"}} {}", outcomes.0)), "{metrics}");
    assert!(metrics.contains(&format!("linedns_reloads_total{{result=\"failure\"}} {}", outcomes.1)), "{metrics}");
    assert!(metrics.contains(&format!("linedns_snapshot_generation {}", outcomes.0 + 1)), "{metrics}");
    eprintln!(
        "measured max {max:.0} QPS; load {rate} QPS for 20 s: {sent} sent, 0 lost; {} good and {} broken reloads; {} verifier rounds",
        outcomes.0,
        outcomes.1,
        checked.load(Ordering::Relaxed)
    );
    let log = server.stop();
    assert!(log.contains("reload (admin API) failed"), "broken reloads are logged with their place:\n{log}");
    assert!(!log.to_lowercase().contains("panic"));
}

/// The documented zero-downtime upgrade under load: instance A serves, instance B starts
/// on the same DNS and admin addresses with `--share-port`, A is stopped (SIGTERM). dnsperf
/// (32 clients, 20,000 QPS) runs through it all and loses no query; `/metrics` and the
/// status page answer every poll (every 50 ms) throughout. (Before A steered its sockets
/// away and closed them to new queries first, such a hand-over lost a few queries at
/// 40,000 QPS.)
#[test]
fn a_hand_over_with_share_port_under_load_loses_nothing() {
    common::tools::require(&["dnsperf", "curl"]);
    let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let (dead, live, dir) = probe_targets_and_dir("handover");
    let path = dir.join("rules.yaml");
    std::fs::write(&path, rules("A", "192.0.2.1", dead, live)).unwrap();
    let port = common::secondaries::free_port();
    let admin = format!("127.0.0.1:{}", common::secondaries::free_port());
    let listen = format!("127.0.0.1:{port}");
    let start = |args: &[&str]| RunningServer::start_admin(path.to_str().unwrap(), &[&listen], &[], args, &admin);
    let a = start(&[]);
    // Without --share-port a second instance is refused, the admin address named.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .args([
            "serve",
            "-c",
            path.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", common::secondaries::free_port()),
        ])
        .args(["--admin-listen", &admin])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("--share-port") && said.contains(&admin), "{said}");

    let input = dir.join("queries.txt");
    std::fs::write(&input, "www.example.com A\nhc.example.com A\nversion.example.com TXT\n").unwrap();
    // 32 clients (source ports), spread by the kernel over both instances' sockets.
    let rate = 20_000;
    let load = std::thread::spawn(move || {
        let out = common::tools::tool("dnsperf")
            .args(["-s", "127.0.0.1", "-p", &port.to_string(), "-d"])
            .arg(&input)
            .args(["-l", "8", "-c", "32", "-q", "500", "-t", "3", "-Q", &rate.to_string()])
            .output()
            .expect("run dnsperf");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    // The admin API and the status page, polled all along through the shared address.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, admin) = (stop.clone(), admin.clone());
        std::thread::spawn(move || {
            let (mut polls, mut failures) = (0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                for path in ["/metrics", "/"] {
                    let out = common::tools::tool("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2"])
                        .arg(format!("http://{admin}{path}"))
                        .output()
                        .expect("curl");
                    let code = String::from_utf8_lossy(&out.stdout).into_owned();
                    polls += 1;
                    if code != "200" {
                        failures.push(format!("{path}: {code}"));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (polls, failures)
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let b = start(&["--share-port"]);
    std::thread::sleep(Duration::from_secs(2));
    let a_log = a.stop();
    let report = load.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let (polls, failures) = poller.join().unwrap();
    let sent: u64 = field(&report, "Queries sent").parse().unwrap();
    assert!(sent > 120_000, "{report}");
    assert!(field(&report, "Queries lost").starts_with("0 "), "queries lost in the hand-over:\n{report}\n{a_log}");
    assert!(failures.is_empty() && polls > 50, "{polls} polls, failed: {failures:?}");
    // B took over: it answers alone, on both addresses.
    let metrics = common::tools::tool("curl").args(["-s", &format!("http://{admin}/metrics")]).output().unwrap();
    assert!(String::from_utf8_lossy(&metrics.stdout).contains("linedns_queries_total"));
    eprintln!("hand-over: {sent} queries at {rate} QPS, 0 lost; {polls} admin polls, all 200");
    b.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
