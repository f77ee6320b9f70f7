//! DNSSEC signing on the answer path (RFC 4033–4035), pure: the keys come in with the
//! snapshot, the time with the query.
//!
//! An answer to a query with the DO bit (RFC 3225) for a signed zone gets, after each
//! authoritative set it holds, that set's RRSIG records (RFC 4035 §3.1.1), made once per
//! (set, keys) and kept in the [`cache::SignatureCache`]; negative answers, wildcard
//! answers and referrals get the NSEC records that prove them ([`denial`], RFC 4470
//! online denial: no chain of names to walk). Delegation NS sets and glue are not
//! signed (RFC 4035 §2.2). A line record's answer is a set like any other: each line's
//! nodes, each health state, are their own set and signature, made on the first query
//! that needs them and before it is answered.

pub mod answer;
pub mod cache;
pub mod denial;
pub mod keys;
pub mod zone;

use std::hash::Hasher;

use siphasher::sip128::{Hasher128, SipHasher13};

use self::keys::SigningKey;
use crate::rdata::{RData, RecordType};
use crate::wire::dnssec::{self, RrsigHeader, TYPE_CDNSKEY, TYPE_CDS, TYPE_DNSKEY};

/// How far before the moment of signing an RRSIG's inception is put, for validators
/// whose clocks run behind (RFC 6781 §4.4.2.2's clock skew).
pub const INCEPTION_BEFORE: u32 = 3600;

/// One key of a signed zone and what it does now (a roll moves these).
#[derive(Debug)]
pub struct ZoneKey {
    /// The key.
    pub key: SigningKey,
    /// In the DNSKEY set.
    pub published: bool,
    /// Signs (the sets of its role).
    pub signs: bool,
    /// In the CDS and CDNSKEY sets, for the parent (RFC 7344, RFC 8078).
    pub in_cds: bool,
    /// The file it was read from.
    pub file: Box<str>,
}

/// When and how a signed zone's keys roll (RFC 7583's parameters), for the host's
/// rollover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollPolicy {
    /// The zone's key directory.
    pub key_dir: std::path::PathBuf,
    /// Seconds a ZSK signs before it is rolled (0: never).
    pub zsk_lifetime: u64,
    /// Seconds a KSK or CSK signs before it is rolled (0: never).
    pub ksk_lifetime: u64,
    /// Seconds for a change to reach every secondary (Dprp).
    pub propagation: u64,
    /// The DNSKEY set's TTL.
    pub dnskey_ttl: u32,
    /// The largest TTL of the zone's sets (TTLsig).
    pub max_ttl: u32,
    /// The parent's servers, asked for the DS.
    pub parent: Vec<std::net::SocketAddr>,
}

/// A signed zone's keys and signature timing.
#[derive(Debug)]
pub struct ZoneSigning {
    /// How its keys roll.
    pub policy: RollPolicy,
    /// The apex, wire form (the RRSIGs' Signer's Name).
    pub apex: Box<[u8]>,
    /// Its keys.
    pub keys: Box<[ZoneKey]>,
    /// Seconds an RRSIG is valid from the moment it is made.
    pub validity: u32,
    /// Seconds before expiry an RRSIG is made again.
    pub refresh: u32,
    /// Tells the signatures of these keys from those of other keys in the cache.
    id: u64,
}

impl ZoneSigning {
    /// A zone at `apex` (normalized) signed with `keys`; `validity` and `refresh` as the
    /// fields say (`refresh` is kept below `validity`).
    pub fn new(apex: &str, keys: Vec<ZoneKey>, validity: u32, refresh: u32, policy: RollPolicy) -> ZoneSigning {
        let mut hasher = SipHasher13::new();
        for k in &keys {
            hasher.write(&k.key.dnskey);
            hasher.write_u8(u8::from(k.signs) | u8::from(k.published) << 1);
        }
        ZoneSigning {
            policy,
            apex: crate::name::to_wire(apex).into(),
            keys: keys.into(),
            validity,
            refresh: refresh.min(validity / 2),
            id: hasher.finish(),
        }
    }

    /// A hash of which keys are published and which sign: what a signed copy of the zone
    /// depends on besides its records (a ZSK starting to sign changes no record).
    pub fn key_state(&self) -> u64 {
        self.id
    }

