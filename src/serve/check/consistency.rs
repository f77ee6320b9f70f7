//! The consistency and hijack checker: asks every server of each zone's NS set (and the
//! rules' `check.servers`) what linedns's primary is asked, and reports what differs.
//!
//! For each zone, first the primary (the reference): its SOA serial per line, asked with
//! an ECS subnet of each line, and each line record's answer per line. Then each server:
//! - its SOA over UDP and over TCP (latency, serial): a server unreachable on both is a
//!   finding and is asked nothing more; one unreachable on one transport is a finding;
//! - `serial`: a secondary's serial against the primary's for the view it serves, a geo
//!   server's per line: which lags and by how much;
//! - `answers`: each line record, asked plainly of a secondary (its view's answer) and
//!   with each line's subnet of a geo server, against the primary's answer for the same
//!   line (equal sets; a subset of the rules' pools where `max_answers` takes a part);
//! - `hijack`: any address in no pool of the rules (the primary's own answers included).
//!
//! Every query has a time limit; servers are asked concurrently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use crate::compile::host::Provider;
use crate::engine::answer::Rcode;
use crate::engine::consistency::{self, Role, Target};
use crate::engine::snapshot::Snapshot;
use crate::engine::versions::serial_gt;
use crate::geo::table::LineId;
use crate::rdata::{RData, RecordType};
use crate::serve::client::{Client, Request, Transport};
use crate::serve::push::{self, PushOptions};
use crate::wire::message;

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The SOA over UDP and TCP: reachable, and how fast.
    Soa,
    /// The serial against the primary's for the same view.
    Serial,
    /// The line records' answers against the primary's.
    Answers,
    /// Addresses in no pool of the rules.
    Hijack,
    /// A provider's copy against its view (`providers:`): drift, or a push not made yet.
    Provider,
}

impl Check {
    /// Its name, as the table and the metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            Check::Soa => "soa",
            Check::Serial => "serial",
            Check::Answers => "answers",
            Check::Hijack => "hijack",
            Check::Provider => "provider",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The server's name.
    pub server: String,
    /// Where it was asked.
    pub address: String,
    /// What it is: `primary`, `geo`, or `secondary (LINE)`.
    pub role: String,
    /// Whether the zone's NS set names it.
    pub in_ns_set: bool,
    /// The zone.
    pub zone: String,
    /// What was checked.
    pub check: Check,
    /// Whether all is well.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// The server's serial (the `soa` check, when it answered one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
}

/// A whole check.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The reference primary.
    pub primary: String,
    /// Every finding, by zone and server.
    pub findings: Vec<Finding>,
    /// How many findings are problems.
    pub problems: usize,
}

impl Report {
    /// Adds `more` findings, counting their problems.
    pub fn add(&mut self, more: Vec<Finding>) {
        self.problems += more.iter().filter(|f| !f.ok).count();
        self.findings.extend(more);
    }

    /// The table a person reads: one row per server, zone and check; problems marked.
    pub fn table(&self) -> String {
        let rows: Vec<[String; 6]> = self
            .findings
            .iter()
            .map(|f| {
                let ns = if f.in_ns_set { " (NS)" } else { "" };
                [
                    format!("{}{ns}", f.server),
                    f.address.clone(),
                    f.role.clone(),
                    f.zone.clone(),
                    format!("{} {}", if f.ok { "ok  " } else { "FAIL" }, f.check.name()),
                    f.detail.clone(),
                ]
            })
            .collect();
        let header = ["SERVER", "ADDRESS", "ROLE", "ZONE", "CHECK", "DETAIL"].map(String::from);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter().zip(row) {
                let _ = write!(out, "{cell:<w$}  ");
            }
            let _ = writeln!(out, "{}", row[5]);
        }
        let _ = match self.problems {
            0 => writeln!(out, "all {} checks ok (primary {})", self.findings.len(), self.primary),
            n => writeln!(out, "{n} problem(s) in {} checks (primary {})", self.findings.len(), self.primary),
        };
        out
    }
}

