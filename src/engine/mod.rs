//! The engine: pure, synchronous, no I/O. [`Engine`] holds the live snapshot behind an
//! atomic pointer, swapped whole on reload; [`Engine::handle_packet`] answers one DNS
//! message from it.
//!
//! No clock, no file system, no tokio: clippy.toml lists the calls this module denies
//! (`Instant::now`, `SystemTime::now`, `std::fs`), and tests/inprocess/layers.rs checks that nothing
//! here names `serve`, `compile`, `config` or tokio.
#![deny(clippy::disallowed_methods)]

pub mod access;
pub mod answer;
pub mod consistency;
pub mod cookies;
pub mod defence;
pub mod explain;
pub mod export;
pub mod health;
pub mod line;
pub mod metrics;
pub mod overrides;
pub mod packet;
pub mod prepared;
pub mod query;
pub mod resolve;
pub mod rrl;
pub mod settings;
pub mod sign;
pub mod snapshot;
pub mod summary;
pub mod tap;
pub mod transfer;
pub mod versions;
pub mod zone;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use rustc_hash::FxHashMap;
use serde::Serialize;

use self::health::Forced;
use self::line::{NodeHealth, PoolNode};
use self::metrics::Metrics;
use self::overrides::{Override, OverrideView, Target};
use self::prepared::PreparedAnswers;
use self::query::Transport;
use self::snapshot::Snapshot;
use self::versions::{ServedSerials, Versions};
use crate::error::CompileErrors;
use crate::geo::table::LineId;

/// Where fresh snapshots come from on reload: in practice the rules file and its data
/// (`compile::RulesSource`). Loading reads files, so the engine calls it only from
/// [`Engine::reload`], never on the query path.
pub trait SnapshotSource: Send + Sync + std::panic::RefUnwindSafe + std::fmt::Debug {
    /// Compiles a new snapshot, or every error that prevents one.
    fn load(&self) -> Result<Snapshot, CompileErrors>;
    /// What it loads from, for logs (the rules file's path).
    fn describe(&self) -> String;
}

/// Holds the snapshot queries read. Readers never block; a reload compiles off the query
/// path and swaps the pointer, so each query sees one whole snapshot, old or new.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Live>,
    source: Option<Box<dyn SnapshotSource>>,
    generation: AtomicU64,
    /// Query counters, kept across reloads.
    pub metrics: Metrics,
    /// Operator overrides, kept across reloads. Held while a snapshot is swapped in, so a
    /// change never lands on a snapshot about to be replaced.
    overrides: Mutex<OverrideList>,
    /// Bumped on every override set or removed (see [`Engine::change_mark`]).
    override_changes: AtomicU64,
    /// Each view's serial and the journals of transferred views.
    versions: Mutex<Versions>,
    /// Held while the views are looked at (one look at a time).
    looking: Mutex<()>,
    /// The serials SOA records in answers carry, published by [`Engine::refresh_versions`].
    served: ArcSwap<ServedSerials>,
    /// The host's clock and store for versions, once it follows them.
    version_hooks: std::sync::OnceLock<VersionHooks>,
    /// Serial changes not yet taken by the host (to NOTIFY): [`Engine::take_serial_changes`].
    pending_changes: Mutex<Vec<versions::SerialChange>>,
    /// Cookies and response rate limiting (on once the host gives a clock).
    pub defences: defence::Defences,
    /// Told the zone of each NOTIFY accepted from its primary (see [`Engine::on_notify`]).
    notified: std::sync::OnceLock<NotifyHook>,
    /// Told when a view's content may have changed (see [`Engine::on_change`]).
    changed: arc_swap::ArcSwapOption<ChangeHook>,
    /// Shown some answered queries (see [`Engine::set_tap`]).
    tap: std::sync::OnceLock<Arc<dyn tap::Tap>>,
    /// DNSSEC signatures made, kept across reloads (see [`sign::cache`]).
    pub signatures: sign::cache::SignatureCache,
}

/// A clock read at most once, when first needed (most queries never need it).
struct LazyClock<F> {
    clock: Option<F>,
    now: Option<u64>,
}

