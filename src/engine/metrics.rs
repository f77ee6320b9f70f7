//! Query counters, recorded lock-free on the query path and read whole for a scrape (the
//! Prometheus text is written in `serve::exposition`).
//!
//! Lines are counted by *slot*: a line name gets a slot the first time a snapshot with it
//! goes live and keeps it for the life of the process, so counters survive reloads
//! (Prometheus counters must not reset while the process runs).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::answer::{Rcode, Route, Served};
use super::query::Transport;
use super::transfer::Kind as TransferKind;
use crate::rdata::RecordType;

/// Line slots; lines past this count as `other`.
pub const LINE_SLOTS: usize = 256;
/// Slot of answers that did not depend on a line.
pub const NO_LINE: u16 = 0;
/// Slot of lines past [`LINE_SLOTS`].
const OTHER_LINE: u16 = (LINE_SLOTS - 1) as u16;

/// The query types counted by name; every other type counts as `other`.
pub const QTYPES: [RecordType; 10] = crate::rdata::ANSWERED_TYPES;

/// Counter cells per line slot: each counted qtype and `other`, by rcode, by transport.
const CELLS_PER_LINE: usize = (QTYPES.len() + 1) * Rcode::ALL.len() * Transport::ALL.len();

fn qtype_bucket(qtype: u16) -> usize {
    let qtype = RecordType::from(qtype);
    QTYPES.iter().position(|&t| t == qtype).unwrap_or(QTYPES.len())
}

fn cell(slot: usize, qtype: usize, rcode: usize, transport: usize) -> usize {
    slot * CELLS_PER_LINE + (qtype * Rcode::ALL.len() + rcode) * Transport::ALL.len() + transport
}

/// One non-zero query counter, as read for a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryCount {
    /// The client line (`none`: the answer did not depend on it; `other`: past the slots).
    pub line: String,
    /// The query type, or `other`.
    pub qtype: String,
    /// The rcode sent.
    pub rcode: Rcode,
    /// How the query came.
    pub transport: Transport,
    /// Queries.
    pub count: u64,
}

/// Every counter of [`Metrics`] read once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsReading {
    /// Non-zero query counters.
    pub queries: Vec<QueryCount>,
    /// Line-dependent answers classified by the ECS option.
    pub ecs_classified: u64,
    /// Line-dependent answers classified by the source address.
    pub source_classified: u64,
    /// Answers from a pool further down the chain than the client's line.
    pub fallback: u64,
    /// Answers given the degraded TTL.
    pub degraded: u64,
    /// All-down answers, by policy: fail open, last resort, SERVFAIL.
    pub all_down: [u64; 3],
    /// Zone transfer queries, by [`TRANSFER_RESULTS`].
    pub transfers: [u64; 4],
}

/// What transfer queries got, as `linedns_transfers_total` labels them: the whole zone,
/// the differences (IXFR), the SOA alone (up to date), or REFUSED/NOTAUTH.
pub const TRANSFER_RESULTS: [&str; 4] = ["full", "incremental", "up_to_date", "refused"];

/// The all-down policies in the order of [`MetricsReading::all_down`].
pub const ALL_DOWN_POLICIES: [&str; 3] = ["fail_open", "last_resort", "servfail"];

/// Counter shards: one per UDP worker (the host passes its index), so that workers
/// never write to the same cache line; shard 0 for everything else (TCP, transfers).
/// A scrape sums them.
pub const SHARDS: usize = 64;

/// The counters: [`SHARDS`] shards, each allocated on its first count.
#[derive(Debug)]
pub struct Metrics {
    line_names: Mutex<Vec<String>>,
    shards: Box<[std::sync::OnceLock<Box<Counters>>]>,
}

/// One shard's counters (its own allocation: no cache line shared with another shard).
#[derive(Debug)]
struct Counters {
    /// Indexed `[line slot][qtype][rcode][transport]`.
    queries: Box<[AtomicU64]>,
    ecs_classified: AtomicU64,
    source_classified: AtomicU64,
    fallback: AtomicU64,
    degraded: AtomicU64,
    all_down: [AtomicU64; 3],
    /// Zone transfer queries, by [`TRANSFER_RESULTS`].
    transfers: [AtomicU64; 4],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            queries: (0..LINE_SLOTS * CELLS_PER_LINE).map(|_| AtomicU64::new(0)).collect(),
            ecs_classified: AtomicU64::new(0),
            source_classified: AtomicU64::new(0),
            fallback: AtomicU64::new(0),
            degraded: AtomicU64::new(0),
            all_down: Default::default(),
            transfers: Default::default(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            line_names: Mutex::new(vec!["none".into()]),
            shards: (0..SHARDS).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }
}

