//! The compiled prefix table: a partition of one address family into CIDR blocks, each
//! labelled with a line, from which a lookup returns the line *and* the ECS scope.
//!
//! Building happens in three steps, all at compile time:
//!
//! 1. [`paint`]: the source prefixes of one group of lines become a list of change points
//!    ("from this address on, the owner is X"). Longest prefix wins; equal prefixes were
//!    already reduced to one by line priority.
//! 2. [`overlay`]: child lines only claim addresses that their parent owns.
//! 3. [`PrefixTable::from_segments`]: adjacent ranges with the same line are merged and every
//!    range is split into its *maximal aligned blocks*.
//!
//! RFC 7871 §7.2.1: "SCOPE PREFIX-LENGTH ... indicating the number of leftmost bits of the
//! FAMILY-specific ADDRESS that the Authoritative Nameserver used to determine the
//! response". The answer for an address holds for every address of the block it falls in
//! (the block lies inside one merged range), and the block one bit shorter leaves the range
//! and so holds another line (neighbouring merged ranges differ). The block's length is
//! therefore the shortest correct scope, as gdnsd computes it — not the matched source
//! prefix's length, which would be wrong whenever a more specific prefix of another line
//! sits inside it.

use super::bits::AddrBits;

/// A line: the index into the snapshot's line list (`default` is 0). A newtype, so that
/// a line can never be passed where a node or a probe is meant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct LineId(pub u16);

impl LineId {
    /// The built-in catch-all line `default`.
    pub const DEFAULT: LineId = LineId(0);

    /// The line at `index` of the line list.
    #[inline]
    pub fn from_index(index: usize) -> LineId {
        LineId(index as u16)
    }

    /// Its index into the line list (and into tables indexed by line).
    #[inline]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// One CIDR block of a source, already reduced to integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Block<K> {
    /// Network address (host bits are zero).
    pub start: K,
    /// Prefix length.
    pub len: u8,
}

impl<K: AddrBits> Block<K> {
    /// The last address of the block.
    pub fn last(self) -> K {
        self.start.block_last(self.len)
    }

    /// Whether `addr` falls inside the block.
    pub fn contains(self, addr: K) -> bool {
        addr.network(self.len) == self.start
    }
}

/// "From `.0` on (up to the next change point), the owner is `.1`."
pub type ChangePoints<K, O> = Vec<(K, O)>;

/// Paints blocks over the whole address space: the owner at each address is the line of
/// the longest block containing it, `None` where no block does.
///
/// `blocks` must hold each network once (ties between lines resolved by the caller).
pub fn paint<K: AddrBits>(mut blocks: Vec<(Block<K>, LineId)>) -> ChangePoints<K, Option<LineId>> {
    blocks.sort_unstable_by_key(|(b, _)| (b.start, b.len));
    let mut out: ChangePoints<K, Option<LineId>> = vec![(K::ZERO, None)];
    // Open blocks, outermost first: (last address, line). CIDR blocks never partly overlap,
    // so a block that starts before the top's end lies inside it.
    let mut open: Vec<(K, LineId)> = Vec::new();
    let close_until = |open: &mut Vec<(K, LineId)>, out: &mut ChangePoints<K, Option<LineId>>, before: Option<K>| {
        while let Some(&(last, _)) = open.last() {
            if before.is_some_and(|start| last >= start) {
                break;
            }
            open.pop();
            if let Some(resume_at) = last.next() {
                out.push((resume_at, open.last().map(|&(_, line)| line)));
            }
        }
    };
    for (block, line) in blocks {
        close_until(&mut open, &mut out, Some(block.start));
        out.push((block.start, Some(line)));
        open.push((block.last(), line));
    }
    close_until(&mut open, &mut out, None);
    normalize(out)
}

