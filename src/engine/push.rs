//! What a managed provider should hold for one zone and one line's view, and the plan that
//! takes its copy there: per RRset, create, update or delete, old → new.
//!
//! linedns manages the RRsets its rules define for the zone (by owner and type), as the
//! view gives them now ([`super::export`]): never the SOA or the apex NS set, which are
//! the provider's own (its serials, its name servers), nor DNSSEC records (a provider
//! signs with its own keys). Whatever else the provider holds is never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::export::export;
use super::line::NodeHealth;
use super::snapshot::Snapshot;
use super::zone::Zone;
use crate::geo::table::LineId;
use crate::name::Name;
use crate::rdata::{Fqdn, RData, RecordType};
use crate::wire::encode;

/// An RRset's owner and type.
pub type RrsetKey = (Name, RecordType);

/// The records of one RRset: one TTL, the data in a fixed order (as their presentation
/// sorts), without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rrset {
    /// The time to live.
    pub ttl: u32,
    /// The records' data.
    pub data: Vec<RData>,
}

impl Rrset {
    /// An RRset of `data` (each in the form its wire octets read back as, so that what
    /// the rules write and what a provider returns compare equal; put in order,
    /// duplicates dropped).
    pub fn new(ttl: u32, data: Vec<RData>) -> Rrset {
        let mut data: Vec<RData> = data.iter().map(encode::as_read_back).collect();
        data.sort_by_cached_key(ToString::to_string);
        data.dedup();
        Rrset { ttl, data }
    }
}

impl fmt::Display for Rrset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ttl)?;
        for (i, data) in self.data.iter().enumerate() {
            write!(f, "{}{data}", if i == 0 { " " } else { ", " })?;
        }
        Ok(())
    }
}

/// RRsets by owner and type.
pub type Rrsets = BTreeMap<RrsetKey, Rrset>;

/// The types a provider signs or owns itself.
const NOT_PUSHED: [RecordType; 8] = [
    RecordType::SOA,
    RecordType::DNSKEY,
    RecordType::CDS,
    RecordType::CDNSKEY,
    RecordType::RRSIG,
    RecordType::NSEC,
    RecordType::NSEC3,
    RecordType::NSEC3PARAM,
];

/// Whether linedns may manage the RRset `key` of the zone `origin` at a provider.
fn pushable(key: &RrsetKey, origin: &str) -> bool {
    let apex_ns = key.1 == RecordType::NS && *key.0 == *origin;
    !(NOT_PUSHED.contains(&key.1) || apex_ns)
}

/// The RRsets the rules define for `zone` (by owner and type): what linedns manages at a
/// provider, whatever the view answers now (a line record with every pool down has no
/// records, and its RRset is then deleted at the provider).
pub fn managed(zone: &Zone) -> BTreeSet<RrsetKey> {
    let mut out = BTreeSet::new();
    for (owner, node) in &zone.names {
        let Some(owner) = Name::from_key(owner) else { continue };
        for set in &node.sets {
            let key = (owner.clone(), set.rtype);
            if pushable(&key, &zone.origin) {
                out.insert(key);
            }
        }
    }
    out
}

/// The RRsets of `zone` that `line`'s view holds under `health`, as a provider should
/// hold them.
pub fn view(snapshot: &Snapshot, zone: &Zone, line: LineId, health: &impl NodeHealth) -> Rrsets {
    group(export(snapshot, zone, line, health).into_iter().filter_map(|record| {
        let key = (Name::from_key(record.owner)?, record.data.rtype());
        pushable(&key, &zone.origin).then(|| (key, record.ttl, record.data.clone()))
    }))
}

/// The RRsets of `records` (owner and type, TTL, data): one per owner and type, with
/// the smallest TTL of its records (RFC 2181 §5.2: one TTL per RRset; the smallest is
/// the one that holds).
pub fn group(records: impl IntoIterator<Item = (RrsetKey, u32, RData)>) -> Rrsets {
    let mut sets: BTreeMap<RrsetKey, (u32, Vec<RData>)> = BTreeMap::new();
    for (key, ttl, data) in records {
        let entry = sets.entry(key).or_insert((ttl, Vec::new()));
        entry.0 = entry.0.min(ttl);
        entry.1.push(data);
    }
    sets.into_iter().map(|(key, (ttl, data))| (key, Rrset::new(ttl, data))).collect()
}

/// What to do with one RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The RRset.
    pub key: RrsetKey,
    /// What the provider holds now (`None`: nothing; a create).
    pub old: Option<Rrset>,
    /// What it should hold (`None`: nothing; a delete).
    pub new: Option<Rrset>,
}

