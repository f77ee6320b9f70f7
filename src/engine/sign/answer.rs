//! Signing one answer as it is written: after each set, its RRSIGs (from the cache, or
//! made), and the proofs the resolver noted (see the parent module).

use smallvec::SmallVec;

use super::cache::SignatureCache;
use super::{ZoneSigning, denial};
use crate::engine::answer::{Owner, Proof};
use crate::engine::snapshot::Snapshot;
use crate::engine::zone::Content;
use crate::name;
use crate::rdata::{RecordRef, RecordType};
use crate::wire::dnssec::{TYPE_DS, TYPE_NSEC, TYPE_RRSIG};
use crate::wire::encode::{self, CLASS_IN};

/// What signing an answer needs from its host: the cache and the time.
#[derive(Clone, Copy, Debug)]
pub struct Signing<'a> {
    /// The engine's signature cache.
    pub cache: &'a SignatureCache,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// Signs one answer as it is written (see the module documentation).
#[derive(Debug)]
pub struct AnswerSigner<'s, 'q> {
    snapshot: &'s Snapshot,
    signing: Signing<'s>,
    /// The question's name, wire form, as asked.
    qname: &'q [u8],
    /// The question's name, normalized text.
    qname_text: &'q str,
    /// The wildcards the answer's owners were made from.
    wildcards: SmallVec<[(Owner<'s>, &'s str); 1]>,
    set: Vec<u8>,
    scratch: Vec<u8>,
}

impl<'s, 'q> AnswerSigner<'s, 'q> {
    /// A signer for an answer to the question `qname` (wire form; `qname_text`
    /// normalized) with `proofs`.
    pub fn new(
        snapshot: &'s Snapshot,
        signing: Signing<'s>,
        qname: &'q [u8],
        qname_text: &'q str,
        proofs: &[Proof<'s>],
    ) -> AnswerSigner<'s, 'q> {
        let wildcards = proofs
            .iter()
            .filter_map(|p| match *p {
                Proof::Wildcard { name, wildcard, .. } => Some((name, wildcard)),
                _ => None,
            })
            .collect();
        AnswerSigner { snapshot, signing, qname, qname_text, wildcards, set: Vec::new(), scratch: Vec::new() }
    }

    /// The signing of the zone whose set of `rtype` at `owner` is: the DS set at a cut is
    /// the parent's (RFC 4035 §2.4).
    fn zone_signing(&self, owner: &str, rtype: u16) -> Option<&'s ZoneSigning> {
        let at = if rtype == TYPE_DS { name::parent(owner)? } else { owner };
        let zone = self.snapshot.find_zone(at)?;
        // RFC 4035 §2.2: the NS set at a delegation is not signed (only the apex's is).
        if rtype == u16::from(RecordType::NS) && *zone.origin != *owner {
            return None;
        }
        zone.signing.as_deref()
    }

    /// Appends the RRSIG records of the set written from `start` of `out` (owned by
    /// `owner`), if its zone is signed; returns how many.
    pub fn sign_written(&mut self, out: &mut Vec<u8>, start: usize, owner: Owner<'s>) -> u16 {
        let Some(rtype) = set_type(&out[start..]) else { return 0 };
        let owner_text = match owner {
            Owner::Query => self.qname_text,
            Owner::Name(n) => n,
        };
        let Some(signing) = self.zone_signing(owner_text, rtype) else { return 0 };
        let wildcard = self.wildcards.iter().find(|(o, _)| *o == owner).map(|&(_, w)| w);
        let signed_owner = match wildcard {
            Some(w) => crate::name::to_wire(w),
            None => denial::owner_wire(owner, self.qname),
        };
        self.sign_set_at(out, start, signing, &signed_owner)
    }

    /// Appends the RRSIG records by `signing` of the set written from `start` of `out`,
    /// signed as owned by `signed_owner` (wire form); returns how many.
    fn sign_set_at(&mut self, out: &mut Vec<u8>, start: usize, signing: &ZoneSigning, signed_owner: &[u8]) -> u16 {
        self.set.clear();
        self.set.extend_from_slice(&out[start..]);
        let Some(parsed) = parse_set(&self.set) else { return 0 };
        let rdatas: SmallVec<[&[u8]; 8]> = parsed.rdatas.iter().map(|&(a, b)| &self.set[a..b]).collect();
        let key = signing.cache_key(signed_owner, parsed.rtype, parsed.ttl, &rdatas, &mut self.scratch);
        let owner_bytes = &self.set[..parsed.owner_len];
        let now = self.signing.now;
        self.signing.cache.with(
            key,
            now,
            || signing.sign_set(signed_owner, parsed.rtype, parsed.ttl, &rdatas, now),
            |rrsigs, _| write_rrsigs(out, owner_bytes, parsed.ttl, rrsigs),
        )
    }

