//! Zones: origin, SOA, NS and static records, owner names and their record sets.

use rustc_hash::FxHashMap;

use super::Compiler;
use crate::config::{At, RecordDef, ZoneDef};
use crate::engine::zone::{Content, NameNode, RrSet, Zone};
use crate::error::Place;
use crate::rdata::{RData, RecordType};
use crate::{config, name, rdata};

impl Compiler<'_> {
    pub(super) fn compile_zone(&mut self, def: &At<ZoneDef>) -> Option<Zone> {
        let z = &def.value;
        let origin = match name::normalize(&z.origin.value) {
            Ok(o) => o,
            Err(m) => {
                let place = self.place(&z.origin);
                self.fail(place, "zone", m);
                return None;
            }
        };
        let rule = format!("zone {origin}");
        let ttl = z.ttl.unwrap_or(config::defaults::TTL);
        let mut names: FxHashMap<Box<str>, NameNode> = FxHashMap::default();
        let mut first_place: FxHashMap<Box<str>, Place> = FxHashMap::default();

        let soa_def = &z.soa.value;
        let soa_place = self.place(&z.soa);
        let soa_name = |n: &str| name::in_origin(n, &origin);
        let soa = match (soa_name(&soa_def.mname), soa_name(&soa_def.rname)) {
            (Ok(mname), Ok(rname)) => RData::Soa {
                mname: mname.into(),
                rname: rname.into(),
                serial: soa_def.serial,
                refresh: soa_def.refresh,
                retry: soa_def.retry,
                expire: soa_def.expire,
                minimum: soa_def.minimum,
            },
            (Err(m), _) | (_, Err(m)) => {
                self.fail(soa_place, format!("{rule} soa"), m);
                return None;
            }
        };
        let soa_set = RrSet {
            rtype: RecordType::SOA,
            ttl: soa_def.ttl.unwrap_or(ttl),
            content: Content::Static(Box::new([soa.clone()])),
        };
        if z.ns.is_empty() {
            let place = self.place(def);
            self.fail(place, rule.clone(), "a zone needs at least one name server in `ns`");
        }
        let mut ns_records = Vec::new();
        for ns in &z.ns {
            match name::in_origin(&ns.value, &origin) {
                Ok(n) => ns_records.push(RData::Ns(n.into())),
                Err(m) => {
                    let place = self.place(ns);
                    self.fail(place, format!("{rule} ns"), m);
                }
            }
        }
        let apex = names.entry(origin.as_str().into()).or_default();
        apex.sets.push(RrSet { rtype: RecordType::SOA, ttl: soa_set.ttl, content: Content::Static(Box::new([soa])) });
        apex.sets.push(RrSet { rtype: RecordType::NS, ttl, content: Content::Static(ns_records.into()) });
        first_place.insert(origin.as_str().into(), self.place(&z.origin));

        for record in &z.records {
            if let Some((owner, set)) = self.static_set(record, &origin, ttl, &rule) {
                self.add_set(&mut names, &mut first_place, owner, set, self.place(record), &rule);
            }
        }
        for record in &z.line_records {
            if let Some((owner, set)) = self.line_set(record, &origin, ttl, &rule) {
                self.add_set(&mut names, &mut first_place, owner, set, self.place(record), &rule);
            }
        }
        // RFC 1034 §3.6.2: a name with a CNAME has no other data.
        let mut cname_conflicts: Vec<(Box<str>, Place)> = names
            .iter()
            .filter(|(_, node)| node.get(RecordType::CNAME).is_some() && node.sets.len() > 1)
            .map(|(owner, _)| (owner.clone(), first_place[owner].clone()))
            .collect();
        cname_conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        for (owner, place) in cname_conflicts {
            self.fail(
                place,
                rule.clone(),
                format!("{owner} has a CNAME and other records (RFC 1034 §3.6.2 forbids it)"),
            );
        }
        // Every ancestor of a name exists (empty non-terminals, RFC 8020).
        let owners: Vec<Box<str>> = names.keys().cloned().collect();
        for owner in owners {
            let mut cur: &str = &owner;
            while let Some(p) = name::parent(cur) {
                if p.len() <= origin.len() {
                    break;
                }
                names.entry(p.into()).or_default();
                cur = p;
            }
        }
        let has_cuts = names.iter().any(|(owner, node)| **owner != *origin && node.get(RecordType::NS).is_some());
        Some(Zone { origin: origin.into(), soa: soa_set, names, has_cuts })
    }

    /// The indexes in `zones` of the zones `names` writes (a rule's `zones:`), each name
    /// not among them an error at `place`.
    pub(super) fn zone_indexes(&mut self, names: &[String], zones: &[Zone], place: &Place, rule: &str) -> Vec<u32> {
        let mut indexes = Vec::new();
        for written in names {
            let found = name::normalize(written).ok().and_then(|n| zones.iter().position(|z| *z.origin == *n));
            match found {
                Some(i) => indexes.push(i as u32),
                None => self.fail(place.clone(), rule, format!("zones: no zone {written:?} in the rules")),
            }
        }
        indexes
    }

    pub(super) fn add_set(
        &mut self,
        names: &mut FxHashMap<Box<str>, NameNode>,
        first_place: &mut FxHashMap<Box<str>, Place>,
        owner: String,
        set: RrSet,
        place: Place,
        rule: &str,
    ) {
        let node = names.entry(owner.as_str().into()).or_default();
        if node.get(set.rtype).is_some() {
            self.fail(place, rule, format!("{owner} {} is defined twice (put all values in one entry)", set.rtype));
            return;
        }
        node.sets.push(set);
        first_place.entry(owner.into()).or_insert(place);
    }

    /// What every record starts with: its owner (in the zone), the rule its errors name
    /// (`RULE, WHAT NAME TYPE`), and its type, one of `allowed` (`hint` is added to errors).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_head(
        &mut self,
        name: &At<String>,
        rtype: &At<String>,
        origin: &str,
        rule: &str,
        what: &str,
        allowed: &[RecordType],
        hint: &str,
    ) -> Option<(String, String, RecordType)> {
        let owner = self.owner(name, origin, rule)?;
        let rule = format!("{rule}, {what} {} {}", name.value, rtype.value);
        let rtype = self.record_type(rtype, allowed, hint, &rule)?;
        Some((owner, rule, rtype))
    }

    /// The owner name written at `written`, made absolute in `origin`; it must be in the zone.
    fn owner(&mut self, written: &At<String>, origin: &str, rule: &str) -> Option<String> {
        let place = self.place(written);
        match name::in_origin(&written.value, origin) {
            Ok(owner) if name::is_at_or_below(&owner, origin) => Some(owner),
            Ok(owner) => {
                self.fail(place, rule, format!("name {owner:?} is outside the zone {origin}"));
                None
            }
            Err(m) => {
                self.fail(place, rule, m);
                None
            }
        }
    }

    /// The record type written at `written`, one of `allowed`; `hint` is added to errors.
    fn record_type(
        &mut self,
        written: &At<String>,
        allowed: &[RecordType],
        hint: &str,
        rule: &str,
    ) -> Option<RecordType> {
        match rdata::parse_type(&written.value, allowed) {
            Ok(t) => Some(t),
            Err(m) => {
                let place = self.place(written);
                self.fail(place, rule, format!("{m}{hint}"));
                None
            }
        }
    }

    pub(super) fn static_set(
        &mut self,
        record: &At<RecordDef>,
        origin: &str,
        zone_ttl: u32,
        rule: &str,
    ) -> Option<(String, RrSet)> {
        let r = &record.value;
        let (owner, rule, rtype) =
            self.record_head(&r.name, &r.rtype, origin, rule, "record", rdata::STATIC_TYPES, "")?;
        let place = self.place(record);
        let values = r.values.clone().into_vec();
        if values.is_empty() {
            self.fail(place, rule, "no values");
            return None;
        }
        if rtype == RecordType::CNAME && values.len() > 1 {
            self.fail(place, rule, "a CNAME has exactly one value");
            return None;
        }
        let mut data = Vec::with_capacity(values.len());
        for value in &values {
            match RData::parse(rtype, value, origin) {
                Ok(d) => data.push(d),
                Err(m) => self.fail(place.clone(), rule.clone(), m),
            }
        }
        (data.len() == values.len())
            .then(|| (owner, RrSet { rtype, ttl: r.ttl.unwrap_or(zone_ttl), content: Content::Static(data.into()) }))
    }
}
