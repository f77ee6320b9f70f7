//! Criterion benches: classification on the full real carrier lists (v4, v6), the
//! whole resolve of a line record and of a static record, and `handle_packet` (bytes in,
//! bytes out) for a typical ECS query, the long way and from prepared answers, unsigned
//! and with the DO bit on the zone signed, a per-line CNAME chased against the A path,
//! and one signature's cold cost; and references (the same IPv4 and IPv6 lookups
//! through the `prefix-trie` crate) to judge the figures by across machines.
//!
//! Runs on the real data kept as test fixtures (`tests/data/geo-data`), or on the data
//! `LINEDNS_GEO_DATA` names.
//! Run: `cargo bench --bench engine`. Results are recorded in `benches/README.md`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use linedns::{
    ClientInfo, CompileOptions, Engine, Query, RecordType, Request, Snapshot, Transport, compile_file, compile_str,
};

/// The rules benched: `rules/china-carriers.yaml` on the real data, or the rules file
/// `LINEDNS_BENCH_RULES` names (its data beside it: `benches/scale.py`'s sets; it needs
/// a zone `example.cn` with a line record `www` A and a static `ns1`).
fn snapshot() -> Snapshot {
    if let Some(rules) = std::env::var_os("LINEDNS_BENCH_RULES") {
        return compile_file(Path::new(&rules), &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&rules).display()))
            .snapshot;
    }
    carriers_with("")
}

/// `rules/china-carriers.yaml` on the real data, `line_records` (YAML items) added to
/// its zone's line records.
fn carriers_with(line_records: &str) -> Snapshot {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let geo =
        std::env::var_os("LINEDNS_GEO_DATA").map(PathBuf::from).unwrap_or_else(|| root.join("tests/data/geo-data"));
    let path = root.join("rules/china-carriers.yaml");
    let text = std::fs::read_to_string(&path).expect("rules/china-carriers.yaml");
    let text = text.replacen("    line_records:\n", &format!("    line_records:\n{line_records}"), 1);
    compile_str(&text, &path, &CompileOptions { geo_data: Some(geo), ..CompileOptions::default() })
        .unwrap_or_else(|e| panic!("china-carriers.yaml must compile on the geo data: {e}"))
        .snapshot
}

/// Addresses to look up: half inside source prefixes, half uniform, so that both the
/// dense carrier ranges and the sparse overseas space are measured.
fn addresses(snap: &Snapshot, v4: bool, n: usize) -> Vec<IpAddr> {
    let mut rng = fastrand::Rng::with_seed(42);
    let nets: Vec<_> = snap.prefixes.iter().map(|p| p.net).filter(|n| n.addr().is_ipv4() == v4).collect();
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let net = nets[rng.usize(..nets.len())];
                match net.network() {
                    IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
                        u32::from(a)
                            | (rng.u32(..) & !u32::from(net.netmask().to_string().parse::<Ipv4Addr>().unwrap())),
                    )),
                    IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
                        u128::from(a)
                            | (rng.u128(..) & !u128::from(net.netmask().to_string().parse::<Ipv6Addr>().unwrap())),
                    )),
                }
            } else if v4 {
                IpAddr::V4(Ipv4Addr::from(rng.u32(..)))
            } else {
                // Uniform over 2000::/3, where global unicast lives.
                IpAddr::V6(Ipv6Addr::from((rng.u128(..) >> 3) | (1u128 << 125)))
            }
        })
        .collect()
}