/// Keeps the last owner pushed at each position and drops change points that do not change
/// the owner.
fn normalize<K: AddrBits, O: Copy + PartialEq>(points: ChangePoints<K, O>) -> ChangePoints<K, O> {
    let mut out: ChangePoints<K, O> = Vec::with_capacity(points.len());
    for (at, owner) in points {
        if let Some(prev) = out.last_mut()
            && prev.0 == at
        {
            prev.1 = owner;
            // The replaced point may now repeat the one before it.
            if out.len() >= 2 && out[out.len() - 2].1 == owner {
                out.pop();
            }
            continue;
        }
        if out.last().is_some_and(|prev| prev.1 == owner) {
            continue;
        }
        out.push((at, owner));
    }
    out
}

/// Combines two partitions of the same space segment by segment with `pick`.
pub fn overlay<K: AddrBits, A: Copy, B: Copy, O: Copy + PartialEq>(
    base: &ChangePoints<K, A>,
    top: &ChangePoints<K, B>,
    pick: impl Fn(A, B) -> O,
) -> ChangePoints<K, O> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(base.len() + top.len());
    // Both lists start at address zero, so the current owners are always defined.
    while i < base.len() || j < top.len() {
        let at = match (base.get(i), top.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => unreachable!("loop condition"),
        };
        while base.get(i).is_some_and(|p| p.0 == at) {
            i += 1;
        }
        while top.get(j).is_some_and(|p| p.0 == at) {
            j += 1;
        }
        out.push((at, pick(base[i - 1].1, top[j - 1].1)));
    }
    normalize(out)
}

/// What a lookup returns: the line and the ECS scope (the block's prefix length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Line of the block.
    pub line: LineId,
    /// Length of the largest aligned block around the address that is all one line.
    pub scope: u8,
}

/// A leaf of the index holds at most this many IPv4 blocks (more only at the full
/// address width): the search at the end reads two cache lines of first addresses.
const LEAF_BLOCKS_V4: usize = 24;

/// The same for IPv6, whose first addresses are four times as wide.
const LEAF_BLOCKS_V6: usize = 8;

/// Blocks a leaf holds at most, for addresses of type `K`.
const fn leaf_blocks<K: AddrBits>() -> usize {
    if K::BITS == 32 { LEAF_BLOCKS_V4 } else { LEAF_BLOCKS_V6 }
}

/// Most bits the root node of the index consumes (for the largest tables).
const ROOT_STRIDE: u32 = 16;

/// Least bits the root node consumes.
const MIN_ROOT_STRIDE: u32 = 8;

/// The root's stride for a table of `blocks` blocks: about a third of a leaf per entry,
/// as for every node, so that a small table's index stays small enough to stay in the
/// caches between the kernel's work for each batch (the real lists: 12 bits for IPv4,
/// 14 for IPv6, 32 KB and 128 KB of root instead of 512 KB each).
fn root_stride<K: AddrBits>(blocks: usize) -> u32 {
    let per_entry = (leaf_blocks::<K>() / 3).max(1);
    (usize::BITS - (blocks / per_entry).max(1).leading_zeros()).clamp(MIN_ROOT_STRIDE, ROOT_STRIDE)
}

/// Widest stride of an inner node.
const MAX_STRIDE: u32 = 16;

/// Walks [`PrefixTable::prefetch_batch`] keeps in flight together.
const PREFETCH_GROUP: usize = 32;

/// IPv4 tables of at least this many blocks also get a [`Direct`] index: past the
/// caches, the adaptive index costs a lookup four cache lines from memory (slot, first
/// addresses, lines), the direct index one. The real lists (about 28,000 IPv4 blocks) and
/// the 100,000-prefix set (about 180,000) stay below it and keep their 64 MB.
const DIRECT_FROM_BLOCKS: usize = 250_000;

/// `Slot::child` of a leaf.
const LEAF: u32 = u32::MAX;

/// Bits of `Slot::child` that hold the child's stride (1 to 16).
const STRIDE_BITS: u32 = 5;

