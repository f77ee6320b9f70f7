//! CNAME chains followed as the query path follows them, at compile time: RFC 1034
//! §3.6.2 asks servers to guard against CNAME loops; linedns rejects every loop and
//! every chain longer than it follows in one answer, wherever the rules and zone data
//! make one, through static CNAMEs and every target a line CNAME may answer.

use rustc_hash::FxHashMap;

use super::Compiler;
use crate::engine::line::LineRecord;
use crate::engine::line::Node;
use crate::engine::resolve::MAX_CNAME_CHAIN;
use crate::engine::zone::{Content, Lookup, Zone};
use crate::name;
use crate::rdata::{Fqdn, RData, RecordType};

/// How far a name's CNAME chain was followed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Followed {
    /// Being followed: meeting it again is a loop.
    Open,
    /// The most CNAMEs any chain from the name holds.
    Done(usize),
}

/// What the chains are followed through.
struct Chains<'z> {
    zones: &'z [Zone],
    line_records: &'z [LineRecord],
    nodes: &'z [Node],
    followed: FxHashMap<String, Followed>,
}

/// A chain that cannot be served: the names along it.
enum Broken {
    /// The chain comes back to a name on it.
    Loop(Vec<String>),
    /// The chain holds more CNAMEs than an answer follows.
    TooLong(Vec<String>),
}

impl Chains<'_> {
    /// The zone holding `qname`: the longest origin at or above it.
    fn zone(&self, qname: &str) -> Option<&Zone> {
        self.zones.iter().filter(|z| name::is_at_or_below(qname, &z.origin)).max_by_key(|z| z.origin.len())
    }

    /// Every target the CNAME at `owner` may answer (none when it has no CNAME): a
    /// static CNAME's one, or each node and last-resort node of a line CNAME.
    fn targets(&self, owner: &str) -> Vec<String> {
        let Some(zone) = self.zone(owner) else { return Vec::new() };
        let Lookup::Found { node, .. } = zone.lookup(owner, false) else { return Vec::new() };
        let Some(set) = node.get(RecordType::CNAME) else { return Vec::new() };
        let data: Vec<&RData> = match &set.content {
            Content::Static(records) => records.iter().collect(),
            Content::Line(idx) => {
                let record = &self.line_records[*idx as usize];
                let mut pools: Vec<_> = record.pools.iter().collect();
                if let crate::engine::line::WhenAllDown::LastResort(pool) = &record.when_all_down {
                    pools.push(pool);
                }
                pools.iter().flat_map(|p| p.nodes.iter()).map(|n| &self.nodes[n.node.index()].data).collect()
            }
        };
        let mut out: Vec<String> = data
            .into_iter()
            .filter_map(|d| match d {
                RData::Cname(target) => Some(String::from(&**target)),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Follows every chain from `owner`; `path` holds the names that led here.
    fn follow(&mut self, owner: &str, path: &mut Vec<String>) -> Result<usize, Broken> {
        match self.followed.get(owner) {
            Some(Followed::Done(n)) => return Ok(*n),
            Some(Followed::Open) => {
                let start = path.iter().position(|p| p == owner).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(owner.to_string());
                return Err(Broken::Loop(cycle));
            }
            None => {}
        }
        let targets = self.targets(owner);
        if targets.is_empty() {
            self.followed.insert(owner.to_string(), Followed::Done(0));
            return Ok(0);
        }
        self.followed.insert(owner.to_string(), Followed::Open);
        path.push(owner.to_string());
        let mut longest = 0;
        for target in targets {
            let below = self.follow(&target, path)?;
            if below + 1 >= MAX_CNAME_CHAIN {
                let mut chain = path.clone();
                chain.push(target);
                return Err(Broken::TooLong(chain));
            }
            longest = longest.max(below + 1);
        }
        path.pop();
        self.followed.insert(owner.to_string(), Followed::Done(longest));
        Ok(longest)
    }
}

impl Compiler<'_> {
    /// Rejects every CNAME loop and every chain of more than `MAX_CNAME_CHAIN - 1`
    /// CNAMEs (the query path follows that many, then answers without the target's
    /// data), each once, at the CNAME it was found from.
    pub(super) fn cname_chains(&mut self, zones: &[Zone]) {
        let mut owners: Vec<Box<str>> = self.cname_places.keys().cloned().collect();
        owners.sort();
        let mut chains =
            Chains { zones, line_records: &self.line_records, nodes: &self.nodes, followed: FxHashMap::default() };
        let mut broken = Vec::new();
        for owner in owners {
            if chains.followed.contains_key(&*owner) {
                continue;
            }
            if let Err(b) = chains.follow(&owner, &mut Vec::new()) {
                // Names on a broken chain are not reported again from elsewhere.
                // Neither are the names followed on the way to it (left open when
                // the walk stopped): met again, they are no loop.
                for state in chains.followed.values_mut() {
                    if *state == Followed::Open {
                        *state = Followed::Done(0);
                    }
                }
                broken.push((owner, b));
            }
        }
        for (owner, b) in broken {
            let shown = |names: &[String]| names.iter().map(|n| Fqdn(n).to_string()).collect::<Vec<_>>().join(" -> ");
            let message = match b {
                Broken::Loop(names) => format!("CNAME loop: {} (RFC 1034 §3.6.2)", shown(&names)),
                Broken::TooLong(names) => format!(
                    "CNAME chain of {} or more records: {} (an answer follows at most {})",
                    MAX_CNAME_CHAIN,
                    shown(&names),
                    MAX_CNAME_CHAIN - 1
                ),
            };
            let place = self.cname_places[&owner].clone();
            self.fail(place, format!("CNAME at {}", Fqdn(&owner)), message);
        }
    }
}
