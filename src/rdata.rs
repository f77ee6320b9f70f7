//! Record data as compiled from the rules, with zone-file presentation both ways.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A record type (RFC 1035 §3.2.2, the IANA registry): `domain`'s, so that what the zone
/// files, transfers and answers of other servers name is the same type we answer with.
pub use domain::base::iana::Rtype as RecordType;

use crate::name::Name;

/// The data of one resource record. Names are normalized (see [`crate::name`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RData {
    /// RFC 1035 §3.4.1.
    A(Ipv4Addr),
    /// RFC 3596 §2.2.
    Aaaa(Ipv6Addr),
    /// RFC 1035 §3.3.1.
    Cname(Name),
    /// RFC 1035 §3.3.11.
    Ns(Name),
    /// RFC 1035 §3.3.12 (linedns writes them only in its catalog zone, RFC 9432 §4.2).
    Ptr(Name),
    /// RFC 1035 §3.3.9.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// Mail exchanger.
        exchange: Name,
    },
    /// RFC 1035 §3.3.14: the text, split into 255-octet strings on the wire.
    Txt(Box<str>),
    /// RFC 2782.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// Service port.
        port: u16,
        /// Target host.
        target: Name,
    },
    /// RFC 8659 §4.1.
    Caa {
        /// Flags (128 = issuer critical).
        flags: u8,
        /// Property tag: issue, issuewild, iodef.
        tag: Box<str>,
        /// Property value.
        value: Box<str>,
    },
    /// RFC 1035 §3.3.13.
    Soa {
        /// Primary name server.
        mname: Name,
        /// Responsible mailbox as a name.
        rname: Name,
        /// Zone serial.
        serial: u32,
        /// Secondaries' refresh interval.
        refresh: u32,
        /// Secondaries' retry interval.
        retry: u32,
        /// Secondaries' expiry.
        expire: u32,
        /// Negative-caching TTL.
        minimum: u32,
    },
    /// Any other type, kept as its wire-form RDATA (names uncompressed, letter case as
    /// written): served as it is (RFC 3597 §4: only RFC 1035's types may compress).
    Other {
        /// The record type's number.
        rtype: u16,
        /// The RDATA.
        data: Box<[u8]>,
    },
}

/// The record types the engine answers by name: those a rules file may hold as static
/// records, then SOA and ANY (what metrics count and `explain` asks by name).
pub const ANSWERED_TYPES: [RecordType; 10] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::TXT,
    RecordType::NS,
    RecordType::SRV,
    RecordType::CAA,
    RecordType::SOA,
    RecordType::ANY,
];

/// The record types a rules file may hold as static records.
pub const STATIC_TYPES: &[RecordType] = ANSWERED_TYPES.split_at(8).0;

/// Parses any record type a zone file may name: a mnemonic or `TYPEnnn` (RFC 3597 §5).
pub fn parse_any_type(text: &str) -> Result<RecordType, String> {
    text.to_ascii_uppercase()
        .parse::<RecordType>()
        .map_err(|_| format!("unknown record type {text:?} (a type's name, or TYPEnnn for any other)"))
}

/// Parses a record type name (`a`, `AAAA`, ...) among `allowed`.
pub fn parse_type(text: &str, allowed: &[RecordType]) -> Result<RecordType, String> {
    let upper = text.to_ascii_uppercase();
    allowed.iter().copied().find(|t| t.to_string() == upper).ok_or_else(|| {
        let names: Vec<String> = allowed.iter().map(|t| t.to_string()).collect();
        format!("unsupported record type {text:?} (supported: {})", names.join(", "))
    })
}

