//! DNSSEC key files in BIND's format (what `dnssec-keygen` writes and BIND, Knot's
//! `keymgr import-bind` and `ldns` read): `K<zone>.+<alg>+<tag>.key` holds the DNSKEY
//! record, `K<zone>.+<alg>+<tag>.private` the private key (`Private-key-format: v1.3`)
//! and the key's timing (`Publish:`, `Activate:`, `Inactive:`, `Delete:`,
//! `SyncPublish:`, `SyncDelete:`, as `YYYYMMDDHHMMSS` in UTC), which is also where the
//! rollover keeps each key's state.

use std::path::{Path, PathBuf};

use crate::engine::sign::keys::{Algorithm, Role, SigningKey};
use crate::name;

/// When a key enters and leaves each of its uses (seconds since the epoch; `None`: not
/// set). BIND's names (`dnssec-settime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Made.
    pub created: Option<u64>,
    /// In the DNSKEY set from.
    pub publish: Option<u64>,
    /// Signs from.
    pub activate: Option<u64>,
    /// Stops signing.
    pub inactive: Option<u64>,
    /// Leaves the DNSKEY set.
    pub delete: Option<u64>,
    /// In the CDS and CDNSKEY sets from (RFC 7344).
    pub sync_publish: Option<u64>,
    /// Leaves the CDS and CDNSKEY sets.
    pub sync_delete: Option<u64>,
}

/// The fields of [`Timing`] in file order, with their names.
const TIMING_FIELDS: [&str; 7] = ["Created", "Publish", "Activate", "Inactive", "Delete", "SyncPublish", "SyncDelete"];

impl Timing {
    fn field(&mut self, name: &str) -> Option<&mut Option<u64>> {
        Some(match name {
            "Created" => &mut self.created,
            "Publish" => &mut self.publish,
            "Activate" => &mut self.activate,
            "Inactive" => &mut self.inactive,
            "Delete" => &mut self.delete,
            "SyncPublish" => &mut self.sync_publish,
            "SyncDelete" => &mut self.sync_delete,
            _ => return None,
        })
    }

    /// Whether `now` is in [`from`, `until`): a missing `from` is "always was", a missing
    /// `until` "never ends".
    fn within(from: Option<u64>, until: Option<u64>, now: u64) -> bool {
        from.is_none_or(|f| f <= now) && until.is_none_or(|u| now < u)
    }

    /// In the DNSKEY set at `now`.
    pub fn published(&self, now: u64) -> bool {
        Timing::within(self.publish.or(self.activate), self.delete, now)
    }

    /// Signing at `now`.
    pub fn signs(&self, now: u64) -> bool {
        Timing::within(self.activate, self.inactive, now) && self.published(now)
    }

    /// In the CDS/CDNSKEY sets at `now` (a key-signing key that signs, unless the sync
    /// times say otherwise).
    pub fn in_cds(&self, now: u64, role: Role) -> bool {
        let set = self.sync_publish.is_some() || self.sync_delete.is_some();
        role.signs_keys()
            && self.published(now)
            && if set { Timing::within(self.sync_publish, self.sync_delete, now) } else { self.signs(now) }
    }

    /// Every time set, in field order.
    pub fn times(&self) -> [Option<u64>; 7] {
        [self.created, self.publish, self.activate, self.inactive, self.delete, self.sync_publish, self.sync_delete]
    }
}

/// A key read from its two files.
#[derive(Debug)]
pub struct KeyFiles {
    /// The key.
    pub key: SigningKey,
    /// Its private key (as [`SigningKey::from_parts`] takes it).
    pub private: Vec<u8>,
    /// Its timing.
    pub timing: Timing,
    /// The `.key` file.
    pub path: PathBuf,
}

/// `K<zone>.+<alg>+<tag>`: the stem of a key's file names (BIND's, the zone with its
/// trailing dot).
pub fn stem(origin: &str, algorithm: Algorithm, tag: u16) -> String {
    format!("K{origin}.+{:03}+{tag:05}", algorithm.number())
}