/// Children may start at slot offsets below this (`Slot::child` packs offset and stride).
const MAX_CHILD_BASE: usize = 1 << (32 - STRIDE_BITS);

/// One entry of an index node: the blocks whose addresses begin with this entry's bits.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Index of the first block starting at or after this entry's first address. The
    /// entry's blocks run up to the next entry's `first` (each node ends with a marker).
    first: u32,
    /// `LEAF`, or the child node that splits this entry further: its offset in `slots`
    /// shifted left by `STRIDE_BITS`, or'ed with its stride.
    child: u32,
}

/// A partition of one address family into maximal aligned blocks, each with its line.
///
/// Lookup walks an index of nodes, each consuming the next few bits of the address (the
/// root 8 to 16 by the table's size, then as many as its share of blocks needs: about a
/// third of a leaf per entry),
/// down to a leaf of a few blocks (24 IPv4, 8 IPv6), which it halves. The index
/// follows the data: the real lists crowd IPv6 into a few /16s (2408::, 240e::) and
/// synthetic million-prefix sets into every /16, and both end in small leaves, so a
/// lookup reads a few cache lines however large the table grows.
#[derive(Debug)]
pub struct PrefixTable<K> {
    /// First address of every block, ascending; the first is zero.
    starts: Box<[K]>,
    /// Line and prefix length of every block, parallel to `starts`.
    hits: Box<[Hit]>,
    /// All index nodes; the root's `2^root_stride + 1` slots come first (empty when
    /// `direct` is set).
    slots: Box<[Slot]>,
    /// Bits the root consumes ([`root_stride`]).
    root_stride: u32,
    /// For large IPv4 tables, the direct index that lookups use instead of `slots`.
    direct: Option<Direct>,
}

/// A direct index of IPv4 by its first 24 bits (as DIR-24-8 routers do, but with the
/// few split /24s searched in `starts` instead of a second 256-entry level, which would
/// cost up to 1 KB for each of them): one 4-byte entry per /24, 64 MB in all.
///
/// An entry is either the [`Hit`] of the block that holds the whole /24 (the line in the
/// low 16 bits, the scope in the next 8), or, with [`Direct::SPLIT`] set, where the /24's
/// blocks (all longer than /24) lie in `starts`: the first one's index in bits 8–30 and
/// their count less one in bits 0–7.
#[derive(Debug)]
struct Direct {
    entries: Box<[u32]>,
}

impl Direct {
    /// Marks an entry that points into `starts`.
    const SPLIT: u32 = 1 << 31;

    /// Tables of at most this many blocks fit the 23 bits of an entry's first index.
    const MAX_BLOCKS: usize = 1 << 23;

    /// The index for a table's blocks (which must be IPv4).
    fn build<K: AddrBits>(starts: &[K], hits: &[Hit]) -> Direct {
        debug_assert_eq!(K::BITS, 32);
        let mut entries = vec![0u32; 1 << 24].into_boxed_slice();
        let mut split_open = None;
        for (k, (&start, hit)) in starts.iter().zip(hits).enumerate() {
            let at = start.bits_at(0, 24);
            if hit.scope <= 24 {
                let whole = u32::from(hit.line.0) | u32::from(hit.scope) << 16;
                entries[at..at + (1 << (24 - hit.scope))].fill(whole);
            } else if split_open == Some(at) {
                // Another block of this /24 (at most 256 in all: the count fits 8 bits).
                entries[at] += 1;
            } else {
                entries[at] = Self::SPLIT | (k as u32) << 8;
                split_open = Some(at);
            }
        }
        Direct { entries }
    }

    /// The entry for `addr`: a hit, or the range of `starts` to search.
    #[inline]
    fn entry<K: AddrBits>(&self, addr: K) -> Result<Hit, (usize, usize)> {
        let entry = self.entries[addr.bits_at(0, 24)];
        if entry & Self::SPLIT == 0 {
            return Ok(Hit { line: LineId(entry as u16), scope: (entry >> 16) as u8 });
        }
        let first = ((entry & !Self::SPLIT) >> 8) as usize;
        Err((first, first + (entry & 0xff) as usize + 1))
    }
}

