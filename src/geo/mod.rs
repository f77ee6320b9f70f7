//! Geo sources → one prefix table per address family → line and ECS scope per client.
//!
//! * [`lists`]: CIDR list files and RIR delegated-statistics files.
//! * [`mmdb`]: MaxMind-format databases, flattened at compile time.
//! * [`table`]: the partition of the address space and its lookup.
//! * [`Classifier`]: both families, built from every line's prefixes.

pub mod bits;
pub mod lists;
pub mod mmdb;
pub mod table;

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use bits::AddrBits;
use table::{Block, ChangePoints, Hit, LineId, PrefixTable, overlay, paint};

/// The line every address belongs to when no source claims it.
pub const DEFAULT_LINE: LineId = LineId(0);

/// What the classifier needs to know of a line.
#[derive(Clone, Copy, Debug)]
pub struct LineShape {
    /// Parent line: a child only claims addresses that classify to its parent.
    pub parent: Option<LineId>,
    /// Rank for equal prefixes in two lines: lower wins.
    pub rank: u32,
}

/// A prefix assigned to a line.
#[derive(Clone, Copy, Debug)]
pub struct LinePrefix {
    /// The network.
    pub net: IpNet,
    /// The line it belongs to.
    pub line: LineId,
}

/// An equal prefix found in two lines of the same level; `winner` has the better rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tie {
    /// The prefix.
    pub net: IpNet,
    /// Line that got it.
    pub winner: LineId,
    /// Line that lost it.
    pub loser: LineId,
}

/// Classifies client addresses into lines, with the RFC 7871 scope of each answer.
#[derive(Debug)]
pub struct Classifier {
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
}

impl Classifier {
    /// Builds both tables. Returns the classifier and the ties that priority decided.
    ///
    /// Lines are painted level by level: first every line without a parent (longest
    /// prefix wins; an equal prefix in two lines goes to the better rank), then the
    /// children of each line, only over addresses their parent owns, and so on down.
    pub fn build(lines: &[LineShape], prefixes: &[LinePrefix]) -> (Self, Vec<Tie>) {
        let mut ties = Vec::new();
        let v4 = build_family::<u32>(lines, prefixes, &mut ties, |net| match net {
            IpNet::V4(n) => Some(Block { start: u32::from(n.network()), len: n.prefix_len() }),
            IpNet::V6(_) => None,
        });
        let v6 = build_family::<u128>(lines, prefixes, &mut ties, |net| match net {
            IpNet::V6(n) => Some(Block { start: u128::from(n.network()), len: n.prefix_len() }),
            IpNet::V4(_) => None,
        });
        (Classifier { v4, v6 }, ties)
    }

    /// The line of `addr` and the ECS scope, looking only at its first `source_prefix_len`
    /// bits (pass the family's full width for a plain source address).
    ///
    /// RFC 7871 §7.2.1: the scope may be longer than the source prefix; that tells the
    /// resolver the source prefix was too short to pick the best answer. IPv4-mapped IPv6
    /// addresses are classified as the IPv4 address they carry (scope counted in IPv6 bits).
    #[inline]
    pub fn classify(&self, addr: IpAddr, source_prefix_len: u8) -> Hit {
        match table_key(addr, source_prefix_len) {
            TableKey::V4(key) => self.v4.lookup(key),
            TableKey::Mapped(key) => {
                // The scope stays in the family's bits: a /24 of the IPv4 address is /120.
                let hit = self.v4.lookup(key);
                Hit { scope: hit.scope + 96, ..hit }
            }
            TableKey::V6(key) => self.v6.lookup(key),
        }
    }

    /// Loads what [`Classifier::classify`] of each `(addr, source_prefix_len)` reads
    /// (see [`table::PrefixTable::prefetch_batch`]): for a host that classifies a batch,
    /// so that the lookups then find their memory in the cache.
    pub fn prefetch_batch(&self, clients: &[(IpAddr, u8)]) {
        const GROUP: usize = 32;
        for group in clients.chunks(GROUP) {
            let (mut v4, mut n4) = ([0u32; GROUP], 0);
            let (mut v6, mut n6) = ([0u128; GROUP], 0);
            for &(addr, source_prefix_len) in group {
                match table_key(addr, source_prefix_len) {
                    TableKey::V4(key) | TableKey::Mapped(key) => {
                        v4[n4] = key;
                        n4 += 1;
                    }
                    TableKey::V6(key) => {
                        v6[n6] = key;
                        n6 += 1;
                    }
                }
            }
            self.v4.prefetch_batch(&v4[..n4]);
            self.v6.prefetch_batch(&v6[..n6]);
        }
    }

