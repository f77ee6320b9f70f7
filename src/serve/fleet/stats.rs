//! The fleet's counters, for `/metrics` and the status page.

use std::sync::atomic::{AtomicBool, AtomicU64};

/// What `/metrics` and the status page say of the fleet.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Whether the store is reachable now.
    pub connected: AtomicBool,
    /// Results this instance published.
    pub published: AtomicU64,
    /// Failed attempts to reach or use the store.
    pub store_errors: AtomicU64,
    /// Decisions that changed a node's state.
    pub decisions_changed: AtomicU64,
    /// Results held from other instances.
    pub results_held: AtomicU64,
}
