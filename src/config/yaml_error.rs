//! The YAML reader's errors in an operator's words: which key, what it must be, and the
//! value written, read back from the rules text at the error's line and column. Never
//! a Rust type (`u32`), a parser option (`DuplicateKeyPolicy`) or Debug text.

use serde_saphyr::Error;

/// What `e`, an error reading the rules `text`, means to an operator (without the place:
/// the caller puts file:line:column in front).
pub fn message(e: &Error, text: &str) -> String {
    let at = e.location().map(|l| Spot { line: l.line() as usize, column: l.column() as usize });
    let spot = |text| at.map(|at| at.read(text)).unwrap_or_default();
    match e {
        Error::WithSnippet { error, .. } | Error::AliasError { error, .. } => message(error, text),
        Error::InvalidScalar { ty, .. } => spot(text).must_be(&kind_in_words(ty)),
        Error::InvalidBooleanStrict { .. } => spot(text).must_be("true or false"),
        Error::NullIntoString { .. } => spot(text).must_be("text"),
        Error::SerdeInvalidType { expected, .. } | Error::SerdeInvalidValue { expected, .. } => {
            spot(text).must_be(&kind_in_words(expected))
        }
        Error::Unexpected { expected, .. } => spot(text).must_be(&kind_in_words(expected)),
        Error::SerdeInvalidLength { len, expected, .. } => {
            format!("{} must hold {}, not {len} item(s)", spot(text).subject(), kind_in_words(expected))
        }
        Error::SerdeUnknownVariant { variant, expected, .. } => {
            format!("{} must be one of {}, not {variant}", spot(text).subject(), expected.join(", "))
        }
        Error::SerdeUnknownField { field, expected, .. } => unknown_key(field, expected),
        Error::SerdeMissingField { field, .. } => format!("this mapping needs the key `{field}`, and it is missing"),
        Error::DuplicateMappingKey { key, .. } => duplicate_key(key.as_deref(), at, text),
        Error::Eof { .. } if text.trim().is_empty() => {
            "the rules file is empty (it needs at least `version: 1`)".into()
        }
        Error::Eof { .. } => "the file ends inside a value (an unclosed `[`, brace or quote?)".into(),
        Error::MultipleDocuments { .. } => "a second YAML document (`---`): the rules are one document".into(),
        // Serde's message for a value of none of an untagged enum's forms: the enum's
        // `expecting` text (every one in `config` has one).
        Error::Message { msg, .. } if !msg.contains("untagged enum") => spot(text).must_take(msg),
        Error::ExternalMessage { msg, .. } => syntax(msg),
        _ => spot(text).must_be("another kind of value"),
    }
}

/// A line and column of the rules text (both from 1).
#[derive(Clone, Copy)]
struct Spot {
    line: usize,
    column: usize,
}

/// What stands at a spot: the key it is the value of, and the value as written.
#[derive(Default)]
struct Found {
    key: Key,
    value: Option<String>,
}

/// Whose value a spot holds.
#[derive(Default)]
enum Key {
    /// `key: value`.
    Named(String),
    /// An item of the list under `key`.
    ItemOf(String),
    /// The whole file (the document's first value).
    Document,
    /// Not found in the text.
    #[default]
    Unknown,
}

impl Spot {
    /// The key and the value at this spot of `text`.
    fn read(self, text: &str) -> Found {
        let Some(line) = text.lines().nth(self.line.saturating_sub(1)) else { return Found::default() };
        let split = line.char_indices().nth(self.column.saturating_sub(1)).map_or(line.len(), |(i, _)| i);
        let (before, rest) = line.split_at(split);
        // An empty value (`name:`) is reported at the key's colon.
        if let Some(after) = rest.strip_prefix(':') {
            return Found { key: last_word(before).map_or(Key::Unknown, Key::Named), value: value_at(after) };
        }
        let first = before.trim().is_empty() && text.lines().take(self.line.saturating_sub(1)).all(is_blank);
        let key = match key_before(before) {
            Some(key) => key,
            None if first => Key::Document,
            None => enclosing_key(text, self.line, before),
        };
        Found { key, value: value_at(rest) }
    }
}

impl Found {
    /// `` `ttl` ``, `an item of `cidr``, or `the value`.
    fn subject(&self) -> String {
        match &self.key {
            Key::Named(k) => format!("`{k}`"),
            Key::ItemOf(k) => format!("an item of `{k}`"),
            Key::Document => "the rules file".into(),
            Key::Unknown => "the value".into(),
        }
    }

    /// `` `ttl` must be WHAT, not VALUE ``.
    fn must_be(&self, what: &str) -> String {
        format!("{} must be {what}, not {}", self.subject(), self.written())
    }