    /// Number of blocks in the (IPv4, IPv6) tables.
    pub fn block_counts(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Every IPv4 block with its line, in address order.
    pub fn v4_blocks(&self) -> impl Iterator<Item = (Block<u32>, LineId)> + '_ {
        self.v4.blocks()
    }

    /// Every IPv6 block with its line, in address order.
    pub fn v6_blocks(&self) -> impl Iterator<Item = (Block<u128>, LineId)> + '_ {
        self.v6.blocks()
    }
}

/// Which table a client address is looked up in, and the key: its first
/// `source_prefix_len` bits.
enum TableKey {
    /// An IPv4 address.
    V4(u32),
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), looked up as the IPv4 address it
    /// carries; its source prefix counts IPv6 bits.
    Mapped(u32),
    /// Any other IPv6 address.
    V6(u128),
}

#[inline]
fn table_key(addr: IpAddr, source_prefix_len: u8) -> TableKey {
    match addr {
        IpAddr::V4(a) => TableKey::V4(u32::from(a).network(source_prefix_len.min(32))),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => TableKey::Mapped(u32::from(v4).network(source_prefix_len.saturating_sub(96).min(32))),
            None => TableKey::V6(u128::from(a).network(source_prefix_len.min(128))),
        },
    }
}

/// Depth of a line in the parent tree (a line without parent is at depth 0). The caller
/// has rejected parent cycles.
fn depth(lines: &[LineShape], mut line: LineId) -> usize {
    let mut d = 0;
    while let Some(p) = lines[line.index()].parent {
        line = p;
        d += 1;
    }
    d
}

/// Lines painted together: same depth, same parent.
type GroupKey = (usize, Option<LineId>);

/// A group's blocks, each with the prefix as written and the line that holds it.
type GroupBlocks<K> = FxHashMap<Block<K>, (IpNet, LineId)>;

fn build_family<K: AddrBits>(
    lines: &[LineShape],
    prefixes: &[LinePrefix],
    ties: &mut Vec<Tie>,
    to_block: impl Fn(IpNet) -> Option<Block<K>>,
) -> PrefixTable<K> {
    // Group the family's prefixes by (depth, parent): each group is painted on its own.
    let mut groups: Vec<(GroupKey, GroupBlocks<K>)> = Vec::new();
    for p in prefixes {
        let Some(block) = to_block(p.net) else { continue };
        let key = (depth(lines, p.line), lines[p.line.index()].parent);
        let pos = match groups.iter().position(|(k, _)| *k == key) {
            Some(pos) => pos,
            None => {
                groups.push((key, FxHashMap::default()));
                groups.len() - 1
            }
        };
        let group = &mut groups[pos].1;
        match group.get_mut(&block) {
            None => {
                group.insert(block, (p.net, p.line));
            }
            Some((_, held)) if *held == p.line => {}
            Some((net, held)) => {
                let (winner, loser) = if lines[p.line.index()].rank < lines[(*held).index()].rank {
                    (p.line, *held)
                } else {
                    (*held, p.line)
                };
                ties.push(Tie { net: *net, winner, loser });
                *held = winner;
            }
        }
    }
    groups.sort_by_key(|((d, _), _)| *d);

    let mut full: ChangePoints<K, LineId> = vec![(K::ZERO, DEFAULT_LINE)];
    for ((_, parent), group) in groups {
        let blocks: Vec<(Block<K>, LineId)> = group.into_iter().map(|(b, (_, l))| (b, l)).collect();
        let painted = paint(blocks);
        full = overlay(&full, &painted, |base, claim| match (parent, claim) {
            (None, Some(line)) => line,
            (Some(parent), Some(line)) if base == parent => line,
            _ => base,
        });
    }
    PrefixTable::from_segments(&full)
}
