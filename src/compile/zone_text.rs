//! The presentation forms of record types BIND reads that the `domain` crate's scanner
//! does not (LOC, CERT, URI, AFSDB, ...): before the scanner reads a file, each such
//! record's data is rewritten into RFC 3597 form (`TYPEnnn \# LENGTH HEX`), on the same
//! lines, so that the file is read whole and every error keeps its line.
//!
//! Each format follows the type's RFC and BIND's `lib/dns/rdata` reading of it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types this module reads, with their numbers.
const TYPES: &[(&str, u16)] = &[
    ("MD", 3),
    ("MF", 4),
    ("WKS", 11),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP", 22),
    ("NSAP-PTR", 23),
    ("SIG", 24),
    ("KEY", 25),
    ("PX", 26),
    ("GPOS", 27),
    ("LOC", 29),
    ("NXT", 30),
    ("EID", 31),
    ("NIMLOC", 32),
    ("ATMA", 34),
    ("KX", 36),
    ("CERT", 37),
    ("A6", 38),
    ("APL", 42),
    ("DHCID", 49),
    ("HIP", 55),
    ("NINFO", 56),
    ("TALINK", 58),
    ("CSYNC", 62),
    ("SPF", 99),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("URI", 256),
    ("AVC", 258),
    ("AMTRELAY", 260),
    ("RESINFO", 261),
    ("WALLET", 262),
    ("TA", 32768),
    ("DLV", 32769),
    ("AFSDB", 18),
    ("SMIMEA", 53),
];

/// One token of a record: its text with escapes as written, and whether it was quoted.
#[derive(Debug)]
struct Token<'t> {
    raw: &'t [u8],
    quoted: bool,
    start: usize,
}

/// `text` with the records of [`TYPES`] in RFC 3597 form; `origin` is the file's
/// initial origin (normalized). An error names the 1-based line of the record.
pub fn rewrite(text: &[u8], origin: &str) -> Result<Vec<u8>, (usize, String)> {
    let mut out = Vec::with_capacity(text.len());
    let mut origin = origin.to_string();
    let mut at = 0;
    let mut line = 1;
    while at < text.len() {
        let (end, tokens, newlines) = entry(text, at);
        let first_line = line;
        line += newlines;
        let mut rewritten = None;
        if let Some(first) = tokens.first() {
            let owner_given = !text[at].is_ascii_whitespace();
            if owner_given && first.raw.eq_ignore_ascii_case(b"$ORIGIN") {
                if let Some(name) = tokens.get(1) {
                    origin = absolute(name.raw, &origin);
                }
            } else if !(owner_given && first.raw.starts_with(b"$")) {
                let mut i = usize::from(owner_given);
                // TTL and class, in either order.
                for _ in 0..2 {
                    if tokens.get(i).is_some_and(|t| !t.quoted && (is_ttl(t.raw) || is_class(t.raw))) {
                        i += 1;
                    }
                }
                if let Some(rtype) = tokens.get(i)
                    && let Some(&(_, number)) =
                        TYPES.iter().find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(rtype.raw))
                {
                    let data = convert(number, &tokens[i + 1..], &origin)
                        .map_err(|m| (first_line, format!("{}: {m}", String::from_utf8_lossy(rtype.raw))))?;
                    let mut generic = format!("TYPE{number} \\# {}", data.len());
                    if !data.is_empty() {
                        generic.push(' ');
                        generic.push_str(&data_encoding::HEXLOWER.encode(&data));
                    }
                    let mut replaced = text[at..rtype.start].to_vec();
                    replaced.extend_from_slice(generic.as_bytes());
                    replaced.extend(std::iter::repeat_n(b'\n', newlines.saturating_sub(1)));
                    rewritten = Some(replaced);
                }
            }
        }
        match rewritten {
            Some(replaced) => {
                out.extend_from_slice(&replaced);
                // The entry's last newline, as written.
                if text[..end].ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
            None => out.extend_from_slice(&text[at..end]),
        }
        at = end;
    }
    Ok(out)
}

