//! The engine on the real carrier lists, APNIC data and MMDB files in `tests/data/geo-data`.

use crate::common;

use std::net::IpAddr;

use common::{real_geo_data, real_snapshot};
use ipnet::IpNet;
use linedns::Snapshot;
use linedns::geo::table::LineId;

/// Sample addresses checked against the lists and MaxMind's ASN/ISP test data, and the
/// carrier each belongs to. `jl-unicom` and `gd-mobile` are children of `unicom` and `mobile`, so an address may
/// land on the child; it must be inside the expected carrier either way.
const SAMPLES: &[(&str, &str)] = &[
    ("49.64.0.1", "telecom"),
    ("183.0.0.1", "telecom"),
    ("27.192.0.1", "unicom"),
    ("39.64.0.1", "unicom"),
    ("111.0.0.1", "mobile"),
    ("120.192.0.1", "mobile"),
    ("36.192.0.1", "mobile"),
    ("202.112.0.1", "cernet"),
    // cernet 101.4.0.0/14 holds chinanet 101.4.0.0/23: the longest prefix wins.
    ("101.4.0.1", "telecom"),
    ("240e::1", "telecom"),
    ("2409:8000::1", "mobile"),
    ("2408:8000::1", "unicom"),
    ("2001:da8::1", "cernet"),
    ("2001:250::1", "cernet"),
    ("223.5.5.5", "domestic"),
    ("8.8.8.8", "default"),
    ("1.1.1.1", "default"),
];

#[test]
fn sample_addresses_classify_to_their_carrier() {
    let snap = real_snapshot();
    let mut wrong = Vec::new();
    for &(addr, carrier) in SAMPLES {
        let addr: IpAddr = addr.parse().unwrap();
        let hit = snap.classifier.classify(addr, 128);
        let want = snap.lines.find(carrier).unwrap();
        // A carrier's child line is fine, but not a sibling or the parent.
        let ok = snap.lines.is_within(hit.line, want) && (carrier == "default" || hit.line != LineId(0));
        if !ok {
            wrong.push(format!("{addr}: {} (want {carrier})", snap.lines.name(hit.line)));
        }
    }
    assert!(wrong.is_empty(), "misclassified: {wrong:?}");
    // The ASN selector and the City subdivision selector really claim addresses.
    let line_of = |a: &str| snap.lines.name(snap.classifier.classify(a.parse().unwrap(), 128).line).to_string();
    assert_eq!(line_of("111.0.0.1"), "gd-mobile", "AS9808 in GeoLite2-ASN-Test");
    assert_eq!(line_of("36.192.0.1"), "mobile", "AS9394 is not selected");
    assert_eq!(line_of("175.16.199.1"), "jl-unicom", "CN-22 (Jilin) in GeoIP2-City-Test");
    assert_eq!(line_of("175.16.200.1"), "unicom", "Jilin's one test network is a /24");
}

