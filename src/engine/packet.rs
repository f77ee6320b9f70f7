//! Bytes in, bytes out: one DNS message answered from a snapshot.
//!
//! [`respond`] never fails and never panics on any input: malformed queries get FORMERR
//! (or are dropped when not even a header can be read), everything else gets the
//! engine's answer encoded. Hosts that own their sockets call
//! [`crate::Engine::answer`], which counts what this answered.

use std::net::IpAddr;

use arc_swap::ArcSwap;

use super::answer::{Answer, Proof, Rcode, Varies};
use super::line::NodeHealth;
use super::notify;
use super::outcome::error_only;
pub use super::outcome::{Outcome, Reuse};
use super::query::{ClientInfo, Query, Transport};
use super::sign::answer::{AnswerSigner, Signing};
use super::snapshot::Snapshot;
use super::versions::{ServedSerials, set_soa_serial};
use crate::rdata::{Owner, RData, RecordRef, RecordType};
use crate::wire::decode::{self, Ecs, Reject, WireQuery};
use crate::wire::encode::{self, CLASS_CH, CLASS_IN, EcsEcho};
use crate::wire::tsig::{self, Signer};

/// RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 octets.
const CLASSIC_UDP_LIMIT: usize = 512;

/// Mixed into the zone's hash for the account of its wildcard's answers (so that it
/// differs from the apex's own).
const WILDCARD_ACCOUNT: u64 = 0x9e37_79b9_7f4a_7c15;

/// A hash of a lowercased name, for [`Outcome::name_hash`].
pub(super) fn name_hash(name: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    name.hash(&mut h);
    h.finish()
}

