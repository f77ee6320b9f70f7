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

use std::fmt::{self, Write as _};

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

/// A domain name, held as its key (see the module): two names are equal exactly when
/// their labels are, compared without regard to ASCII case (RFC 4343 §3); it hashes and
/// orders as its key, reads as a `str` (the key) and shows in RFC 1035 §5.1 presentation
/// form without the root's dot ([`crate::rdata::Fqdn`] adds it). Every `Name` is one a
/// wire name gives: made only by [`Name::parse`], [`Name::in_origin`], [`Name::from_wire`]
/// or [`Name::from_key`], which check it.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<str>);

impl Name {
    /// The root.
    pub fn root() -> Name {
        Name::default()
    }

    /// An absolute name in presentation form (see [`normalize`]).
    pub fn parse(text: &str) -> Result<Name, NameError> {
        normalize(text).map(|key| Name(key.into()))
    }

    /// A name as a zone file writes it in `origin` (see [`in_origin`]).
    pub fn in_origin(text: &str, origin: &str) -> Result<Name, NameError> {
        in_origin(text, origin).map(|key| Name(key.into()))
    }

    /// The uncompressed wire name at the start of `wire`, and its length there (see
    /// [`from_wire`]).
    pub fn from_wire(wire: &[u8]) -> Option<(Name, usize)> {
        from_wire(wire).map(|(key, len)| (Name(key.into()), len))
    }

    /// The name whose key `key` is, if it is one (a key the decoder or this module wrote).
    pub fn from_key(key: &str) -> Option<Name> {
        normalize(key).ok().filter(|k| k == key).map(|k| Name(k.into()))
    }

    /// A name the code writes as a constant, in key form (`"invalid"`). It panics if
    /// `key` is not one: for constants only, never for what comes in.
    pub fn literal(key: &'static str) -> Name {
        Name::from_key(key).unwrap_or_else(|| panic!("{key:?} is not a name's key"))
    }

    /// Its key.
    #[inline]
    pub fn as_key(&self) -> &str {
        &self.0
    }

    /// Whether it is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes it as uncompressed wire labels.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        write_wire(&self.0, out);
    }

    /// Its wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        to_wire(&self.0)
    }

    /// Its length on the wire.
    pub fn wire_len(&self) -> usize {
        wire_len(&self.0)
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<Name> for Box<str> {
    fn from(name: Name) -> Box<str> {
        name.0
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0.into()
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

/// Why a text is not a domain name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameError {
    /// The text as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: NameProblem,
}

/// What is wrong with a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// Two dots in a row, or a leading dot (RFC 1035 §3.1: only the root is empty).
    EmptyLabel,
    /// A label over [`MAX_LABEL_LEN`] octets (RFC 1035 §2.3.4).
    LabelTooLong,
    /// Over [`MAX_WIRE_LEN`] octets on the wire (RFC 1035 §3.1).
    TooLong,
    /// A relative name over [`MAX_WIRE_LEN`] octets once this origin is appended.
    TooLongIn(String),
    /// A backslash that starts no escape (RFC 1035 §5.1), at this octet (1-based).
    BadEscape {
        /// Where, counting from 1.
        at: usize,
    },
    /// A character that must be escaped (a space, a control character) or that is not
    /// ASCII (an internationalized name goes in its `xn--` form, RFC 5891).
    BadCharacter(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match &self.problem {
            NameProblem::EmptyLabel => write!(f, "name {text:?} has an empty label"),
            NameProblem::LabelTooLong => write!(f, "name {text:?} has a label longer than {MAX_LABEL_LEN} octets"),
            NameProblem::TooLong => write!(f, "name {text:?} is longer than {MAX_WIRE_LEN} octets on the wire"),
            NameProblem::TooLongIn(origin) => {
                write!(f, "name {text:?} in {origin:?} is longer than {MAX_WIRE_LEN} octets on the wire")
            }
            NameProblem::BadEscape { at } => write!(
                f,
                "name {text:?} has a bad escape at octet {at} (\\ then a character, or \\DDD with DDD at most 255)"
            ),
            NameProblem::BadCharacter(c) if c.is_ascii() => {
                let mut escaped = String::new();
                let _ = write!(escaped, "\\{:03}", *c as u8);
                write!(f, "name {text:?} has the character {c:?} (write it as {escaped} if it is meant)")
            }
            NameProblem::BadCharacter(c) => write!(
                f,
                "name {text:?} has the character {c:?} (write an internationalized name in its xn-- form, \\
                 or an octet as \\DDD)"
            ),
        }
    }
}

impl std::error::Error for NameError {}