impl<F: FnOnce() -> u64> LazyClock<F> {
    fn new(clock: Option<F>) -> Self {
        LazyClock { clock, now: None }
    }

    /// The time, read on the first call; `None` without a clock.
    fn now(&mut self) -> Option<u64> {
        if let Some(clock) = self.clock.take() {
            self.now = Some(clock());
        }
        self.now
    }
}

/// A function the host gives the engine to call (it must not block).
pub struct Hook<F: ?Sized>(pub Box<F>);

impl<F: ?Sized> std::fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// What the host does with a zone whose primary sent a NOTIFY.
pub type NotifyHook = Hook<dyn Fn(&str) + Send + Sync>;

/// What the host does when a view's content may have changed.
pub type ChangeHook = Hook<dyn Fn() + Send + Sync>;

/// What a host gives the engine so that views are looked at on every change, a reload
/// included, before the change is served: its clock (seconds since the Unix epoch) and
/// where every view's serial is kept across restarts (written before a new serial is
/// published, so a crash never brings back an older one).
pub struct VersionHooks {
    /// The clock.
    pub clock: fn() -> u64,
    /// Keeps the views (a state file); an error is reported, and the new serials are
    /// published all the same (the zone must follow the rules).
    pub persist: Box<Persist>,
}

/// Keeps every view's serial and digest somewhere that outlives the process.
pub type Persist = dyn Fn(&[versions::StoredView]) -> Result<(), String>
    + Send
    + Sync
    + std::panic::RefUnwindSafe
    + std::panic::UnwindSafe;

impl std::fmt::Debug for VersionHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VersionHooks { .. }")
    }
}

/// What one look at the views found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionsRefresh {
    /// Views whose serial changed.
    pub changes: Vec<versions::SerialChange>,
    /// Why the views could not be kept, if they could not (they were served anyway).
    pub persist_error: Option<String>,
}

/// A snapshot as it is served: the compiled [`Snapshot`], untouched, and what the engine
/// keeps beside it for as long as it is live. Derefs to the snapshot.
#[derive(Debug)]
pub struct Live {
    snapshot: Snapshot,
    /// Metric slot of each line (slots outlive reloads, so counters never reset).
    metric_slots: Box<[u16]>,
    /// Operator overrides compiled against this snapshot; replaced when they change.
    overrides: ArcSwap<OverrideView>,
    /// Whether a zone of it is DNSSEC-signed.
    signed: bool,
}

impl Deref for Live {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl Live {
    /// The node health queries see: an operator override if one applies, else the
    /// probe's state (a node without a probe is up).
    #[inline]
    pub fn live_health(&self) -> LiveHealth<'_> {
        LiveHealth { live: self, view: std::cell::OnceCell::new() }
    }

    /// The metric slot of `line`.
    #[inline]
    pub fn metric_slot(&self, line: LineId) -> u16 {
        self.metric_slots.get(line.index()).copied().unwrap_or(metrics::NO_LINE)
    }
}

/// The health queries see (see [`Live::live_health`]). The override view is loaded on
/// the first pool decision, so answers without a line record never pay for it.
#[derive(Debug)]
pub struct LiveHealth<'s> {
    live: &'s Live,
    view: std::cell::OnceCell<Guard<Arc<OverrideView>>>,
}

impl LiveHealth<'_> {
    #[inline]
    fn overrides(&self) -> &OverrideView {
        self.view.get_or_init(|| self.live.overrides.load())
    }

    /// The override that decides `node` in the pool of `line` of line record `record`,
    /// if one does: the pool's, else the node's (the order `resolve` applies them in;
    /// without one, [`NodeHealth::is_up`] is the probe's state).
    pub fn forced_in_pool(&self, record: u32, line: LineId, node: line::NodeId) -> Option<Forced> {
        self.pool_override(record, line).or_else(|| self.overrides().node(node))
    }
}

