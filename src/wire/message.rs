//! Messages that other servers send us (answers to the checker, the secondary's
//! transfers, the parent's DS set), read with NLnet Labs' `domain` crate.
//!
//! The query path reads its own questions with [`super::decode`]; what other servers
//! write may hold any record type, compressed names anywhere (RFC 1035 §4.1.4) and
//! sections we never write, so it is read by the one outside DNS library linedns keeps.

use std::fmt;

use domain::base::ToName;
use domain::base::rdata::ComposeRecordData;
use domain::rdata::AllRecordData;

use crate::name::Name;
use crate::rdata::RecordType;

/// One record of an answer section, its names decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireRecord {
    /// The owner.
    pub owner: Name,
    /// The record's type.
    pub rtype: RecordType,
    /// The record's class (1 for IN).
    pub class: u16,
    /// The time to live in seconds.
    pub ttl: u32,
    /// The RDATA with every name in it uncompressed, as RFC 3597 §4 wants it kept.
    pub data: Vec<u8>,
}

/// The parts of a message the clients of other servers read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The response code with its EDNS extension (RFC 6891 §6.1.3).
    pub rcode: u16,
    /// The answer section in order.
    pub records: Vec<WireRecord>,
    /// The authority section in order (a referral's NS, a negative answer's SOA).
    pub authority: Vec<WireRecord>,
}

/// Why a message could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedMessage(String);

impl fmt::Display for MalformedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a malformed message: {}", self.0)
    }
}

impl std::error::Error for MalformedMessage {}

/// Reads the response code, the answer and the authority section of `message`.
pub fn answer(message: &[u8]) -> Result<Answer, MalformedMessage> {
    let bad = |what: &dyn fmt::Display| MalformedMessage(what.to_string());
    let message = domain::base::Message::from_octets(message).map_err(|_| bad(&"shorter than its header"))?;
    let rcode = message.opt_rcode().to_int();
    let answer = message.answer().map_err(|e| bad(&e))?;
    let records = section(answer)?;
    let authority = message.authority().map_err(|e| bad(&e))?;
    Ok(Answer { rcode, records, authority: section(authority)? })
}

/// The records of one section, names decompressed.
fn section(records: domain::base::message::RecordSection<'_, &[u8]>) -> Result<Vec<WireRecord>, MalformedMessage> {
    let bad = |what: &dyn fmt::Display| MalformedMessage(what.to_string());
    let mut out = Vec::new();
    for record in records {
        let record = record.map_err(|e| bad(&e))?;
        let parsed = record
            .into_record::<AllRecordData<_, domain::base::ParsedName<_>>>()
            .map_err(|e| bad(&e))?
            .ok_or_else(|| bad(&"a record of no type"))?;
        let mut owner = Vec::with_capacity(64);
        parsed.owner().compose(&mut owner).map_err(|_| bad(&"an owner name too long"))?;
        let (owner, _) = Name::from_wire(&owner).ok_or_else(|| bad(&"an owner name that is not a name"))?;
        let mut data = Vec::new();
        parsed.data().compose_rdata(&mut data).map_err(|_| bad(&"an RDATA too long"))?;
        out.push(WireRecord {
            owner,
            rtype: parsed.rtype(),
            class: parsed.class().to_int(),
            ttl: parsed.ttl().as_secs(),
            data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdata::RData;

    /// A response to `www.example.` A holding a compressed CNAME and an address.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x84, 0x03, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        // www.example. CNAME a.www.example. (the target compressed onto the question)
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'a', 0xc0, 12]);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 192, 0, 2, 1]);
        m
    }

    #[test]
    fn an_answer_is_read_with_its_names_decompressed() {
        let answer = answer(&response()).unwrap();
        assert_eq!(answer.rcode, 3);
        let [cname, a] = &answer.records[..] else { panic!("two records: {answer:?}") };
        assert_eq!((cname.owner.as_key(), cname.rtype, cname.ttl), ("www.example", RecordType::CNAME, 60));
        assert_eq!(
            RData::from_wire(cname.rtype, &cname.data).unwrap(),
            RData::Cname(crate::name::Name::literal("a.www.example"))
        );
        assert_eq!((a.rtype, a.class, a.ttl, &a.data[..]), (RecordType::A, 1, 256, &[192, 0, 2, 1][..]));
    }

    #[test]
    fn a_cut_message_is_an_error_that_says_so() {
        let whole = response();
        for end in [0, 5, 30, whole.len() - 1] {
            let error = answer(&whole[..end]).unwrap_err();
            assert!(error.to_string().starts_with("a malformed message: "), "{end}: {error}");
        }
    }
}
