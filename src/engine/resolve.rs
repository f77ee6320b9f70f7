//! The query path: [`Snapshot::resolve`] is a plain function of the snapshot, the query
//! and the client: no I/O, no clock, no locks, and no heap allocation for answers of up
//! to eight records. [`Snapshot::resolve_traced`] runs the same code and reports each
//! decision to a [`Trace`] (what `explain` shows).

use smallvec::SmallVec;

use super::answer::{Answer, Owner, Proof, Rcode, RecordRef, Route, Served};
use super::line::{LineRecord, NodeHealth, NodeId, Pick, Pool, WhenAllDown};
use super::query::{ClientInfo, Query};
use super::snapshot::Snapshot;
use super::zone::{Content, Lookup, RrSet, Zone};
use crate::geo::table::{Hit, LineId};
use crate::name;
use crate::rdata::{RData, RecordType};

/// Longest CNAME chain followed inside our zones (RFC 1034 §3.6.2 asks servers to guard
/// against loops).
pub const MAX_CNAME_CHAIN: usize = 8;

/// One step along a fallback chain, as seen by [`Trace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The record has no pool for the line.
    NoPool,
    /// The pool has fewer healthy nodes than `min_healthy` asks.
    TooFewHealthy {
        /// Healthy nodes.
        healthy: usize,
        /// Nodes in the pool.
        nodes: usize,
        /// Healthy nodes needed.
        required: usize,
    },
    /// The pool answered.
    Chosen {
        /// Healthy nodes in the pool.
        healthy: usize,
        /// Nodes in the pool.
        nodes: usize,
    },
    /// An operator forced the pool (or its line) down or drained.
    Overridden,
    /// No pool was usable: this pool was returned whole (fail open).
    FailOpen,
    /// No pool was usable: the last-resort nodes were returned.
    LastResort,
    /// No pool was usable: SERVFAIL.
    ServFail,
}

/// Observes the decisions of [`Snapshot::resolve_traced`]; every method defaults to
/// nothing, so the query path with [`NoTrace`] compiles to the plain resolver.
pub trait Trace {
    /// The zone that holds the name.
    fn zone(&mut self, _origin: &str) {}
    /// The client's classification.
    fn classified(&mut self, _hit: Hit) {}
    /// A line record was reached.
    fn line_record(&mut self, _record: &LineRecord) {}
    /// A step of the fallback chain.
    fn step(&mut self, _line: LineId, _step: Step) {}
    /// A CNAME was followed to `target`.
    fn cname(&mut self, _target: &str) {}
    /// A static record set answered.
    fn static_set(&mut self, _set: &RrSet) {}
}

/// A [`Trace`] that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Trace for NoTrace {}

impl Snapshot {
    /// Resolves a query for a client. Health comes from `health`.
    #[inline]
    pub fn resolve<'s>(&'s self, query: &Query<'_>, client: &ClientInfo, health: &impl NodeHealth) -> Answer<'s> {
        self.resolve_traced(query, client, health, &mut NoTrace)
    }