impl NodeHealth for LiveHealth<'_> {
    #[inline]
    fn is_up(&self, node: &PoolNode) -> bool {
        match self.overrides().node(node.node) {
            Some(forced) => forced.answerable(),
            None => node.probe.is_none_or(|p| self.live.probes[p.index()].state.is_up()),
        }
    }

    #[inline]
    fn pool_override(&self, record: u32, line: LineId) -> Option<Forced> {
        self.overrides().pool(record, line)
    }
}

#[derive(Debug, Default)]
struct OverrideList {
    next_id: u64,
    list: Vec<Override>,
}

/// An override as listed: whether it names something in the live snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct ListedOverride {
    /// The override.
    #[serde(flatten)]
    pub over: Override,
    /// Whether the live snapshot has its target (else it waits for one that does).
    pub active: bool,
}

/// What a successful reload changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Generation now live (1 = the first snapshot).
    pub generation: u64,
    /// Lines added and removed, by name.
    pub lines_added: Vec<String>,
    /// Lines removed.
    pub lines_removed: Vec<String>,
    /// Zones added, by origin.
    pub zones_added: Vec<String>,
    /// Zones removed.
    pub zones_removed: Vec<String>,
    /// Probes (target + check) new in this snapshot: they start in their initial state.
    pub probes_added: Vec<String>,
    /// Probes gone: their checks stop.
    pub probes_removed: Vec<String>,
    /// Probes kept with their health state.
    pub probes_kept: usize,
    /// Blocks of the compiled tables (v4, v6), before and after.
    pub table_blocks: ((usize, usize), (usize, usize)),
    /// The views' serials that the new snapshot changed (when the host follows them).
    pub versions: VersionsRefresh,
}

impl Engine {
    /// An engine serving `snapshot`, with no source to reload from.
    pub fn new(snapshot: Snapshot) -> Self {
        let metrics = Metrics::default();
        let defences = defence::Defences::new(&snapshot.settings);
        let live = Live {
            signed: snapshot.zones.iter().any(|z| z.signing.is_some()),
            metric_slots: metrics.slots_for(&snapshot.lines.names).into(),
            overrides: ArcSwap::from_pointee(OverrideView::default()),
            snapshot,
        };
        Engine {
            current: ArcSwap::from_pointee(live),
            source: None,
            generation: AtomicU64::new(1),
            metrics,
            overrides: Mutex::default(),
            override_changes: AtomicU64::new(0),
            versions: Mutex::default(),
            looking: Mutex::default(),
            served: ArcSwap::from_pointee(ServedSerials::default()),
            version_hooks: std::sync::OnceLock::new(),
            pending_changes: Mutex::default(),
            defences,
            notified: std::sync::OnceLock::new(),
            changed: arc_swap::ArcSwapOption::empty(),
            tap: std::sync::OnceLock::new(),
            signatures: sign::cache::SignatureCache::default(),
        }
    }

    /// Gives the engine the host's clock (seconds since the Unix epoch), which turns on
    /// DNS cookies and response rate limiting as the rules configure them (see
    /// [`defence`]). Only the first call counts.
    pub fn set_clock(&self, clock: fn() -> u64) {
        self.defences.set_clock(clock, &self.snapshot().settings);
    }

    /// Gives the engine what to do when a zone's primary sends a NOTIFY that is accepted
    /// (RFC 1996 §3.11: the secondary then checks the primary's serial). Only the first
    /// call counts.
    pub fn on_notify(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.notified.set(Hook(Box::new(hook)));
    }

    /// Gives the engine a tap that sees the answered queries it samples (serve's dnstap
    /// writer). Only the first call counts; `false` if a tap was already set.
    pub fn set_tap(&self, tap: Arc<dyn tap::Tap>) -> bool {
        self.tap.set(tap).is_ok()
    }

    /// Shows the answer just made to the tap, if one is set and samples it.
    #[inline]
    fn tap(&self, live: &Live, outcome: &packet::Outcome, tapped: (&[u8], SocketAddr, Transport, &[u8])) {
        let Some(tap) = self.tap.get() else { return };
        if tap.sample() {
            let (query, peer, transport, response) = tapped;
            let line = |l: LineId| live.lines.name(l);
            tap.record(tap::Tapped {
                query,
                response,
                peer,
                transport,
                line: outcome.route.map(|r| line(r.client_line)),
                served_line: outcome.route.map(|r| line(r.served_line)),
            });
        }
    }