impl Change {
    /// `create`, `update` or `delete`.
    pub fn action(&self) -> &'static str {
        match (&self.old, &self.new) {
            (None, _) => "create",
            (Some(_), Some(_)) => "update",
            (Some(_), None) => "delete",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (owner, rtype) = &self.key;
        write!(f, "{} {} {rtype}", self.action(), Fqdn(owner))?;
        match (&self.old, &self.new) {
            (None, Some(new)) => write!(f, ": {new}"),
            (Some(old), Some(new)) => write!(f, ": {old} -> {new}"),
            (Some(old), None) => write!(f, ": {old}"),
            (None, None) => Ok(()),
        }
    }
}

/// The changes that take a provider's copy of a zone to the view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Per RRset, in owner and type order.
    pub changes: Vec<Change>,
    /// The managed RRsets the provider holds now.
    pub held: usize,
}

impl Plan {
    /// The plan that takes `current` (what the provider holds) to `wanted`, touching only
    /// the RRsets of `managed` (and those `wanted` holds).
    pub fn new(wanted: &Rrsets, current: &Rrsets, managed: &BTreeSet<RrsetKey>) -> Plan {
        let held = current.keys().filter(|k| managed.contains(*k) || wanted.contains_key(*k)).count();
        let mut changes = Vec::new();
        for (key, new) in wanted {
            match current.get(key) {
                Some(old) if old == new => {}
                old => changes.push(Change { key: key.clone(), old: old.cloned(), new: Some(new.clone()) }),
            }
        }
        for (key, old) in current {
            if managed.contains(key) && !wanted.contains_key(key) {
                changes.push(Change { key: key.clone(), old: Some(old.clone()), new: None });
            }
        }
        changes.sort_by(|a, b| a.key.cmp(&b.key));
        Plan { changes, held }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes of `action` (`create`, `update`, `delete`) it holds.
    pub fn count(&self, action: &str) -> usize {
        self.changes.iter().filter(|c| c.action() == action).count()
    }

    /// The share of the RRsets the provider holds that it updates or deletes (0 when the
    /// provider holds none: a first push creates only).
    pub fn share_changed(&self) -> f64 {
        let touched = self.count("update") + self.count("delete");
        if self.held == 0 { 0.0 } else { touched as f64 / self.held as f64 }
    }

    /// `N creates, N updates, N deletes`.
    pub fn summary(&self) -> String {
        format!("{} creates, {} updates, {} deletes", self.count("create"), self.count("update"), self.count("delete"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(last: u8) -> RData {
        RData::A([192, 0, 2, last].into())
    }

    fn key(owner: &'static str, rtype: RecordType) -> RrsetKey {
        (Name::literal(owner), rtype)
    }

    #[test]
    fn a_plan_creates_updates_and_deletes_only_what_linedns_manages() {
        let wanted: Rrsets = [
            (key("www.example", RecordType::A), Rrset::new(60, vec![a(2), a(1)])),
            (key("new.example", RecordType::A), Rrset::new(60, vec![a(9)])),
            (key("same.example", RecordType::A), Rrset::new(60, vec![a(5)])),
        ]
        .into();
        let current: Rrsets = [
            (key("www.example", RecordType::A), Rrset::new(60, vec![a(1)])),
            (key("same.example", RecordType::A), Rrset::new(60, vec![a(5)])),
            (key("gone.example", RecordType::A), Rrset::new(60, vec![a(7)])),
            (key("theirs.example", RecordType::TXT), Rrset::new(60, vec![RData::Txt("kept".into())])),
        ]
        .into();
        let managed: BTreeSet<RrsetKey> = wanted.keys().cloned().chain([key("gone.example", RecordType::A)]).collect();
        let plan = Plan::new(&wanted, &current, &managed);
        let shown: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "delete gone.example. A: 60 192.0.2.7",
                "create new.example. A: 60 192.0.2.9",
                "update www.example. A: 60 192.0.2.1 -> 60 192.0.2.1, 192.0.2.2",
            ]
        );
        assert_eq!(plan.summary(), "1 creates, 1 updates, 1 deletes");
        assert_eq!(plan.held, 3, "the provider's own TXT is not counted");
        assert!((plan.share_changed() - 2.0 / 3.0).abs() < 1e-9);
        assert!(Plan::new(&wanted, &wanted, &managed).is_empty(), "nothing to do once in sync");
    }

    #[test]
    fn the_view_leaves_the_providers_own_sets_alone() {
        let snapshot = crate::compile::fixtures::snapshot();
        let zone = &snapshot.zones[0];
        let wanted = view(&snapshot, zone, LineId(0), &snapshot.probe_health());
        assert!(!wanted.is_empty());
        for (owner, rtype) in wanted.keys().chain(&managed(zone)) {
            assert!(*rtype != RecordType::SOA, "{owner} SOA");
            assert!(!(*rtype == RecordType::NS && *owner == *zone.origin), "the apex NS");
        }
        assert!(wanted.keys().all(|k| managed(zone).contains(k)), "every RRset pushed is a managed one");
    }
}
