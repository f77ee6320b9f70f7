//! Node health decided by the fleet: this instance publishes its own probes' verdicts
//! (on a change at once, else every third of the result expiry), follows every other
//! instance's through the store, and decides each node by the rules' policy from the
//! results of all sites; queries read the decision.
//!
//! The store down or unreachable: the results last heard from the other sites count
//! until they expire (the last fleet state), this instance's own verdicts throughout; then
//! it follows its own probes alone, as an instance without a fleet does. It reconnects by
//! itself, with doubling waits up to a minute.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::store::{Change, Report, Store, probe_token};
use crate::compile::host::FleetSettings;
use crate::engine::Engine;
use crate::engine::fleet::Tally;
use crate::serve::clock::unix_now_ms;

/// How often results are looked at and decisions made.
const TICK: Duration = Duration::from_millis(100);

/// The longest wait between two attempts to reach the store.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// What `/metrics` and the status page say of the fleet.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Whether the store is reachable now.
    pub connected: AtomicBool,
    /// Results this instance published.
    pub published: AtomicU64,
    /// Failed attempts to reach or use the store.
    pub store_errors: AtomicU64,
    /// Decisions that changed a node's state.
    pub decisions_changed: AtomicU64,
    /// Results held from other instances.
    pub results_held: AtomicU64,
}

/// A result heard from another instance.
struct Heard {
    report: Report,
    /// When it arrived here (its age is measured by this clock, not the sender's).
    received: Instant,
}

/// What one instance knows of the fleet's results.
struct Results {
    /// By (probe token, instance).
    heard: HashMap<(String, String), Heard>,
    /// What this instance last published, and when, by probe token.
    published: HashMap<String, (bool, Instant)>,
}

/// Runs the fleet's health for `engine` until `stop` completes.
pub async fn run(engine: Arc<Engine>, settings: FleetSettings, stats: Arc<FleetStats>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut results = Results { heard: HashMap::new(), published: HashMap::new() };
    let keep = settings.result_expiry * 3;
    let mut retry = Duration::from_secs(1);
    let mut next_attempt = Instant::now();
    let mut store: Option<Store> = None;
    let mut changes: Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = Change> + Send>>> = None;
    let mut tick = tokio::time::interval(TICK);
    loop {
        if store.is_none() && Instant::now() >= next_attempt {
            match Store::connect(&settings.store, keep).await {
                Ok(s) => match s.watch().await {
                    Ok(watch) => {
                        tracing::info!(
                            "fleet: store {} reached; following the other instances' probes",
                            settings.store.servers.join(", ")
                        );
                        changes = Some(Box::pin(watch));
                        store = Some(s);
                        retry = Duration::from_secs(1);
                        results.published.clear();
                    }
                    Err(e) => {
                        stats.store_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "fleet: {e}; deciding from the last results heard and this instance's own probes"
                        );
                    }
                },
                Err(e) => {
                    stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    if stats.connected.load(Ordering::Relaxed) || retry == Duration::from_secs(1) {
                        tracing::warn!(
                            "fleet: {e}; deciding from the last results heard and this instance's own probes; retrying in {retry:?}"
                        );
                    }
                }
            }
            if store.is_none() {
                next_attempt = Instant::now() + retry;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
        let connected = store.as_ref().is_some_and(Store::is_connected);
        if stats.connected.swap(connected, Ordering::Relaxed) && !connected {
            tracing::warn!(
                "fleet: store unreachable; deciding from the last results heard and this instance's own probes"
            );
        }
        tokio::select! {
            () = &mut stop => break,
            change = next_change(&mut changes) => match change {
                Some(change) => hear(&mut results, &settings, change),
                None => {
                    // The watch broke (the connection dropped): watch again once back.
                    changes = None;
                    store = None;
                    next_attempt = Instant::now() + retry;
                }
            },
            _ = tick.tick() => {
                if let Some(s) = &store {
                    publish(s, &engine, &settings, &mut results, &stats).await;
                }
                decide(&engine, &settings, &results, &stats);
                stats.results_held.store(results.heard.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// The next change of the watch, or never when there is none.
async fn next_change(
    changes: &mut Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = Change> + Send>>>,
) -> Option<Change> {
    match changes {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// Keeps another instance's result (this instance's own come from its probes).
fn hear(results: &mut Results, settings: &FleetSettings, change: Change) {
    if change.instance == settings.instance {
        return;
    }
    let key = (change.probe, change.instance);
    match change.report {
        Some(report) => {
            results.heard.insert(key, Heard { report, received: Instant::now() });
        }
        None => {
            results.heard.remove(&key);
        }
    }
}

/// Publishes this instance's verdict of each probe that changed, or that was last
/// published a third of the expiry ago.
async fn publish(store: &Store, engine: &Engine, settings: &FleetSettings, results: &mut Results, stats: &FleetStats) {
    let snapshot = engine.snapshot();
    let renew = settings.result_expiry / 3;
    for probe in &snapshot.probes {
        let target = probe.key.target.to_string();
        let token = probe_token(&probe.key.check, &target);
        let up = probe.state.own_up();
        let due = match results.published.get(&token) {
            Some((was, at)) => *was != up || at.elapsed() >= renew,
            None => probe.state.last_ok().is_some(),
        };
        if !due {
            continue;
        }
        let (_, _, latency_us) = probe.state.counters();
        let report = Report {
            check: probe.key.check.clone(),
            target,
            up,
            latency_ms: latency_us as f64 / 1000.0,
            instance: settings.instance.clone(),
            site: settings.site.clone(),
            at: unix_now_ms(),
        };
        match store.publish(&token, &report).await {
            Ok(()) => {
                stats.published.fetch_add(1, Ordering::Relaxed);
                results.published.insert(token, (up, Instant::now()));
            }
            Err(e) => {
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("fleet: {e}");
                return;
            }
        }
    }
}

/// Decides every probe of the live snapshot from this instance's own verdict and the
/// results heard within the expiry (by this instance's clock).
fn decide(engine: &Engine, settings: &FleetSettings, results: &Results, stats: &FleetStats) {
    let snapshot = engine.snapshot();
    let mut changed = false;
    for probe in &snapshot.probes {
        probe.state.follow_fleet();
        if probe.state.last_ok().is_none() {
            continue; // no verdict of its own yet: queries keep the initial state
        }
        let token = probe_token(&probe.key.check, &probe.key.target.to_string());
        let heard =
            results.heard.iter().filter(|((p, _), h)| *p == token && h.received.elapsed() < settings.result_expiry);
        let own = (settings.site.as_str(), probe.state.own_up());
        let tally = Tally::of(heard.map(|(_, h)| (h.report.site.as_str(), h.report.up)).chain([own]));
        let Some(up) = settings.policy.decide(tally) else { continue };
        if probe.state.decide(up) {
            changed = true;
            stats.decisions_changed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "node {} {} by the fleet ({}): {} of {} site(s) see it up ({})",
                probe.key.target,
                if up { "UP" } else { "DOWN" },
                probe.key.check,
                tally.up,
                tally.sites,
                settings.policy
            );
        }
    }
    if changed {
        engine.serials.mark_changed();
    }
}
