//! What the admin API and every reload trigger share: the engine and serve's counters.
//! [`Control::reload`] is the one logged and counted reload that the file watch,
//! `POST /reload` and the binary's SIGHUP all run: the rules compiled off the query path,
//! the snapshot swapped into the engine ([`crate::engine::Engine::swap`]) and the host
//! settings into [`Control::host`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::health::checker::CheckerStats;
pub use super::reload_cause::ReloadCause;
use super::replication::notify::NotifyStats;
use arc_swap::ArcSwap;

use crate::compile::host::HostSettings;
use crate::compile::{Compiled, RulesSource};
use crate::engine::{Engine, ReloadReport};
use crate::error::CompileErrors;

/// The engine served, where it reloads from, the live host settings, and each service's
/// stats (each type its service's own, held here for the admin API), shared by the tasks.
#[derive(Debug)]
pub struct Control {
    /// The engine served.
    pub engine: Arc<Engine>,
    /// Where reloads read the rules again (`None`: the server never reloads).
    pub source: Option<RulesSource>,
    /// How the server listens, runs and keeps state, as the live rules say: swapped with
    /// each reload's snapshot. Read it with [`Control::host`].
    pub host: Arc<ArcSwap<HostSettings>>,
    /// Health checker counters.
    pub checker: Arc<CheckerStats>,
    /// Reload counters.
    pub reloads: ReloadStats,
    /// NOTIFY counters.
    pub notify: Arc<NotifyStats>,
    /// The secondary zones' status (zones transferred from a primary).
    pub secondary: Arc<super::secondary::SecondaryStats>,
    /// Each provider's zone as the pushes left it.
    pub push: Arc<super::push::service::PushStats>,
    /// Key rollover steps taken.
    pub rollover: Arc<super::rollover::RolloverStats>,
    /// The fleet's store and decisions (all zero for an instance on its own).
    pub fleet: Arc<super::fleet::stats::FleetStats>,
    /// dnstap frames written and dropped.
    pub dnstap: Arc<super::dnstap::DnstapStats>,
    /// The last periodic consistency check, once one has run.
    pub last_check: std::sync::Mutex<Option<super::check::consistency::LastCheck>>,
    /// Token for the admin API's mutating calls.
    pub token: Option<String>,
    /// Admin API requests refused by its guard (another host, another web origin, a
    /// change not sent as JSON).
    pub admin_refused: AtomicU64,
}

/// Reload outcomes, for metrics and the status page.
#[derive(Debug)]
pub struct ReloadStats {
    /// Reloads that swapped in a new snapshot.
    pub successes: AtomicU64,
    /// Reloads whose compile failed (the old snapshot stayed).
    pub failures: AtomicU64,
    /// Whether the last load of the rules (the start's, or the last reload's) succeeded:
    /// `false` while the rules on disk do not load.
    pub last_ok: AtomicBool,
    /// When the rules were last loaded or tried (the start, or the last reload), seconds
    /// since the Unix epoch.
    pub last_attempt: AtomicU64,
    /// When the rules last loaded (the start, or the last successful reload).
    pub last_success: AtomicU64,
    /// The last [`RECENT_RELOADS`] reloads, oldest first.
    recent: Mutex<VecDeque<ReloadEvent>>,
    /// The live snapshot's input files as the last reload found them (path, then
    /// modification time and length): the file watch does not try the same files again.
    tried: Mutex<Vec<InputStamp>>,
}

/// An input file and its modification time and length, when it can be read.
pub type InputStamp = (std::path::PathBuf, Option<(std::time::SystemTime, u64)>);

/// The live snapshot's input files (rules and data), each with its stamp now.
pub fn input_stamps(engine: &Engine) -> Vec<InputStamp> {
    engine.snapshot().inputs.iter().map(|(path, _)| (path.clone(), crate::compile::stamp(path))).collect()
}

impl Default for ReloadStats {
    /// The stats of a server whose rules loaded at start, now.
    fn default() -> Self {
        let now = super::clock::unix_now();
        ReloadStats {
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            last_attempt: AtomicU64::new(now),
            last_success: AtomicU64::new(now),
            recent: Mutex::default(),
            tried: Mutex::default(),
        }
    }
}

/// How many reloads [`ReloadStats::recent`] keeps.
pub const RECENT_RELOADS: usize = 10;