/// The reference for judging the other figures across machines: the same IPv4 lookups
/// as `classify/v4`, longest-prefix matches over the same source prefixes in the
/// `prefix-trie` crate's map (no parent overlay, no scope: a plain LPM).
fn reference(c: &mut Criterion) {
    let snap = snapshot();
    let v4 = |net| match net {
        ipnet::IpNet::V4(n) => Some(n),
        ipnet::IpNet::V6(_) => None,
    };
    let host4 = |a| match a {
        IpAddr::V4(a) => ipnet::Ipv4Net::new(a, 32).unwrap(),
        IpAddr::V6(_) => unreachable!("IPv4 addresses"),
    };
    trie_reference(c, &snap, "reference/prefix-trie-v4", true, v4, host4);
    // The same for IPv6: the addresses of `classify/v6` over the IPv6 source prefixes.
    let v6 = |net| match net {
        ipnet::IpNet::V6(n) => Some(n),
        ipnet::IpNet::V4(_) => None,
    };
    let host6 = |a| match a {
        IpAddr::V6(a) => ipnet::Ipv6Net::new(a, 128).unwrap(),
        IpAddr::V4(_) => unreachable!("IPv6 addresses"),
    };
    trie_reference(c, &snap, "reference/prefix-trie-v6", false, v6, host6);
}

/// Longest-prefix matches in a `prefix_trie::PrefixMap` of the snapshot's source
/// prefixes of one family (`family` picks them), for the addresses of `classify` of that
/// family (`host` makes each a host prefix).
fn trie_reference<P: prefix_trie::Prefix>(
    c: &mut Criterion,
    snap: &Snapshot,
    name: &str,
    v4: bool,
    family: impl Fn(ipnet::IpNet) -> Option<P>,
    host: impl Fn(IpAddr) -> P,
) {
    let mut trie: prefix_trie::PrefixMap<P, u16> = prefix_trie::PrefixMap::new();
    for p in &snap.prefixes {
        if let Some(net) = family(p.net) {
            trie.insert(net, p.line.0);
        }
    }
    let addrs: Vec<P> = addresses(snap, v4, 1 << 16).into_iter().map(host).collect();
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) & ((1 << 16) - 1);
            black_box(trie.get_lpm(black_box(&addrs[i])).map(|(_, &line)| line))
        })
    });
}

fn classify(c: &mut Criterion) {
    let snap = snapshot();
    for (name, v4, bits) in [("classify/v4", true, 32u8), ("classify/v6", false, 128u8)] {
        let addrs = addresses(&snap, v4, 1 << 16);
        let mut i = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & ((1 << 16) - 1);
                black_box(snap.classifier.classify(black_box(addrs[i]), bits))
            })
        });
    }
    // As a UDP worker classifies a received batch: the batch prefetch, then the lookups,
    // which find their memory loaded or loading. Per address.
    for (name, v4, bits) in [("classify/v4-batch32", true, 32u8), ("classify/v6-batch32", false, 128u8)] {
        let addrs: Vec<(IpAddr, u8)> = addresses(&snap, v4, 1 << 16).into_iter().map(|a| (a, bits)).collect();
        let mut group = c.benchmark_group("classify");
        group.throughput(criterion::Throughput::Elements(BATCH as u64));
        let mut i = 0usize;
        group.bench_function(name.trim_start_matches("classify/"), |b| {
            b.iter(|| {
                i = (i + BATCH) & ((1 << 16) - 1);
                let batch = black_box(&addrs[i..i + BATCH]);
                snap.classifier.prefetch_batch(batch);
                let mut lines = 0u32;
                for &(addr, bits) in batch {
                    lines += u32::from(snap.classifier.classify(addr, bits).line.0);
                }
                black_box(lines)
            })
        });
        group.finish();
    }
}

/// Addresses per batch in the batched classify bench: the UDP worker's batch.
const BATCH: usize = 32;

fn resolve(c: &mut Criterion) {
    // Health as the server reads it: probes and the operator overrides of a live engine.
    let engine = Engine::new(snapshot());
    let snap = engine.snapshot();
    let clients: Vec<ClientInfo> = addresses(&snap, true, 1 << 16)
        .into_iter()
        .enumerate()
        .map(|(i, a)| ClientInfo::from_ecs(a, 24).with_entropy(i as u64))
        .collect();
    for (name, qname) in [("resolve/line-record", "WWW.Example.CN."), ("resolve/static", "ns1.example.cn")] {
        let query = Query::new(qname, RecordType::A);
        let mut i = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & ((1 << 16) - 1);
                let answer = snap.resolve(black_box(&query), black_box(&clients[i]), &snap.live_health());
                black_box(answer.answers.len())
            })
        });
    }
}

