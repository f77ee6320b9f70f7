//! The operator's key commands: `linedns keygen` (a zone's first keys), `linedns keys
//! import` (BIND `.key`/`.private` pairs, Knot DNS `.pem` files) and `linedns keys
//! status` (each key's role, state and times, and the DS to give the parent). They read
//! the rules file only for where the keys go, so they work before the zone loads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::dnssec::{key_directory, key_files, read_keys};
use super::hint::zone_command;
use super::key_file::{self, Timing};
use crate::engine::sign::keys::{Algorithm, Role, SigningKey};
use crate::wire::dnssec;

/// The DS record (SHA-256) of `key` for the parent of zone `origin`, in presentation form.
pub fn ds_record(origin: &str, key: &SigningKey) -> String {
    let ds = dnssec::ds_rdata(&crate::name::to_wire(origin), &key.dnskey);
    format!(
        "{origin}. IN DS {} {} {} {}",
        key.tag,
        key.algorithm.number(),
        ds[3],
        data_encoding::HEXUPPER.encode(&ds[4..])
    )
}

/// Makes the first keys of zone `zone` of the rules `rules`: one CSK, or a KSK and a
/// ZSK with `split`, of `algorithm`, published and signing from `now`. Refuses a zone
/// that has keys (a roll makes the next ones). Returns what to tell the operator.
pub fn keygen(rules: &Path, zone: &str, algorithm: Algorithm, split: bool, now: u64) -> Result<String, String> {
    let (origin, dir) = key_directory(rules, zone)?;
    let existing = key_files(&dir, &origin)?;
    if !existing.is_empty() {
        return Err(format!(
            "{} holds keys of {origin} already ({}); {} shows them",
            dir.display(),
            existing.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_string)).collect::<Vec<_>>().join(", "),
            zone_command("keys status", rules, &origin, "")
        ));
    }
    let roles: &[Role] = if split { &[Role::Ksk, Role::Zsk] } else { &[Role::Csk] };
    let timing = Timing { created: Some(now), publish: Some(now), activate: Some(now), ..Timing::default() };
    let mut text = String::new();
    let mut ds = Vec::new();
    for &role in roles {
        let (key, private) = SigningKey::generate(algorithm, role)?;
        let path = key_file::write(&dir, &origin, &key, &private, &timing)?;
        let _ = writeln!(
            text,
            "{} key {} ({}): {}",
            role.name().to_uppercase(),
            key.tag,
            algorithm.mnemonic(),
            path.display()
        );
        if role.signs_keys() {
            ds.push(ds_record(&origin, &key));
        }
    }
    let _ = writeln!(
        text,
        "\nThe zone is signed from its next load (reload or start). Give its parent (the registrar) this DS record:\n"
    );
    for record in ds {
        let _ = writeln!(text, "{record}");
    }
    let _ = writeln!(
        text,
        "\nor let the parent read it from the zone's CDS and CDNSKEY records (RFC 7344, RFC 8078).\nKeep {} private and backed up.",
        dir.display()
    );
    Ok(text)
}

/// Copies keys of zone `zone` into its key directory: BIND pairs (either file of the
/// pair named) and Knot DNS PKCS#8 `.pem` files (of `role`). Each is read, checked
/// (zone, algorithm, private key matching the public one) and written anew with its
/// timing (a `.pem` key is published and signs from `now`).
pub fn import(rules: &Path, zone: &str, files: &[PathBuf], role: Role, now: u64) -> Result<String, String> {
    let (origin, dir) = key_directory(rules, zone)?;
    let mut text = String::new();
    for file in files {
        let (key, private, timing) = match file.extension().and_then(|e| e.to_str()) {
            Some("key" | "private") => {
                let sep_role = if role == Role::Zsk { Role::Csk } else { role };
                let read = key_file::read(&file.with_extension("key"), &origin, sep_role)?;
                (read.key, read.private, read.timing)
            }
            Some("pem") => {
                let (key, private) = read_pem(file, role)?;
                let timing =
                    Timing { created: Some(now), publish: Some(now), activate: Some(now), ..Timing::default() };
                (key, private, timing)
            }
            _ => return Err(format!("{}: not a key file (BIND .key/.private, or Knot DNS .pem)", file.display())),
        };
        let path = key_file::write(&dir, &origin, &key, &private, &timing)?;
        let _ = writeln!(
            text,
            "{} key {} ({}): {}",
            key.role.name().to_uppercase(),
            key.tag,
            key.algorithm.mnemonic(),
            path.display()
        );
    }
    Ok(text)
}

