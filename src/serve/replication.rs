//! The primary's side of replication over time: each view's serial followed as the rules
//! and health change (the engine's [`crate::engine::versions`] does the looking), changes
//! coalesced, serials kept in the state directory, and a NOTIFY sent to each secondary
//! of a view that changed.
//!
//! ```text
//!  Engine::change_mark (polled) ─► wait out the coalescing interval ─► refresh_versions
//!  a reload ─► Engine::swap ─────────────────────────────────────────────┘ (at once)
//!      ─► serials.json (write, fsync, rename) ─► publish ─► NOTIFY each secondary
//! ```

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::control::Control;
use super::notify::{Notifier, Notify};
use crate::engine::versions::{Digest, SerialChange, StoredView};
use crate::engine::{Engine, VersionHooks};

/// How often the engine's change mark is looked at.
const POLL: Duration = Duration::from_millis(200);

/// The serials file in the state directory.
pub const SERIALS_FILE: &str = "serials.json";

/// What `serials.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct SerialsFile {
    /// Format version (1).
    version: u32,
    views: Vec<StoredEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredEntry {
    zone: String,
    line: String,
    serial: u32,
    digest: String,
}

/// The state directory's serials file, if the server has a state directory.
#[derive(Clone, Debug)]
pub struct SerialsStore {
    path: PathBuf,
}

impl SerialsStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<SerialsStore, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("state directory {}: {e}", dir.display()))?;
        Ok(SerialsStore { path: dir.join(SERIALS_FILE) })
    }

    /// The views stored: none when there is no file yet; an unreadable or corrupt file is
    /// an error (the caller starts without it and says so).
    pub fn read(&self) -> Result<Vec<StoredView>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let file: SerialsFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", self.path.display()))?;
        file.views
            .into_iter()
            .map(|v| {
                let digest = Digest::from_hex(&v.digest).ok_or_else(|| {
                    format!("{}: bad digest {:?} for {} {}", self.path.display(), v.digest, v.zone, v.line)
                })?;
                Ok(StoredView { zone: v.zone.into(), line: v.line.into(), serial: v.serial, digest })
            })
            .collect()
    }

    /// Replaces the file with `views`, atomically: a temporary file written and synced,
    /// renamed over the old one, and the directory synced, so a crash leaves the old file
    /// or the new one, never half of one.
    pub fn write(&self, views: &[StoredView]) -> Result<(), String> {
        let file = SerialsFile {
            version: 1,
            views: views
                .iter()
                .map(|v| StoredEntry {
                    zone: v.zone.to_string(),
                    line: v.line.to_string(),
                    serial: v.serial,
                    digest: v.digest.to_hex(),
                })
                .collect(),
        };
        super::state_file::write_atomic(&self.path, &serde_json::to_string_pretty(&file).expect("serializable"))
    }
}

/// Opens the state directory's serials (if the rules name one), hands the engine the
/// stored views, the clock and the store ([`Engine::follow_versions`]), and looks at
/// every view once: what the server answers from its first query on.
pub(super) fn start(engine: &Engine) {
    let dir = engine.snapshot().settings.state_dir.clone();
    let store = dir.as_deref().and_then(|dir| match SerialsStore::open(dir) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::error!("{e}; serials follow the clock and are not kept");
            None
        }
    });
    if let Some(store) = &store {
        match store.read() {
            Ok(views) => {
                tracing::info!("{} serial(s) read from {}", views.len(), store.path.display());
                engine.restore_versions(views);
            }
            Err(e) => tracing::error!("cannot read the stored serials ({e}); starting without them"),
        }
    }
    let persist = move |views: &[StoredView]| match &store {
        Some(store) => store.write(views),
        None => Ok(()),
    };
    engine.follow_versions(VersionHooks { clock: super::clock::unix_now, persist: Box::new(persist) });
    if let Some(e) = engine.refresh_versions().persist_error {
        tracing::error!("cannot store the serials: {e}");
    }
}

/// Follows the views until `stopped`: announces the serial changes the engine queued (a
/// reload's among them), polls [`Engine::change_mark`] and, after a change, waits until
/// `serial_coalesce` has passed since the last new serial, then refreshes (off the
/// runtime's workers: it exports every view and syncs the state file).
pub(super) async fn run(control: Arc<Control>, stopped: impl Future<Output = ()>) {
    let engine = &control.engine;
    let mut notifier = Notifier::new(control.notify.clone());
    let mut mark = engine.change_mark();
    let mut last_change = Instant::now();
    tokio::pin!(stopped);
    loop {
        let changes = engine.take_serial_changes();
        if !changes.is_empty() {
            last_change = Instant::now();
            log_changes(&changes);
            announce(engine, &mut notifier, &changes);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = &mut stopped => break,
        }
        // Signed views that secondaries hold get new signatures (and a serial) in time.
        let resign_due = engine.next_resign().is_some_and(|at| super::clock::unix_now() >= at);
        if engine.change_mark() == mark && !resign_due {
            continue;
        }
        // Coalesce: a change close after the last new serial waits for the interval to
        // end, and everything that changed meanwhile goes out as one serial.
        let coalesce = engine.snapshot().settings.serial_coalesce;
        tokio::select! {
            () = tokio::time::sleep_until(last_change + coalesce) => {}
            () = &mut stopped => break,
        }
        mark = engine.change_mark();
        let looking = control.engine.clone();
        match tokio::task::spawn_blocking(move || looking.refresh_versions()).await {
            Ok(refresh) => {
                if let Some(e) = refresh.persist_error {
                    tracing::error!("cannot store the serials: {e}");
                }
            }
            Err(e) => tracing::error!("looking at the views failed: {e}"),
        }
    }
    notifier.stop();
}

/// Logs each new serial.
fn log_changes(changes: &[SerialChange]) {
    for c in changes {
        match c.previous {
            Some(previous) => tracing::info!("zone {} line {}: serial {previous} -> {}", c.zone, c.line, c.serial),
            None => tracing::debug!("zone {} line {}: serial {}", c.zone, c.line, c.serial),
        }
    }
}

/// Sends a NOTIFY for each changed view to every secondary of a transfer rule of that
/// view and zone.
fn announce(engine: &Engine, notifier: &mut Notifier, changes: &[SerialChange]) {
    let live = engine.snapshot();
    for change in changes {
        let Some(&zone) = live.zone_by_origin.get(&*change.zone) else { continue };
        for rule in &live.transfers {
            if live.lines.name(rule.line) != &*change.line || !rule.covers(zone) {
                continue;
            }
            let key = rule.key.map(|k| live.keys[k as usize].clone());
            for &target in &rule.notify {
                // From our own listen address of the target's family, when it names one:
                // the address the secondary knows as its primary.
                let source = live
                    .settings
                    .listen
                    .iter()
                    .map(|a| a.ip())
                    .find(|ip| ip.is_ipv4() == target.is_ipv4() && !ip.is_unspecified());
                notifier.send(Notify {
                    target,
                    zone: change.zone.clone(),
                    serial: change.serial,
                    rule: rule.name.clone(),
                    key: key.clone(),
                    source,
                });
            }
        }
    }
}