    /// Appends the records that prove `proof` (NSEC records, or a referral's DS set),
    /// each set with its RRSIGs, if its zone is signed; returns how many.
    pub fn prove(&mut self, out: &mut Vec<u8>, proof: &Proof<'s>) -> u16 {
        let zone = match *proof {
            Proof::NoName { zone, .. } | Proof::NoData { zone, .. } | Proof::Wildcard { zone, .. } => zone,
            Proof::Referral { zone, .. } => zone,
        };
        let Some(signing) = zone.signing.as_deref() else { return 0 };
        let mut written = 0;
        if let Proof::Referral { cut, .. } = *proof
            && let Some(ds) = zone.names.get(cut).and_then(|n| n.get(RecordType::DS))
            && let Content::Static(records) = &ds.content
        {
            let start = out.len();
            for data in records.iter() {
                encode::write_record(out, &RecordRef { owner: Owner::Name(cut), ttl: ds.ttl, data });
            }
            written += records.len() as u16 + self.sign_written(out, start, Owner::Name(cut));
        }
        let (_, ttl) = zone.negative_soa();
        for nsec in denial::proof_records(proof, self.qname) {
            let start = out.len();
            out.extend_from_slice(&nsec.owner);
            encode::write_rr_body(out, TYPE_NSEC, CLASS_IN, ttl, |out| out.extend_from_slice(&nsec.rdata));
            written += 1 + self.sign_set_at(out, start, signing, &nsec.owner);
        }
        written
    }
}

/// The type of the first record written in `set`.
fn set_type(set: &[u8]) -> Option<u16> {
    let at = owner_len(set, 0)?;
    Some(u16::from_be_bytes([*set.get(at)?, *set.get(at + 1)?]))
}

/// Octets of the owner name at `at` of `set`: a pointer, or uncompressed labels.
fn owner_len(set: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    loop {
        let len = *set.get(i)?;
        if len & 0xc0 == 0xc0 {
            return Some(i + 2 - at);
        }
        i += 1 + usize::from(len);
        if len == 0 {
            return Some(i - at);
        }
    }
}

/// A set of records as written: owner length, type, TTL, and where each RDATA is.
struct ParsedSet {
    owner_len: usize,
    rtype: u16,
    ttl: u32,
    rdatas: SmallVec<[(usize, usize); 8]>,
}

/// Reads back the records of one set written into `set` (owners a pointer or
/// uncompressed, all alike).
fn parse_set(set: &[u8]) -> Option<ParsedSet> {
    let owner_len = |at: usize| owner_len(set, at);
    let first_owner = owner_len(0)?;
    let mut parsed = ParsedSet { owner_len: first_owner, rtype: 0, ttl: 0, rdatas: SmallVec::new() };
    let mut at = 0;
    while at < set.len() {
        let fields = at + owner_len(at)?;
        let header = set.get(fields..fields + 10)?;
        parsed.rtype = u16::from_be_bytes([header[0], header[1]]);
        parsed.ttl = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let len = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let rdata = fields + 10;
        set.get(rdata..rdata + len)?;
        parsed.rdatas.push((rdata, rdata + len));
        at = rdata + len;
    }
    Some(parsed)
}

/// Writes one RRSIG record per RDATA of `rrsigs` (each behind its length), owned by
/// `owner` (wire octets as the set's records have it); returns how many.
fn write_rrsigs(out: &mut Vec<u8>, owner: &[u8], ttl: u32, rrsigs: &[u8]) -> u16 {
    let mut n = 0;
    for rdata in super::cache::rdatas(rrsigs) {
        out.extend_from_slice(owner);
        encode::write_rr_body(out, TYPE_RRSIG, CLASS_IN, ttl, |out| out.extend_from_slice(rdata));
        n += 1;
    }
    n
}
