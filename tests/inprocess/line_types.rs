//! Line records of other types than A/AAAA: a CNAME per line chased inside our zones
//! (RFC 1034 §4.3.2) for the same client, per-line MX, TXT, SRV, CAA, HTTPS and NS below
//! the apex (a delegation per line), and the compile errors that guard them.

use crate::common;

use std::net::IpAddr;
use std::path::Path;

use linedns::{AllUp, Answer, ClientInfo, Owner, Query, Rcode, RecordType, Snapshot};

/// telecom and unicom lines; `www` is a CNAME per line, into this zone (`edge-t`, itself
/// per line), onto a static name (`edge-u`) or out of our zones (`cdn.example.net.`).
const RULES: &str = r#"
version: 1
lines:
  - name: telecom
    sources: [{ cidr: [10.1.0.0/16] }]
  - name: unicom
    sources: [{ cidr: [10.2.0.0/16] }]
zones:
  - origin: example.com.
    ttl: 300
    soa: { mname: ns1, rname: hostmaster, serial: 7, minimum: 45 }
    ns: [ns1]
    records:
      - { name: ns1, type: A, values: 192.0.2.53 }
      - { name: edge-u, type: A, values: 192.0.2.20 }
      - { name: ns.sub, type: A, values: 192.0.2.77 }
    line_records:
      - name: www
        type: CNAME
        ttl: 120
        pools:
          telecom: [edge-t]
          unicom: [edge-u.example.com.]
          default: [cdn.example.net.]
      - name: edge-t
        type: A
        ttl: 60
        pools:
          telecom: [192.0.2.10, 192.0.2.11]
          default: [192.0.2.99]
      - name: "@"
        type: MX
        pools:
          telecom: ["10 mx-t"]
          default: ["10 mx.example.net.", "20 mx2.example.net."]
      - name: verify
        type: TXT
        pools:
          unicom: ['"token-unicom"']
          default: ["token-default"]
      - name: _sip._udp
        type: SRV
        pools:
          telecom: ["10 5 5060 sip-t"]
          default: ["10 5 5060 sip"]
      - name: "@"
        type: CAA
        pools:
          default: ['0 issue "ca.example.net"']
      - name: svc
        type: HTTPS
        pools:
          telecom: ['1 . alpn="h2" ipv4hint=192.0.2.10']
          default: ["1 ."]
      - name: sub
        type: NS
        pools:
          telecom: [ns.sub]
          default: [ns.other.example.net.]
"#;

fn snapshot() -> Snapshot {
    common::compile_text(RULES, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn ask<'s>(snap: &'s Snapshot, name: &str, qtype: RecordType, client: &str) -> Answer<'s> {
    let addr: IpAddr = client.parse().unwrap();
    snap.resolve(&Query::new(name, qtype), &ClientInfo::from_ecs(addr, 24), &AllUp)
}

/// `OWNER TYPE DATA` of each record of a section, the owner `.` for the question's.
fn shown(records: &[linedns::RecordRef<'_>]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let owner = match r.owner {
                Owner::Query => ".".to_string(),
                Owner::Name(n) => n.to_string(),
            };
            format!("{owner} {} {}", r.data.rtype(), r.data)
        })
        .collect()
}