impl RData {
    /// The record type.
    pub fn rtype(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::AAAA,
            RData::Cname(_) => RecordType::CNAME,
            RData::Ns(_) => RecordType::NS,
            RData::Ptr(_) => RecordType::PTR,
            RData::Mx { .. } => RecordType::MX,
            RData::Txt(_) => RecordType::TXT,
            RData::Srv { .. } => RecordType::SRV,
            RData::Caa { .. } => RecordType::CAA,
            RData::Soa { .. } => RecordType::SOA,
            RData::Other { rtype, .. } => RecordType::from(*rtype),
        }
    }

    /// The record of type `rtype` whose wire-form RDATA (names uncompressed) is `data`:
    /// the types the engine reads (A, AAAA, NS, CNAME, SOA) as their fields, any other
    /// as [`RData::Other`], octet for octet.
    pub fn from_wire(rtype: RecordType, data: &[u8]) -> Result<RData, String> {
        let short = || format!("{} RDATA of {} octets is malformed", rtype, data.len());
        Ok(match rtype {
            RecordType::A => RData::A(<[u8; 4]>::try_from(data).map_err(|_| short())?.into()),
            RecordType::AAAA => RData::Aaaa(<[u8; 16]>::try_from(data).map_err(|_| short())?.into()),
            RecordType::NS | RecordType::CNAME => {
                let (target, end) = wire_name(data, 0).ok_or_else(short)?;
                if end != data.len() {
                    return Err(short());
                }
                if rtype == RecordType::NS { RData::Ns(target) } else { RData::Cname(target) }
            }
            RecordType::SOA => {
                let (mname, at) = wire_name(data, 0).ok_or_else(short)?;
                let (rname, at) = wire_name(data, at).ok_or_else(short)?;
                let numbers = data.get(at..).filter(|rest| rest.len() == 20).ok_or_else(short)?;
                let field = |i: usize| u32::from_be_bytes(numbers[i * 4..i * 4 + 4].try_into().expect("4 octets"));
                RData::Soa {
                    mname,
                    rname,
                    serial: field(0),
                    refresh: field(1),
                    retry: field(2),
                    expire: field(3),
                    minimum: field(4),
                }
            }
            other => RData::Other { rtype: u16::from(other), data: data.into() },
        })
    }

    /// Parses zone-file presentation of any type with the `domain` crate's scanner (RFC
    /// 1035 §5.1 escapes and quoting, RFC 3597 `\# LENGTH HEX` for any type); names are
    /// relative to `origin`.
    pub fn parse_presentation(rtype: RecordType, text: &str, origin: &str) -> Result<RData, String> {
        use domain::base::rdata::ComposeRecordData;
        use domain::zonefile::inplace::{Entry, Zonefile};
        let mut zone = Zonefile::new();
        zone.extend_from_slice(format!("@ 0 IN {} {text}\n", rtype).as_bytes());
        let origin = domain::base::Name::bytes_from_str(&format!("{origin}."))
            .map_err(|e| format!("bad origin {origin:?}: {e}"))?;
        zone.set_origin(origin);
        let bad = |e: &dyn fmt::Display| {
            let e = e.to_string();
            let e = e.split_once(": ").map_or(e.as_str(), |(_, m)| m).to_string();
            format!("bad {} value {text:?}: {}", rtype, presentation_hint(rtype, &e))
        };
        let record = match zone.next_entry() {
            Ok(Some(Entry::Record(record))) => record,
            Ok(_) => return Err(bad(&"not a record")),
            Err(e) => return Err(bad(&e)),
        };
        if !matches!(zone.next_entry(), Ok(None)) {
            return Err(bad(&"more than one record"));
        }
        let mut wire = Vec::new();
        record.data().compose_rdata(&mut wire).map_err(|_| bad(&"RDATA longer than 65,535 octets"))?;
        RData::from_wire(rtype, &wire)
    }

    /// Parses presentation text; names are relative to `origin` unless they end in a dot.
    /// The types of [`STATIC_TYPES`] are read here (TXT unquoted as one text), any other
    /// by [`RData::parse_presentation`].
    pub fn parse(rtype: RecordType, text: &str, origin: &str) -> Result<RData, String> {
        let text = text.trim();
        let fields: Vec<&str> = text.split_whitespace().collect();
        let target = |s: &str| Name::in_origin(s, origin);
        let num = |s: &str, what: &str| -> Result<u16, String> {
            s.parse().map_err(|_| format!("bad {what} {s:?} in {rtype} value {text:?}"))
        };
        let arity = |n: usize, form: &str| {
            if fields.len() == n { Ok(()) } else { Err(format!("bad {rtype} value {text:?}: expected {form}")) }
        };
        if text.starts_with("\\#") {
            return RData::parse_presentation(rtype, text, origin);
        }
        Ok(match rtype {
            RecordType::A => RData::A(text.parse().map_err(|_| format!("bad IPv4 address {text:?}"))?),
            RecordType::AAAA => RData::Aaaa(text.parse().map_err(|_| format!("bad IPv6 address {text:?}"))?),
            RecordType::CNAME => RData::Cname(target(text)?),
            RecordType::NS => RData::Ns(target(text)?),
            RecordType::MX => {
                arity(2, "\"PREFERENCE EXCHANGE\"")?;
                RData::Mx { preference: num(fields[0], "preference")?, exchange: target(fields[1])? }
            }
            // Quoted character-strings (`"a" "b"`, escapes) as a zone file writes them.
            RecordType::TXT if text.starts_with('"') => RData::parse_presentation(rtype, text, origin)?,
            RecordType::TXT => {
                let unquoted = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
                if unquoted.len() > 4000 {
                    return Err(format!("TXT value of {} characters is too long (4000 at most)", unquoted.len()));
                }
                RData::Txt(unquoted.into())
            }
            RecordType::SRV => {
                arity(4, "\"PRIORITY WEIGHT PORT TARGET\"")?;
                RData::Srv {
                    priority: num(fields[0], "priority")?,
                    weight: num(fields[1], "weight")?,
                    port: num(fields[2], "port")?,
                    target: target(fields[3])?,
                }
            }
            RecordType::CAA => {
                let mut parts = text.splitn(3, char::is_whitespace);
                let (flags, tag, value) = match (parts.next(), parts.next(), parts.next()) {
                    (Some(f), Some(t), Some(v)) => (f, t, v.trim()),
                    _ => return Err(format!("bad CAA value {text:?}: expected FLAGS TAG \"VALUE\"")),
                };
                let flags: u8 = flags.parse().map_err(|_| format!("bad CAA flags {flags:?}"))?;
                if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("bad CAA tag {tag:?}: letters and digits only"));
                }
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
                RData::Caa { flags, tag: tag.to_ascii_lowercase().into(), value: value.into() }
            }
            _ => RData::parse_presentation(rtype, text, origin)?,
        })
    }
}

