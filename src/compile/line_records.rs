//! Line records: a name + type (an address, a CNAME's target, MX, TXT, ... see
//! [`LINE_TYPES`]) with pools per line, fallback chains written on the record,
//! min_healthy, the degraded TTL and the all-down policy.

use std::net::IpAddr;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::Compiler;
use crate::config::{AllDownPolicy, At, LineRecordDef, MinHealthyDef, NodeDef, defaults};
use crate::engine::health::CheckSpec;
use crate::engine::line::{LINE_TYPES, LineRecord, MinHealthy, Node, NodeId, Pool, PoolNode, WhenAllDown};
use crate::engine::zone::{Content, RrSet};
use crate::geo::DEFAULT_LINE;
use crate::geo::table::LineId;
use crate::rdata::{RData, RecordType};

/// What every part of one line record's compilation names in its errors.
struct Record<'r> {
    /// `zone example.com, line record www A`.
    rule: String,
    /// One of [`LINE_TYPES`].
    rtype: RecordType,
    /// The zone's origin: names in the data are relative to it.
    origin: &'r str,
    /// The rules' text of the record.
    def: &'r LineRecordDef,
}

impl Compiler<'_> {
    /// Compiles one line record into the snapshot's list; the owner and its set (which
    /// points at the record) go into the zone. `None` after any error, each reported.
    pub(super) fn line_set(
        &mut self,
        record: &At<LineRecordDef>,
        origin: &str,
        zone_ttl: u32,
        rule: &str,
    ) -> Option<(String, RrSet)> {
        let r = &record.value;
        let (owner, rule, rtype) = self.record_head(&r.name, &r.rtype, origin, rule, "line record", &LINE_TYPES, "")?;
        let place = self.place(record);
        let rec = Record { rule, rtype, origin, def: r };
        let errors_before = self.errors.len();
        if r.max_answers == Some(0) {
            self.fail(place.clone(), rec.rule.clone(), "max_answers must be at least 1");
        }
        // RFC 2181 §10.1: a name has one CNAME record.
        let one_only = rtype == RecordType::CNAME;
        if one_only && r.max_answers.is_some_and(|m| m > 1) {
            self.fail(
                place.clone(),
                rec.rule.clone(),
                "a CNAME answer holds one record (RFC 2181 §10.1): leave max_answers out, or 1",
            );
        }
        if rtype == RecordType::NS && owner.starts_with("*.") {
            self.fail(
                place.clone(),
                rec.rule.clone(),
                "NS at a wildcard: a wildcard does not delegate (RFC 4592 §4.2); write the delegated name",
            );
        }
        if rtype == RecordType::NS
            && r.when_all_down
                .as_ref()
                .is_some_and(|w| matches!(w.value.policy(), Ok(crate::config::AllDownPolicy::ServFail)))
        {
            self.fail(
                place.clone(),
                rec.rule.clone(),
                "when_all_down: servfail on an NS: a delegation cannot be withdrawn from a view (its secondaries would serve the child's names as ours); use fail_open or last_resort",
            );
        }
        if rtype == RecordType::NS && owner == origin {
            self.fail(
                place.clone(),
                rec.rule.clone(),
                "NS per line only below the apex (a delegation per line): the apex NS set is the zone's own, one set for its secondaries and the parent",
            );
        }
        let check = self.record_check(&rec)?;
        let (pools, pool_of_line) = self.pools(&rec, check.as_ref());
        if pool_of_line[DEFAULT_LINE.index()].is_none() {
            self.fail(
                place.clone(),
                rec.rule.clone(),
                "no pool for line `default`: clients that no line claims would get no answer",
            );
        }
        let chains = self.record_chains(&rec);
        let min_healthy = self.min_healthy(&rec, &pools);
        let when_all_down = self.when_all_down(&rec);
        if self.errors.len() > errors_before {
            return None;
        }
        let ttl = r.ttl.unwrap_or(zone_ttl);
        let idx = self.line_records.len() as u32;
        self.line_records.push(LineRecord {
            name: owner.as_str().into(),
            rtype,
            ttl,
            max_answers: if one_only { 1 } else { r.max_answers.unwrap_or(defaults::MAX_ANSWERS) },
            pools: pools.into(),
            pool_of_line: pool_of_line.into(),
            chains,
            min_healthy,
            degraded_ttl: r.degraded_ttl.unwrap_or(ttl / defaults::DEGRADED_TTL_DIVISOR),
            when_all_down,
        });
        let source = Some(place.to_string().into());
        Some((owner, RrSet { rtype, ttl, content: Content::Line(idx), source }))
    }

    /// The record's health check, if it names one (`Some(None)`: it names none, or an
    /// unknown one, reported here). `None` when it names a check whose own error is
    /// already reported, so the record adds none.
    fn record_check(&mut self, rec: &Record<'_>) -> Option<Option<Arc<CheckSpec>>> {
        let Some(name) = &rec.def.health_check else { return Some(None) };
        match self.checks.get(&name.value) {
            Some(spec) => Some(Some(spec.clone())),
            // Its own error is reported; the record's would only repeat it.
            None if self.broken_checks.contains(&name.value) => None,
            None => {
                let place = self.place(name);
                let known: Vec<&String> = self.checks.keys().collect();
                self.fail(
                    place,
                    rec.rule.clone(),
                    format!("unknown health check {:?} (health_checks: {known:?})", name.value),
                );
                Some(None)
            }
        }
    }

    /// The pools, and the pool of each line (by line index).
    fn pools(&mut self, rec: &Record<'_>, check: Option<&Arc<CheckSpec>>) -> (Vec<Pool>, Vec<Option<u16>>) {
        let mut pools = Vec::new();
        let mut pool_of_line = vec![None; self.lines.len()];
        for (line_name, nodes) in &rec.def.pools {
            let place = self.place(nodes);
            let Some(line) = self.lines.find(line_name) else {
                let known: Vec<&str> = self.lines.names.iter().map(|n| &**n).collect();
                let message = format!("pool for unknown line {line_name:?} (lines: {})", known.join(", "));
                self.fail(place, rec.rule.clone(), message);
                continue;
            };
            if nodes.value.is_empty() {
                self.fail(place, rec.rule.clone(), format!("the pool of line {line_name:?} is empty"));
                continue;
            }
            let mut pool_nodes: Vec<PoolNode> = Vec::new();
            for node in &nodes.value {
                match self.pool_node(rec, node, check, &pool_nodes) {
                    Ok(n) => pool_nodes.push(n),
                    Err(m) => self.fail(place.clone(), rec.rule.clone(), format!("pool {line_name:?}: {m}")),
                }
            }
            pool_of_line[line.index()] = Some(pools.len() as u16);
            let weighted = pool_nodes.iter().any(|n| n.weight != 1);
            pools.push(Pool { line, nodes: pool_nodes.into(), weighted });
        }
        (pools, pool_of_line)
    }

    /// One node of a pool: its data fits the record, its weight is in range, it is not
    /// listed twice, and it has a probe exactly when the record has a check (a node that
    /// is no address is probed where its `probe` says).
    fn pool_node(
        &mut self,
        rec: &Record<'_>,
        node: &NodeDef,
        check: Option<&Arc<CheckSpec>>,
        earlier: &[PoolNode],
    ) -> Result<PoolNode, String> {
        let (text, weight, probe_at) = match node {
            NodeDef::Address(a) => (a.as_str(), defaults::NODE_WEIGHT, None),
            NodeDef::Detailed { address, weight, probe } => {
                (address.as_str(), weight.unwrap_or(defaults::NODE_WEIGHT), probe.as_deref())
            }
        };
        let data = node_data(rec, text)?;
        let shown = data.to_string();
        if !(1..=defaults::MAX_NODE_WEIGHT).contains(&weight) {
            return Err(format!("weight {weight} of {shown} is outside 1..={}", defaults::MAX_NODE_WEIGHT));
        }
        let id = self.node_id(data);
        if earlier.iter().any(|n| n.node == id) {
            return Err(format!("{shown} is listed twice"));
        }
        let addr = self.nodes[id.index()].addr();
        let probe = match check {
            Some(check) => Some(self.probe_for(check, addr, probe_at).map_err(|m| format!("{shown}: {m}"))?),
            None if probe_at.is_some() => {
                return Err(format!("{shown} has a probe address but the record has no health_check"));
            }
            None => None,
        };
        Ok(PoolNode { node: id, weight, probe })
    }

    /// For each client line, the lines to try: the line itself, then the chain the
    /// record writes for it, else the line's own chain.
    fn record_chains(&mut self, rec: &Record<'_>) -> Box<[Box<[LineId]>]> {
        let mut written: FxHashMap<LineId, Vec<LineId>> = FxHashMap::default();
        for (line_name, chain) in &rec.def.fallback {
            let place = self.place(chain);
            let Some(line) = self.lines.find(line_name) else {
                self.fail(place, rec.rule.clone(), format!("fallback for unknown line {line_name:?}"));
                continue;
            };
            let names: Vec<At<String>> = chain
                .value
                .iter()
                .map(|n| At { value: n.clone(), referenced: chain.referenced, defined: chain.defined })
                .collect();
            if let Some(resolved) = self.chain_from(line, &names, &format!("{}, fallback of {line_name:?}", rec.rule)) {
                written.insert(line, resolved);
            }
        }
        (0..self.lines.len())
            .map(|l| {
                let l = LineId::from_index(l);
                let rest = written.get(&l).unwrap_or(&self.chains[l.index()]);
                std::iter::once(l).chain(rest.iter().copied().filter(|&x| x != l)).collect()
            })
            .collect()
    }

    /// `min_healthy`: a count (no larger than any pool) or a share like `"50%"`.
    fn min_healthy(&mut self, rec: &Record<'_>, pools: &[Pool]) -> MinHealthy {
        let Some(at) = &rec.def.min_healthy else { return MinHealthy::Count(defaults::MIN_HEALTHY_COUNT) };
        match &at.value {
            MinHealthyDef::Count(n) if *n >= 1 => {
                if let Some(small) = pools.iter().find(|p| p.nodes.len() < *n as usize) {
                    let place = self.place(at);
                    let line = self.lines.name(small.line).to_string();
                    let message = format!(
                        "min_healthy {n} exceeds the {} node(s) of the pool of {line:?}: it could never be used",
                        small.nodes.len()
                    );
                    self.fail(place, rec.rule.clone(), message);
                }
                MinHealthy::Count(*n)
            }
            MinHealthyDef::Share(text)
                if text
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<u8>().ok())
                    .is_some_and(|p| (1..=100).contains(&p)) =>
            {
                MinHealthy::Percent(text.trim_end_matches('%').trim().parse().expect("checked"))
            }
            other => {
                let place = self.place(at);
                let message = format!("bad min_healthy {other:?}: a count of at least 1 or a share like \"50%\"");
                self.fail(place, rec.rule.clone(), message);
                MinHealthy::Count(defaults::MIN_HEALTHY_COUNT)
            }
        }
    }

    /// `when_all_down`: `fail_open` (the default), `servfail`, or `{ last_resort: [..] }`.
    fn when_all_down(&mut self, rec: &Record<'_>) -> WhenAllDown {
        let Some(at) = &rec.def.when_all_down else { return WhenAllDown::FailOpen };
        let place = self.place(at);
        match at.value.policy() {
            Ok(AllDownPolicy::FailOpen) => WhenAllDown::FailOpen,
            Ok(AllDownPolicy::ServFail) => WhenAllDown::ServFail,
            Ok(AllDownPolicy::LastResort(last_resort)) => {
                let mut nodes = Vec::new();
                for text in last_resort {
                    match node_data(rec, text) {
                        Ok(data) => nodes.push(PoolNode { node: self.node_id(data), weight: 1, probe: None }),
                        Err(m) => self.fail(place.clone(), rec.rule.clone(), format!("last_resort: {m}")),
                    }
                }
                if nodes.is_empty() {
                    self.fail(place, rec.rule.clone(), "last_resort needs at least one address");
                }
                WhenAllDown::LastResort(Pool { line: DEFAULT_LINE, nodes: nodes.into(), weighted: false })
            }
            Err(m) => {
                self.fail(place, rec.rule.clone(), m);
                WhenAllDown::FailOpen
            }
        }
    }

    /// The node holding `data`, made the first time it is named.
    pub(super) fn node_id(&mut self, data: RData) -> NodeId {
        if let Some(&id) = self.node_ids.get(&data) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        self.node_ids.insert(data.clone(), id);
        self.nodes.push(Node::new(data));
        id
    }
}

/// A node's data as the record's type reads `text`: an address of the right family for
/// A and AAAA, else zone-file presentation with names relative to the zone.
fn node_data(rec: &Record<'_>, text: &str) -> Result<RData, String> {
    match rec.rtype {
        RecordType::A | RecordType::AAAA => {
            let addr: IpAddr = text.trim().parse().map_err(|_| format!("bad address {text:?}"))?;
            match addr {
                IpAddr::V4(a) if rec.rtype == RecordType::A => Ok(RData::A(a)),
                IpAddr::V6(a) if rec.rtype == RecordType::AAAA => Ok(RData::Aaaa(a)),
                _ => Err(format!("{addr} does not fit an {} record", rec.rtype)),
            }
        }
        rtype => RData::parse(rtype, text, rec.origin),
    }
}
