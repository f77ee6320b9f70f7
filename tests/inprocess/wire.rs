//! The wire rules, one test each, through `Engine::answer`: queries built with
//! hickory-proto or crafted byte by byte, responses parsed with hickory-proto.

use crate::common;

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use linedns::{CompileOptions, Engine, Request, Transport};

fn engine() -> Engine {
    Engine::from_rules(&common::repo_path("tests/rules/server.yaml"), CompileOptions::default()).unwrap()
}

const PEER: &str = "203.0.113.9:40000";

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

/// A query message for `name`/`qtype` with ID 0x1234 and RD set.
fn message(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = 0x1234;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

fn with_ecs(mut m: Message, addr: &str, source: u8) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr.parse().unwrap(), source, 0)));
    m.set_edns(edns);
    m
}

fn send(engine: &Engine, bytes: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    engine.answer(Request::new(bytes, peer(), transport), &mut out).then_some(out)
}

fn ask(engine: &Engine, m: &Message) -> Message {
    let out = send(engine, &m.to_vec().unwrap(), Transport::Udp).expect("an answer");
    Message::from_vec(&out).expect("the response parses")
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

fn ecs_of(m: &Message) -> Option<ClientSubnet> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(*s),
        _ => None,
    }
}

/// Header + one question, then `opt` as the additional section (raw OPT RR bytes).
fn raw_query(flags: u16, qdcount: u16, name: &str, qtype: u16, qclass: u16, additional: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(0xbeefu16.to_be_bytes());
    p.extend(flags.to_be_bytes());
    p.extend(qdcount.to_be_bytes());
    p.extend([0, 0, 0, 0]);
    p.extend((additional.len() as u16).to_be_bytes());
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend(label.as_bytes());
    }
    p.push(0);
    p.extend(qtype.to_be_bytes());
    p.extend(qclass.to_be_bytes());
    for rr in additional {
        p.extend(*rr);
    }
    p
}

/// An OPT RR: root owner, UDP size, version, options (code, data).
fn opt(udp: u16, version: u8, options: &[(u16, &[u8])]) -> Vec<u8> {
    let mut rdata = Vec::new();
    for (code, data) in options {
        rdata.extend(code.to_be_bytes());
        rdata.extend((data.len() as u16).to_be_bytes());
        rdata.extend(*data);
    }
    let mut rr = vec![0u8];
    rr.extend(41u16.to_be_bytes());
    rr.extend(udp.to_be_bytes());
    rr.extend([0, version, 0, 0]);
    rr.extend((rdata.len() as u16).to_be_bytes());
    rr.extend(rdata);
    rr
}

fn ecs_option(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
    let mut d = family.to_be_bytes().to_vec();
    d.extend([source, scope]);
    d.extend(addr);
    d
}

fn rcode(bytes: &[u8]) -> u8 {
    bytes[3] & 0x0f
}

#[test]
fn per_line_answers_with_ecs_scope() {
    let e = engine();
    let cases = [
        ("198.51.100.0", 27, vec!["192.0.2.11"], 27),
        ("198.51.100.64", 26, vec!["192.0.2.1", "192.0.2.2"], 26),
        ("198.51.100.32", 27, vec!["192.0.2.1", "192.0.2.2"], 27),
        ("198.51.100.128", 25, vec!["192.0.2.21", "192.0.2.22", "192.0.2.23"], 25),
        ("198.51.100.0", 24, vec!["192.0.2.11"], 27),
    ];
    for (addr, source, want, scope) in cases {
        let r = ask(&e, &with_ecs(message("www.example.com.", RecordType::A), addr, source));
        let mut got = addresses(&r);
        got.sort();
        assert_eq!(got, want, "{addr}/{source}");
        let ecs = ecs_of(&r).expect("ECS echoed");
        assert_eq!(
            (ecs.addr(), ecs.source_prefix(), ecs.scope_prefix()),
            (addr.parse::<IpAddr>().unwrap(), source, scope),
            "{addr}/{source}"
        );
    }
    // IPv6 ECS.
    let r = ask(&e, &with_ecs(message("www.example.com.", RecordType::AAAA), "2001:db8:1::", 48));
    assert_eq!(addresses(&r), ["2001:db8:f::1"]);
    assert_eq!(ecs_of(&r).unwrap().scope_prefix(), 48);
}