    /// `` `KEY` must be FORMS `` for a value of none of a key's forms: when it is a list
    /// or a mapping (a form it may take), something inside it is wrong.
    fn must_take(&self, forms: &str) -> String {
        match self.written() {
            w @ ("a list" | "a mapping") => {
                format!(
                    "{} must be {forms}; {w} is written here, not one of these (check what it holds)",
                    self.subject()
                )
            }
            w => format!("{} must be {forms}, not {w}", self.subject()),
        }
    }

    /// The value as written, or what kind of block it is.
    fn written(&self) -> &str {
        match self.value.as_deref() {
            None => "empty",
            Some(v) if v.starts_with('[') => "a list",
            Some(v) if v.starts_with('{') => "a mapping",
            Some(v) => v,
        }
    }
}

/// The key a value right after `before` (the line up to the value) belongs to, when the
/// line says it: `key: ` or a flow list's `key: [a, `.
fn key_before(before: &str) -> Option<Key> {
    let trimmed = before.trim_end();
    if let Some(head) = trimmed.strip_suffix(':') {
        return last_word(head).map(Key::Named);
    }
    if trimmed.ends_with(',') || trimmed.ends_with('[') {
        let open = unmatched_open(trimmed)?;
        return match key_before(&trimmed[..open])? {
            Key::Named(k) | Key::ItemOf(k) => Some(Key::ItemOf(k)),
            Key::Document | Key::Unknown => None,
        };
    }
    None
}

