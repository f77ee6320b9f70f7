//! Zone transfer out (AXFR, RFC 5936): which rule admits a secondary, and the messages
//! that carry the zone as that rule's line sees it ([`super::export`]). Pure: the TCP
//! connection in `serve` writes the messages and logs the outcome.
//!
//! Not yet here (issue 9, later steps): incremental IXFR (RFC 1995; an IXFR query gets
//! the whole zone, as RFC 1995 §4 allows), NOTIFY (RFC 1996), and a serial that follows
//! the view's content.

use std::net::IpAddr;

use super::access::TransferRule;
use super::answer::Rcode;
use super::export::export;
use super::line::NodeHealth;
use super::snapshot::Snapshot;
use crate::rdata::{Owner, RecordRef, RecordType};
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
    /// Records sent (the SOA counted twice, as it is sent twice).
    pub records: usize,
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
    now: u64,
) -> Option<Transfer> {
    // Most TCP queries are no transfers: tell from the question alone.
    let asked = decode::question_type(packet).map(RecordType::from);
    if !matches!(asked, Some(RecordType::AXFR | RecordType::IXFR)) {
        return None;
    }
    let mut name_buf = [0u8; 256];
    let (query, name_len) = match decode::decode(packet, &mut name_buf) {
        Ok(q) => q,
        Err(Reject::Drop | Reject::FormErr(..) | Reject::NotImp(..)) => return None,
    };
    let qtype = RecordType::from(query.qtype);
    if query.qclass != CLASS_IN || !matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return None;
    }
    let zone_name = std::str::from_utf8(&name_buf[..name_len]).unwrap_or("").to_string();
    let mut answer = Transfer {
        messages: Vec::new(),
        qtype,
        zone: zone_name.clone(),
        granted: None,
        key: None,
        tsig_error: None,
        records: 0,
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
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    let admits = |r: &&TransferRule| {
        (r.allow.is_empty() || r.allow.iter().any(|net| net.contains(&peer)))
            && r.key.is_none_or(|k| signed_with == Some(k))
            && r.zones.as_ref().is_none_or(|z| z.contains(&(index as u32)))
    };
    let Some(rule) = snapshot.transfers.iter().find(admits) else { return refuse(answer, signer) };
    let zone = &snapshot.zones[index];
    let records = export(snapshot, zone, rule.line, health);
    // RFC 5936 §2.2: the zone's SOA opens and closes the transfer.
    let soa = *records.first().expect("an export starts with the SOA");
    let all = records.iter().chain(std::iter::once(&soa));
    let mut current = Vec::new();
    let mut count: u16 = 0;
    let mut finish = |current: &mut Vec<u8>, count: u16, messages: &mut Vec<Vec<u8>>| {
        encode::set_counts(current, count, 0, 0);
        if let Some(s) = signer.as_mut() {
            s.sign(current, None, &[]);
        }
        messages.push(std::mem::take(current));
    };
    for r in all {
        if count == 0 {
            // RFC 5936 §2.2.1: each message echoes the query's ID; the question may be
            // repeated in every message, as we do.
            encode::start(&mut current, query.header, Some(query.question), true, Rcode::NoError.code());
        }
        encode::write_record(&mut current, &RecordRef { owner: Owner::Name(r.owner), ttl: r.ttl, data: r.data });
        count += 1;
        if current.len() >= MESSAGE_BUDGET || count == u16::MAX - 1 {
            finish(&mut current, count, &mut answer.messages);
            count = 0;
        }
    }
    if count > 0 {
        finish(&mut current, count, &mut answer.messages);
    }
    answer.granted = Some((rule.name.clone(), snapshot.lines.name(rule.line).into()));
    answer.records = records.len() + 1;
    Some(answer)
}
