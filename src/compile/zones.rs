//! Zones: origin, SOA, NS and static records (from the rules, a master file or the copy
//! of a primary's zone), owner names and their record sets.

use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::zone_file::{self, FileRecord};
use super::{Compiler, zone_copy};
use crate::config::{At, PrimaryDef, RecordDef, ZoneDef};
use crate::engine::zone::{Content, NameNode, Primary, RrSet, Zone};
use crate::error::Place;
use crate::name::Name;
use crate::rdata::{RData, RecordType};
use crate::wire::tsig::Key;
use crate::{config, name, rdata};

/// The record sets of a zone being compiled: by owner, with the place each name was
/// first written and which sets came from the zone's data (file or primary).
#[derive(Default)]
pub(super) struct ZoneSets {
    names: FxHashMap<Box<str>, NameNode>,
    first_place: FxHashMap<Box<str>, Place>,
    from_data: FxHashMap<SetKey, Place>,
}

/// A record set's owner and type.
type SetKey = (Box<str>, RecordType);

/// Where a zone's static records come from, besides the rules.
enum ZoneData {
    /// Records read, and what their sets say they came from (`None`: each record's place).
    Records(Vec<FileRecord>, Option<Arc<str>>),
    /// A secondary zone that cannot be served: why.
    Unavailable(String),
}