#[test]
fn without_ecs_the_source_address_classifies_and_no_ecs_comes_back() {
    let e = engine();
    let r = ask(&e, &message("www.example.com.", RecordType::A));
    assert_eq!(addresses(&r), ["192.0.2.101"], "{PEER} is in no line");
    assert!(r.edns.is_none(), "no OPT in the query, none in the response");
    let mut m = message("www.example.com.", RecordType::A);
    m.set_edns(Edns::new());
    let r = ask(&e, &m);
    assert!(r.edns.is_some() && ecs_of(&r).is_none(), "OPT echoed, but no ECS without ECS");
    // From a telecom source address, no ECS: telecom's pool.
    let mut out = Vec::new();
    let packet = message("www.example.com.", RecordType::A).to_vec().unwrap();
    e.answer(Request::new(&packet, "198.51.100.70:53".parse().unwrap(), Transport::Udp), &mut out);
    assert_eq!(Message::from_vec(&out).unwrap().answers.len(), 2);
}

#[test]
fn source_prefix_zero_uses_the_peer_and_scope_zero() {
    let e = engine();
    // RFC 7871 §7.1.2: a /0 option carries no client address.
    let r = ask(&e, &with_ecs(message("www.example.com.", RecordType::A), "0.0.0.0", 0));
    assert_eq!(addresses(&r), ["192.0.2.101"]);
    let ecs = ecs_of(&r).unwrap();
    assert_eq!((ecs.source_prefix(), ecs.scope_prefix()), (0, 0));
}

#[test]
fn static_answers_carry_scope_zero() {
    let e = engine();
    let r = ask(&e, &with_ecs(message("static.example.com.", RecordType::A), "198.51.100.0", 24));
    assert_eq!(addresses(&r), ["192.0.2.80"]);
    assert_eq!(ecs_of(&r).unwrap().scope_prefix(), 0, "the answer does not depend on the client");
    let r = ask(&e, &with_ecs(message("nope.example.com.", RecordType::A), "198.51.100.0", 24));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(ecs_of(&r).unwrap().scope_prefix(), 0);
}

#[test]
fn header_rules() {
    let e = engine();
    let q = message("WwW.ExAmple.COM.", RecordType::A);
    let bytes = q.to_vec().unwrap();
    let r = ask(&e, &q);
    assert_eq!(r.metadata.id, 0x1234, "ID echoed");
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert!(r.metadata.authoritative, "AA on authoritative answers");
    assert!(r.metadata.recursion_desired && !r.metadata.recursion_available);
    assert_eq!(r.queries[0].name().to_ascii(), "WwW.ExAmple.COM.", "question echoed with the client's case");
    assert_eq!(r.answers[0].name.to_ascii(), "WwW.ExAmple.COM.", "answers point at the question's name");
    // QR=1: dropped.
    let mut response = bytes.clone();
    response[2] |= 0x80;
    assert!(send(&e, &response, Transport::Udp).is_none());
    // Shorter than a header: dropped.
    assert!(send(&e, &bytes[..11], Transport::Udp).is_none());
    // NOTIFY (RFC 1996) for a zone of ours: REFUSED, we are its primary; for another
    // zone: NOTAUTH. The opcode is echoed.
    for (zone, want) in [("example.com.", 5), ("example.org.", 9)] {
        let mut notify = message(zone, RecordType::SOA);
        notify.metadata.op_code = OpCode::Notify;
        let out = send(&e, &notify.to_vec().unwrap(), Transport::Udp).unwrap();
        assert_eq!(rcode(&out), want, "NOTIFY {zone}");
        assert_eq!(Message::from_vec(&out).unwrap().metadata.op_code, OpCode::Notify);
    }
    // Any other opcode but QUERY: NOTIMP.
    let mut update = message("example.com.", RecordType::SOA);
    update.metadata.op_code = OpCode::Update;
    let out = send(&e, &update.to_vec().unwrap(), Transport::Udp).unwrap();
    assert_eq!(rcode(&out), 4);
    assert_eq!(Message::from_vec(&out).unwrap().metadata.op_code, OpCode::Update);
    assert!(Message::from_vec(&out).unwrap().edns.is_none(), "no OPT asked, none given");
    // With an OPT in the query, the NOTIMP has one too (RFC 6891 §7).
    update.set_edns(Edns::new());
    let out = send(&e, &update.to_vec().unwrap(), Transport::Udp).unwrap();
    assert_eq!(rcode(&out), 4);
    assert!(Message::from_vec(&out).unwrap().edns.is_some(), "NOTIMP to a query with OPT carries OPT");
    // QDCOUNT 0 and 2: FORMERR.
    for qd in [0u16, 2] {
        let out = send(&e, &raw_query(0x0100, qd, "www.example.com", 1, 1, &[]), Transport::Udp).unwrap();
        assert_eq!(rcode(&out), 1, "QDCOUNT {qd}");
        assert_eq!(&out[..2], &[0xbe, 0xef]);
    }
    // A truncated question: FORMERR.
    let raw = raw_query(0x0100, 1, "www.example.com", 1, 1, &[]);
    assert_eq!(rcode(&send(&e, &raw[..raw.len() - 2], Transport::Udp).unwrap()), 1);
}

