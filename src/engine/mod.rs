//! The engine: pure, synchronous, no I/O. [`Engine`] holds the live snapshot behind an
//! atomic pointer, swapped whole on reload; [`Engine::answer`] answers one DNS
//! message from it. Each concern is a part that owns its state: [`live`] (the snapshot
//! as served), [`override_book`], [`serials`], [`defence`], [`sign::cache`], [`metrics`]
//! and [`host`] (the host's hooks).
//!
//! No clock, no file system, no tokio: clippy.toml lists the calls this module denies
//! (`Instant::now`, `SystemTime::now`, `std::fs`), and tests/inprocess/layers.rs checks that nothing
//! here names `serve`, `compile`, `config` or tokio.
#![deny(clippy::disallowed_methods)]

pub mod access;
pub mod answer;
pub mod builder;
pub mod consistency;
pub mod cookies;
pub mod defence;
pub mod explain;
pub mod export;
pub mod fleet;
pub mod health;
pub mod host;
pub mod line;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod override_book;
pub mod overrides;
pub mod packet;
pub mod prepared;
pub mod push;
pub mod query;
pub mod reload;
pub mod request;
pub mod resolve;
pub mod rrl;
pub mod serial_number;
pub mod serials;
pub mod settings;
pub mod sign;
pub mod snapshot;
pub mod summary;
pub mod tap;
pub mod transfer;
pub mod versions;
pub mod zone;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};

pub use self::host::NotifyHook;
pub use self::live::{Live, LiveHealth};
pub use self::override_book::ListedOverride;
pub use self::reload::ReloadReport;
pub use self::serials::{ChangeHook, Hook, Persist, VersionHooks, VersionsRefresh};

use self::health::Forced;
use self::host::{HostHooks, LazyClock};
use self::metrics::Metrics;
use self::override_book::OverrideBook;
use self::overrides::{Override, Target};
use self::prepared::PreparedAnswers;
use self::query::Transport;
use self::request::Request;
use self::serials::Serials;
use self::snapshot::Snapshot;

/// Holds the snapshot queries read. Readers never block; a reload compiles off the query
/// path and swaps the pointer, so each query sees one whole snapshot, old or new.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Live>,
    generation: AtomicU64,
    /// Query counters, kept across reloads.
    pub metrics: Metrics,
    /// Operator overrides, kept across reloads.
    pub overrides: OverrideBook,
    /// Each view's serial, the serials answers carry, the changes to announce.
    pub serials: Serials,
    /// Cookies and response rate limiting (on once the host gives a clock).
    pub defences: defence::Defences,
    /// DNSSEC signatures made, kept across reloads (see [`sign::cache`]).
    pub signatures: sign::cache::SignatureCache,
    /// The host's tap and NOTIFY hook.
    host: HostHooks,
}

impl Engine {
    /// The snapshot now live. Hold the guard for the length of one query, not longer.
    #[inline]
    pub fn snapshot(&self) -> Guard<Arc<Live>> {
        self.current.load()
    }

    /// Number of the live snapshot: 1 at start, one more per swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Answers one DNS message into `out` and counts it: the one way in for a query,
    /// a NOTIFY or anything else that comes (a zone transfer over TCP is
    /// [`Engine::transfer`]). Returns `false` when nothing is to be sent (a response, a
    /// fragment shorter than a header, a query the defences drop). A TSIG-signed query is
    /// checked and its answer signed only when the request has a clock.
    pub fn answer(&self, request: Request<'_, impl FnOnce() -> u64>, out: &mut Vec<u8>) -> bool {
        let Request { packet, peer, transport, worker, now, prepared } = request;
        match prepared {
            Some(prepared) if transport == Transport::Udp => {
                self.answer_prepared(prepared, worker, packet, peer, now, out)
            }
            _ => self.respond(&self.snapshot(), worker, packet, peer, transport, now, out, |_, _| {}).is_some(),
        }
    }