impl From<NameError> for String {
    fn from(error: NameError) -> String {
        error.to_string()
    }
}

/// Reads an absolute name written in presentation form (`Example.COM.`, `0/25.2.0.192.in-addr.arpa`,
/// `a\.b.example`, `\032x.example`) into its key. A trailing dot is optional; `.` or the
/// empty text is the root.
pub fn normalize(text: &str) -> Result<String, NameError> {
    if text == "." {
        return Ok(String::new());
    }
    let mut key = String::with_capacity(text.len());
    let mut label: Vec<u8> = Vec::with_capacity(MAX_LABEL_LEN);
    let mut wire_len = 1;
    let error = |problem| NameError { text: text.to_string(), problem };
    let mut finish = |label: &mut Vec<u8>, key: &mut String| -> Result<(), NameError> {
        if label.is_empty() {
            return Err(error(NameProblem::EmptyLabel));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(error(NameProblem::LabelTooLong));
        }
        wire_len += 1 + label.len();
        if wire_len > MAX_WIRE_LEN {
            return Err(error(NameProblem::TooLong));
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
                    _ => return Err(error(NameProblem::BadEscape { at: i + 1 })),
                }
                i += 2;
            }
            0x21..=0x7e => {
                label.push(b);
                i += 1;
            }
            _ => {
                let c = text[i..].chars().next().unwrap_or(' ');
                return Err(error(NameProblem::BadCharacter(c)));
            }
        }
    }
    if !text.is_empty() {
        finish(&mut label, &mut key)?;
    }
    Ok(key)
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
pub fn in_origin(text: &str, origin: &str) -> Result<String, NameError> {
    if text == "@" {
        return Ok(origin.to_string());
    }
    if is_absolute(text) {
        return normalize(text);
    }
    let relative = normalize(text)?;
    let joined = join(&relative, origin);
    if wire_len(&joined) > MAX_WIRE_LEN {
        return Err(NameError { text: text.to_string(), problem: NameProblem::TooLongIn(origin.to_string()) });
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
    fn a_name_is_one_whatever_its_case_or_escapes_and_crosses_the_wire_unchanged() {
        let written = Name::parse("1.0/25.2.0.192.IN-ADDR.arpa.").unwrap();
        assert_eq!(written, Name::parse(r"1.0\04725.2.0.192.in-addr.ARPA").unwrap(), "RFC 4343: case and escapes");
        assert_eq!(written.as_key(), "1.0/25.2.0.192.in-addr.arpa");
        let wire = written.to_wire();
        assert_eq!(wire.len(), written.wire_len());
        assert_eq!(Name::from_wire(&wire), Some((written.clone(), wire.len())));
        let dotted = Name::parse(r"a\.b.Example").unwrap();
        assert_eq!(dotted.to_string(), r"a\046b.example", "a dot inside a label is shown escaped");
        assert_eq!(&dotted.to_wire()[..4], b"\x03a.b");
        assert_eq!(Name::in_origin("@", "example").unwrap(), Name::literal("example"));
        assert_eq!(Name::in_origin("www", "example").unwrap(), "www.example");
        assert!(Name::root().is_root() && Name::parse(".").unwrap().is_root());
        assert_eq!(Name::from_key("Www.example"), None, "a key is lowercase");
        assert_eq!(Name::from_key(r"a\.b"), None, "a key escapes a dot as \\046");
    }

    #[test]
    fn a_text_that_is_no_name_says_what_is_wrong() {
        let problem = |text: &str| Name::parse(text).unwrap_err().problem;
        assert_eq!(problem("a..b"), NameProblem::EmptyLabel);
        assert_eq!(problem(&"a".repeat(64)), NameProblem::LabelTooLong);
        assert_eq!(problem(&"abcdefg.".repeat(40)), NameProblem::TooLong);
        assert_eq!(problem(r"a\"), NameProblem::BadEscape { at: 2 });
        assert_eq!(problem("a b"), NameProblem::BadCharacter(' '));
        let long = Name::in_origin(&"a".repeat(60), &"b.".repeat(98)[..195]).unwrap_err();
        assert!(matches!(long.problem, NameProblem::TooLongIn(_)), "{long}");
        assert!(long.to_string().contains("octets on the wire"), "{long}");
    }

    #[test]
    fn names() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize(".").unwrap(), "");
        assert!(normalize("a..b").is_err());
        assert!(normalize("a b.com").unwrap_err().to_string().contains("' '"));
        assert!(normalize("例子.com").unwrap_err().to_string().contains("xn--"));
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
        assert!(normalize(&long).unwrap_err().to_string().contains("255"));
    }
}
