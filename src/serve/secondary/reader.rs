//! Reading a transfer's answer as it comes (RFC 5936 §2.2 AXFR, RFC 1995 §4 IXFR): the
//! records of each message, where the answer ends, and the zone it gives.

use super::copy::ZoneRecord;
use crate::rdata::{Fqdn, RData};
use crate::wire::encode;

/// The answer records of a message, decompressed, each checked to be in the zone.
pub(super) fn answer_records(message: &[u8], origin: &str) -> Result<Vec<ZoneRecord>, String> {
    let mut records = Vec::new();
    for record in crate::wire::message::answer(message).map_err(|e| e.to_string())?.records {
        if record.class != encode::CLASS_IN {
            continue;
        }
        if !crate::name::is_at_or_below(&record.owner, origin) {
            return Err(format!("{}. is outside the zone {}", record.owner, Fqdn(origin)));
        }
        let data = RData::from_wire(record.rtype, &record.data)?;
        records.push(ZoneRecord { owner: record.owner, ttl: record.ttl, data });
    }
    Ok(records)
}

/// Reads the records of an AXFR or IXFR answer as they come (RFC 5936 §2.2, RFC 1995
/// §4): where the answer ends, and the zone it gives.
pub(super) struct TransferReader {
    /// The serial we hold (an IXFR was asked).
    pub(super) held: Option<u32>,
    /// The new SOA: the first record.
    pub(super) first: Option<ZoneRecord>,
    pub(super) mode: Mode,
    pub(super) done: bool,
    pub(super) seen: usize,
}

pub(super) enum Mode {
    /// Not known yet (one record read).
    Unknown,
    /// The whole zone (AXFR, or an IXFR answered so).
    Full(Vec<ZoneRecord>),
    /// Difference sequences: each (deleted, added), the one being read last.
    Incremental { sequences: Vec<(Vec<ZoneRecord>, Vec<ZoneRecord>)>, adding: bool },
}

impl TransferReader {
    pub(super) fn new(held: Option<u32>) -> Self {
        TransferReader { held, first: None, mode: Mode::Unknown, done: false, seen: 0 }
    }

    pub(super) fn done(&self) -> bool {
        self.done
    }

    pub(super) fn only_soa_so_far(&self) -> bool {
        self.seen == 1 && !self.done
    }

    pub(super) fn finish_single_soa(&mut self) -> Result<(), String> {
        self.done = true;
        Ok(())
    }

    pub(super) fn new_serial(&self) -> Option<u32> {
        self.first.as_ref().and_then(|r| serial_of(&r.data))
    }

    pub(super) fn push(&mut self, record: ZoneRecord) -> Result<(), String> {
        if self.done {
            return Err("records after the transfer's closing SOA".into());
        }
        self.seen += 1;
        let Some(new_serial) = self.new_serial() else {
            if serial_of(&record.data).is_none() {
                return Err("the transfer does not start with an SOA".into());
            }
            self.first = Some(record);
            return Ok(());
        };
        let soa = serial_of(&record.data);
        match &mut self.mode {
            Mode::Unknown => match soa {
                // RFC 1995 §4: an SOA second is the start of the first difference (the
                // serial we hold).
                Some(serial) if Some(serial) == self.held && serial != new_serial => {
                    self.mode = Mode::Incremental { sequences: vec![(vec![record], Vec::new())], adding: false };
                }
                Some(serial) if serial == new_serial => self.done = true,
                _ => self.mode = Mode::Full(vec![record]),
            },
            Mode::Full(records) => match soa {
                Some(serial) if serial == new_serial => self.done = true,
                _ => records.push(record),
            },
            Mode::Incremental { sequences, adding } => {
                let (deleted, added) = sequences.last_mut().expect("a sequence is open");
                match (soa, *adding) {
                    (Some(_), false) => {
                        added.push(record);
                        *adding = true;
                    }
                    (Some(serial), true)
                        if serial == new_serial
                            && added.first().and_then(|r| serial_of(&r.data)) == Some(new_serial) =>
                    {
                        self.done = true;
                    }
                    (Some(_), true) => {
                        sequences.push((vec![record], Vec::new()));
                        *adding = false;
                    }
                    (None, false) => deleted.push(record),
                    (None, true) => added.push(record),
                }
            }
        }
        Ok(())
    }

