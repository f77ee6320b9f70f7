//! The operator's overrides as the engine keeps them across reloads ([`OverrideBook`]):
//! the list, its ids, and a count of changes (prepared answers and the views' change mark
//! read it). Each change is compiled into the live snapshot's [`OverrideView`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use arc_swap::ArcSwap;

use serde::Serialize;

use super::live::Live;
use super::overrides::{Override, OverrideView, Target};

/// An override as listed: whether it names something in the live snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct ListedOverride {
    /// The override.
    #[serde(flatten)]
    pub over: Override,
    /// Whether the live snapshot has its target (else it waits for one that does).
    pub active: bool,
}

/// The overrides set, kept across reloads.
#[derive(Debug, Default)]
pub struct OverrideBook {
    /// Held while a snapshot is swapped in, so a change never lands on a snapshot about
    /// to be replaced.
    list: Mutex<Listed>,
    /// Bumped on every override set or removed.
    changes: AtomicU64,
}

#[derive(Debug, Default)]
struct Listed {
    next_id: u64,
    list: Vec<Override>,
}

/// The book held while a snapshot is swapped in (see [`OverrideBook::hold`]).
pub(super) struct Held<'b>(MutexGuard<'b, Listed>);

impl Held<'_> {
    /// The overrides compiled against `snapshot`'s targets.
    pub(super) fn view_for(&self, live: &super::snapshot::Snapshot) -> OverrideView {
        OverrideView::build(&self.0.list, live.override_targets())
    }
}

impl OverrideBook {
    /// How many times the overrides changed.
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Holds the book (no change) while a new snapshot gets its view and goes live.
    pub(super) fn hold(&self) -> Held<'_> {
        Held(self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Listed> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts the changed list in force in `live`.
    fn publish(&self, listed: &Listed, live: &Live) {
        live.set_overrides(OverrideView::build(&listed.list, live.override_targets()));
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets `over` (its id is given here); it must name a node, line or pool of the live
    /// snapshot. One per target: a new one replaces the old. The live snapshot is read
    /// with the book held, so a change never lands on a snapshot a swap is replacing.
    pub(super) fn add(&self, current: &ArcSwap<Live>, mut over: Override) -> Result<Override, UnknownTarget> {
        let mut listed = self.lock();
        let live = current.load();
        if !OverrideView::applies(&over, live.override_targets()) {
            return Err(UnknownTarget(over.target));
        }
        listed.next_id += 1;
        over.id = listed.next_id;
        listed.list.retain(|o| o.target != over.target);
        listed.list.push(over.clone());
        self.publish(&listed, &live);
        Ok(over)
    }

    /// Removes an override by id; `false` if there is none.
    pub(super) fn remove(&self, current: &ArcSwap<Live>, id: u64) -> bool {
        let mut listed = self.lock();
        let before = listed.list.len();
        listed.list.retain(|o| o.id != id);
        self.publish(&listed, &current.load());
        listed.list.len() < before
    }

    /// Puts `list` in force in place of the overrides set: ids are kept, and new ones
    /// continue after the largest.
    pub(super) fn restore(&self, current: &ArcSwap<Live>, list: Vec<Override>) {
        let mut listed = self.lock();
        listed.next_id = listed.next_id.max(list.iter().map(|o| o.id).max().unwrap_or(0));
        listed.list = list;
        self.publish(&listed, &current.load());
    }

    /// The overrides set, oldest first, each with whether `live` has its target.
    pub(super) fn listed(&self, live: &Live) -> Vec<ListedOverride> {
        let listed = self.lock();
        listed
            .list
            .iter()
            .map(|o| ListedOverride { over: o.clone(), active: OverrideView::applies(o, live.override_targets()) })
            .collect()
    }
}
/// An override that names no node, line or pool of the live rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTarget(pub Target);

impl std::fmt::Display for UnknownTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the live rules have no {}", self.0)
    }
}

impl std::error::Error for UnknownTarget {}