/// A typical ECS query as a resolver sends it: `www.example.cn A`, RD, EDNS(0) with a
/// 1232-octet payload and an ECS option with a /24 (IPv4) source prefix.
fn ecs_query(id: u16, subnet: Ipv4Addr) -> Vec<u8> {
    ecs_query_for("www.example.cn.", id, subnet)
}

/// [`ecs_query`] for `qname` (A).
fn ecs_query_for(qname: &str, id: u16, subnet: Ipv4Addr) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, Query as HQuery};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType as HType};
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(HQuery::query(Name::from_ascii(qname).unwrap(), HType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(IpAddr::V4(subnet), 24, 0)));
    m.set_edns(edns);
    m.to_vec().unwrap()
}

/// `Engine::answer` (named `handle_packet/` as in earlier records): decode, classify, resolve, encode and count one ECS query,
/// over 4,096 distinct /24 subnets (half inside the carrier lists).
fn handle_packet(c: &mut Criterion) {
    let engine = Engine::new(snapshot());
    let packets: Vec<Vec<u8>> = addresses(&engine.snapshot(), true, 4096)
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let IpAddr::V4(a) = a else { unreachable!("IPv4 addresses") };
            ecs_query(i as u16, Ipv4Addr::from(u32::from(a) & 0xffff_ff00))
        })
        .collect();
    let peer: SocketAddr = "192.0.2.53:40000".parse().unwrap();
    let mut out = Vec::with_capacity(4096);
    let mut i = 0usize;
    c.bench_function("handle_packet/ecs", |b| {
        b.iter(|| {
            i = (i + 1) & (packets.len() - 1);
            let sent = engine.answer(Request::new(black_box(&packets[i]), peer, Transport::Udp), &mut out);
            black_box((sent, out.len()))
        })
    });
    // The UDP workers' path: the same queries, answered from the table of answers made
    // once (the record sections copied, the header, question and OPT written per query).
    let mut prepared = linedns::PreparedAnswers::new();
    c.bench_function("handle_packet/ecs-prepared", |b| {
        b.iter(|| {
            i = (i + 1) & (packets.len() - 1);
            let request = Request::new(black_box(&packets[i]), peer, Transport::Udp).on_worker(1).with_clock(|| 0);
            let sent = engine.answer(request.with_prepared(&mut prepared), &mut out);
            black_box((sent, out.len()))
        })
    });
}

/// A per-line CNAME chased to a line record (`cdn.example.cn A`: each line's CNAME to
/// `www`, whose A pool for the same client follows in the answer) against the A path
/// (`www.example.cn A`), on one engine, the long way, in the same run.
fn line_cname(c: &mut Criterion) {
    let cname = "      - name: cdn\n        type: CNAME\n        ttl: 60\n        pools:\n          telecom: [www]\n          unicom: [www]\n          default: [www]\n";
    let engine = Engine::new(carriers_with(cname));
    let subnets: Vec<Ipv4Addr> = addresses(&engine.snapshot(), true, 4096)
        .into_iter()
        .map(|a| {
            let IpAddr::V4(a) = a else { unreachable!("IPv4 addresses") };
            Ipv4Addr::from(u32::from(a) & 0xffff_ff00)
        })
        .collect();
    let peer: SocketAddr = "192.0.2.53:40000".parse().unwrap();
    let mut out = Vec::with_capacity(4096);
    for (name, qname) in
        [("handle_packet/ecs-a", "www.example.cn."), ("handle_packet/ecs-cname-chased", "cdn.example.cn.")]
    {
        let packets: Vec<Vec<u8>> =
            subnets.iter().enumerate().map(|(i, s)| ecs_query_for(qname, i as u16, *s)).collect();
        let mut i = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (packets.len() - 1);
                let sent = engine.answer(Request::new(black_box(&packets[i]), peer, Transport::Udp), &mut out);
                black_box((sent, out.len()))
            })
        });
        let mut prepared = linedns::PreparedAnswers::new();
        c.bench_function(&format!("{name}-prepared"), |b| {
            b.iter(|| {
                i = (i + 1) & (packets.len() - 1);
                let request = Request::new(black_box(&packets[i]), peer, Transport::Udp).on_worker(1).with_clock(|| 0);
                let sent = engine.answer(request.with_prepared(&mut prepared), &mut out);
                black_box((sent, out.len()))
            })
        });
    }
}

