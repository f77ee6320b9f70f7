//! "What would client X get for this name, and why?" — the operator's question, answered
//! by running the real resolver with a recording [`Trace`].

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::engine::answer::Owner;
use crate::engine::line::{LineRecord, NodeHealth};
use crate::engine::query::{ClientInfo, Query};
use crate::engine::resolve::{Step, Trace};
use crate::engine::snapshot::Snapshot;
use crate::engine::zone::RrSet;
use crate::geo::bits::AddrBits;
use crate::geo::table::{Hit, LineId};
use crate::rdata::RecordType;

/// The explanation of one client (and optionally one query).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The address classified (masked to the ECS source prefix if one was given).
    pub address: IpAddr,
    /// The ECS source prefix length, if the client was given as a subnet.
    pub ecs_source_prefix: Option<u8>,
    /// The client's line.
    pub line: String,
    /// The line's ancestors, nearest first.
    pub line_parents: Vec<String>,
    /// The longest source prefix of the line containing the address (none for `default`).
    pub prefix: Option<String>,
    /// Where that prefix came from: `file:line`, inline rules, or the MMDB field.
    pub source: Option<String>,
    /// The RFC 7871 scope for answers that depend on the line.
    pub scope: u8,
    /// Answer records in presentation form (empty without a query).
    pub records: Vec<String>,
    /// TTL of the answer: the smallest in the answer section, else of the authority
    /// section (none without a query).
    pub ttl: Option<u32>,
    /// How the query was answered, if one was explained.
    pub query: Option<QueryExplanation>,
}

/// How a query was answered.
#[derive(Debug, Clone, Serialize)]
pub struct QueryExplanation {
    /// The name asked.
    pub name: String,
    /// The type asked.
    pub qtype: String,
    /// The zone holding the name, if any.
    pub zone: Option<String>,
    /// The response code.
    pub rcode: String,
    /// CNAMEs followed.
    pub cnames: Vec<String>,
    /// The (first) line record reached, if any.
    pub line_record: Option<String>,
    /// Each step along the fallback chain (of each line record reached: a CNAME per
    /// line, then its chased target's).
    pub steps: Vec<StepExplanation>,
    /// The line whose pool answered.
    pub served_line: Option<String>,
    /// Whether no pool was usable and the all-down policy answered.
    pub fail_open: bool,
    /// Where each static record set answered was written (rules file:line:column, zone
    /// file:line, or "transferred from PRIMARY at serial N"), in answer order.
    pub static_sources: Vec<String>,
    /// Authority records in presentation form.
    pub authority: Vec<String>,
    /// ECS scope the response would carry (0: the answer does not depend on the client).
    pub response_scope: u8,
}

/// One step of a fallback chain.
#[derive(Debug, Clone, Serialize)]
pub struct StepExplanation {
    /// The line record whose chain it is (`www.example.com. CNAME`).
    pub record: String,
    /// The line tried.
    pub line: String,
    /// What happened: `no pool`, `no healthy node (of N)`, `chosen (H of N healthy)`,
    /// `fail open`.
    pub outcome: String,
}

#[derive(Default)]
struct Recorder {
    zone: Option<String>,
    cnames: Vec<String>,
    line_record: Option<String>,
    /// The line records reached, in order.
    records: Vec<String>,
    /// Each step, with its record's index in `records`.
    steps: Vec<(usize, LineId, Step)>,
    static_sources: Vec<String>,
}

impl Trace for Recorder {
    fn zone(&mut self, origin: &str) {
        self.zone.get_or_insert_with(|| origin.to_string());
    }
    fn line_record(&mut self, record: &LineRecord) {
        let shown = format!("{}. {}", record.name, record.rtype);
        self.line_record.get_or_insert_with(|| shown.clone());
        self.records.push(shown);
    }
    fn step(&mut self, line: LineId, step: Step) {
        self.steps.push((self.records.len().saturating_sub(1), line, step));
    }
    fn cname(&mut self, target: &str) {
        self.cnames.push(format!("{target}."));
    }
    fn static_set(&mut self, set: &RrSet) {
        if let Some(source) = &set.source {
            self.static_sources.push(format!("{}: {source}", set.rtype));
        }
    }
}

/// The client of an explanation as an operator writes it: `ADDR`, or `ADDR/LEN` for a
/// subnet as an ECS option carries it (host bits must be zero, as RFC 7871 §6 asks).
pub fn parse_client(text: &str) -> Result<(IpAddr, Option<u8>), String> {
    match text.split_once('/') {
        None => text.parse().map(|a| (a, None)).map_err(|_| format!("bad client address {text:?}")),
        Some(_) => {
            let net = crate::geo::lists::parse_cidr(text)?;
            Ok((net.addr(), Some(net.prefix_len())))
        }
    }
}

/// What an operator asks to explain, as written: the client (see [`parse_client`]), and
/// optionally a name (its key, [`crate::name`]) with a record type (default A; see
/// [`parse_qtype`]).
pub type Asked = (IpAddr, Option<u8>, Option<(String, RecordType)>);

/// Parses what an operator asks to explain (the CLI's arguments, the API's parameters).
pub fn parse_asked(client: &str, name: Option<&str>, qtype: Option<&str>) -> Result<Asked, String> {
    let (addr, ecs) = parse_client(client)?;
    let query =
        name.map(|n| Ok::<_, String>((crate::name::normalize(n)?, parse_qtype(qtype.unwrap_or("A"))?))).transpose()?;
    Ok((addr, ecs, query))
}

/// The record type of an explanation: any type, by name or as `TYPEnnn`.
pub fn parse_qtype(text: &str) -> Result<RecordType, String> {
    crate::rdata::parse_any_type(text)
}

