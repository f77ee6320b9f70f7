//! Per-line CNAMEs as resolvers and secondaries see them: each line's clients, clustered
//! in adjacent /24s of different lines, asked through Unbound (subnetcache, validating)
//! get their line's target and the target's addresses, signed and validated; a tampered
//! target address is SERVFAIL; a line whose CNAME target's service fails moves to the
//! next target of its chain while the others keep theirs; each line's view transferred
//! to BIND, Knot and NSD holds that line's CNAME, and its export passes the zone checks.

use crate::common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::resolver::{Tamper, start_unbound};
use common::secondaries::start_secondary;
use common::server::{RunningServer, dig};
use common::tools::require;

const ZONE: &str = "example.com";

/// The lines, each of adjacent /24s (clients of different lines side by side), and what
/// each line's `www A` is: its CNAME target and the target's addresses.
const EXPECTED: [(&str, &[&str], &str, &[&str]); 4] = [
    ("telecom", &["198.51.100", "198.51.102"], "t.edge.example.com.", &["192.0.2.10", "192.0.2.11"]),
    ("unicom", &["198.51.101", "198.51.103"], "u.edge.example.com.", &["192.0.2.20"]),
    ("mobile", &["198.51.104"], "m.edge.example.com.", &["192.0.2.30"]),
    ("default", &["198.51.105", "192.0.2"], "d.edge.example.com.", &["192.0.2.40"]),
];

/// The rules: `www` a CNAME per line, each target's service probed at `probes` (telecom,
/// unicom, mobile, default); `t.edge` itself per line (chased for the same client);
/// `head` is what comes first (`server:` settings), `tail` what comes last (keys,
/// transfers).
fn rules_text(probes: [SocketAddr; 4], head: &str, dnssec: &str, tail: &str) -> String {
    let [t, u, m, d] = probes;
    format!(
        r#"version: 1
{head}health_checks:
  edge: {{ kind: tcp, interval_ms: 100, timeout_ms: 300, fall: 1, rise: 1 }}
lines:
  - name: telecom
    sources: [{{ cidr: [198.51.100.0/24, 198.51.102.0/24] }}]
  - name: unicom
    sources: [{{ cidr: [198.51.101.0/24, 198.51.103.0/24] }}]
  - name: mobile
    sources: [{{ cidr: [198.51.104.0/24] }}]
zones:
  - origin: {ZONE}
    ttl: 300
    soa: {{ mname: ns1, rname: hostmaster, serial: 2026120501, minimum: 60 }}
    ns: [ns1]
{dnssec}    records:
      - {{ name: ns1, type: A, values: 192.0.2.53 }}
      - {{ name: u.edge, type: A, values: 192.0.2.20 }}
      - {{ name: m.edge, type: A, values: 192.0.2.30 }}
      - {{ name: d.edge, type: A, values: 192.0.2.40 }}
    line_records:
      - name: www
        type: CNAME
        ttl: 60
        health_check: edge
        pools:
          telecom: [{{ data: t.edge, probe: "{t}" }}]
          unicom: [{{ data: u.edge, probe: "{u}" }}]
          mobile: [{{ data: m.edge, probe: "{m}" }}]
          default: [{{ data: d.edge, probe: "{d}" }}]
      - name: t.edge
        type: A
        ttl: 60
        pools:
          telecom: [192.0.2.10, 192.0.2.11]
          default: [192.0.2.19]
{tail}"#
    )
}

/// Four listening backends (the services behind the CNAME targets).
fn backends() -> Vec<TcpListener> {
    (0..4).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect()
}

fn probes(backends: &[TcpListener]) -> [SocketAddr; 4] {
    std::array::from_fn(|i| backends[i].local_addr().unwrap())
}

/// `(TYPE, DATA)` of each answer record of kdig's output, RRSIGs left out, sorted; the
/// status; and whether the AD bit is set.
fn records(out: &str) -> (String, Vec<(String, String)>, bool) {
    let status = out.split("status: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("none").to_string();
    let ad = out
        .split(";; Flags: ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .is_some_and(|f| f.split(' ').any(|f| f == "ad"));
    let mut data: Vec<(String, String)> = common::server::answer_lines(out)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.len() >= 5 && fields[3] != "RRSIG").then(|| (fields[3].to_string(), fields[4..].join(" ")))
        })
        .collect();
    data.sort();
    (status, data, ad)
}

/// What a client of `line` must get for `www A`.
fn wanted(line: &str) -> Vec<(String, String)> {
    let (_, _, target, addresses) = EXPECTED.iter().find(|e| e.0 == line).unwrap();
    let mut want = vec![("CNAME".to_string(), target.to_string())];
    want.extend(addresses.iter().map(|a| ("A".to_string(), a.to_string())));
    want.sort();
    want
}

