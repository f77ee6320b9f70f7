//! Operator overrides: a node, a pool or a whole line forced up, down or drained.
//!
//! The engine keeps the list (it survives reloads, matched by address, line name and
//! record name); each snapshot gets a compiled [`OverrideView`] indexed by its own ids,
//! which the query path reads lock-free. Drained and down both keep the target out of
//! answers; probes keep running either way, so lifting an override shows the real state
//! at once.

use serde::{Deserialize, Serialize};

pub use super::health::Forced;
use super::line::{LineRecord, LineTable, Node, NodeId};
use crate::geo::table::LineId;

/// What an override applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Every appearance of a node: its address (or, for a node that is no address, its
    /// data as written: a CNAME's target name, ...).
    Node(String),
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

impl std::fmt::Display for Target {
    /// In words, for logs: `node 192.0.2.1`, `line telecom`, `pool of www.example.com A
    /// for line telecom`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(addr) => write!(f, "node {addr}"),
            Target::Line(line) => write!(f, "line {line}"),
            Target::Pool { record, line } => write!(f, "pool of {record} for line {line}"),
        }
    }
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
    /// Where: the fleet instance it was set at (none for an instance on its own).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// Overrides compiled against one snapshot.
#[derive(Debug, Default)]
pub struct OverrideView {
    /// By node id.
    node: Vec<Option<Forced>>,
    /// By line.
    line: Vec<Option<Forced>>,
    /// (line record index, line) pools.
    pool: Vec<(u32, LineId, Forced)>,
    /// Whether any override is set (the common case is none).
    any: bool,
}

impl OverrideView {
    /// Compiles `list` against a snapshot's `targets`; overrides naming what it lacks
    /// are kept in the list but have no effect here.
    pub fn build(list: &[Override], targets: Targets<'_>) -> OverrideView {
        let mut view = OverrideView {
            node: vec![None; targets.nodes.len()],
            line: vec![None; targets.lines.len()],
            pool: Vec::new(),
            any: false,
        };
        for o in list {
            match &o.target {
                // Every node it names: the same text may be the data of several
                // types (a CNAME's and an NS's target, an HTTPS and an SVCB record).
                Target::Node(text) => {
                    for (i, _) in targets.nodes.iter().enumerate().filter(|(_, n)| n.is_named(text)) {
                        view.node[i] = Some(o.state);
                        view.any = true;
                    }
                }
                Target::Line(name) => {
                    if let Some(l) = targets.lines.find(name) {
                        view.line[l.index()] = Some(o.state);
                        view.any = true;
                    }
                }
                Target::Pool { record, line } => {
                    if let (Some(r), Some(l)) = (find_record(targets.line_records, record), targets.lines.find(line)) {
                        view.pool.push((r, l, o.state));
                        view.any = true;
                    }
                }
            }
        }
        view
    }

    /// Whether `o` names something of `targets`.
    pub fn applies(o: &Override, targets: Targets<'_>) -> bool {
        match &o.target {
            Target::Node(text) => targets.nodes.iter().any(|n| n.is_named(text)),
            Target::Line(name) => targets.lines.find(name).is_some(),
            Target::Pool { record, line } => {
                find_record(targets.line_records, record).is_some() && targets.lines.find(line).is_some()
            }
        }
    }

    /// The override of a node, if any.
    #[inline]
    pub fn node(&self, node: NodeId) -> Option<Forced> {
        if !self.any {
            return None;
        }
        self.node.get(node.index()).copied().flatten()
    }

    /// The override of a record's pool for `line` (a pool override beats a line one).
    #[inline]
    pub fn pool(&self, record: u32, line: LineId) -> Option<Forced> {
        if !self.any {
            return None;
        }
        self.pool
            .iter()
            .find(|(r, l, _)| *r == record && *l == line)
            .map(|(_, _, f)| *f)
            .or_else(|| self.line.get(line.index()).copied().flatten())
    }
}

/// What overrides can name in one snapshot: its nodes, lines and line records.
#[derive(Clone, Copy, Debug)]
pub struct Targets<'s> {
    /// The nodes, by node id.
    pub nodes: &'s [Node],
    /// The lines.
    pub lines: &'s LineTable,
    /// The line records, by index.
    pub line_records: &'s [LineRecord],
}

/// The line record written as `name TYPE` (`www.example.com A`, trailing dot optional).
fn find_record(records: &[LineRecord], text: &str) -> Option<u32> {
    let (name, rtype) = text.trim().rsplit_once(' ')?;
    let name = crate::name::normalize(name.trim()).ok()?;
    records.iter().position(|r| *r.name == *name && r.rtype.to_string().eq_ignore_ascii_case(rtype)).map(|i| i as u32)
}
