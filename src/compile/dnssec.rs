//! A zone's DNSSEC keys: found in its key directory (`STATE_DIR/keys/ORIGIN`, or the
//! rules' `dnssec.keys`), read with [`key_file`], checked (a key file that cannot be read
//! or does not match is an error naming it, and a zone that should be signed without
//! keys does not load unless the rules say `without_keys: unsigned`), and published: the
//! DNSKEY set, and CDS and CDNSKEY for the parent (RFC 7344), at the apex.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::Compiler;
use super::key_file::{self, KeyFiles};
use crate::config::{At, DnssecDef, ZoneDef, defaults};
use crate::engine::sign::keys::Role;
use crate::engine::sign::{self, RollPolicy, ZoneKey, ZoneSigning};
use crate::engine::zone::{Content, NameNode, RrSet};
use crate::rdata::RecordType;

/// The shortest `signature_refresh` (two hours: an answer may be sent again for an hour).
const MIN_SIGNATURE_REFRESH: u32 = 7200;

/// The key directory of the zone `origin` under the state directory `state_dir`.
pub fn keys_dir(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir.join("keys").join(if origin.is_empty() { "root" } else { origin })
}

/// The `.key` files of zone `origin` in `dir` (none if the directory does not exist).
pub fn key_files(dir: &Path, origin: &str) -> Result<Vec<PathBuf>, String> {
    let prefix = format!("K{origin}.+");
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: cannot read the key directory: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(&prefix) && name.ends_with(".key")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every key of zone `origin` in `dir`: a key with the SEP flag is a KSK when the
/// zone has keys without it (ZSKs), a CSK when it has not.
pub fn read_keys(dir: &Path, origin: &str) -> Result<Vec<KeyFiles>, String> {
    let files = key_files(dir, origin)?;
    let mut flags = Vec::new();
    for file in &files {
        flags.push(key_file::flags_of(file, origin)?);
    }
    let has_zsk = flags.iter().any(|f| f & crate::wire::dnssec::FLAG_SEP == 0);
    let sep_role = if has_zsk { Role::Ksk } else { Role::Csk };
    files.iter().map(|f| key_file::read(f, origin, sep_role)).collect()
}

/// What a signed zone's key directory holds, as the compiler uses it.
pub(super) struct ZoneKeys {
    /// The signing, for the zone.
    pub signing: Arc<ZoneSigning>,
    /// The DNSKEY set's TTL.
    pub dnskey_ttl: u32,
}

impl Compiler<'_> {
    /// The signing of zone `origin` (`None`: unsigned), from its `dnssec` rules and its
    /// key directory; `now` decides which keys are published and sign (their timing).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn zone_keys(
        &mut self,
        def: &At<ZoneDef>,
        origin: &str,
        state_dir: Option<&Path>,
        now: u64,
        max_ttl: u32,
        rule: &str,
    ) -> Option<ZoneKeys> {
        let rules = def.value.dnssec.as_ref();
        let place = rules.map_or_else(|| self.place(def), |d| self.place(d));
        let settings = rules.map(|d| &d.value);
        let empty = DnssecDef::default();
        let d = settings.unwrap_or(&empty);
        if d.sign == Some(false) {
            return None;
        }
        let unsigned_allowed = match d.without_keys.as_deref() {
            None | Some("refuse") => false,
            Some("unsigned") => true,
            Some(other) => {
                self.fail(place, rule, format!("dnssec.without_keys {other:?} is not `refuse` or `unsigned`"));
                return None;
            }
        };
        let dir = match (&d.keys, state_dir) {
            (Some(dir), _) => self.file.parent().unwrap_or(Path::new("")).join(dir),
            (None, Some(state)) => keys_dir(state, origin),
            (None, None) if settings.is_some() && !unsigned_allowed => {
                self.fail(place, rule, "dnssec: no key directory: set `server.state_dir` (keys go in STATE_DIR/keys/ORIGIN) or `dnssec.keys`");
                return None;
            }
            (None, None) => return None,
        };
        let keys = read_keys(&dir, origin).and_then(|keys| {
            if keys.is_empty() && settings.is_some() {
                Err(format!(
                    "no keys in {} (make them with {})",
                    dir.display(),
                    super::hint::zone_command("keygen", &self.file, origin, "")
                ))
            } else {
                Ok(keys)
            }
        });
        let keys = match keys {
            Ok(keys) if keys.is_empty() => return None,
            Ok(keys) => keys,
            Err(_) if unsigned_allowed => return None,
            Err(m) => {
                self.fail(
                    place,
                    rule,
                    format!("dnssec: {m}; the zone is not served unsigned unless `dnssec.without_keys: unsigned`"),
                );
                return None;
            }
        };
        for k in &keys {
            self.inputs.push((k.path.clone(), super::stamp(&k.path)));
            let private = k.path.with_extension("private");
            self.inputs.push((private.clone(), super::stamp(&private)));
        }
        let zone_keys: Vec<ZoneKey> = keys
            .into_iter()
            .map(|k| ZoneKey {
                published: k.timing.published(now),
                signs: k.timing.signs(now),
                in_cds: k.timing.in_cds(now, k.key.role) && k.timing.published(now),
                file: k.path.display().to_string().into(),
                key: k.key,
            })
            .collect();
        let signs_keys = zone_keys.iter().any(|k| k.signs && k.key.role.signs_keys());
        let signs_zone = zone_keys.iter().any(|k| k.signs && k.key.role.signs_zone());
        if !signs_keys || !signs_zone {
            let missing = if !signs_keys { "the DNSKEY set (a KSK or CSK)" } else { "the zone (a ZSK or CSK)" };
            self.fail(
                place,
                rule,
                format!("dnssec: no key in {} signs {missing} now (see their Activate/Inactive times)", dir.display()),
            );
            return None;
        }
        let validity = d.signature_validity.unwrap_or(defaults::SIGNATURE_VALIDITY);
        let refresh = d.signature_refresh.unwrap_or(validity / 2);
        // A signed answer may be sent again for an hour (prepared answers): its
        // signatures must have more than that left, with room for caches.
        if refresh < MIN_SIGNATURE_REFRESH || validity < 2 * MIN_SIGNATURE_REFRESH {
            let message = format!(
                "dnssec: signature_validity {validity} and signature_refresh {refresh}: the refresh must be at least {MIN_SIGNATURE_REFRESH} s (an answer is reused for up to an hour) and at most half the validity"
            );
            self.fail(place, rule, message);
            return None;
        }
        let parent = self.server_addresses(&d.parent, rule, "dnssec.parent: ");
        let dnskey_ttl = d.dnskey_ttl.unwrap_or(defaults::DNSKEY_TTL);
        let policy = RollPolicy {
            key_dir: dir,
            zsk_lifetime: d.zsk_lifetime.unwrap_or(defaults::ZSK_LIFETIME),
            ksk_lifetime: d.ksk_lifetime.unwrap_or(0),
            propagation: d.propagation_delay.unwrap_or(defaults::PROPAGATION_DELAY),
            dnskey_ttl,
            max_ttl,
            parent,
        };
        Some(ZoneKeys { signing: Arc::new(ZoneSigning::new(origin, zone_keys, validity, refresh, policy)), dnskey_ttl })
    }

    /// Puts the DNSKEY, CDS and CDNSKEY sets of `keys` at the apex of `names`; a zone's
    /// data may not hold them, nor RRSIG and NSEC records (the signatures are made here).
    pub(super) fn publish_keys(
        &mut self,
        names: &mut FxHashMap<Box<str>, NameNode>,
        origin: &str,
        keys: &ZoneKeys,
        def: &At<ZoneDef>,
        rule: &str,
    ) {
        let signed_types =
            [RecordType::DNSKEY, RecordType::CDS, RecordType::CDNSKEY, RecordType::RRSIG, RecordType::NSEC];
        let mut found: Vec<String> = names
            .iter()
            .flat_map(|(owner, node)| {
                node.sets
                    .iter()
                    .filter(|s| signed_types.contains(&s.rtype))
                    .map(move |s| format!("{owner} {}", s.rtype))
            })
            .collect();
        found.sort();
        if !found.is_empty() {
            let place = self.place(def);
            self.fail(
                place,
                rule,
                format!(
                    "a signed zone's data holds {} (linedns signs the zone itself and publishes its own keys: remove them)",
                    found.join(", ")
                ),
            );
            return;
        }
        let apex = names.entry(origin.into()).or_default();
        for (rtype, records) in sign::key_sets(&keys.signing) {
            if records.is_empty() {
                continue;
            }
            apex.sets.push(RrSet {
                rtype,
                ttl: keys.dnskey_ttl,
                content: Content::Static(records.into()),
                source: Some("dnssec keys".into()),
            });
        }
    }
}

