//! What a swap carries from the old snapshot to the new (probe states), and what it
//! reports ([`ReloadReport`]).

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::serials::VersionsRefresh;
use super::snapshot::Snapshot;

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

/// Gives `new` the probe states of `old` where the probe key matches, and lists what
/// differs between the two.
pub(super) fn adopt_and_compare(new: &mut Snapshot, old: &Snapshot) -> ReloadReport {
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