    /// [`Snapshot::resolve`], reporting each decision to `trace`.
    pub fn resolve_traced<'s>(
        &'s self,
        query: &Query<'_>,
        client: &ClientInfo,
        health: &impl NodeHealth,
        trace: &mut impl Trace,
    ) -> Answer<'s> {
        // A name from the wire is a key already; one written by hand may need lowering.
        let trimmed = name::without_root_dot(query.name);
        let (mut stack, heap);
        let qname = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            stack = [0u8; name::KEY_STACK_LEN];
            match name::lower_in(trimmed, &mut stack) {
                Some(lowered) => lowered,
                None => {
                    heap = trimmed.to_ascii_lowercase();
                    &heap
                }
            }
        } else {
            trimmed
        };
        let Some(mut zone) = self.find_zone(qname) else { return Answer::refused() };
        // RFC 4035 §3.1.4.1: the DS set at a child's apex is the parent's; a server
        // authoritative for both answers it from the parent zone.
        if query.qtype == RecordType::DS
            && *zone.origin == *qname
            && let Some(parent) = name::parent(qname).and_then(|p| self.find_zone(p))
        {
            zone = parent;
        }
        trace.zone(&zone.origin);
        if zone.unavailable.is_some() {
            return Answer::new(Rcode::ServFail, false);
        }
        let qtype = query.qtype;
        let mut answer = Answer::new(Rcode::NoError, true);
        let mut hit: Option<Hit> = None;
        // The name being resolved: the question's, then CNAME targets (snapshot strings).
        let mut current: Option<&'s str> = None;
        for _ in 0..MAX_CNAME_CHAIN {
            let (lookup_name, owner) = match current {
                None => (qname, Owner::Query),
                Some(target) => (target, Owner::Name(target)),
            };
            let (node, wildcard) = match zone.lookup(lookup_name, qtype == RecordType::DS) {
                Lookup::Found { node, wildcard } => {
                    if wildcard.is_some() && current.is_none() {
                        answer.synthesized_in = Some(&zone.origin);
                    }
                    (node, wildcard)
                }
                Lookup::Referral { cut, ns } => {
                    // RFC 1034 §4.3.2 step 3b: a referral is not authoritative data.
                    answer.authoritative = current.is_some();
                    match ns.content {
                        Content::Static(_) => answer.authority.extend(static_records(Owner::Name(cut), ns)),
                        Content::Line(idx) => {
                            // A delegation per line: the client line's name servers.
                            let start = answer.answers.len();
                            let route = self.answer_for_client(
                                &mut answer,
                                idx,
                                Owner::Name(cut),
                                client,
                                &mut hit,
                                health,
                                trace,
                            );
                            answer.route = Some(answer.route.map_or(route, |first| first.worse(route)));
                            if route.how == Served::ServFail {
                                return answer;
                            }
                            let servers: SmallVec<[RecordRef<'s>; 4]> = answer.answers.drain(start..).collect();
                            answer.authority.extend(servers);
                        }
                    }
                    push_glue(&mut answer, zone, cut);
                    answer.proofs.push(Proof::Referral { zone, cut });
                    return answer;
                }
                Lookup::NxDomain { encloser } => {
                    answer.rcode = Rcode::NxDomain;
                    push_negative(&mut answer, zone);
                    answer.proofs.push(Proof::NoName { zone, name: owner, encloser });
                    return answer;
                }
            };
            // RFC 8482 §4.1: answer ANY with one record set of the name.
            let set = if qtype == RecordType::ANY { node.sets.first() } else { node.get(qtype) };
            if let Some(wildcard) = wildcard {
                let nodata = (set.is_none() && node.get(RecordType::CNAME).is_none()).then_some(node);
                answer.proofs.push(Proof::Wildcard { zone, name: owner, wildcard, nodata });
            }
            if let Some(set) = set {
                match set.content {
                    Content::Static(_) => {
                        trace.static_set(set);
                        answer.answers.extend(static_records(owner, set));
                        if set.rtype == RecordType::NS && qtype == RecordType::NS {
                            // As BIND with minimal-responses: the zone's addresses of its
                            // name servers come along.
                            push_glue(&mut answer, zone, &zone.origin);
                        }
                    }
                    Content::Line(idx) => {
                        let route = self.answer_for_client(&mut answer, idx, owner, client, &mut hit, health, trace);
                        answer.route = Some(answer.route.map_or(route, |first| first.worse(route)));
                    }
                }
                return answer;
            }
            let Some(cname) = node.get(RecordType::CNAME) else {
                push_negative(&mut answer, zone); // NODATA: RFC 2308 §2.2
                if wildcard.is_none() {
                    answer.proofs.push(Proof::NoData { zone, name: owner, node });
                }
                return answer;
            };
            let target: &'s str = match cname.content {
                Content::Static(_) => {
                    answer.answers.extend(static_records(owner, cname));
                    cname_target(answer.answers.last())
                }
                // A CNAME per line: the client line's target, then that target's answer
                // for the same client (its own line record, if it has one).
                Content::Line(idx) => {
                    let route = self.answer_for_client(&mut answer, idx, owner, client, &mut hit, health, trace);
                    answer.route = Some(answer.route.map_or(route, |first| first.worse(route)));
                    if route.how == Served::ServFail {
                        return answer;
                    }
                    cname_target(answer.answers.last())
                }
            };
            trace.cname(target);
            // RFC 1034 §4.3.2 step 3a: restart with the canonical name, if it is ours.
            match self.find_zone(target) {
                Some(z) => zone = z,
                None => return answer,
            }
            current = Some(target);
        }
        answer
    }

    /// Answers line record `record` for `client`: classified once per query (`hit`
    /// keeps it for a chased CNAME's target), the answer's ECS scope set to the
    /// classification's (RFC 7871 §7.2.1: the same for both records of a chased answer,
    /// which come from one classification).
    #[allow(clippy::too_many_arguments)]
    fn answer_for_client<'s>(
        &'s self,
        answer: &mut Answer<'s>,
        record: u32,
        owner: Owner<'s>,
        client: &ClientInfo,
        hit: &mut Option<Hit>,
        health: &impl NodeHealth,
        trace: &mut impl Trace,
    ) -> Route {
        let h = *hit.get_or_insert_with(|| {
            let h = self.classifier.classify(client.addr, client.significant_bits());
            trace.classified(h);
            h
        });
        answer.scope = h.scope;
        self.answer_line_record(answer, record, owner, h, Pick::Query(client.entropy), health, trace)
    }

    /// The answer line record `record` gives a client of `line` now, as
    /// [`Snapshot::resolve`] would (the first usable pool of the line's chain, its healthy
    /// nodes, or the all-down policy), for a zone's view (export, transfers): the nodes
    /// picked the same way every time ([`Pick::View`]: a weighted pool's heaviest first).
    /// The owner is [`Owner::Query`].
    pub fn line_answer<'s>(&'s self, record: u32, line: LineId, health: &impl NodeHealth) -> Answer<'s> {
        let mut answer = Answer::new(Rcode::NoError, true);
        let hit = Hit { line, scope: 0 };
        let route = self.answer_line_record(&mut answer, record, Owner::Query, hit, Pick::View, health, &mut NoTrace);
        answer.route = Some(route);
        answer
    }

    /// Walks the client line's chain to the first usable pool (at least `min_healthy`
    /// healthy nodes) and answers with its healthy nodes; if none is usable, applies the
    /// record's all-down policy. Answers that health made worse carry the degraded TTL:
    /// after skipping an unusable pool, from a pool with down nodes, or from the
    /// all-down policy. (Walking past lines that have no pool is configuration, not
    /// degradation: the record's TTL.)
    #[allow(clippy::too_many_arguments)]
    fn answer_line_record<'s>(
        &'s self,
        answer: &mut Answer<'s>,
        record_idx: u32,
        owner: Owner<'s>,
        hit: Hit,
        how: Pick,
        health: &impl NodeHealth,
        trace: &mut impl Trace,
    ) -> Route {
        let record = &self.line_records[record_idx as usize];
        trace.line_record(record);
        let chain = &record.chains[hit.line.index()];
        let max = usize::from(record.max_answers);
        let mut first_pool: Option<(&'s Pool, usize)> = None;
        let mut skipped_unusable = false;
        for (depth, &line) in chain.iter().enumerate() {
            let Some(pool_idx) = record.pool_of_line[line.index()] else {
                trace.step(line, Step::NoPool);
                continue;
            };
            let pool = &record.pools[pool_idx as usize];
            first_pool.get_or_insert((pool, depth));
            let nodes = pool.nodes.len();
            let forced = health.pool_override(record_idx, line);
            if forced.is_some_and(|f| !f.answerable()) {
                trace.step(line, Step::Overridden);
                skipped_unusable = true;
                continue;
            }
            // A pool forced up answers with all its nodes, whatever the probes say.
            let up = if forced.is_some() { pool.candidates(|_| true) } else { pool.candidates(|n| health.is_up(n)) };
            let healthy = up.len();
            let required = record.min_healthy.required(nodes);
            if healthy < required {
                trace.step(line, Step::TooFewHealthy { healthy, nodes, required });
                skipped_unusable = true;
                continue;
            }
            trace.step(line, Step::Chosen { healthy, nodes });
            let degraded = skipped_unusable || healthy < nodes;
            let ttl = if degraded { record.degraded_ttl } else { record.ttl };
            answer.varies = answer.varies.and(pool.varies(up.len()));
            self.push_nodes(answer, owner, ttl, &pool.pick(up, max, how));
            return Route {
                client_line: hit.line,
                served_line: line,
                fallback_depth: depth as u8,
                how: Served::Pool,
                degraded,
            };
        }
        let (served_line, depth, how) = match &record.when_all_down {
            WhenAllDown::FailOpen => {
                // Compilation guarantees every chain ends at `default`, which has a pool.
                let (pool, depth) = first_pool.expect("every chain reaches the default pool");
                trace.step(pool.line, Step::FailOpen);
                answer.varies = answer.varies.and(pool.varies(pool.nodes.len()));
                self.push_nodes(answer, owner, record.degraded_ttl, &pool.choose(max, how, |_| true));
                (pool.line, depth, Served::FailOpen)
            }
            WhenAllDown::LastResort(pool) => {
                trace.step(hit.line, Step::LastResort);
                answer.varies = answer.varies.and(pool.varies(pool.nodes.len()));
                self.push_nodes(answer, owner, record.degraded_ttl, &pool.choose(max, how, |_| true));
                (hit.line, 0, Served::LastResort)
            }
            WhenAllDown::ServFail => {
                trace.step(hit.line, Step::ServFail);
                answer.rcode = Rcode::ServFail;
                answer.authoritative = false;
                answer.answers.clear();
                (hit.line, 0, Served::ServFail)
            }
        };
        Route { client_line: hit.line, served_line, fallback_depth: depth as u8, how, degraded: true }
    }

    fn push_nodes<'s>(&'s self, answer: &mut Answer<'s>, owner: Owner<'s>, ttl: u32, nodes: &[NodeId]) {
        answer.answers.extend(nodes.iter().map(|&n| RecordRef { owner, ttl, data: &self.nodes[n.index()].data }));
    }
}

