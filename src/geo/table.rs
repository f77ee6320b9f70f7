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

/// Buckets of more blocks than this get a second index level on the next 8 bits.
const CROWDED_BUCKET: u32 = 24;

/// No second level for this bucket.
const NO_SUB: u32 = u32::MAX;

/// A first-level index entry: where the bucket's blocks start, and its second level.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Number of blocks whose first 16 bits are below this bucket's.
    first: u32,
    /// Offset of this bucket's 257 second-level entries in `sub`, or `NO_SUB`.
    sub: u32,
}

/// A partition of one address family into maximal aligned blocks, each with its line.
///
/// Lookup: the first 16 bits pick a bucket (and in a crowded bucket the next 8 bits a
/// sub-bucket), then a binary search finds the last block starting at or before the
/// address. Real IPv6 data crowds into a few /16s (2408::, 240e::), which the second level
/// splits.
#[derive(Debug)]
pub struct PrefixTable<K> {
    /// First address of every block, ascending; the first is zero.
    starts: Box<[K]>,
    /// Line and prefix length of every block, parallel to `starts`.
    hits: Box<[Hit]>,
    /// One entry per 16-bit prefix, plus an end marker (65,537 entries).
    index: Box<[Bucket]>,
    /// Second levels: for a crowded bucket, 257 entries `first` of blocks whose next 8
    /// bits are below `j` (absolute indexes into `starts`).
    sub: Box<[u32]>,
}

impl<K: AddrBits> PrefixTable<K> {
    /// Builds the table from a complete partition (change points starting at zero).
    pub fn from_segments(points: &ChangePoints<K, LineId>) -> Self {
        let points = normalize(points.clone());
        debug_assert!(points.first().is_some_and(|p| p.0 == K::ZERO));
        let mut starts = Vec::with_capacity(points.len() * 4);
        let mut hits = Vec::with_capacity(points.len() * 4);
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
        let first_with =
            |bits: u32, below: usize, from: usize| from + starts[from..].partition_point(|s: &K| s.top(bits) < below);
        let mut index = Vec::with_capacity((1 << 16) + 1);
        for t in 0..=(1usize << 16) {
            index.push(Bucket { first: first_with(16, t, 0) as u32, sub: NO_SUB });
        }
        let mut sub = Vec::new();
        for t in 0..(1usize << 16) {
            let (lo, hi) = (index[t].first, index[t + 1].first);
            if hi - lo > CROWDED_BUCKET {
                index[t].sub = sub.len() as u32;
                for j in 0..=256usize {
                    sub.push(first_with(24, (t << 8) + j, lo as usize).min(hi as usize) as u32);
                }
            }
        }
        PrefixTable { starts: starts.into(), hits: hits.into(), index: index.into(), sub: sub.into() }
    }

    /// The block holding `addr`: its line and its length (the ECS scope).
    #[inline]
    pub fn lookup(&self, addr: K) -> Hit {
        let t = addr.top(16);
        let bucket = self.index[t];
        let (lo, hi) = if bucket.sub == NO_SUB {
            (bucket.first as usize, self.index[t + 1].first as usize)
        } else {
            let j = bucket.sub as usize + (addr.top(24) & 0xff);
            (self.sub[j] as usize, self.sub[j + 1] as usize)
        };
        let below = self.starts[lo..hi].partition_point(|&s| s <= addr);
        // The first block starts at zero, so some block starts at or before `addr`: either
        // inside this (sub-)bucket or as the last block of an earlier one.
        self.hits[lo + below - 1]
    }

    /// Asks the CPU to start loading what [`PrefixTable::lookup`] of `addr` reads, so that
    /// a batch of lookups waits for memory once instead of once per lookup: stage 0 the
    /// bucket, stage 1 (which reads the bucket) the blocks it points at. A hint only: it
    /// changes no result.
    #[inline]
    pub fn prefetch(&self, addr: K, stage: u8) {
        let t = addr.top(16);
        if stage == 0 {
            prefetch(&self.index[t]);
            return;
        }
        let bucket = self.index[t];
        let lo = if bucket.sub == NO_SUB {
            bucket.first as usize
        } else {
            self.sub[bucket.sub as usize + (addr.top(24) & 0xff)] as usize
        };
        let lo = lo.min(self.starts.len() - 1);
        prefetch(&self.starts[lo]);
        prefetch(&self.hits[lo]);
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
}