/// Explains how `snapshot` classifies `addr` (as an ECS subnet when `ecs_source_prefix`
/// is set) and, with `query`, how it answers it.
pub fn explain(
    snapshot: &Snapshot,
    addr: IpAddr,
    ecs_source_prefix: Option<u8>,
    query: Option<(&str, RecordType)>,
    health: &impl NodeHealth,
) -> Explanation {
    let client = ClientInfo { addr, ecs_source_prefix, entropy: 0 };
    let address = mask(addr, client.significant_bits());
    let hit: Hit = snapshot.classifier.classify(address, client.significant_bits());
    let lines = &snapshot.lines;
    let source = snapshot.source_prefix(address, hit.line);
    let mut parents = Vec::new();
    let mut cur = lines.parents[hit.line.index()];
    while let Some(p) = cur {
        parents.push(lines.name(p).to_string());
        cur = lines.parents[p.index()];
    }
    let mut records = Vec::new();
    let mut ttl = None;
    let query = query.map(|(name, qtype)| {
        let mut rec = Recorder::default();
        let answer = snapshot.resolve_traced(&Query::new(name, qtype), &client, health, &mut rec);
        let qname = name.to_string();
        let show = |r: &crate::engine::answer::RecordRef<'_>| {
            let owner = match r.owner {
                Owner::Query => qname.clone(),
                Owner::Name(n) => n.to_string(),
            };
            format!("{owner}. {} IN {} {}", r.ttl, r.data.rtype(), r.data)
        };
        ttl = answer.answers.iter().map(|r| r.ttl).min().or_else(|| answer.authority.iter().map(|r| r.ttl).min());
        records = answer.answers.iter().map(show).collect();
        QueryExplanation {
            name: name.to_string(),
            qtype: qtype.to_string(),
            zone: rec.zone,
            rcode: answer.rcode.name().to_string(),
            cnames: rec.cnames,
            line_record: rec.line_record,
            steps: rec
                .steps
                .iter()
                .map(|&(record, line, step)| StepExplanation {
                    record: rec.records.get(record).cloned().unwrap_or_default(),
                    line: lines.name(line).to_string(),
                    outcome: match step {
                        Step::NoPool => "no pool".to_string(),
                        Step::TooFewHealthy { healthy, nodes, required } => {
                            format!("too few healthy nodes ({healthy} of {nodes}, {required} needed)")
                        }
                        Step::Chosen { healthy, nodes } => format!("chosen ({healthy} of {nodes} healthy)"),
                        Step::Overridden => "forced down or drained by an operator override".to_string(),
                        Step::FailOpen => "fail open (no usable pool; first pool returned whole)".to_string(),
                        Step::LastResort => "last resort (no usable pool)".to_string(),
                        Step::ServFail => "SERVFAIL (no usable pool)".to_string(),
                    },
                })
                .collect(),
            served_line: answer.route.map(|r| lines.name(r.served_line).to_string()),
            fail_open: answer.route.is_some_and(|r| r.all_down()),
            static_sources: rec.static_sources,
            authority: answer.authority.iter().map(show).collect(),
            response_scope: answer.scope,
        }
    });
    Explanation {
        address,
        ecs_source_prefix,
        line: lines.name(hit.line).to_string(),
        line_parents: parents,
        prefix: source.map(|p| p.net.to_string()),
        source: source.map(|p| snapshot.describe_source(p)),
        scope: hit.scope,
        records,
        ttl,
        query,
    }
}

/// `addr` with only its first `bits` bits.
fn mask(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).network(bits.min(32)).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).network(bits.min(128)).into()),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ecs_source_prefix {
            Some(len) => writeln!(f, "client   {}/{len} (ECS)", self.address)?,
            None => writeln!(f, "client   {}", self.address)?,
        }
        let parents = if self.line_parents.is_empty() {
            String::new()
        } else {
            format!(" (in {})", self.line_parents.join(" → "))
        };
        writeln!(f, "line     {}{parents}", self.line)?;
        match (&self.prefix, &self.source) {
            (Some(p), Some(s)) => writeln!(f, "prefix   {p}  from {s}")?,
            _ => writeln!(f, "prefix   none (no source claims the address: line default)")?,
        }
        writeln!(f, "scope    /{}  (every address in this block gets the same line)", self.scope)?;
        let Some(q) = &self.query else { return Ok(()) };
        writeln!(f, "query    {} {}", q.name, q.qtype)?;
        match &q.zone {
            Some(z) => writeln!(f, "zone     {z}.")?,
            None => writeln!(f, "zone     none (outside every zone: REFUSED)")?,
        }
        for c in &q.cnames {
            writeln!(f, "cname    → {c}")?;
        }
        let mut record: Option<&str> = None;
        let mut number = 0;
        for s in &q.steps {
            if record != Some(&s.record) {
                writeln!(f, "record   {} (line record)", s.record)?;
                record = Some(&s.record);
                number = 0;
            }
            number += 1;
            writeln!(f, "step {number}   {}: {}", s.line, s.outcome)?;
        }
        writeln!(f, "rcode    {}", q.rcode)?;
        for r in &self.records {
            writeln!(f, "answer   {r}")?;
        }
        for s in &q.static_sources {
            writeln!(f, "source   {s}")?;
        }
        for r in &q.authority {
            writeln!(f, "auth     {r}")?;
        }
        if let Some(ttl) = self.ttl {
            writeln!(f, "ttl      {ttl}")?;
        }
        write!(f, "ecs      response scope /{}", q.response_scope)?;
        if q.response_scope == 0 {
            write!(f, " (the answer does not depend on the client)")?;
        }
        writeln!(f)
    }
}