/// An answer as compared: rcode and the records of the question's type (addresses, a
/// CNAME's target, ...), each as [`consistency::compared`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Answer {
    rcode: String,
    addresses: BTreeSet<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        if self.rcode == "NOERROR" { write!(f, "[{}]", list.join(", ")) } else { write!(f, "{}", self.rcode) }
    }
}

/// One question for a line record.
struct Question {
    name: String,
    rtype: RecordType,
    /// Every record the rules may answer.
    allowed: BTreeSet<String>,
    /// Whether answers hold whole pools (then they must equal the primary's).
    whole: bool,
}

/// What every server of one zone is asked, and what the primary answered.
struct ZonePlan {
    origin: String,
    questions: Vec<Question>,
    /// Each line with a subnet of it.
    lines: Vec<(LineId, IpNet)>,
    line_names: Vec<Box<str>>,
    /// The primary's serial per line.
    serial: BTreeMap<LineId, u32>,
    /// The primary's answer per (question, line).
    answers: BTreeMap<(usize, LineId), Answer>,
    timeout: Duration,
}

/// Checks every zone of `snapshot` against `primary`, each query within `timeout`.
pub async fn run(snapshot: &Snapshot, primary: SocketAddr, timeout: Duration) -> Report {
    let mut findings = Vec::new();
    let lines: Vec<(LineId, IpNet)> = (0..snapshot.lines.len())
        .map(LineId::from_index)
        .filter_map(|l| consistency::line_subnet(snapshot, l).map(|net| (l, net)))
        .collect();
    for (zone_index, zone) in snapshot.zones.iter().enumerate() {
        if consistency::is_catalog(snapshot, zone_index) || zone.unavailable.is_some() {
            continue;
        }
        let questions: Vec<Question> = snapshot
            .line_records
            .iter()
            .filter(|r| snapshot.find_zone(&r.name).is_some_and(|z| std::ptr::eq(z, zone)))
            .map(|r| Question {
                name: r.name.to_string(),
                rtype: r.rtype,
                allowed: consistency::allowed(snapshot, r),
                whole: consistency::answers_whole_pools(r),
            })
            .collect();
        let mut plan = ZonePlan {
            origin: zone.origin.to_string(),
            questions,
            lines: lines.clone(),
            line_names: snapshot.lines.names.clone(),
            serial: BTreeMap::new(),
            answers: BTreeMap::new(),
            timeout,
        };
        // The reference: the primary, asked for each line; a primary that does not
        // answer is asked no more (its own `soa` finding says so).
        for &(line, net) in &plan.lines {
            match ask(primary, false, &plan.origin, RecordType::SOA, Some(net), timeout).await {
                Ok((m, _)) => {
                    if let Some(s) = soa_serial(&m) {
                        plan.serial.insert(line, s);
                    }
                }
                Err(_) => break,
            }
            for (i, q) in plan.questions.iter().enumerate() {
                if let Ok((m, _)) = ask(primary, false, &q.name, q.rtype, Some(net), timeout).await {
                    plan.answers.insert((i, line), answer_of(&m, q.rtype));
                }
            }
        }
        let plan = std::sync::Arc::new(plan);
        let primary_target =
            Target { name: "primary".into(), address: Some(primary), role: Role::Geo, in_ns_set: false };
        let targets = std::iter::once(primary_target)
            .chain(consistency::targets(snapshot, zone_index).into_iter().filter(|t| &*t.name != "invalid"));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, target) in targets.enumerate() {
            let plan = plan.clone();
            tasks.spawn(async move { (i, check_server(&target, i == 0, &plan).await) });
        }
        let mut per_server: Vec<(usize, Vec<Finding>)> = Vec::new();
        while let Some(Ok(done)) = tasks.join_next().await {
            per_server.push(done);
        }
        per_server.sort_by_key(|(i, _)| *i);
        findings.extend(per_server.into_iter().flat_map(|(_, f)| f));
    }
    let problems = findings.iter().filter(|f| !f.ok).count();
    Report { primary: primary.to_string(), findings, problems }
}

