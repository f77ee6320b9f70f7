//! What answering one message gave ([`Outcome`]: for counting, the defences and the
//! prepared answers), and the answer that is only a header and an error.

use super::answer::{Rcode, Route, Varies};
use super::snapshot::Snapshot;
use crate::wire::decode::{self, Cookie, Header};
use crate::wire::encode;

/// What [`super::packet::respond`] answered, for counting.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// QTYPE asked (0 if the question could not be read).
    pub qtype: u16,
    /// RCODE sent.
    pub rcode: Rcode,
    /// How a line record was answered, if one was.
    pub route: Option<Route>,
    /// Whether the query carried an ECS option.
    pub ecs: bool,
    /// Where the query's TSIG record starts, if it was signed.
    pub tsig_start: Option<usize>,
    /// Set when the answer may be sent again to a query with the same name, type, line
    /// and EDNS flags (see [`super::prepared`]).
    pub reuse: Option<Reuse>,
    /// End of the header and question in the answer written.
    pub question_end: usize,
    /// Where the answer's OPT record starts, if it has one (it is the last record
    /// until a TSIG is added).
    pub opt_at: Option<usize>,
    /// The query's COOKIE option, if it had one.
    pub cookie: Option<Cookie>,
    /// A hash of the lowercased name asked, or of `*.` and the zone for an answer
    /// synthesized from a wildcard (0 if no name was read): RRL's accounts.
    pub name_hash: u64,
}

/// What [`super::prepared::PreparedAnswers`] keeps of an answer: its record sections
/// (after the question, before the OPT record) and what the header and OPT need.
#[derive(Clone, Copy, Debug)]
pub struct Reuse {
    /// Start of the record sections (the end of the question) in the answer written.
    pub sections_start: usize,
    /// End of the record sections in the answer written.
    pub sections_end: usize,
    /// Records in the answer section.
    pub answers: u16,
    /// Records in the authority section.
    pub authority: u16,
    /// The AA bit.
    pub authoritative: bool,
    /// How the records chosen depend on the query's entropy.
    pub varies: Varies,
}

/// An error response: header, the question if it could be read, and an OPT record if the
/// query had one that can be found (RFC 6891 §7; see [`decode::opt_in_error`]). Returns
/// what it answered.
pub(super) fn error_only(
    snapshot: &Snapshot,
    out: &mut Vec<u8>,
    packet: &[u8],
    header: Header,
    question_end: Option<usize>,
    rcode: Rcode,
) -> Outcome {
    let question = question_end.map(|end| &packet[decode::HEADER_LEN..end]);
    encode::start(out, header, question, false, rcode.code());
    let written = out.len();
    let mut opt_at = None;
    if let Some(dnssec_ok) = question_end.and_then(|end| decode::opt_in_error(packet, end)) {
        opt_at = Some(out.len());
        encode::write_opt(out, snapshot.settings.udp_payload_max, rcode.code(), dnssec_ok, None);
        encode::set_counts(out, 0, 0, 1);
    }
    Outcome {
        qtype: 0,
        rcode,
        route: None,
        ecs: false,
        tsig_start: None,
        reuse: None,
        question_end: written,
        opt_at,
        cookie: None,
        name_hash: 0,
    }
}
