//! DNSSEC's wire forms (RFC 4034): names in canonical form and order (§6.1, §6.2), the
//! canonical RDATA an RRSIG covers, the data an RRSIG signs (§3.1.8.1), RRSIG, NSEC,
//! DNSKEY and DS RDATA (§3.1, §4.1, §2.1, §5.1 with RFC 4509's SHA-256) and the key tag
//! (Appendix B). Pure byte work: the keys and the signing are the engine's.

use std::cmp::Ordering;

use super::encode;

/// RFC 4034 §5: the DS record type.
pub const TYPE_DS: u16 = 43;
/// RFC 4034 §3: the RRSIG record type.
pub const TYPE_RRSIG: u16 = 46;
/// RFC 4034 §4: the NSEC record type.
pub const TYPE_NSEC: u16 = 47;
/// RFC 4034 §2: the DNSKEY record type.
pub const TYPE_DNSKEY: u16 = 48;
/// RFC 7344 §3.1: the CDS record type.
pub const TYPE_CDS: u16 = 59;
/// RFC 7344 §3.2: the CDNSKEY record type.
pub const TYPE_CDNSKEY: u16 = 60;
/// RFC 8078 §4: the CDS "delete" algorithm (0) a zone going insecure publishes.
pub const DIGEST_SHA256: u8 = 2;

/// RFC 4034 §2.1.1: the Zone Key flag (bit 7).
pub const FLAG_ZONE: u16 = 0x0100;
/// RFC 4034 §2.1.1: the Secure Entry Point flag (bit 15), set on key-signing keys.
pub const FLAG_SEP: u16 = 0x0001;
/// RFC 5011 §3: the REVOKE flag (bit 8).
pub const FLAG_REVOKE: u16 = 0x0080;

/// The labels of a wire name, leftmost first (the root label not included).
pub fn labels(wire: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = usize::from(*wire.get(at)?);
        if len == 0 {
            return None;
        }
        let label = wire.get(at + 1..at + 1 + len)?;
        at += 1 + len;
        Some(label)
    })
}

/// RFC 4034 §3.1.3: the Labels field of an RRSIG over `owner`: its labels, not counting
/// the root or a leading wildcard label `*`.
pub fn label_count(owner: &[u8]) -> u8 {
    let mut count = labels(owner).count();
    if labels(owner).next() == Some(b"*") {
        count -= 1;
    }
    count as u8
}

/// The wire name made of the rightmost `keep` labels of `wire`.
pub fn suffix(wire: &[u8], keep: usize) -> &[u8] {
    let total = labels(wire).count();
    let mut at = 0;
    for _ in 0..total.saturating_sub(keep) {
        at += 1 + usize::from(wire[at]);
    }
    &wire[at..]
}

/// RFC 4034 §6.1: canonical order of two wire names, compared label by label from the
/// right, each label as a string of lowercased octets (a shorter one first when it is a
/// prefix of the other); a name sorts before the names below it.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (labels(a).collect(), labels(b).collect());
    for (x, y) in la.iter().rev().zip(lb.iter().rev()) {
        let x = x.iter().map(u8::to_ascii_lowercase);
        let y = y.iter().map(u8::to_ascii_lowercase);
        match x.cmp(y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    la.len().cmp(&lb.len())
}

/// One field of an RDATA layout, for [`canonical_rdata`].
#[derive(Clone, Copy)]
enum Field {
    /// A domain name (lowercased in canonical form).
    Name,
    /// So many octets, copied.
    Fixed(usize),
    /// A character-string (length octet, text), copied.
    Text,
}

/// RFC 4034 §6.2 item 3, as RFC 6840 §5.1 amends it (HINFO holds no name; RRSIG and NSEC
/// are not lowercased): the types whose embedded names are lowercased in canonical form,
/// with the fields before and including their last name. What follows is copied.
fn layout(rtype: u16) -> Option<&'static [Field]> {
    use Field::{Fixed, Name, Text};
    Some(match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME.
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        // SOA (then 20 octets), MINFO, RP.
        6 | 14 | 17 => &[Name, Name],
        // MX, AFSDB, RT, KX.
        15 | 18 | 21 | 36 => &[Fixed(2), Name],
        // PX.
        26 => &[Fixed(2), Name, Name],
        // SRV.
        33 => &[Fixed(6), Name],
        // NAPTR: order, preference, flags, services, regexp, replacement.
        35 => &[Fixed(4), Text, Text, Text, Name],
        // SIG: the fields before the signer's name.
        24 => &[Fixed(18), Name],
        // NXT.
        30 => &[Name],
        _ => return None,
    })
}