/// The entry starting at `at`: where it ends (after its last newline), its tokens, and
/// how many newlines it holds (parentheses continue an entry over lines).
fn entry(text: &[u8], mut at: usize) -> (usize, Vec<Token<'_>>, usize) {
    let mut tokens = Vec::new();
    let (mut depth, mut newlines) = (0usize, 0usize);
    while at < text.len() {
        match text[at] {
            b'\n' => {
                newlines += 1;
                at += 1;
                if depth == 0 {
                    break;
                }
            }
            b';' => {
                while at < text.len() && text[at] != b'\n' {
                    at += 1;
                }
            }
            b'(' => {
                depth += 1;
                at += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'"' => {
                let start = at + 1;
                at += 1;
                while at < text.len() && text[at] != b'"' {
                    if text[at] == b'\\' {
                        at += 1;
                    }
                    if at < text.len() && text[at] == b'\n' {
                        newlines += 1;
                    }
                    at += 1;
                }
                tokens.push(Token { raw: &text[start..at.min(text.len())], quoted: true, start: start - 1 });
                at += 1;
            }
            c if c.is_ascii_whitespace() => at += 1,
            _ => {
                let start = at;
                while at < text.len() && !matches!(text[at], b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"') {
                    if text[at] == b'\\' {
                        at += 1;
                    }
                    at += 1;
                }
                tokens.push(Token { raw: &text[start..at.min(text.len())], quoted: false, start });
            }
        }
    }
    (at.min(text.len()), tokens, newlines)
}

fn is_ttl(raw: &[u8]) -> bool {
    !raw.is_empty() && raw[0].is_ascii_digit() && parse_ttl(&String::from_utf8_lossy(raw)).is_some()
}

fn is_class(raw: &[u8]) -> bool {
    let upper = raw.to_ascii_uppercase();
    matches!(&upper[..], b"IN" | b"CH" | b"HS" | b"CS") || upper.starts_with(b"CLASS")
}

/// An absolute name (normalized text, without the trailing dot) for `raw` in `origin`.
fn absolute(raw: &[u8], origin: &str) -> String {
    let text = String::from_utf8_lossy(raw).to_string();
    match text.as_str() {
        "@" => origin.to_string(),
        t if t.ends_with('.') && !t.ends_with("\\.") => t.trim_end_matches('.').to_string(),
        t if origin.is_empty() => t.to_string(),
        t => format!("{t}.{origin}"),
    }
}

/// The wire form of a name written `raw` in `origin` (escapes read; letter case kept).
fn name(raw: &[u8], origin: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let text = absolute(raw, origin);
    if text.is_empty() || text == "." {
        out.push(0);
        return Ok(());
    }
    let bytes = text.as_bytes();
    let mut label = Vec::new();
    let mut i = 0;
    let flush = |label: &mut Vec<u8>, out: &mut Vec<u8>| -> Result<(), String> {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("bad name {text:?}"));
        }
        out.push(label.len() as u8);
        out.append(label);
        Ok(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                flush(&mut label, out)?;
                i += 1;
            }
            b'\\' => {
                let (c, used) = escape(&bytes[i..]).ok_or_else(|| format!("bad escape in {text:?}"))?;
                label.push(c);
                i += used;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    flush(&mut label, out)?;
    out.push(0);
    Ok(())
}

/// An escape `\X` or `\DDD` at the start of `bytes`: the octet and its length.
fn escape(bytes: &[u8]) -> Option<(u8, usize)> {
    match bytes.get(1..4) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            let v = u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
            u8::try_from(v).ok().map(|v| (v, 4))
        }
        _ => bytes.get(1).map(|&c| (c, 2)),
    }
}

/// The octets of a token, escapes read.
fn octets(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let (c, used) = escape(&raw[i..]).ok_or("a bad escape")?;
            out.push(c);
            i += used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// RFC 1035 §3.3 `<character-string>`: a length octet, then at most 255 octets.
fn charstring(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let text = octets(raw)?;
    if text.len() > 255 {
        return Err("a string of more than 255 octets".into());
    }
    out.push(text.len() as u8);
    out.extend_from_slice(&text);
    Ok(())
}

/// Reads one record's data tokens into wire form.
struct Fields<'a, 't> {
    tokens: &'a [Token<'t>],
    next: usize,
    origin: &'a str,
    out: Vec<u8>,
}