/// What an error of the zone-file scanner means for a type it has no presentation
/// parser for.
pub fn presentation_hint(rtype: RecordType, message: &str) -> String {
    if message.starts_with("unknown record type with concrete data") {
        let number = u16::from(rtype);
        format!(
            "{} records are read only in RFC 3597 form (`TYPE{number} \\# LENGTH HEX`; `dig +unknownformat` prints a record so)",
            rtype
        )
    } else {
        message.to_string()
    }
}

/// A name at `at` in uncompressed wire form, as its key; and where it ends.
fn wire_name(data: &[u8], at: usize) -> Option<(Name, usize)> {
    let (name, len) = Name::from_wire(data.get(at..)?)?;
    Some((name, at + len))
}

/// A normalized name shown absolute, with its trailing dot (the root as `.`).
pub struct Fqdn<'a>(pub &'a str);

impl fmt::Display for Fqdn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.", self.0)
    }
}

/// RFC 1035 §5.1 `<character-string>`s: in quotes, `"` and `\` escaped with `\`, any
/// other octet outside printable ASCII as `\DDD`. With `split`, one quoted piece per
/// 255 octets, as the wire carries them (`wire::encode::write_text`).
struct Quoted<'a> {
    text: &'a [u8],
    split: bool,
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = if self.split { 255 } else { self.text.len().max(1) };
        let mut pieces: Vec<&[u8]> = self.text.chunks(size).collect();
        if pieces.is_empty() {
            pieces.push(&[]);
        }
        for (i, piece) in pieces.iter().enumerate() {
            f.write_str(if i == 0 { "\"" } else { " \"" })?;
            for &b in *piece {
                match b {
                    b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x20..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => write!(f, "{}", Fqdn(n)),
            RData::Mx { preference, exchange } => write!(f, "{preference} {}", Fqdn(exchange)),
            RData::Txt(t) => write!(f, "{}", Quoted { text: t.as_bytes(), split: true }),
            RData::Srv { priority, weight, port, target } => write!(f, "{priority} {weight} {port} {}", Fqdn(target)),
            RData::Caa { flags, tag, value } => {
                write!(f, "{flags} {tag} {}", Quoted { text: value.as_bytes(), split: false })
            }
            RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
                write!(f, "{} {} {serial} {refresh} {retry} {expire} {minimum}", Fqdn(mname), Fqdn(rname))
            }
            RData::Other { rtype, data } if let Some(view) = named_view(RecordType::from(*rtype), data) => {
                write!(f, "{view}")
            }
            RData::Other { rtype, data } => match presentation_of(RecordType::from(*rtype), data) {
                Some(text) => f.write_str(text.trim_end()),
                None => {
                    write!(f, "\\# {}", data.len())?;
                    if !data.is_empty() {
                        write!(f, " {}", data_encoding::HEXLOWER.encode(data))?;
                    }
                    Ok(())
                }
            },
        }
    }
}