/// Appends the canonical form of `rdata` of type `rtype` (RFC 4034 §6.2): uncompressed
/// already, with the embedded names of the types §6.2 lists (as RFC 6840 §5.1 amends
/// it) lowercased. RDATA that does not parse as its type is copied as it is.
pub fn canonical_rdata(rtype: u16, rdata: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(rdata);
    let Some(fields) = layout(rtype) else { return };
    let mut at = 0;
    for field in fields {
        match field {
            Field::Fixed(n) => at += n,
            Field::Text => match rdata.get(at) {
                Some(&len) => at += 1 + usize::from(len),
                None => return,
            },
            Field::Name => loop {
                let Some(&len) = rdata.get(at) else { return };
                let len = usize::from(len);
                if len == 0 {
                    at += 1;
                    break;
                }
                if len > 63 || at + 1 + len > rdata.len() {
                    return;
                }
                out[start + at + 1..start + at + 1 + len].make_ascii_lowercase();
                at += 1 + len;
            },
        }
    }
}

/// The fields of an RRSIG's RDATA before its signature (RFC 4034 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrsigHeader<'a> {
    /// The type of the RRset signed.
    pub type_covered: u16,
    /// The key's algorithm.
    pub algorithm: u8,
    /// Labels of the owner ([`label_count`]; fewer for a wildcard's expansion).
    pub labels: u8,
    /// The RRset's TTL as in the zone.
    pub original_ttl: u32,
    /// Not valid after (seconds since the epoch, mod 2^32: RFC 4034 §3.1.5).
    pub expiration: u32,
    /// Not valid before.
    pub inception: u32,
    /// The signing key's tag.
    pub key_tag: u16,
    /// The zone's name, wire form, lowercase.
    pub signer: &'a [u8],
}

impl RrsigHeader<'_> {
    /// Appends the fields, in wire order.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.type_covered.to_be_bytes());
        out.push(self.algorithm);
        out.push(self.labels);
        out.extend_from_slice(&self.original_ttl.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.inception.to_be_bytes());
        out.extend_from_slice(&self.key_tag.to_be_bytes());
        out.extend_from_slice(self.signer);
    }
}

