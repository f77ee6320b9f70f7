//! Signatures made once and reused: a set's RRSIG records are kept under a 128-bit hash of
//! what they sign (the zone's keys in use, the owner, type, TTL and records), so a
//! (name, type, line, health) answer is signed on its first query and copied after that.
//! A health change makes a different set, hence a new signature on its first query,
//! before it is sent: no answer goes out unsigned or with another set's signature.
//!
//! The cache is shared by every worker (a read lock per lookup, sharded by hash), lives
//! beside the engine's snapshots (a reload keeps it), and is bounded: a full shard is
//! emptied (random names under a wildcard or a flood of NXDOMAINs cannot grow it).

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

/// Shards (a power of two).
const SHARDS: usize = 16;

/// Entries kept per shard at most.
const MAX_PER_SHARD: usize = 1 << 16;

/// What is kept of one set.
#[derive(Debug)]
struct Entry {
    /// The RRSIG RDATAs, each behind its 2-octet length.
    rrsigs: Box<[u8]>,
    /// When to make them again (before they expire: see `ZoneSigning::refresh`).
    fresh_until: u64,
}

/// The shared signature cache (see the module documentation).
#[derive(Debug)]
pub struct SignatureCache {
    shards: [RwLock<FxHashMap<u128, Entry>>; SHARDS],
    /// Signatures made (one per key per set), since start.
    made: AtomicU64,
    /// Sets whose signatures came from the cache.
    hits: AtomicU64,
}

impl Default for SignatureCache {
    fn default() -> Self {
        SignatureCache {
            shards: std::array::from_fn(|_| RwLock::new(FxHashMap::default())),
            made: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }
}

/// What the cache holds, for metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Sets kept.
    pub entries: usize,
    /// Octets of RRSIG RDATA kept (the table's own overhead not counted).
    pub octets: usize,
    /// Signatures made since start.
    pub made: u64,
    /// Sets answered from the cache since start.
    pub hits: u64,
}

impl SignatureCache {
    /// Calls `use_rrsigs` with the RRSIG RDATAs kept under `key` and when they stop being
    /// fresh, if they are fresh at `now`; else makes them with `make` (RDATAs, each behind
    /// its 2-octet length, and when they stop being fresh), keeps and uses them.
    pub fn with<R>(
        &self,
        key: u128,
        now: u64,
        make: impl FnOnce() -> (Vec<u8>, u64),
        use_rrsigs: impl FnOnce(&[u8], u64) -> R,
    ) -> R {
        let shard = &self.shards[(key as usize) & (SHARDS - 1)];
        {
            let table = shard.read().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = table.get(&key).filter(|e| now < e.fresh_until) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return use_rrsigs(&entry.rrsigs, entry.fresh_until);
            }
        }
        let (rrsigs, fresh_until) = make();
        self.made.fetch_add(count(&rrsigs), Ordering::Relaxed);
        let result = use_rrsigs(&rrsigs, fresh_until);
        let mut table = shard.write().unwrap_or_else(|e| e.into_inner());
        if table.len() >= MAX_PER_SHARD {
            table.clear();
        }
        table.insert(key, Entry { rrsigs: rrsigs.into(), fresh_until });
        result
    }

    /// What the cache holds now.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            made: self.made.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in &self.shards {
            let table = shard.read().unwrap_or_else(|e| e.into_inner());
            stats.entries += table.len();
            stats.octets += table.values().map(|e| e.rrsigs.len()).sum::<usize>();
        }
        stats
    }
}

/// How many length-prefixed RDATAs `rrsigs` holds.
fn count(rrsigs: &[u8]) -> u64 {
    rdatas(rrsigs).count() as u64
}

/// The RRSIG RDATAs of a cache entry (each behind its 2-octet length), in order.
pub fn rdatas(rrsigs: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_be_bytes([*rrsigs.get(at)?, *rrsigs.get(at + 1)?]));
        let rdata = rrsigs.get(at + 2..at + 2 + len)?;
        at += 2 + len;
        Some(rdata)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_stale_then_made_again() {
        let cache = SignatureCache::default();
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            (vec![0, 1, 7], 100)
        };
        assert_eq!(cache.with(1, 10, make, |r, _| r.to_vec()), [0, 1, 7]);
        assert_eq!(cache.with(1, 99, make, |r, fresh| (r.len(), fresh)), (3, 100));
        assert_eq!(made.get(), 1);
        cache.with(1, 100, make, |_, _| ());
        assert_eq!(made.get(), 2, "stale at fresh_until");
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.octets, stats.made, stats.hits), (1, 3, 2, 1));
    }
}
