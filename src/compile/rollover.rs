//! Key rollover's timetable (RFC 6781 §4.1, with RFC 7583's intervals), kept in the key
//! files' own times (see [`key_file::Timing`]), so a restart continues a roll where it
//! was. Pure planning ([`plan`]) and the file changes of each step; the server's
//! `serve::rollover` runs it, asks the parent for the DS and reloads.
//!
//! - ZSK, pre-publish (§4.1.1.1): the new ZSK is published at once and signs after
//!   `Ipub` = Dprp + TTL(DNSKEY), when every cache holding the DNSKEY set has it; the old
//!   one stops signing then, and leaves the DNSKEY set after `Iret` = Dprp + TTLsig, when
//!   no cache holds a signature it made.
//! - KSK or CSK, through the parent (RFC 7583 §3.3, driven by CDS, RFC 7344): the new
//!   key is published at once; after `Ipub` it signs too (the DNSKEY set, and for a CSK
//!   every set) and the CDS/CDNSKEY sets name it instead of the old key. Once every parent
//!   server serves its DS and not the old one's, the old key signs for TTL(DS) + Dprp
//!   more (caches may still hold the old DS), then leaves the DNSKEY set after Dprp +
//!   TTL(DNSKEY) (for a CSK, TTLsig).
//! - A key past its Delete time is moved to `retired/` in the key directory.

use std::path::Path;

use super::key_file::{self, KeyFiles, Timing};
use crate::engine::sign::RollPolicy;
use crate::engine::sign::keys::{Role, SigningKey};

/// The next thing the rollover does for one zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Start a ZSK roll: the ZSK of this tag has signed for its lifetime.
    RollZsk(u16),
    /// Start a KSK or CSK roll: the key of this tag has signed for its lifetime.
    RollKsk(u16),
    /// The new key `new` is in CDS: waiting for the parent to serve its DS instead of
    /// `old`'s.
    AwaitDs {
        /// The key going.
        old: u16,
        /// The key coming.
        new: u16,
    },
    /// The key of this tag left the DNSKEY set: its files go to `retired/`.
    Retire(u16),
}

/// What the rollover of a zone with `keys` and `policy` does at `now`.
pub fn plan(keys: &[KeyFiles], policy: &RollPolicy, now: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    for k in keys {
        if k.timing.delete.is_some_and(|d| d <= now) {
            steps.push(Step::Retire(k.key.tag));
        }
    }
    let current: Vec<&KeyFiles> = keys.iter().filter(|k| k.timing.delete.is_none_or(|d| d > now)).collect();
    let due = |k: &KeyFiles, lifetime: u64| {
        lifetime > 0 && k.timing.signs(now) && k.timing.activate.unwrap_or(0).saturating_add(lifetime) <= now
    };
    let zsks: Vec<&&KeyFiles> = current.iter().filter(|k| k.key.role == Role::Zsk).collect();
    let seps: Vec<&&KeyFiles> = current.iter().filter(|k| k.key.role.signs_keys()).collect();
    if zsks.len() == 1 && zsks[0].timing.inactive.is_none() && due(zsks[0], policy.zsk_lifetime) {
        steps.push(Step::RollZsk(zsks[0].key.tag));
    }
    match seps.as_slice() {
        [only]
            if only.timing.inactive.is_none()
                && only.timing.sync_delete.is_none()
                && due(only, policy.ksk_lifetime) =>
        {
            steps.push(Step::RollKsk(only.key.tag));
        }
        [a, b] => {
            // The new key is in CDS, the old one has left it and signs on, retiring.
            let (old, new) = if a.timing.sync_delete.is_some() { (a, b) } else { (b, a) };
            let new_in_cds = new.timing.in_cds(now, new.key.role);
            if new_in_cds && old.timing.sync_delete.is_some_and(|t| t <= now) && old.timing.inactive.is_none() {
                steps.push(Step::AwaitDs { old: old.key.tag, new: new.key.tag });
            }
        }
        _ => {}
    }
    steps
}

/// Whether any time of `keys` falls in (`after`, `now`]: a key changed state, and the
/// zone must be compiled again to show it.
pub fn changed_between(keys: &[KeyFiles], after: u64, now: u64) -> bool {
    keys.iter().flat_map(|k| k.timing.times()).flatten().any(|t| after < t && t <= now)
}

/// RFC 7583 §3.2.1's Ipub: Dprp + TTL(DNSKEY).
fn publish_interval(policy: &RollPolicy) -> u64 {
    policy.propagation + u64::from(policy.dnskey_ttl)
}

