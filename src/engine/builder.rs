//! An engine is built once, with everything the host gives it ([`EngineBuilder`]): its
//! clock, the hooks it calls back (a NOTIFY accepted, a view that
//! may have changed, answered queries for a tap) and the views' stored serials with
//! where to keep them. Nothing is handed to a running engine afterwards.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arc_swap::ArcSwap;

use super::Engine;
use super::defence::Defences;
use super::host::{HostHooks, NotifyHook};
use super::live::Live;
use super::metrics::Metrics;
use super::override_book::OverrideBook;
use super::overrides::OverrideView;
use super::serials::{ChangeHook, Hook, Serials, VersionHooks};
use super::sign::cache::SignatureCache;
use super::snapshot::Snapshot;
use super::tap::Tap;
use super::versions::StoredView;

/// What an [`Engine`] is built from. Only the snapshot is required.
#[derive(Debug)]
pub struct EngineBuilder {
    snapshot: Snapshot,
    clock: Option<fn() -> u64>,
    notified: Option<NotifyHook>,
    changed: Option<ChangeHook>,
    tap: Option<Arc<dyn Tap>>,
    versions: Option<(Vec<StoredView>, VersionHooks)>,
}

impl EngineBuilder {
    /// An engine that will serve `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        EngineBuilder { snapshot, clock: None, notified: None, changed: None, tap: None, versions: None }
    }

    /// The host's clock (seconds since the Unix epoch): DNS cookies and response rate
    /// limiting run on it, as the rules configure them (see [`super::defence`]).
    pub fn clock(self, clock: fn() -> u64) -> Self {
        EngineBuilder { clock: Some(clock), ..self }
    }

    /// What to call with the zone when its primary sends a NOTIFY that is accepted
    /// (RFC 1996 §3.11: the secondary then checks the primary's serial). It must not
    /// block.
    pub fn on_notify(self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        EngineBuilder { notified: Some(Hook(Box::new(hook))), ..self }
    }

    /// What to call when a view's content may have changed (a reload, an override set or
    /// removed, or [`Serials::mark_changed`]): the host then looks at the views at once,
    /// instead of polling [`Engine::change_mark`]. It must not block.
    pub fn on_change(self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        EngineBuilder { changed: Some(Hook(Box::new(hook))), ..self }
    }

    /// A tap that sees the answered queries it samples (serve's dnstap writer).
    pub fn tap(self, tap: Arc<dyn Tap>) -> Self {
        EngineBuilder { tap: Some(tap), ..self }
    }

    /// Follows the views, continuing `stored` (read back from where `hooks` keep them):
    /// every swap looks at the new snapshot's views before it goes live, and
    /// [`Engine::refresh_versions`] looks at the live ones.
    pub fn follow_versions(self, stored: Vec<StoredView>, hooks: VersionHooks) -> Self {
        EngineBuilder { versions: Some((stored, hooks)), ..self }
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let EngineBuilder { snapshot, clock, notified, changed, tap, versions } = self;
        let defences = Defences::new(&snapshot.settings, clock);
        let metrics = Metrics::default();
        let live = Live::new(snapshot, &metrics, OverrideView::default());
        Engine {
            current: ArcSwap::from_pointee(live),
            generation: AtomicU64::new(1),
            metrics,
            overrides: OverrideBook::default(),
            serials: Serials::new(versions, changed),
            defences,
            signatures: SignatureCache::default(),
            host: HostHooks::new(notified, tap),
        }
    }
}

impl Engine {
    /// An engine serving `snapshot`, with nothing from a host (see [`Engine::builder`]).
    pub fn new(snapshot: Snapshot) -> Self {
        EngineBuilder::new(snapshot).build()
    }

    /// A builder for an engine serving `snapshot` with what a host gives it.
    pub fn builder(snapshot: Snapshot) -> EngineBuilder {
        EngineBuilder::new(snapshot)
    }
}