    /// The zone after the answer, from `current` for a difference.
    pub(super) fn result(self, current: &[ZoneRecord]) -> Result<(Vec<ZoneRecord>, &'static str), String> {
        let first = self.first.ok_or("an empty transfer")?;
        match self.mode {
            Mode::Unknown => Ok((current.to_vec(), "IXFR")),
            Mode::Full(mut records) => {
                records.insert(0, first);
                Ok((records, "AXFR"))
            }
            Mode::Incremental { sequences, .. } => {
                let mut zone = current.to_vec();
                for (deleted, added) in sequences {
                    for gone in deleted {
                        // RFC 1995 §4: a record is deleted whatever its TTL.
                        match zone.iter().position(|r| r.owner == gone.owner && r.data == gone.data) {
                            Some(i) => {
                                zone.remove(i);
                            }
                            None => {
                                return Err(format!(
                                    "the IXFR deletes {}. {} that the copy does not hold",
                                    gone.owner,
                                    gone.data.rtype()
                                ));
                            }
                        }
                    }
                    zone.extend(added);
                }
                Ok((zone, "IXFR"))
            }
        }
    }
}

pub(super) fn serial_of(data: &RData) -> Option<u32> {
    match data {
        RData::Soa { serial, .. } => Some(*serial),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn soa(serial: u32) -> ZoneRecord {
        let data = RData::Soa {
            mname: Name::literal("ns1.example.org"),
            rname: Name::literal("hostmaster.example.org"),
            serial,
            refresh: 60,
            retry: 10,
            expire: 600,
            minimum: 30,
        };
        ZoneRecord { owner: Name::literal("example.org"), ttl: 300, data }
    }

    fn a(owner: &str, last: u8) -> ZoneRecord {
        ZoneRecord { owner: Name::parse(owner).unwrap(), ttl: 60, data: RData::A([192, 0, 2, last].into()) }
    }

    fn read(held: Option<u32>, records: Vec<ZoneRecord>, current: &[ZoneRecord]) -> (Vec<ZoneRecord>, &'static str) {
        let mut reader = TransferReader::new(held);
        for record in records {
            assert!(!reader.done(), "read past the end");
            reader.push(record).unwrap();
        }
        assert!(reader.done(), "the answer is complete");
        reader.result(current).unwrap()
    }

    #[test]
    fn an_axfr_is_the_records_between_its_two_soas() {
        let (zone, kind) = read(None, vec![soa(3), a("www.example.org", 1), a("db.example.org", 2), soa(3)], &[]);
        assert_eq!(kind, "AXFR");
        assert_eq!(zone, [soa(3), a("www.example.org", 1), a("db.example.org", 2)]);
    }

    #[test]
    fn an_ixfr_of_two_differences_applies_both_in_order() {
        // RFC 1995 §7's shape: new SOA, then (old SOA, deleted, new SOA, added) per step.
        let current = [soa(1), a("www.example.org", 1), a("db.example.org", 9)];
        let answer = vec![
            soa(3),
            soa(1),
            a("www.example.org", 1),
            soa(2),
            a("www.example.org", 2),
            soa(2),
            a("www.example.org", 2),
            soa(3),
            a("www.example.org", 3),
            soa(3),
        ];
        let (zone, kind) = read(Some(1), answer, &current);
        assert_eq!(kind, "IXFR");
        assert_eq!(zone, [a("db.example.org", 9), soa(3), a("www.example.org", 3)]);
    }

    #[test]
    fn an_ixfr_answered_with_the_whole_zone_is_read_as_one() {
        let (zone, kind) = read(Some(1), vec![soa(3), a("www.example.org", 3), soa(3)], &[soa(1)]);
        assert_eq!((zone, kind), (vec![soa(3), a("www.example.org", 3)], "AXFR"));
    }

    #[test]
    fn a_difference_deleting_what_the_copy_lacks_is_an_error() {
        let mut reader = TransferReader::new(Some(1));
        for r in [soa(2), soa(1), a("gone.example.org", 7), soa(2), soa(2)] {
            reader.push(r).unwrap();
        }
        assert!(reader.result(&[soa(1)]).unwrap_err().contains("gone.example.org"));
        let mut reader = TransferReader::new(None);
        assert!(reader.push(a("www.example.org", 1)).unwrap_err().contains("does not start with an SOA"));
    }
}
