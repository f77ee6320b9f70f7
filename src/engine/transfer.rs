//! Zone transfer out over TCP (AXFR, RFC 5936; IXFR, RFC 1995): which rule admits a
//! secondary, and the messages that carry the zone as that rule's line sees it: the
//! view's recorded version ([`super::versions`]), whole or as the difference from the
//! secondary's version. Pure: the TCP connection in `serve` writes the messages and logs
//! the outcome.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use super::answer::Rcode;
use super::line::NodeHealth;
use super::sign::cache::SignatureCache;
use super::snapshot::Snapshot;
use super::versions::{Since, Version};
use super::zone::Content;
use crate::rdata::{RData, RecordType};
use crate::wire::decode::{self, Reject};
use crate::wire::encode::{self, CLASS_IN};
use crate::wire::tsig::{self, Signer, TsigError};

/// Most octets of records per message: well under the 65,535 of a TCP message (RFC 5936
/// §2.2 lets a server split a zone over as many messages as it likes).
pub const MESSAGE_BUDGET: usize = 16 * 1024;

/// What a transfer query got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The messages to send, in order.
    pub messages: Vec<Vec<u8>>,
    /// AXFR or IXFR, as asked.
    pub qtype: RecordType,
    /// The zone asked for (normalized), when the question could be read.
    pub zone: String,
    /// The rule that admitted it and the line whose view was sent, by name; `None`:
    /// refused.
    pub granted: Option<(Box<str>, Box<str>)>,
    /// The TSIG key the request was signed with and that signs the answer, if any.
    pub key: Option<Box<str>>,
    /// Why the request's TSIG was rejected, if it was (the answer is NOTAUTH).
    pub tsig_error: Option<TsigError>,
    /// Records sent (the SOA counted each time it is sent).
    pub records: usize,
    /// The serial sent (the view's current one), when granted.
    pub serial: Option<u32>,
    /// What was sent, when granted.
    pub kind: Option<Kind>,
}

/// What a granted transfer sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The whole zone (an AXFR, or an IXFR from an unknown or too old serial).
    Full,
    /// The differences since the secondary's serial `from` (RFC 1995 §4).
    Incremental {
        /// The serial the secondary held.
        from: u32,
    },
    /// The current SOA alone: the secondary is up to date (RFC 1995 §2).
    UpToDate,
}

