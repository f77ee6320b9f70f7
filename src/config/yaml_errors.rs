//! The YAML parser's errors in an operator's words: which key, which value, what it must
//! be, never the Rust type (`u32`) or the parser's own settings
//! (`DuplicateKeyPolicy`). The place (file:line:column) is the caller's.

use serde_saphyr::Error;

/// What went wrong at `error`'s place in `text` (the rules file's text).
pub fn message(error: &Error, text: &str) -> String {
    // The error itself, out of the wrappers that add a snippet of the source or the
    // place an alias was used.
    let mut error = error;
    while let Error::WithSnippet { error: inner, .. } | Error::AliasError { error: inner, .. } = error {
        error = inner;
    }
    let at = error.location().map(|l| (l.line() as usize, l.column() as usize));
    let written = at.map(|(line, column)| written_at(text, line, column)).unwrap_or_default();
    let subject = match written.key.as_deref() {
        Some(key) => format!("`{key}`"),
        None => "this value".to_string(),
    };
    let value = written.value.as_deref().unwrap_or("nothing");
    match error {
        Error::InvalidScalar { ty, .. } => format!("{subject} must be {}, not {value}", kind_of(ty)),
        Error::InvalidBooleanStrict { .. } => format!("{subject} must be true or false, not {value}"),
        Error::SerdeInvalidType { expected, .. } | Error::SerdeInvalidValue { expected, .. } => {
            format!("{subject} must be {}, not {value}", expected_in_words(expected))
        }
        Error::Unexpected { expected, .. } => {
            format!("{subject} must be {}, not {value}", expected_in_words(expected))
        }
        Error::SerdeUnknownField { field, expected, .. } => {
            format!("unknown key `{field}` here; the keys allowed here are {}", expected.join(", "))
        }
        Error::SerdeUnknownVariant { variant, expected, .. } => {
            format!("{subject}: unknown choice `{variant}`; the choices are {}", expected.join(", "))
        }
        Error::SerdeMissingField { field, .. } => format!("`{field}` is missing here (it is required)"),
        Error::DuplicateMappingKey { key, .. } => {
            let key = key.clone().or(written.key).unwrap_or_else(|| "a key".into());
            format!("the key `{key}` is written twice in the same mapping: keep one")
        }
        other => plain(other),
    }
}

/// The parser's own message, first line, without the place it appends.
fn plain(error: &Error) -> String {
    let text = error.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    first.split(", set ").next().unwrap_or(first).to_string()
}

/// The key and the value written at (`line`, `column`), both 1-based, as far as the
/// line shows them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Written {
    key: Option<String>,
    value: Option<String>,
}

fn written_at(text: &str, line: usize, column: usize) -> Written {
    let Some(row) = text.lines().nth(line.saturating_sub(1)) else { return Written::default() };
    let start = row.char_indices().nth(column.saturating_sub(1)).map_or(row.len(), |(i, _)| i);
    let (before, rest) = row.split_at(start);
    let value = match rest.trim_start().chars().next() {
        None | Some('#') => None,
        Some('[') => Some("a list".to_string()),
        Some('{') => Some("a mapping".to_string()),
        Some(_) => {
            let token = scalar_token(rest.trim_start());
            (!token.is_empty()).then(|| format!("{token:?}"))
        }
    };
    // The key: the last `name:` before the value on its line.
    let key = before.trim_end().strip_suffix(':').map(|k| {
        let name = k.rsplit(['{', ',', ' ', '-', '[']).next().unwrap_or(k);
        name.trim_matches(|c| c == '"' || c == '\'').to_string()
    });
    // At a key itself (a duplicated or unknown key): the key is what is written there.
    let key = key.filter(|k| !k.is_empty()).or_else(|| {
        let token = scalar_token(rest.trim_start());
        let after = rest.trim_start().strip_prefix(token)?;
        after.starts_with(':').then(|| token.to_string())
    });
    Written { key, value }
}

/// The scalar at the start of `text`: quoted, or up to the flow or comment punctuation
/// that ends it.
fn scalar_token(text: &str) -> &str {
    if let Some(quote @ ('"' | '\'')) = text.chars().next()
        && let Some(end) = text[1..].find(quote)
    {
        return &text[1..=end];
    }
    let mut end = text.find([',', '}', ']', '#']).unwrap_or(text.len());
    // A key ends at its `: `.
    if let Some(colon) = text.find(": ").filter(|&c| c < end) {
        end = colon;
    }
    let token = text[..end].trim_end();
    token.strip_suffix(':').unwrap_or(token)
}

/// A Rust scalar type as the kind of value an operator writes.
fn kind_of(ty: &str) -> String {
    let whole = |max: u64| format!("a whole number from 0 to {max}");
    match ty {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" | "u128" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "i128" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "bool" | "boolean" => "true or false".into(),
        "char" => "one character".into(),
        "string" | "String" | "str" => "text".into(),
        other => format!("a {other}"),
    }
}

/// What serde or the parser expected, in words (their Rust type names translated).
fn expected_in_words(expected: &str) -> String {
    let e = expected.trim();
    for ty in ["u8", "u16", "u32", "u64", "usize", "i32", "i64", "f64", "bool", "char"] {
        if e == ty || e.ends_with(&format!(" {ty}")) {
            return kind_of(ty);
        }
    }
    match e {
        "sequence start" | "a sequence" | "sequence" => "a list (`[a, b]`, or `- a` lines)".into(),
        "mapping start" | "a map" | "map" | "mapping" => "a mapping (`key: value` lines, or `{ key: value }`)".into(),
        "string scalar" | "scalar" => "a single value (not a list or a mapping)".into(),
        "a string" | "string" => "text".into(),
        "a boolean" | "boolean" => "true or false".into(),
        e if e.starts_with("struct ") => "a mapping (`key: value` lines, or `{ key: value }`)".into(),
        e if e.starts_with("a sequence") => "a list".into(),
        e if e.starts_with("enum ") || e.starts_with("variant identifier") => "one of its choices".into(),
        e => e.replace("an integer", "a whole number").replace("a string", "text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_value_at_a_place_are_read_from_the_line() {
        let text = "version: 1\nzones:\n  - soa: { mname: ns1, serial: one }\n    ns: [ns1]\n";
        let at = text.lines().nth(2).unwrap().find("one").unwrap() + 1;
        assert_eq!(written_at(text, 3, at), Written { key: Some("serial".into()), value: Some("\"one\"".into()) });
        let at = text.lines().nth(3).unwrap().find('[').unwrap() + 1;
        assert_eq!(written_at(text, 4, at), Written { key: Some("ns".into()), value: Some("a list".into()) });
        assert_eq!(written_at("version: 1\nversion: 1\n", 2, 1).key.as_deref(), Some("version"));
        // Quoted and wide keys, places past the line's end: no panic.
        assert_eq!(written_at("\"é\": 1\n", 1, 1).value.as_deref(), Some("\"é\""));
        assert_eq!(written_at("a: b\n", 1, 99), Written::default());
        assert_eq!(written_at("a: b\n", 7, 1), Written::default());
    }

    #[test]
    fn rust_types_become_words() {
        assert_eq!(kind_of("u32"), "a whole number from 0 to 4294967295");
        assert_eq!(expected_in_words("sequence start"), "a list (`[a, b]`, or `- a` lines)");
        assert_eq!(expected_in_words("struct ZoneDef"), "a mapping (`key: value` lines, or `{ key: value }`)");
        assert_eq!(expected_in_words("u16"), "a whole number from 0 to 65535");
    }
}
