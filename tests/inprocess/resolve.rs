//! Behaviour tables for `Snapshot::resolve`: lines, fallback, negative answers, CNAME,
//! wildcards, refusals, multi-active answers and weights.

use crate::common;

use std::collections::HashMap;
use std::net::IpAddr;

use linedns::engine::line::PoolNode;
use linedns::{AllUp, Answer, ClientInfo, NodeHealth, Owner, Query, Rcode, RecordType, Request, Served, Snapshot};

/// Lines: domestic ⊃ telecom ⊃ gd-telecom, and unicom; records exercise every path.
const RULES: &str = r#"
version: 1
priority: [telecom, unicom]
lines:
  - name: domestic
    sources: [{ cidr: [10.0.0.0/8, "fd00::/8"] }]
  - name: telecom
    parent: domestic
    sources: [{ cidr: [10.1.0.0/16, "fd00:1::/32"] }]
  - name: unicom
    parent: domestic
    sources: [{ cidr: [10.2.0.0/16] }]
  - name: gd-telecom
    parent: telecom
    sources: [{ cidr: [10.1.1.0/24] }]
zones:
  - origin: Example.COM.
    ttl: 300
    soa: { mname: ns1, rname: hostmaster, serial: 7, minimum: 45 }
    ns: [ns1, ns2.example.net.]
    records:
      - { name: ns1, type: A, values: 192.0.2.53 }
      - { name: mail, type: A, values: 192.0.2.25 }
      - { name: "@", type: MX, values: ["10 mail", "20 mail2.example.net."] }
      - { name: alias, type: CNAME, values: www }
      - { name: chain, type: CNAME, values: alias }
      - { name: away, type: CNAME, values: www.example.net. }
      - { name: "*.wild", type: A, values: 192.0.2.99, ttl: 20 }
      - { name: "*.wild", type: TXT, values: "wildcard" }
      - { name: deep.a.b, type: TXT, values: "deep" }
      - { name: sub, type: NS, values: ns.sub }
      - { name: ns.sub, type: A, values: 192.0.2.77 }
      - { name: "@", type: CAA, values: '0 issue "ca.example.net"' }
      - { name: _sip._tcp, type: SRV, values: "10 60 5060 sip" }
    line_records:
      - name: www
        type: A
        ttl: 60
        pools:
          gd-telecom: [192.0.2.11]
          telecom: [192.0.2.1, 192.0.2.2, 192.0.2.3]
          unicom: [192.0.2.21]
          domestic: [192.0.2.51]
          default: [192.0.2.101, 192.0.2.102]
      - name: www
        type: AAAA
        pools:
          telecom: ["2001:db8::1"]
          default: ["2001:db8::100"]
      - name: deep
        type: A
        ttl: 30
        pools:
          domestic: [192.0.2.51]
          default: [192.0.2.101]
      - name: capped
        type: A
        max_answers: 2
        pools:
          default: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5]
      - name: weighted
        type: A
        max_answers: 1
        pools:
          default:
            - { address: 192.0.2.1, weight: 3 }
            - { address: 192.0.2.2, weight: 1 }
      - name: custom
        type: A
        pools:
          unicom: [192.0.2.21]
          default: [192.0.2.101]
        fallback:
          gd-telecom: [unicom]
"#;

fn snapshot() -> Snapshot {
    common::compile_text(RULES, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn ask<'s>(snap: &'s Snapshot, name: &str, qtype: RecordType, client: &str) -> Answer<'s> {
    let addr: IpAddr = client.parse().unwrap();
    snap.resolve(&Query::new(name, qtype), &ClientInfo::from_source(addr), &AllUp)
}

fn data(answer: &Answer<'_>) -> Vec<String> {
    answer.answers.iter().map(|r| r.data.to_string()).collect()
}