/// Answers `packet` from `snapshot` into `out` (cleared first); `None` when nothing
/// should be sent. `signing` gives what a DNSSEC answer is signed with (asked only for
/// a query with the DO bit; `None`: no clock, so no signatures).
#[allow(clippy::too_many_arguments)]
pub fn respond<'s>(
    snapshot: &'s Snapshot,
    packet: &[u8],
    peer: IpAddr,
    transport: Transport,
    health: &impl NodeHealth,
    serials: &ArcSwap<ServedSerials>,
    signing: &mut dyn FnMut() -> Option<Signing<'s>>,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let mut name_buf = crate::name::KeyBuf::new();
    let (query, _) = match decode::decode(packet, &mut name_buf) {
        Ok(q) => q,
        Err(Reject::Drop) => return None,
        Err(Reject::FormErr(header, question_end)) => {
            return Some(error_only(snapshot, out, packet, header, question_end, Rcode::FormErr));
        }
        // A host answers NOTIFY with [`notify`] before this is reached.
        Err(Reject::NotImp(header, _)) if header.opcode() == notify::OPCODE_NOTIFY => {
            return Some(notify::notify(snapshot, packet, peer, None, out).0);
        }
        Err(Reject::NotImp(header, question_end)) => {
            return Some(error_only(snapshot, out, packet, header, question_end, Rcode::NotImp));
        }
    };
    let settings = &snapshot.settings;
    let limit = size_limit(snapshot, &query, transport);
    // A signed query's answer gets a TSIG record about the size of the query's (same key,
    // algorithm and MAC length; BADTIME's Other Data adds 6): room is kept for it, so a
    // signed answer still fits the limit (RFC 8945 §5.3 signs the message as sent).
    let limit = match query.tsig_start {
        Some(start) if transport == Transport::Udp => limit.saturating_sub(packet.len() - start + 6),
        _ => limit,
    };
    if let Some(edns) = query.edns
        && edns.version > 0
    {
        // RFC 6891 §6.1.3: "If a responder does not implement the VERSION level of the
        // request, then it MUST respond with RCODE=BADVERS."
        let badvers = Rcode::BadVers.code();
        encode::start(out, query.header, Some(query.question), false, badvers);
        let opt_at = out.len();
        encode::write_opt(out, settings.udp_payload_max, badvers, edns.dnssec_ok, None);
        encode::set_counts(out, 0, 0, 1);
        return Some(Outcome {
            qtype: query.qtype,
            rcode: Rcode::BadVers,
            route: None,
            ecs: edns.ecs.is_some(),
            tsig_start: query.tsig_start,
            reuse: None,
            question_end: opt_at,
            opt_at: Some(opt_at),
            cookie: edns.cookie,
            name_hash: name_hash(name_buf.as_bytes()),
        });
    }
    let name = name_buf.as_str();
    let ecs = query.edns.and_then(|e| e.ecs);
    let client = client_info(&query, ecs, peer);
    let qtype = RecordType::from(query.qtype);
    let mut chaos_text = None;
    let mut answer = match query.qclass {
        CLASS_IN if qtype == RecordType::IXFR && transport == Transport::Udp => {
            udp_ixfr(snapshot, name, peer, signed_key(snapshot, packet, query.tsig_start))
        }
        // Over TCP, `Engine::transfer` answers them before this is reached.
        CLASS_IN if matches!(qtype, RecordType::AXFR | RecordType::IXFR) => Answer::refused(),
        CLASS_IN => snapshot.resolve(&Query::new(name, qtype), &client, health),
        CLASS_CH => {
            chaos_text = chaos(snapshot, name, qtype);
            Answer::new(if chaos_text.is_some() { Rcode::NoError } else { Rcode::Refused }, chaos_text.is_some())
        }
        // Other classes hold nothing of ours.
        _ => Answer::refused(),
    };
    // The SOA in an answer carries its view's serial: the line of an ECS client subnet
    // if the query names one (a checker asking for a line's view); else the view of the
    // transfer rule that admits the asker (a secondary checking its serial); else the
    // line of the source address.
    let view_line = || {
        let key = signed_key(snapshot, packet, query.tsig_start);
        let zone = snapshot.find_zone(name).and_then(|z| snapshot.zone_by_origin.get(&*z.origin).copied());
        let by_ecs = client.ecs_source_prefix.is_some();
        let rule = zone.filter(|_| !by_ecs).and_then(|z| snapshot.transfers.iter().find(|r| r.admits(peer, key, z)));
        match rule {
            Some(r) => (r.line, None),
            None => {
                let hit = snapshot.classifier.classify(client.addr, client.significant_bits());
                (hit.line, Some(hit.scope))
            }
        }
    };
    // Read only for an answer with an SOA: most answers never load the serials.
    let mut view = None;
    let mut serial_of = |owner: &str| {
        let (line, scope, table) = view.get_or_insert_with(|| {
            let (line, scope) = view_line();
            (line, scope, serials.load())
        });
        (table.get(owner, snapshot.lines.name(*line)), *scope)
    };
    if answer.answers.iter().any(|r| matches!(r.data, RData::Soa { .. })) {
        // An SOA asked for depends on the asker's line: its ECS scope says so.
        if let (Some(_), Some(scope)) = serial_of(name) {
            answer.scope = answer.scope.max(scope);
        }
    }
    // RFC 7871 §7.2.1: an ECS option in the query gets one in the response.
    let ecs_echo = ecs.map(|e| ecs_echo(e, answer.scope));
    encode::start(out, query.header, Some(query.question), answer.authoritative, answer.rcode.code());
    // RFC 4035 §3.1: a query with the DO bit gets the RRSIGs and NSECs of signed zones.
    let dnssec_ok = query.edns.is_some_and(|e| e.dnssec_ok) && query.qclass == CLASS_IN;
    let qname_wire = &query.question[..query.question.len() - 4];
    let signing = if dnssec_ok { signing() } else { None };
    let mut signer = signing.map(|signing| AnswerSigner::new(snapshot, signing, qname_wire, name, &answer.proofs));
    // An NSEC asked for at a name of a signed zone is the one its NODATA would prove
    // with: the answer itself (the name has it, as every name of a signed zone does).
    let nsec_asked = signer.is_some()
        && qtype == RecordType::NSEC
        && matches!(answer.proofs.as_slice(), [Proof::NoData { name: Owner::Query, .. }]);
    if nsec_asked {
        answer.authority.clear();
    }
    let mut answers = write_section(out, &answer.answers, name, &mut serial_of, signer.as_mut());
    if let (true, Some(signer)) = (nsec_asked, signer.as_mut()) {
        answers += signer.prove(out, &answer.proofs[0]);
        answer.proofs.clear();
    }
    if let Some(text) = chaos_text {
        out.extend_from_slice(&encode::POINTER_TO_QNAME);
        encode::write_rr_body(out, u16::from(RecordType::TXT), CLASS_CH, 0, |out| {
            encode::write_text(out, text.as_bytes())
        });
        answers += 1;
    }
    let mut authority = write_section(out, &answer.authority, name, &mut serial_of, signer.as_mut());
    if let Some(signer) = signer.as_mut() {
        for proof in &answer.proofs {
            authority += signer.prove(out, proof);
        }
    }
    // Glue is not signed (RFC 4035 §2.2: not authoritative data).
    for record in &answer.additional {
        encode::write_record(out, record);
    }
    let sections_end = out.len();
    let mut additional = answer.additional.len() as u16;
    let opt = query.edns.map(|e| (e.dnssec_ok, ecs_echo));
    let mut opt_at = None;
    if let Some((dnssec_ok, ecs_echo)) = opt {
        opt_at = Some(out.len());
        encode::write_opt(out, settings.udp_payload_max, 0, dnssec_ok, ecs_echo);
        additional += 1;
    }
    encode::set_counts(out, answers, authority, additional);
    // An answer of our zones that does not depend on the serials (no SOA), the key or a
    // draw may be sent again as it is (a DNSSEC-signed one within its hour: see
    // `prepared::Epoch::signed_hour`).
    let reusable = may_reuse_for(&query)
        && answer.varies != Varies::Draw
        && answer.additional.is_empty()
        && out.len() <= limit
        && !answer.answers.iter().chain(&answer.authority).any(|r| matches!(r.data, RData::Soa { .. }));
    let question_end = encode::header_and_question_len(query.question);
    let reuse = reusable.then_some(Reuse {
        sections_start: question_end,
        sections_end,
        answers,
        authority,
        authoritative: answer.authoritative,
        varies: answer.varies,
    });
    if out.len() > limit {
        // RFC 2181 §9: a truncated response sets TC and the client retries over TCP. We
        // keep only the header, question and OPT (RFC 6891 §7 asks for the OPT), so
        // nothing partial is ever cached.
        encode::keep_only_opt(out, question_end, opt_at);
        encode::set_truncated(out);
        opt_at = opt_at.map(|_| question_end);
    }
    Some(Outcome {
        qtype: query.qtype,
        rcode: answer.rcode,
        route: answer.route,
        ecs: ecs.is_some(),
        tsig_start: query.tsig_start,
        reuse,
        question_end,
        opt_at,
        cookie: query.edns.and_then(|e| e.cookie),
        // A wildcard's answers count per zone (an account per random name would never
        // fill).
        name_hash: match answer.synthesized_in {
            Some(origin) => name_hash(origin.as_bytes()) ^ WILDCARD_ACCOUNT,
            None => name_hash(name_buf.as_bytes()),
        },
    })
}

