//! Lines, fallback chains, and the choice of nodes from a line record's pools.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::answer::Varies;
use super::health::ProbeId;
use crate::geo::table::LineId;
use crate::rdata::{RData, RecordType};

/// A node: its index in the snapshot's node list (nodes are unique by address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// Its index into the node list.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The lines of a snapshot; index 0 is the built-in `default`.
#[derive(Debug, Default)]
pub struct LineTable {
    /// Name of each line.
    pub names: Vec<Box<str>>,
    /// Parent of each line.
    pub parents: Vec<Option<LineId>>,
}

impl LineTable {
    /// The line's name.
    pub fn name(&self, line: LineId) -> &str {
        &self.names[line.index()]
    }

    /// The line with this name.
    pub fn find(&self, name: &str) -> Option<LineId> {
        self.names.iter().position(|n| &**n == name).map(LineId::from_index)
    }

    /// Whether `line` is `ancestor` or below it.
    pub fn is_within(&self, mut line: LineId, ancestor: LineId) -> bool {
        loop {
            if line == ancestor {
                return true;
            }
            match self.parents[line.index()] {
                Some(p) => line = p,
                None => return false,
            }
        }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no lines (never: `default` is built in).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A node: one record's data that pools answer with (an address for A and AAAA, a
/// target name for CNAME, a mail exchanger for MX, ...). Nodes are unique by data.
#[derive(Debug)]
pub struct Node {
    /// The record data answers carry.
    pub data: RData,
    /// The data in zone-file presentation (`192.0.2.1`, `cdn.example.net.`, `10
    /// mx.example.com.`): how operators, overrides and the status page name the node.
    pub key: Box<str>,
}

impl Node {
    /// The node holding `data`.
    pub fn new(data: RData) -> Node {
        let key = data.to_string().into();
        Node { data, key }
    }

    /// Its address, for A and AAAA nodes.
    pub fn addr(&self) -> Option<IpAddr> {
        match self.data {
            RData::A(a) => Some(IpAddr::V4(a)),
            RData::Aaaa(a) => Some(IpAddr::V6(a)),
            _ => None,
        }
    }

    /// Whether an operator's `text` names this node: an address (in any of its
    /// spellings) for an address node; a name (CNAME, NS) in any letter case, with or
    /// without its final dot; any other data exactly as [`Node::key`] shows it.
    pub fn is_named(&self, text: &str) -> bool {
        let text = text.trim();
        if let Ok(addr) = text.parse::<IpAddr>() {
            return self.addr() == Some(addr);
        }
        match self.data {
            RData::Cname(_) | RData::Ns(_) => {
                let bare = |t: &str| t.trim_end_matches('.').to_ascii_lowercase();
                bare(&self.key) == bare(text)
            }
            _ => *self.key == *text,
        }
    }
}

/// What the pool choice knows of node health. [`crate::engine::Live::live_health`] is the
/// view the health checker writes; [`AllUp`] ignores health.
pub trait NodeHealth {
    /// Whether the pool node may be answered.
    fn is_up(&self, node: &PoolNode) -> bool;

    /// An operator's override of a whole pool (line record `record`, line `line`).
    fn pool_override(&self, _record: u32, _line: LineId) -> Option<super::health::Forced> {
        None
    }
}

/// Every node is up.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllUp;

impl NodeHealth for AllUp {
    #[inline]
    fn is_up(&self, _node: &PoolNode) -> bool {
        true
    }
}

/// A node of a pool with its weight and its probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolNode {
    /// The node.
    pub node: NodeId,
    /// Relative weight (1 when the pool is unweighted).
    pub weight: u32,
    /// Its probe; `None`: not health-checked, always up.
    pub probe: Option<ProbeId>,
}

/// How many healthy nodes make a pool usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinHealthy {
    /// At least this many.
    Count(u32),
    /// At least this percentage of the pool (rounded up).
    Percent(u8),
}

impl MinHealthy {
    /// Healthy nodes a pool of `total` needs (at least 1).
    pub fn required(self, total: usize) -> usize {
        match self {
            MinHealthy::Count(n) => n as usize,
            MinHealthy::Percent(p) => (total * usize::from(p)).div_ceil(100),
        }
        .max(1)
    }
}

/// What a line record answers when no pool of the chain is usable.
#[derive(Debug)]
pub enum WhenAllDown {
    /// The first pool of the chain, whole: an answer beats none.
    FailOpen,
    /// SERVFAIL: resolvers try another server or keep their cache.
    ServFail,
    /// These nodes, whole.
    LastResort(Pool),
}

/// The types a line record may have: the addresses; a CNAME per line (multi-CDN: each
/// carrier's clients sent to another provider's name); the types operators keep per line
/// at the carrier DNS providers (MX, TXT for verification, SRV, CAA; NS below the apex: a
/// delegation per line); HTTPS and SVCB (RFC 9460), which carry per-provider hints as
/// A/AAAA do. Not taken: SOA and the apex NS (the zone's own: one set for secondaries
/// and the parent), PTR (reverse zones are not split by line), DNSSEC types (made by the
/// signer).
pub const LINE_TYPES: [RecordType; 10] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::NS,
    RecordType::CAA,
    RecordType::HTTPS,
    RecordType::SVCB,
];

/// The nodes one line gets for one line record.
#[derive(Debug)]
pub struct Pool {
    /// The line the pool is for.
    pub line: LineId,
    /// Its nodes in the order written.
    pub nodes: Box<[PoolNode]>,
    /// Whether any weight differs from 1.
    pub weighted: bool,
}