    /// A UDP query from `prepared` when it holds the answer, else made and kept there if
    /// it may be (see [`prepared`]).
    fn answer_prepared(
        &self,
        prepared: &mut PreparedAnswers,
        worker: usize,
        packet: &[u8],
        peer: SocketAddr,
        now: Option<impl FnOnce() -> u64>,
        out: &mut Vec<u8>,
    ) -> bool {
        // Read before the snapshot: an answer made from a newer one than the epoch says
        // is only kept until the next query sees the epoch move.
        let mut epoch = prepared::Epoch {
            generation: self.generation(),
            overrides: self.overrides.changes(),
            flips: health::flips(),
            signed_hour: 0,
        };
        let live = self.snapshot();
        let mut clock = LazyClock::new(now);
        if live.signed() {
            epoch.signed_hour = clock.now().unwrap_or(0) / prepared::SIGNED_ANSWER_LIFE;
        }
        let miss = match prepared.answer(&live, epoch, packet, peer.ip(), out) {
            Ok(mut outcome) => {
                if !self.defences.finish(&live.settings, &mut outcome, peer.ip(), Transport::Udp, out) {
                    return false;
                }
                self.count(worker, &live, &outcome, Transport::Udp);
                self.host.tap(&live, &outcome, (packet, peer, Transport::Udp, out));
                return true;
            }
            Err(miss) => miss,
        };
        let keep = |outcome: &packet::Outcome, out: &[u8]| {
            if let Some(miss) = miss {
                prepared.keep(miss, outcome, out);
            }
        };
        let now = clock.is_given().then_some(|| clock.now().unwrap_or(0));
        self.respond(&live, worker, packet, peer, Transport::Udp, now, out, keep).is_some()
    }