    /// An engine serving `snapshot`, which [`Engine::reload`] replaces with a fresh one
    /// from `source`.
    pub fn with_source(snapshot: Snapshot, source: Box<dyn SnapshotSource>) -> Self {
        Engine { source: Some(source), ..Engine::new(snapshot) }
    }

    /// The snapshot now live. Hold the guard for the length of one query, not longer.
    #[inline]
    pub fn snapshot(&self) -> Guard<Arc<Live>> {
        self.current.load()
    }

    /// What this engine reloads from, if anything (the rules file's path).
    pub fn source(&self) -> Option<String> {
        self.source.as_ref().map(|s| s.describe())
    }

    /// Number of the live snapshot: 1 at start, one more per swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Answers one DNS message from `peer` into `out` and counts it. Returns `false`
    /// when nothing should be sent (responses, fragments shorter than a header). A
    /// TSIG-signed query is answered as if unsigned: hosts that hold keys use
    /// [`Engine::handle_packet_with_clock`].
    pub fn handle_packet(&self, packet: &[u8], peer: SocketAddr, transport: Transport, out: &mut Vec<u8>) -> bool {
        self.respond(&self.snapshot(), 0, packet, peer, transport, None::<fn() -> u64>, out, |_, _| {}).is_some()
    }

    /// [`Engine::handle_packet`], and a TSIG-signed query (RFC 8945) is checked and its
    /// answer signed, at the time `now()` gives (seconds since the Unix epoch; read only
    /// for a signed query).
    pub fn handle_packet_with_clock(
        &self,
        packet: &[u8],
        peer: SocketAddr,
        transport: Transport,
        now: impl FnOnce() -> u64,
        out: &mut Vec<u8>,
    ) -> bool {
        self.handle_packet_on(0, packet, peer, transport, now, out)
    }

    /// [`Engine::handle_packet_with_clock`] for worker `worker` of a host with several
    /// (its own counter shard, see [`metrics::SHARDS`]: workers share no cache line).
    pub fn handle_packet_on(
        &self,
        worker: usize,
        packet: &[u8],
        peer: SocketAddr,
        transport: Transport,
        now: impl FnOnce() -> u64,
        out: &mut Vec<u8>,
    ) -> bool {
        self.respond(&self.snapshot(), worker, packet, peer, transport, Some(now), out, |_, _| {}).is_some()
    }

    /// [`Engine::handle_packet_on`] for a UDP query, from `prepared` when it holds the
    /// answer, else made and kept there if it may be: a UDP worker's path (see
    /// [`prepared`]).
    pub fn handle_packet_prepared(
        &self,
        prepared: &mut PreparedAnswers,
        worker: usize,
        packet: &[u8],
        peer: SocketAddr,
        now: impl FnOnce() -> u64,
        out: &mut Vec<u8>,
    ) -> bool {
        // Read before the snapshot: an answer made from a newer one than the epoch says
        // is only kept until the next query sees the epoch move.
        let mut epoch = prepared::Epoch {
            generation: self.generation(),
            overrides: self.override_changes.load(Ordering::Acquire),
            flips: health::flips(),
            signed_hour: 0,
        };
        let live = self.snapshot();
        let mut clock = LazyClock::new(Some(now));
        if live.signed {
            epoch.signed_hour = clock.now().unwrap_or(0) / prepared::SIGNED_ANSWER_LIFE;
        }
        let miss = match prepared.answer(&live, epoch, packet, peer.ip(), out) {
            Ok(mut outcome) => {
                if !self.defences.finish(&live.settings, &mut outcome, peer.ip(), Transport::Udp, out) {
                    return false;
                }
                self.count(worker, &live, &outcome, Transport::Udp);
                self.tap(&live, &outcome, (packet, peer, Transport::Udp, out));
                return true;
            }
            Err(miss) => miss,
        };
        let keep = |outcome: &packet::Outcome, out: &[u8]| {
            if let Some(miss) = miss {
                prepared.keep(miss, outcome, out);
            }
        };
        self.respond(&live, worker, packet, peer, Transport::Udp, Some(|| clock.now().unwrap_or(0)), out, keep)
            .is_some()
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
        if packet::is_notify(packet) {
            let (outcome, accepted) = packet::notify(live, packet, peer.ip(), clock.now(), out);
            if let (Some(zone), Some(hook)) = (accepted, self.notified.get()) {
                (hook.0)(zone);
            }
            self.count(shard, live, &outcome, transport);
            self.tap(live, &outcome, (packet, peer, transport, out));
            return Some(outcome);
        }
        let health = live.live_health();
        let cache = &self.signatures;
        // Only a snapshot with signed zones signs (and reads the clock for it).
        let signed = live.signed;
        let mut signing = || if signed { clock.now().map(|now| sign::answer::Signing { cache, now }) } else { None };
        let mut outcome =
            packet::respond(live, packet, peer.ip(), transport, &health, &self.served, &mut signing, out)?;
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
        self.tap(live, &outcome, (packet, peer, transport, out));
        Some(outcome)
    }

