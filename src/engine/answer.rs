//! The result of resolving a query: data, never an error (the packet path never fails).

use smallvec::SmallVec;

use super::zone::{NameNode, Zone};
use crate::geo::table::LineId;
pub use crate::rdata::{Owner, RecordRef};

/// Response codes the engine produces (RFC 1035 §4.1.1, RFC 6891 §6.1.3, RFC 6895).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rcode {
    /// 0: the name exists (the answer may still be empty: NODATA).
    NoError,
    /// 1: the query was malformed.
    FormErr,
    /// 2: the server could not answer.
    ServFail,
    /// 3: the name does not exist.
    NxDomain,
    /// 4: the opcode is not implemented.
    NotImp,
    /// 5: the name is outside our zones, or the query is refused by policy.
    Refused,
    /// 9 (RFC 8945 §5.2): a TSIG that does not verify.
    NotAuth,
    /// 16 (extended, in the OPT record): the EDNS version is not implemented.
    BadVers,
    /// 23 (extended, RFC 7873 §8): the query's server cookie is missing or invalid, and a
    /// valid one is needed (sent to a rate-limited client that has a cookie).
    BadCookie,
}

impl Rcode {
    /// Every rcode the engine sends, in code order: the one list of their names.
    pub const ALL: [Rcode; 9] = [
        Rcode::NoError,
        Rcode::FormErr,
        Rcode::ServFail,
        Rcode::NxDomain,
        Rcode::NotImp,
        Rcode::Refused,
        Rcode::NotAuth,
        Rcode::BadVers,
        Rcode::BadCookie,
    ];

    /// The 12-bit (extended) value: the low 4 bits go in the header, the rest in the OPT.
    pub fn code(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::NotAuth => 9,
            Rcode::BadVers => 16,
            Rcode::BadCookie => 23,
        }
    }

    /// The mnemonic (`NOERROR`, `NXDOMAIN`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::NotAuth => "NOTAUTH",
            Rcode::BadVers => "BADVERS",
            Rcode::BadCookie => "BADCOOKIE",
        }
    }

    /// The rcode with this value, if the engine knows it.
    pub fn from_code(code: u16) -> Option<Rcode> {
        Rcode::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The rcode with this mnemonic, in any letter case.
    pub fn from_name(name: &str) -> Option<Rcode> {
        Rcode::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(name))
    }

    /// Position in [`Rcode::ALL`] (for counters indexed by rcode; on the query path).
    pub fn index(self) -> usize {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::NotAuth => 6,
            Rcode::BadVers => 7,
            Rcode::BadCookie => 8,
        }
    }
}

/// Where the addresses of a line-record answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// A usable pool of the chain (the healthy nodes of it).
    Pool,
    /// No pool was usable: the first pool of the chain, whole.
    FailOpen,
    /// No pool was usable: the record's last-resort nodes.
    LastResort,
    /// No pool was usable and the record asks for SERVFAIL.
    ServFail,
}

/// How a line record was answered: which line asked and which line's pool served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The client's line.
    pub client_line: LineId,
    /// The line whose pool gave the answer (the client's line for the all-down cases).
    pub served_line: LineId,
    /// Steps taken along the fallback chain (0: the client's own line).
    pub fallback_depth: u8,
    /// Where the answer came from.
    pub how: Served,
    /// Answered with the degraded TTL: after skipping an unusable pool, from a pool with
    /// down nodes, or by the all-down policy.
    pub degraded: bool,
}

impl Route {
    /// Whether the all-down policy answered (fail open, last resort or SERVFAIL).
    pub fn all_down(&self) -> bool {
        self.how != Served::Pool
    }

    /// Of two line records in one answer (a CNAME per line and its chased target's),
    /// the route that says more is wrong: SERVFAIL, then another all-down policy, then a
    /// degraded answer, then the deeper fallback; the first when they are alike.
    pub fn worse(self, other: Route) -> Route {
        let rank = |r: &Route| (r.how == Served::ServFail, r.all_down(), r.degraded, r.fallback_depth);
        if rank(&other) > rank(&self) { other } else { self }
    }
}