#[test]
fn each_line_gets_its_pool() {
    let snap = snapshot();
    let table: &[(&str, &[&str], &str)] = &[
        ("10.1.1.9", &["192.0.2.11"], "gd-telecom"),
        ("10.1.2.9", &["192.0.2.1", "192.0.2.2", "192.0.2.3"], "telecom"),
        ("10.2.0.1", &["192.0.2.21"], "unicom"),
        ("10.3.0.1", &["192.0.2.51"], "domestic"),
        ("8.8.8.8", &["192.0.2.101", "192.0.2.102"], "default"),
    ];
    for &(client, want, line) in table {
        let a = ask(&snap, "www.example.com.", RecordType::A, client);
        assert_eq!(a.rcode, Rcode::NoError);
        assert!(a.authoritative);
        let mut got = data(&a);
        got.sort();
        assert_eq!(got, want, "client {client}");
        let route = a.route.unwrap();
        assert_eq!(snap.lines.name(route.served_line), line, "client {client}");
        assert_eq!(route.fallback_depth, 0);
        assert!(a.answers.iter().all(|r| r.ttl == 60 && r.owner == Owner::Query));
    }
}

#[test]
fn fallback_walks_two_levels_up() {
    let snap = snapshot();
    // gd-telecom has no pool for `deep`, nor has telecom: two steps up to domestic.
    let a = ask(&snap, "deep.example.com", RecordType::A, "10.1.1.1");
    assert_eq!(data(&a), ["192.0.2.51"]);
    let route = a.route.unwrap();
    assert_eq!(snap.lines.name(route.client_line), "gd-telecom");
    assert_eq!(snap.lines.name(route.served_line), "domestic");
    assert_eq!(route.fallback_depth, 2);
    assert_eq!(route.how, Served::Pool);
    // A chain written on the record replaces the line's own: gd-telecom → unicom.
    let a = ask(&snap, "custom.example.com", RecordType::A, "10.1.1.1");
    assert_eq!(data(&a), ["192.0.2.21"]);
    assert_eq!(a.route.unwrap().fallback_depth, 1);
    // The chain still ends at default for lines without a pool.
    assert_eq!(data(&ask(&snap, "custom.example.com", RecordType::A, "10.1.2.1")), ["192.0.2.101"]);
}

/// Health seam: a pool with no node up is skipped; with nothing up anywhere the first
/// pool of the chain is returned whole (fail open).
struct Down(Vec<u32>);
impl NodeHealth for Down {
    fn is_up(&self, node: &PoolNode) -> bool {
        !self.0.contains(&node.node.0)
    }
}

#[test]
fn down_nodes_are_skipped_and_all_down_fails_open() {
    let snap = snapshot();
    let id = |addr: &str| snap.nodes.iter().position(|n| n.is_named(addr)).unwrap() as u32;
    let q = Query::new("www.example.com", RecordType::A);
    let client = ClientInfo::from_source("10.1.2.1".parse().unwrap());
    let a = snap.resolve(&q, &client, &Down(vec![id("192.0.2.2")]));
    let mut got = data(&a);
    got.sort();
    assert_eq!(got, ["192.0.2.1", "192.0.2.3"]);
    let telecom_down = Down(vec![id("192.0.2.1"), id("192.0.2.2"), id("192.0.2.3")]);
    let a = snap.resolve(&q, &client, &telecom_down);
    assert_eq!(data(&a), ["192.0.2.51"], "telecom down: domestic");
    let all: Vec<u32> = (0..snap.nodes.len() as u32).collect();
    let a = snap.resolve(&q, &client, &Down(all));
    assert_eq!(a.answers.len(), 3, "fail open returns telecom's pool whole");
    assert_eq!(a.route.unwrap().how, Served::FailOpen);
}

#[test]
fn negative_answers_carry_the_soa() {
    let snap = snapshot();
    let nx = ask(&snap, "nope.example.com", RecordType::A, "8.8.8.8");
    assert_eq!(nx.rcode, Rcode::NxDomain);
    assert!(nx.authoritative && nx.answers.is_empty());
    assert_eq!(nx.authority.len(), 1);
    assert_eq!(nx.authority[0].data.rtype(), RecordType::SOA);
    assert_eq!(nx.authority[0].ttl, 45, "RFC 2308: min(SOA TTL 300, MINIMUM 45)");
    assert_eq!(nx.scope, 0, "a static answer does not depend on the client");

    let nodata = ask(&snap, "mail.example.com", RecordType::AAAA, "8.8.8.8");
    assert_eq!(nodata.rcode, Rcode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.authority[0].data.rtype(), RecordType::SOA);
    // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
    let ent = ask(&snap, "a.b.example.com", RecordType::A, "8.8.8.8");
    assert_eq!((ent.rcode, ent.answers.len()), (Rcode::NoError, 0));
    // Line record name, other type: NODATA.
    let a = ask(&snap, "deep.example.com", RecordType::AAAA, "8.8.8.8");
    assert_eq!((a.rcode, a.answers.len(), a.authority.len()), (Rcode::NoError, 0, 1));
}

