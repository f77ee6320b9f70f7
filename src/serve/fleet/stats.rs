//! The fleet's counters, for `/metrics` and the status page.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};

use serde::Serialize;

use crate::engine::health::ProbeKey;

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
    /// Each probe's results as this instance holds them (every site's, this one's
    /// included), refreshed every second: what the status page shows beside the decision.
    pub sites: Mutex<HashMap<ProbeKey, Vec<SiteResult>>>,
}

/// One site's result for a probe, as an instance holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SiteResult {
    /// The site.
    pub site: String,
    /// The instance that probed.
    pub instance: String,
    /// Whether its probes see the node up.
    pub up: bool,
    /// How old the result is here, milliseconds.
    pub age_ms: u64,
    /// Whether it counts in the decision (its site probes the node, and it is fresh).
    pub counted: bool,
}
