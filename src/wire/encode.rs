//! Writing a response: header, the echoed question, records, and the OPT record; and
//! the one query linedns sends itself (a DNS health probe).

use std::net::IpAddr;

use super::decode::{HEADER_LEN, Header, OPTION_ECS, TYPE_OPT};
use crate::rdata::{Owner, RData, RecordRef};

/// RFC 1035 §4.1.4: a pointer to offset 12, where the question name starts.
pub const POINTER_TO_QNAME: [u8; 2] = [0xc0, 0x0c];

/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class CH (CHAOS).
pub const CLASS_CH: u16 = 3;

/// Starts a response in `out`: header (counts patched later by [`set_counts`]) and the
/// question echoed byte for byte.
///
/// Flags: QR set; opcode, RD and CD copied from the query (RFC 1035 §4.1.1, RFC 4035
/// §3.1.6); AA as given; RA clear (no recursion here); the low 4 bits of `rcode`.
pub fn start(out: &mut Vec<u8>, query: Header, question: Option<&[u8]>, authoritative: bool, rcode: u16) {
    out.clear();
    let copied = query.flags & 0x7910; // opcode (0x7800), RD (0x0100), CD (0x0010)
    let flags = 0x8000 | copied | if authoritative { 0x0400 } else { 0 } | (rcode & 0x000f);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, u8::from(question.is_some()), 0, 0, 0, 0, 0, 0]);
    if let Some(q) = question {
        out.extend_from_slice(q);
    }
}

/// Writes a query into `out` (cleared first): header with `id`, no flags (RD clear: we
/// ask an authoritative server), one question `name` (normalized text) `qtype` IN.
pub fn query(out: &mut Vec<u8>, id: u16, name: &str, qtype: u16) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    write_name(out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
}

/// Sets ANCOUNT, NSCOUNT and ARCOUNT.
pub fn set_counts(out: &mut [u8], answers: u16, authority: u16, additional: u16) {
    out[6..8].copy_from_slice(&answers.to_be_bytes());
    out[8..10].copy_from_slice(&authority.to_be_bytes());
    out[10..12].copy_from_slice(&additional.to_be_bytes());
}

/// Sets the TC bit (RFC 1035 §4.1.1; RFC 2181 §9).
pub fn set_truncated(out: &mut [u8]) {
    out[2] |= 0x02;
}

/// Writes a name (its key, [`crate::name`]; the root as "") as uncompressed labels.
pub fn write_name(out: &mut Vec<u8>, name: &str) {
    crate::name::write_wire(name, out);
}

/// Writes a resource record of class IN. An owner equal to the question name is a
/// pointer to it, so the question's letter case is what the client sees.
pub fn write_record(out: &mut Vec<u8>, record: &RecordRef<'_>) {
    match record.owner {
        Owner::Query => out.extend_from_slice(&POINTER_TO_QNAME),
        Owner::Name(name) => write_name(out, name),
    }
    write_rr_body(out, u16::from(record.data.rtype()), CLASS_IN, record.ttl, |out| write_rdata(out, record.data));
}

