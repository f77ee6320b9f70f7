//! BIND's key files (`tsig-keygen`, `rndc-confgen`, and what Knot's `keymgr -t` prints as
//! a `key:` section's equivalent): `key "name" { algorithm hmac-sha256; secret "…"; };`,
//! with `#`, `//` and `/* */` comments. Errors name the file and line, never a secret.

use std::path::Path;

/// A key statement read from a file.
#[derive(Clone, PartialEq, Eq)]
pub struct BindKey {
    /// The key's name, as written (without quotes).
    pub name: String,
    /// The algorithm, as written (`hmac-sha256`).
    pub algorithm: String,
    /// The base64 secret.
    pub secret: String,
}

impl std::fmt::Debug for BindKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BindKey {{ name: {:?}, algorithm: {:?}, secret: <hidden> }}", self.name, self.algorithm)
    }
}

/// Every `key` statement of `text` (the file `path`, for errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<BindKey>, String> {
    let tokens = tokenize(text, path)?;
    let mut keys = Vec::new();
    let mut i = 0;
    let at = |i: usize| tokens.get(i).map_or(0, |t: &Token| t.line);
    let fail = |i: usize, what: &str| format!("{}:{}: {what}", path.display(), at(i));
    let expect = |i: usize, want: &str| -> Result<(), String> {
        match tokens.get(i) {
            Some(t) if t.text == want => Ok(()),
            Some(t) => Err(fail(i, &format!("expected `{want}`, found `{}`", shown(t)))),
            None => Err(fail(i.saturating_sub(1), &format!("expected `{want}` before the end of the file"))),
        }
    };
    while i < tokens.len() {
        if tokens[i].text != "key" {
            return Err(fail(i, &format!("expected a `key` statement, found `{}`", shown(&tokens[i]))));
        }
        let name = tokens.get(i + 1).ok_or_else(|| fail(i, "a key needs a name"))?.text.clone();
        expect(i + 2, "{")?;
        i += 3;
        let (mut algorithm, mut secret) = (None, None);
        while tokens.get(i).is_some_and(|t| t.text != "}") {
            let field = tokens[i].text.as_str();
            let value = tokens.get(i + 1).ok_or_else(|| fail(i, &format!("`{field}` needs a value")))?;
            match field {
                "algorithm" => algorithm = Some(value.text.clone()),
                "secret" => secret = Some(value.text.clone()),
                other => return Err(fail(i, &format!("unknown key field `{other}` (algorithm, secret)"))),
            }
            expect(i + 2, ";")?;
            i += 3;
        }
        expect(i, "}")?;
        expect(i + 1, ";")?;
        let algorithm = algorithm.ok_or_else(|| fail(i, &format!("key {name:?} has no `algorithm`")))?;
        let secret = secret.ok_or_else(|| fail(i, &format!("key {name:?} has no `secret`")))?;
        keys.push(BindKey { name, algorithm, secret });
        i += 2;
    }
    Ok(keys)
}

struct Token {
    text: String,
    line: usize,
    quoted: bool,
}

/// A token as an error may show it: a quoted string is not shown (it may be a secret).
fn shown(t: &Token) -> &str {
    if t.quoted { "\"…\"" } else { &t.text }
}

fn tokenize(text: &str, path: &Path) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            last = c;
                        }
                        None => return Err(format!("{}:{start}: a /* comment is never closed", path.display())),
                    }
                }
            }
            '{' | '}' | ';' => tokens.push(Token { text: c.to_string(), line, quoted: false }),
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\n') => {
                            return Err(format!("{}:{start}: a quoted string runs past the line", path.display()));
                        }
                        Some(c) => s.push(c),
                        None => return Err(format!("{}:{start}: a quoted string is never closed", path.display())),
                    }
                }
                tokens.push(Token { text: s, line: start, quoted: true });
            }
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | ';' | '"') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                tokens.push(Token { text: s, line, quoted: false });
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let text = "key \"xfr-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n# another\nkey other { algorithm hmac-sha512; secret \"b3RoZXI=\"; }; /* end */\n";
        let keys = parse(text, Path::new("k.key")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            (keys[0].name.as_str(), keys[0].algorithm.as_str(), keys[0].secret.as_str()),
            ("xfr-key", "hmac-sha256", "c2VjcmV0")
        );
        assert_eq!(keys[1].name, "other");
    }

    #[test]
    fn errors_name_the_line_and_hide_the_secret() {
        let err =
            parse("key \"k\" {\n algorithm hmac-sha256;\n secret \"c2VjcmV0\"\n};\n", Path::new("k.key")).unwrap_err();
        assert!(err.starts_with("k.key:4: expected `;`"), "{err}");
        let err = parse("key \"k\" { secret \"c2VjcmV0\" \"more\"; };", Path::new("k.key")).unwrap_err();
        assert!(!err.contains("c2VjcmV0") && !err.contains("more"), "{err}");
    }
}