#[test]
fn a_line_cname_is_chased_for_the_same_client() {
    let snap = snapshot();
    // telecom: the CNAME to edge-t, whose own line record gives telecom's addresses.
    let a = ask(&snap, "www.example.com", RecordType::A, "10.1.2.3");
    assert_eq!((a.rcode, a.authoritative), (Rcode::NoError, true));
    let mut got = shown(&a.answers);
    got[1..].sort();
    assert_eq!(
        got,
        [". CNAME edge-t.example.com.", "edge-t.example.com A 192.0.2.10", "edge-t.example.com A 192.0.2.11"]
    );
    assert_eq!(a.answers[0].ttl, 120);
    assert!(a.answers[1..].iter().all(|r| r.ttl == 60));
    // The scope of the whole answer is the classification's: a /16 line.
    assert_eq!(a.scope, 16);
    // unicom: to a static name; default: out of our zones, left to the resolver.
    let a = ask(&snap, "www.example.com", RecordType::A, "10.2.0.1");
    assert_eq!(shown(&a.answers), [". CNAME edge-u.example.com.", "edge-u.example.com A 192.0.2.20"]);
    assert_eq!(a.scope, 16);
    let a = ask(&snap, "www.example.com", RecordType::AAAA, "192.0.2.1");
    assert_eq!(shown(&a.answers), [". CNAME cdn.example.net."]);
    assert_eq!(a.rcode, Rcode::NoError);
    // Asked for the CNAME itself: the line's CNAME, not chased (RFC 1034 §4.3.2).
    let a = ask(&snap, "www.example.com", RecordType::CNAME, "10.1.0.9");
    assert_eq!(shown(&a.answers), [". CNAME edge-t.example.com."]);
    // A chased target with no data of the type: NODATA for it, the CNAME kept.
    let a = ask(&snap, "www.example.com", RecordType::AAAA, "10.2.0.1");
    assert_eq!(shown(&a.answers), [". CNAME edge-u.example.com."]);
    assert!(a.authority.iter().any(|r| r.data.rtype() == RecordType::SOA));
}

#[test]
fn other_types_answer_per_line() {
    let snap = snapshot();
    let one = |name: &str, qtype, client: &str| {
        let mut got = shown(&ask(&snap, name, qtype, client).answers);
        got.sort();
        got
    };
    assert_eq!(one("example.com", RecordType::MX, "10.1.0.1"), [". MX 10 mx-t.example.com."]);
    assert_eq!(one("example.com", RecordType::MX, "10.2.0.1"), [". MX 10 mx.example.net.", ". MX 20 mx2.example.net."]);
    assert_eq!(one("verify.example.com", RecordType::TXT, "10.2.0.1"), [". TXT \"token-unicom\""]);
    assert_eq!(one("verify.example.com", RecordType::TXT, "10.1.0.1"), [". TXT \"token-default\""]);
    assert_eq!(one("_sip._udp.example.com", RecordType::SRV, "10.1.0.1"), [". SRV 10 5 5060 sip-t.example.com."]);
    assert_eq!(one("example.com", RecordType::CAA, "10.1.0.1"), [". CAA 0 issue \"ca.example.net\""]);
    let https = ask(&snap, "svc.example.com", RecordType::HTTPS, "10.1.0.1");
    let default = ask(&snap, "svc.example.com", RecordType::HTTPS, "10.2.0.1");
    assert_eq!(shown(&https.answers), [". HTTPS 1 . alpn=h2 ipv4hint=192.0.2.10"], "telecom's hints");
    assert_eq!(shown(&default.answers), [". HTTPS 1 ."]);
}

#[test]
fn ns_per_line_below_the_apex_is_a_delegation_per_line() {
    let snap = snapshot();
    let telecom = ask(&snap, "host.sub.example.com", RecordType::A, "10.1.0.1");
    assert_eq!((telecom.rcode, telecom.authoritative), (Rcode::NoError, false), "a referral");
    assert!(telecom.answers.is_empty());
    assert_eq!(shown(&telecom.authority), ["sub.example.com NS ns.sub.example.com."]);
    assert_eq!(shown(&telecom.additional), ["ns.sub.example.com A 192.0.2.77"], "in-domain glue (RFC 9471)");
    let other = ask(&snap, "host.sub.example.com", RecordType::A, "192.0.2.1");
    assert_eq!(shown(&other.authority), ["sub.example.com NS ns.other.example.net."]);
    assert!(other.additional.is_empty());
}