/// Writes one section's `records` into `out` and returns how many records went out: each
/// SOA with its view's serial (`serial_of` its owner), and with `signer` each set
/// followed by its RRSIG records (RFC 4035 §3.1.1). A set is a run of records of one
/// owner and type, as the resolver makes them.
fn write_section<'s>(
    out: &mut Vec<u8>,
    records: &[RecordRef<'s>],
    qname: &str,
    serial_of: &mut impl FnMut(&str) -> (Option<u32>, Option<u8>),
    mut signer: Option<&mut AnswerSigner<'s, '_>>,
) -> u16 {
    let mut count = records.len() as u16;
    let mut set_start = out.len();
    for (i, record) in records.iter().enumerate() {
        encode::write_record(out, record);
        if let RData::Soa { .. } = record.data {
            let owner = match record.owner {
                Owner::Query => qname,
                Owner::Name(n) => n,
            };
            if let (Some(serial), _) = serial_of(owner) {
                set_soa_serial(out, serial);
            }
        }
        let ends_set = records
            .get(i + 1)
            .is_none_or(|next| next.owner != record.owner || next.data.rtype() != record.data.rtype());
        if ends_set {
            if let Some(signer) = signer.as_deref_mut() {
                count += signer.sign_written(out, set_start, record.owner);
            }
            set_start = out.len();
        }
    }
    count
}

/// Whether an answer to `query` may be one made for another query of the same name, type,
/// line and EDNS flags: a plain EDNS(0) or classic IN query, unsigned (a signed answer is
/// the key's), not a transfer. [`respond`] says which answers qualify on their side.
pub(super) fn may_reuse_for(query: &WireQuery<'_>) -> bool {
    query.qclass == CLASS_IN
        && query.tsig_start.is_none()
        && query.edns.is_none_or(|e| e.version == 0)
        && !matches!(RecordType::from(query.qtype), RecordType::AXFR | RecordType::IXFR)
}

