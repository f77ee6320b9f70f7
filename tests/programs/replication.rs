//! Primary/backup with real secondaries: NSD, Knot DNS and BIND 9 from Debian transfer
//! the view with TSIG and follow every change within seconds, driven by linedns's NOTIFY
//! (their refresh timer is an hour): a rules reload, a node going down, and a restart of
//! linedns with new rules in between; Knot's IXFR is incremental; the serial never goes
//! backwards and survives a restart unchanged when the zone is.

use crate::common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::secondaries::{Secondary, free_port, start_secondary};
use common::server::{RunningServer, answers, dig, soa_serial as serial_of};
use common::tools::tool;
use linedns::engine::versions;

/// One key per provider, as each provider's secondary would hold its own.
const KEYS: [(&str, &str, &str); 3] = [
    ("nsd", "nsd-key", "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8="),
    ("knotd", "knot-key", "Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg="),
    ("named", "bind-key", "c2Vjb25kYXJ5LWJpbmQta2V5LWZvci1saW5lZG5zLXQ="),
];

/// The rules: tests/rules/server.yaml's zone on `port`, a state directory, `www`'s
/// telecom pool `www_telecom`, `api` from two loopback nodes probed on `probe_port`, and
/// one transfer rule per provider (its key, the telecom view, NOTIFY to its port).
fn write_rules(
    dir: &Path,
    port: u16,
    probe_port: u16,
    www_telecom: &str,
    secondaries: &[(u16, &str, &str)],
) -> PathBuf {
    write_rules_kept(dir, port, probe_port, www_telecom, secondaries, true)
}

/// [`write_rules`], with a state directory only if `kept`.
fn write_rules_kept(
    dir: &Path,
    port: u16,
    probe_port: u16,
    www_telecom: &str,
    secondaries: &[(u16, &str, &str)],
    kept: bool,
) -> PathBuf {
    let state = if kept { "\n  state_dir: state" } else { "" };
    let base = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
    let base = base
        .replace(
            "listen: [\"127.0.0.1:0\"]",
            &format!("listen: [\"127.0.0.1:{port}\"]\n  watch: false{state}\n  serial_coalesce_ms: 1000"),
        )
        .replace("telecom: [192.0.2.1, 192.0.2.2]", &format!("telecom: [{www_telecom}]"));
    let mut text = base.replace("version: 1\n", &format!("version: 1\nhealth_checks:\n  tcp: {{ kind: tcp, port: {probe_port}, interval_ms: 100, timeout_ms: 200, fall: 1, rise: 1 }}\n"));
    text.push_str("      - name: api\n        type: A\n        ttl: 60\n        health_check: tcp\n        pools:\n          telecom: [127.0.0.21, 127.0.0.22]\n          default: [127.0.0.21]\ntransfers:\n");
    let mut keys = String::from("keys:\n");
    for (i, (notify_port, kind, key)) in secondaries.iter().enumerate() {
        let provider = KEYS.iter().find(|k| k.0 == *kind).unwrap();
        text.push_str(&format!(
            "  - {{ name: provider-{i}-{kind}, key: {key}, line: telecom, notify: [\"127.0.0.1:{notify_port}\"] }}\n"
        ));
        keys.push_str(&format!("  {key}: {{ algorithm: hmac-sha256, secret: \"{}\" }}\n", provider.2));
    }
    text.push_str(&keys);
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The serial `server` answers for example.com to a query signed with `key`: the serial
/// of that key's view.
fn primary_serial(server: SocketAddr, key: (&str, &str)) -> u32 {
    let out = dig(server, &["-y", &format!("hmac-sha256:{}:{}", key.0, key.1), "example.com", "SOA"]);
    serial_of(&out).unwrap_or_else(|| panic!("no SOA from the primary:\n{out}"))
}

/// The primary's serial for `key`'s view once it differs from `old` (polled for up to
/// 5 s; `old` if it never does).
fn new_primary_serial(server: SocketAddr, key: (&str, &str), old: u32) -> u32 {
    let started = Instant::now();
    let mut serial = old;
    while serial == old && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        serial = primary_serial(server, key);
    }
    serial
}