/// Starts the roll of `old` (a ZSK, or a KSK or CSK) of zone `origin` at `now`: a new key
/// of its algorithm and role, published now, and both keys' times set as the module
/// documentation says. Returns what to log.
pub fn start(dir: &Path, origin: &str, old: &KeyFiles, policy: &RollPolicy, now: u64) -> Result<String, String> {
    // A key tag is 16 bits: a new key whose tag a key of the zone has (its files would
    // be the same) is made again.
    let (key, private) = loop {
        let (key, private) = SigningKey::generate(old.key.algorithm, old.key.role)?;
        let stem = key_file::stem(origin, key.algorithm, key.tag);
        if !dir.join(format!("{stem}.key")).exists() && !dir.join("retired").join(format!("{stem}.key")).exists() {
            break (key, private);
        }
    };
    let ipub = publish_interval(policy);
    let mut new_timing =
        Timing { created: Some(now), publish: Some(now), activate: Some(now + ipub), ..Timing::default() };
    let mut old_timing = old.timing;
    let message = if old.key.role == Role::Zsk {
        // RFC 7583 §3.2.1: Iret = Dprp + TTLsig.
        let retire_at = now + ipub;
        old_timing.inactive = Some(retire_at);
        old_timing.delete = Some(retire_at + policy.propagation + u64::from(policy.max_ttl));
        format!(
            "ZSK roll: new ZSK {} published, signs from {}; ZSK {} stops signing then and leaves the DNSKEY set at {}",
            key.tag,
            key_file::format_time(retire_at),
            old.key.tag,
            key_file::format_time(old_timing.delete.unwrap_or(0))
        )
    } else {
        new_timing.sync_publish = Some(now + ipub);
        old_timing.sync_delete = Some(now + ipub);
        format!(
            "{} roll: new key {} published, signs and replaces key {} in CDS/CDNSKEY at {}; key {} retires once the parent serves the new DS",
            old.key.role.name().to_uppercase(),
            key.tag,
            old.key.tag,
            key_file::format_time(now + ipub),
            old.key.tag
        )
    };
    key_file::write(dir, origin, &key, &private, &new_timing)?;
    key_file::write(dir, origin, &old.key, &old.private, &old_timing)?;
    Ok(message)
}

/// The parent serves the new key's DS (and not `old`'s) since `now`, with TTL `ds_ttl`:
/// `old` signs until caches have dropped the old DS, then leaves. Returns what to log.
pub fn ds_seen(
    dir: &Path,
    origin: &str,
    old: &KeyFiles,
    policy: &RollPolicy,
    ds_ttl: u32,
    now: u64,
) -> Result<String, String> {
    let mut timing = old.timing;
    let inactive = now + u64::from(ds_ttl) + policy.propagation;
    // Its signatures leave caches after the DNSKEY set's TTL (a CSK's: any set's).
    let cached = if old.key.role == Role::Csk { policy.max_ttl.max(policy.dnskey_ttl) } else { policy.dnskey_ttl };
    timing.inactive = Some(inactive);
    timing.delete = Some(inactive + policy.propagation + u64::from(cached));
    key_file::write(dir, origin, &old.key, &old.private, &timing)?;
    Ok(format!(
        "the parent serves the new DS: key {} signs until {} and leaves the DNSKEY set at {}",
        old.key.tag,
        key_file::format_time(inactive),
        key_file::format_time(timing.delete.unwrap_or(0))
    ))
}

/// Moves the files of a key that left the DNSKEY set to `retired/` in its directory.
pub fn retire(key: &KeyFiles) -> Result<String, String> {
    let dir = key.path.parent().unwrap_or(Path::new("")).join("retired");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot make it: {e}", dir.display()))?;
    for file in [key.path.clone(), key.path.with_extension("private")] {
        let name = file.file_name().unwrap_or_default();
        std::fs::rename(&file, dir.join(name))
            .map_err(|e| format!("{}: cannot move it to {}: {e}", file.display(), dir.display()))?;
    }
    Ok(format!("key {} left the DNSKEY set: its files are in {}", key.key.tag, dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sign::keys::Algorithm;

    fn key(role: Role, timing: Timing) -> KeyFiles {
        let (key, private) = SigningKey::generate(Algorithm::EcdsaP256Sha256, role).unwrap();
        KeyFiles { key, private, timing, path: "K.key".into() }
    }

    fn policy() -> RollPolicy {
        RollPolicy {
            zsk_lifetime: 100,
            ksk_lifetime: 1000,
            propagation: 5,
            dnskey_ttl: 10,
            max_ttl: 60,
            ..RollPolicy::default()
        }
    }

    #[test]
    fn rolls_start_at_the_end_of_a_lifetime_and_wait_for_the_ds() {
        let active = Timing { publish: Some(0), activate: Some(0), ..Timing::default() };
        let ksk = key(Role::Ksk, active);
        let zsk = key(Role::Zsk, active);
        let keys = [ksk, zsk];
        assert!(plan(&keys, &policy(), 99).is_empty());
        assert_eq!(plan(&keys, &policy(), 100), [Step::RollZsk(keys[1].key.tag)]);
        assert_eq!(plan(&keys, &policy(), 1000), [Step::RollZsk(keys[1].key.tag), Step::RollKsk(keys[0].key.tag)]);
        // A KSK roll under way: new key in CDS from 1015, the old one out of it.
        let old = key(Role::Ksk, Timing { sync_delete: Some(1015), ..active });
        let new = key(
            Role::Ksk,
            Timing { publish: Some(1000), activate: Some(1015), sync_publish: Some(1015), ..Timing::default() },
        );
        let keys = [old, new];
        assert!(plan(&keys, &policy(), 1010).is_empty());
        assert_eq!(plan(&keys, &policy(), 1015), [Step::AwaitDs { old: keys[0].key.tag, new: keys[1].key.tag }]);
        assert!(changed_between(&keys, 1010, 1015) && !changed_between(&keys, 1015, 1020));
        let gone = key(Role::Zsk, Timing { delete: Some(50), ..active });
        let tag = gone.key.tag;
        assert_eq!(plan(&[gone], &policy(), 50), [Step::Retire(tag)]);
    }
}
