//! RFC 1035 §5 master files: a zone's static records read from the file an operator
//! already keeps (or from the copy linedns keeps of a zone transferred from its primary).
//!
//! The `domain` crate's scanner reads the text (`$ORIGIN`, `$TTL`, relative names, `@`,
//! parentheses, escapes, RFC 3597 generic records); this module follows `$INCLUDE`s,
//! carries `$TTL` into included files as BIND does, checks each record against the zone,
//! and names every error's file, line and column.

use std::path::{Path, PathBuf};

use domain::base::rdata::ComposeRecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use super::zone_text::parse_ttl;
use crate::error::{ConfigError, Place};
use crate::name::{self, Name};
use crate::rdata::{RData, RecordType};

/// Deepest `$INCLUDE` nesting read (BIND's limit is far higher; a loop stops here).
const MAX_INCLUDE_DEPTH: usize = 16;

/// One record of a master file.
#[derive(Clone, Debug)]
pub struct FileRecord {
    /// Owner, normalized, at or below the zone's origin.
    pub owner: Name,
    /// TTL.
    pub ttl: u32,
    /// The data.
    pub data: RData,
    /// Where it is written.
    pub place: Place,
}

/// What reading a master file gave: its records in file order, and every file read
/// (the file and its `$INCLUDE`s, for the reload watch).
#[derive(Debug, Default)]
pub struct ZoneData {
    /// The records.
    pub records: Vec<FileRecord>,
    /// Files read, the master file first.
    pub files: Vec<PathBuf>,
}

/// Reads the master file at `path` for the zone `origin` (normalized). `$INCLUDE` paths
/// are relative to the including file's directory. Every error is collected.
pub fn read(path: &Path, origin: &str) -> Result<ZoneData, Vec<ConfigError>> {
    let mut reader = Reader { origin, data: ZoneData::default(), errors: Vec::new() };
    // The `domain` 0.12.3 scanner can panic on some malformed text (an index out of
    // bounds while reading a character-string, found by the `zone_file` fuzz target):
    // that is an error of this file, not the end of the server.
    let scanned =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.read_file(path, origin, None, 0, None)));
    if scanned.is_err() {
        reader.errors.push(ConfigError::new(
            Place::file(path),
            "the zone-file scanner failed on this file (malformed text it does not report; named-checkzone shows where)",
        ));
    }
    if reader.errors.is_empty() { Ok(reader.data) } else { Err(reader.errors) }
}

struct Reader<'o> {
    origin: &'o str,
    data: ZoneData,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    /// Reads one file with `file_origin` as its initial origin and `ttl` (the `$TTL` in
    /// force where it is included) as its default TTL. `from` is the `$INCLUDE` line that
    /// names it.
    fn read_file(&mut self, path: &Path, file_origin: &str, ttl: Option<u32>, depth: usize, from: Option<&Place>) {
        let at = |p: &Path| from.cloned().unwrap_or_else(|| Place::file(p));
        if depth > MAX_INCLUDE_DEPTH {
            self.errors
                .push(ConfigError::new(at(path), format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH} files")));
            return;
        }
        self.data.files.push(path.to_path_buf());
        // A device or a FIFO could be read forever: only files are zone files.
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            self.errors.push(ConfigError::new(at(path), format!("{} is not a regular file", path.display())));
            return;
        }
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) => {
                self.errors.push(ConfigError::new(at(path), format!("cannot read zone file {}: {e}", path.display())));
                return;
            }
        };
        // Types the scanner has no presentation reader for, in RFC 3597 form (same lines).
        let text = match super::zone_text::rewrite(&text, file_origin) {
            Ok(text) => text,
            Err((line, message)) => {
                self.errors.push(ConfigError::new(Place::line(path, line as u64), message));
                return;
            }
        };
        // A `$TTL` carried in from the including file is a first line of ours: positions
        // in this file are then one line lower.
        let (prefix, shift) = match ttl {
            Some(ttl) => (format!("$TTL {ttl}\n"), 1),
            None => (String::new(), 0),
        };
        let mut zone = Zonefile::with_capacity(prefix.len() + text.len());
        zone.extend_from_slice(prefix.as_bytes());
        zone.extend_from_slice(&text);
        match domain::base::Name::bytes_from_str(&format!("{file_origin}.")) {
            Ok(o) => zone.set_origin(o),
            Err(e) => {
                self.errors.push(ConfigError::new(at(path), format!("bad origin {file_origin:?}: {e}")));
                return;
            }
        }
        let source = [prefix.as_bytes(), &text].concat();
        let mut current_ttl = ttl;
        loop {
            let start = zone.current_offset();
            let entry = zone.next_entry();
            let end = zone.current_offset();
            current_ttl = last_dollar_ttl(&source[start..end.max(start)]).or(current_ttl);
            let line = record_line(&source, start).saturating_sub(shift);
            let place = Place::line(path, line as u64);
            match entry {
                Ok(None) => return,
                Ok(Some(Entry::Record(record))) => self.record(&record, place),
                Ok(Some(Entry::Include { path: included, origin })) => {
                    let included = path.parent().unwrap_or(Path::new("")).join(included.to_string());
                    let origin = match origin.map(|o| name::normalize(&o.to_string())) {
                        Some(Ok(o)) => o,
                        Some(Err(m)) => {
                            self.errors.push(ConfigError::new(place, format!("$INCLUDE origin: {m}")));
                            continue;
                        }
                        None => match zone.origin().map(|o| name::normalize(&o.to_string())) {
                            Ok(Ok(o)) => o,
                            _ => file_origin.to_string(),
                        },
                    };
                    self.read_file(&included, &origin, current_ttl, depth + 1, Some(&place));
                }
                Err(e) => {
                    self.errors.push(scanner_error(path, &e.to_string(), shift, line));
                    return;
                }
            }
        }
    }

    /// Checks one record and keeps it.
    fn record(&mut self, record: &domain::zonefile::inplace::ScannedRecord, place: Place) {
        // The scanner gives the owner in wire form: every octet as the file wrote it.
        let mut wire = Vec::with_capacity(64);
        let composed = domain::base::ToName::compose(record.owner(), &mut wire);
        let Some((owner, _)) = composed.ok().and_then(|()| Name::from_wire(&wire)) else {
            let message = format!("the owner {} is not a name", record.owner());
            return self.errors.push(ConfigError::new(place, message));
        };
        let rtype = RecordType::from(record.rtype().to_int());
        let shown = format!("{owner} {}", rtype);
        if !name::is_at_or_below(&owner, self.origin) {
            let origin = crate::rdata::Fqdn(self.origin);
            return self
                .errors
                .push(ConfigError::new(place, format!("{shown}: {owner}. is outside the zone {origin}")));
        }
        if record.class() != domain::base::iana::Class::IN {
            return self.errors.push(ConfigError::new(
                place,
                format!("{shown}: class {} (linedns serves class IN only)", record.class()),
            ));
        }
        if matches!(rtype, RecordType::OPT | RecordType::TSIG | RecordType::AXFR | RecordType::IXFR | RecordType::ANY) {
            return self
                .errors
                .push(ConfigError::new(place, format!("{shown}: a meta-type, not data (RFC 6895 §3.1)")));
        }
        let mut wire = Vec::new();
        if record.data().compose_rdata(&mut wire).is_err() || wire.len() > usize::from(u16::MAX) {
            return self.errors.push(ConfigError::new(place, format!("{shown}: RDATA longer than 65,535 octets")));
        }
        match RData::from_wire(rtype, &wire) {
            Ok(data) => self.data.records.push(FileRecord { owner, ttl: record.ttl().as_secs(), data, place }),
            Err(m) => self.errors.push(ConfigError::new(place, format!("{shown}: {m}"))),
        }
    }
}