#[test]
fn cname_is_followed_inside_our_zones() {
    let snap = snapshot();
    let a = ask(&snap, "chain.example.com", RecordType::A, "10.2.0.1");
    let shown: Vec<String> = a.answers.iter().map(|r| format!("{} {}", r.data.rtype(), r.data)).collect();
    assert_eq!(shown, ["CNAME alias.example.com.", "CNAME www.example.com.", "A 192.0.2.21"]);
    assert_eq!(a.answers[2].owner, Owner::Name("www.example.com"));
    assert_eq!(a.scope, 16, "the final A depends on the client's line");
    // Asking for the CNAME itself does not follow it.
    assert_eq!(data(&ask(&snap, "alias.example.com", RecordType::CNAME, "8.8.8.8")), ["www.example.com."]);
    // A target outside our zones ends the answer with the CNAME.
    let a = ask(&snap, "away.example.com", RecordType::A, "8.8.8.8");
    assert_eq!((a.rcode, data(&a)), (Rcode::NoError, vec!["www.example.net.".to_string()]));
}

#[test]
fn wildcards_synthesize_for_missing_names_only() {
    let snap = snapshot();
    let a = ask(&snap, "anything.wild.example.com", RecordType::A, "8.8.8.8");
    assert_eq!(data(&a), ["192.0.2.99"]);
    assert_eq!(a.answers[0].owner, Owner::Query, "RFC 4592: the owner is the query name");
    assert_eq!(a.answers[0].ttl, 20);
    assert_eq!(data(&ask(&snap, "x.y.wild.example.com", RecordType::TXT, "8.8.8.8")), ["\"wildcard\""]);
    // Wildcard name exists, other type: NODATA.
    let a = ask(&snap, "anything.wild.example.com", RecordType::MX, "8.8.8.8");
    assert_eq!((a.rcode, a.answers.len()), (Rcode::NoError, 0));
    // No wildcard at this closest encloser: NXDOMAIN.
    assert_eq!(ask(&snap, "x.mail.example.com", RecordType::A, "8.8.8.8").rcode, Rcode::NxDomain);
}

#[test]
fn outside_our_zones_is_refused_and_case_does_not_matter() {
    let snap = snapshot();
    for name in ["example.org", "com", "xexample.com", "."] {
        let a = ask(&snap, name, RecordType::A, "8.8.8.8");
        assert_eq!((a.rcode, a.authoritative), (Rcode::Refused, false), "{name}");
    }
    assert_eq!(data(&ask(&snap, "MAIL.eXample.Com.", RecordType::A, "8.8.8.8")), ["192.0.2.25"]);
}

#[test]
fn static_types_and_referrals() {
    let snap = snapshot();
    let mx = ask(&snap, "example.com", RecordType::MX, "8.8.8.8");
    assert_eq!(data(&mx), ["10 mail.example.com.", "20 mail2.example.net."]);
    assert_eq!(data(&ask(&snap, "example.com", RecordType::NS, "8.8.8.8")), ["ns1.example.com.", "ns2.example.net."]);
    assert_eq!(data(&ask(&snap, "example.com", RecordType::CAA, "8.8.8.8")), ["0 issue \"ca.example.net\""]);
    assert_eq!(data(&ask(&snap, "_sip._tcp.example.com", RecordType::SRV, "8.8.8.8")), ["10 60 5060 sip.example.com."]);
    assert_eq!(ask(&snap, "example.com", RecordType::SOA, "8.8.8.8").answers.len(), 1);
    // Below a zone cut: a referral, not authoritative.
    let r = ask(&snap, "host.sub.example.com", RecordType::A, "8.8.8.8");
    assert_eq!((r.rcode, r.authoritative, r.answers.len()), (Rcode::NoError, false, 0));
    let ns: Vec<String> = r.authority.iter().map(|r| format!("{:?} {}", r.owner, r.data)).collect();
    assert_eq!(ns, ["Name(\"sub.example.com\") ns.sub.example.com."]);
    // RFC 8482: ANY gets one record set.
    let any = ask(&snap, "example.com", RecordType::ANY, "8.8.8.8");
    let types: std::collections::HashSet<_> = any.answers.iter().map(|r| r.data.rtype()).collect();
    assert_eq!(types.len(), 1);
}