/// The largest answer `query` may get over `transport`.
/// An answer to a query with a cookie leaves room for the COOKIE option added after it
/// is made (see [`super::defence`]).
pub(super) fn size_limit(snapshot: &Snapshot, query: &WireQuery<'_>, transport: Transport) -> usize {
    let cookie = query.edns.is_some_and(|e| e.cookie.is_some()) && snapshot.settings.cookies.enabled;
    let reserve = if cookie { 4 + super::cookies::ANSWER_COOKIE_LEN } else { 0 };
    let limit = match (transport, query.edns) {
        // RFC 1035 §4.2.2: a TCP message is at most 65,535 octets (its length prefix).
        (Transport::Tcp, _) => usize::from(u16::MAX),
        // RFC 6891 §6.2.3: values below 512 are treated as 512.
        (Transport::Udp, Some(e)) => usize::from(e.udp_size.clamp(512, snapshot.settings.udp_payload_max)),
        (Transport::Udp, None) => CLASSIC_UDP_LIMIT,
    };
    limit - reserve
}

/// RFC 7871 §7.2.1: the ECS option of the response to a query with `ecs`, for an answer
/// of `scope`; §7.1.2: a /0 source means no client address was given, so the answer
/// (from the resolver's own address) is valid for everyone: scope 0.
pub(super) fn ecs_echo(ecs: Ecs, scope: u8) -> EcsEcho {
    EcsEcho {
        family: ecs.family,
        source_prefix: ecs.source_prefix,
        scope_prefix: if ecs.source_prefix == 0 { 0 } else { scope },
        addr: ecs.addr,
    }
}

/// RFC 8945 §5.2, §5.3: the answer `out` to a signed query `packet` (its TSIG at
/// `tsig_start`), checked at `now`: signed with the query's key when it verifies (`None`);
/// else replaced by NOTAUTH with the TSIG error, BADKEY and BADSIG unsigned, BADTIME
/// signed (`Some(Rcode::NotAuth)`).
pub fn sign_answer(
    snapshot: &Snapshot,
    packet: &[u8],
    tsig_start: usize,
    now: u64,
    out: &mut Vec<u8>,
) -> Option<Rcode> {
    let mut name_buf = crate::name::KeyBuf::new();
    let (query, _) = decode::decode(packet, &mut name_buf).ok()?;
    let Some(request) = tsig::read(packet, tsig_start) else {
        encode::start(out, query.header, Some(query.question), false, Rcode::FormErr.code());
        return Some(Rcode::FormErr);
    };
    match tsig::verify(packet, &request, &snapshot.keys, now) {
        Ok(key) => {
            Signer::new(key, request.mac, query.header.id, now).sign(out, None, &[]);
            None
        }
        Err(error) => {
            encode::start(out, query.header, Some(query.question), false, Rcode::NotAuth.code());
            tsig::append_failure(out, &request, error, &snapshot.keys, now);
            Some(Rcode::NotAuth)
        }
    }
}

/// The client to classify: RFC 7871 §7.1.1 — the ECS address when the query has one
/// with a non-zero source prefix, otherwise the address the query came from (§7.1.2:
/// with SOURCE PREFIX-LENGTH 0 the resolver's own address is what an authoritative
/// server "will almost certainly use").
pub(super) fn client_info(query: &WireQuery<'_>, ecs: Option<Ecs>, peer: IpAddr) -> ClientInfo {
    let client = match ecs {
        Some(e) if e.source_prefix > 0 => ClientInfo::from_ecs(e.addr, e.source_prefix),
        _ => ClientInfo::from_source(peer),
    };
    // Per-query choice among nodes: the query ID is random per query (RFC 5452), mixed
    // with the peer so that one resolver's retries still spread.
    let peer_bits = match peer {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => (u128::from(a) as u64) ^ ((u128::from(a) >> 64) as u64),
    };
    client.with_entropy(u64::from(query.header.id) ^ peer_bits.rotate_left(16))
}

/// The key (index into the snapshot's keys) a query names in its TSIG record, not yet
/// verified: [`sign_answer`] replaces the answer with NOTAUTH if it does not verify, so
/// nothing chosen by it is sent unverified.
fn signed_key(snapshot: &Snapshot, packet: &[u8], tsig_start: Option<usize>) -> Option<u32> {
    let tsig = tsig::read(packet, tsig_start?)?;
    snapshot.keys.iter().position(|k| *k.name == *tsig.key_name).map(|i| i as u32)
}

