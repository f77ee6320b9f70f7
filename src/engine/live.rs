//! A snapshot as it is served ([`Live`]): the compiled snapshot, untouched, with what the
//! engine keeps beside it while it is live (metric slots, the override view), the health
//! queries see through it.

use std::ops::Deref;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::health::Forced;
use super::line::{self, NodeHealth, PoolNode};
use super::metrics::{self, Metrics};
use super::overrides::OverrideView;
use super::snapshot::Snapshot;
use crate::geo::table::LineId;

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

impl Live {
    /// `snapshot` as served: its lines' metric slots from `metrics`, overrides `view`.
    pub(super) fn new(snapshot: Snapshot, metrics: &Metrics, view: OverrideView) -> Live {
        Live {
            signed: snapshot.zones.iter().any(|z| z.signing.is_some()),
            metric_slots: metrics.slots_for(&snapshot.lines.names).into(),
            overrides: ArcSwap::from_pointee(view),
            snapshot,
        }
    }

    /// Whether a zone of it is DNSSEC-signed.
    #[inline]
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// Puts a new override view in force (the overrides changed).
    pub(super) fn set_overrides(&self, view: OverrideView) {
        self.overrides.store(Arc::new(view));
    }
}
