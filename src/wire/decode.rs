//! Reading a query off the wire: header, the one question, and EDNS(0) with ECS.
//!
//! Nothing is allocated: the question name's key ([`crate::name`]) is written into a fixed buffer and the
//! question's bytes are kept as a slice so the response can echo them letter for letter
//! (the 0x20 case randomization resolvers use).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::name::KeyBuf;

/// RFC 1035 §4.1.1: the fixed header is 12 octets.
pub const HEADER_LEN: usize = 12;

/// RFC 6891 §6.1.1: the OPT pseudo-RR type.
pub const TYPE_OPT: u16 = 41;
/// RFC 8945 §4.2: TYPE TSIG.
pub const TYPE_TSIG: u16 = 250;

/// RFC 7871 §6: the ECS option code.
pub const OPTION_ECS: u16 = 8;

/// A query's header fields the response needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message ID, echoed.
    pub id: u16,
    /// Flags word as received (QR, opcode, RD, CD ...).
    pub flags: u16,
}

impl Header {
    /// QR bit: set in responses.
    pub fn is_response(self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The 4-bit opcode (0 = QUERY).
    pub fn opcode(self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
}

/// The ECS option of a query (RFC 7871 §6), checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecs {
    /// 1 = IPv4, 2 = IPv6.
    pub family: u16,
    /// SOURCE PREFIX-LENGTH.
    pub source_prefix: u8,
    /// The address, host bits zero.
    pub addr: IpAddr,
}

/// RFC 7873 §4: the COOKIE option code.
pub const OPTION_COOKIE: u16 = 10;

/// The COOKIE option of a query (RFC 7873 §4), its lengths checked: a client cookie of 8
/// octets, and a server cookie of 8 to 32 if the client has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// The client cookie.
    pub client: [u8; 8],
    /// The server cookie's octets (the first `server_len`).
    pub server: [u8; 32],
    /// Length of the server cookie: 0 (none) or 8..=32.
    pub server_len: u8,
}

impl Cookie {
    /// The server cookie the client sent, if any.
    pub fn server(&self) -> Option<&[u8]> {
        (self.server_len > 0).then(|| &self.server[..usize::from(self.server_len)])
    }
}

/// The EDNS(0) OPT record of a query (RFC 6891 §6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size (the OPT CLASS).
    pub udp_size: u16,
    /// EDNS version.
    pub version: u8,
    /// DNSSEC OK bit (RFC 3225), copied into the response.
    pub dnssec_ok: bool,
    /// The ECS option, if any.
    pub ecs: Option<Ecs>,
    /// The COOKIE option, if any.
    pub cookie: Option<Cookie>,
}

/// A decoded query.
#[derive(Debug)]
pub struct WireQuery<'p> {
    /// Header.
    pub header: Header,
    /// The question exactly as received (name, type, class), for the echo.
    pub question: &'p [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// EDNS, if the query had an OPT record.
    pub edns: Option<Edns>,
    /// Offset of the TSIG record, if the query is signed (RFC 8945 §5.1: the last record).
    pub tsig_start: Option<usize>,
}

/// Why a query cannot be answered normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Not worth an answer: shorter than a header, or a response (QR=1).
    Drop,
    /// FORMERR, with whatever of the query could be read for the response.
    FormErr(Header, Option<usize>),
    /// Opcode other than QUERY: NOTIMP.
    NotImp(Header, Option<usize>),
}

