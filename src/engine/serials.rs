//! The serials part of the engine: each (zone, line) view's version and serial (see
//! [`super::versions`]), the serials SOA answers carry, the changes waiting for the host
//! to announce, and the host's hooks that keep them (a clock, a store, a waker).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use serde::Serialize;

use super::live::Live;
use super::sign::cache::SignatureCache;
use super::versions::{self, ServedSerials, Versions};

/// A function the host gives the engine to call (it must not block).
pub struct Hook<F: ?Sized>(pub Box<F>);

impl<F: ?Sized> std::fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

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

/// The views' versions and serials, kept across reloads.
#[derive(Debug, Default)]
pub struct Serials {
    /// Each view's serial and the journals of transferred views.
    versions: Mutex<Versions>,
    /// Held while the views are looked at (one look at a time).
    looking: Mutex<()>,
    /// The serials SOA records in answers carry, published by each look.
    served: ArcSwap<ServedSerials>,
    /// The host's clock and store, when it follows the views.
    hooks: Option<VersionHooks>,
    /// Serial changes not yet taken by the host (to NOTIFY).
    pending: Mutex<Vec<versions::SerialChange>>,
    /// Told when a view's content may have changed.
    changed: Option<ChangeHook>,
    /// The serials a fleet agreed on (see [`Serials::agree`]).
    agreed: Mutex<versions::Agreed>,
    /// Bumped on every agreement taken.
    agreements: AtomicU64,
}

impl Serials {
    /// The serials part: following the views from `versions` (the stored views and the
    /// host's clock and store) if given, telling `changed` of every possible change.
    pub(super) fn new(
        versions: Option<(Vec<versions::StoredView>, VersionHooks)>,
        changed: Option<ChangeHook>,
    ) -> Self {
        let mut serials = Serials { changed, ..Serials::default() };
        if let Some((stored, hooks)) = versions {
            serials.versions.get_mut().unwrap_or_else(|e| e.into_inner()).restore(stored);
            serials.hooks = Some(hooks);
        }
        serials
    }

    /// Looks at the views of `live` (live, or about to be): the new versions are kept
    /// (persisted) first, then published; the changes are queued for [`Serials::take_changes`].
    pub(super) fn look_at_views(&self, live: &Live, signatures: &SignatureCache) -> VersionsRefresh {
        let Some(hooks) = &self.hooks else { return VersionsRefresh::default() };
        // One look at a time; the versions themselves are locked only to copy and to
        // store them, so transfers and readers never wait on a zone being signed.
        let _looking = self.looking.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.lock().clone();
        let agreed = self.agreed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let changes = next.update(live, &live.live_health(), (hooks.clock)(), signatures, &agreed);
        let mut refresh = VersionsRefresh { changes, persist_error: None };
        if !refresh.changes.is_empty() {
            refresh.persist_error = (hooks.persist)(&next.stored()).err();
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).extend(refresh.changes.iter().cloned());
        }
        if !refresh.changes.is_empty() || self.served.load().is_empty() {
            self.served.store(Arc::new(next.served()));
        }
        *self.lock() = next;
        refresh
    }

    /// The serials SOA records in answers carry.
    #[inline]
    pub fn served(&self) -> &ArcSwap<ServedSerials> {
        &self.served
    }

    /// The versions (journals included), locked.
    pub(super) fn lock(&self) -> MutexGuard<'_, Versions> {
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the views are next to be looked at even if nothing changes (seconds since
    /// the Unix epoch): the signatures of a signed view that secondaries transfer are due
    /// to be made again (a new serial, and a NOTIFY), or a change waits for the clock
    /// ([`versions::MAX_LEAD`]). The host calls [`crate::Engine::refresh_versions`] then.
    pub fn next_look(&self) -> Option<u64> {
        self.lock().next_look()
    }

    /// Tells the host that a view's content may have changed: what the engine does
    /// itself on a reload or an override; the host's health checker calls it when a
    /// probe's state flips (probes live in the snapshot, not here).
    pub fn mark_changed(&self) {
        if let Some(hook) = &self.changed {
            (hook.0)();
        }
    }

    /// A fleet's serial for view (`zone`, `line`) with content `digest`: the view takes it
    /// at the next look if its content is that and the serial is ahead of its own (never
    /// back). Looks again at once.
    pub fn agree(&self, zone: &str, line: &str, digest: versions::Digest, serial: u32) {
        let key = (Box::from(zone), Box::from(line));
        self.agreed.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (digest, serial));
        self.agreements.fetch_add(1, Ordering::AcqRel);
        self.mark_changed();
    }

    /// How many agreements [`Serials::agree`] took (part of the engine's change mark).
    pub fn agreements(&self) -> u64 {
        self.agreements.load(Ordering::Acquire)
    }

    /// The serial changes since the last call (from refreshes and reloads alike), for the
    /// host to announce (NOTIFY).
    pub fn take_changes(&self) -> Vec<versions::SerialChange> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every view's serial and content digest, for a state file.
    pub fn stored(&self) -> Vec<versions::StoredView> {
        self.lock().stored()
    }

    /// Every view with its serial, (zone, line, serial), once the views were looked at.
    pub fn list(&self) -> Vec<(Box<str>, Box<str>, u32)> {
        self.lock().list()
    }

    /// The serial of the view (`zone`, `line`), once the views were looked at.
    pub fn serial(&self, zone: &str, line: &str) -> Option<u32> {
        self.lock().serial(zone, line)
    }
}