/// The key directory of zone `zone` as the rules file `rules` sets it (its
/// `dnssec.keys`, else `STATE_DIR/keys/ORIGIN`), read from the rules alone, so that keys
/// can be made for a zone whose rules do not load yet for want of them.
pub fn key_directory(rules: &Path, zone: &str) -> Result<(String, PathBuf), String> {
    let origin = crate::name::normalize(zone)?;
    let file = crate::config::load(rules).map_err(|e| e.to_string())?;
    let rules_dir = rules.parent().unwrap_or(Path::new(""));
    let def = file
        .zones
        .iter()
        .find(|z| crate::name::normalize(&z.value.origin.value).is_ok_and(|o| o == origin))
        .ok_or_else(|| format!("{}: no zone {origin:?} in the rules", rules.display()))?;
    if let Some(dir) = def.value.dnssec.as_ref().and_then(|d| d.value.keys.as_ref()) {
        return Ok((origin, rules_dir.join(dir)));
    }
    let state = file.server.as_ref().and_then(|s| s.value.state_dir.as_ref()).ok_or_else(|| {
        format!(
            "{}: no `server.state_dir` (keys go in STATE_DIR/keys/ORIGIN) and no `dnssec.keys` for {origin}",
            rules.display()
        )
    })?;
    let dir = keys_dir(&rules_dir.join(state), &origin);
    Ok((origin, dir))
}