/// DNSSEC: the cold cost of one signature (a 2-record A set, as a line's answer is, per
/// algorithm: 1 / time is the signing rate), and `handle_packet` with the DO bit on the
/// signed zone, the long way and from prepared answers, against the same unsigned.
fn dnssec(c: &mut Criterion) {
    use linedns::engine::sign::keys::{Algorithm, Role, SigningKey};
    use linedns::engine::sign::{RollPolicy, ZoneKey, ZoneSigning};
    let signing = |algorithm| {
        let (key, _) = SigningKey::generate(algorithm, Role::Csk).unwrap();
        let zone_key = ZoneKey { key, published: true, signs: true, in_cds: true, file: "bench".into() };
        ZoneSigning::new("example.cn", vec![zone_key], 1_209_600, 604_800, RollPolicy::default())
    };
    let owner = linedns::name::to_wire("www.example.cn");
    let rdatas: [&[u8]; 2] = [&[192, 0, 2, 1], &[192, 0, 2, 2]];
    for (name, algorithm) in [("sign/ecdsa-p256", Algorithm::EcdsaP256Sha256), ("sign/ed25519", Algorithm::Ed25519)] {
        let zone = signing(algorithm);
        c.bench_function(name, |b| b.iter(|| black_box(zone.sign_set(&owner, 1, 60, &rdatas, 1_796_000_000))));
    }
    let mut snapshot = snapshot();
    snapshot.zones[0].signing = Some(std::sync::Arc::new(signing(Algorithm::EcdsaP256Sha256)));
    let engine = Engine::new(snapshot);
    let packets: Vec<Vec<u8>> = addresses(&engine.snapshot(), true, 4096)
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let IpAddr::V4(a) = a else { unreachable!("IPv4 addresses") };
            let mut q = ecs_query(i as u16, Ipv4Addr::from(u32::from(a) & 0xffff_ff00));
            // The OPT record after the question (header 12, www.example.cn 16, type and
            // class 4): root, TYPE 41, CLASS, then the TTL field, whose third octet
            // holds the DO bit (RFC 3225).
            let opt = 12 + 16 + 4;
            assert_eq!(q[opt + 1..opt + 3], [0, 41], "the OPT record follows the question");
            q[opt + 7] |= 0x80;
            q
        })
        .collect();
    let peer: SocketAddr = "192.0.2.53:40000".parse().unwrap();
    let mut out = Vec::with_capacity(4096);
    let mut i = 0usize;
    c.bench_function("handle_packet/ecs-do", |b| {
        b.iter(|| {
            i = (i + 1) & (packets.len() - 1);
            let request = Request::new(black_box(&packets[i]), peer, Transport::Udp).with_clock(|| 1_796_000_000);
            let sent = engine.answer(request, &mut out);
            black_box((sent, out.len()))
        })
    });
    let mut prepared = linedns::PreparedAnswers::new();
    c.bench_function("handle_packet/ecs-do-prepared", |b| {
        b.iter(|| {
            i = (i + 1) & (packets.len() - 1);
            let request =
                Request::new(black_box(&packets[i]), peer, Transport::Udp).on_worker(1).with_clock(|| 1_796_000_000);
            let sent = engine.answer(request.with_prepared(&mut prepared), &mut out);
            black_box((sent, out.len()))
        })
    });
    assert!(out.windows(2).any(|w| w == [0, 46]), "the answers are signed (RRSIG)");
}

criterion_group!(benches, reference, classify, resolve, handle_packet, line_cname, dnssec);
criterion_main!(benches);