/// RFC 4034 §3.1.8.1: the data an RRSIG signs, written into `out` (cleared first): the
/// RRSIG's fields, then each record of the set in canonical form — `owner` (lowercased;
/// `*.` and the wildcard's labels for an expansion, §3.1.8.1 step 2 as a validator
/// rebuilds it), type, class IN, the original TTL, the RDATA in canonical form — sorted
/// by RDATA (§6.3), duplicates once.
pub fn signed_data(header: &RrsigHeader<'_>, owner: &[u8], rdatas: &[&[u8]], out: &mut Vec<u8>) {
    out.clear();
    header.write(out);
    let mut owner = owner.to_vec();
    lowercase_name(&mut owner);
    let mut canonical: Vec<Vec<u8>> = rdatas
        .iter()
        .map(|r| {
            let mut c = Vec::with_capacity(r.len());
            canonical_rdata(header.type_covered, r, &mut c);
            c
        })
        .collect();
    canonical.sort();
    canonical.dedup();
    for rdata in &canonical {
        out.extend_from_slice(&owner);
        out.extend_from_slice(&header.type_covered.to_be_bytes());
        out.extend_from_slice(&encode::CLASS_IN.to_be_bytes());
        out.extend_from_slice(&header.original_ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
}

/// Lowercases the labels of a wire name in place.
pub fn lowercase_name(wire: &mut [u8]) {
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        let len = usize::from(len);
        if len == 0 || at + 1 + len > wire.len() {
            return;
        }
        wire[at + 1..at + 1 + len].make_ascii_lowercase();
        at += 1 + len;
    }
}

/// RFC 4034 §4.1.2: the Type Bit Maps field for `types` (any order, duplicates allowed),
/// appended to `out`: for each window of 256 types in use, its number, the length of its
/// bitmap (trailing zero octets left out) and the bitmap.
pub fn write_type_bitmap(types: &[u16], out: &mut Vec<u8>) {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut i = 0;
    while i < sorted.len() {
        let window = (sorted[i] >> 8) as u8;
        let mut bitmap = [0u8; 32];
        let mut used = 0;
        while i < sorted.len() && (sorted[i] >> 8) as u8 == window {
            let low = (sorted[i] & 0xff) as usize;
            bitmap[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bitmap[..used]);
    }
}

/// The types a Type Bit Maps field lists (for tests and checks).
pub fn read_type_bitmap(mut field: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    while !field.is_empty() {
        let (window, len) = (u16::from(field[0]), usize::from(*field.get(1)?));
        let bitmap = field.get(2..2 + len)?;
        for (octet, bits) in bitmap.iter().enumerate() {
            for bit in 0..8 {
                if bits & (0x80 >> bit) != 0 {
                    types.push(window << 8 | (octet * 8 + bit) as u16);
                }
            }
        }
        field = &field[2 + len..];
    }
    Some(types)
}

/// RFC 4034 §4.1: NSEC RDATA: the next owner name (wire form, as given) and the bitmap of
/// `types`.
pub fn nsec_rdata(next: &[u8], types: &[u16]) -> Vec<u8> {
    let mut out = next.to_vec();
    write_type_bitmap(types, &mut out);
    out
}

/// RFC 4034 §2.1: DNSKEY RDATA: flags, protocol 3, algorithm, public key.
pub fn dnskey_rdata(flags: u16, algorithm: u8, public_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + public_key.len());
    out.extend_from_slice(&flags.to_be_bytes());
    out.push(3);
    out.push(algorithm);
    out.extend_from_slice(public_key);
    out
}

/// RFC 4034 Appendix B: the key tag of a DNSKEY RDATA (algorithm 1 is not used here).
pub fn key_tag(dnskey: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, &octet) in dnskey.iter().enumerate() {
        sum += if i % 2 == 0 { u32::from(octet) << 8 } else { u32::from(octet) };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// RFC 4034 §5.1 with RFC 4509's SHA-256 (digest type 2): DS RDATA for the DNSKEY RDATA
/// `dnskey` of the zone `owner` (wire form): key tag, algorithm, digest type, and
/// SHA-256 of the owner in canonical form followed by the DNSKEY RDATA (§5.1.4).
pub fn ds_rdata(owner: &[u8], dnskey: &[u8]) -> Vec<u8> {
    let mut owner = owner.to_vec();
    lowercase_name(&mut owner);
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(&owner);
    context.update(dnskey);
    let mut out = Vec::with_capacity(36);
    out.extend_from_slice(&key_tag(dnskey).to_be_bytes());
    out.push(dnskey[3]);
    out.push(DIGEST_SHA256);
    out.extend_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_is_rfc_4034_section_6_1s_example() {
        // RFC 4034 §6.1's example, in canonical order.
        let names: Vec<Vec<u8>> = ["example", "a.example", "yljkjljk.a.example", "Z.a.example", "zABC.a.EXAMPLE"]
            .iter()
            .map(|n| {
                let mut w = Vec::new();
                for l in n.split('.') {
                    w.push(l.len() as u8);
                    w.extend_from_slice(l.as_bytes());
                }
                w.push(0);
                w
            })
            .collect();
        for pair in names.windows(2) {
            assert_eq!(canonical_cmp(&pair[0], &pair[1]), Ordering::Less, "{:?}", pair);
        }
        let octets = |prefix: &[u8]| [prefix, b"\x01a\x07example\x00"].concat();
        // "\001.z.example" < "*.z.example" < "\200.z.example" (octets, not letters).
        assert_eq!(canonical_cmp(&octets(b"\x01\x01"), &octets(b"\x01*")), Ordering::Less);
        assert_eq!(canonical_cmp(&octets(b"\x01*"), &octets(b"\x01\xc8")), Ordering::Less);
    }

    #[test]
    fn key_tag_and_ds_match_rfc_4034_section_5_4() {
        // RFC 4034 §5.4: dskey.example.com's DNSKEY (RSA/SHA-1), key tag 60485.
        let key = data_encoding::BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let dnskey = dnskey_rdata(256, 5, &key);
        assert_eq!(key_tag(&dnskey), 60485);
        let ds = ds_rdata(&crate::name::to_wire("dskey.example.com"), &dnskey);
        assert_eq!(&ds[..4], &[0xec, 0x45, 5, 2]);
        // RFC 4509 §2.3's SHA-256 DS of the same key.
        assert_eq!(
            data_encoding::HEXUPPER.encode(&ds[4..]),
            "D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A"
        );
    }

    #[test]
    fn type_bitmap_is_rfc_4034_section_4_3s_example() {
        // A MX RRSIG NSEC TYPE1234: RFC 4034 §4.3.
        let mut out = Vec::new();
        write_type_bitmap(&[1, 15, 46, 47, 1234], &mut out);
        let want: [u8; 37] = [
            0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x20,
        ];
        assert_eq!(out, want);
        assert_eq!(read_type_bitmap(&out).unwrap(), [1, 15, 46, 47, 1234]);
    }

    #[test]
    fn canonical_rdata_lowercases_names_of_the_listed_types_only() {
        let mut rp = Vec::new();
        rp.extend_from_slice(&crate::name::to_wire("a.b"));
        rp[1] = b'A';
        let mut out = Vec::new();
        canonical_rdata(17, &rp, &mut out);
        assert_eq!(out[1], b'a');
        out.clear();
        canonical_rdata(16, b"\x03ABC", &mut out);
        assert_eq!(out, b"\x03ABC", "TXT is copied");
        assert_eq!(label_count(&crate::name::to_wire("*.a.example")), 2);
        assert_eq!(suffix(&crate::name::to_wire("x.a.example"), 2), crate::name::to_wire("a.example").as_slice());
    }
}