/// One reload, as the status page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadEvent {
    /// When it ended, seconds since the Unix epoch.
    pub at: u64,
    /// What started it, in words (`SIGHUP`, `admin API`, `files changed`, ...: a [`ReloadCause`]).
    pub cause: String,
    /// Whether the new rules went live.
    pub ok: bool,
    /// The generation live after it.
    pub generation: u64,
    /// What changed, when it went live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<ReloadReport>,
    /// Every error that kept the old rules, when it did not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl ReloadEvent {
    /// The event of a reload started by `cause` that ended in `result`, `generation`
    /// live after it.
    fn new(cause: &ReloadCause, generation: u64, result: &Result<ReloadReport, CompileErrors>) -> ReloadEvent {
        ReloadEvent {
            at: super::clock::unix_now(),
            cause: cause.to_string(),
            ok: result.is_ok(),
            generation,
            changed: result.as_ref().ok().cloned(),
            errors: result.as_ref().err().map(|e| e.0.iter().map(ToString::to_string).collect()).unwrap_or_default(),
        }
    }
}

impl ReloadStats {
    /// The last reloads, newest first.
    pub fn recent(&self) -> Vec<ReloadEvent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).iter().rev().cloned().collect()
    }

    /// Whether the rules on disk failed to load at the last reload (a failed reload,
    /// and no successful one since): the last failed reload, if so.
    pub fn failing(&self) -> Option<ReloadEvent> {
        if self.last_ok.load(Ordering::Relaxed) {
            return None;
        }
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).back().filter(|e| !e.ok).cloned()
    }

    /// Whether the last reload tried these very files (`stamps`, from [`input_stamps`]).
    pub fn tried(&self, stamps: &[InputStamp]) -> bool {
        *self.tried.lock().unwrap_or_else(|e| e.into_inner()) == stamps
    }

    fn keep(&self, event: ReloadEvent) {
        self.last_ok.store(event.ok, Ordering::Relaxed);
        self.last_attempt.store(event.at, Ordering::Relaxed);
        if event.ok {
            self.last_success.store(event.at, Ordering::Relaxed);
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT_RELOADS {
            recent.pop_front();
        }
        recent.push_back(event);
    }
}

impl Control {
    /// Reloads the engine, logs the outcome with what changed or every error
    /// (file:line) naming `cause`, and counts it. A failed reload keeps the running
    /// snapshot.
    pub fn reload(&self, cause: ReloadCause) -> Result<ReloadReport, CompileErrors> {
        let (engine, stats) = (&self.engine, &self.reloads);
        *stats.tried.lock().unwrap_or_else(|e| e.into_inner()) = input_stamps(engine);
        let result = match self.swap_in() {
            Ok(report) => {
                stats.successes.fetch_add(1, Ordering::Relaxed);
                let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
                let ((v4, v6), (new_v4, new_v6)) = report.table_blocks;
                tracing::info!(
                    "reload ({cause}): generation {} live; lines added: {}, removed: {}; zones added: {}, removed: {}; \
                     probes kept {}, new: {}, stopped: {}; table blocks {v4} IPv4 and {v6} IPv6 -> {new_v4} and {new_v6}",
                    report.generation,
                    list(&report.lines_added),
                    list(&report.lines_removed),
                    list(&report.zones_added),
                    list(&report.zones_removed),
                    report.probes_kept,
                    list(&report.probes_added),
                    list(&report.probes_removed),
                );
                if let Some(e) = &report.versions.persist_error {
                    tracing::error!("reload ({cause}): cannot store the serials: {e}");
                }
                Ok(report)
            }
            Err(errors) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                for e in &errors.0 {
                    tracing::error!("reload ({cause}) failed: {e}");
                }
                tracing::error!(
                    "reload ({cause}) failed with {} error(s); generation {} stays live",
                    errors.0.len(),
                    engine.generation()
                );
                Err(errors)
            }
        };
        stats.keep(ReloadEvent::new(&cause, engine.generation(), &result));
        result
    }
}

impl Control {
    /// The host settings of the live rules.
    pub fn host(&self) -> Arc<HostSettings> {
        self.host.load_full()
    }

    /// What the server reloads from, for logs and the status page (the rules file).
    pub fn source(&self) -> Option<String> {
        self.source.as_ref().map(RulesSource::describe)
    }

    /// Compiles the rules again and puts them in force: the snapshot into the engine, the
    /// host settings here. Without a source there is nothing to read: the live
    /// generation is reported.
    fn swap_in(&self) -> Result<ReloadReport, CompileErrors> {
        let Some(source) = &self.source else {
            return Ok(ReloadReport { generation: self.engine.generation(), ..ReloadReport::default() });
        };
        let Compiled { snapshot, host } = source.load()?;
        let report = self.engine.swap(snapshot);
        self.host.store(Arc::new(host));
        Ok(report)
    }
}