fn linedns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linedns")).args(args).output().expect("run linedns")
}

/// Asks `www A` through `resolver` for clients at hosts 7, 77 and 177 of every /24 of
/// every line, three rounds interleaved (so that the resolver's cache answers most):
/// the number of answers that are not the client's line's, each printed.
fn wrong_line_answers(resolver: SocketAddr) -> usize {
    let mut wrong = 0;
    let mut asked = 0;
    for _round in 0..3 {
        for host in [7, 77, 177] {
            for (line, subnets, _, _) in EXPECTED {
                for subnet in subnets {
                    let client = format!("+subnet={subnet}.{host}/32");
                    let out = dig(resolver, &["www.example.com", "A", &client, "+dnssec"]);
                    let (status, got, ad) = records(&out);
                    asked += 1;
                    if status != "NOERROR" || !ad || got != wanted(line) {
                        wrong += 1;
                        eprintln!("client {subnet}.{host} (line {line}): {status}, AD {ad}, {got:?}\n{out}");
                    }
                }
            }
        }
    }
    assert_eq!(asked, 63);
    wrong
}

#[test]
fn each_lines_cname_through_a_validating_ecs_resolver_and_its_failover() {
    require(&["kdig", "unbound", "kill"]);
    let dir = common::server::test_dir("line-cname");
    let mut backends = backends();
    let text = rules_text(probes(&backends), "server:\n  state_dir: state\n", "    dnssec: {}\n", "");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, text).unwrap();
    let rules_arg = rules.to_str().unwrap();
    let made = linedns(&["keygen", "-c", rules_arg, ZONE]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let anchors: Vec<String> = String::from_utf8_lossy(&made.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches("DS").trim().to_string())
        .filter(|l| l.starts_with(&format!("{ZONE}. IN DS ")))
        .collect();
    assert_eq!(anchors.len(), 1);
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    let ours = server.addrs[0];

    // Straight from linedns: the CNAME and the chased target, each with its own RRSIG,
    // and the ECS scope of the line's /24.
    let direct = dig(ours, &["www.example.com", "A", "+subnet=198.51.100.7/24", "+norec", "+dnssec"]);
    assert!(direct.contains("RRSIG\tCNAME 13 3 60") && direct.contains("RRSIG\tA 13 4 60"), "{direct}");
    assert!(direct.contains("CLIENT-SUBNET: 198.51.100.0/24/24"), "{direct}");
    assert_eq!(records(&direct).1, wanted("telecom"));

    // 1 and 3: through Unbound (subnetcache, validating), every client its line's answer,
    // with the AD bit.
    let unbound = start_unbound(&dir.join("unbound"), ZONE, ours, &anchors, "");
    assert_eq!(wrong_line_answers(unbound.addr), 0, "wrong-line or unvalidated answers");
    drop(unbound);

    // 3: an address of the chased target altered on its way: SERVFAIL, never the forgery.
    let tamper = Tamper::start(ours, vec![192, 0, 2, 10], vec![192, 0, 2, 12]);
    let unbound = start_unbound(&dir.join("unbound-tampered"), ZONE, tamper.addr, &anchors, "");
    let out = dig(unbound.addr, &["www.example.com", "A", "+subnet=198.51.100.7/32", "+dnssec"]);
    let (status, got, _) = records(&out);
    assert_eq!(status, "SERVFAIL", "a tampered target address must fail validation:\n{out}");
    assert!(!got.iter().any(|(_, d)| d == "192.0.2.12"), "{out}");
    drop(unbound);
    drop(tamper);

    // 2: the service behind telecom's target fails: telecom moves to the next target of
    // its chain (default's), the other lines keep theirs.
    drop(backends.remove(0));
    let started = Instant::now();
    let telecom = loop {
        let out = dig(ours, &["www.example.com", "A", "+subnet=198.51.102.9/24", "+norec"]);
        if records(&out).1 == wanted("default") || started.elapsed() > Duration::from_secs(5) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(records(&telecom).1, wanted("default"), "telecom on its fallback:\n{telecom}\n{}", server.log());
    let moved = started.elapsed();
    for (line, subnets, _, _) in &EXPECTED[1..] {
        let out = dig(ours, &["www.example.com", "A", &format!("+subnet={}.9/24", subnets[0]), "+norec"]);
        assert_eq!(records(&out).1, wanted(line), "line {line} keeps its target:\n{out}");
    }
    // And through a fresh resolver, validated.
    let unbound = start_unbound(&dir.join("unbound-after"), ZONE, ours, &anchors, "");
    let out = dig(unbound.addr, &["www.example.com", "A", "+subnet=198.51.100.7/32", "+dnssec"]);
    let (status, got, ad) = records(&out);
    assert_eq!((status.as_str(), ad, got), ("NOERROR", true, wanted("default")), "{out}");
    drop(unbound);
    eprintln!("telecom moved to its fallback target {} ms after its service stopped", moved.as_millis());
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The secret of the test keys (base64 of 32 bytes).
const SECRET: &str = "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8=";

#[test]
fn each_views_transfer_and_export_hold_its_lines_cname() {
    require(&["kdig", "named", "knotd", "nsd", "named-checkzone", "kzonecheck", "kill"]);
    let dir = common::server::test_dir("line-cname-xfr");
    let backends = backends();
    // One key per view: BIND gets telecom's, Knot unicom's, NSD mobile's.
    let views = [("named", "telecom"), ("knotd", "unicom"), ("nsd", "mobile")];
    let keys: String = views
        .iter()
        .map(|(_, line)| format!("  k-{line}: {{ algorithm: hmac-sha256, secret: \"{SECRET}\" }}\n"))
        .collect();
    let transfers: String =
        views.iter().map(|(kind, line)| format!("  - {{ name: {kind}, key: k-{line}, line: {line} }}\n")).collect();
    let text = rules_text(
        probes(&backends),
        "server:\n  state_dir: state\n",
        "",
        &format!("keys:\n{keys}transfers:\n{transfers}"),
    );
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, text).unwrap();
    let rules_arg = rules.to_str().unwrap();
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    let mut secondaries = Vec::new();
    for (kind, line) in views {
        let sub = dir.join(kind);
        let secondary = start_secondary(kind, &sub, server.addrs[0], (&format!("k-{line}"), SECRET));
        let target = EXPECTED.iter().find(|e| e.0 == line).unwrap().2;
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < Duration::from_secs(20) {
            last = dig(secondary.addr, &["www.example.com", "CNAME"]);
            if last.contains(target) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, got, _) = records(&last);
        assert_eq!(
            (status.as_str(), got),
            ("NOERROR", vec![("CNAME".to_string(), target.to_string())]),
            "{kind} serves line {line}'s CNAME:\n{last}\n{}",
            secondary.log()
        );
        // The secondary chases it in its copy of the view as linedns does.
        let out = dig(secondary.addr, &["www.example.com", "A"]);
        assert_eq!(records(&out).1, wanted(line), "{kind}, line {line}:\n{out}");
        secondaries.push((line, secondary));
    }
    // `linedns check` finds each secondary answering its line's CNAME as linedns does.
    // The zone's NS, ns1, is linedns itself (answering every line).
    let ns1 = format!("    - {{ name: ns1.example.com, address: \"{}\", role: geo }}\n", server.addrs[0]);
    let servers: String = secondaries
        .iter()
        .map(|(line, s)| format!("    - {{ name: {line}.ns, address: \"{}\", line: {line} }}\n", s.addr))
        .chain([ns1])
        .collect();
    let checked = dir.join("check.yaml");
    let with_check =
        format!("{}check:\n  timeout_ms: 1000\n  servers:\n{servers}", std::fs::read_to_string(&rules).unwrap());
    std::fs::write(&checked, with_check).unwrap();
    let out = linedns(&["check", "-c", checked.to_str().unwrap(), "--json", "--primary", &server.addrs[0].to_string()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["problems"], 0, "{report:#}");
    // Each secondary was asked its view's two line records (www CNAME, t.edge A).
    for (line, _) in &secondaries {
        let answers = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["server"] == format!("{line}.ns").as_str() && f["check"] == "answers");
        let detail = answers.and_then(|f| f["detail"].as_str()).unwrap_or_default();
        assert_eq!(detail, "2 answer(s) as the primary gives them", "{report:#}");
    }
    assert!(out.status.success(), "{report:#}");
    drop(secondaries);
    server.stop();
    // Each line's export holds its CNAME and passes BIND's and Knot's zone checks.
    for (line, _, target, _) in EXPECTED {
        let out = linedns(&["export", "-c", rules_arg, "--zone", ZONE, "--line", line]);
        assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
        let zone = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(zone.contains(&format!("www.example.com. 60 IN CNAME {target}")), "{line}:\n{zone}");
        let file = dir.join(format!("{line}.zone"));
        std::fs::write(&file, &zone).unwrap();
        check_zone(&file, line);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `named-checkzone` and `kzonecheck` accept the zone file.
fn check_zone(file: &Path, line: &str) {
    let bind = common::tools::tool("named-checkzone").args(["-i", "full", ZONE]).arg(file).output().unwrap();
    assert!(bind.status.success(), "named-checkzone {line}: {}", String::from_utf8_lossy(&bind.stdout));
    let knot = common::tools::tool("kzonecheck").args(["-o", ZONE]).arg(file).output().unwrap();
    assert!(knot.status.success(), "kzonecheck {line}: {}", String::from_utf8_lossy(&knot.stdout));
}