impl<'t> Fields<'_, 't> {
    fn token(&mut self, what: &str) -> Result<&'t [u8], String> {
        let t = self.tokens.get(self.next).ok_or_else(|| format!("missing {what}"))?;
        self.next += 1;
        Ok(t.raw)
    }

    fn text(&mut self, what: &str) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.token(what)?).to_string())
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, String> {
        let text = self.text(what)?;
        text.parse().map_err(|_| format!("bad {what} {text:?}"))
    }

    fn u8(&mut self, what: &str) -> Result<(), String> {
        let v: u8 = self.number(what)?;
        self.out.push(v);
        Ok(())
    }

    fn u16(&mut self, what: &str) -> Result<(), String> {
        let v: u16 = self.number(what)?;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<(), String> {
        let v: u32 = self.number(what)?;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    fn name(&mut self, what: &str) -> Result<(), String> {
        let raw = self.token(what)?;
        name(raw, self.origin, &mut self.out)
    }

    fn charstring(&mut self, what: &str) -> Result<(), String> {
        let raw = self.token(what)?;
        charstring(raw, &mut self.out)
    }

    fn rest(&self) -> bool {
        self.next < self.tokens.len()
    }

    /// Every token left, joined (base64 and hex may be split by spaces).
    fn joined(&mut self) -> String {
        let mut text = String::new();
        while self.rest() {
            text.push_str(&String::from_utf8_lossy(self.tokens[self.next].raw));
            self.next += 1;
        }
        text
    }

    fn base64_rest(&mut self, what: &str) -> Result<(), String> {
        let text = self.joined();
        let data = data_encoding::BASE64.decode(text.as_bytes()).map_err(|_| format!("bad base64 {what}"))?;
        self.out.extend_from_slice(&data);
        Ok(())
    }

    fn hex_rest(&mut self, what: &str) -> Result<(), String> {
        let text = self.joined();
        let data = data_encoding::HEXLOWER_PERMISSIVE.decode(text.as_bytes()).map_err(|_| format!("bad hex {what}"))?;
        self.out.extend_from_slice(&data);
        Ok(())
    }

    fn ipv4(&mut self, what: &str) -> Result<(), String> {
        let a: Ipv4Addr = self.number(what)?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    fn ipv6(&mut self, what: &str) -> Result<(), String> {
        let a: Ipv6Addr = self.number(what)?;
        self.out.extend_from_slice(&a.octets());
        Ok(())
    }

    /// Groups of hex digits separated by `sep`, `count` octets in all.
    fn hex_groups(&mut self, what: &str, sep: char, count: usize) -> Result<(), String> {
        let text = self.text(what)?;
        let digits: String = text.split(sep).collect();
        let data =
            data_encoding::HEXLOWER_PERMISSIVE.decode(digits.as_bytes()).map_err(|_| format!("bad {what} {text:?}"))?;
        if data.len() != count {
            return Err(format!("bad {what} {text:?}"));
        }
        self.out.extend_from_slice(&data);
        Ok(())
    }

    /// RFC 4034 §4.1.2 type bitmap of the mnemonics left.
    fn type_bitmap(&mut self) -> Result<(), String> {
        let mut types = Vec::new();
        while self.rest() {
            let text = self.text("type")?;
            types.push(u16::from(crate::rdata::parse_any_type(&text)?));
        }
        types.sort_unstable();
        types.dedup();
        let mut window: Option<(u8, [u8; 32], usize)> = None;
        let flush = |w: Option<(u8, [u8; 32], usize)>, out: &mut Vec<u8>| {
            if let Some((n, bits, len)) = w {
                out.push(n);
                out.push(len as u8);
                out.extend_from_slice(&bits[..len]);
            }
        };
        for t in types {
            let (n, low) = ((t >> 8) as u8, (t & 0xff) as usize);
            if window.as_ref().is_none_or(|w| w.0 != n) {
                flush(window.take(), &mut self.out);
                window = Some((n, [0; 32], 0));
            }
            let w = window.as_mut().expect("set above");
            w.1[low / 8] |= 0x80 >> (low % 8);
            w.2 = w.2.max(low / 8 + 1);
        }
        flush(window, &mut self.out);
        Ok(())
    }

    fn done(self) -> Result<Vec<u8>, String> {
        if self.rest() {
            return Err(format!("unexpected {:?}", String::from_utf8_lossy(self.tokens[self.next].raw)));
        }
        Ok(self.out)
    }
}

/// The RDATA of type `number` written as `tokens`.
fn convert(number: u16, tokens: &[Token<'_>], origin: &str) -> Result<Vec<u8>, String> {
    let mut f = Fields { tokens, next: 0, origin, out: Vec::new() };
    match number {
        // RFC 1035 §3.3.4, §3.3.5 (obsolete MD, MF); RFC 1348 NSAP-PTR.
        3 | 4 | 23 => f.name("name")?,
        // RFC 1183 §2.1 AFSDB, §3.3 RT; RFC 2230 KX; RFC 6742 LP.
        18 | 21 | 36 | 107 => {
            f.u16("preference")?;
            f.name("host")?;
        }
        // RFC 2163 PX.
        26 => {
            f.u16("preference")?;
            f.name("map822")?;
            f.name("mapx400")?;
        }
        // TALINK: previous and next name.
        58 => {
            f.name("previous")?;
            f.name("next")?;
        }
        // RFC 1183 §3.1 X25; NINFO, AVC, RESINFO (RFC 9606), WALLET, SPF (RFC 7208 §3.1): text.
        19 | 56 | 99 | 258 | 261 | 262 => {
            f.charstring("text")?;
            while f.rest() {
                f.charstring("text")?;
            }
        }
        // RFC 1183 §3.2 ISDN: address, optional subaddress.
        20 => {
            f.charstring("address")?;
            if f.rest() {
                f.charstring("subaddress")?;
            }
        }
        // RFC 1712 GPOS: longitude, latitude, altitude.
        27 => {
            for what in ["longitude", "latitude", "altitude"] {
                f.charstring(what)?;
            }
        }
        // RFC 7553 URI: priority, weight, target (the rest of the data, no length).
        256 => {
            f.u16("priority")?;
            f.u16("weight")?;
            let target = octets(f.token("target")?)?;
            f.out.extend_from_slice(&target);
        }
        // RFC 4398 CERT.
        37 => {
            let kind = f.text("type")?;
            let kind = cert_type(&kind).ok_or_else(|| format!("bad certificate type {kind:?}"))?;
            f.out.extend_from_slice(&kind.to_be_bytes());
            f.u16("key tag")?;
            let algorithm = f.text("algorithm")?;
            f.out.push(algorithm_number(&algorithm).ok_or_else(|| format!("bad algorithm {algorithm:?}"))?);
            f.base64_rest("certificate")?;
        }
        // RFC 4701 DHCID.
        49 => f.base64_rest("digest")?,
        // RFC 7043 EUI48, EUI64.
        108 => f.hex_groups("EUI-48", '-', 6)?,
        109 => f.hex_groups("EUI-64", '-', 8)?,
        // RFC 6742 L32, L64, NID.
        105 => {
            f.u16("preference")?;
            f.ipv4("locator")?;
        }
        104 | 106 => {
            f.u16("preference")?;
            f.hex_groups("locator", ':', 8)?;
        }
        // RFC 8162 SMIMEA (as TLSA); TA and DLV (RFC 4431, as DS).
        53 => {
            f.u8("usage")?;
            f.u8("selector")?;
            f.u8("matching type")?;
            f.hex_rest("data")?;
        }
        32768 | 32769 => {
            f.u16("key tag")?;
            let algorithm = f.text("algorithm")?;
            f.out.push(algorithm_number(&algorithm).ok_or_else(|| format!("bad algorithm {algorithm:?}"))?);
            f.u8("digest type")?;
            f.hex_rest("digest")?;
        }
        // RFC 2535 §3 KEY (as DNSKEY).
        25 => {
            f.u16("flags")?;
            f.u8("protocol")?;
            let algorithm = f.text("algorithm")?;
            f.out.push(algorithm_number(&algorithm).ok_or_else(|| format!("bad algorithm {algorithm:?}"))?);
            f.base64_rest("key")?;
        }
        // RFC 7477 CSYNC: SOA serial, flags, types.
        62 => {
            f.u32("serial")?;
            f.u16("flags")?;
            f.type_bitmap()?;
        }
        // RFC 1706 NSAP: 0x and hex digits, dots allowed.
        22 => {
            let text = f.text("address")?;
            let digits: String = text
                .strip_prefix("0x")
                .or(text.strip_prefix("0X"))
                .ok_or("an NSAP address starts with 0x")?
                .split('.')
                .collect();
            f.out.extend(
                data_encoding::HEXLOWER_PERMISSIVE
                    .decode(digits.as_bytes())
                    .map_err(|_| format!("bad NSAP {text:?}"))?,
            );
        }
        // EID, NIMLOC: hex.
        31 | 32 => f.hex_rest("data")?,
        // ATMA: an NSAP in hex, or an E.164 number with a +.
        34 => {
            let text = f.text("address")?;
            match text.strip_prefix('+') {
                Some(digits) if digits.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                    f.out.push(1);
                    f.out.extend(digits.bytes().filter(u8::is_ascii_digit));
                }
                _ => {
                    f.out.push(0);
                    let digits: String = text.split('.').collect();
                    f.out.extend(
                        data_encoding::HEXLOWER_PERMISSIVE
                            .decode(digits.as_bytes())
                            .map_err(|_| format!("bad ATMA {text:?}"))?,
                    );
                }
            }
        }
        // RFC 3123 APL.
        42 => {
            while f.rest() {
                let text = f.text("prefix")?;
                apl_item(&text, &mut f.out)?;
            }
        }
        // RFC 1876 LOC.
        29 => {
            let words: Vec<String> = f.tokens.iter().map(|t| String::from_utf8_lossy(t.raw).to_string()).collect();
            f.next = f.tokens.len();
            loc(&words, &mut f.out)?;
        }
        // RFC 2065 NXT: next name and types (the old bitmap, types below 128).
        30 => {
            f.name("next")?;
            let mut bits = [0u8; 16];
            let mut len = 0;
            while f.rest() {
                let text = f.text("type")?;
                let t = usize::from(u16::from(crate::rdata::parse_any_type(&text)?));
                if t >= 128 {
                    return Err(format!("type {text} does not fit an NXT bitmap"));
                }
                bits[t / 8] |= 0x80 >> (t % 8);
                len = len.max(t / 8 + 1);
            }
            f.out.extend_from_slice(&bits[..len]);
        }
        // RFC 2535 SIG (as RRSIG, RFC 4034 §3.2).
        24 => {
            let covered = f.text("type covered")?;
            f.out.extend_from_slice(&u16::from(crate::rdata::parse_any_type(&covered)?).to_be_bytes());
            let algorithm = f.text("algorithm")?;
            f.out.push(algorithm_number(&algorithm).ok_or_else(|| format!("bad algorithm {algorithm:?}"))?);
            f.u8("labels")?;
            f.u32("original TTL")?;
            for what in ["expiration", "inception"] {
                let text = f.text(what)?;
                f.out.extend_from_slice(
                    &signature_time(&text).ok_or_else(|| format!("bad {what} {text:?}"))?.to_be_bytes(),
                );
            }
            f.u16("key tag")?;
            f.name("signer")?;
            f.base64_rest("signature")?;
        }
        // RFC 8005 HIP: algorithm, HIT (hex), public key (base64), rendezvous servers.
        55 => {
            let algorithm: u8 = f.number("algorithm")?;
            let hit = data_encoding::HEXLOWER_PERMISSIVE.decode(f.token("HIT")?).map_err(|_| "bad HIT")?;
            let key = data_encoding::BASE64.decode(f.token("public key")?).map_err(|_| "bad public key")?;
            f.out.push(u8::try_from(hit.len()).map_err(|_| "HIT too long")?);
            f.out.push(algorithm);
            f.out.extend_from_slice(&u16::try_from(key.len()).map_err(|_| "key too long")?.to_be_bytes());
            f.out.extend_from_slice(&hit);
            f.out.extend_from_slice(&key);
            while f.rest() {
                f.name("rendezvous server")?;
            }
        }
        // RFC 8777 AMTRELAY: precedence, D bit, type, relay.
        260 => {
            f.u8("precedence")?;
            let discovery: u8 = f.number("discovery optional")?;
            let kind: u8 = f.number("type")?;
            if discovery > 1 || kind > 3 {
                return Err("discovery is 0 or 1, the type 0 to 3".into());
            }
            f.out.push(discovery << 7 | kind);
            match kind {
                0 => {
                    if f.rest() {
                        let dot = f.text("relay")?;
                        if dot != "." {
                            return Err(format!("type 0 has no relay (\".\"), not {dot:?}"));
                        }
                    }
                }
                1 => f.ipv4("relay")?,
                2 => f.ipv6("relay")?,
                _ => f.name("relay")?,
            }
        }
        // A6 (RFC 2874): prefix length, address suffix, prefix name.
        38 => {
            let prefix: u8 = f.number("prefix length")?;
            if prefix > 128 {
                return Err(format!("prefix length {prefix} is over 128"));
            }
            f.out.push(prefix);
            let suffix: Ipv6Addr = f.number("address suffix")?;
            let skip = usize::from(prefix / 8);
            f.out.extend_from_slice(&suffix.octets()[skip..]);
            if prefix > 0 {
                f.name("prefix name")?;
            }
        }
        // RFC 1035 §3.4.2 WKS: address, protocol, services (numbers or common names).
        11 => {
            f.ipv4("address")?;
            let protocol = f.text("protocol")?.to_ascii_lowercase();
            f.out.push(match protocol.as_str() {
                "tcp" => 6,
                "udp" => 17,
                n => n.parse().map_err(|_| format!("bad protocol {n:?}"))?,
            });
            let mut bits = Vec::new();
            while f.rest() {
                let service = f.text("service")?.to_ascii_lowercase();
                let port = service_port(&service)
                    .ok_or_else(|| format!("unknown service {service:?} (a port number does)"))?;
                let (byte, bit) = (usize::from(port / 8), port % 8);
                if bits.len() <= byte {
                    bits.resize(byte + 1, 0);
                }
                bits[byte] |= 0x80 >> bit;
            }
            f.out.extend_from_slice(&bits);
        }
        other => return Err(format!("type {other} has no reader")),
    }
    f.done()
}

/// RFC 4398 §2.1 certificate types by mnemonic or number.
fn cert_type(text: &str) -> Option<u16> {
    let names = ["PKIX", "SPKI", "PGP", "IPKIX", "ISPKI", "IPGP", "ACPKIX", "IACPKIX"];
    match names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        Some(i) => Some(i as u16 + 1),
        None if text.eq_ignore_ascii_case("URI") => Some(253),
        None if text.eq_ignore_ascii_case("OID") => Some(254),
        None => text.parse().ok(),
    }
}

/// DNSSEC algorithm numbers by mnemonic (RFC 8624's table) or number.
fn algorithm_number(text: &str) -> Option<u8> {
    let names = [
        ("RSAMD5", 1),
        ("DH", 2),
        ("DSA", 3),
        ("RSASHA1", 5),
        ("DSA-NSEC3-SHA1", 6),
        ("RSASHA1-NSEC3-SHA1", 7),
        ("RSASHA256", 8),
        ("RSASHA512", 10),
        ("ECC-GOST", 12),
        ("ECDSAP256SHA256", 13),
        ("ECDSAP384SHA384", 14),
        ("ED25519", 15),
        ("ED448", 16),
        ("INDIRECT", 252),
        ("PRIVATEDNS", 253),
        ("PRIVATEOID", 254),
    ];
    names.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)).map(|&(_, v)| v).or_else(|| text.parse().ok())
}

