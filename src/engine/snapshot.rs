//! The compiled, immutable rule set: what one reload produces and every query reads.
//! The query path over it is in [`super::resolve`].

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::health::Probe;
use super::line::{LineRecord, LineTable, Node, NodeHealth, PoolNode};
use super::overrides::Targets;
use super::zone::Zone;
use crate::geo::table::LineId;
use crate::geo::{Classifier, Tie};
use crate::name::{self, Name};

/// A prefix of a line as the rules gave it, kept for explanations.
#[derive(Clone, Copy, Debug)]
pub struct SourcePrefix {
    /// The prefix.
    pub net: IpNet,
    /// Its line.
    pub line: LineId,
    /// Index into [`Snapshot::sources`].
    pub source: u32,
    /// Line number in a list file (0 when not from a file).
    pub line_no: u32,
}

/// Everything a query needs, compiled from one rule set and its data.
#[derive(Debug)]
pub struct Snapshot {
    /// How the server answers (payload size, CHAOS) and listens.
    pub settings: super::settings::AnswerSettings,
    /// Lines, `default` first.
    pub lines: LineTable,
    /// Address → line and ECS scope.
    pub classifier: Classifier,
    /// Every source prefix with its origin.
    pub prefixes: Vec<SourcePrefix>,
    /// Descriptions of sources: a file path, `rules.yaml:12 (inline)`, or an MMDB field.
    pub sources: Vec<Box<str>>,
    /// Equal prefixes found in two lines, decided by priority.
    pub ties: Vec<Tie>,
    /// The zones.
    pub zones: Vec<Zone>,
    /// Zone index by origin.
    pub zone_by_origin: FxHashMap<Name, u32>,
    /// The line records of all zones.
    pub line_records: Vec<LineRecord>,
    /// The nodes of all pools, unique by address.
    pub nodes: Vec<Node>,
    /// One probe per distinct (target, check), indexed by [`PoolNode::probe`].
    pub probes: Vec<Probe>,
    /// Files this snapshot was compiled from (the rules first), each with its
    /// modification time and length when it was read, for the reload watch.
    pub inputs: Vec<(std::path::PathBuf, Option<(std::time::SystemTime, u64)>)>,
    /// Who may transfer which zones, and as which line (first match wins).
    pub transfers: Vec<super::access::TransferRule>,
    /// TSIG keys, for transfers.
    pub keys: Vec<crate::wire::tsig::Key>,
    /// The consistency checker's servers and limits.
    pub check: super::settings::CheckSettings,
}

/// The health the probes report, without operator overrides: what `explain` shows
/// from the command line. (The server's view, with overrides, is
/// [`crate::engine::Live::live_health`].)
#[derive(Clone, Copy, Debug)]
pub struct ProbeHealth<'s> {
    probes: &'s [Probe],
}

impl NodeHealth for ProbeHealth<'_> {
    #[inline]
    fn is_up(&self, node: &PoolNode) -> bool {
        node.probe.is_none_or(|p| self.probes[p.index()].state.is_up())
    }
}

impl Snapshot {
    /// The node health the probes report (no overrides: see [`ProbeHealth`]).
    #[inline]
    pub fn probe_health(&self) -> ProbeHealth<'_> {
        ProbeHealth { probes: &self.probes }
    }

    /// What operator overrides can name in this snapshot.
    pub fn override_targets(&self) -> Targets<'_> {
        Targets { nodes: &self.nodes, lines: &self.lines, line_records: &self.line_records }
    }

    /// The zone holding `qname`: the longest origin that is a suffix of it.
    pub fn find_zone(&self, qname: &str) -> Option<&Zone> {
        let mut cur = qname;
        loop {
            if let Some(&idx) = self.zone_by_origin.get(cur) {
                return Some(&self.zones[idx as usize]);
            }
            cur = name::parent(cur)?;
        }
    }

    /// The longest source prefix of `line` containing `addr`, for explanations.
    pub fn source_prefix(&self, addr: IpAddr, line: LineId) -> Option<&SourcePrefix> {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.prefixes.iter().filter(|p| p.line == line && p.net.contains(&addr)).max_by_key(|p| p.net.prefix_len())
    }

    /// Where a source prefix came from: `file:line`, or the source's description.
    pub fn describe_source(&self, prefix: &SourcePrefix) -> String {
        let source = &self.sources[prefix.source as usize];
        if prefix.line_no > 0 { format!("{source}:{}", prefix.line_no) } else { source.to_string() }
    }
}
