//! [`Engine`]: the live snapshot behind an atomic pointer, swapped whole on reload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::compile::{CompileOptions, compile_file};
use crate::error::CompileErrors;
use crate::metrics::Metrics;
use crate::overrides::{Forced, Override, OverrideView, Target};
use crate::snapshot::Snapshot;

/// Holds the snapshot queries read. Readers never block; a reload compiles off the query
/// path and swaps the pointer, so each query sees one whole snapshot, old or new.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Snapshot>,
    rules: Option<(PathBuf, CompileOptions)>,
    generation: AtomicU64,
    /// Query counters, kept across reloads.
    pub metrics: Metrics,
    /// Operator overrides, kept across reloads. Held while a snapshot is swapped in, so a
    /// change never lands on a snapshot about to be replaced.
    overrides: Mutex<OverrideList>,
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
}

impl Engine {
    /// An engine serving `snapshot` (no rules file to reload from).
    pub fn new(mut snapshot: Snapshot) -> Self {
        let metrics = Metrics::default();
        snapshot.metric_slots = metrics.slots_for(&snapshot.lines.names);
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            rules: None,
            generation: AtomicU64::new(1),
            metrics,
            overrides: Mutex::default(),
        }
    }

    /// Compiles the rules file and serves it; [`Engine::reload`] reads the same file again.
    pub fn from_rules(path: &Path, options: CompileOptions) -> Result<Self, CompileErrors> {
        let snapshot = compile_file(path, &options)?;
        Ok(Engine { rules: Some((path.to_path_buf(), options)), ..Engine::new(snapshot) })
    }

    /// The snapshot now live. Hold the guard for the length of one query, not longer.
    #[inline]
    pub fn snapshot(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The rules file this engine reloads from, if any.
    pub fn rules_path(&self) -> Option<&Path> {
        self.rules.as_ref().map(|(p, _)| p.as_path())
    }

    /// Number of the live snapshot: 1 at start, one more per swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes `snapshot` live. Probes it shares with the live snapshot (same target and
    /// check) keep their health state; the others start in their initial state.
    pub fn swap(&self, mut snapshot: Snapshot) -> ReloadReport {
        let overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.current.load_full();
        let report = adopt_and_compare(&mut snapshot, &old);
        snapshot.metric_slots = self.metrics.slots_for(&snapshot.lines.names);
        snapshot.overrides.store(Arc::new(OverrideView::build(&overrides.list, &snapshot)));
        self.current.store(Arc::new(snapshot));
        drop(overrides);
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        ReloadReport { generation, ..report }
    }

    /// Sets an override; it must name a node, line or pool of the live snapshot.
    pub fn add_override(&self, target: Target, state: Forced, who: String, why: String) -> Result<Override, String> {
        let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.current.load();
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        overrides.next_id += 1;
        let over = Override { id: overrides.next_id, target, state, who, why, at };
        if !OverrideView::applies(&over, &snapshot) {
            return Err(format!("the live rules have no {:?}", over.target));
        }
        // One override per target: a new one replaces the old.
        overrides.list.retain(|o| o.target != over.target);
        overrides.list.push(over.clone());
        snapshot.overrides.store(Arc::new(OverrideView::build(&overrides.list, &snapshot)));
        Ok(over)
    }

    /// Removes an override by id; `false` if there is none.
    pub fn remove_override(&self, id: u64) -> bool {
        let mut overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let before = overrides.list.len();
        overrides.list.retain(|o| o.id != id);
        let snapshot = self.current.load();
        snapshot.overrides.store(Arc::new(OverrideView::build(&overrides.list, &snapshot)));
        overrides.list.len() < before
    }

    /// The overrides set, oldest first.
    pub fn overrides(&self) -> Vec<ListedOverride> {
        let overrides = self.overrides.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.current.load();
        overrides
            .list
            .iter()
            .map(|o| ListedOverride { over: o.clone(), active: OverrideView::applies(o, &snapshot) })
            .collect()
    }

    /// Compiles the rules file again and swaps it in; on any error the running snapshot
    /// stays and the errors are returned.
    pub fn reload(&self) -> Result<ReloadReport, CompileErrors> {
        let Some((path, options)) = &self.rules else {
            return Ok(ReloadReport { generation: self.generation(), ..ReloadReport::default() });
        };
        let snapshot = compile_file(path, options)?;
        Ok(self.swap(snapshot))
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