    /// The keys that sign sets of `rtype`: the key-signing ones for DNSKEY, CDS and
    /// CDNSKEY (RFC 6781 §3.1), the zone-signing ones for the rest.
    pub fn signers(&self, rtype: u16) -> impl Iterator<Item = &SigningKey> {
        let key_set = matches!(rtype, TYPE_DNSKEY | TYPE_CDS | TYPE_CDNSKEY);
        self.keys
            .iter()
            .filter(move |k| k.signs && if key_set { k.key.role.signs_keys() } else { k.key.role.signs_zone() })
            .map(|k| &k.key)
    }

    /// RFC 4034 §3.1.8.1: the RRSIG RDATAs (each behind its 2-octet length) of the set of
    /// `rtype` and `ttl` at `owner` (wire form; `*.` and the wildcard's labels for an
    /// expansion) holding `rdatas`, signed at `now`, and when to make them again.
    pub fn sign_set(&self, owner: &[u8], rtype: u16, ttl: u32, rdatas: &[&[u8]], now: u64) -> (Vec<u8>, u64) {
        let mut out = Vec::new();
        let mut data = Vec::new();
        for key in self.signers(rtype) {
            let header = RrsigHeader {
                type_covered: rtype,
                algorithm: key.algorithm.number(),
                labels: dnssec::label_count(owner),
                original_ttl: ttl,
                // RFC 4034 §3.1.5: 32-bit serial-number arithmetic (RFC 1982).
                expiration: now.wrapping_add(u64::from(self.validity)) as u32,
                inception: now.wrapping_sub(u64::from(INCEPTION_BEFORE)) as u32,
                key_tag: key.tag,
                signer: &self.apex,
            };
            dnssec::signed_data(&header, owner, rdatas, &mut data);
            let signature = key.sign(&data);
            let mut rdata = Vec::with_capacity(18 + self.apex.len() + signature.len());
            header.write(&mut rdata);
            rdata.extend_from_slice(&signature);
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rdata);
        }
        (out, now + u64::from(self.validity - self.refresh))
    }

    /// What the signatures of a set are kept under in the cache: a hash of these keys,
    /// the owner, type, TTL and the records in canonical form (in any order).
    pub fn cache_key(&self, owner: &[u8], rtype: u16, ttl: u32, rdatas: &[&[u8]], scratch: &mut Vec<u8>) -> u128 {
        let mut records: u128 = 0;
        for rdata in rdatas {
            scratch.clear();
            dnssec::canonical_rdata(rtype, rdata, scratch);
            let mut h = SipHasher13::new();
            h.write(scratch);
            records = records.wrapping_add(h.finish128().as_u128());
        }
        let mut h = SipHasher13::new();
        h.write_u64(self.id);
        scratch.clear();
        scratch.extend_from_slice(owner);
        dnssec::lowercase_name(scratch);
        h.write(scratch);
        h.write_u16(rtype);
        h.write_u32(ttl);
        h.write_usize(rdatas.len());
        h.write_u128(records);
        h.finish128().as_u128()
    }
}

/// The DNSKEY, CDS and CDNSKEY sets of a signed zone at `apex` (wire form): its published
/// keys, and the DS (SHA-256) and DNSKEY of those the parent should hold (RFC 7344 §3).
pub fn key_sets(signing: &ZoneSigning) -> [(RecordType, Vec<RData>); 3] {
    let other = |rtype: u16, data: Vec<u8>| RData::Other { rtype, data: data.into() };
    let dnskey = signing.keys.iter().filter(|k| k.published).map(|k| other(TYPE_DNSKEY, k.key.dnskey.to_vec()));
    let cds = signing.keys.iter().filter(|k| k.in_cds);
    [
        (RecordType::DNSKEY, dnskey.collect()),
        (
            RecordType::CDS,
            cds.clone().map(|k| other(TYPE_CDS, dnssec::ds_rdata(&signing.apex, &k.key.dnskey))).collect(),
        ),
        (RecordType::CDNSKEY, cds.map(|k| other(TYPE_CDNSKEY, k.key.dnskey.to_vec())).collect()),
    ]
}