/// Reads a query, writing its name's key ([`crate::name`]) into `name_buf`. On success
/// returns the query and the key's length in `name_buf`.
///
/// RFC 1035 §4.1; RFC 6891 §6.1.1 (one OPT, owner root) and §7 (FORMERR on a malformed
/// OPT); RFC 7871 §6 and §7.2.1 (malformed ECS → FORMERR).
pub fn decode<'p>(packet: &'p [u8], name_buf: &mut KeyBuf) -> Result<(WireQuery<'p>, usize), Reject> {
    if packet.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let header =
        Header { id: u16::from_be_bytes([packet[0], packet[1]]), flags: u16::from_be_bytes([packet[2], packet[3]]) };
    if header.is_response() {
        return Err(Reject::Drop);
    }
    let count = |i: usize| u16::from_be_bytes([packet[4 + 2 * i], packet[5 + 2 * i]]);
    let (qdcount, ancount, nscount, arcount) = (count(0), count(1), count(2), count(3));
    // The question is read first so that NOTIMP and FORMERR can echo it when they may.
    let parsed = if qdcount == 1 { read_question(packet, name_buf) } else { None };
    let question_end = parsed.map(|(end, _)| end);
    if header.opcode() != 0 {
        return Err(Reject::NotImp(header, question_end));
    }
    // RFC 1035 allows QDCOUNT > 1 but no server answers it; RFC 9619 makes it FORMERR.
    let Some((question_end, name_len)) = parsed.filter(|_| qdcount == 1) else {
        return Err(Reject::FormErr(header, None));
    };
    let formerr = Reject::FormErr(header, Some(question_end));
    let qtype = u16::from_be_bytes([packet[question_end - 4], packet[question_end - 3]]);
    let qclass = u16::from_be_bytes([packet[question_end - 2], packet[question_end - 1]]);

    let mut pos = question_end;
    for _ in 0..(u32::from(ancount) + u32::from(nscount)) {
        pos = skip_record(packet, pos).ok_or(formerr)?.next;
    }
    let mut edns = None;
    let mut tsig_start = None;
    for i in 0..arcount {
        let rr = skip_record(packet, pos).ok_or(formerr)?;
        if rr.rtype == TYPE_TSIG {
            // RFC 8945 §5.1: a TSIG anywhere but last is FORMERR.
            if i + 1 != arcount {
                return Err(formerr);
            }
            tsig_start = Some(rr.name_start);
        }
        if rr.rtype == TYPE_OPT {
            // RFC 6891 §6.1.1: "If a query message with more than one OPT RR is received,
            // a FORMERR (RCODE=1) MUST be returned." Its owner MUST be the root.
            if edns.is_some() || rr.name_start + 1 != rr.name_end || packet[rr.name_start] != 0 {
                return Err(formerr);
            }
            edns = Some(read_opt(packet, &rr).ok_or(formerr)?);
        }
        pos = rr.next;
    }
    let question = &packet[HEADER_LEN..question_end];
    Ok((WireQuery { header, question, qtype, qclass, edns, tsig_start }, name_len))
}

/// The QTYPE of a one-question query, read without decoding the rest of the message:
/// for a caller that only wants to know what kind of query it holds.
pub fn question_type(packet: &[u8]) -> Option<u16> {
    let (end, _) = only_question(packet, &mut KeyBuf::new())?;
    Some(u16::from_be_bytes([packet[end - 4], packet[end - 3]]))
}

/// The question of a message with exactly one ([`read_question`]).
fn only_question(packet: &[u8], name_buf: &mut KeyBuf) -> Option<(usize, usize)> {
    let qdcount = u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]);
    read_question(packet, name_buf).filter(|_| qdcount == 1)
}

/// Where the records after a message's question start, and the header's four counts
/// (QD, AN, NS, AR): for the readers below that look past the question.
fn after_question(packet: &[u8]) -> Option<(usize, [u16; 4])> {
    packet.get(..HEADER_LEN)?;
    let counts = std::array::from_fn(|i| u16::from_be_bytes([packet[4 + 2 * i], packet[5 + 2 * i]]));
    let (end, _) = read_question(packet, &mut KeyBuf::new())?;
    Some((end, counts))
}

/// The serial of the SOA in an IXFR query's authority section (RFC 1995 §3: "the
/// authority section ... contains the SOA record of client's version of the zone"), or
/// `None` if it has none.
pub fn ixfr_serial(packet: &[u8]) -> Option<u32> {
    let (mut pos, [_, ancount, nscount, _]) = after_question(packet)?;
    for _ in 0..ancount {
        pos = skip_record(packet, pos)?.next;
    }
    if nscount == 0 {
        return None;
    }
    let soa = skip_record(packet, pos)?;
    // SERIAL is the first of the five 32-bit fields that end an SOA's RDATA.
    let serial_at = soa.next.checked_sub(20).filter(|&at| at >= soa.rdata_start)?;
    (soa.rtype == 6).then(|| u32::from_be_bytes(packet[serial_at..serial_at + 4].try_into().expect("4 octets")))
}