impl Compiler<'_> {
    pub(super) fn compile_zone(&mut self, def: &At<ZoneDef>, state_dir: Option<&Path>, keys: &[Key]) -> Option<Zone> {
        let z = &def.value;
        let origin = match Name::parse(&z.origin.value) {
            Ok(o) => o,
            Err(m) => {
                let place = self.place(&z.origin);
                self.fail(place, "zone", m);
                return None;
            }
        };
        let rule = format!("zone {origin}");
        let ttl = z.ttl.unwrap_or(config::defaults::TTL);
        let mut sets = ZoneSets::default();
        let primary = z.primary.as_ref().and_then(|p| self.primary(p, keys, &rule));
        let data = match (&z.file, &z.primary) {
            (Some(_), Some(_)) => {
                let place = self.place(def);
                self.fail(place, rule, "a zone takes its data from `file` or from `primary`, not both");
                return None;
            }
            (Some(file), None) => {
                let path = self.file.parent().unwrap_or(Path::new("")).join(&file.value);
                let place = self.place(file);
                Some(self.zone_file(&path, &origin, &place, &rule, None)?)
            }
            (None, Some(at)) => Some(self.primary_copy(at, state_dir, &origin, &rule)?),
            (None, None) => None,
        };
        if data.is_some() && (z.soa.is_some() || !z.ns.is_empty()) {
            let place = self.place(def);
            self.fail(place, rule.clone(), "`soa` and `ns` come from the zone's file or primary: remove them here");
        }
        let mut unavailable = None;
        let soa_set = match data {
            None => self.rules_apex(def, &origin, ttl, &rule, &mut sets)?,
            Some(ZoneData::Records(records, source)) => self.data_apex(records, source, &origin, &rule, &mut sets)?,
            Some(ZoneData::Unavailable(why)) => {
                let placeholder = RData::Soa {
                    mname: Name::literal("invalid"),
                    rname: Name::literal("invalid"),
                    serial: 0,
                    refresh: 0,
                    retry: 0,
                    expire: 0,
                    minimum: 0,
                };
                unavailable = Some(why.into_boxed_str());
                RrSet {
                    rtype: RecordType::SOA,
                    ttl: 0,
                    content: Content::Static(Box::new([placeholder])),
                    source: None,
                }
            }
        };
        for record in &z.records {
            if let Some((owner, set)) = self.static_set(record, &origin, ttl, &rule) {
                self.add_set(&mut sets, owner, set, self.place(record), record.value.replace, &rule);
            }
        }
        for record in &z.line_records {
            if let Some((owner, set)) = self.line_set(record, &origin, ttl, &rule) {
                self.add_set(&mut sets, owner, set, self.place(record), record.value.replace, &rule);
            }
        }
        let ZoneSets { mut names, first_place, .. } = sets;
        // RFC 1034 §3.6.2: a name with a CNAME has no other data (RFC 4035 §2.5: but its
        // RRSIG and NSEC records).
        let beside_cname = |t: RecordType| !matches!(t, RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC);
        let mut cname_conflicts: Vec<(Box<str>, Place, String)> = names
            .iter()
            .filter_map(|(owner, node)| {
                let cname = node.get(RecordType::CNAME)?;
                if let Content::Static(records) = &cname.content
                    && records.len() > 1
                {
                    let message = format!(
                        "{owner} has {} CNAME records: a name has one (RFC 2181 §10.1)",
                        records.len()
                    );
                    return Some((owner.clone(), first_place[owner].clone(), message));
                }
                let other = node.sets.iter().find(|s| beside_cname(s.rtype))?;
                let written = |set: &RrSet| set.source.as_deref().map_or(String::new(), |s| format!(" ({s})"));
                let message = format!(
                    "{owner} has a CNAME{} and {} data{}: a name with a CNAME has no other data (RFC 1034 §3.6.2, RFC 2181 §10.1)",
                    written(cname),
                    other.rtype,
                    written(other)
                );
                Some((owner.clone(), first_place[owner].clone(), message))
            })
            .collect();
        cname_conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, place, message) in cname_conflicts {
            self.fail(place, rule.clone(), message);
        }
        for (owner, node) in &names {
            if node.get(RecordType::CNAME).is_some() {
                self.cname_places.insert(owner.clone(), first_place[owner].clone());
            }
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
        let now = self.now;
        // RFC 7583's TTLsig: the longest TTL of the zone's sets (line records' included).
        let max_ttl = names
            .values()
            .flat_map(|n| n.sets.iter())
            .map(|s| match s.content {
                Content::Line(i) => self.line_records.get(i as usize).map_or(0, |r| r.ttl.max(r.degraded_ttl)),
                Content::Static(_) => s.ttl,
            })
            .chain([soa_set.ttl])
            .max()
            .unwrap_or(0);
        let dnssec_keys = self.zone_keys(def, &origin, state_dir, now, max_ttl, &rule);
        if let Some(dnssec_keys) = &dnssec_keys {
            self.publish_keys(&mut names, &origin, dnssec_keys, def, &rule);
        }
        let has_cuts = names.iter().any(|(owner, node)| **owner != *origin && node.get(RecordType::NS).is_some());
        let written_serial = match &soa_set.content {
            Content::Static(soa) => match soa[0] {
                RData::Soa { serial, .. } => serial,
                _ => 0,
            },
            Content::Line(_) => 0,
        };
        let signing = dnssec_keys.map(|k| k.signing);
        Some(Zone {
            origin: origin.clone(),
            soa: soa_set,
            names,
            has_cuts,
            written_serial,
            primary,
            unavailable,
            signing,
        })
    }

    /// The apex of a zone written in the rules: `soa` and `ns`.
    fn rules_apex(
        &mut self,
        def: &At<ZoneDef>,
        origin: &str,
        ttl: u32,
        rule: &str,
        sets: &mut ZoneSets,
    ) -> Option<RrSet> {
        let z = &def.value;
        let Some(soa_at) = &z.soa else {
            let place = self.place(def);
            self.fail(place, rule, "a zone needs `soa` and `ns`, or a `file` or `primary` holding them");
            return None;
        };
        let soa_def = &soa_at.value;
        let soa_place = self.place(soa_at);
        let soa_name = |n: &str| Name::in_origin(n, origin);
        let soa = match (soa_name(&soa_def.mname), soa_name(&soa_def.rname)) {
            (Ok(mname), Ok(rname)) => RData::Soa {
                mname,
                rname,
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
        let source: Arc<str> = soa_place.to_string().into();
        let soa_set = RrSet {
            rtype: RecordType::SOA,
            ttl: soa_def.ttl.unwrap_or(ttl),
            content: Content::Static(Box::new([soa])),
            source: Some(source),
        };
        if z.ns.is_empty() {
            let place = self.place(def);
            self.fail(place, rule, "a zone needs at least one name server in `ns`");
        }
        let mut ns_records = Vec::new();
        for ns in &z.ns {
            match Name::in_origin(&ns.value, origin) {
                Ok(n) => ns_records.push(RData::Ns(n)),
                Err(m) => {
                    let place = self.place(ns);
                    self.fail(place, format!("{rule} ns"), m);
                }
            }
        }
        let ns_source = z.ns.first().map(|ns| self.place(ns).to_string().into());
        let apex = sets.names.entry(origin.into()).or_default();
        apex.sets.push(RrSet {
            rtype: RecordType::SOA,
            ttl: soa_set.ttl,
            content: Content::Static(Box::new([soa_set_record(&soa_set)])),
            source: soa_set.source.clone(),
        });
        apex.sets.push(RrSet {
            rtype: RecordType::NS,
            ttl,
            content: Content::Static(ns_records.into()),
            source: ns_source,
        });
        sets.first_place.insert(origin.into(), self.place(&z.origin));
        Some(soa_set)
    }

    /// The sets of a zone's file or primary data; its SOA set (one SOA, at the apex, and
    /// apex NS records are required).
    fn data_apex(
        &mut self,
        records: Vec<FileRecord>,
        source: Option<Arc<str>>,
        origin: &str,
        rule: &str,
        sets: &mut ZoneSets,
    ) -> Option<RrSet> {
        let file_place = records.first().map(|r| Place::file(&r.place.file));
        let mut order: Vec<SetKey> = Vec::new();
        let mut grouped: FxHashMap<SetKey, (u32, Vec<RData>, Place)> = FxHashMap::default();
        for record in records {
            let key = (Box::<str>::from(record.owner.as_key()), record.data.rtype());
            if record.data.rtype() == RecordType::SOA && record.owner != origin {
                self.fail(
                    record.place,
                    rule,
                    format!("an SOA record at {}: only the apex {origin} has one", record.owner),
                );
                continue;
            }
            match grouped.get_mut(&key) {
                // RFC 2181 §5.2: one TTL per set (the first, as BIND keeps it); §5: no
                // duplicate records.
                Some((_, data, _)) if !data.contains(&record.data) => data.push(record.data),
                Some(_) => {}
                None => {
                    order.push(key.clone());
                    grouped.insert(key, (record.ttl, vec![record.data], record.place));
                }
            }
        }
        let no_place = || file_place.clone().unwrap_or_else(|| Place::file(Path::new(origin)));
        let soa_key = (Box::<str>::from(origin), RecordType::SOA);
        let soa = match grouped.get(&soa_key) {
            Some((ttl, data, place)) if data.len() == 1 => (*ttl, data[0].clone(), place.clone()),
            Some((_, _, place)) => {
                self.fail(place.clone(), rule, "the zone data has more than one SOA record");
                return None;
            }
            None => {
                self.fail(no_place(), rule, format!("the zone data has no SOA record at the apex {origin}"));
                return None;
            }
        };
        if !grouped.contains_key(&(Box::<str>::from(origin), RecordType::NS)) {
            self.fail(no_place(), rule, format!("the zone data has no NS records at the apex {origin}"));
        }
        for key in order {
            let (ttl, data, place) = grouped.remove(&key).expect("grouped by key");
            let set_source = source.clone().unwrap_or_else(|| place.to_string().into());
            let set = RrSet { rtype: key.1, ttl, content: Content::Static(data.into()), source: Some(set_source) };
            sets.from_data.insert(key.clone(), place.clone());
            let node = sets.names.entry(key.0.clone()).or_default();
            node.sets.push(set);
            sets.first_place.entry(key.0).or_insert(place);
        }
        let soa_source = source.unwrap_or_else(|| soa.2.to_string().into());
        Some(RrSet {
            rtype: RecordType::SOA,
            ttl: soa.0,
            content: Content::Static(Box::new([soa.1])),
            source: Some(soa_source),
        })
    }

    /// Reads a master file (and its `$INCLUDE`s, watched like the rules).
    fn zone_file(
        &mut self,
        path: &Path,
        origin: &str,
        place: &Place,
        rule: &str,
        source: Option<Arc<str>>,
    ) -> Option<ZoneData> {
        match zone_file::read(path, origin) {
            Ok(data) => {
                // A primary's copy is written whole (renamed into place) by the server,
                // which reloads after it: not an input to watch.
                if source.is_none() {
                    for file in &data.files {
                        self.inputs.push((file.clone(), super::stamp(file)));
                    }
                }
                Some(ZoneData::Records(data.records, source))
            }
            Err(errors) => {
                self.inputs.push((path.to_path_buf(), super::stamp(path)));
                let rule = format!("{rule} (file at {place})");
                self.errors.extend(errors.into_iter().map(|e| e.in_rule(rule.clone())));
                None
            }
        }
    }

    /// The data of a secondary zone: its copy in the state directory, unless there is
    /// none yet or it has expired (RFC 1035 §3.3.13: EXPIRE after the last refresh).
    fn primary_copy(
        &mut self,
        at: &At<PrimaryDef>,
        state_dir: Option<&Path>,
        origin: &str,
        rule: &str,
    ) -> Option<ZoneData> {
        let place = self.place(at);
        let Some(state_dir) = state_dir else {
            self.fail(place, rule, "a zone with `primary` needs `server.state_dir` (where its copy is kept)");
            return None;
        };
        let path = zone_copy::zone_path(state_dir, origin);
        let info = zone_copy::read_info(state_dir, origin);
        let (Some(info), true) = (info, path.exists()) else {
            return Some(ZoneData::Unavailable("not transferred from its primary yet".into()));
        };
        let source: Arc<str> = format!("transferred from {} at serial {}", info.primary, info.serial).into();
        let data = self.zone_file(&path, origin, &place, rule, Some(source))?;
        let expire = match &data {
            ZoneData::Records(records, _) => records.iter().find_map(|r| match r.data {
                RData::Soa { expire, .. } if r.owner == origin => Some(expire),
                _ => None,
            }),
            ZoneData::Unavailable(_) => None,
        };
        let now = self.now;
        match expire {
            Some(expire) if now >= info.refreshed.saturating_add(u64::from(expire)) => {
                Some(ZoneData::Unavailable(format!(
                    "expired: the primary last confirmed serial {} {} s ago (SOA expire {expire} s)",
                    info.serial,
                    now - info.refreshed
                )))
            }
            _ => Some(data),
        }
    }

    /// A zone's `primary`: its addresses and key.
    fn primary(&mut self, at: &At<PrimaryDef>, keys: &[Key], rule: &str) -> Option<Primary> {
        let place = self.place(at);
        let p = &at.value;
        let rule = format!("{rule} primary");
        let servers = self.server_addresses(&p.servers, &rule, "");
        if p.servers.is_empty() {
            self.fail(place.clone(), rule.clone(), "`servers` names no address");
        }
        let key = match &p.key {
            None => None,
            Some(written) => {
                let place = self.place(written);
                Some(self.key_index(&written.value, keys, place, &rule)?)
            }
        };
        (!servers.is_empty()).then(|| Primary { servers: servers.into(), key })
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

    /// Adds a set written in the rules. A set of the same name and type in the zone's
    /// data is replaced when the rules say `replace`, else it is an error; twice in the
    /// rules is always one.
    pub(super) fn add_set(
        &mut self,
        sets: &mut ZoneSets,
        owner: String,
        set: RrSet,
        place: Place,
        replace: bool,
        rule: &str,
    ) {
        let key = (Box::<str>::from(owner.as_str()), set.rtype);
        let node = sets.names.entry(key.0.clone()).or_default();
        if let Some(i) = node.sets.iter().position(|s| s.rtype == set.rtype) {
            match sets.from_data.remove(&key) {
                Some(_) if replace => node.sets[i] = set,
                Some(data_place) => {
                    sets.from_data.insert(key, data_place.clone());
                    self.fail(
                        place,
                        rule,
                        format!(
                            "{owner} {} is also in the zone data ({data_place}): add `replace: true` to serve this one instead, or remove one",
                            set.rtype
                        ),
                    );
                }
                None => self.fail(
                    place,
                    rule,
                    format!("{owner} {} is defined twice (put all values in one entry)", set.rtype),
                ),
            }
            return;
        }
        node.sets.push(set);
        sets.first_place.entry(owner.into()).or_insert(place);
    }

    /// What every record starts with: its owner (in the zone), the rule its errors name
    /// (`RULE, WHAT NAME TYPE`), and its type, one of `allowed` (any data type when it
    /// is empty; `hint` is added to errors).
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
        if rtype == RecordType::CNAME && owner == origin {
            let place = self.place(name);
            self.fail(place, rule, "a CNAME at the zone's apex: the apex holds the SOA and NS, and a name with a CNAME has no other data (RFC 1034 §3.6.2)");
            return None;
        }
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
        let parsed = if allowed.is_empty() {
            rdata::parse_any_type(&written.value).and_then(|t| match t {
                RecordType::SOA => Err("the SOA is the zone's `soa` (or its file's), not a record".into()),
                RecordType::OPT | RecordType::TSIG | RecordType::AXFR | RecordType::IXFR | RecordType::ANY => {
                    Err(format!("{} is a meta-type, not data (RFC 6895 §3.1)", t))
                }
                t => Ok(t),
            })
        } else {
            rdata::parse_type(&written.value, allowed)
        };
        match parsed {
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
        let (owner, rule, rtype) = self.record_head(&r.name, &r.rtype, origin, rule, "record", &[], "")?;
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
        let source = Some(place.to_string().into());
        (data.len() == values.len()).then(|| {
            (owner, RrSet { rtype, ttl: r.ttl.unwrap_or(zone_ttl), content: Content::Static(data.into()), source })
        })
    }
}

/// The one record of an SOA set.
fn soa_set_record(set: &RrSet) -> RData {
    match &set.content {
        Content::Static(records) => records[0].clone(),
        Content::Line(_) => unreachable!("an SOA set is static"),
    }
}
