//! Domain names as the engine keeps them: lowercase ASCII, dot-separated, no trailing dot
//! (the root is the empty string). Comparisons are then plain string equality, which is
//! the case-insensitive comparison RFC 4343 asks for.

/// Longest name in text form without the trailing dot (RFC 1035 §2.3.4: 255 octets on the
/// wire).
pub const MAX_NAME_LEN: usize = 253;

/// Validates and normalizes an absolute name (`Example.COM.` → `example.com`).
pub fn normalize(text: &str) -> Result<String, String> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.len() > MAX_NAME_LEN {
        return Err(format!("name {text:?} is longer than {MAX_NAME_LEN} characters"));
    }
    for (i, label) in trimmed.split('.').enumerate() {
        if label.is_empty() {
            return Err(format!("name {text:?} has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("name {text:?} has a label longer than 63 characters"));
        }
        if label == "*" && i == 0 {
            continue;
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(format!(
                "name {text:?} has the character {c:?} (letters, digits, '-' and '_' only; '*' only as the whole first label)"
            ));
        }
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Resolves a name written in a zone: `@` is the origin, a name ending in `.` is absolute,
/// anything else is relative to the origin (zone-file convention, RFC 1035 §5.1).
pub fn in_origin(text: &str, origin: &str) -> Result<String, String> {
    if text == "@" {
        return Ok(origin.to_string());
    }
    if text.ends_with('.') {
        return normalize(text);
    }
    let relative = normalize(text)?;
    Ok(join(&relative, origin))
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

/// A query name lowercased into `buf` without its trailing dot, or `None` if it does not
/// fit. Allocation-free, for the query path.
pub fn lower_into<'b>(name: &str, buf: &'b mut [u8; 256]) -> Option<&'b str> {
    let trimmed = name.strip_suffix('.').unwrap_or(name).as_bytes();
    if trimmed.len() > buf.len() {
        return None;
    }
    let out = &mut buf[..trimmed.len()];
    for (o, b) in out.iter_mut().zip(trimmed) {
        *o = b.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert!(normalize("a..b").is_err());
        assert!(normalize("a b.com").unwrap_err().contains("' '"));
        assert_eq!(in_origin("@", "example.com").unwrap(), "example.com");
        assert_eq!(in_origin("WWW", "example.com").unwrap(), "www.example.com");
        assert_eq!(in_origin("*.cdn", "example.com").unwrap(), "*.cdn.example.com");
        assert_eq!(in_origin("other.net.", "example.com").unwrap(), "other.net");
        assert!(is_at_or_below("a.example.com", "example.com"));
        assert!(!is_at_or_below("aexample.com", "example.com"));
        assert_eq!(parent("a.b.c"), Some("b.c"));
        assert_eq!(parent("c"), Some(""));
        let mut buf = [0u8; 256];
        assert_eq!(lower_into("WwW.Example.com.", &mut buf), Some("www.example.com"));
    }
}
