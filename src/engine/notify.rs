//! A NOTIFY in (RFC 1996): a zone's primary announcing a change, checked against the
//! zone's `primary:` (its addresses, its key) and answered; the host then checks the
//! primary's serial at once.

use std::net::IpAddr;

use super::answer::Rcode;
use super::outcome::{Outcome, error_only};
use super::snapshot::Snapshot;
use crate::wire::decode::{self, Header};
use crate::wire::encode;
use crate::wire::tsig::{self, Signer};

/// RFC 1996 §2.2: opcode NOTIFY.
pub(super) const OPCODE_NOTIFY: u8 = 4;

/// Whether `packet` is a NOTIFY request (RFC 1996 §3.7: opcode NOTIFY, QR clear).
pub fn is_notify(packet: &[u8]) -> bool {
    packet.len() >= decode::HEADER_LEN && packet[2] & 0x80 == 0 && (packet[2] >> 3) & 0x0f == OPCODE_NOTIFY
}

/// Answers a NOTIFY from `peer` (RFC 1996) into `out`, checked at `now` (`None`: no
/// clock, so a signed one cannot be checked); returns what it answered and, when it is
/// accepted, the zone whose primary announced a change (the host then checks it at once).
///
/// §3.10: only a zone's own primaries are listened to. A NOTIFY for a zone of ours with
/// no primary, or from another address, is REFUSED; one for a zone we do not serve gets
/// NOTAUTH; a zone whose primary has a key needs a NOTIFY signed with it (RFC 8945 §5.2:
/// else NOTAUTH with the TSIG error). The answer echoes ID, opcode and question (§4.7)
/// and is signed when the NOTIFY was.
pub fn notify<'s>(
    snapshot: &'s Snapshot,
    packet: &[u8],
    peer: IpAddr,
    now: Option<u64>,
    out: &mut Vec<u8>,
) -> (Outcome, Option<&'s str>) {
    let header =
        Header { id: u16::from_be_bytes([packet[0], packet[1]]), flags: u16::from_be_bytes([packet[2], packet[3]]) };
    let Some((zone_name, question_end)) = decode::question(packet) else {
        return (error_only(snapshot, out, packet, header, None, Rcode::FormErr), None);
    };
    let question_end = Some(question_end);
    let signed = decode::last_record(packet).filter(|&(_, t)| t == decode::TYPE_TSIG).map(|(start, _)| start);
    let zone = snapshot.zone_by_origin.get(zone_name.as_str()).map(|&i| &snapshot.zones[i as usize]);
    let primary = zone.and_then(|z| z.primary.as_ref());
    let rcode = match (zone, primary) {
        (None, _) if snapshot.find_zone(&zone_name).is_none() => Rcode::NotAuth,
        (None, _) | (_, None) => Rcode::Refused,
        (Some(_), Some(p)) if !p.servers.iter().any(|s| s.ip() == peer) => Rcode::Refused,
        (Some(_), Some(p)) => match (p.key, signed) {
            (Some(_), None) => Rcode::NotAuth,
            _ => Rcode::NoError,
        },
    };
    let mut outcome = error_only(snapshot, out, packet, header, question_end, rcode);
    let mut accepted = (rcode == Rcode::NoError).then(|| zone.map(|z| &*z.origin)).flatten();
    if let Some(start) = signed {
        let request = tsig::read(packet, start);
        let key = primary.and_then(|p| p.key).map(|k| &snapshot.keys[k as usize]);
        match (request, now) {
            (Some(request), Some(now)) => {
                // Signed with a key of ours, but not the primary's, is BADKEY (§5.2.1).
                let verified = tsig::verify(packet, &request, &snapshot.keys, now).and_then(|used| {
                    if key.is_none_or(|k| k.name == used.name) { Ok(used) } else { Err(tsig::TsigError::BadKey) }
                });
                match verified {
                    Ok(used) => Signer::new(used, request.mac, header.id, now).sign(out, None, &[]),
                    Err(error) => {
                        let question = question_end.map(|e| &packet[decode::HEADER_LEN..e]);
                        encode::start(out, header, question, false, Rcode::NotAuth.code());
                        tsig::append_failure(out, &request, error, &snapshot.keys, now);
                        (outcome.rcode, accepted) = (Rcode::NotAuth, None);
                    }
                }
            }
            _ => {
                encode::start(out, header, None, false, Rcode::FormErr.code());
                (outcome.rcode, accepted) = (Rcode::FormErr, None);
            }
        }
    }
    (outcome, accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::fixtures::{query, snapshot};

    #[test]
    fn only_a_notify_request_is_one_and_a_zone_without_primary_refuses_it() {
        let zone = b"\x012\x010\x03192\x07in-addr\x04arpa\x00";
        let request = query(zone, 6, u16::from(OPCODE_NOTIFY) << 11);
        assert!(is_notify(&request) && !is_notify(&query(zone, 6, 0)));
        let mut answer = request.clone();
        answer[2] |= 0x80;
        assert!(!is_notify(&answer), "an answer to a NOTIFY is none");
        let mut out = Vec::new();
        let snapshot = snapshot();
        let (outcome, accepted) = notify(&snapshot, &request, "192.0.2.1".parse().unwrap(), Some(0), &mut out);
        assert_eq!((outcome.rcode, accepted), (Rcode::Refused, None), "RFC 1996 §3.10: no primary, no NOTIFY");
        assert_eq!(&out[12..request.len()], &request[12..], "the question echoed (§4.7)");
    }
}
