//! Primary/backup with real secondaries: NSD, Knot DNS and BIND 9 from Debian transfer
//! the view with TSIG and follow every change within seconds, driven by linedns's NOTIFY
//! (their refresh timer is an hour): a rules reload, a node going down, and a restart of
//! linedns with new rules in between; Knot's IXFR is incremental; the serial never goes
//! backwards and survives a restart unchanged when the zone is.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::secondaries::{Secondary, free_port, start_secondary};
use common::server::{RunningServer, answers, dig};
use common::tools::tool;

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
    let base = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
    let base = base
        .replace(
            "listen: [\"127.0.0.1:0\"]",
            &format!("listen: [\"127.0.0.1:{port}\"]\n  watch: false\n  state_dir: state\n  serial_coalesce_ms: 1000"),
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

/// The serial in kdig's answer to an SOA query (`None` if none).
fn serial_of(output: &str) -> Option<u32> {
    let soa = output.lines().find(|l| l.contains("\tSOA\t") && !l.starts_with(';'))?;
    soa.split_whitespace().nth(6)?.parse().ok()
}

/// The serial `server` answers for example.com to a query signed with `key`: the serial
/// of that key's view.
fn primary_serial(server: SocketAddr, key: (&str, &str)) -> u32 {
    let out = common::server::kdig(&[
        format!("@{}", server.ip()),
        "-p".into(),
        server.port().to_string(),
        "-y".into(),
        format!("hmac-sha256:{}:{}", key.0, key.1),
        "example.com".into(),
        "SOA".into(),
    ]);
    serial_of(&out).unwrap_or_else(|| panic!("no SOA from the primary:\n{out}"))
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
    let secondaries: Vec<Secondary> = ports
        .iter()
        .map(|(p, kind, key)| {
            let secret = KEYS.iter().find(|k| k.0 == *kind).unwrap().2;
            common::secondaries::start_secondary_on(kind, &dir.join(kind), primary, (key, secret), *p)
        })
        .collect();

    // Each secondary transfers the telecom view at start.
    let first = primary_serial(primary, knot_key);
    wait_for(&secondaries, "www.example.com", &["192.0.2.1", "192.0.2.2"], first, Duration::from_secs(20));
    wait_for(&secondaries, "api.example.com", &["127.0.0.21", "127.0.0.22"], first, Duration::from_secs(5));

    // 1. A rules reload (SIGHUP): a new serial, and every secondary has it within 5 s.
    write_rules(&dir, port, probe_port, "192.0.2.3", &ports);
    tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    let started = Instant::now();
    let mut second = first;
    while second == first && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        second = primary_serial(primary, knot_key);
    }
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
    let out = common::server::kdig(&[
        format!("@{}", primary.ip()),
        "-p".into(),
        primary.port().to_string(),
        "-y".into(),
        format!("hmac-sha256:{}:{}", knot_key.0, knot_key.1),
        "example.com".into(),
        "IXFR=12345".into(),
    ]);
    assert!(out.contains("www.example.com.") && out.contains("static.example.com."), "the whole zone:\n{out}");
    let log = server.log();
    let full = format!("TSIG key knot-key): full zone, serial {second}");
    assert!(log.lines().any(|l| l.contains("IXFR example.com to 127.0.0.1") && l.contains(&full)), "{log}");

    // 3. A node goes down (its port closes): the probe marks it down, and every secondary
    // serves the view without it within 5 s.
    drop(node_22.take());
    let started = Instant::now();
    let mut third = second;
    while third == second && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        third = primary_serial(primary, knot_key);
    }
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

    // A restart with nothing changed keeps the serial (it is read from the state dir).
    server.stop();
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