/// The ECS address and source prefix length of a query, read without the checks of
/// [`decode`]: a hint for a host that prefetches before it answers (only `decode`
/// decides what the query gets).
pub fn ecs_hint(packet: &[u8]) -> Option<(IpAddr, u8)> {
    ecs_seen(packet).map(|e| (e.address, e.source_prefix))
}

/// The ECS option of any message (a query's, or an answer's with its scope), read
/// without the checks of [`decode`] (RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE
/// PREFIX-LENGTH, ADDRESS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcsSeen {
    /// The address, its octets past the source prefix zero.
    pub address: IpAddr,
    /// SOURCE PREFIX-LENGTH.
    pub source_prefix: u8,
    /// SCOPE PREFIX-LENGTH (0 in a query).
    pub scope_prefix: u8,
}

/// The message's ECS option, if it has one that reads (see [`EcsSeen`]).
pub fn ecs_seen(packet: &[u8]) -> Option<EcsSeen> {
    let (mut pos, [_, ancount, nscount, arcount]) = after_question(packet)?;
    for _ in 0..u32::from(ancount) + u32::from(nscount) {
        pos = skip_record(packet, pos)?.next;
    }
    for _ in 0..arcount {
        let rr = skip_record(packet, pos)?;
        if rr.rtype == TYPE_OPT {
            let mut options = &packet[rr.rdata_start..rr.next];
            while options.len() >= 4 {
                let code = u16::from_be_bytes([options[0], options[1]]);
                let len = usize::from(u16::from_be_bytes([options[2], options[3]]));
                let body = options.get(4..4 + len)?;
                if code == OPTION_ECS && body.len() >= 4 {
                    let (family, source_prefix, scope_prefix) =
                        (u16::from_be_bytes([body[0], body[1]]), body[2], body[3]);
                    let mut octets = [0u8; 16];
                    let given = &body[4..];
                    let address = match family {
                        1 if given.len() <= 4 => {
                            octets[..given.len()].copy_from_slice(given);
                            IpAddr::from([octets[0], octets[1], octets[2], octets[3]])
                        }
                        2 if given.len() <= 16 => {
                            octets[..given.len()].copy_from_slice(given);
                            IpAddr::from(octets)
                        }
                        _ => return None,
                    };
                    return Some(EcsSeen { address, source_prefix, scope_prefix });
                }
                options = &options[4 + len..];
            }
        }
        pos = rr.next;
    }
    None
}

/// Where the last record of any message starts, and its type (RFC 8945 §5.1: a TSIG is
/// the last record): `None` for a message with no record or one that does not parse.
pub fn last_record(packet: &[u8]) -> Option<(usize, u16)> {
    let count = |i: usize| u16::from_be_bytes([packet[4 + 2 * i], packet[5 + 2 * i]]);
    packet.get(..HEADER_LEN)?;
    let records = u32::from(count(1)) + u32::from(count(2)) + u32::from(count(3));
    let mut pos = HEADER_LEN;
    for _ in 0..count(0) {
        pos = skip_record_name(packet, pos)?.checked_add(4).filter(|&p| p <= packet.len())?;
    }
    let mut last = None;
    for _ in 0..records {
        let rr = skip_record(packet, pos)?;
        last = Some((rr.name_start, rr.rtype));
        pos = rr.next;
    }
    last
}