/// Type, class, TTL, then RDLENGTH and the RDATA `body` writes.
pub fn write_rr_body(out: &mut Vec<u8>, rtype: u16, class: u16, ttl: u32, body: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    body(out);
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

/// Character-strings (RFC 1035 §3.3): a text in pieces of at most 255 octets.
pub fn write_text(out: &mut Vec<u8>, text: &[u8]) {
    if text.is_empty() {
        out.push(0);
    }
    for piece in text.chunks(255) {
        out.push(piece.len() as u8);
        out.extend_from_slice(piece);
    }
}

/// `data` as another server's answer gives it back: its wire octets read as
/// [`RData::from_wire`] reads them (a TXT written in the rules, read back as the other
/// types are), so that what the rules hold and what a server answers compare.
pub fn as_read_back(data: &RData) -> RData {
    let mut wire = Vec::new();
    write_rdata(&mut wire, data);
    RData::from_wire(data.rtype(), &wire).unwrap_or_else(|_| data.clone())
}

/// Writes the RDATA of `data`, names uncompressed.
pub fn write_rdata(out: &mut Vec<u8>, data: &RData) {
    match data {
        RData::A(a) => out.extend_from_slice(&a.octets()),
        RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
        RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => write_name(out, n),
        RData::Mx { preference, exchange } => {
            out.extend_from_slice(&preference.to_be_bytes());
            write_name(out, exchange);
        }
        RData::Txt(t) => write_text(out, t.as_bytes()),
        RData::Srv { priority, weight, port, target } => {
            for v in [priority, weight, port] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            write_name(out, target);
        }
        RData::Caa { flags, tag, value } => {
            out.push(*flags);
            out.push(tag.len() as u8);
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
            write_name(out, mname);
            write_name(out, rname);
            for v in [serial, refresh, retry, expire, minimum] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        RData::Other { data, .. } => out.extend_from_slice(data),
    }
}

/// The ECS option of a response: RFC 7871 §7.2.1, "The FAMILY, SOURCE PREFIX-LENGTH, and
/// ADDRESS in the response MUST match those in the query", with our SCOPE PREFIX-LENGTH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcsEcho {
    /// FAMILY as received.
    pub family: u16,
    /// SOURCE PREFIX-LENGTH as received.
    pub source_prefix: u8,
    /// SCOPE PREFIX-LENGTH.
    pub scope_prefix: u8,
    /// ADDRESS as received (host bits zero).
    pub addr: IpAddr,
}

/// Writes the OPT record (RFC 6891 §6.1.2): owner root, CLASS = our UDP payload size,
/// TTL = extended RCODE (upper 8 of 12 bits), version 0, DO copied (RFC 3225 §3).
pub fn write_opt(out: &mut Vec<u8>, udp_payload: u16, rcode: u16, dnssec_ok: bool, ecs: Option<EcsEcho>) {
    out.push(0);
    let ttl = (u32::from(rcode >> 4) << 24) | if dnssec_ok { 0x8000 } else { 0 };
    write_rr_body(out, TYPE_OPT, udp_payload, ttl, |out| {
        if let Some(e) = ecs {
            let mut buf = [0u8; 16];
            let octets: &[u8] = match e.addr {
                IpAddr::V4(a) => {
                    buf[..4].copy_from_slice(&a.octets());
                    &buf[..4]
                }
                IpAddr::V6(a) => {
                    buf = a.octets();
                    &buf
                }
            };
            let used = usize::from(e.source_prefix).div_ceil(8).min(octets.len());
            out.extend_from_slice(&OPTION_ECS.to_be_bytes());
            out.extend_from_slice(&((4 + used) as u16).to_be_bytes());
            out.extend_from_slice(&e.family.to_be_bytes());
            out.push(e.source_prefix);
            out.push(e.scope_prefix);
            out.extend_from_slice(&octets[..used]);
        }
    });
}

/// Appends an option to the OPT record that starts at `opt_at` and ends `out` (RFC 6891
/// §6.1.2: OPTION-CODE, OPTION-LENGTH, OPTION-DATA), growing its RDLENGTH.
pub fn append_option(out: &mut Vec<u8>, opt_at: usize, code: u16, data: &[u8]) {
    let at = opt_at + OPT_RDLENGTH;
    let rdlength = u16::from_be_bytes([out[at], out[at + 1]]) + 4 + data.len() as u16;
    out[at..at + 2].copy_from_slice(&rdlength.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// Cuts the answer `out` down to its header and question (ending at `question_end`) and
/// its OPT record (at `opt_at`, the last record, if there is one), with no other record:
/// what a truncated answer (TC=1) or an error keeps.
pub fn keep_only_opt(out: &mut Vec<u8>, question_end: usize, opt_at: Option<usize>) {
    let additional = match opt_at {
        Some(at) => {
            let len = out.len() - at;
            out.copy_within(at.., question_end);
            out.truncate(question_end + len);
            1
        }
        None => {
            out.truncate(question_end);
            0
        }
    };
    set_counts(out, 0, 0, additional);
}

/// Sets the 12-bit RCODE of an answer: the low 4 bits in the header, the upper 8 in the
/// OPT record at `opt_at` (RFC 6891 §6.1.3).
pub fn set_rcode(out: &mut [u8], opt_at: usize, rcode: u16) {
    out[3] = (out[3] & 0xf0) | (rcode & 0x0f) as u8;
    out[opt_at + OPT_EXTENDED_RCODE] = (rcode >> 4) as u8;
}

/// Offset of RDLENGTH in an OPT record (root owner, TYPE, CLASS, TTL).
const OPT_RDLENGTH: usize = 9;

/// Offset of the EXTENDED-RCODE octet (the TTL's first) in an OPT record.
const OPT_EXTENDED_RCODE: usize = 5;

/// Length of header plus question in a response started with `question`.
pub fn header_and_question_len(question: &[u8]) -> usize {
    HEADER_LEN + question.len()
}
