//! Domain names as the engine keeps them: each a *key*, one text form per name on the wire.
//!
//! A DNS name is a sequence of labels of any octets (RFC 1035 §3.1; RFC 2181 §11): an
//! RFC 2317 classless reverse zone's `0/25`, an escaped dot inside a label, a space. The
//! key is the name's RFC 1035 §5.1 presentation form, made canonical so that two names are
//! the same name exactly when their keys are equal strings:
//!
//! - ASCII letters are lowercase (RFC 4343 §3: names compare without regard to case);
//! - a `.` separates labels and is never escaped; a dot inside a label is `\046`;
//! - `\ " ; ( ) @ $` inside a label are escaped with a backslash, every octet outside
//!   `!`..`~` as `\DDD`, every other octet is itself;
//! - no trailing dot: the root is the empty string.
//!
//! Splitting a key at its dots gives its labels; a key is a suffix of another at a dot
//! exactly when the name is at or below the other; and a key is a valid master-file name
//! (with a dot appended) as it is. [`write_wire`] and [`from_wire`] cross to the wire.

use std::fmt::Write as _;

/// RFC 1035 §3.1: a name is at most 255 octets on the wire.
pub const MAX_WIRE_LEN: usize = 255;

/// RFC 1035 §2.3.4: a label is at most 63 octets.
pub const MAX_LABEL_LEN: usize = 63;

/// Keys of up to this many bytes are written on the stack: every name without escaped
/// octets (at most 253 characters) fits.
pub const KEY_STACK_LEN: usize = 256;

/// Each octet as a key writes it when it is itself (lowercased), else 0 (it is escaped).
const PLAIN: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0x21;
    while b <= 0x7e {
        table[b] = match b as u8 {
            b'.' | b'\\' | b'"' | b';' | b'(' | b')' | b'@' | b'$' => 0,
            c => c.to_ascii_lowercase(),
        };
        b += 1;
    }
    table
};

/// The key form of one label octet (lowercased): the bytes to write and how many.
#[inline]
pub fn key_octet(octet: u8) -> ([u8; 4], usize) {
    match (PLAIN[usize::from(octet)], octet) {
        (0, b'.') => (*b"\\046", 4),
        (0, b @ (b'\\' | b'"' | b';' | b'(' | b')' | b'@' | b'$')) => ([b'\\', b, 0, 0], 2),
        (0, b) => ([b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10], 4),
        (plain, _) => ([plain, 0, 0, 0], 1),
    }
}

/// A name's key as the query path writes it: on the stack, or on the heap for the rare
/// key longer than [`KEY_STACK_LEN`] (a name with many escaped octets).
#[derive(Debug)]
pub struct KeyBuf {
    stack: [u8; KEY_STACK_LEN],
    heap: Vec<u8>,
    len: usize,
}

impl Default for KeyBuf {
    fn default() -> Self {
        KeyBuf { stack: [0; KEY_STACK_LEN], heap: Vec::new(), len: 0 }
    }
}

impl KeyBuf {
    /// An empty buffer (nothing allocated).
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.len = 0;
        self.heap.clear();
    }

    /// Appends one byte of a key.
    #[inline]
    pub fn push(&mut self, byte: u8) {
        if self.len < KEY_STACK_LEN {
            self.stack[self.len] = byte;
        } else {
            self.spill(byte);
        }
        self.len += 1;
    }

    /// Appends a wire label's octet in key form (see [`key_octet`]).
    #[inline]
    pub fn push_octet(&mut self, octet: u8) {
        match PLAIN[usize::from(octet)] {
            0 => {
                let (bytes, n) = key_octet(octet);
                bytes[..n].iter().for_each(|&b| self.push(b));
            }
            plain => self.push(plain),
        }
    }

    #[cold]
    fn spill(&mut self, byte: u8) {
        if self.heap.is_empty() {
            self.heap.extend_from_slice(&self.stack);
        }
        self.heap.push(byte);
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (the root).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.len <= KEY_STACK_LEN { &self.stack[..self.len] } else { &self.heap }
    }

    /// The key (ASCII: what [`KeyBuf::push_octet`] writes; other bytes pushed make it
    /// empty).
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// Appends a wire label's octets to `key` in key form, after a dot if `key` is not empty.
pub fn push_label(key: &mut String, label: &[u8]) {
    if !key.is_empty() {
        key.push('.');
    }
    for &octet in label {
        let (bytes, len) = key_octet(octet);
        // Key bytes are ASCII.
        key.extend(bytes[..len].iter().map(|&b| char::from(b)));
    }
}

/// The key of the uncompressed wire name at the start of `wire`, and the length of that
/// name on the wire; `None` if it is malformed (a pointer, a reserved label type, a
/// label or name too long, or the buffer ends).
pub fn from_wire(wire: &[u8]) -> Option<(String, usize)> {
    let mut key = String::new();
    let mut at = 0;
    loop {
        let len = usize::from(*wire.get(at)?);
        if len == 0 {
            return (at < MAX_WIRE_LEN).then_some((key, at + 1));
        }
        if len > MAX_LABEL_LEN {
            return None;
        }
        push_label(&mut key, wire.get(at + 1..at + 1 + len)?);
        at += 1 + len;
    }
}