#[test]
fn multi_active_answers_hold_every_node_up_to_the_cap() {
    let snap = snapshot();
    assert_eq!(ask(&snap, "www.example.com", RecordType::A, "10.1.9.9").answers.len(), 3);
    let mut firsts = HashMap::new();
    for entropy in 0..300u64 {
        let client = ClientInfo::from_source("8.8.8.8".parse().unwrap()).with_entropy(entropy);
        let a = snap.resolve(&Query::new("capped.example.com", RecordType::A), &client, &AllUp);
        assert_eq!(a.answers.len(), 2, "max_answers: 2");
        assert_ne!(a.answers[0].data, a.answers[1].data);
        *firsts.entry(a.answers[0].data.to_string()).or_insert(0) += 1;
    }
    assert_eq!(firsts.len(), 5, "rotation spreads the first address over all nodes: {firsts:?}");
}

#[test]
fn weights_hold_over_many_draws() {
    let snap = snapshot();
    let draws = 20_000u64;
    let mut heavy = 0;
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..draws {
        let client = ClientInfo::from_source("8.8.8.8".parse().unwrap()).with_entropy(rng.u64(..));
        let a = snap.resolve(&Query::new("weighted.example.com", RecordType::A), &client, &AllUp);
        assert_eq!(a.answers.len(), 1);
        if a.answers[0].data.to_string() == "192.0.2.1" {
            heavy += 1;
        }
    }
    let share = heavy as f64 / draws as f64;
    // Weight 3:1 → 0.75; 20,000 draws give a standard deviation of ~0.003.
    assert!((share - 0.75).abs() < 0.015, "share of the weight-3 node: {share}");
}

#[test]
fn ecs_subnet_classifies_on_its_prefix_and_scope_comes_back() {
    let snap = snapshot();
    let q = Query::new("www.example.com", RecordType::A);
    let a = snap.resolve(&q, &ClientInfo::from_ecs("10.1.1.0".parse().unwrap(), 24), &AllUp);
    assert_eq!((data(&a), a.scope), (vec!["192.0.2.11".to_string()], 24));
    // A /16 source only sees 10.1.0.0: telecom, and the scope says /24 would matter more.
    let a = snap.resolve(&q, &ClientInfo::from_ecs("10.1.0.0".parse().unwrap(), 16), &AllUp);
    assert_eq!(snap.lines.name(a.route.unwrap().client_line), "telecom");
    assert_eq!(a.scope, 24, "10.1.0.0/24 is the largest telecom-only block around 10.1.0.0");
    // IPv6 ECS.
    let a = snap.resolve(
        &Query::new("www.example.com", RecordType::AAAA),
        &ClientInfo::from_ecs("fd00:1::".parse().unwrap(), 48),
        &AllUp,
    );
    assert_eq!((data(&a), a.scope), (vec!["2001:db8::1".to_string()], 32));
}

/// A query as a resolver or a stub sends it: any case, with or without EDNS, DO, and an
/// IPv4 or IPv6 ECS option of any source length.
fn wire_query(rng: &mut fastrand::Rng, names: &[&str]) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, Query as HQuery};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType as HType};
    let name: String =
        names[rng.usize(..names.len())].chars().map(|c| if rng.bool() { c.to_ascii_uppercase() } else { c }).collect();
    let qtype = [HType::A, HType::AAAA, HType::MX, HType::TXT, HType::SOA, HType::NS, HType::CNAME][rng.usize(..7)];
    let mut m = Message::query();
    m.metadata.id = rng.u16(..);
    m.metadata.recursion_desired = rng.bool();
    m.metadata.checking_disabled = rng.u8(..8) == 0;
    m.add_query(HQuery::query(Name::from_ascii(&name).unwrap(), qtype));
    if rng.u8(..4) != 0 {
        let mut edns = Edns::new();
        edns.set_max_payload([512, 1232, 4096][rng.usize(..3)]);
        edns.set_dnssec_ok(rng.bool());
        if rng.u8(..4) != 0 {
            let (addr, len): (IpAddr, u8) = if rng.bool() {
                (format!("10.{}.{}.0", rng.u8(0..4), rng.u8(..)).parse().unwrap(), rng.u8(0..=32))
            } else {
                (format!("fd00:{:x}::", rng.u16(0..3)).parse().unwrap(), rng.u8(0..=64))
            };
            edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr, len, 0)));
        }
        m.set_edns(edns);
    }
    m.to_vec().unwrap()
}