    fn count(&self, shard: usize, live: &Live, outcome: &packet::Outcome, transport: Transport) {
        let slot = outcome.route.map_or(metrics::NO_LINE, |r| live.metric_slot(r.client_line));
        self.metrics.record(shard, slot, outcome.qtype, outcome.rcode, transport, outcome.route.as_ref(), outcome.ecs);
    }

    /// Answers a zone transfer query (AXFR or IXFR over TCP) from `peer` and counts it;
    /// `None` when `packet` is no transfer query (answer it with [`Engine::handle_packet`]).
    /// `now` is the time in seconds since the Unix epoch (TSIG checks and signs with it).
    pub fn transfer(&self, packet: &[u8], peer: std::net::IpAddr, now: u64) -> Option<transfer::Transfer> {
        let live = self.snapshot();
        let catch_up = |zone: &str, line: &str, held: Option<u32>| self.lock_versions().since(zone, line, held);
        let signatures = &self.signatures;
        let answered = transfer::transfer(&live, packet, peer, &live.live_health(), catch_up, signatures, now)?;
        self.metrics.record_transfer(answered.kind);
        Some(answered)
    }

    fn lock_versions(&self) -> std::sync::MutexGuard<'_, Versions> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the views from now on: every later [`Engine::swap`] looks at the new
    /// snapshot's views before it goes live, and [`Engine::refresh_versions`] can be
    /// called. Call once, after [`Engine::restore_versions`]; later calls are ignored.
    pub fn follow_versions(&self, hooks: VersionHooks) {
        let _ = self.version_hooks.set(hooks);
    }

    /// Looks at every (zone, line) view of the live snapshot under the live health:
    /// views whose content changed get a new serial, which SOA records in answers carry
    /// from then on and transfers send. The host calls it after changes
    /// ([`Engine::change_mark`]), as often as it wants secondaries to follow (it
    /// coalesces flaps); it exports every view, so not on the query path. Nothing
    /// without [`Engine::follow_versions`].
    pub fn refresh_versions(&self) -> VersionsRefresh {
        let live = self.snapshot();
        self.look_at_views(&live)
    }

    /// Looks at the views of `live` (live, or about to be): the new versions are kept
    /// (persisted) first, then published; the changes are queued for
    /// [`Engine::take_serial_changes`].
    fn look_at_views(&self, live: &Live) -> VersionsRefresh {
        let Some(hooks) = self.version_hooks.get() else { return VersionsRefresh::default() };
        // One look at a time; the versions themselves are locked only to copy and to
        // store them, so transfers and readers never wait on a zone being signed.
        let _looking = self.looking.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.lock_versions().clone();
        let changes = next.update(live, &live.live_health(), (hooks.clock)(), &self.signatures);
        let mut refresh = VersionsRefresh { changes, persist_error: None };
        if !refresh.changes.is_empty() {
            refresh.persist_error = (hooks.persist)(&next.stored()).err();
            self.pending_changes.lock().unwrap_or_else(|e| e.into_inner()).extend(refresh.changes.iter().cloned());
        }
        if !refresh.changes.is_empty() || self.served.load().is_empty() {
            self.served.store(Arc::new(next.served()));
        }
        *self.lock_versions() = next;
        refresh
    }

