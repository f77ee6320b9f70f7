//! What the consistency and hijack checker expects of each server: which servers there
//! are (the NS set and the rules' `check.servers`), which question each is asked for each
//! line, and which addresses the rules allow in an answer. Pure: `serve::check` asks the
//! servers and compares.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::line::{LineRecord, WhenAllDown};
pub use super::settings::{CheckServer, CheckSettings, Role};
use super::snapshot::Snapshot;
use super::zone::Content;
use crate::geo::table::LineId;
use crate::rdata::{RData, RecordType};
use crate::wire::encode;

/// A server to check for one zone: a listed one, or an NS target found in the zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its name.
    pub name: Box<str>,
    /// Where to ask it (`None`: an NS target whose address the zone does not hold; the
    /// checker looks it up).
    pub address: Option<SocketAddr>,
    /// What it is.
    pub role: Role,
    /// Whether the zone's NS set names it.
    pub in_ns_set: bool,
}

/// The servers to check for `zone` (index into the snapshot's zones): each NS target of
/// the apex (described by the `check.servers` entry of that name, else a secondary of
/// `default` at the address the zone's own A/AAAA records give, port 53), then every
/// other listed server.
pub fn targets(snapshot: &Snapshot, zone: usize) -> Vec<Target> {
    let z = &snapshot.zones[zone];
    let check = &snapshot.check;
    let mut out = Vec::new();
    let ns_names: Vec<&str> =
        z.names.get(&*z.origin).and_then(|n| n.get(RecordType::NS)).map_or(Vec::new(), |set| match &set.content {
            Content::Static(records) => records
                .iter()
                .filter_map(|r| match r {
                    RData::Ns(n) => Some(&**n),
                    _ => None,
                })
                .collect(),
            Content::Line(_) => Vec::new(),
        });
    for ns in &ns_names {
        let listed = check.servers.iter().find(|s| *s.name == **ns);
        let target = match listed {
            Some(s) => Target { name: s.name.clone(), address: Some(s.address), role: s.role, in_ns_set: true },
            None => Target {
                name: (*ns).into(),
                address: glue(snapshot, ns).map(|ip| SocketAddr::new(ip, 53)),
                role: Role::Secondary(LineId::DEFAULT),
                in_ns_set: true,
            },
        };
        out.push(target);
    }
    for s in &check.servers {
        let serves = s.zones.as_ref().is_none_or(|z| z.contains(&(zone as u32)));
        if !ns_names.contains(&&*s.name) && serves {
            out.push(Target { name: s.name.clone(), address: Some(s.address), role: s.role, in_ns_set: false });
        }
    }
    out
}

/// Whether the zone is a catalog (RFC 9432 §4.1: its only NS is `invalid.`): not served
/// to resolvers, so not checked.
pub fn is_catalog(snapshot: &Snapshot, zone: usize) -> bool {
    let z = &snapshot.zones[zone];
    let ns = z.names.get(&*z.origin).and_then(|n| n.get(RecordType::NS));
    matches!(ns.map(|s| &s.content), Some(Content::Static(records)) if records.iter().all(|r| matches!(r, RData::Ns(n) if &**n == "invalid")))
}

/// The first static A (else AAAA) record of `name` in the zones, if they hold it.
fn glue(snapshot: &Snapshot, name: &str) -> Option<IpAddr> {
    let zone = snapshot.find_zone(name)?;
    let node = zone.names.get(name)?;
    [RecordType::A, RecordType::AAAA].into_iter().find_map(|t| match &node.get(t)?.content {
        Content::Static(records) => records.iter().find_map(|r| match r {
            RData::A(a) => Some(IpAddr::V4(*a)),
            RData::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }),
        Content::Line(_) => None,
    })
}

/// A subnet every address of which the table puts in `line` (a block of the compiled
/// partition: its length is the ECS scope), IPv4 first: what an ECS query for that line
/// carries. `None` if the line holds no address.
pub fn line_subnet(snapshot: &Snapshot, line: LineId) -> Option<IpNet> {
    let v4 = snapshot
        .classifier
        .v4_blocks()
        .find(|(_, l)| *l == line)
        .map(|(b, _)| IpNet::new(IpAddr::V4(b.start.into()), b.len).expect("a block's length fits its family"));
    v4.or_else(|| {
        snapshot
            .classifier
            .v6_blocks()
            .find(|(_, l)| *l == line)
            .map(|(b, _)| IpNet::new(IpAddr::V6(b.start.into()), b.len).expect("a block's length fits its family"))
    })
}

/// Every record the rules may answer for a line record, whatever the line and health
/// (all its pools' nodes and its last-resort nodes), each as [`compared`] shows it. An
/// answer outside it is no answer linedns would give: a possible hijack.
pub fn allowed(snapshot: &Snapshot, record: &LineRecord) -> BTreeSet<String> {
    let mut nodes: Vec<_> = record.pools.iter().flat_map(|p| p.nodes.iter()).collect();
    if let WhenAllDown::LastResort(pool) = &record.when_all_down {
        nodes.extend(pool.nodes.iter());
    }
    nodes.into_iter().map(|n| compared(&snapshot.nodes[n.node.index()].data)).collect()
}

/// A record's data as the checker compares it with a server's answer: read back from its
/// wire form, in zone-file presentation (`192.0.2.1`, `cdn.example.net.`).
pub fn compared(data: &RData) -> String {
    encode::as_read_back(data).to_string()
}

/// Whether every answer of the record holds the whole usable pool (no `max_answers`
/// below a pool's size): then two servers' answers must be equal, not just allowed.
pub fn answers_whole_pools(record: &LineRecord) -> bool {
    record.pools.iter().all(|p| p.nodes.len() <= usize::from(record.max_answers))
}