/// Checks one server of one zone (`is_primary`: the reference itself, checked for
/// reachability and hijacked answers only).
async fn check_server(target: &Target, is_primary: bool, plan: &ZonePlan) -> Vec<Finding> {
    let (zone, lines, line_names, timeout) = (&plan.origin[..], &plan.lines, &plan.line_names, plan.timeout);
    let role = match target.role {
        _ if is_primary => "primary".to_string(),
        Role::Geo => "geo".to_string(),
        Role::Secondary(l) => format!("secondary ({})", line_names[l.index()]),
    };
    let address = match target.address {
        Some(a) => Ok(a),
        None => lookup(&target.name, timeout).await,
    };
    let finding = |address: &str, check, ok, detail: String| Finding {
        server: target.name.to_string(),
        address: address.to_string(),
        role: role.clone(),
        in_ns_set: target.in_ns_set,
        zone: zone.to_string(),
        check,
        ok,
        detail,
        serial: None,
    };
    let addr = match address {
        Ok(a) => a,
        Err(e) => return vec![finding("?", Check::Soa, false, e)],
    };
    let shown = addr.to_string();
    let mut out = Vec::new();
    // SOA over both transports.
    let udp = ask(addr, false, zone, RecordType::SOA, None, timeout).await;
    let tcp = ask(addr, true, zone, RecordType::SOA, None, timeout).await;
    let describe = |r: &Result<(message::Answer, Duration), String>| match r {
        Ok((m, t)) => match soa_serial(m) {
            Some(s) => format!("serial {s} in {:.1} ms", t.as_secs_f64() * 1000.0),
            None => format!("no SOA ({})", rcode_name(m.rcode)),
        },
        Err(e) => e.clone(),
    };
    let serial_udp = udp.as_ref().ok().and_then(|(m, _)| soa_serial(m));
    let serial_tcp = tcp.as_ref().ok().and_then(|(m, _)| soa_serial(m));
    let soa_ok = serial_udp.is_some() && serial_tcp.is_some();
    let mut soa = finding(&shown, Check::Soa, soa_ok, format!("UDP: {}; TCP: {}", describe(&udp), describe(&tcp)));
    soa.serial = serial_udp.or(serial_tcp);
    out.push(soa);
    if serial_udp.or(serial_tcp).is_none() {
        return out; // unreachable or not serving the zone: nothing more to ask
    }
    // Serials and answers, per view.
    let asked: Vec<(LineId, Option<IpNet>)> = match target.role {
        Role::Secondary(line) if !is_primary => vec![(line, None)],
        _ => lines.iter().map(|&(l, net)| (l, Some(net))).collect(),
    };
    let mut serial_problems = Vec::new();
    let mut checked_serials = 0;
    let mut answer_problems = Vec::new();
    let mut hijacks = Vec::new();
    let mut compared = 0;
    for &(line, net) in &asked {
        let line_name = &line_names[line.index()];
        let got = match net {
            None => serial_udp.or(serial_tcp),
            Some(net) => match ask(addr, false, zone, RecordType::SOA, Some(net), timeout).await {
                Ok((m, _)) => soa_serial(&m),
                Err(_) => None,
            },
        };
        if !is_primary && !plan.serial.contains_key(&line) {
            serial_problems.push(format!("line {line_name}: no serial from the primary to compare"));
        }
        if let (Some(want), false) = (plan.serial.get(&line), is_primary) {
            checked_serials += 1;
            match got {
                Some(got) if got == *want => {}
                Some(got) if serial_gt(*want, got) => serial_problems
                    .push(format!("line {line_name}: {got}, {} behind the primary's {want}", want.wrapping_sub(got))),
                Some(got) => serial_problems.push(format!(
                    "line {line_name}: {got}, {} ahead of the primary's {want}",
                    got.wrapping_sub(*want)
                )),
                None => serial_problems.push(format!("line {line_name}: no serial")),
            }
        }
        for (i, q) in plan.questions.iter().enumerate() {
            let (name, rtype, allowed) = (&q.name, q.rtype, &q.allowed);
            let got = match ask(addr, false, name, rtype, net, timeout).await {
                Ok((m, _)) => answer_of(&m, rtype),
                Err(e) => {
                    answer_problems.push(format!("{name} {rtype} (line {line_name}): {e}"));
                    continue;
                }
            };
            let outside: Vec<String> =
                got.addresses.iter().filter(|a| !allowed.contains(*a)).map(ToString::to_string).collect();
            if !outside.is_empty() {
                hijacks
                    .push(format!("{name} {rtype} (line {line_name}): {} in no pool of the rules", outside.join(", ")));
            }
            if is_primary {
                continue;
            }
            let Some(want) = plan.answers.get(&(i, line)) else {
                answer_problems
                    .push(format!("{name} {rtype} (line {line_name}): no answer from the primary to compare"));
                continue;
            };
            compared += 1;
            let fits = if q.whole || want.rcode != "NOERROR" {
                got == *want
            } else {
                got.rcode == want.rcode && !got.addresses.is_empty() && got.addresses.is_subset(allowed)
            };
            if !fits {
                answer_problems.push(format!("{name} {rtype} (line {line_name}): {got}, the primary {want}"));
            }
        }
    }
    if !is_primary {
        let detail = if serial_problems.is_empty() {
            format!("{} view(s) at the primary's serial", checked_serials)
        } else {
            serial_problems.join("; ")
        };
        out.push(finding(&shown, Check::Serial, serial_problems.is_empty(), detail));
        let detail = if answer_problems.is_empty() {
            format!("{compared} answer(s) as the primary gives them")
        } else {
            answer_problems.join("; ")
        };
        out.push(finding(&shown, Check::Answers, answer_problems.is_empty(), detail));
    }
    let detail = match (hijacks.is_empty(), serial_problems.is_empty()) {
        (true, _) => "every address is in the rules' pools".to_string(),
        (false, true) => format!("{} (possible hijack)", hijacks.join("; ")),
        // A server behind the primary may just hold data the rules have since dropped.
        (false, false) => {
            format!("{} (the server lags the primary's serial: old data, or a hijack)", hijacks.join("; "))
        }
    };
    out.push(finding(&shown, Check::Hijack, hijacks.is_empty(), detail));
    out
}