#[test]
fn edns_rules() {
    let e = engine();
    // OPT echoed with our payload size; DO copied.
    let mut m = message("static.example.com.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns.set_dnssec_ok(true);
    m.set_edns(edns);
    let r = ask(&e, &m);
    let echoed = r.edns.as_ref().unwrap();
    assert_eq!(echoed.max_payload(), 1232);
    assert!(echoed.flags().dnssec_ok);
    // Version 1: BADVERS (extended RCODE 16), with an OPT of version 0.
    let out = send(&e, &raw_query(0x0100, 1, "www.example.com", 1, 1, &[&opt(1232, 1, &[])]), Transport::Udp).unwrap();
    let r = Message::from_vec(&out).unwrap();
    // BADVERS and BADSIG share the value 16 (RFC 6891 §9); hickory names it BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert_eq!(rcode(&out), 0, "the header holds the low 4 bits, the OPT the high 8");
    assert_eq!(r.edns.unwrap().version(), 0);
    // Unknown options are ignored.
    let out = send(
        &e,
        &raw_query(0x0100, 1, "static.example.com", 1, 1, &[&opt(1232, 0, &[(65001, b"hello")])]),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(addresses(&Message::from_vec(&out).unwrap()), ["192.0.2.80"]);
    // Two OPT records: FORMERR.
    let one = opt(1232, 0, &[]);
    let out = send(&e, &raw_query(0x0100, 1, "static.example.com", 1, 1, &[&one, &one]), Transport::Udp).unwrap();
    assert_eq!(rcode(&out), 1);
    let r = Message::from_vec(&out).unwrap();
    assert!(r.edns.is_some() && r.additionals.is_empty(), "one OPT in the FORMERR, no other record");
    // An OPT whose option runs past its RDATA: FORMERR.
    let mut broken = opt(1232, 0, &[(8, &ecs_option(1, 24, 0, &[198, 51, 100]))]);
    let len = broken.len();
    broken[len - 8] = 0x40; // option length 0x40xx: far past the end
    assert_eq!(
        rcode(&send(&e, &raw_query(0x0100, 1, "static.example.com", 1, 1, &[&broken]), Transport::Udp).unwrap()),
        1
    );
}

#[test]
fn udp_size_is_honoured_between_512_and_the_maximum() {
    let e = engine();
    // `many` holds 40 A records: 12 + 21 + 40 * 16 = 673 octets, over 512.
    let plain = message("many.example.com.", RecordType::A);
    let r = ask(&e, &plain);
    assert!(r.metadata.truncation && r.answers.is_empty(), "no EDNS: 512 octets, TC");
    for (offered, truncated) in [(256u16, true), (512, true), (1232, false), (4096, false)] {
        let mut m = plain.clone();
        let mut edns = Edns::new();
        edns.set_max_payload(offered);
        m.set_edns(edns);
        let r = ask(&e, &m);
        assert_eq!(r.metadata.truncation, truncated, "offered {offered}");
        assert_eq!(r.answers.len(), if truncated { 0 } else { 40 });
        assert!(r.edns.is_some(), "OPT kept when truncated");
    }
    // `big` TXT (8 × ~200 octets) does not fit 1232 even when the client offers 4096.
    let mut m = message("big.example.com.", RecordType::TXT);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    m.set_edns(edns);
    let out = send(&e, &m.to_vec().unwrap(), Transport::Udp).unwrap();
    assert!(out.len() <= 1232);
    assert!(Message::from_vec(&out).unwrap().metadata.truncation);
    // Over TCP the same query gets it all.
    let out = send(&e, &m.to_vec().unwrap(), Transport::Tcp).unwrap();
    let r = Message::from_vec(&out).unwrap();
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 8);
}

#[test]
fn malformed_ecs_is_formerr() {
    let e = engine();
    let cases: &[(&str, Vec<u8>)] = &[
        ("host bits beyond a /20", ecs_option(1, 20, 0, &[198, 51, 101])),
        ("bits set past /23", ecs_option(1, 23, 0, &[198, 51, 101])),
        ("address longer than the prefix needs", ecs_option(1, 24, 0, &[198, 51, 100, 0])),
        ("address shorter than the prefix needs", ecs_option(1, 24, 0, &[198, 51])),
        ("unknown family", ecs_option(3, 0, 0, &[])),
        ("prefix longer than the family", ecs_option(1, 33, 0, &[1, 2, 3, 4, 5])),
        ("IPv6 prefix longer than 128", ecs_option(2, 129, 0, &[0; 17])),
        ("option shorter than its header", vec![0, 1, 24]),
    ];
    for (what, option) in cases {
        let packet = raw_query(0x0100, 1, "www.example.com", 1, 1, &[&opt(1232, 0, &[(8, option)])]);
        let out = send(&e, &packet, Transport::Udp).expect(what);
        assert_eq!(rcode(&out), 1, "{what}");
        assert_eq!(&out[..2], &[0xbe, 0xef], "{what}: ID echoed");
        assert!(out[2] & 0x80 != 0, "{what}: a response");
        // RFC 6891 §7: the query had an OPT record, so the response has one.
        let r = Message::from_vec(&out).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.edns.is_some(), "{what}: FORMERR carries an OPT");
    }
    // The well-formed twin is answered.
    let good =
        raw_query(0x0100, 1, "www.example.com", 1, 1, &[&opt(1232, 0, &[(8, &ecs_option(1, 24, 0, &[198, 51, 100]))])]);
    assert_eq!(rcode(&send(&e, &good, Transport::Udp).unwrap()), 0);
}