    /// Answers `packet` from `live`, shows the answer as made to `keep`, applies the
    /// defences (cookie, rate limit: `None` if it is dropped), signs it if the query was
    /// signed and `now` is given, and counts it.
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &self,
        live: &Live,
        shard: usize,
        packet: &[u8],
        peer: SocketAddr,
        transport: Transport,
        now: Option<impl FnOnce() -> u64>,
        out: &mut Vec<u8>,
        keep: impl FnOnce(&packet::Outcome, &[u8]),
    ) -> Option<packet::Outcome> {
        let mut clock = LazyClock::new(now);
        if notify::is_notify(packet) {
            let (outcome, accepted) = notify::notify(live, packet, peer.ip(), clock.now(), out);
            if let Some(zone) = accepted {
                self.host.notified(zone);
            }
            self.count(shard, live, &outcome, transport);
            self.host.tap(live, &outcome, (packet, peer, transport, out));
            return Some(outcome);
        }
        let health = live.live_health();
        let cache = &self.signatures;
        // Only a snapshot with signed zones signs (and reads the clock for it).
        let signed = live.signed();
        let mut signing = || if signed { clock.now().map(|now| sign::answer::Signing { cache, now }) } else { None };
        let mut outcome =
            packet::respond(live, packet, peer.ip(), transport, &health, self.serials.served(), &mut signing, out)?;
        keep(&outcome, out);
        if !self.defences.finish(&live.settings, &mut outcome, peer.ip(), transport, out) {
            return None;
        }
        if let (Some(start), Some(now)) = (outcome.tsig_start, clock.now())
            && let Some(rcode) = packet::sign_answer(live, packet, start, now, out)
        {
            (outcome.rcode, outcome.route, outcome.reuse) = (rcode, None, None);
        }
        self.count(shard, live, &outcome, transport);
        self.host.tap(live, &outcome, (packet, peer, transport, out));
        Some(outcome)
    }

    fn count(&self, shard: usize, live: &Live, outcome: &packet::Outcome, transport: Transport) {
        let slot = outcome.route.map_or(metrics::NO_LINE, |r| live.metric_slot(r.client_line));
        self.metrics.record(shard, slot, outcome.qtype, outcome.rcode, transport, outcome.route.as_ref(), outcome.ecs);
    }

    /// Answers a zone transfer query (AXFR or IXFR over TCP) from `peer` and counts it;
    /// `None` when `packet` is no transfer query (answer it with [`Engine::answer`]).
    /// `now` is the time in seconds since the Unix epoch (TSIG checks and signs with it).
    pub fn transfer(&self, packet: &[u8], peer: std::net::IpAddr, now: u64) -> Option<transfer::Transfer> {
        let live = self.snapshot();
        let catch_up = |zone: &str, line: &str, held: Option<u32>| self.serials.lock().since(zone, line, held);
        let signatures = &self.signatures;
        let answered = transfer::transfer(&live, packet, peer, &live.live_health(), catch_up, signatures, now)?;
        self.metrics.record_transfer(answered.kind);
        Some(answered)
    }

    /// Looks at every (zone, line) view of the live snapshot under the live health:
    /// views whose content changed get a new serial, which SOA records in answers carry
    /// from then on and transfers send. The host calls it after changes
    /// ([`Engine::change_mark`]), as often as it wants secondaries to follow (it
    /// coalesces flaps); it exports every view, so not on the query path. Nothing
    /// unless the engine was built to follow them ([`builder::EngineBuilder::follow_versions`]).
    pub fn refresh_versions(&self) -> VersionsRefresh {
        self.serials.look_at_views(&self.snapshot(), &self.signatures)
    }

    /// A number that changes whenever a view's content may have: a reload, an override
    /// set or removed, a probe's state flipping. Cheap (a pass over the probes): a host
    /// compares it before and after to know whether to [`Engine::refresh_versions`].
    pub fn change_mark(&self) -> u64 {
        let live = self.snapshot();
        let mut mark = self.generation().wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mark ^= self.overrides.changes().wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        mark ^= self.serials.agreements().wrapping_mul(0x1656_67b1_9e37_79f9);
        for (i, probe) in live.probes.iter().enumerate() {
            if probe.state.is_up() {
                mark = mark.rotate_left(7) ^ (i as u64 + 1);
            } else {
                mark = mark.rotate_left(13) ^ (i as u64 + 1).wrapping_mul(31);
            }
        }
        mark
    }

    /// Makes `snapshot` live. Probes it shares with the live snapshot (same target and
    /// check) keep their health state; the others start in their initial state.
    pub fn swap(&self, mut snapshot: Snapshot) -> ReloadReport {
        let overrides = self.overrides.hold();
        let old = self.current.load_full();
        let report = reload::adopt_and_compare(&mut snapshot, &old);
        let view = overrides.view_for(&snapshot);
        let live = Live::new(snapshot, &self.metrics, view);
        // Its views first: from its first query on, every SOA and transfer of the new
        // snapshot has its view's serial (never the rules' one).
        let versions = self.serials.look_at_views(&live, &self.signatures);
        self.defences.reloaded(&live.settings);
        self.current.store(Arc::new(live));
        drop(overrides);
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.serials.mark_changed();
        ReloadReport { generation, versions, ..report }
    }

    /// Sets an override at `at` (seconds since the Unix epoch); it must name a node, line
    /// or pool of the live snapshot.
    pub fn add_override(
        &self,
        target: Target,
        state: Forced,
        who: String,
        why: String,
        at: u64,
    ) -> Result<Override, override_book::UnknownTarget> {
        let added = self.overrides.add(&self.current, Override { id: 0, target, state, who, why, at, place: None })?;
        self.serials.mark_changed();
        Ok(added)
    }

    /// Removes an override by id; `false` if there is none.
    pub fn remove_override(&self, id: u64) -> bool {
        let removed = self.overrides.remove(&self.current, id);
        self.serials.mark_changed();
        removed
    }

    /// Puts `list` in force in place of the overrides set (as read back from where the
    /// host kept them): ids are kept, and new ones continue after the largest.
    pub fn restore_overrides(&self, list: Vec<Override>) {
        self.overrides.restore(&self.current, list);
        self.serials.mark_changed();
    }

    /// The overrides set, oldest first.
    pub fn list_overrides(&self) -> Vec<ListedOverride> {
        self.overrides.listed(&self.snapshot())
    }
}