impl<K: AddrBits> PrefixTable<K> {
    /// Builds the table from a complete partition (change points starting at zero).
    pub fn from_segments(points: &ChangePoints<K, LineId>) -> Self {
        Self::with_direct_from(points, DIRECT_FROM_BLOCKS)
    }

    /// [`PrefixTable::from_segments`], with a direct index for IPv4 tables of at least
    /// `direct_from` blocks (the tests build small ones).
    fn with_direct_from(points: &ChangePoints<K, LineId>, direct_from: usize) -> Self {
        let points = normalize(points.clone());
        debug_assert!(points.first().is_some_and(|p| p.0 == K::ZERO));
        let (mut starts, mut hits) = (Vec::with_capacity(points.len() * 4), Vec::with_capacity(points.len() * 4));
        for (k, &(first, line)) in points.iter().enumerate() {
            let last = match points.get(k + 1) {
                Some(&(next, _)) => prev(next),
                None => K::block_last(K::ZERO, 0),
            };
            for block in maximal_blocks(first, last) {
                starts.push(block.start);
                hits.push(Hit { line, scope: block.len });
            }
        }
        let direct = (K::BITS == 32 && (direct_from..Direct::MAX_BLOCKS).contains(&starts.len()))
            .then(|| Direct::build(&starts, &hits));
        // The adaptive index, unless the direct one replaces it.
        let mut slots = Vec::new();
        let root_stride = root_stride::<K>(starts.len());
        if direct.is_none() {
            slots.reserve((1 << root_stride) + 1 + starts.len() / 2);
            add_node(&starts, &mut slots, 0..starts.len(), 0, root_stride);
        }
        PrefixTable { starts: starts.into(), hits: hits.into(), slots: slots.into(), root_stride, direct }
    }

    /// The blocks of the leaf `addr` falls in, as a range of `starts`.
    #[inline]
    fn leaf(&self, addr: K) -> (usize, usize) {
        let (mut base, mut depth, mut stride) = (0usize, 0u32, self.root_stride);
        loop {
            let at = base + addr.bits_at(depth, stride);
            let slot = self.slots[at];
            if slot.child == LEAF {
                return (slot.first as usize, self.slots[at + 1].first as usize);
            }
            depth += stride;
            base = (slot.child >> STRIDE_BITS) as usize;
            stride = slot.child & ((1 << STRIDE_BITS) - 1);
        }
    }

    /// The block holding `addr`: its line and its length (the ECS scope).
    #[inline]
    pub fn lookup(&self, addr: K) -> Hit {
        let (lo, hi) = match &self.direct {
            Some(direct) => match direct.entry(addr) {
                Ok(hit) => return hit,
                Err(split) => split,
            },
            None => self.leaf(addr),
        };
        let below = self.starts[lo..hi].partition_point(|&s| s <= addr);
        // The first block starts at zero, so some block starts at or before `addr`: either
        // inside this leaf or as the last block of an earlier one.
        let at = lo + below - 1;
        self.hits[at]
    }