/// Waits up to `limit` until every secondary answers `name A` with `want` and has
/// `serial`; panics with what each answered and its log otherwise. Returns the time it
/// took.
fn wait_for(secondaries: &[Secondary], name: &str, want: &[&str], serial: u32, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut pending: Vec<usize> = (0..secondaries.len()).collect();
    let mut last = Vec::new();
    while !pending.is_empty() && started.elapsed() < limit {
        last.clear();
        pending.retain(|&i| {
            let s = &secondaries[i];
            let a = dig(s.addr, &[name, "A"]);
            let soa = dig(s.addr, &["example.com", "SOA"]);
            let done = answers(&a) == want && serial_of(&soa) == Some(serial);
            if !done {
                last.push(format!("{}: {:?} serial {:?}", s.log.display(), answers(&a), serial_of(&soa)));
            }
            !done
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs: Vec<String> = pending.iter().map(|&i| secondaries[i].log()).collect();
    assert!(
        pending.is_empty(),
        "not within {limit:?} ({name} {want:?} serial {serial}): {last:#?}\n{}",
        logs.join("\n----\n")
    );
    started.elapsed()
}

#[test]
fn secondaries_follow_reloads_health_and_restarts_by_notify() {
    common::tools::require(&["kdig", "nsd", "knotd", "named", "kill", "curl"]);
    let dir = std::env::temp_dir().join(format!("linedns-replication-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The probed nodes: both listening.
    let probe_port = free_port();
    let node_21 = TcpListener::bind(("127.0.0.21", probe_port)).unwrap();
    let mut node_22 = Some(TcpListener::bind(("127.0.0.22", probe_port)).unwrap());
    let port = free_port();
    let ports: Vec<(u16, &str, &str)> = KEYS.iter().map(|(kind, key, _)| (free_port(), *kind, *key)).collect();
    let rules = write_rules(&dir, port, probe_port, "192.0.2.1, 192.0.2.2", &ports);
    let rules_arg = rules.to_str().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let server = RunningServer::start(rules_arg, &[&listen]);
    let primary = server.addrs[0];
    let knot_key = (KEYS[1].1, KEYS[1].2);
    let secondaries = start_all(&dir, primary, &ports);

    // Each secondary transfers the telecom view at start.
    let first = primary_serial(primary, knot_key);
    wait_for(&secondaries, "www.example.com", &["192.0.2.1", "192.0.2.2"], first, Duration::from_secs(20));
    wait_for(&secondaries, "api.example.com", &["127.0.0.21", "127.0.0.22"], first, Duration::from_secs(5));

    // 1. A rules reload (SIGHUP): a new serial, and every secondary has it within 5 s.
    write_rules(&dir, port, probe_port, "192.0.2.3", &ports);
    tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    let started = Instant::now();
    let second = new_primary_serial(primary, knot_key, first);
    assert!(second > first, "a new serial after the reload: {first} -> {second}\n{}", server.log());
    let left = Duration::from_secs(5).saturating_sub(started.elapsed());
    wait_for(&secondaries, "www.example.com", &["192.0.2.3"], second, left);

    // 2. Knot took it as an IXFR, incrementally: linedns logged and counted it.
    let log = server.log();
    assert!(
        log.contains(&format!(
            "(transfer rule provider-1-knotd, line telecom, TSIG key knot-key): incremental, serial {first} -> {second}"
        )),
        "Knot's IXFR is incremental:\n{log}"
    );
    // An IXFR from a serial linedns never had: the whole zone.
    let spec = format!("hmac-sha256:{}:{}", knot_key.0, knot_key.1);
    let out = dig(primary, &["-y", &spec, "example.com", "IXFR=12345"]);
    assert!(out.contains("www.example.com.") && out.contains("static.example.com."), "the whole zone:\n{out}");
    let log = server.log();
    let full = format!("TSIG key knot-key): full zone, serial {second}");
    assert!(log.lines().any(|l| l.contains("IXFR example.com to 127.0.0.1") && l.contains(&full)), "{log}");

    // 3. A node goes down (its port closes): the probe marks it down, and every secondary
    // serves the view without it within 5 s.
    drop(node_22.take());
    let started = Instant::now();
    let third = new_primary_serial(primary, knot_key, second);
    assert!(third > second, "a new serial after the node went down\n{}", server.log());
    let left = Duration::from_secs(5).saturating_sub(started.elapsed());
    wait_for(&secondaries, "api.example.com", &["127.0.0.21"], third, left);

    // 4. Restart linedns between two changes: the serial goes on from the stored one,
    // and the secondaries take the new zone.
    let log = server.stop();
    for (i, (notify_port, kind, _)) in ports.iter().enumerate() {
        let answered = format!("to 127.0.0.1:{notify_port} (transfer rule provider-{i}-{kind}) answered");
        assert!(log.contains(&answered), "{kind} answered the NOTIFY: {answered}\n{log}");
    }
    node_22 = Some(TcpListener::bind(("127.0.0.22", probe_port)).unwrap());
    write_rules(&dir, port, probe_port, "192.0.2.4", &ports);
    let server = RunningServer::start(rules_arg, &[&listen]);
    let fourth = primary_serial(primary, knot_key);
    assert!(fourth > third, "never backwards across a restart: {third} -> {fourth}");
    wait_for(&secondaries, "www.example.com", &["192.0.2.4"], fourth, Duration::from_secs(5));
    wait_for(&secondaries, "api.example.com", &["127.0.0.21", "127.0.0.22"], fourth, Duration::from_secs(5));

    // A crash (kill -9) and a restart with nothing changed keep the serial (it is read
    // from the state directory, written at every change).
    drop(server);
    let server = RunningServer::start(rules_arg, &[&listen]);
    std::thread::sleep(Duration::from_millis(500)); // the probes confirm both nodes
    assert_eq!(primary_serial(primary, knot_key), fourth, "unchanged zone, unchanged serial\n{}", server.log());
    let metrics = curl_metrics(server.admin);
    assert!(metrics.contains("linedns_zone_serial{zone=\"example.com\",line=\"telecom\"} "), "{metrics}");
    server.stop();
    drop(secondaries);
    drop(node_21);
    drop(node_22);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The three secondaries (NSD, Knot, BIND) of `ports`, transferring from `primary`.
fn start_all(dir: &Path, primary: SocketAddr, ports: &[(u16, &str, &str)]) -> Vec<Secondary> {
    ports
        .iter()
        .map(|(p, kind, key)| {
            let secret = KEYS.iter().find(|k| k.0 == *kind).unwrap().2;
            common::secondaries::start_secondary_on(kind, &dir.join(kind), primary, (key, secret), *p)
        })
        .collect()
}

/// Rules changed while linedns is stopped (the zone written with serial 1), without a
/// state directory and with one: once linedns is started again, every secondary serves
/// the new data within 5 s, by NOTIFY (their refresh timer is an hour). Without a state
/// directory the serial starts from the clock, never from the rules' 1 again.
#[test]
fn rules_changed_while_stopped_reach_every_secondary_with_or_without_a_state_directory() {
    common::tools::require(&["kdig", "nsd", "knotd", "named", "kill"]);
    for kept in [false, true] {
        let dir = common::server::test_dir(&format!("restart-{kept}"));
        let probe_port = free_port();
        let _nodes = [
            TcpListener::bind(("127.0.0.21", probe_port)).unwrap(),
            TcpListener::bind(("127.0.0.22", probe_port)).unwrap(),
        ];
        let port = free_port();
        let ports: Vec<(u16, &str, &str)> = KEYS.iter().map(|(kind, key, _)| (free_port(), *kind, *key)).collect();
        let rules = write_rules_kept(&dir, port, probe_port, "192.0.2.9", &ports, kept);
        let listen = format!("127.0.0.1:{port}");
        let server = RunningServer::start(rules.to_str().unwrap(), &[&listen]);
        let primary = server.addrs[0];
        let secondaries = start_all(&dir, primary, &ports);
        let knot_key = (KEYS[1].1, KEYS[1].2);
        let first = primary_serial(primary, knot_key);
        assert_ne!(first, 1, "the serial starts from the clock, not from the rules' 1");
        wait_for(&secondaries, "www.example.com", &["192.0.2.9"], first, Duration::from_secs(20));
        // Stopped, the pool changed, started again at once.
        server.stop();
        write_rules_kept(&dir, port, probe_port, "192.0.2.10", &ports, kept);
        let server = RunningServer::start(rules.to_str().unwrap(), &[&listen]);
        let started = Instant::now();
        let second = primary_serial(primary, knot_key);
        assert!(
            second != first && versions::serial_gt(second, first),
            "state_dir {kept}: a new serial after the restart: {first} -> {second}\n{}",
            server.log()
        );
        let left = Duration::from_secs(5).saturating_sub(started.elapsed());
        wait_for(&secondaries, "www.example.com", &["192.0.2.10"], second, left);
        server.stop();
        drop(secondaries);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The serial of example.com that `server` answers over UDP to a query from the telecom
/// line (an ECS subnet of it), or `None` without an answer within 200 ms.
fn udp_serial(server: SocketAddr) -> Option<u32> {
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut query = Message::query();
    query.metadata.id = 7;
    query.add_query(Query::query(Name::from_ascii("example.com.").unwrap(), RecordType::SOA));
    let mut edns = Edns::new();
    edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new("198.51.100.64".parse().unwrap(), 26, 0)));
    query.set_edns(edns);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    socket.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    socket.send_to(&query.to_vec().ok()?, server).ok()?;
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    let answer = Message::from_vec(&buf[..n]).ok()?;
    answer.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// Polls `server` every 5 ms (for at most `limit`) until it answers a serial other than
/// `old`: the serial and when it was first seen.
fn first_seen_other(server: SocketAddr, old: u32, limit: Duration) -> Option<(u32, Instant)> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(serial) = udp_serial(server).filter(|&s| s != old) {
            return Some((serial, Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Runs `change`, then measures, for each secondary, the time from linedns first serving
/// a new serial to the secondary first serving it (each polled every 5 ms over UDP).
fn measure(primary: SocketAddr, secondaries: &[Secondary], what: &str, change: impl FnOnce()) -> Vec<Duration> {
    let old = udp_serial(primary).expect("the primary answers");
    let watchers: Vec<_> = secondaries
        .iter()
        .map(|s| {
            let addr = s.addr;
            std::thread::spawn(move || first_seen_other(addr, old, Duration::from_secs(10)))
        })
        .collect();
    change();
    let (serial, served) = first_seen_other(primary, old, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{what}: linedns serves no new serial"));
    watchers
        .into_iter()
        .zip(secondaries)
        .map(|(watcher, s)| {
            let (seen, at) =
                watcher.join().unwrap().unwrap_or_else(|| panic!("{what}: {} has no new serial\n{}", s.addr, s.log()));
            assert_eq!(seen, serial, "{what}: {} serves linedns's new serial", s.addr);
            at.saturating_duration_since(served)
        })
        .collect()
}

/// `POST /overrides` forcing `node` to `state`.
fn force(admin: SocketAddr, node: &str, state: &str) {
    let body = format!(r#"{{"target": {{"node": "{node}"}}, "state": "{state}", "who": "test", "why": "flap"}}"#);
    let (code, reply) = common::admin::call(admin, "POST", "/overrides", None, Some(&body));
    assert_eq!(code, 200, "POST /overrides: {reply}");
}

/// How fast the secondaries follow: from linedns serving a new serial to each of NSD,
/// Knot and BIND serving it, for a reload, a node going down, an override, a restart with
/// new rules and the first change after it (the figures are printed; the median must be
/// under 50 ms: NOTIFY goes out when the serial is made, not at a poll). Then a flap
/// storm, 20 changes in 2 s, gives a few serials, not 20.
#[test]
fn secondaries_serve_a_new_serial_within_milliseconds_and_a_flap_storm_makes_few_serials() {
    common::tools::require(&["kdig", "nsd", "knotd", "named", "kill", "curl"]);
    let dir = common::server::test_dir("notify-latency");
    let probe_port = free_port();
    let _node_21 = TcpListener::bind(("127.0.0.21", probe_port)).unwrap();
    let mut node_22 = Some(TcpListener::bind(("127.0.0.22", probe_port)).unwrap());
    let port = free_port();
    let ports: Vec<(u16, &str, &str)> = KEYS.iter().map(|(kind, key, _)| (free_port(), *kind, *key)).collect();
    let rules = write_rules(&dir, port, probe_port, "192.0.2.1", &ports);
    let rules_arg = rules.to_str().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let server = RunningServer::start(rules_arg, &[&listen]);
    let primary = server.addrs[0];
    let secondaries = start_all(&dir, primary, &ports);
    let first = primary_serial(primary, (KEYS[1].1, KEYS[1].2));
    wait_for(&secondaries, "www.example.com", &["192.0.2.1"], first, Duration::from_secs(20));
    // Each change after the coalescing window (1 s) of the one before.
    let quiet = || std::thread::sleep(Duration::from_millis(1200));
    let mut all = Vec::new();
    let mut report = Vec::new();
    let mut record = |what: &str, times: Vec<Duration>| {
        report.push(format!("{what}: {times:?}"));
        all.extend(times);
    };
    quiet();
    let pid = server.pid();
    record(
        "reload",
        measure(primary, &secondaries, "reload", || {
            write_rules(&dir, port, probe_port, "192.0.2.2", &ports);
            tool("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
        }),
    );
    quiet();
    record("node down", measure(primary, &secondaries, "node down", || drop(node_22.take())));
    quiet();
    let admin = server.admin;
    record("override", measure(primary, &secondaries, "override", || force(admin, "127.0.0.21", "drained")));
    // The node back before the restart: its probe starts up and stays up.
    node_22 = Some(TcpListener::bind(("127.0.0.22", probe_port)).unwrap());
    let mut restarted = None;
    record(
        "restart with new rules",
        measure(primary, &secondaries, "restart", || {
            server.stop();
            write_rules(&dir, port, probe_port, "192.0.2.3", &ports);
            restarted = Some(RunningServer::start(rules_arg, &[&listen]));
        }),
    );
    let server = restarted.expect("started again");
    let pid = server.pid();
    record(
        "first change after the restart",
        measure(primary, &secondaries, "first change after the restart", || {
            write_rules(&dir, port, probe_port, "192.0.2.4", &ports);
            tool("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
        }),
    );
    all.sort();
    let median = all[all.len() / 2];
    eprintln!("NOTIFY latency, linedns serving -> each secondary serving (NSD, Knot, BIND):");
    for line in &report {
        eprintln!("  {line}");
    }
    eprintln!("  median {median:?} over {} samples", all.len());
    assert!(median < Duration::from_millis(50), "median {median:?}: {report:#?}\n{}", server.log());

    // A flap storm: 20 changes in 2 s (a node drained and back, every 100 ms).
    quiet();
    let before = server.log().matches("zone example.com line telecom: serial ").count();
    let admin = server.admin;
    for i in 0..20 {
        force(admin, "127.0.0.21", if i % 2 == 0 { "drained" } else { "up" });
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let serials = server.log().matches("zone example.com line telecom: serial ").count() - before;
    eprintln!("flap storm: 20 changes in 2 s gave {serials} serial(s)");
    assert!((1..=4).contains(&serials), "20 changes in 2 s gave {serials} serials\n{}", server.log());
    // The storm ended on "up": every secondary converges on linedns's last serial.
    let last = primary_serial(primary, (KEYS[1].1, KEYS[1].2));
    wait_for(&secondaries, "www.example.com", &["192.0.2.4"], last, Duration::from_secs(5));
    server.stop();
    drop(secondaries);
    drop(node_22);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `/metrics` of the admin API at `admin`.
fn curl_metrics(admin: SocketAddr) -> String {
    let out = tool("curl").args(["-s", &format!("http://{admin}/metrics")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A secondary with the wrong secret is refused: it logs the refusal, holds nothing of
/// the zone, and linedns counts the refusal.
#[test]
fn a_secondary_with_the_wrong_key_is_refused_and_says_so() {
    common::tools::require(&["kdig", "nsd", "curl"]);
    let dir = std::env::temp_dir().join(format!("linedns-replication-wrong-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let notify_port = free_port();
    let rules = write_rules(&dir, 0, free_port(), "192.0.2.1", &[(notify_port, "nsd", "nsd-key")]);
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let nsd = start_secondary("nsd", &dir.join("nsd"), server.addrs[0], ("nsd-key", wrong));
    let started = Instant::now();
    let mut log = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        log = nsd.log();
        if log.contains("BADSIG") || log.contains("NOTAUTH") || log.contains("bad tsig") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log.contains("BADSIG") || log.contains("NOTAUTH") || log.contains("bad tsig"),
        "NSD logs the refusal:\n{log}"
    );
    let answer = dig(nsd.addr, &["www.example.com", "A"]);
    assert!(answers(&answer).is_empty(), "NSD holds nothing of the zone:\n{answer}");
    let metrics = curl_metrics(server.admin);
    assert!(!metrics.contains("linedns_transfers_total{result=\"refused\"} 0"), "{metrics}");
    drop(nsd);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// RFC 9432: a Knot secondary configured with the catalog zone alone serves the zones it
/// lists, and picks up a zone the rules add, after a reload, by NOTIFY.
#[test]
fn a_knot_secondary_with_only_the_catalog_picks_up_a_new_zone() {
    common::tools::require(&["kdig", "knotd", "kill"]);
    let dir = std::env::temp_dir().join(format!("linedns-catalog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (_, key, secret) = KEYS[1];
    let knot_port = free_port();
    let zone = |origin: &str, address: &str| {
        format!(
            "  - origin: {origin}\n    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}\n    ns: [ns1]\n    records:\n      - {{ name: ns1, type: A, values: 192.0.2.53 }}\n    line_records:\n      - name: www\n        type: A\n        pools:\n          telecom: [{address}]\n          default: [192.0.2.100]\n"
        )
    };
    let write = |zones: &str| {
        let text = format!(
            "version: 1\nserver:\n  listen: [\"127.0.0.1:0\"]\n  watch: false\n  serial_coalesce_ms: 1000\nlines:\n  - name: telecom\n    sources: [{{ cidr: [198.51.100.0/25] }}]\nzones:\n{zones}catalog: {{ zone: catalog.linedns.test }}\ntransfers:\n  - {{ name: knot, key: {key}, line: telecom, notify: [\"127.0.0.1:{knot_port}\"] }}\nkeys:\n  {key}: {{ algorithm: hmac-sha256, secret: \"{secret}\" }}\n"
        );
        std::fs::write(dir.join("rules.yaml"), text).unwrap();
    };
    write(&zone("example.com", "192.0.2.1"));
    let rules = dir.join("rules.yaml");
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    // The catalog as linedns serves it: version 2, one PTR per zone.
    let catalog =
        dig(server.addrs[0], &["+tcp", "-y", &format!("hmac-sha256:{key}:{secret}"), "catalog.linedns.test", "AXFR"]);
    assert!(catalog.contains("version.catalog.linedns.test.") && catalog.contains("\"2\""), "{catalog}");
    assert!(catalog.contains(".zones.catalog.linedns.test.") && catalog.contains("PTR\texample.com."), "{catalog}");
    assert!(catalog.contains("NS\tinvalid."), "{catalog}");
    let knot = common::secondaries::start_knot_with_catalog_on(
        &dir.join("knot"),
        server.addrs[0],
        (key, secret),
        "catalog.linedns.test",
        knot_port,
    );
    let serves = |name: &str, want: &str, limit: Duration| {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < limit {
            last = dig(knot.addr, &[name, "A"]);
            if answers(&last) == [want] {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Knot does not serve {name} {want} within {limit:?}:\n{last}\n{}\n{}", knot.log(), server.log());
    };
    serves("www.example.com", "192.0.2.1", Duration::from_secs(15));
    // A zone added to the rules: after the reload Knot serves it, with no change to its
    // configuration.
    write(&format!("{}{}", zone("example.com", "192.0.2.1"), zone("example.net", "192.0.2.2")));
    tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    serves("www.example.net", "192.0.2.2", Duration::from_secs(10));
    drop(knot);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in for a hijacked server: answers every query (UDP and TCP) on `port` as the
/// primary does, but with `A` data replaced by 203.0.113.66. Runs until the flag is set.
fn start_hijacker(primary: SocketAddr) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use hickory_proto::op::Message;
    use hickory_proto::rr::RData;
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let alter = move |query: &[u8]| -> Option<Vec<u8>> {
        let upstream = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        upstream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        upstream.send_to(query, primary).ok()?;
        let mut buf = [0u8; 4096];
        let n = upstream.recv(&mut buf).ok()?;
        let mut m = Message::from_vec(&buf[..n]).ok()?;
        for r in &mut m.answers {
            if let RData::A(_) = r.data {
                r.data = RData::A(hickory_proto::rr::rdata::A([203, 0, 113, 66].into()));
            }
        }
        m.to_vec().ok()
    };
    udp.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !flag.load(Ordering::Relaxed) {
            if let Ok((n, from)) = udp.recv_from(&mut buf)
                && let Some(reply) = alter(&buf[..n])
            {
                let _ = udp.send_to(&reply, from);
            }
            if let Ok((mut stream, _)) = tcp.accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).is_ok() {
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if stream.read_exact(&mut query).is_ok()
                        && let Some(reply) = alter(&query)
                    {
                        let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                        let _ = stream.write_all(&reply);
                    }
                }
            }
        }
    });
    (addr, stop)
}

/// Runs `linedns check -c RULES --json`: the exit code and the report.
fn linedns_check(rules: &Path) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .args(["check", "-c", rules.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The findings of `report` that are problems, as `server check` strings with details.
fn problems(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| {
            (
                f["server"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `linedns check` on linedns and NSD, Knot and BIND secondaries: all green; then BIND
/// stopped, Knot left with a stale zone (it gets no NOTIFY, and its refresh is an hour
/// away) and a hijacked server altering `www`: each is reported, and the exit status is
/// non-zero. `serve` runs the same check periodically and exports it in `/metrics`.
#[test]
fn check_reports_green_then_a_stopped_a_stale_and_a_hijacked_server() {
    common::tools::require(&["kdig", "nsd", "knotd", "named", "kill", "curl"]);
    let dir = std::env::temp_dir().join(format!("linedns-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let ports: Vec<u16> = KEYS.iter().map(|_| free_port()).collect();
    let write = |www_telecom: &str, extra_server: &str| {
        let base = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
        let mut text = base
            .replace(
                "listen: [\"127.0.0.1:0\"]",
                &format!("listen: [\"127.0.0.1:{port}\"]\n  watch: false\n  serial_coalesce_ms: 1000"),
            )
            .replace("telecom: [192.0.2.1, 192.0.2.2]", &format!("telecom: [{www_telecom}]"));
        text.push_str("transfers:\n");
        let mut keys = String::from("keys:\n");
        let mut servers = format!("    - {{ name: ns1.example.com, address: \"127.0.0.1:{port}\", role: geo }}\n");
        for ((kind, key, secret), p) in KEYS.iter().zip(&ports) {
            // Knot gets no NOTIFY: it goes stale after a change.
            let notify = if *kind == "knotd" { String::new() } else { format!(", notify: [\"127.0.0.1:{p}\"]") };
            text.push_str(&format!("  - {{ name: {kind}, key: {key}, line: telecom{notify} }}\n"));
            keys.push_str(&format!("  {key}: {{ algorithm: hmac-sha256, secret: \"{secret}\" }}\n"));
            servers.push_str(&format!("    - {{ name: {kind}, address: \"127.0.0.1:{p}\", line: telecom }}\n"));
        }
        servers.push_str(extra_server);
        text.push_str(&keys);
        text.push_str(&format!("check:\n  timeout_ms: 1000\n  interval_ms: 1000\n  servers:\n{servers}"));
        std::fs::write(dir.join("rules.yaml"), text).unwrap();
    };
    write("192.0.2.1, 192.0.2.2", "");
    let rules = dir.join("rules.yaml");
    let server = RunningServer::start(rules.to_str().unwrap(), &[&format!("127.0.0.1:{port}")]);
    let primary = server.addrs[0];
    let mut secondaries: Vec<Option<Secondary>> = KEYS
        .iter()
        .zip(&ports)
        .map(|((kind, key, secret), p)| {
            Some(common::secondaries::start_secondary_on(kind, &dir.join(kind), primary, (key, secret), *p))
        })
        .collect();
    let serial = primary_serial(primary, (KEYS[0].1, KEYS[0].2));
    {
        let live: Vec<&Secondary> = secondaries.iter().flatten().collect();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20)
            && !live.iter().all(|s| serial_of(&dig(s.addr, &["example.com", "SOA"])) == Some(serial))
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // All green.
    let (code, report) = linedns_check(&rules);
    assert_eq!(problems(&report), Vec::<(String, String, String)>::new(), "{report:#}");
    assert_eq!(code, 0);
    let checks: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    assert!(checks.iter().filter(|c| **c == "answers").count() >= 4, "{checks:?}");
    // The table for a person, too.
    let table = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .args(["check", "-c", rules.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("SERVER") && table.contains("all ") && table.contains("checks ok"), "{table}");

    // A change that Knot does not hear of, BIND stopped, and a hijacker listed.
    let (hijacker, stop_hijacker) = start_hijacker(primary);
    write("192.0.2.9", &format!("    - {{ name: hijacked, address: \"{hijacker}\", line: default }}\n"));
    tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    let fresh = new_primary_serial(primary, (KEYS[0].1, KEYS[0].2), serial);
    assert!(fresh > serial, "the reload makes a new serial");
    let nsd_addr = secondaries[0].as_ref().unwrap().addr;
    let started = Instant::now();
    while serial_of(&dig(nsd_addr, &["example.com", "SOA"])) != Some(fresh)
        && started.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(secondaries[2].take()); // BIND stops
    let (code, report) = linedns_check(&rules);
    assert_eq!(code, 1, "{report:#}");
    let found = problems(&report);
    let has = |server: &str, check: &str, text: &str| {
        found.iter().any(|(s, c, d)| s == server && c == check && d.contains(text))
    };
    assert!(has("named", "soa", "no answer within") || has("named", "soa", "refused"), "BIND is down: {found:#?}");
    assert!(
        has(
            "knotd",
            "serial",
            &format!("line telecom: {serial}, {} behind the primary's {fresh}", fresh.wrapping_sub(serial))
        ),
        "Knot is stale: {found:#?}"
    );
    assert!(
        has("knotd", "answers", "www.example.com A (line telecom): [192.0.2.1, 192.0.2.2], the primary [192.0.2.9]"),
        "{found:#?}"
    );
    assert!(has("hijacked", "hijack", "203.0.113.66 in no pool of the rules"), "{found:#?}");
    assert!(
        !found.iter().any(|(s, _, _)| s == "nsd" || s == "ns1.example.com" || s == "primary"),
        "only those three: {found:#?}"
    );
    // serve runs the same check each second: its metrics say so.
    let started = Instant::now();
    let mut metrics = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        metrics = curl_metrics(server.admin);
        if metrics.contains("linedns_check_ok{server=\"hijacked\"") && !metrics.contains("linedns_check_problems 0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(metrics.contains("linedns_check_ok{server=\"knotd\",address=\"127.0.0.1:"), "{metrics}");
    assert!(metrics.contains(",zone=\"example.com\",check=\"hijack\"} 0"), "{metrics}");
    assert!(!metrics.contains("linedns_check_problems 0"), "{metrics}");
    stop_hijacker.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(secondaries);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