impl Metrics {
    /// Slots for `lines` (by name), for a snapshot about to go live.
    pub fn slots_for(&self, lines: &[Box<str>]) -> Vec<u16> {
        let mut names = self.line_names.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .map(|line| match names.iter().position(|n| n == &**line) {
                Some(i) => i as u16,
                None if names.len() < OTHER_LINE as usize => {
                    names.push(line.to_string());
                    (names.len() - 1) as u16
                }
                None => OTHER_LINE,
            })
            .collect()
    }

    /// The counters of shard `shard` (modulo [`SHARDS`]).
    #[inline]
    fn shard(&self, shard: usize) -> &Counters {
        self.shards[shard % SHARDS].get_or_init(Box::default)
    }

    /// Counts one answered query in shard `shard`. `slot` is the client line's slot when
    /// the answer depended on it ([`NO_LINE`] otherwise), `ecs` whether the query
    /// carried ECS.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        shard: usize,
        slot: u16,
        qtype: u16,
        rcode: Rcode,
        transport: Transport,
        route: Option<&Route>,
        ecs: bool,
    ) {
        let c = self.shard(shard);
        let t = transport as usize;
        c.queries[cell(usize::from(slot), qtype_bucket(qtype), rcode.index(), t)].fetch_add(1, Ordering::Relaxed);
        if let Some(route) = route {
            if ecs { &c.ecs_classified } else { &c.source_classified }.fetch_add(1, Ordering::Relaxed);
            if route.fallback_depth > 0 && route.how == Served::Pool {
                c.fallback.fetch_add(1, Ordering::Relaxed);
            }
            if route.degraded {
                c.degraded.fetch_add(1, Ordering::Relaxed);
            }
            let down = match route.how {
                Served::Pool => None,
                Served::FailOpen => Some(0),
                Served::LastResort => Some(1),
                Served::ServFail => Some(2),
            };
            if let Some(i) = down {
                c.all_down[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts one zone transfer query by what it got (`None`: refused).
    pub fn record_transfer(&self, kind: Option<TransferKind>) {
        let index = match kind {
            Some(TransferKind::Full) => 0,
            Some(TransferKind::Incremental { .. }) => 1,
            Some(TransferKind::UpToDate) => 2,
            None => 3,
        };
        self.shard(0).transfers[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter, each the sum over the shards (for a scrape).
    pub fn read(&self) -> MetricsReading {
        let shards: Vec<&Counters> = self.shards.iter().filter_map(|s| s.get().map(|b| &**b)).collect();
        let sum =
            |f: &dyn Fn(&Counters) -> &AtomicU64| -> u64 { shards.iter().map(|c| f(c).load(Ordering::Relaxed)).sum() };
        let names = self.line_names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let slots = names.iter().map(String::as_str).enumerate().chain(std::iter::once((OTHER_LINE as usize, "other")));
        let mut queries = Vec::new();
        for (slot, line) in slots {
            for q in 0..=QTYPES.len() {
                let qtype = QTYPES.get(q).map_or_else(|| "other".to_string(), |t| t.to_string());
                for rcode in Rcode::ALL {
                    for transport in Transport::ALL {
                        let at = cell(slot, q, rcode.index(), transport as usize);
                        let count = sum(&|c| &c.queries[at]);
                        if count > 0 {
                            queries.push(QueryCount {
                                line: line.to_string(),
                                qtype: qtype.clone(),
                                rcode,
                                transport,
                                count,
                            });
                        }
                    }
                }
            }
        }
        MetricsReading {
            queries,
            ecs_classified: sum(&|c| &c.ecs_classified),
            source_classified: sum(&|c| &c.source_classified),
            fallback: sum(&|c| &c.fallback),
            degraded: sum(&|c| &c.degraded),
            all_down: std::array::from_fn(|i| sum(&|c| &c.all_down[i])),
            transfers: std::array::from_fn(|i| sum(&|c| &c.transfers[i])),
        }
    }
}