/// Each provider's copy of each of its zones against its view under `health`, read as
/// a dry-run push does: one finding per provider and zone, a problem when any RRset
/// differs (drift, or a push not made yet) or the copy cannot be read. The snapshot is
/// read at once; the future holds none of it.
pub fn check_providers(
    snapshot: &Snapshot,
    health: &impl crate::engine::line::NodeHealth,
    providers: &[Provider],
    state_dir: Option<&std::path::Path>,
) -> impl std::future::Future<Output = Vec<Finding>> + Send + 'static {
    let options = PushOptions { dry_run: true, state_dir: state_dir.map(Into::into), ..PushOptions::default() };
    let targets = push::targets(snapshot, health, providers, &options);
    let shown: BTreeMap<String, (String, String)> =
        providers.iter().map(|p| (p.name.clone(), (p.kind.to_string(), format!("provider ({})", p.line)))).collect();
    async move {
        let pushes = push::push(targets, &options).await;
        pushes
            .iter()
            .map(|p| {
                let (address, role) = shown.get(&p.provider).cloned().unwrap_or_default();
                let changes = p.plan.as_ref().map_or(0, |plan| plan.changes.len());
                let (ok, detail) = match &p.result {
                    Ok(_) if changes == 0 => (true, "holds the view".to_string()),
                    Ok(_) => {
                        let first = p.plan.iter().flat_map(|plan| &plan.changes).next().map(ToString::to_string);
                        (
                            false,
                            format!(
                                "{changes} RRset(s) differ from the view (drift, or not pushed yet): {}",
                                first.unwrap_or_default()
                            ),
                        )
                    }
                    Err(problem) => (false, problem.to_string()),
                };
                Finding {
                    server: p.provider.clone(),
                    address,
                    role,
                    in_ns_set: false,
                    zone: p.zone.to_string(),
                    check: Check::Provider,
                    ok,
                    detail,
                    serial: None,
                }
            })
            .collect()
    }
}

