//! Operator overrides: a node, a pool or a whole line forced up, down or drained.
//!
//! The engine keeps the list (it survives reloads, matched by address, line name and
//! record name); each snapshot gets a compiled [`OverrideView`] indexed by its own ids,
//! which the query path reads lock-free. Drained and down both keep the target out of
//! answers; probes keep running either way, so lifting an override shows the real state
//! at once.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::geo::table::LineIdx;
use crate::snapshot::Snapshot;

/// What an override forces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forced {
    /// Answered whatever the probes say.
    Up,
    /// Not answered (a failure the probes do not see).
    Down,
    /// Not answered (planned maintenance); probes keep running.
    Drained,
}

impl Forced {
    /// Whether the target may be answered.
    pub fn answerable(self) -> bool {
        self == Forced::Up
    }
}

/// What an override applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Every appearance of a node, by address.
    Node(IpAddr),
    /// Every pool of a line, in every record.
    Line(String),
    /// One pool: a line record (`www.example.com A`) and a line.
    Pool {
        /// Owner name and type of the line record, e.g. `www.example.com A`.
        record: String,
        /// The line whose pool it is.
        line: String,
    },
}

/// One override, with who set it, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Id for deleting it.
    pub id: u64,
    /// What it applies to.
    pub target: Target,
    /// What it forces.
    pub state: Forced,
    /// Who set it.
    pub who: String,
    /// Why.
    pub why: String,
    /// When, in seconds since the Unix epoch.
    pub at: u64,
}

/// Overrides compiled against one snapshot.
#[derive(Debug, Default)]
pub struct OverrideView {
    /// By node id.
    node: Vec<Option<Forced>>,
    /// By line.
    line: Vec<Option<Forced>>,
    /// (line record index, line) pools.
    pool: Vec<(u32, LineIdx, Forced)>,
    /// Whether any override is set (the common case is none).
    any: bool,
}

impl OverrideView {
    /// Compiles `list` against `snapshot`; overrides naming what the snapshot lacks are
    /// kept in the list but have no effect here.
    pub fn build(list: &[Override], snapshot: &Snapshot) -> OverrideView {
        let mut view = OverrideView {
            node: vec![None; snapshot.nodes.len()],
            line: vec![None; snapshot.lines.len()],
            pool: Vec::new(),
            any: false,
        };
        for o in list {
            match &o.target {
                Target::Node(addr) => {
                    if let Some(i) = snapshot.nodes.iter().position(|n| n.addr == *addr) {
                        view.node[i] = Some(o.state);
                        view.any = true;
                    }
                }
                Target::Line(name) => {
                    if let Some(l) = snapshot.lines.find(name) {
                        view.line[l as usize] = Some(o.state);
                        view.any = true;
                    }
                }
                Target::Pool { record, line } => {
                    if let (Some(r), Some(l)) = (find_record(snapshot, record), snapshot.lines.find(line)) {
                        view.pool.push((r, l, o.state));
                        view.any = true;
                    }
                }
            }
        }
        view
    }

    /// Whether `o` names something `snapshot` has.
    pub fn applies(o: &Override, snapshot: &Snapshot) -> bool {
        match &o.target {
            Target::Node(addr) => snapshot.nodes.iter().any(|n| n.addr == *addr),
            Target::Line(name) => snapshot.lines.find(name).is_some(),
            Target::Pool { record, line } => {
                find_record(snapshot, record).is_some() && snapshot.lines.find(line).is_some()
            }
        }
    }

    /// The override of a node, if any.
    #[inline]
    pub fn node(&self, node: u32) -> Option<Forced> {
        if !self.any {
            return None;
        }
        self.node.get(node as usize).copied().flatten()
    }

    /// The override of a record's pool for `line` (a pool override beats a line one).
    #[inline]
    pub fn pool(&self, record: u32, line: LineIdx) -> Option<Forced> {
        if !self.any {
            return None;
        }
        self.pool
            .iter()
            .find(|(r, l, _)| *r == record && *l == line)
            .map(|(_, _, f)| *f)
            .or_else(|| self.line.get(line as usize).copied().flatten())
    }
}

/// The line record written as `name TYPE` (`www.example.com A`, trailing dot optional).
fn find_record(snapshot: &Snapshot, text: &str) -> Option<u32> {
    let (name, rtype) = text.trim().rsplit_once(' ')?;
    let name = crate::name::normalize(name.trim()).ok()?;
    snapshot
        .line_records
        .iter()
        .position(|r| *r.name == *name && r.rtype.to_string().eq_ignore_ascii_case(rtype))
        .map(|i| i as u32)
}