/// The records of a static set, owned by `owner`.
fn static_records<'s>(owner: Owner<'s>, set: &'s RrSet) -> impl Iterator<Item = RecordRef<'s>> {
    let records: &[crate::rdata::RData] = match &set.content {
        Content::Static(records) => records,
        Content::Line(_) => &[],
    };
    records.iter().map(move |data| RecordRef { owner, ttl: set.ttl, data })
}

/// The target of the CNAME record just put in an answer.
fn cname_target<'s>(record: Option<&RecordRef<'s>>) -> &'s str {
    match record.map(|r| r.data) {
        Some(RData::Cname(target)) => target,
        _ => unreachable!("a CNAME set, static or per line, answers one CNAME"),
    }
}

/// RFC 9471 §3: a referral carries the addresses of its name servers that are in the
/// delegated zone (in-domain glue; without them the child cannot be reached): the zone's
/// A and AAAA records of the servers of the NS set in the authority section (the
/// referral's, or the apex's asked for) at or below `cut`.
fn push_glue<'s>(answer: &mut Answer<'s>, zone: &'s Zone, cut: &str) {
    let servers: SmallVec<[&'s str; 8]> = answer
        .authority
        .iter()
        .chain(answer.answers.iter())
        .filter_map(|r| match r.data {
            RData::Ns(target) => Some(&**target),
            _ => None,
        })
        .collect();
    for target in servers {
        if !name::is_at_or_below(target, cut) {
            continue;
        }
        let Some(node) = zone.names.get(target) else { continue };
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(set) = node.get(rtype) {
                answer.additional.extend(static_records(Owner::Name(target), set));
            }
        }
    }
}

