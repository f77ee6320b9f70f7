//! Node health decided by the fleet: this instance publishes its own probes' verdicts
//! (on a change at once, else every third of the result expiry), follows every other
//! instance's through the store, and decides each node by the rules' policy from the
//! results of all sites; queries read the decision.
//!
//! The store down or unreachable: the results last heard from the other sites count
//! until they expire (the last fleet state), this instance's own verdicts throughout; then
//! it follows its own probes alone, as an instance without a fleet does.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::stats::{FleetStats, SiteResult};
use super::store::{Change, Report, Store, probe_token};
use crate::compile::host::FleetSettings;
use crate::engine::Engine;
use crate::engine::fleet::{Tally, probing_sites};
use crate::serve::clock::unix_now_ms;

/// A result heard from another instance.
struct Heard {
    report: Report,
    /// When it arrived here (its age is measured by this clock, not the sender's).
    received: Instant,
}

/// What one instance knows of the fleet's results.
#[derive(Default)]
pub struct Results {
    /// By (probe token, instance).
    heard: HashMap<(String, String), Heard>,
    /// What this instance last published, and when, by probe token.
    published: HashMap<String, (bool, Instant)>,
    /// Whether the last publication failed (said once in the log).
    publish_failing: bool,
}

/// Keeps another instance's result (this instance's own come from its probes).
pub fn hear(results: &mut Results, settings: &FleetSettings, change: Change) {
    if change.instance == settings.instance {
        return;
    }
    let key = (change.probe, change.instance);
    match change.report {
        Some(report) => {
            let received = Instant::now().checked_sub(change.age).unwrap_or_else(Instant::now);
            results.heard.insert(key, Heard { report, received });
        }
        None => {
            results.heard.remove(&key);
        }
    }
}

impl Results {
    /// Results held from other instances.
    pub fn held(&self) -> usize {
        self.heard.len()
    }

    /// Forgets what was published (after a reconnection, everything is published again).
    pub fn republish(&mut self) {
        self.published.clear();
    }

    /// Drops the results older than `keep` (the store drops them too).
    pub fn prune(&mut self, keep: std::time::Duration) {
        self.heard.retain(|_, h| h.received.elapsed() < keep);
    }
}

/// Publishes this instance's verdict of each probe that changed, or that was last
/// published a third of the expiry ago.
pub async fn publish(
    store: &Store,
    engine: &Engine,
    settings: &FleetSettings,
    results: &mut Results,
    stats: &FleetStats,
) {
    let snapshot = engine.snapshot();
    let renew = settings.result_expiry / 3;
    for probe in &snapshot.probes {
        let target = probe.key.target.to_string();
        let token = probe_token(&probe.key.check, &target);
        if probe.state.is_idle() {
            continue; // other sites probe it
        }
        let up = probe.state.own_up();
        let due = match results.published.get(&token) {
            Some((was, at)) => *was != up || at.elapsed() >= renew,
            None => probe.state.has_fresh_verdict(),
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
                if std::mem::take(&mut results.publish_failing) {
                    tracing::info!("fleet: this instance's results are shared again");
                }
                stats.published.fetch_add(1, Ordering::Relaxed);
                results.published.insert(token, (up, Instant::now()));
            }
            Err(e) => {
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                if !results.publish_failing {
                    tracing::warn!("fleet: {e}; this instance's results are not shared until it succeeds");
                }
                results.publish_failing = true;
                return;
            }
        }
    }
}

/// Decides every probe of the live snapshot from the results of the sites that probe it
/// (all, or the `probe_sites` chosen for it among the sites heard from), heard within the
/// expiry (by this instance's clock), this instance's own verdict among them when its
/// site is one; and leaves the probes its site is not chosen for idle.
pub fn decide(engine: &Engine, settings: &FleetSettings, results: &Results, stats: &FleetStats) {
    let snapshot = engine.snapshot();
    let fresh = |h: &Heard| h.received.elapsed() < settings.result_expiry;
    let mut changed = false;
    for probe in &snapshot.probes {
        probe.state.follow_fleet();
        let token = probe_token(&probe.key.check, &probe.key.target.to_string());
        // The sites to choose from: those with a fresh result for this very probe (a
        // site with other rules, or one that stopped, is not relied on), and this one.
        let probing = settings.probe_sites.map(|m| {
            let mut sites: Vec<&str> = results
                .heard
                .iter()
                .filter(|((p, _), h)| *p == token && fresh(h))
                .map(|(_, h)| h.report.site.as_str())
                .chain([settings.site.as_str()])
                .collect();
            sites.sort_unstable();
            sites.dedup();
            probing_sites(&token, &sites, m as usize).into_iter().map(str::to_string).collect::<Vec<String>>()
        });
        let counts = |site: &str| probing.as_ref().is_none_or(|chosen| chosen.iter().any(|c| c == site));
        let mine = counts(&settings.site);
        probe.state.set_idle(!mine);
        let own = (mine && probe.state.has_fresh_verdict()).then(|| (settings.site.as_str(), probe.state.own_up()));
        let heard = results
            .heard
            .iter()
            .filter(|((p, _), h)| *p == token && fresh(h) && counts(&h.report.site))
            .map(|(_, h)| (h.report.site.as_str(), h.report.up));
        let tally = Tally::of(heard.chain(own));
        // No result yet (this instance's own included): queries keep the initial state.
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

/// Records every probe's results as this instance holds them, for the status page.
pub fn record_views(engine: &Engine, settings: &FleetSettings, results: &Results, stats: &FleetStats) {
    let snapshot = engine.snapshot();
    let mut views = HashMap::with_capacity(snapshot.probes.len());
    for probe in &snapshot.probes {
        let token = probe_token(&probe.key.check, &probe.key.target.to_string());
        let mut sites: Vec<SiteResult> = results
            .heard
            .iter()
            .filter(|((p, _), _)| *p == token)
            .map(|((_, instance), h)| {
                let age = h.received.elapsed();
                SiteResult {
                    site: h.report.site.clone(),
                    instance: instance.clone(),
                    up: h.report.up,
                    age_ms: age.as_millis() as u64,
                    counted: age < settings.result_expiry,
                }
            })
            .collect();
        if !probe.state.is_idle() && probe.state.has_fresh_verdict() {
            sites.push(SiteResult {
                site: settings.site.clone(),
                instance: settings.instance.clone(),
                up: probe.state.own_up(),
                age_ms: 0,
                counted: true,
            });
        }
        sites.sort_by(|a, b| (&a.site, &a.instance).cmp(&(&b.site, &b.instance)));
        views.insert(probe.key.clone(), sites);
    }
    *stats.sites.lock().unwrap_or_else(|e| e.into_inner()) = views;
}
