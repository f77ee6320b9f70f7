//! A whole zone signed, for transfers (RFC 4035 §2): what a view's secondaries get is a
//! complete signed zone that validates on its own, so they need no key. Every name with
//! authoritative data, and every delegation point, gets an NSEC naming the next such name
//! in canonical order (the last names the apex: RFC 4034 §4.1.1) and its types; every
//! authoritative set gets its RRSIGs. Delegation NS sets and glue are not signed and
//! have no NSEC of their own (RFC 4035 §2.2, §2.3). Signatures come from the shared
//! cache, so a set that did not change keeps its RRSIG from one version to the next and
//! an IXFR carries only what changed.

use smallvec::SmallVec;

use super::ZoneSigning;
use super::cache::SignatureCache;
use crate::wire::dnssec::{self, TYPE_DS, TYPE_NSEC, TYPE_RRSIG};
use crate::wire::encode::{self, CLASS_IN};

/// RFC 1035 §3.2.2: the NS type.
const TYPE_NS: u16 = 2;

/// What signing a zone adds to it.
#[derive(Debug, Default)]
pub struct SignedZone {
    /// The NSEC and RRSIG records, uncompressed, in canonical order of their owners.
    pub records: Vec<Box<[u8]>>,
    /// When its signatures are to be made again (a new version before then).
    pub fresh_until: u64,
}

/// One record read back: owner (lowercased), type, TTL, RDATA.
struct Record<'a> {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    rdata: &'a [u8],
}

/// Reads an uncompressed record.
fn read(record: &[u8]) -> Option<Record<'_>> {
    let mut at = 0;
    loop {
        let len = usize::from(*record.get(at)?);
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let mut owner = record[..at].to_vec();
    dnssec::lowercase_name(&mut owner);
    let fields = record.get(at..at + 10)?;
    let len = usize::from(u16::from_be_bytes([fields[8], fields[9]]));
    Some(Record {
        owner,
        rtype: u16::from_be_bytes([fields[0], fields[1]]),
        ttl: u32::from_be_bytes([fields[4], fields[5], fields[6], fields[7]]),
        rdata: record.get(at + 10..at + 10 + len)?,
    })
}

/// One set of the zone.
struct Set<'a> {
    rtype: u16,
    ttl: u32,
    rdatas: SmallVec<[&'a [u8]; 4]>,
}

/// The NSEC and RRSIG records that make `soa` and `records` (uncompressed, as a
/// `versions::Version` holds them) a signed zone, signed by `signing` at `now`.
pub fn sign_zone(
    soa: &[u8],
    records: &[Box<[u8]>],
    signing: &ZoneSigning,
    cache: &SignatureCache,
    now: u64,
) -> SignedZone {
    let parsed: Vec<Record<'_>> = std::iter::once(soa).chain(records.iter().map(|r| &r[..])).filter_map(read).collect();
    // Names in canonical order, each with its sets (in type order).
    let mut names: Vec<(Vec<u8>, Vec<Set<'_>>)> = Vec::new();
    let mut order: Vec<usize> = (0..parsed.len()).collect();
    order.sort_by(|&a, &b| {
        dnssec::canonical_cmp(&parsed[a].owner, &parsed[b].owner).then(parsed[a].rtype.cmp(&parsed[b].rtype))
    });
    for i in order {
        let r = &parsed[i];
        if names.last().is_none_or(|(owner, _)| *owner != r.owner) {
            names.push((r.owner.clone(), Vec::new()));
        }
        let sets = &mut names.last_mut().expect("pushed").1;
        match sets.last_mut() {
            Some(set) if set.rtype == r.rtype => set.rdatas.push(r.rdata),
            _ => sets.push(Set { rtype: r.rtype, ttl: r.ttl, rdatas: SmallVec::from_slice(&[r.rdata]) }),
        }
    }
    let apex = &signing.apex[..];
    let nsec_ttl = parsed.first().map_or(0, |soa| {
        // RFC 9077 §3.3 (RFC 4034 §4): the NSEC TTL is the SOA's MINIMUM or its own TTL,
        // whichever is lower.
        let minimum = soa.rdata.len().checked_sub(4).map_or(0, |at| {
            u32::from_be_bytes([soa.rdata[at], soa.rdata[at + 1], soa.rdata[at + 2], soa.rdata[at + 3]])
        });
        soa.ttl.min(minimum)
    });
    // Delegation points (NS below the apex), and the names at or below each.
    let cuts: Vec<&[u8]> = names
        .iter()
        .filter(|(owner, sets)| owner != apex && sets.iter().any(|s| s.rtype == TYPE_NS))
        .map(|(owner, _)| &owner[..])
        .collect();
    let below_cut = |owner: &[u8]| cuts.iter().any(|cut| is_strictly_below(owner, cut));
    let authoritative: Vec<usize> = (0..names.len()).filter(|&i| !below_cut(&names[i].0)).collect();
    let mut signed = SignedZone { records: Vec::new(), fresh_until: u64::MAX };
    let mut scratch = Vec::new();
    // Appends a set's RRSIG records to `out`; returns when they are to be made again.
    let mut sign = |owner: &[u8], rtype: u16, ttl: u32, rdatas: &[&[u8]], out: &mut Vec<Box<[u8]>>| {
        let key = signing.cache_key(owner, rtype, ttl, rdatas, &mut scratch);
        let make = || signing.sign_set(owner, rtype, ttl, rdatas, now);
        cache.with(key, now, make, |rrsigs, fresh_until| {
            for rdata in super::cache::rdatas(rrsigs) {
                let mut record = owner.to_vec();
                encode::write_rr_body(&mut record, TYPE_RRSIG, CLASS_IN, ttl, |o| o.extend_from_slice(rdata));
                out.push(record.into());
            }
            fresh_until
        })
    };
    for (position, &i) in authoritative.iter().enumerate() {
        let (owner, sets) = &names[i];
        let next = &names[authoritative[(position + 1) % authoritative.len()]].0;
        let at_cut = cuts.contains(&&owner[..]);
        // RFC 4035 §2.3: at a delegation point, the NSEC lists NS and DS only.
        let listed: SmallVec<[u16; 8]> =
            sets.iter().map(|s| s.rtype).filter(|&t| !at_cut || t == TYPE_NS || t == TYPE_DS).collect();
        let mut types = listed.clone();
        types.extend([TYPE_RRSIG, TYPE_NSEC]);
        let nsec = dnssec::nsec_rdata(next, &types);
        let mut record = owner.clone();
        encode::write_rr_body(&mut record, TYPE_NSEC, CLASS_IN, nsec_ttl, |o| o.extend_from_slice(&nsec));
        signed.records.push(record.into());
        let fresh = sign(owner, TYPE_NSEC, nsec_ttl, &[&nsec], &mut signed.records);
        signed.fresh_until = signed.fresh_until.min(fresh);
        for set in sets {
            // §2.2: delegation NS sets (and whatever else the cut occludes) are not signed.
            if at_cut && set.rtype != TYPE_DS {
                continue;
            }
            let fresh = sign(owner, set.rtype, set.ttl, &set.rdatas, &mut signed.records);
            signed.fresh_until = signed.fresh_until.min(fresh);
        }
    }
    signed
}

/// Whether the wire name `name` is below `ancestor` (not equal to it).
fn is_strictly_below(name: &[u8], ancestor: &[u8]) -> bool {
    let (n, a) = (dnssec::labels(name).count(), dnssec::labels(ancestor).count());
    n > a && dnssec::suffix(name, a) == ancestor
}