/// Answers a transfer query from `peer` at `now` (seconds since the Unix epoch), or
/// `None` when `packet` is not an AXFR or IXFR query of class IN (it then goes the
/// ordinary way). A signed request is checked first (RFC 8945 §5.2: an unknown key or a
/// bad MAC gets NOTAUTH with an unsigned TSIG, a bad time NOTAUTH with a signed one); then
/// the first rule whose addresses and key both admit it picks the view. A zone we do not
/// serve, or a request no rule admits, gets REFUSED and nothing of the zone (RFC 5936 §6:
/// access is the server's policy). Every answer to a signed request is signed, each
/// message chained to the one before (RFC 8945 §5.3.1).
pub fn transfer(
    snapshot: &Snapshot,
    packet: &[u8],
    peer: IpAddr,
    health: &impl NodeHealth,
    catch_up: impl FnOnce(&str, &str, Option<u32>) -> Option<Since>,
    signatures: &SignatureCache,
    now: u64,
) -> Option<Transfer> {
    // Most TCP queries are no transfers: tell from the question alone.
    let asked = decode::question_type(packet).map(RecordType::from);
    if !matches!(asked, Some(RecordType::AXFR | RecordType::IXFR)) {
        return None;
    }
    let mut name_buf = crate::name::KeyBuf::new();
    let (query, _) = match decode::decode(packet, &mut name_buf) {
        Ok(q) => q,
        Err(Reject::Drop | Reject::FormErr(..) | Reject::NotImp(..)) => return None,
    };
    let qtype = RecordType::from(query.qtype);
    if query.qclass != CLASS_IN || !matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return None;
    }
    let zone_name = name_buf.as_str().to_string();
    let mut answer = Transfer {
        messages: Vec::new(),
        qtype,
        zone: zone_name.clone(),
        granted: None,
        key: None,
        tsig_error: None,
        records: 0,
        serial: None,
        kind: None,
    };
    let header_only = |rcode: Rcode| {
        let mut out = Vec::new();
        encode::start(&mut out, query.header, Some(query.question), false, rcode.code());
        out
    };
    // RFC 8945 §5.2: the signature first.
    let tsig = query.tsig_start.and_then(|start| tsig::read(packet, start));
    if query.tsig_start.is_some() && tsig.is_none() {
        answer.messages.push(header_only(Rcode::FormErr));
        return Some(answer);
    }
    let mut signer = None;
    let mut signed_with = None;
    if let Some(t) = &tsig {
        match tsig::verify(packet, t, &snapshot.keys, now) {
            Ok(key) => {
                let index = snapshot.keys.iter().position(|k| std::ptr::eq(k, key)).map(|i| i as u32);
                signed_with = index;
                answer.key = Some(key.name.clone());
                signer = Some(Signer::new(key, t.mac, query.header.id, now));
            }
            Err(error) => {
                answer.tsig_error = Some(error);
                let mut out = header_only(Rcode::NotAuth);
                tsig::append_failure(&mut out, t, error, &snapshot.keys, now);
                answer.messages.push(out);
                return Some(answer);
            }
        }
    }
    let refuse = |mut answer: Transfer, signer: Option<Signer<'_>>| {
        let mut out = header_only(Rcode::Refused);
        if let Some(mut s) = signer {
            s.sign(&mut out, None, &[]);
        }
        answer.messages.push(out);
        Some(answer)
    };
    // RFC 5936 §2.1: the question names the zone's apex.
    let Some(index) = snapshot.zones.iter().position(|z| *z.origin == *zone_name) else {
        return refuse(answer, signer);
    };
    let Some(rule) = snapshot.transfers.iter().find(|r| r.admits(peer, signed_with, index as u32)) else {
        return refuse(answer, signer);
    };
    let zone = &snapshot.zones[index];
    if zone.unavailable.is_some() {
        // Nothing to send yet: a secondary zone without data (awaiting or expired).
        return refuse(answer, signer);
    }
    let line_name = snapshot.lines.name(rule.line);
    // RFC 1995 §3: an IXFR query carries the secondary's SOA in its authority section.
    let held = if qtype == RecordType::IXFR { decode::ixfr_serial(packet) } else { None };
    // The recorded version of the view; without one (no server looking at versions),
    // the view now, with the rules' serial.
    let since = catch_up(&zone.origin, line_name, held).unwrap_or_else(|| {
        let Content::Static(soa) = &zone.soa.content else { unreachable!("SOA is static") };
        let serial = match soa[0] {
            RData::Soa { serial, .. } => serial,
            _ => unreachable!("SOA set holds an SOA"),
        };
        let mut version = Version::of(snapshot, zone, rule.line, health, serial);
        version.sign(zone, signatures, now);
        Since::Full(Arc::new(version))
    });
    let (records, kind): (Vec<&[u8]>, _) = match &since {
        // RFC 1995 §2: up to date, the current SOA alone.
        Since::UpToDate(current) => (vec![&current.soa], Kind::UpToDate),
        // RFC 1995 §4: the current SOA, then each difference sequence (the old SOA, the
        // records deleted, the new SOA, the records added), then the current SOA again.
        // One sequence from the secondary's version to ours: the journal keeps whole
        // versions, so the difference is condensed.
        Since::Diff { from, to } => {
            let old: HashSet<&[u8]> = from.records.iter().map(|r| &r[..]).collect();
            let new: HashSet<&[u8]> = to.records.iter().map(|r| &r[..]).collect();
            let deleted = from.records.iter().map(|r| &r[..]).filter(|r| !new.contains(r));
            let added = to.records.iter().map(|r| &r[..]).filter(|r| !old.contains(r));
            let mut list: Vec<&[u8]> = vec![&to.soa, &from.soa];
            list.extend(deleted);
            list.push(&to.soa);
            list.extend(added);
            list.push(&to.soa);
            (list, Kind::Incremental { from: from.serial })
        }
        // RFC 5936 §2.2 (and RFC 1995 §4 for an IXFR answered in full): the SOA opens
        // and closes the zone.
        Since::Full(current) => {
            let mut list: Vec<&[u8]> = Vec::with_capacity(current.records.len() + 2);
            list.push(&current.soa);
            list.extend(current.records.iter().map(|r| &r[..]));
            list.push(&current.soa);
            (list, Kind::Full)
        }
    };
    let mut current = Vec::new();
    let mut count: u16 = 0;
    let mut finish = |current: &mut Vec<u8>, count: u16, messages: &mut Vec<Vec<u8>>| {
        encode::set_counts(current, count, 0, 0);
        if let Some(s) = signer.as_mut() {
            s.sign(current, None, &[]);
        }
        messages.push(std::mem::take(current));
    };
    for r in &records {
        if count == 0 {
            // RFC 5936 §2.2.1: each message echoes the query's ID; the question may be
            // repeated in every message, as we do.
            encode::start(&mut current, query.header, Some(query.question), true, Rcode::NoError.code());
        }
        current.extend_from_slice(r);
        count += 1;
        if current.len() >= MESSAGE_BUDGET || count == u16::MAX - 1 {
            finish(&mut current, count, &mut answer.messages);
            count = 0;
        }
    }
    if count > 0 {
        finish(&mut current, count, &mut answer.messages);
    }
    answer.serial = Some(match &since {
        Since::UpToDate(v) | Since::Full(v) | Since::Diff { to: v, .. } => v.serial,
    });
    answer.kind = Some(kind);
    answer.records = records.len();
    answer.granted = Some((rule.name.clone(), line_name.into()));
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::fixtures::{query, snapshot};
    use crate::engine::line::AllUp;

    const ZONE: &[u8] = b"\x012\x010\x03192\x07in-addr\x04arpa\x00";

    fn ask(peer: &str, qtype: RecordType) -> Option<Transfer> {
        let packet = query(ZONE, u16::from(qtype), 0);
        transfer(&snapshot(), &packet, peer.parse().unwrap(), &AllUp, |_, _, _| None, &SignatureCache::default(), 0)
    }

    #[test]
    fn an_axfr_sends_the_view_between_two_soas_with_its_classless_names() {
        let sent = ask("127.0.0.1", RecordType::AXFR).expect("a transfer query");
        assert_eq!(sent.granted.as_ref().map(|(rule, line)| (&**rule, &**line)), Some(("local", "default")));
        assert_eq!((sent.serial, sent.kind.is_some()), (Some(7), true), "the rules' serial: no versions followed");
        let message = &sent.messages[0];
        // RFC 5936 §2.2: the SOA first and last; the records between.
        let soa = [ZONE, b"\x00\x06\x00\x01"].concat();
        let at: Vec<usize> =
            message.windows(soa.len()).enumerate().filter(|(_, w)| *w == soa).map(|(i, _)| i).collect();
        assert_eq!(at.len(), 2, "two SOA records: {message:02x?}");
        assert_eq!(at[0], 12 + ZONE.len() + 4, "the first record is the SOA");
        assert!(message.windows(5).any(|w| w == b"\x040/25"), "the delegation at 0/25 is sent");
        assert_eq!(sent.records, 2 + 1 + 1 + 1 + 1, "SOA twice, the apex NS, the cut's NS, the CNAME, the TXT");
    }

    #[test]
    fn a_peer_no_rule_admits_is_refused_and_a_plain_query_is_no_transfer() {
        let refused = ask("192.0.2.9", RecordType::AXFR).expect("a transfer query");
        assert!(refused.granted.is_none());
        assert_eq!(refused.messages.len(), 1);
        assert_eq!(refused.messages[0][3] & 0x0f, Rcode::Refused.code() as u8);
        assert!(ask("127.0.0.1", RecordType::SOA).is_none(), "answered the ordinary way");
    }
}