/// A signature time: `YYYYMMDDHHmmSS` (UTC) or seconds since the epoch.
fn signature_time(text: &str) -> Option<u32> {
    if text.len() != 14 {
        return text.parse().ok();
    }
    let part = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (part(0..4)?, part(4..6)?, part(6..8)?, part(8..10)?, part(10..12)?, part(12..14)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as u32)
}

/// A few well-known services for WKS, by name.
fn service_port(name: &str) -> Option<u16> {
    let known = [
        ("ftp-data", 20),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("http", 80),
        ("pop3", 110),
        ("nntp", 119),
        ("ntp", 123),
        ("imap", 143),
        ("snmp", 161),
        ("ldap", 389),
        ("https", 443),
    ];
    known.iter().find(|(n, _)| *n == name).map(|&(_, p)| p).or_else(|| name.parse().ok())
}

/// RFC 3123 §4: `[!]AFI:ADDRESS/PREFIX`.
fn apl_item(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("bad APL item {text:?}");
    let (negated, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (family, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (address, prefix) = rest.split_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let (family, octets): (u16, Vec<u8>) = match family {
        "1" => (1, address.parse::<Ipv4Addr>().map_err(|_| bad())?.octets().to_vec()),
        "2" => (2, address.parse::<Ipv6Addr>().map_err(|_| bad())?.octets().to_vec()),
        _ => return Err(bad()),
    };
    if usize::from(prefix) > octets.len() * 8 {
        return Err(bad());
    }
    // Trailing zero octets are not sent (§4).
    let len = octets.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    out.extend_from_slice(&family.to_be_bytes());
    out.push(prefix);
    out.push(u8::from(negated) << 7 | len as u8);
    out.extend_from_slice(&octets[..len]);
    Ok(())
}

/// RFC 1876 §3: `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`.
fn loc(words: &[String], out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("bad LOC data {:?}", words.join(" "));
    let mut i = 0;
    let mut angle = |hemispheres: [&str; 2], limit: f64| -> Result<u32, String> {
        let mut parts = Vec::new();
        while i < words.len() && !hemispheres.iter().any(|h| words[i].eq_ignore_ascii_case(h)) {
            parts.push(words[i].parse::<f64>().map_err(|_| bad())?);
            i += 1;
            if parts.len() > 3 {
                return Err(bad());
            }
        }
        let hemisphere = words.get(i).ok_or_else(bad)?;
        i += 1;
        let value = parts.first().copied().ok_or_else(bad)?
            + parts.get(1).copied().unwrap_or(0.0) / 60.0
            + parts.get(2).copied().unwrap_or(0.0) / 3600.0;
        if value > limit {
            return Err(bad());
        }
        let thousandths = (value * 3_600_000.0).round() as i64;
        let signed = if hemisphere.eq_ignore_ascii_case(hemispheres[0]) { thousandths } else { -thousandths };
        Ok((2_147_483_648i64 + signed) as u32)
    };
    let latitude = angle(["N", "S"], 90.0)?;
    let longitude = angle(["E", "W"], 180.0)?;
    let metres = |w: &str| -> Result<f64, String> { w.trim_end_matches(['m', 'M']).parse::<f64>().map_err(|_| bad()) };
    let altitude = metres(words.get(i).ok_or_else(bad)?)?;
    // Size and precisions: RFC 1876's defaults 1 m, 10 km, 10 m.
    let defaults = [1.0, 10_000.0, 10.0];
    let mut sizes = [0u8; 3];
    for (k, size) in sizes.iter_mut().enumerate() {
        let value = match words.get(i + 1 + k) {
            Some(w) => metres(w)?,
            None => defaults[k],
        };
        *size = precision(value).ok_or_else(bad)?;
    }
    if words.len() > i + 4 {
        return Err(bad());
    }
    out.push(0);
    out.extend_from_slice(&sizes);
    out.extend_from_slice(&latitude.to_be_bytes());
    out.extend_from_slice(&longitude.to_be_bytes());
    let altitude = (altitude * 100.0).round() as i64 + 10_000_000;
    out.extend_from_slice(&u32::try_from(altitude).map_err(|_| bad())?.to_be_bytes());
    Ok(())
}

/// RFC 1876 §2: a size in metres as mantissa and power of ten of centimetres (the digits
/// after the first are dropped, as BIND does).
fn precision(metres: f64) -> Option<u8> {
    if !(0.0..=90_000_000.0).contains(&metres) {
        return None;
    }
    let mut centimetres = (metres * 100.0).round() as u64;
    let mut exponent = 0u8;
    while centimetres >= 10 {
        centimetres /= 10;
        exponent += 1;
    }
    Some((centimetres as u8) << 4 | exponent)
}

/// A TTL as zone files write it: seconds, or BIND's `1w2d3h4m5s`.
pub fn parse_ttl(text: &str) -> Option<u32> {
    if let Ok(seconds) = text.parse::<u32>() {
        return Some(seconds);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(d))?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    total = total.checked_add(number.unwrap_or(0))?;
    u32::try_from(total).ok()
}