    /// Asks the CPU to load what [`PrefixTable::lookup`] of each of `addrs` reads, so
    /// that a batch of lookups waits for memory about once per index level instead of
    /// once per level and lookup: one pass per level, each pass reading the slots the
    /// previous pass asked for and asking for the next (every walk of a group in flight
    /// together), and at each leaf its first addresses and lines. A hint only: it changes
    /// no result.
    pub fn prefetch_batch(&self, addrs: &[K]) {
        if let Some(direct) = &self.direct {
            return self.prefetch_direct(direct, addrs);
        }
        for group in addrs.chunks(PREFETCH_GROUP) {
            // Per walk: the slot it reads next, and the address bits used once it has.
            let mut at = [0usize; PREFETCH_GROUP];
            let mut used = [self.root_stride; PREFETCH_GROUP];
            for (k, &addr) in group.iter().enumerate() {
                at[k] = addr.bits_at(0, self.root_stride);
                prefetch(&self.slots[at[k]]);
            }
            let mut walking = group.len();
            while walking > 0 {
                walking = 0;
                for (k, &addr) in group.iter().enumerate() {
                    if at[k] == usize::MAX {
                        continue;
                    }
                    let slot = self.slots[at[k]];
                    if slot.child == LEAF {
                        let (lo, hi) = (slot.first as usize, self.slots[at[k] + 1].first as usize);
                        let last = self.starts.len() - 1;
                        let (lo, hi) = (lo.saturating_sub(1).min(last), hi.saturating_sub(1).min(last));
                        prefetch(&self.starts[lo]);
                        prefetch(&self.starts[hi]);
                        prefetch(&self.hits[lo]);
                        prefetch(&self.hits[hi]);
                        at[k] = usize::MAX;
                        continue;
                    }
                    let stride = slot.child & ((1 << STRIDE_BITS) - 1);
                    at[k] = (slot.child >> STRIDE_BITS) as usize + addr.bits_at(used[k], stride);
                    used[k] += stride;
                    prefetch(&self.slots[at[k]]);
                    walking += 1;
                }
            }
        }
    }

    /// [`PrefixTable::prefetch_batch`] through the direct index: every entry, then the
    /// blocks of the split /24s among them.
    fn prefetch_direct(&self, direct: &Direct, addrs: &[K]) {
        for &addr in addrs {
            prefetch(&direct.entries[addr.bits_at(0, 24)]);
        }
        for &addr in addrs {
            if let Err((lo, _)) = direct.entry(addr) {
                prefetch(&self.starts[lo]);
                prefetch(&self.hits[lo]);
            }
        }
    }

    /// Number of blocks in the table.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the table has no blocks (never true for a built table).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Every block with its line, in address order.
    pub fn blocks(&self) -> impl Iterator<Item = (Block<K>, LineId)> + '_ {
        self.starts.iter().zip(self.hits.iter()).map(|(&start, hit)| (Block { start, len: hit.scope }, hit.line))
    }
}

/// Appends a node of `stride` bits for the blocks `range` (which share their first `depth`
/// bits) and, below it, a child for every entry holding more blocks than a leaf.
/// Returns the node's offset in `slots`.
fn add_node<K: AddrBits>(
    starts: &[K],
    slots: &mut Vec<Slot>,
    range: std::ops::Range<usize>,
    depth: u32,
    stride: u32,
) -> usize {
    let base = slots.len();
    let blocks = &starts[range.clone()];
    for j in 0..=(1usize << stride) {
        let first = range.start + blocks.partition_point(|s| s.bits_at(depth, stride) < j);
        slots.push(Slot { first: first as u32, child: LEAF });
    }
    let room = u32::from(K::BITS) - depth - stride;
    for j in 0..(1usize << stride) {
        let (lo, hi) = (slots[base + j].first as usize, slots[base + j + 1].first as usize);
        // A table too large for the packed offsets keeps longer leaves (searched by
        // halving) instead of failing.
        if hi - lo <= leaf_blocks::<K>() || room == 0 || slots.len() >= MAX_CHILD_BASE {
            continue;
        }
        // About a third of a leaf's blocks per entry of the child.
        let want = usize::BITS - ((hi - lo) / (leaf_blocks::<K>() / 3)).leading_zeros() - 1;
        let child_stride = want.clamp(1, MAX_STRIDE.min(room));
        let child = add_node(starts, slots, lo..hi, depth + stride, child_stride);
        slots[base + j].child = ((child as u32) << STRIDE_BITS) | child_stride;
    }
    base
}