/// The offset after a (possibly compressed) name at `pos`.
fn skip_record_name(packet: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let b = *packet.get(pos)?;
        match b & 0xc0 {
            0x00 if b == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(b),
            0xc0 => {
                packet.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// The question's name (its key, [`crate::name`]) and where the question ends, read from
/// any message with one question, whatever its opcode: for a NOTIFY (RFC 1996 §3.7: the
/// QNAME is the zone).
pub fn question(packet: &[u8]) -> Option<(String, usize)> {
    let mut name = KeyBuf::new();
    let (end, _) = only_question(packet, &mut name)?;
    Some((name.as_str().to_string(), end))
}

/// Reads the question at offset 12: an uncompressed name (nothing precedes it to point
/// at), then type and class. Returns the end offset and the length of the name's key.
fn read_question(packet: &[u8], name_buf: &mut KeyBuf) -> Option<(usize, usize)> {
    name_buf.clear();
    let mut pos = HEADER_LEN;
    loop {
        let label = usize::from(*packet.get(pos)?);
        pos += 1;
        if label == 0 {
            break;
        }
        // RFC 1035 §4.1.4: 0b11 marks a pointer, 0b01/0b10 are reserved: none belong here.
        if label > 63 {
            return None;
        }
        let bytes = packet.get(pos..pos + label)?;
        // RFC 1035 §3.1: 255 octets on the wire.
        if pos + label - HEADER_LEN >= crate::name::MAX_WIRE_LEN {
            return None;
        }
        if !name_buf.is_empty() {
            name_buf.push(b'.');
        }
        // Any octet is a name's octet (an RFC 2317 '/', an escaped dot): as the key
        // writes it.
        bytes.iter().for_each(|&b| name_buf.push_octet(b));
        pos += label;
    }
    packet.get(pos..pos + 4)?;
    Some((pos + 4, name_buf.len()))
}

/// A resource record located in a packet.
struct Located {
    name_start: usize,
    name_end: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata_start: usize,
    next: usize,
}

/// Steps over one resource record (names may be compressed), checking every length.
fn skip_record(packet: &[u8], start: usize) -> Option<Located> {
    let pos = skip_record_name(packet, start)?;
    let name_end = pos;
    let fixed = packet.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_start = pos + 10;
    packet.get(rdata_start..rdata_start + rdlength)?;
    Some(Located { name_start: start, name_end, rtype, class, ttl, rdata_start, next: rdata_start + rdlength })
}

/// Whether a query that is answered with an error carried an OPT record, and its DO bit:
/// RFC 6891 §7, "If an OPT record is present in a received request, compliant responders
/// MUST include an OPT record in their respective responses", a FORMERR included (RFC
/// 7871 §7.2.1's for a malformed ECS option, RFC 6891 §6.1.1's for a second OPT).
/// Reads the records after the question (ending at `question_end`) as far as they can be
/// stepped over; `None` if no OPT record is found there.
pub fn opt_in_error(packet: &[u8], question_end: usize) -> Option<bool> {
    let (_, counts) = after_question(packet)?;
    let records = u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3]);
    let mut pos = question_end;
    for _ in 0..records {
        let rr = skip_record(packet, pos)?;
        if rr.rtype == TYPE_OPT {
            return Some(rr.ttl & 0x8000 != 0);
        }
        pos = rr.next;
    }
    None
}

/// Reads an OPT record's fields and options (RFC 6891 §6.1.2, §6.1.3).
fn read_opt(packet: &[u8], rr: &Located) -> Option<Edns> {
    let mut edns = Edns {
        udp_size: rr.class,
        version: (rr.ttl >> 16) as u8,
        dnssec_ok: rr.ttl & 0x8000 != 0,
        ecs: None,
        cookie: None,
    };
    let mut pos = rr.rdata_start;
    while pos < rr.next {
        let head = packet.get(pos..pos + 4).filter(|_| pos + 4 <= rr.next)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = packet.get(pos + 4..pos + 4 + len).filter(|_| pos + 4 + len <= rr.next)?;
        // RFC 6891 §6.1.2: "Any OPTION-CODE values not understood by a responder or
        // requestor MUST be ignored."
        if code == OPTION_ECS {
            if edns.ecs.is_some() {
                return None; // two ECS options: malformed
            }
            edns.ecs = Some(read_ecs(data)?);
        } else if code == OPTION_COOKIE {
            if edns.cookie.is_some() {
                return None; // two COOKIE options: malformed
            }
            edns.cookie = Some(read_cookie(data)?);
        }
        pos += 4 + len;
    }
    Some(edns)
}

/// RFC 7873 §5.2.2: "If the COOKIE option is too short to contain a Client Cookie, is
/// longer than the maximum length, or has a length between 9 and 15 bytes ... the server
/// MUST discard the request or send a FORMERR" (we send the FORMERR). Valid lengths: 8
/// (a client cookie alone) and 16 to 40.
fn read_cookie(data: &[u8]) -> Option<Cookie> {
    if !(data.len() == 8 || (16..=40).contains(&data.len())) {
        return None;
    }
    let mut cookie = Cookie { client: [0; 8], server: [0; 32], server_len: (data.len() - 8) as u8 };
    cookie.client.copy_from_slice(&data[..8]);
    cookie.server[..data.len() - 8].copy_from_slice(&data[8..]);
    Some(cookie)
}

/// RFC 7871 §6 and §7.2.1: FAMILY 1 or 2, SOURCE PREFIX-LENGTH within the family's bits,
/// exactly `ceil(SOURCE PREFIX-LENGTH / 8)` address octets, and no bit set beyond the
/// source prefix ("A query with a wrongly formatted option (e.g., an unknown FAMILY) MUST
/// be rejected and a FORMERR response MUST be returned"; for too many octets or set bits
/// beyond the prefix the server "SHOULD return FORMERR").
fn read_ecs(data: &[u8]) -> Option<Ecs> {
    let head = data.get(..4)?;
    let family = u16::from_be_bytes([head[0], head[1]]);
    let source_prefix = head[2];
    let address = &data[4..];
    let width: u8 = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    if source_prefix > width || address.len() != usize::from(source_prefix).div_ceil(8) {
        return None;
    }
    if let Some(&last) = address.last() {
        let used_bits = source_prefix - 8 * (address.len() as u8 - 1);
        if last & !(0xffu8 << (8 - used_bits)) != 0 {
            return None;
        }
    }
    let addr = if family == 1 {
        let mut octets = [0u8; 4];
        octets[..address.len()].copy_from_slice(address);
        IpAddr::V4(Ipv4Addr::from(octets))
    } else {
        let mut octets = [0u8; 16];
        octets[..address.len()].copy_from_slice(address);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    Some(Ecs { family, source_prefix, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecs(family: u16, source: u8, addr: &[u8]) -> Option<Ecs> {
        let mut data = family.to_be_bytes().to_vec();
        data.extend([source, 0]);
        data.extend(addr);
        read_ecs(&data)
    }

    #[test]
    fn ecs_checks() {
        assert_eq!(ecs(1, 24, &[198, 51, 100]).unwrap().addr, "198.51.100.0".parse::<IpAddr>().unwrap());
        assert!(ecs(1, 24, &[198, 51, 100, 0]).is_none(), "too many octets");
        assert!(ecs(1, 24, &[198, 51]).is_none(), "too few octets");
        assert!(ecs(1, 23, &[198, 51, 101]).is_none(), "host bit beyond /23");
        assert!(ecs(1, 23, &[198, 51, 100]).is_some());
        assert!(ecs(1, 33, &[1, 2, 3, 4, 5]).is_none());
        assert!(ecs(3, 0, &[]).is_none(), "unknown family");
        assert_eq!(ecs(2, 0, &[]).unwrap().source_prefix, 0);
        assert!(ecs(2, 56, &[0x24, 0x0e, 0, 0, 0, 0, 0]).is_some());
    }

    #[test]
    fn a_name_of_escaped_octets_longer_than_the_stack_part_is_read_whole() {
        // Four labels of 60 octets 0x01: 245 octets on the wire, a key of 4 × 240 + 3 bytes.
        let mut packet = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..4 {
            packet.push(60);
            packet.extend_from_slice(&[1u8; 60]);
        }
        packet.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut name = KeyBuf::new();
        let (query, len) = decode(&packet, &mut name).expect("a query");
        assert_eq!((len, query.qtype), (4 * 240 + 3, 1));
        assert!(name.as_str().starts_with("\\001\\001"));
        assert_eq!(crate::name::to_wire(name.as_str()), packet[12..packet.len() - 4]);
    }
}