/// Compiles `line_records` (YAML under a zone) and returns the error text.
fn error_of(line_records: &str, records: &str) -> String {
    let text = format!(
        "version: 1\nzones:\n  - origin: example.com.\n    soa: {{ mname: ns1, rname: h, serial: 1 }}\n    ns: [ns1.example.net.]\n    records:\n{records}    line_records:\n{line_records}"
    );
    match common::compile_text(&text, Path::new(".")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_cname_beside_other_data_names_both_places() {
    let err = error_of(
        "      - { name: www, type: CNAME, pools: { default: [a.example.net.] } }\n",
        "      - { name: www, type: A, values: 192.0.2.1 }\n",
    );
    assert!(err.contains("www.example.com has a CNAME (") && err.contains("RFC 1034 §3.6.2"), "{err}");
    assert!(err.contains("tests/inline.yaml:9:") && err.contains("tests/inline.yaml:7:"), "both places: {err}");
}

#[test]
fn cname_loops_and_long_chains_are_rejected() {
    // a (per line) -> b -> a, on the unicom-less default line only: every target counts.
    let err = error_of(
        "      - { name: a, type: CNAME, pools: { default: [c.example.net., b] } }\n",
        "      - { name: b, type: CNAME, values: a }\n",
    );
    assert!(
        err.contains("CNAME loop: ") && err.contains("a.example.com. -> b.example.com. -> a.example.com."),
        "{err}"
    );
    assert!(err.contains("tests/inline.yaml:"), "{err}");
    // A line CNAME c0 and `static_links` static ones after it: 7 CNAMEs are followed in
    // one answer, 8 are not.
    let chain = |static_links: usize| -> String {
        (1..=static_links).map(|i| format!("      - {{ name: c{i}, type: CNAME, values: c{} }}\n", i + 1)).collect()
    };
    let head = "      - { name: c0, type: CNAME, pools: { default: [c1] } }\n";
    let seven = format!(
        "version: 1\nzones:\n  - origin: example.com.\n    soa: {{ mname: ns1, rname: h, serial: 1 }}\n    ns: [ns1.example.net.]\n    records:\n{}    line_records:\n{head}",
        chain(6)
    );
    let snap = common::compile_text(&seven, Path::new(".")).unwrap_or_else(|e| panic!("7 CNAMEs: {e}"));
    let client = ClientInfo::from_source([192, 0, 2, 1].into());
    let a = snap.resolve(&Query::new("c0.example.com", RecordType::A), &client, &AllUp);
    assert_eq!(a.answers.len(), 7, "the whole chain of 7 is in the answer");
    let err = error_of(head, &chain(7));
    assert!(err.contains("CNAME chain of 8 or more records"), "{err}");
    // A loop reached from a name before it is named as the loop, not that name.
    let err = error_of(
        "      - { name: d, type: CNAME, pools: { default: [a] } }\n",
        "      - { name: a, type: CNAME, values: b }\n      - { name: b, type: CNAME, values: a }\n",
    );
    assert!(err.contains("CNAME loop: a.example.com. -> b.example.com. -> a.example.com."), "{err}");
    assert!(!err.contains("-> d.example.com."), "{err}");
}

#[test]
fn types_a_line_record_does_not_take_are_named() {
    let err = error_of("      - { name: r, type: PTR, pools: { default: [x.example.net.] } }\n", "");
    assert!(err.contains("tests/inline.yaml:8:") && err.contains("unsupported record type \"PTR\""), "{err}");
    assert!(err.contains("CNAME") && err.contains("HTTPS"), "the types it takes: {err}");
    let err = error_of("      - { name: \"@\", type: NS, pools: { default: [ns.example.net.] } }\n", "");
    assert!(err.contains("NS per line only below the apex"), "{err}");
    let err = error_of("      - { name: \"*.w\", type: NS, pools: { default: [ns.example.net.] } }\n", "");
    assert!(err.contains("NS at a wildcard"), "{err}");
    let err = error_of(
        "      - { name: sub, type: NS, when_all_down: servfail, pools: { default: [ns.example.net.] } }\n",
        "",
    );
    assert!(err.contains("a delegation cannot be withdrawn"), "{err}");
    let err = error_of("      - { name: \"@\", type: CNAME, pools: { default: [x.example.net.] } }\n", "");
    assert!(err.contains("tests/inline.yaml:8:") && err.contains("a CNAME at the zone's apex"), "{err}");
    let err = error_of("", "      - { name: \"@\", type: CNAME, values: x.example.net. }\n");
    assert!(err.contains("a CNAME at the zone's apex"), "{err}");
    let err = error_of("      - { name: w, type: CNAME, max_answers: 2, pools: { default: [x.example.net.] } }\n", "");
    assert!(err.contains("a CNAME answer holds one record"), "{err}");
    let err = error_of("      - { name: m, type: MX, pools: { default: [mx.example.net.] } }\n", "");
    assert!(err.contains("bad MX value"), "{err}");
}

#[test]
fn a_node_that_is_no_address_is_probed_where_the_rules_say() {
    let rules = |node: &str| {
        format!(
            "version: 1\nhealth_checks:\n  web: {{ kind: tcp, port: 80 }}\nzones:\n  - origin: example.com.\n    soa: {{ mname: ns1, rname: h, serial: 1 }}\n    ns: [ns1.example.net.]\n    line_records:\n      - {{ name: w, type: CNAME, health_check: web, pools: {{ default: [{node}] }} }}\n"
        )
    };
    let err = common::compile_text(&rules("x.example.net."), Path::new(".")).unwrap_err().to_string();
    assert!(err.contains("tests/inline.yaml:9:") && err.contains("give `probe: IP`"), "{err}");
    let snap = common::compile_text(&rules("{ data: x.example.net., probe: \"192.0.2.8:8080\" }"), Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snap.probes.len(), 1);
    assert_eq!(snap.probes[0].key.target, "192.0.2.8:8080".parse().unwrap());
}

#[test]
fn explain_shows_the_chain_of_each_line_record_reached() {
    let snap = snapshot();
    let e = linedns::explain(
        &snap,
        "10.1.2.3".parse().unwrap(),
        Some(24),
        Some(("www.example.com", RecordType::A)),
        &AllUp,
    );
    let text = e.to_string();
    let q = e.query.as_ref().unwrap();
    let records: Vec<&str> = q.steps.iter().map(|s| s.record.as_str()).collect();
    assert_eq!(records, ["www.example.com. CNAME", "edge-t.example.com. A"], "{text}");
    assert!(q.steps.iter().all(|s| s.line == "telecom"), "{text}");
    assert!(text.contains("record   www.example.com. CNAME (line record)\nstep 1   telecom: chosen"), "{text}");
    assert!(text.contains("record   edge-t.example.com. A (line record)\nstep 1   telecom: chosen"), "{text}");
    assert!(text.contains("answer   edge-t.example.com. 60 IN A 192.0.2.10"), "{text}");
}

#[test]
fn an_override_names_a_node_that_is_no_address_by_its_data() {
    use linedns::engine::overrides::{Forced, Target};
    let engine = linedns::Engine::new(snapshot());
    let client = ClientInfo::from_ecs("10.1.2.3".parse().unwrap(), 24);
    let target = |engine: &linedns::Engine| {
        let snap = engine.snapshot();
        let answer = snap.resolve(&Query::new("www.example.com", RecordType::CNAME), &client, &snap.live_health());
        answer.answers.first().map(|r| r.data.to_string())
    };
    assert_eq!(target(&engine).as_deref(), Some("edge-t.example.com."));
    // Any letter case, with or without the final dot.
    let drain = Target::Node("Edge-T.example.com".into());
    engine.add_override(drain, Forced::Drained, "ops".into(), "CDN maintenance".into(), 0).unwrap();
    assert_eq!(target(&engine).as_deref(), Some("cdn.example.net."), "telecom on the default line's target");
    let unknown = Target::Node("nowhere.example.com.".into());
    assert!(engine.add_override(unknown, Forced::Down, "ops".into(), "".into(), 0).is_err(), "names nothing");
}

#[test]
fn a_chased_targets_fallback_is_the_answers_route() {
    use linedns::engine::overrides::{Forced, Target};
    let engine = linedns::Engine::new(snapshot());
    let pool = Target::Pool { record: "edge-t.example.com A".into(), line: "telecom".into() };
    engine.add_override(pool, Forced::Down, "ops".into(), "test".into(), 0).unwrap();
    let snap = engine.snapshot();
    let client = ClientInfo::from_ecs("10.1.2.3".parse().unwrap(), 24);
    let a = snap.resolve(&Query::new("www.example.com", RecordType::A), &client, &snap.live_health());
    assert_eq!(shown(&a.answers), [". CNAME edge-t.example.com.", "edge-t.example.com A 192.0.2.99"]);
    let route = a.route.unwrap();
    assert!(route.degraded && route.fallback_depth == 1, "{route:?}");
    assert_eq!(snap.lines.name(route.served_line), "default");
}