/// Reads the key whose `.key` file is `path` (its `.private` file beside it) for the
/// zone `origin`, whose role is `role` when it has no SEP flag and `sep_role` when it has.
/// Errors name the file and line.
pub fn read(path: &Path, origin: &str, sep_role: Role) -> Result<KeyFiles, String> {
    let public_text = read_text(path)?;
    let (flags, algorithm, public) =
        parse_public(&public_text, origin).map_err(|e| format!("{}:{e}", path.display()))?;
    let private_path = path.with_extension("private");
    let private_text = read_text(&private_path)?;
    let (private_algorithm, private, timing) =
        parse_private(&private_text).map_err(|e| format!("{}:{e}", private_path.display()))?;
    if private_algorithm != algorithm {
        return Err(format!(
            "{}: algorithm {} ({}) differs from the .key file's {} ({})",
            private_path.display(),
            private_algorithm.number(),
            private_algorithm.mnemonic(),
            algorithm.number(),
            algorithm.mnemonic()
        ));
    }
    let role = if flags & crate::wire::dnssec::FLAG_SEP != 0 { sep_role } else { Role::Zsk };
    let key = SigningKey::from_parts(algorithm, role, &private, &public)
        .map_err(|e| format!("{} does not go with {}: {e}", private_path.display(), path.display()))?;
    Ok(KeyFiles { key, private, timing, path: path.to_path_buf() })
}

/// The flags of the DNSKEY in a `.key` file, without reading the private key.
pub fn flags_of(path: &Path, origin: &str) -> Result<u16, String> {
    let text = read_text(path)?;
    parse_public(&text, origin).map(|(flags, _, _)| flags).map_err(|e| format!("{}:{e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the key file: {e}", path.display()))
}

/// A `.key` file's DNSKEY record: flags, algorithm, public key. Comment lines (`;`) and
/// blank lines are skipped; the owner must be `origin`. Errors are `LINE: message`.
fn parse_public(text: &str, origin: &str) -> Result<(u16, Algorithm, Vec<u8>), String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(type_at) = fields.iter().position(|f| f.eq_ignore_ascii_case("DNSKEY")) else {
            return Err(format!("{at}: expected a DNSKEY record, found {line:?}"));
        };
        let owner = name::normalize(fields[0]).map_err(|e| format!("{at}: {e}"))?;
        if owner != origin {
            return Err(format!("{at}: the key is for {owner:?}, not for the zone {origin:?}"));
        }
        let rest = &fields[type_at + 1..];
        if rest.len() < 4 {
            return Err(format!("{at}: a DNSKEY needs flags, protocol, algorithm and the key"));
        }
        let flags: u16 = rest[0].parse().map_err(|_| format!("{at}: flags {:?} are not a number", rest[0]))?;
        if flags & crate::wire::dnssec::FLAG_ZONE == 0 {
            return Err(format!("{at}: flags {flags} lack the Zone Key bit (256 or 257 expected)"));
        }
        if rest[1] != "3" {
            return Err(format!("{at}: protocol {} is not 3 (RFC 4034 §2.1.2)", rest[1]));
        }
        let algorithm = Algorithm::parse(rest[2]).map_err(|e| format!("{at}: {e}"))?;
        let public = data_encoding::BASE64
            .decode(rest[3..].concat().as_bytes())
            .map_err(|e| format!("{at}: the public key is not base64 ({e})"))?;
        return Ok((flags, algorithm, public));
    }
    Err("1: no DNSKEY record in the file".into())
}