    /// When the views are next to be looked at even if nothing changes (seconds since
    /// the Unix epoch): the signatures of a signed view that secondaries transfer are due
    /// to be made again (a new serial, and a NOTIFY), or a change waits for the clock
    /// ([`versions::MAX_LEAD`]). The host calls [`Engine::refresh_versions`] then.
    pub fn next_look(&self) -> Option<u64> {
        self.lock_versions().next_look()
    }

    /// Gives the engine what to call when a view's content may have changed (a reload,
    /// an override set or removed, or [`Engine::mark_changed`]): the host then looks at
    /// the views at once, instead of polling [`Engine::change_mark`]. It must not block.
    /// It replaces the hook given before, if any (a server started again on the same
    /// engine).
    pub fn on_change(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.changed.store(Some(Arc::new(Hook(Box::new(hook)))));
    }

    /// Tells the host that a view's content may have changed: what the engine does
    /// itself on a reload or an override; the host's health checker calls it when a
    /// probe's state flips (probes live in the snapshot, not here).
    pub fn mark_changed(&self) {
        if let Some(hook) = &*self.changed.load() {
            (hook.0)();
        }
    }

    /// The serial changes since the last call (from refreshes and reloads alike), for the
    /// host to announce (NOTIFY).
    pub fn take_serial_changes(&self) -> Vec<versions::SerialChange> {
        std::mem::take(&mut *self.pending_changes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Continues the views of a state file ([`Engine::stored_versions`]); call before the
    /// first [`Engine::refresh_versions`].
    pub fn restore_versions(&self, stored: Vec<versions::StoredView>) {
        self.lock_versions().restore(stored);
    }

    /// Every view's serial and content digest, for a state file.
    pub fn stored_versions(&self) -> Vec<versions::StoredView> {
        self.lock_versions().stored()
    }

    /// Every view with its serial, (zone, line, serial), once [`Engine::refresh_versions`]
    /// has run.
    pub fn view_serials(&self) -> Vec<(Box<str>, Box<str>, u32)> {
        self.lock_versions().list()
    }

    /// The serial of the view (`zone`, `line`), once [`Engine::refresh_versions`] has run.
    pub fn view_serial(&self, zone: &str, line: &str) -> Option<u32> {
        self.lock_versions().serial(zone, line)
    }

    /// A number that changes whenever a view's content may have: a reload, an override
    /// set or removed, a probe's state flipping. Cheap (a pass over the probes): a host
    /// compares it before and after to know whether to [`Engine::refresh_versions`].
    pub fn change_mark(&self) -> u64 {
        let live = self.snapshot();
        let mut mark = self.generation().wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mark ^= self.override_changes.load(Ordering::Acquire).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
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
        let overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.current.load_full();
        let report = adopt_and_compare(&mut snapshot, &old);
        let live = Live {
            signed: snapshot.zones.iter().any(|z| z.signing.is_some()),
            metric_slots: self.metrics.slots_for(&snapshot.lines.names).into(),
            overrides: ArcSwap::from_pointee(OverrideView::build(&overrides.list, snapshot.override_targets())),
            snapshot,
        };
        // Its views first: from its first query on, every SOA and transfer of the new
        // snapshot has its view's serial (never the rules' one).
        let versions = self.look_at_views(&live);
        self.defences.reloaded(&live.settings);
        self.current.store(Arc::new(live));
        drop(overrides);
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.mark_changed();
        ReloadReport { generation, versions, ..report }
    }

    /// Loads a fresh snapshot from the source and swaps it in; on any error the running
    /// snapshot stays and the errors are returned. Loading reads files: call it off the
    /// query path.
    pub fn reload(&self) -> Result<ReloadReport, CompileErrors> {
        let Some(source) = &self.source else {
            return Ok(ReloadReport { generation: self.generation(), ..ReloadReport::default() });
        };
        let snapshot = source.load()?;
        Ok(self.swap(snapshot))
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
    ) -> Result<Override, String> {
        let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let live = self.current.load();
        overrides.next_id += 1;
        let over = Override { id: overrides.next_id, target, state, who, why, at };
        if !OverrideView::applies(&over, live.override_targets()) {
            return Err(format!("the live rules have no {}", over.target));
        }
        // One override per target: a new one replaces the old.
        overrides.list.retain(|o| o.target != over.target);
        overrides.list.push(over.clone());
        live.overrides.store(Arc::new(OverrideView::build(&overrides.list, live.override_targets())));
        self.override_changes.fetch_add(1, Ordering::AcqRel);
        drop(overrides);
        self.mark_changed();
        Ok(over)
    }

    /// Removes an override by id; `false` if there is none.
    pub fn remove_override(&self, id: u64) -> bool {
        let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let before = overrides.list.len();
        overrides.list.retain(|o| o.id != id);
        let live = self.current.load();
        live.overrides.store(Arc::new(OverrideView::build(&overrides.list, live.override_targets())));
        self.override_changes.fetch_add(1, Ordering::AcqRel);
        let removed = overrides.list.len() < before;
        drop(overrides);
        self.mark_changed();
        removed
    }

    /// Puts `list` in force in place of the overrides set (as read back from where the
    /// host kept them): ids are kept, and new ones continue after the largest.
    pub fn restore_overrides(&self, list: Vec<Override>) {
        let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        overrides.next_id = overrides.next_id.max(list.iter().map(|o| o.id).max().unwrap_or(0));
        overrides.list = list;
        let live = self.current.load();
        live.overrides.store(Arc::new(OverrideView::build(&overrides.list, live.override_targets())));
        self.override_changes.fetch_add(1, Ordering::AcqRel);
        drop(overrides);
        self.mark_changed();
    }

    /// The overrides set, oldest first.
    pub fn overrides(&self) -> Vec<ListedOverride> {
        let overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let live = self.current.load();
        overrides
            .list
            .iter()
            .map(|o| ListedOverride { over: o.clone(), active: OverrideView::applies(o, live.override_targets()) })
            .collect()
    }
}

/// Gives `new` the probe states of `old` where the probe key matches, and lists what
/// differs between the two.
fn adopt_and_compare(new: &mut Snapshot, old: &Snapshot) -> ReloadReport {
    let old_probes: FxHashMap<_, _> = old.probes.iter().map(|p| (&p.key, &p.state)).collect();
    let mut report = ReloadReport::default();
    for probe in &mut new.probes {
        if let Some(state) = old_probes.get(&probe.key) {
            probe.state = Arc::clone(state);
            report.probes_kept += 1;
        }
    }
    // (added, removed) between two lists of names, in their order.
    let diff = |a: Vec<String>, b: Vec<String>| -> (Vec<String>, Vec<String>) {
        let (in_a, in_b): (std::collections::HashSet<_>, std::collections::HashSet<_>) =
            (a.iter().collect(), b.iter().collect());
        let added = b.iter().filter(|x| !in_a.contains(x)).cloned().collect();
        let removed = a.iter().filter(|x| !in_b.contains(x)).cloned().collect();
        (added, removed)
    };
    let probes =
        |s: &Snapshot| s.probes.iter().map(|p| format!("{} {}", p.key.check, p.key.target)).collect::<Vec<_>>();
    (report.probes_added, report.probes_removed) = diff(probes(old), probes(new));
    let names = |s: &Snapshot| s.lines.names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    (report.lines_added, report.lines_removed) = diff(names(old), names(new));
    let origins = |s: &Snapshot| s.zones.iter().map(|z| z.origin.to_string()).collect::<Vec<_>>();
    (report.zones_added, report.zones_removed) = diff(origins(old), origins(new));
    report.table_blocks = (old.classifier.block_counts(), new.classifier.block_counts());
    report
}