#[test]
fn any_gets_a_minimal_answer_and_classes_are_checked() {
    let e = engine();
    let r = ask(&e, &message("example.com.", RecordType::ANY));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    let types: std::collections::HashSet<RecordType> = r.answers.iter().map(|a| a.record_type()).collect();
    assert_eq!(types.len(), 1, "RFC 8482: one RRset");
    // Class HS: REFUSED.
    let mut m = message("www.example.com.", RecordType::A);
    m.queries[0].set_query_class(DNSClass::HS);
    assert_eq!(ask(&e, &m).metadata.response_code, ResponseCode::Refused);
    // CHAOS version.bind / id.server when configured.
    for (name, want) in [("version.bind.", "linedns-test"), ("id.server.", "test-1")] {
        let mut m = message(name, RecordType::TXT);
        m.queries[0].set_query_class(DNSClass::CH);
        let r = ask(&e, &m);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
        match &r.answers[0].data {
            RData::TXT(txt) => assert_eq!(txt.to_string(), want),
            other => panic!("{other:?}"),
        }
    }
    let mut m = message("other.bind.", RecordType::TXT);
    m.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(ask(&e, &m).metadata.response_code, ResponseCode::Refused);
    // Outside our zones: REFUSED, not authoritative.
    let r = ask(&e, &message("example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(!r.metadata.authoritative);
    // Zone transfers are not served.
    assert_eq!(ask(&e, &message("example.com.", RecordType::AXFR)).metadata.response_code, ResponseCode::Refused);
}

#[test]
fn negative_answers_and_cname_on_the_wire() {
    let e = engine();
    let r = ask(&e, &message("nope.example.com.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(r.authorities[0].ttl, 60);
    let r = ask(&e, &message("static.example.com.", RecordType::AAAA));
    assert_eq!((r.metadata.response_code, r.answers.len(), r.authorities.len()), (ResponseCode::NoError, 0, 1));
    let r = ask(&e, &with_ecs(message("alias.example.com.", RecordType::A), "198.51.100.128", 25));
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(r.answers.len(), 4);
    assert_eq!(ecs_of(&r).unwrap().scope_prefix(), 25);
}

/// The UDP workers' prefetch hint reads the ECS option as the engine does: the address
/// and source prefix of a resolver's query, IPv4 and IPv6; nothing for a query without
/// ECS.
#[test]
fn the_prefetch_hint_reads_the_ecs_option() {
    use linedns::wire::decode::ecs_hint;
    let v4 = with_ecs(message("www.example.com.", RecordType::A), "198.51.100.0", 24).to_vec().unwrap();
    assert_eq!(ecs_hint(&v4), Some(("198.51.100.0".parse().unwrap(), 24)));
    let v6 = with_ecs(message("www.example.com.", RecordType::AAAA), "2001:db8:1::", 48).to_vec().unwrap();
    assert_eq!(ecs_hint(&v6), Some(("2001:db8:1::".parse().unwrap(), 48)));
    assert_eq!(ecs_hint(&message("www.example.com.", RecordType::A).to_vec().unwrap()), None);
    assert_eq!(ecs_hint(&v4[..v4.len() - 3]), None, "a cut option is no hint");
}