/// A `.private` file: algorithm, private key, timing. Errors are `LINE: message`.
fn parse_private(text: &str) -> Result<(Algorithm, Vec<u8>, Timing), String> {
    let (mut algorithm, mut private, mut timing) = (None, None, Timing::default());
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        let Some((field, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match field.trim() {
            "Private-key-format" if !value.starts_with("v1.") => {
                return Err(format!("{at}: private key format {value:?} is not v1.x"));
            }
            "Algorithm" => {
                let number = value.split_whitespace().next().unwrap_or("");
                algorithm = Some(Algorithm::parse(number).map_err(|e| format!("{at}: {e}"))?);
            }
            "PrivateKey" => {
                let bytes = data_encoding::BASE64
                    .decode(value.as_bytes())
                    .map_err(|e| format!("{at}: the private key is not base64 ({e})"))?;
                private = Some(bytes);
            }
            other => {
                if let Some(slot) = timing.field(other) {
                    *slot = Some(
                        parse_time(value).ok_or_else(|| format!("{at}: {other} {value:?} is not YYYYMMDDHHMMSS"))?,
                    );
                }
            }
        }
    }
    let algorithm = algorithm.ok_or("1: no `Algorithm:` line")?;
    let private = private.ok_or("1: no `PrivateKey:` line (only ECDSAP256SHA256 and ED25519 keys are read)")?;
    Ok((algorithm, private, timing))
}

/// The `.key` file's text for `key` of zone `origin`.
pub fn public_text(origin: &str, key: &SigningKey, timing: &Timing) -> String {
    let role = match key.role {
        Role::Ksk => "a key-signing key",
        Role::Zsk => "a zone-signing key",
        Role::Csk => "a combined signing key",
    };
    let mut text = format!("; This is {role}, keyid {}, for {origin}.\n", key.tag);
    let mut t = *timing;
    for name in TIMING_FIELDS {
        if let Some(Some(time)) = t.field(name).map(|v| *v) {
            text.push_str(&format!("; {name}: {}\n", format_time(time)));
        }
    }
    text.push_str(&format!(
        "{origin}. IN DNSKEY {} 3 {} {}\n",
        key.flags(),
        key.algorithm.number(),
        data_encoding::BASE64.encode(key.public_key())
    ));
    text
}

/// The `.private` file's text for `key` with its private key `private`.
pub fn private_text(key: &SigningKey, private: &[u8], timing: &Timing) -> String {
    let mut text = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {}\n",
        key.algorithm.number(),
        key.algorithm.mnemonic(),
        data_encoding::BASE64.encode(private)
    );
    let mut t = *timing;
    for name in TIMING_FIELDS {
        if let Some(Some(time)) = t.field(name).map(|v| *v) {
            text.push_str(&format!("{name}: {}\n", format_time(time)));
        }
    }
    text
}

/// Writes a key's two files into `dir` (the private one readable by its owner only),
/// each written whole before it is renamed into place; returns the `.key` file's path.
pub fn write(dir: &Path, origin: &str, key: &SigningKey, private: &[u8], timing: &Timing) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot make the key directory: {e}", dir.display()))?;
    let stem = stem(origin, key.algorithm, key.tag);
    let public = dir.join(format!("{stem}.key"));
    let secret = dir.join(format!("{stem}.private"));
    write_file(&secret, &private_text(key, private, timing), 0o600)?;
    write_file(&public, &public_text(origin, key, timing), 0o644)?;
    Ok(public)
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension("tmp");
    let written = (|| {
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    written.map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// `YYYYMMDDHHMMSS` (UTC) as seconds since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// Seconds since the epoch as `YYYYMMDDHHMMSS` (UTC).
pub fn format_time(time: u64) -> String {
    let days = (time / 86_400) as i64;
    let rest = time % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_back() {
        assert_eq!(parse_time("19700101000000"), Some(0));
        assert_eq!(parse_time("20261202003807"), Some(1_796_171_887));
        for t in [0, 951_782_400, 1_796_171_887, 4_102_444_800] {
            assert_eq!(parse_time(&format_time(t)), Some(t));
        }
        assert_eq!(parse_time("2026120200380"), None);
        assert_eq!(parse_time("20261302003807"), None);
    }

    #[test]
    fn key_files_read_back_and_mismatches_are_named() {
        let dir = std::env::temp_dir().join(format!("linedns-key-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (key, private) = SigningKey::generate(Algorithm::EcdsaP256Sha256, Role::Csk).unwrap();
        let timing = Timing { created: Some(100), publish: Some(100), activate: Some(200), ..Timing::default() };
        let path = write(&dir, "example.com", &key, &private, &timing).unwrap();
        let read_back = read(&path, "example.com", Role::Csk).unwrap();
        assert_eq!(read_back.key.tag, key.tag);
        assert_eq!(read_back.timing, timing);
        assert!(read_back.timing.published(150) && !read_back.timing.signs(150) && read_back.timing.signs(200));
        let err = read(&path, "example.net", Role::Csk).unwrap_err();
        assert!(err.contains(".key:5: the key is for \"example.com\""), "{err}");
        // Another key's private file: a mismatch, named.
        let (other, other_private) = SigningKey::generate(Algorithm::EcdsaP256Sha256, Role::Csk).unwrap();
        std::fs::write(path.with_extension("private"), private_text(&other, &other_private, &timing)).unwrap();
        let err = read(&path, "example.com", Role::Csk).unwrap_err();
        assert!(err.contains("does not go with") && err.contains(".key"), "{err}");
        std::fs::remove_file(path.with_extension("private")).unwrap();
        assert!(read(&path, "example.com", Role::Csk).unwrap_err().contains("cannot read the key file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
