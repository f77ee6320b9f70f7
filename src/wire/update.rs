//! DNS UPDATE messages (RFC 2136): the zone, the prerequisites that must hold for any of
//! it to be applied, and the changes, built section by section.
//!
//! RFC 2136 §2 reuses the sections of RFC 1035 §4.1: the zone section (the question:
//! `ZONE SOA IN`), the prerequisite section (the answer section), the update section (the
//! authority section) and the additional section (where TSIG goes, RFC 8945).

use super::encode::{self, CLASS_IN};
use crate::rdata::RData;

/// RFC 2136 §1.3: opcode UPDATE.
pub const OPCODE_UPDATE: u8 = 5;

/// RFC 2136 §1.3: class NONE, for "RRset does not exist" and "delete an RR".
const CLASS_NONE: u16 = 254;
/// RFC 1035 §3.2.5: class ANY, for "RRset exists" and "delete an RRset".
const CLASS_ANY: u16 = 255;

/// RFC 1035 §3.2.2: the SOA type of the zone section.
const TYPE_SOA: u16 = 6;

/// An UPDATE being written: what must hold, and what to change.
#[derive(Clone, Debug)]
pub struct Update {
    zone: Vec<u8>,
    prerequisites: Vec<u8>,
    prerequisite_count: u16,
    updates: Vec<u8>,
    update_count: u16,
}

impl Update {
    /// An UPDATE of `zone` (a key, [`crate::name`]).
    pub fn new(zone: &str) -> Update {
        let mut section = Vec::with_capacity(zone.len() + 6);
        encode::write_name(&mut section, zone);
        section.extend_from_slice(&TYPE_SOA.to_be_bytes());
        section.extend_from_slice(&CLASS_IN.to_be_bytes());
        Update { zone: section, prerequisites: Vec::new(), prerequisite_count: 0, updates: Vec::new(), update_count: 0 }
    }

    /// RFC 2136 §2.4.3: no RRset `owner` `rtype` exists (class NONE, TTL 0, no RDATA).
    pub fn require_absent(&mut self, owner: &str, rtype: u16) {
        encode::write_name(&mut self.prerequisites, owner);
        encode::write_rr_body(&mut self.prerequisites, rtype, CLASS_NONE, 0, |_| {});
        self.prerequisite_count += 1;
    }

    /// RFC 2136 §2.4.2: the RRset `owner` `rtype` exists and holds exactly `records` (class
    /// of the zone, TTL 0: "value dependent").
    pub fn require_exactly(&mut self, owner: &str, records: &[RData]) {
        for data in records {
            encode::write_name(&mut self.prerequisites, owner);
            encode::write_rr_body(&mut self.prerequisites, u16::from(data.rtype()), CLASS_IN, 0, |out| {
                encode::write_rdata(out, data);
            });
            self.prerequisite_count += 1;
        }
    }

    /// RFC 2136 §2.5.2: deletes the RRset `owner` `rtype` (class ANY, TTL 0, no RDATA).
    pub fn delete_rrset(&mut self, owner: &str, rtype: u16) {
        encode::write_name(&mut self.updates, owner);
        encode::write_rr_body(&mut self.updates, rtype, CLASS_ANY, 0, |_| {});
        self.update_count += 1;
    }

    /// RFC 2136 §2.5.1: adds a record to an RRset.
    pub fn add(&mut self, owner: &str, ttl: u32, data: &RData) {
        encode::write_name(&mut self.updates, owner);
        encode::write_rr_body(&mut self.updates, u16::from(data.rtype()), CLASS_IN, ttl, |out| {
            encode::write_rdata(out, data);
        });
        self.update_count += 1;
    }

    /// Records in the update section so far.
    pub fn changes(&self) -> u16 {
        self.update_count
    }

    /// The message's length, TSIG aside.
    pub fn len(&self) -> usize {
        12 + self.zone.len() + self.prerequisites.len() + self.updates.len()
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.update_count == 0
    }

    /// The message with ID `id`, and where its zone section (the question) ends.
    pub fn into_message(self, id: u16) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&[OPCODE_UPDATE << 3, 0, 0, 1]);
        out.extend_from_slice(&self.prerequisite_count.to_be_bytes());
        out.extend_from_slice(&self.update_count.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.zone);
        let zone_end = out.len();
        out.extend_from_slice(&self.prerequisites);
        out.extend_from_slice(&self.updates);
        (out, zone_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    #[test]
    fn an_update_holds_its_zone_prerequisites_and_changes_in_their_sections() {
        let mut update = Update::new("example.com");
        update.require_exactly("www.example.com", &[RData::A([192, 0, 2, 1].into())]);
        update.require_absent("new.example.com", 1);
        update.delete_rrset("www.example.com", 1);
        update.add("www.example.com", 300, &RData::A([192, 0, 2, 2].into()));
        update.add("mail.example.com", 60, &RData::Cname(Name::literal("www.example.com")));
        let (message, zone_end) = update.into_message(0x1234);
        assert_eq!(message[2] >> 3, OPCODE_UPDATE);
        assert_eq!(&message[4..12], &[0, 1, 0, 2, 0, 3, 0, 0], "ZOCOUNT, PRCOUNT, UPCOUNT, ADCOUNT");
        assert_eq!(&message[12..zone_end], b"\x07example\x03com\x00\x00\x06\x00\x01");
        // www.example.com A IN 0 192.0.2.1, then new.example.com A NONE 0 (no RDATA).
        let www = b"\x03www\x07example\x03com\x00";
        let first = [&www[..], &[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]].concat();
        assert_eq!(&message[zone_end..zone_end + first.len()], &first[..]);
        let second = zone_end + first.len();
        assert_eq!(&message[second + 17..second + 27], &[0, 1, 0, 254, 0, 0, 0, 0, 0, 0]);
        // The update section: www.example.com A ANY 0 (delete the RRset) first.
        let third = second + 27;
        assert_eq!(&message[third..third + www.len()], &www[..]);
        assert_eq!(&message[third + www.len()..third + www.len() + 10], &[0, 1, 0, 255, 0, 0, 0, 0, 0, 0]);
    }
}