/// RFC 1995 §2: an IXFR over UDP from an admitted secondary gets the zone's current SOA
/// alone (it fits; the secondary then transfers over TCP if its serial is older). A zone
/// we do not serve, or a secondary no rule admits, gets REFUSED.
fn udp_ixfr<'s>(snapshot: &'s Snapshot, zone: &str, peer: IpAddr, key: Option<u32>) -> Answer<'s> {
    let Some(&index) = snapshot.zone_by_origin.get(zone) else { return Answer::refused() };
    if !snapshot.transfers.iter().any(|r| r.admits(peer, key, index)) {
        return Answer::refused();
    }
    let zone = &snapshot.zones[index as usize];
    let mut answer = Answer::new(Rcode::NoError, true);
    let (soa, _) = zone.negative_soa();
    answer.answers.push(RecordRef { owner: Owner::Query, ttl: zone.soa.ttl, data: soa });
    answer
}

/// CHAOS TXT for server identification, when configured.
fn chaos<'s>(snapshot: &'s Snapshot, name: &str, qtype: RecordType) -> Option<&'s str> {
    if !matches!(qtype, RecordType::TXT | RecordType::ANY) {
        return None;
    }
    let settings = &snapshot.settings;
    match name {
        "version.bind" | "version.server" => settings.chaos_version.as_deref(),
        "id.server" | "hostname.bind" => settings.chaos_id.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::fixtures::{query, snapshot};
    use crate::engine::line::AllUp;

    fn answer(snapshot: &Snapshot, packet: &[u8]) -> (Option<Outcome>, Vec<u8>) {
        let serials = ArcSwap::from_pointee(ServedSerials::default());
        let mut out = Vec::new();
        let peer = "192.0.2.1".parse().unwrap();
        let outcome = respond(snapshot, packet, peer, Transport::Udp, &AllUp, &serials, &mut || None, &mut out);
        (outcome, out)
    }

    #[test]
    fn a_classless_name_answers_and_the_question_comes_back_letter_for_letter() {
        let snapshot = snapshot();
        // 0x20 randomization: the letter case asked is the case echoed.
        let packet = query(b"\x011\x012\x010\x03192\x07In-aDDr\x04ARPA\x00", 5, 0);
        let (outcome, out) = answer(&snapshot, &packet);
        let outcome = outcome.expect("answered");
        assert_eq!((outcome.rcode, out[2] & 0x04), (Rcode::NoError, 0x04), "NOERROR, AA");
        assert_eq!(&out[12..packet.len()], &packet[12..], "the question as asked");
        assert_eq!(u16::from_be_bytes([out[6], out[7]]), 1, "one answer");
        let target = b"\x011\x040/25\x012\x010\x03192\x07in-addr\x04arpa\x00";
        assert!(out.windows(target.len()).any(|w| w == target), "the CNAME's target, '/' and all: {out:02x?}");
        // A dot inside a label is that label's octet, not a separator.
        let (outcome, out) = answer(&snapshot, &query(b"\x03a.b\x012\x010\x03192\x07in-addr\x04arpa\x00", 16, 0));
        assert_eq!(outcome.map(|o| o.rcode), Some(Rcode::NoError));
        assert!(out.windows(20).any(|w| w == b"a dot inside a label"), "{out:02x?}");
        let (outcome, _) = answer(&snapshot, &query(b"\x03a.b\x010\x03192\x07in-addr\x04arpa\x00", 16, 0));
        assert_eq!(outcome.map(|o| o.rcode), Some(Rcode::Refused), "a.b.0.192.in-addr.arpa is no name of ours");
    }

    #[test]
    fn responses_and_fragments_get_nothing_two_questions_formerr_and_other_opcodes_notimp() {
        let snapshot = snapshot();
        let packet = query(b"\x012\x010\x03192\x07in-addr\x04arpa\x00", 6, 0);
        assert!(answer(&snapshot, &packet[..11]).0.is_none(), "shorter than a header");
        let mut response = packet.clone();
        response[2] |= 0x80;
        assert!(answer(&snapshot, &response).0.is_none(), "a response is never answered");
        let mut two = packet.clone();
        two[5] = 2;
        assert_eq!(answer(&snapshot, &two).0.map(|o| o.rcode), Some(Rcode::FormErr), "RFC 9619");
        let status = query(b"\x012\x010\x03192\x07in-addr\x04arpa\x00", 6, 2 << 11);
        assert_eq!(answer(&snapshot, &status).0.map(|o| o.rcode), Some(Rcode::NotImp), "opcode STATUS");
    }
}