/// A scanner error (`LINE:COL: message`) as a [`ConfigError`] at its place in `path`. The
/// scanner stops at the end of the bad text: at the start of a later line, the record's
/// own line (`entry_line`) is named instead.
fn scanner_error(path: &Path, text: &str, shift: usize, entry_line: usize) -> ConfigError {
    let mut parts = text.splitn(3, ':');
    let (line, column, message) = (parts.next(), parts.next(), parts.next());
    match (line.and_then(|l| l.parse::<u64>().ok()), column.and_then(|c| c.parse::<u64>().ok()), message) {
        (Some(line), Some(column), Some(message)) => {
            let line = line.saturating_sub(shift as u64).max(1);
            let place = if column == 1 && line > entry_line as u64 {
                Place::line(path, entry_line as u64)
            } else {
                Place::at(path, line, column)
            };
            ConfigError::new(place, describe_scanner_message(message.trim()))
        }
        _ => ConfigError::new(Place::file(path), text.to_string()),
    }
}

/// The scanner's terse messages, as an operator reads them.
fn describe_scanner_message(message: &str) -> String {
    match message {
        "expected rtype" => "unknown record type (a type's name, or TYPEnnn with RFC 3597 data)".into(),
        "unknown record type with concrete data" => "this record type is read only in RFC 3597 form \
            (`TYPEnnn \\# LENGTH HEX`; `dig +unknownformat` prints a record so)"
            .into(),
        "bad symbol" => "bad text (an unterminated quote or a stray character)".into(),
        other => other.to_string(),
    }
}

/// The 1-based line of the first record text at or after `offset` (skipping blank
/// lines, comments and `$` directives the scanner read before the record).
fn record_line(source: &[u8], offset: usize) -> usize {
    let offset = offset.min(source.len());
    let mut line = 1 + source[..offset].iter().filter(|&&b| b == b'\n').count();
    let mut rest = &source[offset..];
    // The rest of a line the previous entry ended on belongs to it.
    if offset > 0 && source[offset - 1] != b'\n' {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) if rest[..i].iter().all(|b| b.is_ascii_whitespace()) => {
                rest = &rest[i + 1..];
                line += 1;
            }
            _ => {}
        }
    }
    for text in rest.split(|&b| b == b'\n') {
        let trimmed = text.trim_ascii_start();
        if !(trimmed.is_empty() || trimmed.starts_with(b";") || trimmed.starts_with(b"$")) {
            break;
        }
        line += 1;
    }
    line
}

/// The value of the last `$TTL` directive in `text`, if any (RFC 2308 §4; BIND's units
/// `1h30m` are read).
fn last_dollar_ttl(text: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()?.eq_ignore_ascii_case("$TTL")).then(|| words.next().and_then(parse_ttl))?
        })
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units_and_record_lines() {
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("300"), Some(300));
        assert_eq!(parse_ttl("1x"), None);
        let text = b"$TTL 60\n; comment\n\nwww IN A 192.0.2.1\n";
        assert_eq!(record_line(text, 0), 4);
        assert_eq!(last_dollar_ttl(text), Some(60));
    }
}