/// The byte index of the last `[` or `{` of `text` left open.
fn unmatched_open(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices().rev() {
        match c {
            ']' | '}' => depth += 1,
            '[' | '{' if depth == 0 => return Some(i),
            '[' | '{' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The key of the block list a `- value` item on line `line` is in: the nearest line
/// above indented less than the dash, when it ends with `key:`.
fn enclosing_key(text: &str, line: usize, before: &str) -> Key {
    if !before.trim_end().ends_with('-') {
        return Key::Unknown;
    }
    let dash = before.len() - before.trim_start().len();
    let above = text.lines().take(line.saturating_sub(1)).collect::<Vec<_>>();
    let parent = above.iter().rev().find(|l| !is_blank(l) && indent(l) < dash);
    match parent.and_then(|l| key_before(l)) {
        Some(Key::Named(k)) => Key::ItemOf(k),
        _ => Key::Unknown,
    }
}

/// The key at the end of `head` (`  - name` → `name`, `{ a: 1, "b c"` → `b c`).
fn last_word(head: &str) -> Option<String> {
    let head = head.trim_end();
    for quote in ['"', '\''] {
        if let Some(inner) = head.strip_suffix(quote) {
            return inner.rfind(quote).map(|i| inner[i + 1..].to_string());
        }
    }
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || "[{,-".contains(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    Some(head[start..].to_string()).filter(|w| !w.is_empty())
}

/// The value written at the start of `rest`: a quoted scalar with its quotes, or a plain
/// one up to a `,`, `]`, `}` or comment; `None` when nothing is written there.
fn value_at(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].find(q).map_or(rest, |end| &rest[..end + 2]),
        '[' | '{' => rest,
        _ => rest.split([',', ']', '}']).next().unwrap_or(rest).split(" #").next().unwrap_or(rest),
    };
    Some(value.trim_end().to_string()).filter(|v| !v.is_empty() && !v.starts_with('#'))
}

/// What a kind the reader or serde names (`u32`, `a sequence`, `struct Zone`,
/// `boolean`) is, in words.
fn kind_in_words(kind: &str) -> String {
    if let Some((low, high)) = integer_range(kind) {
        return format!("a whole number from {low} to {high}");
    }
    let kind = kind.trim_start_matches("a ").trim_start_matches("an ");
    match kind {
        "f32" | "f64" | "floating point" => "a number".into(),
        "bool" | "boolean" | "bool expected" => "true or false".into(),
        "char" | "character" => "a single character".into(),
        "sequence" | "sequence start" => "a list (`- item` lines, or [a, b])".into(),
        "map" | "mapping start" => "a mapping (`key: value` lines)".into(),
        k if k.contains("string") || k.contains("str expected") => "text".into(),
        k if k.starts_with("struct ") => "a mapping (`key: value` lines)".into(),
        k if k.starts_with("tuple of ") => format!("a list of {}", &k["tuple of ".len()..]),
        k if k.contains("enum") || k.contains("identifier") => "one of the values this key takes".into(),
        k => k.to_string(),
    }
}

/// The range of a Rust integer type, by name.
fn integer_range(kind: &str) -> Option<(i128, i128)> {
    Some(match kind {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// An unknown key, with the keys the mapping takes.
fn unknown_key(field: &str, expected: &[&str]) -> String {
    match expected {
        [] => format!("`{field}` is not a key here (this mapping takes none)"),
        keys => format!("`{field}` is not a key here; the keys here are: {}", keys.join(", ")),
    }
}

/// A key written twice in one mapping, with the line of its first time when the text
/// shows it.
fn duplicate_key(key: Option<&str>, at: Option<Spot>, text: &str) -> String {
    let Some(key) = key else { return "a key appears twice in the same mapping".into() };
    let first = at.and_then(|at| first_time(text, at, key));
    match first {
        Some(line) => format!("the key `{key}` appears twice in the same mapping (first at line {line})"),
        None => format!("the key `{key}` appears twice in the same mapping"),
    }
}

/// The line (from 1) where `key`, written again at `at`, was written first in the same
/// block mapping: the lines above whose text at the same column is `key:`, up to the
/// line that opens the mapping (indented less, or its `- ` item).
fn first_time(text: &str, at: Spot, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(at.line.checked_sub(1)?)?;
    let column = here.char_indices().nth(at.column.saturating_sub(1)).map_or(0, |(i, _)| i);
    if here[..column].contains(['{', ',']) {
        return Some(at.line); // a flow mapping on this line
    }
    for (i, line) in lines[..at.line - 1].iter().enumerate().rev() {
        if is_blank(line) {
            continue;
        }
        let key_here = line.get(..column).is_some_and(|p| p.chars().all(|c| c == ' ' || c == '-'))
            && line[column..].strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':'));
        if key_here {
            return Some(i + 1);
        }
        if indent(line) < column {
            return None;
        }
    }
    None
}

/// Leading spaces.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Empty or a comment.
fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The usual causes of the YAML parser's errors, by a phrase of its message.
const SYNTAX_CAUSES: [(&str, &str); 5] = [
    ("expected '-' indicator", "a line indented unlike the list items above it?"),
    ("':' indicator", "an unclosed `[` or quote above, or a value holding `: ` that needs quotes?"),
    ("expected ',' or ']'", "a `[` list not closed with `]`, or a missing comma?"),
    (
        "mapping values are not allowed",
        "a `key: value` where a plain value belongs, or a value holding `: ` that needs quotes?",
    ),
    ("did not find expected key", "a line indented unlike the keys above it?"),
];

/// A YAML syntax error, in the parser's words without its position (the place says it),
/// with its usual cause.
fn syntax(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg).trim();
    let first = first.rfind(" at line ").map_or(first, |i| &first[..i]);
    if first.contains("found a tab") || first.contains("tab character") {
        return "a tab where YAML wants spaces (indent with spaces only)".into();
    }
    match SYNTAX_CAUSES.iter().find(|(phrase, _)| first.contains(phrase)) {
        Some((_, cause)) => format!("not valid YAML: {first} ({cause})"),
        None => format!("not valid YAML: {first}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_before_the_value_in_block_and_flow_forms() {
        let key = |line: &str| match key_before(line) {
            Some(Key::Named(k)) => format!("named {k}"),
            Some(Key::ItemOf(k)) => format!("item of {k}"),
            _ => "none".into(),
        };
        assert_eq!(key("    ttl: "), "named ttl");
        assert_eq!(key("  rrl: { rate: 5, ipv4_prefix: "), "named ipv4_prefix");
        assert_eq!(key("    sources: [{ cidr: [10.0.0.0/8, "), "item of cidr");
        assert_eq!(key("  - "), "none");
        assert_eq!(value_at("99999999999  # a comment").as_deref(), Some("99999999999"));
        assert_eq!(value_at("\"a, b\", c]").as_deref(), Some("\"a, b\""));
        assert_eq!(value_at("x, y]").as_deref(), Some("x"));
    }

    #[test]
    fn the_first_time_of_a_duplicated_key_is_in_the_same_mapping() {
        let text = "a:\n  x: 1\nb:\n  x: 2\n  y: 3\n  x: 4\n";
        assert_eq!(first_time(text, Spot { line: 6, column: 3 }, "x"), Some(4));
        assert_eq!(first_time("zones: 1\nother: 2\nzones: 3\n", Spot { line: 3, column: 1 }, "zones"), Some(1));
        assert_eq!(
            first_time("l:\n  - name: a\n    x: 1\n    name: b\n", Spot { line: 4, column: 5 }, "name"),
            Some(2)
        );
        assert_eq!(first_time("l:\n  - name: a\n  - x: 1\n    name: b\n", Spot { line: 4, column: 5 }, "name"), None);
    }
}