/// A prefetch hint for the cache line holding `value` (a no-op off x86-64).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing and faults on nothing; the pointer is valid anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch((value as *const T).cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// `x - 1` for `x > 0` (`low_ones(1)` is the value one).
fn prev<K: AddrBits>(x: K) -> K {
    x.distance(K::low_ones(1))
}

/// Splits `[first, last]` into its maximal aligned blocks, in address order.
///
/// Every aligned block inside the range is contained in exactly one of them, so the block
/// returned for an address is the largest aligned block around it that stays in the range.
pub fn maximal_blocks<K: AddrBits>(first: K, last: K) -> impl Iterator<Item = Block<K>> {
    let mut cursor = Some(first);
    std::iter::from_fn(move || {
        let start = cursor?;
        if start > last {
            return None;
        }
        let room = last.distance(start); // block size - 1 may not exceed this
        let mut k = start.trailing_zeros().min(K::BITS as u32);
        while K::low_ones(k) > room {
            k -= 1;
        }
        let len = K::BITS - k as u8;
        let block = Block { start, len };
        cursor = block.last().next();
        Some(block)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use LineId as L;

    fn b(start: u32, len: u8) -> Block<u32> {
        Block { start, len }
    }

    #[test]
    fn maximal_blocks_of_ranges() {
        let got: Vec<_> = maximal_blocks(0u32, u32::MAX).collect();
        assert_eq!(got, vec![b(0, 0)]);
        let got: Vec<_> = maximal_blocks(1u32, 6).collect();
        assert_eq!(got, vec![b(1, 32), b(2, 31), b(4, 31), b(6, 32)]);
        let got: Vec<_> = maximal_blocks(0x0a00_0000u32, 0x0aff_ffff).collect();
        assert_eq!(got, vec![b(0x0a00_0000, 8)]);
    }

    #[test]
    fn nested_prefix_splits_the_scope() {
        // 10.0.0.0/8 is line 1 with 10.1.0.0/16 of line 2 inside it.
        let pts = paint(vec![(b(0x0a00_0000, 8), L(1)), (b(0x0a01_0000, 16), L(2))]);
        let full = overlay(&pts, &pts, |a, _| a.unwrap_or(L(0)));
        let table = PrefixTable::from_segments(&full);
        assert_eq!(table.lookup(0x0a01_0203), Hit { line: L(2), scope: 16 });
        // 10.0.x.x: the largest single-line block around it is 10.0.0.0/16, not the /8.
        assert_eq!(table.lookup(0x0a00_0001), Hit { line: L(1), scope: 16 });
        assert_eq!(table.lookup(0x0a80_0001), Hit { line: L(1), scope: 9 });
        assert_eq!(table.lookup(0x0b00_0000), Hit { line: L(0), scope: 8 });
        assert_eq!(table.lookup(0), Hit { line: L(0), scope: 5 });
        assert_eq!(table.lookup(u32::MAX), Hit { line: L(0), scope: 1 });
    }

    #[test]
    fn adjacent_equal_lines_merge() {
        let pts = paint(vec![(b(0x0a00_0000, 9), L(1)), (b(0x0a80_0000, 9), L(1))]);
        let full = overlay(&pts, &pts, |a, _| a.unwrap_or(L(0)));
        let table = PrefixTable::from_segments(&full);
        assert_eq!(table.lookup(0x0a01_0000), Hit { line: L(1), scope: 8 });
    }

    #[test]
    fn overlay_only_claims_parent_space() {
        let base = paint(vec![(b(0x0a00_0000, 8), L(1)), (b(0x0a01_0000, 16), L(2))]);
        let child = paint(vec![(b(0x0a00_0000, 15), L(3))]);
        let full = overlay(&base, &child, |a, c| match (a, c) {
            (Some(L(1)), Some(c)) => c,
            (a, _) => a.unwrap_or(L(0)),
        });
        let table = PrefixTable::from_segments(&full);
        assert_eq!(table.lookup(0x0a00_0001).line, L(3));
        assert_eq!(table.lookup(0x0a01_0001).line, L(2)); // another line's space stays
        assert_eq!(table.lookup(0x0a02_0001).line, L(1));
    }

    /// The change point owning `addr`, by scanning.
    fn owner<K: AddrBits>(points: &ChangePoints<K, LineId>, addr: K) -> LineId {
        points[points.partition_point(|p| p.0 <= addr) - 1].1
    }

    /// Random nested blocks, dense in a few places so that the index grows several levels
    /// (and, in IPv6, leaves of full-width blocks): every lookup matches a scan of the
    /// partition, and the block it returns lies inside one segment.
    fn check_against_scan<K: AddrBits + std::ops::BitOr<Output = K>>(
        random: impl Fn(&mut fastrand::Rng) -> K,
        max_len: u8,
        direct_from: usize,
    ) {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut blocks = Vec::new();
        let hot = random(&mut rng);
        for i in 0..20_000u32 {
            let len = rng.u8(8..=max_len);
            // Half of them inside one /8-ish hot spot, so it gets crowded.
            let addr = if i % 2 == 0 { addr_near(hot, &mut rng, &random) } else { random(&mut rng) };
            blocks.push((Block { start: addr.network(len), len }, L(1 + (i % 5) as u16)));
        }
        blocks.sort_unstable_by_key(|b| (b.0.start, b.0.len));
        blocks.dedup_by_key(|b| b.0);
        let painted = paint(blocks);
        let full = overlay(&painted, &painted, |a, _| a.unwrap_or(L(0)));
        let table = PrefixTable::with_direct_from(&full, direct_from);
        assert_eq!(table.direct.is_some(), K::BITS == 32 && direct_from == 0);
        for _ in 0..50_000 {
            let addr = if rng.bool() { addr_near(hot, &mut rng, &random) } else { random(&mut rng) };
            table.prefetch_batch(&[addr, random(&mut rng)]);
            let hit = table.lookup(addr);
            assert_eq!(hit.line, owner(&full, addr), "{addr:?}");
            let (first, last) = (addr.network(hit.scope), addr.block_last(hit.scope));
            // No change point inside the block: the one after `first` comes after `last`.
            let next = full.partition_point(|p| p.0 <= first);
            assert!(full.get(next).is_none_or(|p| p.0 > last), "{addr:?}/{} crosses a change", hit.scope);
        }
    }

    /// An address sharing its first 12 bits with `hot`, and often far more.
    fn addr_near<K: AddrBits + std::ops::BitOr<Output = K>>(
        hot: K,
        rng: &mut fastrand::Rng,
        random: &impl Fn(&mut fastrand::Rng) -> K,
    ) -> K {
        let keep = rng.u8(12..K::BITS);
        let other = random(rng);
        hot.network(keep) | other.distance(other.network(keep))
    }

    #[test]
    fn lookups_match_a_scan_v4() {
        check_against_scan(|rng| rng.u32(..), 32, usize::MAX);
    }

    #[test]
    fn direct_index_holds_a_slash_24_split_into_256_hosts() {
        let base = 0x0a01_0200u32;
        let blocks = (0..256).map(|i| (b(base + i, 32), L(1 + (i % 2) as u16))).collect();
        let painted = paint(blocks);
        let full = overlay(&painted, &painted, |a, _| a.unwrap_or(L(0)));
        let table = PrefixTable::with_direct_from(&full, 0);
        for i in 0..256 {
            assert_eq!(table.lookup(base + i), Hit { line: L(1 + (i % 2) as u16), scope: 32 });
        }
        assert_eq!(table.lookup(base - 1).line, L(0));
        assert_eq!(table.lookup(base + 256).line, L(0));
    }

    #[test]
    fn direct_lookups_match_a_scan_v4() {
        check_against_scan(|rng| rng.u32(..), 32, 0);
    }

    #[test]
    fn lookups_match_a_scan_v6() {
        check_against_scan(|rng| rng.u128(..), 128, 0);
    }
}