/// A PKCS#8 PEM private key (Knot DNS's key store), its algorithm told by its OID.
fn read_pem(path: &Path, role: Role) -> Result<(SigningKey, Vec<u8>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = data_encoding::BASE64
        .decode(body.as_bytes())
        .map_err(|e| format!("{}: not a PEM file ({e})", path.display()))?;
    const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
    const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    let algorithm = if has(&P256_OID) {
        Algorithm::EcdsaP256Sha256
    } else if has(&ED25519_OID) {
        Algorithm::Ed25519
    } else {
        return Err(format!(
            "{}: not an ECDSA P-256 or Ed25519 key (the algorithms linedns signs with)",
            path.display()
        ));
    };
    SigningKey::from_pkcs8(algorithm, role, &der).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where each key of zone `zone` (every zone of the rules when `None`) is at `now`:
/// role, algorithm, tag, whether it is published, signs and is in CDS, its times, its
/// file, and the DS of the keys the parent should hold.
pub fn status(rules: &Path, zone: Option<&str>, now: u64) -> Result<String, String> {
    let zones: Vec<String> = match zone {
        Some(z) => vec![z.to_string()],
        None => {
            let file = crate::config::load(rules).map_err(|e| e.to_string())?;
            file.zones.iter().map(|z| z.value.origin.value.clone()).collect()
        }
    };
    let mut text = String::new();
    for zone in zones {
        let (origin, dir) = match key_directory(rules, &zone) {
            Ok(found) => found,
            Err(_) if zone.is_empty() => continue,
            Err(e) => {
                let _ = writeln!(text, "{zone}: {e}");
                continue;
            }
        };
        let keys = match read_keys(&dir, &origin) {
            Ok(keys) if keys.is_empty() => {
                let _ = writeln!(text, "{origin}: unsigned (no keys in {})", dir.display());
                continue;
            }
            Ok(keys) => keys,
            Err(e) => {
                let _ = writeln!(text, "{origin}: {e}");
                continue;
            }
        };
        let _ = writeln!(text, "{origin}: {} key(s) in {}", keys.len(), dir.display());
        for k in &keys {
            let t = &k.timing;
            let state = match (t.published(now), t.signs(now)) {
                (true, true) => "active",
                (true, false) if t.activate.is_some_and(|a| a > now) => "published, not yet signing",
                (true, false) => "retired, still published",
                (false, _) if t.publish.is_some_and(|p| p > now) => "not yet published",
                (false, _) => "removed",
            };
            let cds = if t.in_cds(now, k.key.role) { ", in CDS" } else { "" };
            let _ = writeln!(
                text,
                "  {} {:>5} {:<16} {state}{cds}",
                k.key.role.name().to_uppercase(),
                k.key.tag,
                k.key.algorithm.mnemonic()
            );
            for (name, time) in [
                ("created", t.created),
                ("publish", t.publish),
                ("activate", t.activate),
                ("inactive", t.inactive),
                ("delete", t.delete),
                ("sync-publish", t.sync_publish),
                ("sync-delete", t.sync_delete),
            ] {
                if let Some(time) = time {
                    let _ = writeln!(text, "      {name:<13}{}", key_file::format_time(time));
                }
            }
            let _ = writeln!(text, "      file         {}", k.path.display());
            if k.key.role.signs_keys() {
                let _ = writeln!(text, "      DS           {}", ds_record(&origin, &k.key));
            }
        }
    }
    Ok(text)
}

/// Starts a roll of zone `zone`'s ZSK (`ksk` false) or of its KSK or CSK (`ksk` true) at
/// `now`, whatever their lifetimes: the new key's times and the old key's go into their
/// files, and a running server (which watches them) takes each step from there.
pub fn roll(rules: &Path, zone: &str, ksk: bool, now: u64) -> Result<String, String> {
    let origin = crate::name::normalize(zone)?;
    let snapshot = super::compile_file(rules, &super::CompileOptions::from_env()).map_err(|e| e.to_string())?.snapshot;
    let signing = snapshot
        .zones
        .iter()
        .find(|z| *z.origin == *origin)
        .ok_or_else(|| format!("no zone {origin:?} in the rules"))?
        .signing
        .clone()
        .ok_or_else(|| format!("zone {origin} is not signed"))?;
    let policy = &signing.policy;
    let keys = read_keys(&policy.key_dir, &origin)?;
    let of_kind: Vec<&super::key_file::KeyFiles> =
        keys.iter().filter(|k| if ksk { k.key.role.signs_keys() } else { k.key.role == Role::Zsk }).collect();
    let kind = if ksk { "KSK or CSK" } else { "ZSK" };
    match of_kind.as_slice() {
        [] if !ksk => Err(format!(
            "zone {origin} has no ZSK (its CSK rolls with {})",
            zone_command("keys roll", rules, &origin, "--ksk")
        )),
        [] => Err(format!("zone {origin} has no {kind}")),
        [key] if key.timing.signs(now) && key.timing.inactive.is_none() && key.timing.sync_delete.is_none() => {
            super::rollover::start(&policy.key_dir, &origin, key, policy, now)
        }
        _ => Err(format!(
            "a {kind} roll of zone {origin} is under way ({} shows where it is)",
            zone_command("keys status", rules, &origin, "")
        )),
    }
}
