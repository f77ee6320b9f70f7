//! Automatic key rollover: once a second, each signed zone's keys are read and
//! [`rollover::plan`] says what is due — start a ZSK roll, start a KSK/CSK roll, check
//! the parent's DS, retire a key — each step written into the key files and logged; a
//! reload then makes it live (and so does any key time passing: a key published,
//! signing, leaving). The state is the key files' times: a restart goes on from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::{Client, Request, Transport};
use super::clock::unix_now;
use super::reload_cause::{Reload, ReloadCause};
use crate::compile::dnssec::read_keys;
use crate::compile::key_file::KeyFiles;
use crate::compile::rollover::{self, Step};
use crate::config::defaults;
use crate::engine::Engine;
use crate::engine::sign::RollPolicy;
use crate::rdata::RecordType;
use crate::wire::dnssec;

/// A key as the rollover compares it between rounds: its file and its times.
type KeyState = (std::path::PathBuf, [Option<u64>; 7]);

/// How often the keys are looked at.
const EVERY: Duration = Duration::from_secs(1);

/// How long a parent server has to answer the DS query.
const PARENT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the rollover works with: the engine (the zones it signs), its stats, and the
/// server's reload.
pub(super) struct Rollovers {
    /// The engine served.
    pub engine: Arc<Engine>,
    /// Steps taken, for metrics.
    pub stats: Arc<RolloverStats>,
    /// Reloads the rules, naming the cause.
    pub reload: Box<Reload>,
}

/// Runs the rollover until `stopped`.
pub(super) async fn run(rollovers: Rollovers, stopped: impl Future<Output = ()>) {
    tokio::pin!(stopped);
    let mut last = unix_now();
    // What has been logged as awaited, so that a wait is logged once.
    let mut waiting: BTreeSet<(String, u16)> = BTreeSet::new();
    // Each zone's keys as last read: a key added, removed or retimed by hand (`linedns
    // keys roll`, `keys import`) is made live at once, watch or no watch.
    let mut seen: HashMap<String, Vec<KeyState>> = HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = &mut stopped => break,
        }
        let now = unix_now();
        let zones: Vec<(String, RollPolicy)> = rollovers
            .engine
            .snapshot()
            .zones
            .iter()
            .filter_map(|z| z.signing.as_ref().map(|s| (z.origin.to_string(), s.policy.clone())))
            .collect();
        let mut reload = false;
        for (origin, policy) in zones {
            let (dir, zone) = (policy.key_dir.clone(), origin.clone());
            let keys = match tokio::task::spawn_blocking(move || read_keys(&dir, &zone)).await {
                Ok(Ok(keys)) => keys,
                Ok(Err(e)) => {
                    tracing::error!("zone {origin}: key rollover cannot read the keys: {e}");
                    continue;
                }
                Err(_) => continue,
            };
            reload |= rollover::changed_between(&keys, last, now);
            let state: Vec<KeyState> = keys.iter().map(|k| (k.path.clone(), k.timing.times())).collect();
            if let Some(before) = seen.insert(origin.clone(), state.clone())
                && before != state
            {
                tracing::info!("zone {origin}: its key files changed; reloading");
                reload = true;
            }
            for step in rollover::plan(&keys, &policy, now) {
                match take(&rollovers.stats, &origin, &policy, &keys, step, now, &mut waiting).await {
                    Ok(Some(done)) => {
                        tracing::info!("zone {origin}: {done}");
                        reload = true;
                        // Its own step: the next round takes the keys as they are now.
                        seen.remove(&origin);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!("zone {origin}: key rollover: {e}"),
                }
            }
        }
        last = now;
        if reload {
            let _ = (rollovers.reload)(ReloadCause::KeyRollover);
        }
    }
}

