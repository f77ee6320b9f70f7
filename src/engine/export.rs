//! A zone as one line sees it: its static records, and for each line record the answer
//! a client of that line gets now (the healthy pool after the fallback chain). What a
//! secondary of that view holds, and what `linedns export` prints as a master file.

use std::fmt::Write as _;

use super::answer::Rcode;
use super::line::NodeHealth;
use super::snapshot::Snapshot;
use super::zone::{Content, Zone};
use crate::geo::table::LineId;
use crate::rdata::{Fqdn, RData, RecordType};

/// One record of an exported zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exported<'s> {
    /// Owner name (normalized, without the trailing dot).
    pub owner: &'s str,
    /// Time to live.
    pub ttl: u32,
    /// The data.
    pub data: &'s RData,
}

/// The records of `zone` as `line` sees them under `health`: the SOA first, then the
/// apex, then every other name in canonical order (RFC 4034 §6.1: by labels from the
/// right). A line record answered with SERVFAIL (its all-down policy, every pool down)
/// has no records to give and is left out.
pub fn export<'s>(snapshot: &'s Snapshot, zone: &'s Zone, line: LineId, health: &impl NodeHealth) -> Vec<Exported<'s>> {
    let mut names: Vec<&'s str> = zone.names.keys().map(|n| &**n).collect();
    names.sort_by_cached_key(|n| canonical_key(n));
    let mut out = Vec::new();
    for owner in names {
        let node = &zone.names[owner];
        // The SOA opens the zone (RFC 5936 §2.2): the apex's sets hold it first.
        let mut sets: Vec<_> = node.sets.iter().collect();
        sets.sort_by_key(|s| s.rtype != RecordType::SOA);
        for set in sets {
            match &set.content {
                Content::Static(records) => {
                    out.extend(records.iter().map(|data| Exported { owner, ttl: set.ttl, data }));
                }
                Content::Line(record) => {
                    let answer = snapshot.line_answer(*record, line, health);
                    if answer.rcode == Rcode::NoError {
                        out.extend(answer.answers.iter().map(|r| Exported { owner, ttl: r.ttl, data: r.data }));
                    }
                }
            }
        }
    }
    out
}

/// RFC 4034 §6.1 order: names compare label by label from the right (the apex first).
fn canonical_key(name: &str) -> Vec<Vec<u8>> {
    let mut labels: Vec<Vec<u8>> = crate::name::labels(name).collect();
    labels.reverse();
    labels
}

/// The zone `origin` as line `line` sees it, as an RFC 1035 master file (absolute names,
/// a TTL and class on every record), or why there is none. The SOA carries the serial
/// `served` gives for the view (the server's, when its state file has this very
/// content), else the rules' serial.
pub fn master_file(
    snapshot: &Snapshot,
    origin: &str,
    line: &str,
    health: &impl NodeHealth,
    served: impl FnOnce(&Zone, LineId) -> Option<u32>,
) -> Result<String, String> {
    let wanted = crate::name::normalize(origin)?;
    let zone = snapshot
        .zones
        .iter()
        .find(|z| *z.origin == *wanted)
        .ok_or_else(|| format!("no zone {:?} in the rules (zones: {})", origin, zone_list(snapshot)))?;
    let line_id = snapshot.lines.find(line).ok_or_else(|| {
        let names: Vec<&str> = snapshot.lines.names.iter().map(|n| &**n).collect();
        format!("no line {line:?} in the rules (lines: {})", names.join(", "))
    })?;
    let serial = served(zone, line_id);
    let whose = if serial.is_some() { "the server's serial for this view" } else { "the rules' serial" };
    let mut text = format!(
        "; {} as line {line} sees it, exported by linedns {} ({whose})\n$ORIGIN {}\n",
        Fqdn(&zone.origin),
        env!("CARGO_PKG_VERSION"),
        Fqdn(&zone.origin)
    );
    for r in export(snapshot, zone, line_id, health) {
        let data = match (r.data, serial) {
            (RData::Soa { mname, rname, refresh, retry, expire, minimum, .. }, Some(serial)) => RData::Soa {
                mname: mname.clone(),
                rname: rname.clone(),
                serial,
                refresh: *refresh,
                retry: *retry,
                expire: *expire,
                minimum: *minimum,
            },
            (data, _) => data.clone(),
        };
        let _ = writeln!(text, "{} {} IN {} {data}", Fqdn(r.owner), r.ttl, data.rtype());
    }
    Ok(text)
}

fn zone_list(snapshot: &Snapshot) -> String {
    snapshot.zones.iter().map(|z| Fqdn(&z.origin).to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_is_by_labels_from_the_right() {
        let mut names = vec!["b.example", "example", "a.b.example", "z.example", "*.example"];
        names.sort_by_cached_key(|n| canonical_key(n));
        assert_eq!(names, ["example", "*.example", "b.example", "a.b.example", "z.example"]);
    }
}
