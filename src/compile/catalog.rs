//! The catalog zone (RFC 9432): a zone whose records list the other zones, so that a
//! secondary configured with it alone adds and drops member zones as the rules do.
//!
//! RFC 9432 §4.1: an SOA and an NS record (to `invalid.`) at the apex; §4.2.1: a TXT
//! `version` of "2"; §4.2: one PTR per member zone at `<unique-N>.zones.<catalog>`. The
//! unique label is the member's name hashed (SHA-256, the first 16 hex digits), so a
//! member keeps its label across reloads and restarts. (§4.4.1 lets a producer change
//! the label to make consumers reset a member; linedns never does, a member's data
//! being linedns's own.)

use rustc_hash::FxHashMap;

use super::Compiler;
use crate::config::{At, CatalogDef};
use crate::engine::zone::{Content, NameNode, RrSet, Zone};
use crate::name::Name;
use crate::rdata::{RData, RecordType};

/// TTL of the catalog's records (they are never resolved, RFC 9432 §5).
const TTL: u32 = 0;

impl Compiler<'_> {
    /// The catalog zone listing `members`, or `None` (with an error) for a bad name.
    pub(super) fn catalog(&mut self, def: &At<CatalogDef>, members: &[Zone]) -> Option<Zone> {
        let place = self.place(def);
        let origin = match Name::parse(&def.value.zone) {
            Ok(o) if !o.is_empty() => o,
            Ok(_) => {
                self.fail(place, "catalog", "the catalog zone cannot be the root");
                return None;
            }
            Err(m) => {
                self.fail(place, "catalog", m);
                return None;
            }
        };
        if members.iter().any(|z| *z.origin == *origin) {
            self.fail(place, "catalog", format!("{origin} is a served zone; the catalog needs a name of its own"));
            return None;
        }
        let soa = RData::Soa {
            mname: Name::literal("invalid"),
            rname: Name::literal("invalid"),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 2_419_200,
            minimum: 0,
        };
        let set =
            |rtype, data: Vec<RData>| RrSet { rtype, ttl: TTL, content: Content::Static(data.into()), source: None };
        let mut names: FxHashMap<Box<str>, NameNode> = FxHashMap::default();
        let apex = names.entry(origin.as_key().into()).or_default();
        apex.sets.push(set(RecordType::SOA, vec![soa.clone()]));
        apex.sets.push(set(RecordType::NS, vec![RData::Ns(Name::literal("invalid"))]));
        let version = names.entry(format!("version.{origin}").into()).or_default();
        version.sets.push(set(RecordType::TXT, vec![RData::Txt("2".into())]));
        names.entry(format!("zones.{origin}").into()).or_default();
        for member in members {
            let owner = format!("{}.zones.{origin}", unique_label(&member.origin));
            let node = names.entry(owner.into()).or_default();
            node.sets.push(set(RecordType::PTR, vec![RData::Ptr(member.origin.clone())]));
        }
        Some(Zone {
            origin: origin.clone(),
            soa: set(RecordType::SOA, vec![soa]),
            names,
            has_cuts: false,
            written_serial: 1,
            primary: None,
            unavailable: None,
            signing: None,
        })
    }
}

/// RFC 9432 §4.4.1 unique-N: the member's name hashed, 16 hex digits.
fn unique_label(member: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, member.as_bytes());
    data_encoding::HEXLOWER.encode(&digest.as_ref()[..8])
}