/// Rollover steps taken, by (zone, step), for metrics.
#[derive(Debug, Default)]
pub struct RolloverStats {
    steps: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl RolloverStats {
    /// Counts one `step` of `zone`.
    pub fn count(&self, zone: &str, step: &'static str) {
        *self.steps.lock().unwrap_or_else(|e| e.into_inner()).entry((zone.to_string(), step)).or_default() += 1;
    }

    /// Every (zone, step, count).
    pub fn list(&self) -> Vec<(String, &'static str, u64)> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|((z, s), n)| (z.clone(), *s, *n)).collect()
    }
}

/// Takes one step; `Some(what was done)` when the key files changed.
async fn take(
    stats: &RolloverStats,
    origin: &str,
    policy: &RollPolicy,
    keys: &[KeyFiles],
    step: Step,
    now: u64,
    waiting: &mut BTreeSet<(String, u16)>,
) -> Result<Option<String>, String> {
    let by_tag = |tag: u16| keys.iter().find(|k| k.key.tag == tag).ok_or_else(|| format!("key {tag} is gone"));
    let dir = &policy.key_dir;
    let (name, done) = match step {
        Step::RollZsk(tag) => ("zsk-roll-started", rollover::start(dir, origin, by_tag(tag)?, policy, now)?),
        Step::RollKsk(tag) => ("ksk-roll-started", rollover::start(dir, origin, by_tag(tag)?, policy, now)?),
        Step::Retire(tag) => ("key-retired", rollover::retire(by_tag(tag)?)?),
        Step::AwaitDs { old, new } => {
            let (old, new) = (by_tag(old)?, by_tag(new)?);
            if policy.parent.is_empty() {
                if waiting.insert((origin.to_string(), new.key.tag)) {
                    tracing::warn!(
                        "zone {origin}: key {} is in CDS; key {} retires once the parent serves its DS (no `dnssec.parent` servers to ask: give the parent `{}`, then set them)",
                        new.key.tag,
                        old.key.tag,
                        crate::compile::keygen::ds_record(origin, &new.key)
                    );
                }
                return Ok(None);
            }
            match parent_ds(origin, &policy.parent, new, old).await {
                Ok(Some(ds_ttl)) => ("ds-seen", rollover::ds_seen(dir, origin, old, policy, ds_ttl, now)?),
                Ok(None) => {
                    if waiting.insert((origin.to_string(), new.key.tag)) {
                        tracing::info!(
                            "zone {origin}: waiting for the parent to serve the DS of key {} (CDS and CDNSKEY name it): {}",
                            new.key.tag,
                            crate::compile::keygen::ds_record(origin, &new.key)
                        );
                    }
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    };
    stats.count(origin, name);
    Ok(Some(done))
}

/// Whether every parent server serves a DS set for `origin` that names `new` and not
/// `old`: `Some(its TTL)` then, else `None`.
async fn parent_ds(
    origin: &str,
    servers: &[SocketAddr],
    new: &KeyFiles,
    old: &KeyFiles,
) -> Result<Option<u32>, String> {
    let mut ttl = 0;
    for &server in servers {
        let Some((sets, set_ttl)) = ds_set(server, origin).await? else { return Ok(None) };
        let names = |k: &KeyFiles| {
            let want = dnssec::ds_rdata(&crate::name::to_wire(origin), &k.key.dnskey);
            sets.iter().any(|ds| ds.get(..4) == want.get(..4) && (ds.get(3) != Some(&2) || *ds == want))
        };
        if !names(new) || names(old) {
            return Ok(None);
        }
        ttl = ttl.max(set_ttl);
    }
    Ok(Some(if ttl == 0 { defaults::PARENT_DS_TTL } else { ttl }))
}

/// The DS RDATAs of `origin` that `server` answers, and their TTL (`None`: none).
async fn ds_set(server: SocketAddr, origin: &str) -> Result<Option<(Vec<Vec<u8>>, u32)>, String> {
    let request = Request::query(origin, u16::from(RecordType::DS));
    let reply = Client::new(PARENT_TIMEOUT)
        .ask(server, &request, Transport::Udp)
        .await
        .map_err(|e| format!("parent {server}: the DS query: {e}"))?;
    let answer = crate::wire::message::answer(&reply.message).map_err(|e| format!("parent {server}: {e}"))?;
    let ds: Vec<(Vec<u8>, u32)> =
        answer.records.into_iter().filter(|r| r.rtype == RecordType::DS).map(|r| (r.data, r.ttl)).collect();
    if ds.is_empty() {
        return Ok(None);
    }
    let ttl = ds.iter().map(|(_, t)| *t).max().unwrap_or(0);
    Ok(Some((ds.into_iter().map(|(b, _)| b).collect(), ttl)))
}
