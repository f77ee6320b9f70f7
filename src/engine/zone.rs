//! Zones: names, their record sets, and the lookup of a name inside a zone.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use std::net::SocketAddr;
use std::sync::Arc;

use super::sign::ZoneSigning;
use crate::name::{self, Name};
use crate::rdata::{RData, RecordType};

/// What a record set holds.
#[derive(Debug)]
pub enum Content {
    /// Fixed records.
    Static(Box<[RData]>),
    /// A line record (index into the snapshot's line records).
    Line(u32),
}

/// All records of one name and type.
#[derive(Debug)]
pub struct RrSet {
    /// The type.
    pub rtype: RecordType,
    /// TTL of static records (line records carry their own).
    pub ttl: u32,
    /// The records.
    pub content: Content,
    /// Where the set was written, for `explain`: `rules.yaml:12:7`, `example.org.zone:40`,
    /// or `transferred from 192.0.2.1:53 at serial 2026120101` (none when generated).
    pub source: Option<Arc<str>>,
}

/// A name that exists in the zone. No record sets: an empty non-terminal (RFC 8020),
/// which exists and answers NODATA.
#[derive(Debug, Default)]
pub struct NameNode {
    /// Record sets of the name.
    pub sets: SmallVec<[RrSet; 2]>,
}

impl NameNode {
    /// The record set of type `rtype`.
    pub fn get(&self, rtype: RecordType) -> Option<&RrSet> {
        self.sets.iter().find(|s| s.rtype == rtype)
    }
}

/// An authoritative zone.
#[derive(Debug)]
pub struct Zone {
    /// The apex (normalized).
    pub origin: Name,
    /// The SOA record set (one record).
    pub soa: RrSet,
    /// Every existing name, apex and empty non-terminals included.
    pub names: FxHashMap<Box<str>, NameNode>,
    /// Whether any name below the apex has NS records (a zone cut).
    pub has_cuts: bool,
    /// The SOA serial the rules, the zone file or the primary's copy write: every view
    /// starts at it and never falls behind it (a primary's new serial shows through).
    pub written_serial: u32,
    /// The hidden primary its static records are transferred from, if it has one.
    pub primary: Option<Primary>,
    /// Why the zone cannot be answered, if it cannot (a secondary zone not yet
    /// transferred, or expired): every query in it gets SERVFAIL (RFC 1035 §4.3.5: a
    /// secondary whose copy has expired stops answering for the zone).
    pub unavailable: Option<Box<str>>,
    /// Its DNSSEC keys and signature timing, if it is signed (its DNSKEY, CDS and CDNSKEY
    /// sets are among its names' sets).
    pub signing: Option<Arc<ZoneSigning>>,
}

/// A zone's hidden primary (linedns is its secondary for the static records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primary {
    /// Addresses, tried in order; NOTIFYs are accepted from their IP addresses.
    pub servers: Box<[SocketAddr]>,
    /// The TSIG key (index into the snapshot's keys) its messages are signed with.
    pub key: Option<u32>,
}

/// Where a name leads inside a zone.
#[derive(Debug)]
pub enum Lookup<'z> {
    /// The name exists, or was synthesized from a wildcard.
    Found {
        /// The node answering.
        node: &'z NameNode,
        /// The wildcard's owner (`*.<closest encloser>`) when the node is a wildcard's.
        wildcard: Option<&'z str>,
    },
    /// The name is at or below a zone cut: refer to the child's name servers.
    Referral {
        /// Owner of the NS set.
        cut: &'z str,
        /// The NS set.
        ns: &'z RrSet,
    },
    /// The name does not exist (and no wildcard covers it).
    NxDomain {
        /// RFC 4592 §3.3.1: the longest existing ancestor of the name.
        encloser: &'z str,
    },
}

impl Zone {
    /// Looks `qname` (normalized, at or below the origin) up.
    ///
    /// RFC 1034 §4.3.2 step 3, for an authoritative-only server: a zone cut above or at the
    /// name gives a referral; an existing name answers; otherwise RFC 4592 §3.3.1: the
    /// *closest encloser* is the longest existing ancestor, and `*.<closest encloser>`, if
    /// it exists, is the source of synthesis.
    ///
    /// A DS query at a cut is answered from this side of it (RFC 4035 §3.1.4.1: the DS
    /// set is the parent's): `ds` says the query is one.
    pub fn lookup<'z>(&'z self, qname: &str, ds: bool) -> Lookup<'z> {
        if self.has_cuts
            && let Some(referral) = self.find_cut(if ds { name::parent(qname).unwrap_or("") } else { qname })
        {
            return referral;
        }
        if let Some(node) = self.names.get(qname) {
            return Lookup::Found { node, wildcard: None };
        }
        let mut encloser = name::parent(qname).unwrap_or("");
        let encloser = loop {
            if let Some((existing, _)) = self.names.get_key_value(encloser) {
                break &**existing;
            }
            match name::parent(encloser) {
                Some(p) if encloser.len() > self.origin.len() => encloser = p,
                _ => break &*self.origin,
            }
        };
        let mut buf = name::KeyBuf::new();
        b"*.".iter().chain(encloser.as_bytes()).for_each(|&b| buf.push(b));
        let wild = buf.as_str();
        match self.names.get_key_value(wild) {
            Some((owner, node)) => Lookup::Found { node, wildcard: Some(owner) },
            None => Lookup::NxDomain { encloser },
        }
    }

    /// The highest zone cut at or above `qname` and below the apex.
    fn find_cut<'z>(&'z self, qname: &str) -> Option<Lookup<'z>> {
        let mut found = None;
        let mut cur = qname;
        while cur.len() > self.origin.len() {
            if let Some((owner, node)) = self.names.get_key_value(cur)
                && let Some(ns) = node.get(RecordType::NS)
            {
                found = Some(Lookup::Referral { cut: owner, ns });
            }
            cur = name::parent(cur)?;
        }
        found
    }

    /// The SOA record and the TTL negative answers carry: RFC 2308 §5, "the minimum of
    /// the MINIMUM field of the SOA record and the TTL of the SOA itself".
    pub fn negative_soa(&self) -> (&RData, u32) {
        let Content::Static(records) = &self.soa.content else { unreachable!("SOA is static") };
        let soa = &records[0];
        let minimum = match soa {
            RData::Soa { minimum, .. } => *minimum,
            _ => unreachable!("SOA set holds an SOA"),
        };
        (soa, self.soa.ttl.min(minimum))
    }
}