#[test]
fn real_lists_compile_with_ties_reported() {
    let snap = real_snapshot();
    let summary = snap.summary();
    let count = |name: &str| summary.lines.iter().find(|l| l.name == name).unwrap().clone();
    assert_eq!(count("telecom").prefixes_v4, 4164);
    assert_eq!(count("unicom").prefixes_v6, 1085);
    assert_eq!(count("mobile").prefixes_v4, 1154);
    assert_eq!(count("cernet").prefixes_v4, 94);
    // china.txt + china6.txt + APNIC's CN IPv6 list (2042 lines).
    assert_eq!(count("domestic").prefixes_v4, 4604);
    assert_eq!(count("domestic").prefixes_v6, 1641 + 2042);
    assert!(count("gd-mobile").prefixes_v4 > 0, "the MMDB ASN selector found networks");
    assert_eq!(count("jl-unicom").prefixes_v4, 1, "175.16.199.0/24, the City test DB's one CN-22 network");
    // The README counts 610 identical prefixes across the operator lists; the four
    // carriers here (v4 + v6) share hundreds, decided by `priority`.
    assert!(summary.ties > 500, "ties: {}", summary.ties);
    let telecom = snap.lines.find("telecom").unwrap();
    let unicom = snap.lines.find("unicom").unwrap();
    let tie = snap.ties.iter().find(|t| t.net.to_string() == "1.119.192.0/21").expect("a known tie");
    assert_eq!((tie.winner, tie.loser), (telecom, unicom), "telecom is listed first in priority");
    // The check-config summary of the binary reports the same count.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .args(["check-config", "--geo-data"])
        .arg(real_geo_data())
        .arg(common::repo_path("rules/china-carriers.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("ties: {} equal prefixes", summary.ties)), "{text}");
}

/// The naive reference: the rules' semantics by linear scan over every source prefix.
/// Top-level lines first (longest prefix, then priority rank), then each level of
/// children, only below the line found so far.
struct Reference {
    /// (network as u128, mask as u128, prefix length, line, is IPv4)
    prefixes: Vec<(u128, u128, u8, LineId, bool)>,
    parents: Vec<Option<LineId>>,
    ranks: Vec<usize>,
}

fn as_bits(addr: IpAddr) -> (u128, bool) {
    match addr {
        IpAddr::V4(a) => (u32::from(a) as u128, true),
        IpAddr::V6(a) => (u128::from(a), false),
    }
}

/// The first `len` bits set, within the family's width.
fn mask(len: u8, v4: bool) -> u128 {
    let (width, all) = if v4 { (32, u32::MAX as u128) } else { (128, u128::MAX) };
    if len == 0 { 0 } else { (all << (width - len as u32)) & all }
}

impl Reference {
    fn new(snap: &Snapshot) -> Self {
        let prefixes = snap
            .prefixes
            .iter()
            .map(|p| {
                let (net, v4) = as_bits(p.net.network());
                (net, mask(p.net.prefix_len(), v4), p.net.prefix_len(), p.line, v4)
            })
            .collect();
        // Ranks as the rules give them: priority list first, then definition order.
        let priority = ["telecom", "unicom", "mobile", "cernet"];
        let ranks = (0..snap.lines.len())
            .map(|l| {
                let name = snap.lines.name(LineId::from_index(l));
                priority.iter().position(|p| *p == name).unwrap_or(priority.len() + l)
            })
            .collect();
        Reference { prefixes, parents: snap.lines.parents.clone(), ranks }
    }

    fn line(&self, addr: u128, v4: bool) -> LineId {
        let mut current: Option<LineId> = None;
        loop {
            let best = self
                .prefixes
                .iter()
                .filter(|p| p.4 == v4 && self.parents[p.3.index()] == current && addr & p.1 == p.0)
                .max_by(|a, b| a.2.cmp(&b.2).then(self.ranks[b.3.index()].cmp(&self.ranks[a.3.index()])));
            match best {
                Some(p) => current = Some(p.3),
                None => return current.unwrap_or(LineId(0)),
            }
        }
    }

    /// Whether some address of `[first, last]` has a line other than `line`. The line can
    /// only change at a prefix boundary, so checking `first` and every boundary inside is
    /// exhaustive.
    fn has_other_line(&self, first: u128, last: u128, v4: bool, line: LineId) -> bool {
        let mut points = vec![first];
        for p in self.prefixes.iter().filter(|p| p.4 == v4) {
            let end = p.0 | !p.1 & if v4 { u32::MAX as u128 } else { u128::MAX };
            for x in [p.0, end.wrapping_add(1)] {
                if x > first && x <= last {
                    points.push(x);
                }
            }
        }
        points.sort_unstable();
        points.dedup();
        points.into_iter().any(|x| self.line(x, v4) != line)
    }
}

fn check_scope_property(v4: bool, samples: usize, seed: u64) {
    let snap = real_snapshot();
    let reference = Reference::new(&snap);
    let width: u32 = if v4 { 32 } else { 128 };
    let all = if v4 { u32::MAX as u128 } else { u128::MAX };
    let family: Vec<&(u128, u128, u8, LineId, bool)> = reference.prefixes.iter().filter(|p| p.4 == v4).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    let rand_bits = |rng: &mut fastrand::Rng| rng.u128(..) & all;
    let mut scopes_longer_than_prefix = 0;
    for i in 0..samples {
        // Half uniform, half inside a random source prefix (where the lines are).
        let addr = if i % 2 == 0 {
            rand_bits(&mut rng)
        } else {
            let p = family[rng.usize(..family.len())];
            p.0 | (rand_bits(&mut rng) & !p.1 & all)
        };
        let ip: IpAddr = if v4 { IpAddr::V4((addr as u32).into()) } else { IpAddr::V6(addr.into()) };
        let hit = snap.classifier.classify(ip, width as u8);
        let want = reference.line(addr, v4);
        assert_eq!(
            hit.line,
            want,
            "{ip}: table says {}, reference {}",
            snap.lines.name(hit.line),
            snap.lines.name(want)
        );

        // Every address of the scope block has the same line.
        let block_mask = mask(hit.scope, v4);
        let first = addr & block_mask;
        let last = first | (!block_mask & all);
        for probe in [first, last, first | (rand_bits(&mut rng) & !block_mask & all)] {
            assert_eq!(reference.line(probe, v4), want, "{ip}: scope /{} is not uniform at {probe:#x}", hit.scope);
        }
        // Minimal: the block one bit shorter holds another line.
        if hit.scope > 0 {
            let wider = mask(hit.scope - 1, v4);
            let (wfirst, wlast) = (addr & wider, (addr & wider) | (!wider & all));
            assert!(reference.has_other_line(wfirst, wlast, v4, want), "{ip}: scope /{} is not minimal", hit.scope);
        }
        // The matched source prefix can be longer or shorter than the scope; count the
        // nested case the matched length would get wrong.
        if let Some(p) = snap.source_prefix(ip, hit.line)
            && p.net.prefix_len() < hit.scope
        {
            scopes_longer_than_prefix += 1;
        }
        // ECS: classifying a random source prefix of the address sees only those bits.
        let source_len = rng.u8(0..=width as u8);
        let masked = addr & mask(source_len, v4);
        assert_eq!(snap.classifier.classify(ip, source_len).line, reference.line(masked, v4), "{ip}/{source_len}");
    }
    assert!(scopes_longer_than_prefix > 0, "the samples never hit a nested prefix of another line");
}

#[test]
fn ecs_scope_is_exact_on_real_lists_v4() {
    check_scope_property(true, 600, 0x1ed5);
}

#[test]
fn ecs_scope_is_exact_on_real_lists_v6() {
    check_scope_property(false, 600, 0x6ed5);
}

#[test]
fn ipv4_mapped_client_is_classified_as_ipv4() {
    let snap = real_snapshot();
    let v4 = snap.classifier.classify("49.64.0.1".parse().unwrap(), 32);
    let mapped = snap.classifier.classify("::ffff:49.64.0.1".parse().unwrap(), 128);
    assert_eq!(v4.line, mapped.line);
    assert_eq!(mapped.scope, v4.scope + 96);
}

#[test]
fn source_of_an_answer_names_file_and_line() {
    let snap = real_snapshot();
    let addr: IpAddr = "49.64.0.1".parse().unwrap();
    let hit = snap.classifier.classify(addr, 32);
    let p = snap.source_prefix(addr, hit.line).unwrap();
    assert_eq!(p.net, "49.64.0.0/11".parse::<IpNet>().unwrap());
    assert!(snap.describe_source(p).ends_with("china-operator-ip/chinanet.txt:326"), "{}", snap.describe_source(p));
}