/// The MX, SRV or PTR whose wire-form RDATA is `data`, as the variant written in rules
/// (for showing it: names with their trailing dot, as the rules read them back).
fn named_view(rtype: RecordType, data: &[u8]) -> Option<RData> {
    let number = |at: usize| Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?));
    let whole = |(name, end): (Name, usize)| (end == data.len()).then_some(name);
    match rtype {
        RecordType::MX => Some(RData::Mx { preference: number(0)?, exchange: whole(wire_name(data, 2)?)? }),
        RecordType::SRV => Some(RData::Srv {
            priority: number(0)?,
            weight: number(2)?,
            port: number(4)?,
            target: whole(wire_name(data, 6)?)?,
        }),
        RecordType::PTR => Some(RData::Ptr(whole(wire_name(data, 0)?)?)),
        _ => None,
    }
}

/// `data` in the presentation form of its type, when the `domain` crate knows it and
/// reads it back to the same octets (else `None`: RFC 3597's generic form is shown).
fn presentation_of(rtype: RecordType, data: &[u8]) -> Option<String> {
    use domain::base::ParsedName;
    use domain::base::rdata::ParseRecordData;
    use domain::rdata::ZoneRecordData;
    let mut parser = domain::dep::octseq::Parser::from_ref(data);
    let parsed = ZoneRecordData::<&[u8], ParsedName<&[u8]>>::parse_rdata(rtype, &mut parser).ok()??;
    if parser.remaining() != 0 || matches!(parsed, ZoneRecordData::Unknown(_)) {
        return None;
    }
    let text = parsed.to_string();
    // Read back in a zone other than the root: a name shown without its trailing dot
    // would then come back as another name.
    let again = RData::parse_presentation(rtype, &text, "invalid").ok()?;
    matches!(again, RData::Other { data: ref d, .. } if **d == *data).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        let o = "example.com";
        let cases = [
            (RecordType::MX, "10 mail", "10 mail.example.com."),
            (RecordType::SRV, "0 5 5060 sip.example.net.", "0 5 5060 sip.example.net."),
            (RecordType::CAA, "0 issue \"letsencrypt.org\"", "0 issue \"letsencrypt.org\""),
            (RecordType::TXT, "v=spf1 -all", "\"v=spf1 -all\""),
            (RecordType::CNAME, "@", "example.com."),
        ];
        for (t, text, shown) in cases {
            assert_eq!(RData::parse(t, text, o).unwrap().to_string(), shown, "{t} {text}");
        }
        // RFC 1035 §5.1 escapes; 255-octet pieces as on the wire.
        let txt = RData::Txt("say \"hi\" \\ 中".into()).to_string();
        assert_eq!(txt, r#""say \"hi\" \\ \228\184\173""#);
        let long = RData::Txt("a".repeat(300).into()).to_string();
        assert_eq!(long, format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45)));
        assert_eq!(RData::Txt("".into()).to_string(), "\"\"");
        assert!(RData::parse(RecordType::A, "300.1.1.1", o).unwrap_err().contains("300.1.1.1"));
        assert!(RData::parse(RecordType::MX, "mail", o).unwrap_err().contains("PREFERENCE"));
        assert!(parse_type("ptr", STATIC_TYPES).unwrap_err().contains("\"ptr\""));
        assert_eq!(parse_type("aaaa", STATIC_TYPES).unwrap(), RecordType::AAAA);
    }
}

/// Owner name of an answer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The question's name (exact match or wildcard synthesis for it).
    Query,
    /// Another name (after a CNAME), normalized.
    Name(&'a str),
}

/// One record of an answer, borrowed from the snapshot.
#[derive(Clone, Copy, Debug)]
pub struct RecordRef<'a> {
    /// Owner name.
    pub owner: Owner<'a>,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The data (its type is the record type).
    pub data: &'a RData,
}