/// The labels of a key, from the left, each as its octets.
pub fn labels(key: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    split_labels(key).map(unescape_label)
}

/// Writes a key as uncompressed wire labels (the root as a single zero octet).
pub fn write_wire(key: &str, out: &mut Vec<u8>) {
    if !key.contains('\\') {
        // Nearly every name: each label is its key text.
        for label in split_labels(key) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    } else {
        for label in labels(key) {
            out.push(label.len() as u8);
            out.extend_from_slice(&label);
        }
    }
    out.push(0);
}

/// A key's wire form.
pub fn to_wire(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    write_wire(key, &mut out);
    out
}

/// The key's labels as text (empty for the root).
fn split_labels(key: &str) -> impl Iterator<Item = &str> {
    (!key.is_empty()).then(|| key.split('.')).into_iter().flatten()
}

/// A label's octets from its key text (`\DDD` and `\c` read).
fn unescape_label(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], decimal_escape(&bytes[i..])) {
            (b'\\', Some(octet)) => {
                out.push(octet);
                i += 4;
            }
            (b'\\', None) if i + 1 < bytes.len() => {
                out.push(bytes[i + 1]);
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The octet of a `\DDD` escape at the start of `text`, if it is one (RFC 1035 §5.1).
fn decimal_escape(text: &[u8]) -> Option<u8> {
    match text {
        [b'\\', d @ ..] if d.len() >= 3 && d[..3].iter().all(u8::is_ascii_digit) => {
            let value = d[..3].iter().fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'));
            u8::try_from(value).ok()
        }
        _ => None,
    }
}

/// Reads an absolute name written in presentation form (`Example.COM.`, `0/25.2.0.192.in-addr.arpa`,
/// `a\.b.example`, `\032x.example`) into its key. A trailing dot is optional; `.` or the
/// empty text is the root.
pub fn normalize(text: &str) -> Result<String, String> {
    if text == "." {
        return Ok(String::new());
    }
    let mut key = String::with_capacity(text.len());
    let mut label: Vec<u8> = Vec::with_capacity(MAX_LABEL_LEN);
    let mut wire_len = 1;
    let mut finish = |label: &mut Vec<u8>, key: &mut String| -> Result<(), String> {
        if label.is_empty() {
            return Err(format!("name {text:?} has an empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(format!("name {text:?} has a label longer than {MAX_LABEL_LEN} octets"));
        }
        wire_len += 1 + label.len();
        if wire_len > MAX_WIRE_LEN {
            return Err(format!("name {text:?} is longer than {MAX_WIRE_LEN} octets on the wire"));
        }
        push_label(key, label);
        label.clear();
        Ok(())
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'.' => {
                finish(&mut label, &mut key)?;
                if i + 1 == bytes.len() {
                    return Ok(key);
                }
                i += 1;
            }
            b'\\' => {
                if let Some(octet) = decimal_escape(&bytes[i..]) {
                    label.push(octet);
                    i += 4;
                    continue;
                }
                match text[i + 1..].chars().next() {
                    Some(c) if c.is_ascii() && !c.is_ascii_digit() => label.push(c as u8),
                    _ => {
                        return Err(format!(
                            "name {text:?} has a bad escape at octet {} (\\ then a character, or \\DDD with DDD at most 255)",
                            i + 1
                        ));
                    }
                }
                i += 2;
            }
            0x21..=0x7e => {
                label.push(b);
                i += 1;
            }
            _ => return Err(bad_character(text, i)),
        }
    }
    if !text.is_empty() {
        finish(&mut label, &mut key)?;
    }
    Ok(key)
}

/// The error for the unescaped character at octet `at` of `text`.
fn bad_character(text: &str, at: usize) -> String {
    let c = text[at..].chars().next().unwrap_or(' ');
    if c.is_ascii() {
        let mut escaped = String::new();
        let _ = write!(escaped, "\\{:03}", c as u8);
        format!("name {text:?} has the character {c:?} (write it as {escaped} if it is meant)")
    } else {
        format!(
            "name {text:?} has the character {c:?} (write an internationalized name in its xn-- form, \
             or an octet as \\DDD)"
        )
    }
}

/// Whether `text` (presentation form) ends in an unescaped dot, that is, is absolute.
pub fn is_absolute(text: &str) -> bool {
    let Some(body) = text.strip_suffix('.') else { return false };
    let backslashes = body.bytes().rev().take_while(|&b| b == b'\\').count();
    // `a\.` ends in an escaped dot; `a\\.` in a backslash and then the root's dot. A
    // `\DDD` escape never ends in a backslash, so counting them is enough.
    backslashes % 2 == 0
}

/// Resolves a name written in a zone: `@` is the origin, a name ending in `.` is absolute,
/// anything else is relative to the origin (zone-file convention, RFC 1035 §5.1).
pub fn in_origin(text: &str, origin: &str) -> Result<String, String> {
    if text == "@" {
        return Ok(origin.to_string());
    }
    if is_absolute(text) {
        return normalize(text);
    }
    let relative = normalize(text)?;
    let joined = join(&relative, origin);
    if wire_len(&joined) > MAX_WIRE_LEN {
        return Err(format!("name {text:?} in {origin:?} is longer than {MAX_WIRE_LEN} octets on the wire"));
    }
    Ok(joined)
}

/// The length of a key's name on the wire.
pub fn wire_len(key: &str) -> usize {
    if key.contains('\\') {
        labels(key).map(|l| l.len() + 1).sum::<usize>() + 1
    } else {
        key.len() + 1 + usize::from(!key.is_empty())
    }
}

/// `label(s)` + `.` + `parent` (the root parent adds nothing).
pub fn join(relative: &str, parent: &str) -> String {
    match (relative.is_empty(), parent.is_empty()) {
        (true, _) => parent.to_string(),
        (_, true) => relative.to_string(),
        _ => format!("{relative}.{parent}"),
    }
}

/// Whether `name` is `zone` or below it.
pub fn is_at_or_below(name: &str, zone: &str) -> bool {
    zone.is_empty()
        || name == zone
        || (name.len() > zone.len() && name.ends_with(zone) && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The name one label up (`a.b.c` → `b.c`, `c` → the root), or `None` at the root.
pub fn parent(name: &str) -> Option<&str> {
    if name.is_empty() {
        return None;
    }
    Some(name.split_once('.').map_or("", |(_, rest)| rest))
}

/// `text` without the trailing dot of an absolute name.
#[inline]
pub fn without_root_dot(text: &str) -> &str {
    if is_absolute(text) { &text[..text.len() - 1] } else { text }
}

/// `text` lowercased into `buf`, or `None` if it does not fit.
#[inline]
pub fn lower_in<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let out = buf.get_mut(..text.len())?;
    out.copy_from_slice(text.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize(".").unwrap(), "");
        assert!(normalize("a..b").is_err());
        assert!(normalize("a b.com").unwrap_err().contains("' '"));
        assert!(normalize("例子.com").unwrap_err().contains("xn--"));
        assert_eq!(in_origin("@", "example.com").unwrap(), "example.com");
        assert_eq!(in_origin("WWW", "example.com").unwrap(), "www.example.com");
        assert_eq!(in_origin("*.cdn", "example.com").unwrap(), "*.cdn.example.com");
        assert_eq!(in_origin("other.net.", "example.com").unwrap(), "other.net");
        assert!(is_at_or_below("a.example.com", "example.com"));
        assert!(!is_at_or_below("aexample.com", "example.com"));
        assert_eq!(parent("a.b.c"), Some("b.c"));
        assert_eq!(parent("c"), Some(""));
        let mut buf = [0u8; KEY_STACK_LEN];
        assert_eq!(lower_in(without_root_dot("WwW.Example.com."), &mut buf), Some("www.example.com"));
        // A key longer than the stack part goes on to the heap.
        let long = vec!["\\000"; 250].concat();
        let mut key = KeyBuf::new();
        long.bytes().for_each(|b| key.push(b));
        assert_eq!(key.as_str(), long);
    }

    #[test]
    fn rfc_2317_and_escaped_octets_are_names() {
        // RFC 2317 §4: the classless delegation's labels hold a '/'.
        assert_eq!(in_origin("0/25", "2.0.192.in-addr.arpa").unwrap(), "0/25.2.0.192.in-addr.arpa");
        assert_eq!(in_origin("1.0/25", "2.0.192.in-addr.arpa").unwrap(), "1.0/25.2.0.192.in-addr.arpa");
        // One name however it is escaped; a dot inside a label is never a separator.
        for written in ["A\\.b.example.", "a\\046b.example", "a\\.B.EXAMPLE"] {
            assert_eq!(normalize(written).unwrap(), "a\\046b.example", "{written}");
        }
        let key = normalize("a\\.b.example").unwrap();
        assert_eq!(parent(&key), Some("example"));
        assert_eq!(to_wire(&key), b"\x03a.b\x07example\x00");
        assert_eq!(from_wire(b"\x03A.b\x07example\x00"), Some((key.clone(), 13)));
        // Octets outside printable ASCII, and the escaped specials.
        let key = normalize("\\032sp\\255\\\\\\;x.example").unwrap();
        assert_eq!(key, "\\032sp\\255\\\\\\;x.example");
        assert_eq!(labels(&key).next().unwrap(), b" sp\xff\\;x");
        assert_eq!(wire_len(&key), 1 + 7 + 1 + 7 + 1);
        assert_eq!(from_wire(&to_wire(&key)).unwrap().0, key);
        assert!(is_absolute("a\\\\.") && !is_absolute("a\\.") && is_absolute("a."));
        assert!(normalize("\\256.example").is_err());
        assert!(normalize(&format!("{}.example", "a".repeat(64))).is_err());
        // 255 octets on the wire at most (four 63-octet labels are 257).
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(normalize(&long).unwrap_err().contains("255"));
    }
}
