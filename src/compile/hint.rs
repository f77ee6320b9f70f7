//! The `linedns` commands messages tell the operator to run, written so that they work
//! as printed: the rules file named with `-c` as it was given, the zone as an argument.

use std::path::Path;

/// `` `linedns COMMAND -c RULES ZONE EXTRA` ``: a command about zone `origin` (normalized;
/// the root is `.`) of the rules file `rules`, with `extra` arguments after the zone.
pub fn zone_command(command: &str, rules: &Path, origin: &str, extra: &str) -> String {
    let zone = if origin.is_empty() { "." } else { origin };
    let extra = if extra.is_empty() { String::new() } else { format!(" {extra}") };
    format!("`linedns {command} -c {} {}{extra}`", shell_word(&rules.display().to_string()), shell_word(zone))
}

/// `word` as one shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside written `'\''`).
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_rules_and_quote_what_the_shell_would_split() {
        let plain = zone_command("keys status", Path::new("rules/a.yaml"), "example.com", "");
        assert_eq!(plain, "`linedns keys status -c rules/a.yaml example.com`");
        let spaced = zone_command("keys roll", Path::new("/etc/my rules/it's.yaml"), "", "--ksk");
        assert_eq!(spaced, r"`linedns keys roll -c '/etc/my rules/it'\''s.yaml' . --ksk`");
    }
}