/// The first SOA serial in a message's answer section.
fn soa_serial(m: &message::Answer) -> Option<u32> {
    m.records.iter().find_map(|r| match RData::from_wire(r.rtype, &r.data) {
        Ok(RData::Soa { serial, .. }) => Some(serial),
        _ => None,
    })
}

/// The rcode and the `rtype` records of an answer (a CNAME asked for its own type: no
/// chased records); for NS, also those of the authority section (an NS per line below
/// the apex is a delegation: the answer is a referral, RFC 1034 §4.3.2 step 3b).
fn answer_of(m: &message::Answer, rtype: RecordType) -> Answer {
    let referral = if rtype == RecordType::NS { &m.authority[..] } else { &[] };
    let addresses = m
        .records
        .iter()
        .chain(referral)
        .filter(|r| r.rtype == rtype)
        .filter_map(|r| RData::from_wire(r.rtype, &r.data).ok())
        .map(|data| data.to_string())
        .collect();
    Answer { rcode: rcode_name(m.rcode), addresses }
}

/// An rcode's mnemonic (RFC 6895 §2.3), or `RCODEn` for one without.
fn rcode_name(code: u16) -> String {
    Rcode::from_code(code).map_or(format!("RCODE{code}"), |r| r.name().to_string())
}

/// Resolves an NS target with the system resolver, port 53, within `timeout`.
async fn lookup(name: &str, timeout: Duration) -> Result<SocketAddr, String> {
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((name, 53))).await;
    match found {
        Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| format!("{name} has no address")),
        Ok(Err(e)) => Err(format!("cannot resolve {name}: {e}")),
        Err(_) => Err(format!("resolving {name} took longer than {timeout:?}")),
    }
}

/// Asks `server` one question (over TCP when `tcp`, else UDP with EDNS, and the ECS
/// option `ecs` when given) and returns the answer and how long it took, or why there is
/// none. A truncated UDP answer is asked again over TCP.
async fn ask(
    server: SocketAddr,
    tcp: bool,
    name: &str,
    qtype: RecordType,
    ecs: Option<IpNet>,
    timeout: Duration,
) -> Result<(message::Answer, Duration), String> {
    let mut request = Request::query(name, u16::from(qtype));
    if let Some(net) = ecs {
        request = request.with_ecs(net);
    }
    let transport = if tcp { Transport::Tcp } else { Transport::Udp };
    let reply = Client::new(timeout).ask(server, &request, transport).await.map_err(|e| e.to_string())?;
    let answer = message::answer(&reply.message).map_err(|e| e.to_string())?;
    Ok((answer, reply.elapsed))
}

/// The primary the checker compares with: the rules' `check.primary`, else the first
/// `server.listen` address, `listen` (a wildcard address asked on loopback).
pub fn default_primary(snapshot: &Snapshot, listen: &[SocketAddr]) -> Option<SocketAddr> {
    snapshot.check.primary.or_else(|| listen.first().map(|&a| loopback_if_wildcard(a)))
}

/// `addr`, with a wildcard address (0.0.0.0, ::) replaced by loopback: where a server
/// listening on it is asked from the same machine.
pub fn loopback_if_wildcard(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(v6) if v6.is_unspecified() => SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// The last periodic check's report, with when it ran.
#[derive(Clone, Debug, Serialize)]
pub struct LastCheck {
    /// When it finished, seconds since the Unix epoch.
    pub finished_at: u64,
    /// What it found.
    #[serde(flatten)]
    pub report: Report,
}
