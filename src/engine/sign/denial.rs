//! Denial of existence made per answer (RFC 4470): minimally covering NSEC records, whose
//! range holds the one name denied and nothing else, so nothing of the zone can be
//! walked; NODATA proofs name the types the name really has.
//!
//! RFC 4470 §4's epsilon functions on wire names: the successor of a name adds `\000` to
//! its first label (everything below the name sorts before it: RFC 4034 §6.1), or, for
//! a name that exists, adds the label `\000` below it; the predecessor lowers the last
//! octet of the first label by one (skipping the uppercase letters, which sort as
//! lowercase) and fills the label with `\255` octets. Zone names hold only letters,
//! digits, `-`, `_` and a leading `*`, so no name of the zone falls between a name and
//! these neighbours.

use smallvec::SmallVec;

use crate::engine::answer::{Owner, Proof};
use crate::engine::zone::{NameNode, Zone};
use crate::rdata::RecordType;
use crate::wire::dnssec::{self, TYPE_NSEC, TYPE_RRSIG};

/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_WIRE: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// One NSEC record of a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsec {
    /// Owner, wire form.
    pub owner: Vec<u8>,
    /// RDATA: next name and type bitmap.
    pub rdata: Vec<u8>,
}

/// The first label of a wire name and the rest of it.
fn split_first(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(*name.first()?);
    if len == 0 {
        return None;
    }
    Some((name.get(1..1 + len)?, &name[1 + len..]))
}

/// The name just before `name` in canonical order, leaving out the names below it (RFC
/// 4470 §4: "decrement the last character of the leftmost label, then fill that label to
/// a length of 63 octets with octets of value 255"; a last octet 0 is removed).
pub fn predecessor(name: &[u8]) -> Vec<u8> {
    let Some((first, rest)) = split_first(name) else { return name.to_vec() };
    let mut label: Vec<u8> = first.to_ascii_lowercase();
    let last = label.pop().expect("labels are not empty");
    if last == 0 {
        if label.is_empty() {
            return rest.to_vec();
        }
    } else {
        let lowered = last - 1;
        // An uppercase letter sorts as its lowercase: the largest octet below `last` that
        // sorts below it is '@' then.
        label.push(if lowered.is_ascii_uppercase() { b'@' } else { lowered });
        let room = MAX_WIRE.saturating_sub(rest.len() + 1).min(MAX_LABEL);
        label.resize(room.max(label.len()), 0xff);
    }
    [&[label.len() as u8][..], &label, rest].concat()
}

/// The first name after `name` and every name below it (RFC 4470 §4: `\000` appended to
/// the first label; a label that cannot grow has its last octet below 255 raised and the
/// octets after it dropped; one of 255s only is the last label there can be, so the
/// first name after it is the one after its parent's subtree).
pub fn successor_after_subtree(name: &[u8]) -> Vec<u8> {
    let Some((first, rest)) = split_first(name) else { return name.to_vec() };
    let mut label: Vec<u8> = first.to_ascii_lowercase();
    if label.len() < MAX_LABEL && name.len() < MAX_WIRE {
        label.push(0);
    } else {
        while let Some(last) = label.pop() {
            if last < 0xff {
                let raised = last + 1;
                label.push(if raised.is_ascii_uppercase() { b'[' } else { raised });
                break;
            }
        }
        if label.is_empty() {
            return successor_after_subtree(rest);
        }
    }
    [&[label.len() as u8][..], &label, rest].concat()
}

/// The first name after `name` itself: `\000.name` (RFC 4470 §4: "add a leading label
/// with a single null octet"); for a name too long for another label, the first name
/// after its subtree (it has none below it).
pub fn successor_below(name: &[u8]) -> Vec<u8> {
    if name.len() + 2 > MAX_WIRE {
        return successor_after_subtree(name);
    }
    let mut lowered = name.to_vec();
    dnssec::lowercase_name(&mut lowered);
    [&[1u8, 0][..], &lowered].concat()
}

/// The key of a wire name (as the zone's names are kept).
fn text_of(wire: &[u8]) -> Option<String> {
    crate::name::from_wire(wire).map(|(key, _)| key)
}

/// The types an NSEC at a name with `node`'s sets lists: theirs, RRSIG and NSEC.
pub fn types_of(node: Option<&NameNode>) -> SmallVec<[u16; 8]> {
    let mut types: SmallVec<[u16; 8]> =
        node.map(|n| n.sets.iter().map(|s| u16::from(s.rtype)).collect()).unwrap_or_default();
    types.extend([TYPE_RRSIG, TYPE_NSEC]);
    types
}

/// The NSEC whose range holds `name` (a name that does not exist in `zone`) and none of
/// the zone's names: RFC 4470 §3. Its owner may be a name that exists (when nothing lies
/// between them): then it lists that name's types.
fn covering(zone: &Zone, name: &[u8]) -> Nsec {
    let owner = predecessor(name);
    let existing = text_of(&owner).and_then(|t| zone.names.get(t.as_str()));
    let types = types_of(existing);
    Nsec { rdata: dnssec::nsec_rdata(&successor_after_subtree(name), &types), owner }
}