/// A name + type answered per line.
#[derive(Debug)]
pub struct LineRecord {
    /// Owner name (normalized), for explanations.
    pub name: Box<str>,
    /// One of [`LINE_TYPES`].
    pub rtype: RecordType,
    /// TTL of answers.
    pub ttl: u32,
    /// Most records in one answer (1 for a CNAME: RFC 2181 §10.1, a CNAME set has one
    /// record).
    pub max_answers: u16,
    /// The pools.
    pub pools: Box<[Pool]>,
    /// Pool of each line, indexed by line.
    pub pool_of_line: Box<[Option<u16>]>,
    /// For each client line, the lines to try in order: the line itself, then its chain,
    /// ending with `default`.
    pub chains: Box<[Box<[LineId]>]>,
    /// Healthy nodes a pool needs to be used.
    pub min_healthy: MinHealthy,
    /// TTL of answers from a fallback, a pool with down nodes, or the all-down policy.
    pub degraded_ttl: u32,
    /// The all-down policy.
    pub when_all_down: WhenAllDown,
}

/// How a pool's nodes are picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// For a query, from its entropy (random bits): rotated, or drawn by weight.
    Query(u64),
    /// For a zone's view (export, transfers): the same nodes every time, the heaviest
    /// first.
    View,
}

/// Up to this many nodes are chosen without allocating.
pub type Chosen = SmallVec<[NodeId; 16]>;

/// The nodes of a pool that may answer, read once per query.
pub type Candidates = SmallVec<[PoolNode; 16]>;

impl Pool {
    /// The nodes `keep` accepts, in the written order. Health is read here once, so the
    /// count a policy checks and the nodes then chosen come from the same read.
    pub fn candidates(&self, keep: impl Fn(&PoolNode) -> bool) -> Candidates {
        self.nodes.iter().copied().filter(|n| keep(n)).collect()
    }

    /// Chooses up to `max` nodes among those `keep` accepts (see [`Pool::pick`]).
    pub fn choose(&self, max: usize, how: Pick, keep: impl Fn(&PoolNode) -> bool) -> Chosen {
        self.pick(self.candidates(keep), max, how)
    }

    /// How [`Pool::pick`] among `candidates` nodes depends on its entropy.
    pub fn varies(&self, candidates: usize) -> Varies {
        match (candidates, self.weighted) {
            (0 | 1, _) => Varies::Not,
            (_, true) => Varies::Draw,
            (n, false) => u16::try_from(n).map_or(Varies::Draw, Varies::Rotation),
        }
    }

    /// Chooses up to `max` of `candidates`.
    ///
    /// For a query ([`Pick::Query`]), unweighted pools return the nodes in the written
    /// order, rotated by the entropy so that clients taking the first address spread over
    /// all of them; weighted pools draw without replacement, each draw proportional to
    /// the weights left, so the first address is node *i* with probability
    /// `weight_i / total`. For a view ([`Pick::View`]) the choice is the same every time:
    /// the written order, or for a weighted pool the heaviest nodes first (ties in the
    /// written order), so a weighted pool with `max_answers: 1` exports its heaviest node.
    pub fn pick(&self, mut candidates: Candidates, max: usize, how: Pick) -> Chosen {
        let mut out = Chosen::new();
        if candidates.is_empty() {
            return out;
        }
        let entropy = match how {
            Pick::Query(entropy) => entropy,
            Pick::View => {
                if self.weighted {
                    // Stable: equal weights keep the written order.
                    candidates.sort_by_key(|n| std::cmp::Reverse(n.weight));
                }
                out.extend(candidates.iter().take(max).map(|n| n.node));
                return out;
            }
        };
        if !self.weighted {
            let n = candidates.len();
            let start = (entropy % n as u64) as usize;
            out.extend((0..n.min(max)).map(|i| candidates[(start + i) % n].node));
            return out;
        }
        let mut rng = SplitMix64(entropy);
        while out.len() < max && !candidates.is_empty() {
            let total: u64 = candidates.iter().map(|n| u64::from(n.weight)).sum();
            let mut draw = rng.next() % total;
            let pick = candidates
                .iter()
                .position(|n| {
                    let w = u64::from(n.weight);
                    if draw < w {
                        true
                    } else {
                        draw -= w;
                        false
                    }
                })
                .expect("draw < total");
            out.push(candidates.remove(pick).node);
        }
        out
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator for per-query
/// choices from the caller's entropy.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(weights: &[u32]) -> Pool {
        let nodes: Vec<PoolNode> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| PoolNode { node: NodeId(i as u32), weight: w, probe: None })
            .collect();
        Pool { line: LineId(0), weighted: weights.iter().any(|&w| w != 1), nodes: nodes.into() }
    }

    /// The chosen nodes' indexes.
    fn ids(chosen: Chosen) -> Vec<u32> {
        chosen.iter().map(|n| n.0).collect()
    }

    #[test]
    fn unweighted_rotates_and_caps() {
        let p = pool(&[1, 1, 1]);
        assert_eq!(ids(p.choose(8, Pick::Query(0), |_| true)), [0, 1, 2]);
        assert_eq!(ids(p.choose(2, Pick::Query(1), |_| true)), [1, 2]);
        assert_eq!(ids(p.choose(8, Pick::Query(0), |n| n.node != NodeId(1))), [0, 2]);
    }

    #[test]
    fn min_healthy_counts_and_shares() {
        assert_eq!(MinHealthy::Count(2).required(5), 2);
        assert_eq!(MinHealthy::Percent(50).required(5), 3);
        assert_eq!(MinHealthy::Percent(1).required(5), 1);
        assert_eq!(MinHealthy::Count(0).required(5), 1);
    }

    #[test]
    fn weighted_draws_all_without_repeats() {
        let p = pool(&[5, 1, 1]);
        for e in 0..100 {
            let mut got = ids(p.choose(8, Pick::Query(e), |_| true));
            got.sort();
            assert_eq!(got, [0, 1, 2]);
        }
    }
}
