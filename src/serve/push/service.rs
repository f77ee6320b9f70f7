//! `serve` keeping the providers in sync: woken when a view may have changed (a reload, a
//! probe flipping, an override), it waits out the coalescing window, then pushes every
//! provider and zone from the live snapshot; every `drift_interval_ms` (the shortest of
//! the providers') it reads the copies back
//! all the same, so that a record changed at a provider is found (drift) and put back. A
//! failed push is retried with doubling waits. The query path never waits on any of it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::time::Instant;

use super::{Done, PushOptions, PushProblem, Target, ZonePush, push_one, targets};
use crate::compile::host::HostSettings;
use crate::engine::Engine;
use crate::engine::push::Rrsets;

/// Least time between two rounds: the changes of a flap storm go out together.
pub const COALESCE: Duration = Duration::from_millis(500);

/// The first retry wait after a failure, doubled after each until [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Each provider's and zone's pushes, for metrics and the status page.
#[derive(Debug, Default)]
pub struct PushStats {
    zones: Mutex<BTreeMap<(String, String), ZoneStats>>,
}

/// One provider's zone, as the pushes left it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ZoneStats {
    /// Pushes by result: `in_sync`, `applied`, `failed`, `refused`.
    pub results: BTreeMap<&'static str, u64>,
    /// When a push last left the copy holding the view (seconds since the Unix epoch).
    pub last_success: Option<u64>,
    /// RRsets the copy held differently from the view at the last read.
    pub out_of_sync: usize,
    /// Rounds that found the copy changed at the provider while the view was not.
    pub drifts: u64,
    /// The last error, while it lasts.
    pub error: Option<String>,
}

impl PushStats {
    /// Every (provider, zone) and its stats.
    pub fn list(&self) -> Vec<((String, String), ZoneStats)> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn record(&self, push: &ZonePush, drift: bool) {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let stats = zones.entry((push.provider.clone(), push.zone.to_string())).or_default();
        let result = match &push.result {
            Ok(Done::InSync) => "in_sync",
            Ok(_) => "applied",
            Err(PushProblem::TooLarge { .. }) => "refused",
            Err(_) => "failed",
        };
        *stats.results.entry(result).or_default() += 1;
        stats.out_of_sync = push.plan.as_ref().map_or(stats.out_of_sync, |p| p.changes.len());
        stats.drifts += u64::from(drift);
        match &push.result {
            Ok(_) => {
                stats.last_success = Some(crate::serve::clock::unix_now());
                stats.error = None;
                stats.out_of_sync = 0;
            }
            Err(problem) => stats.error = Some(problem.to_string()),
        }
    }
}

/// What the service works with: the engine (the live views), the live host settings
/// (the providers), its stats, and the hook that wakes it.
pub(crate) struct Pushes {
    /// The engine served.
    pub engine: Arc<Engine>,
    /// The host settings of the live rules.
    pub host: Arc<ArcSwap<HostSettings>>,
    /// Where each provider's zone is shown.
    pub stats: Arc<PushStats>,
    /// Woken by the engine when a view may have changed.
    pub changed: Arc<tokio::sync::Notify>,
}

/// A target's state between rounds.
#[derive(Default)]
struct Pending {
    /// The view last pushed in full: a plan against an unchanged view is drift.
    pushed: Option<Rrsets>,
    /// When to try again after a failure, and the wait after that.
    retry: Option<(Instant, Duration)>,
}

/// Keeps the providers in sync until `stopped`.
pub(crate) async fn run(pushes: Pushes, stopped: impl Future<Output = ()>) {
    tokio::pin!(stopped);
    let mut pending: BTreeMap<(String, String), Pending> = BTreeMap::new();
    let mut last_round = Instant::now() - COALESCE;
    let mut next_drift = Instant::now();
    loop {
        let retry_at = pending.values().filter_map(|p| p.retry.map(|r| r.0)).min();
        let wake = retry_at.map_or(next_drift, |r| r.min(next_drift));
        tokio::select! {
            () = pushes.changed.notified() => {}
            () = tokio::time::sleep_until(wake) => {}
            () = &mut stopped => return,
        }
        // Coalesce: a round at most every COALESCE; what changed meanwhile goes together.
        tokio::select! {
            () = tokio::time::sleep_until(last_round + COALESCE) => {}
            () = &mut stopped => return,
        }
        last_round = Instant::now();
        let host = pushes.host.load_full();
        let every = host.providers.iter().map(|p| p.drift_interval).min();
        next_drift = last_round + every.unwrap_or(crate::config::defaults::PROVIDER_DRIFT_INTERVAL);
        if host.providers.is_empty() {
            continue;
        }
        let options = PushOptions { state_dir: host.state_dir.clone(), ..PushOptions::default() };
        let made = {
            let live = pushes.engine.snapshot();
            targets(&live, &live.live_health(), &host.providers, &options)
        };
        pending.retain(|key, _| made.iter().any(|t| key_of_made(t) == *key));
        for made in made {
            let key = key_of_made(&made);
            let push = match made {
                Ok(target) => round(&target, &options, pending.entry(key).or_default(), &pushes.stats).await,
                Err(failed) => {
                    tracing::error!("{failed}");
                    pushes.stats.record(&failed, false);
                    continue;
                }
            };
            log(&push);
        }
    }
}

/// The (provider, zone) a made target is for.
fn key_of_made(made: &Result<Target, ZonePush>) -> (String, String) {
    match made {
        Ok(t) => (t.provider.clone(), t.zone.to_string()),
        Err(p) => (p.provider.clone(), p.zone.to_string()),
    }
}

/// One target's round: pushed, counted, its retry scheduled after a failure.
async fn round(target: &Target, options: &PushOptions, pending: &mut Pending, stats: &PushStats) -> ZonePush {
    let push = push_one(target, options).await;
    let changed_there = push.plan.as_ref().is_some_and(|p| !p.is_empty());
    let drift = changed_there && pending.pushed.as_ref() == Some(&target.wanted);
    if drift {
        tracing::warn!(
            "provider {} zone {}: {} RRset(s) changed at the provider (drift); putting them back",
            push.provider,
            push.zone,
            push.plan.as_ref().map_or(0, |p| p.changes.len())
        );
    }
    stats.record(&push, drift);
    match &push.result {
        Ok(_) => {
            pending.pushed = Some(target.wanted.clone());
            pending.retry = None;
        }
        Err(_) => {
            let wait = pending.retry.map_or(RETRY_FIRST, |(_, wait)| (wait * 2).min(RETRY_MAX));
            pending.retry = Some((Instant::now() + wait, wait));
        }
    }
    push
}

/// Logs a round's result: each change applied, or the error.
fn log(push: &ZonePush) {
    match &push.result {
        Ok(Done::InSync) => tracing::debug!("{push}"),
        Ok(_) => {
            tracing::info!("{push}");
            for change in push.plan.iter().flat_map(|p| &p.changes) {
                tracing::info!("provider {} zone {}: {change}", push.provider, push.zone);
            }
        }
        Err(_) => tracing::error!("{push}"),
    }
}