/// The NSEC at `name`, which exists with `node`'s sets: RFC 4035 §3.1.3.1. At a
/// delegation the next name skips the child's names (which are not the zone's).
fn at_name(zone: &Zone, name: &[u8], node: &NameNode) -> Nsec {
    let apex = text_of(name).is_some_and(|t| *t == *zone.origin);
    let delegation = !apex && node.get(RecordType::NS).is_some();
    let next = if delegation { successor_after_subtree(name) } else { successor_below(name) };
    let mut owner = name.to_vec();
    dnssec::lowercase_name(&mut owner);
    let mut types = types_of(Some(node));
    if delegation {
        // RFC 4035 §2.3: at a delegation point only NS and DS (and the NSEC's own RRSIG
        // and NSEC) are this zone's; glue at the cut is not.
        let (ns, ds) = (u16::from(RecordType::NS), u16::from(RecordType::DS));
        types.retain(|t| matches!(*t, TYPE_RRSIG | TYPE_NSEC) || *t == ns || *t == ds);
    }
    Nsec { owner, rdata: dnssec::nsec_rdata(&next, &types) }
}

/// The owner `owner` of an answer in wire form (`qname`, lowercased, for the question's).
pub fn owner_wire(owner: Owner<'_>, qname: &[u8]) -> Vec<u8> {
    match owner {
        Owner::Query => {
            let mut name = qname.to_vec();
            dnssec::lowercase_name(&mut name);
            name
        }
        Owner::Name(name) => crate::name::to_wire(name),
    }
}

/// The NSEC records that prove `proof` (RFC 4035 §3.1.3, §3.1.4), the question's name
/// being `qname` (wire form). A referral with a DS set needs none (its DS set is
/// signed): the signer adds it.
pub fn proof_records(proof: &Proof<'_>, qname: &[u8]) -> SmallVec<[Nsec; 2]> {
    let mut records = SmallVec::new();
    match *proof {
        // §3.1.3.2: the name is covered, and so is the wildcard at its closest encloser.
        Proof::NoName { zone, name, encloser } => {
            let name = owner_wire(name, qname);
            // Every label of the encloser counts (it may itself start with `*`).
            let next_closer = dnssec::suffix(&name, dnssec::labels(&crate::name::to_wire(encloser)).count() + 1);
            let first = covering(zone, next_closer);
            let wildcard = crate::name::to_wire(&crate::name::join("*", encloser));
            let second = covering(zone, &wildcard);
            records.push(first.clone());
            if second != first {
                records.push(second);
            }
        }
        Proof::NoData { zone, name, node } => records.push(at_name(zone, &owner_wire(name, qname), node)),
        // §3.1.3.3: the name asked does not exist (so the wildcard answered); §3.1.3.4:
        // and, for No Data, the wildcard has no set of the type.
        Proof::Wildcard { zone, name, wildcard, nodata } => {
            let name = owner_wire(name, qname);
            let wildcard_wire = crate::name::to_wire(wildcard);
            let encloser_labels = usize::from(dnssec::label_count(&wildcard_wire));
            records.push(covering(zone, dnssec::suffix(&name, encloser_labels + 1)));
            if let Some(node) = nodata {
                records.push(at_name(zone, &wildcard_wire, node));
            }
        }
        Proof::Referral { zone, cut } => {
            if let Some(node) = zone.names.get(cut).filter(|n| n.get(RecordType::DS).is_none()) {
                records.push(at_name(zone, &crate::name::to_wire(cut), node));
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;
    use crate::name::to_wire as name_wire;
    use crate::wire::dnssec::canonical_cmp;

    fn wire(labels: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in labels {
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
        out
    }

    #[test]
    fn neighbours_hold_the_name_and_its_subtree_only() {
        let name = name_wire("nope.example.org");
        let (before, after) = (predecessor(&name), successor_after_subtree(&name));
        assert_eq!(canonical_cmp(&before, &name), Ordering::Less);
        assert_eq!(canonical_cmp(&name, &after), Ordering::Less);
        // The subtree is inside; the neighbouring names of the zone are not.
        assert_eq!(canonical_cmp(&name_wire("a.b.nope.example.org"), &after), Ordering::Less);
        for outside in ["nopd.example.org", "nopea.example.org", "nope-.example.org", "example.org", "zzz.example.org"]
        {
            let o = name_wire(outside);
            let inside = canonical_cmp(&before, &o) == Ordering::Less && canonical_cmp(&o, &after) == Ordering::Less;
            assert!(!inside, "{outside} is not covered");
        }
        assert_eq!(before[1..5], *b"nopd");
        assert_eq!(before[0], 63);
        assert_eq!(after, wire(&[b"nope\0", b"example", b"org"]));
        assert_eq!(successor_below(&name), wire(&[b"\0", b"nope", b"example", b"org"]));
        // '[' lowered is 'Z', which sorts as 'z': '@' instead.
        assert_eq!(predecessor(&wire(&[b"[", b"org"]))[1], b'@');
        assert_eq!(predecessor(&wire(&[b"\0", b"org"])), name_wire("org"));
    }

    #[test]
    fn a_full_label_of_255s_at_the_longest_name_ends() {
        let rest = wire(&[&[b'b'; 63], &[b'c'; 63], &[b'd'; 61]]);
        let name = [&[63u8][..], &[0xff; 63], &rest].concat();
        assert_eq!(name.len(), 255);
        let after = successor_after_subtree(&name);
        assert_eq!(canonical_cmp(&name, &after), Ordering::Less);
        assert_eq!(canonical_cmp(&name, &successor_below(&name)), Ordering::Less);
    }

    #[test]
    fn long_names_stay_within_255_octets() {
        let long = wire(&[&[b'a'; 63], &[b'b'; 63], &[b'c'; 63], &[b'd'; 61]]);
        assert_eq!(long.len(), 255);
        for made in [predecessor(&long), successor_after_subtree(&long), successor_below(&long)] {
            assert!(made.len() <= 255, "{}", made.len());
            assert_ne!(canonical_cmp(&made, &long), Ordering::Equal);
        }
    }
}