/// RFC 2308 §3: negative answers carry the zone's SOA in the authority section.
fn push_negative<'s>(answer: &mut Answer<'s>, zone: &'s Zone) {
    let (soa, ttl) = zone.negative_soa();
    answer.authority.push(RecordRef { owner: Owner::Name(&zone.origin), ttl, data: soa });
}

#[cfg(test)]
mod tests {
    use crate::compile::fixtures::snapshot;
    use crate::engine::answer::{Owner, Rcode};
    use crate::engine::line::AllUp;
    use crate::engine::query::{ClientInfo, Query};
    use crate::name::Name;
    use crate::rdata::{RData, RecordType};

    fn client() -> ClientInfo {
        ClientInfo::from_source("192.0.2.1".parse().unwrap())
    }

    #[test]
    fn a_cname_into_a_classless_delegation_is_followed_to_the_referral() {
        let snapshot = snapshot();
        // Any letter case and a trailing dot name the same name.
        let answer = snapshot.resolve(&Query::new("1.2.0.192.IN-ADDR.arpa.", RecordType::PTR), &client(), &AllUp);
        assert_eq!(answer.rcode, Rcode::NoError);
        assert!(answer.authoritative, "the CNAME is ours");
        let target = RData::Cname(Name::literal("1.0/25.2.0.192.in-addr.arpa"));
        assert!(matches!(answer.answers.as_slice(), [r] if *r.data == target), "{:?}", answer.answers);
        // The target lies below the cut at 0/25: the delegation comes with it.
        let cut = answer.authority.iter().find(|r| r.data.rtype() == RecordType::NS).expect("the delegation's NS");
        assert!(matches!(cut.owner, Owner::Name(n) if n == "0/25.2.0.192.in-addr.arpa"), "{:?}", cut.owner);
    }

    #[test]
    fn below_a_classless_cut_is_a_referral_and_beside_it_nxdomain() {
        let snapshot = snapshot();
        let referral = snapshot.resolve(&Query::new("5.0/25.2.0.192.in-addr.arpa", RecordType::PTR), &client(), &AllUp);
        assert_eq!(
            (referral.rcode, referral.authoritative),
            (Rcode::NoError, false),
            "a referral is not authoritative"
        );
        assert!(referral.answers.is_empty() && referral.authority.iter().all(|r| r.data.rtype() == RecordType::NS));
        let missing = snapshot.resolve(&Query::new("0/26.2.0.192.in-addr.arpa", RecordType::PTR), &client(), &AllUp);
        assert_eq!(missing.rcode, Rcode::NxDomain);
        assert!(missing.authority.iter().any(|r| r.data.rtype() == RecordType::SOA), "the SOA for negative caching");
    }
}