/// A resolved answer.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    /// Response code.
    pub rcode: Rcode,
    /// AA bit: set for data from our zones, clear for referrals and refusals.
    pub authoritative: bool,
    /// Answer section.
    pub answers: SmallVec<[RecordRef<'a>; 8]>,
    /// Authority section: SOA for negative answers (RFC 2308), NS for referrals.
    pub authority: SmallVec<[RecordRef<'a>; 4]>,
    /// Additional section: a referral's glue (RFC 9471).
    pub additional: SmallVec<[RecordRef<'a>; 2]>,
    /// RFC 7871 SCOPE PREFIX-LENGTH: 0 unless the answer depended on the client's line.
    pub scope: u8,
    /// Set when a line record was answered (the last one, after CNAMEs).
    pub route: Option<Route>,
    /// How the records chosen depend on the query's entropy.
    pub varies: Varies,
    /// Set when the name asked was synthesized from a wildcard (RFC 4592): the origin of
    /// its zone. Rate limiting counts such answers per zone, so that a flood of random
    /// names under a wildcard shares one account (see [`super::rrl`]).
    pub synthesized_in: Option<&'a str>,
    /// What a signed answer must prove besides its records (RFC 4035 §3.1.3, §3.1.4):
    /// noted where the lookup decided, used only when the answer is signed.
    pub proofs: SmallVec<[Proof<'a>; 1]>,
}

/// A fact about names the DNSSEC signer proves with NSEC records (RFC 4035 §3.1.3), as
/// the resolver found it. `name` is an owner of the answer: the question's, or a CNAME
/// target.
#[derive(Clone, Copy, Debug)]
pub enum Proof<'a> {
    /// §3.1.3.2 (Name Error): `name` does not exist in `zone`; `encloser` is its closest
    /// encloser, and no wildcard exists there.
    NoName {
        /// The zone.
        zone: &'a Zone,
        /// The name asked.
        name: Owner<'a>,
        /// Its closest encloser (RFC 4592 §3.3.1).
        encloser: &'a str,
    },
    /// §3.1.3.1 (No Data): `name` exists with the sets of `node`, none of the type asked.
    NoData {
        /// The zone.
        zone: &'a Zone,
        /// The name asked.
        name: Owner<'a>,
        /// Its sets.
        node: &'a NameNode,
    },
    /// §3.1.3.3 and §3.1.3.4: the answer for `name` was made from the wildcard
    /// `wildcard`, so `name` itself does not exist; `nodata` holds the wildcard's sets
    /// when it has none of the type asked.
    Wildcard {
        /// The zone.
        zone: &'a Zone,
        /// The name asked.
        name: Owner<'a>,
        /// The wildcard's owner, `*.<closest encloser>`.
        wildcard: &'a str,
        /// The wildcard's sets, for a wildcard No Data answer.
        nodata: Option<&'a NameNode>,
    },
    /// §3.1.4: a referral to the child zone at `cut`: its DS set, or the proof that it has
    /// none (an insecure delegation).
    Referral {
        /// The zone.
        zone: &'a Zone,
        /// The delegation point.
        cut: &'a str,
    },
}

/// How an answer depends on the per-query entropy ([`crate::ClientInfo::entropy`]), so
/// that a host reusing answers knows which ones it may reuse for which queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Varies {
    /// Not at all.
    #[default]
    Not,
    /// Only through `entropy % n`: an unweighted pool of `n` nodes rotated.
    Rotation(u16),
    /// Through a weighted draw (or two choices that rotate differently).
    Draw,
}

impl Varies {
    /// What an answer made of choices `self` and `other` depends on.
    pub fn and(self, other: Varies) -> Varies {
        match (self, other) {
            (Varies::Not, v) | (v, Varies::Not) => v,
            (Varies::Rotation(a), Varies::Rotation(b)) if a == b => Varies::Rotation(a),
            _ => Varies::Draw,
        }
    }
}

impl<'a> Answer<'a> {
    /// An empty answer with `rcode`.
    pub fn new(rcode: Rcode, authoritative: bool) -> Self {
        Answer {
            rcode,
            authoritative,
            answers: SmallVec::new(),
            authority: SmallVec::new(),
            additional: SmallVec::new(),
            scope: 0,
            route: None,
            varies: Varies::Not,
            synthesized_in: None,
            proofs: SmallVec::new(),
        }
    }

    /// REFUSED, not authoritative: the name is outside every zone we serve.
    pub fn refused() -> Self {
        Answer::new(Rcode::Refused, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        for (i, rcode) in Rcode::ALL.into_iter().enumerate() {
            assert_eq!(rcode.index(), i, "{}", rcode.name());
            assert_eq!(Rcode::from_name(rcode.name()), Some(rcode));
        }
    }
}