/// The UDP workers' path answers from a table of answers made once: whatever the query,
/// and after an override, a reload and a probe flip, every answer is byte for byte the
/// one the long way makes (which reads the rules and health afresh each time).
#[test]
fn prepared_answers_are_the_long_ways_byte_for_byte() {
    use linedns::engine::health::Forced;
    use linedns::engine::overrides::Target;
    use linedns::{Engine, PreparedAnswers, Transport};
    // The rules and a line record whose nodes have probes (no checker runs: the test
    // flips a probe by hand).
    let rules = RULES.replacen("version: 1\n", "version: 1\nhealth_checks:\n  tcp: { kind: tcp }\n", 1)
        + "      - name: probed\n        type: A\n        health_check: tcp\n        pools:\n          default:\n"
        + "            - { address: 192.0.2.7, probe: \"127.0.0.1:9\" }\n"
        + "            - { address: 192.0.2.8, probe: \"127.0.0.1:10\" }\n";
    let compile = |text: &str| common::compile_text(text, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(compile(&rules));
    let mut prepared = PreparedAnswers::new();
    let names = [
        "probed.example.com",
        "www.example.com",
        "alias.example.com",
        "chain.example.com",
        "away.example.com",
        "capped.example.com",
        "weighted.example.com",
        "deep.example.com",
        "mail.example.com",
        "example.com",
        "x.wild.example.com",
        "a.sub.example.com",
        "missing.example.com",
        "www.example.org",
    ];
    let peers: Vec<std::net::SocketAddr> = ["10.1.1.5:5300", "10.2.3.4:5300", "8.8.8.8:5300", "[fd00:1::9]:5300"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let mut rng = fastrand::Rng::with_seed(11);
    let mut compare = |engine: &Engine, prepared: &mut PreparedAnswers, rounds: usize| {
        for _ in 0..rounds {
            let packet = wire_query(&mut rng, &names);
            let peer = peers[rng.usize(..peers.len())];
            let (mut long, mut short) = (Vec::new(), Vec::new());
            assert!(engine.answer(Request::new(&packet, peer, Transport::Udp), &mut long));
            let request = Request::new(&packet, peer, Transport::Udp).on_worker(1).with_clock(|| 0);
            assert!(engine.answer(request.with_prepared(prepared), &mut short));
            assert_eq!(short, long, "query {packet:02x?} from {peer}");
        }
    };
    compare(&engine, &mut prepared, 20_000);
    let hits = prepared.hits();
    // Negative answers and SOA answers (a quarter of the names and most of the types
    // here) are made each time; the rest come from the table.
    assert!(hits > 4_000, "answers from the table: {hits} of 20000");
    // An override: the node is no longer answered, from the first query on.
    engine.add_override(Target::Node("192.0.2.1".parse().unwrap()), Forced::Down, "t".into(), "t".into(), 0).unwrap();
    compare(&engine, &mut prepared, 5_000);
    // A reload with another pool for telecom.
    engine.swap(compile(&rules.replace("192.0.2.3]", "192.0.2.33]")));
    compare(&engine, &mut prepared, 5_000);
    // A probe flips (as the checker records a failure): its node leaves the answers.
    let probe = engine.snapshot().probes.iter().find(|p| p.key.target.port() == 9).unwrap().state.clone();
    assert!(probe.is_up());
    probe.record(false, std::time::Duration::ZERO, 1, 1);
    assert!(!probe.is_up());
    compare(&engine, &mut prepared, 5_000);
    assert!(prepared.hits() > hits + 2_000, "the table is used again after each change");
}
