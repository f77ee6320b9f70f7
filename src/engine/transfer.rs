//! Zone transfer out (AXFR, RFC 5936): which rule admits a secondary, and the messages
//! that carry the zone as that rule's line sees it ([`super::export`]). Pure: the TCP
//! connection in `serve` writes the messages and logs the outcome.
//!
//! Not yet here (issue 9, later steps): TSIG (RFC 8945), incremental IXFR (RFC 1995; an
//! IXFR query gets the whole zone, as RFC 1995 §4 allows), NOTIFY (RFC 1996), and a serial
//! that follows the view's content.

use std::net::IpAddr;

use super::access::TransferRule;
use super::answer::Rcode;
use super::export::export;
use super::line::NodeHealth;
use super::snapshot::Snapshot;
use crate::rdata::{Owner, RecordRef, RecordType};
use crate::wire::decode::{self, Reject};
use crate::wire::encode::{self, CLASS_IN};

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
    /// Records sent (the SOA counted twice, as it is sent twice).
    pub records: usize,
}

/// Answers a transfer query from `peer`, or `None` when `packet` is not an AXFR or IXFR
/// query of class IN (it then goes the ordinary way). A zone we do not serve, or a peer no
/// rule admits for it, gets REFUSED and nothing of the zone (RFC 5936 §6: access to a
/// transfer is the server's policy; TSIG keys, RFC 8945, are a later step).
pub fn transfer(snapshot: &Snapshot, packet: &[u8], peer: IpAddr, health: &impl NodeHealth) -> Option<Transfer> {
    let mut name_buf = [0u8; 256];
    let (query, name_len) = match decode::decode(packet, &mut name_buf) {
        Ok(q) => q,
        Err(Reject::Drop | Reject::FormErr(..) | Reject::NotImp(..)) => return None,
    };
    let qtype = RecordType::from(query.qtype);
    if query.qclass != CLASS_IN || !matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return None;
    }
    let name = std::str::from_utf8(&name_buf[..name_len]).unwrap_or("").to_string();
    let refused = |zone: String| {
        let mut out = Vec::new();
        encode::start(&mut out, query.header, Some(query.question), false, Rcode::Refused.code());
        Transfer { messages: vec![out], qtype, zone, granted: None, records: 0 }
    };
    // RFC 5936 §2.1: the question names the zone's apex.
    let Some(index) = snapshot.zones.iter().position(|z| *z.origin == *name) else { return Some(refused(name)) };
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    let admits = |r: &&TransferRule| {
        r.allow.iter().any(|net| net.contains(&peer)) && r.zones.as_ref().is_none_or(|z| z.contains(&(index as u32)))
    };
    let Some(rule) = snapshot.transfers.iter().find(admits) else { return Some(refused(name)) };
    let zone = &snapshot.zones[index];
    let records = export(snapshot, zone, rule.line, health);
    // RFC 5936 §2.2: the zone's SOA opens and closes the transfer.
    let soa = *records.first().expect("an export starts with the SOA");
    let all = records.iter().chain(std::iter::once(&soa));
    let mut messages = Vec::new();
    let mut current = Vec::new();
    let mut count: u16 = 0;
    for r in all {
        if count == 0 {
            // RFC 5936 §2.2.1: each message echoes the query's ID; the question may be
            // repeated in every message, as we do.
            encode::start(&mut current, query.header, Some(query.question), true, Rcode::NoError.code());
        }
        encode::write_record(&mut current, &RecordRef { owner: Owner::Name(r.owner), ttl: r.ttl, data: r.data });
        count += 1;
        if current.len() >= MESSAGE_BUDGET || count == u16::MAX {
            encode::set_counts(&mut current, count, 0, 0);
            messages.push(std::mem::take(&mut current));
            count = 0;
        }
    }
    if count > 0 {
        encode::set_counts(&mut current, count, 0, 0);
        messages.push(current);
    }
    Some(Transfer {
        messages,
        qtype,
        zone: name,
        granted: Some((rule.name.clone(), snapshot.lines.name(rule.line).into())),
        records: records.len() + 1,
    })
}
