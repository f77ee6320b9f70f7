//! The primary's side of replication over time: each view's serial followed as the rules
//! and health change (the engine's [`crate::engine::versions`] does the looking), changes
//! coalesced, serials kept in the state directory, and a NOTIFY sent to each secondary
//! of a view that changed.
//!
//! ```text
//!  a reload ─► Engine::swap ─► new serials (at once) ───────────────────────┐
//!  an override, a probe flip ─► Serials::mark_changed ─► (wakes) refresh_versions ─┤
//!                        (only a change inside the coalescing window waits)       ▼
//!            serials.json (write, fsync, rename) ─► publish ─► NOTIFY each secondary
//! ```
//!
//! Event-driven: the engine's change hook wakes the loop, so the first change after a
//! quiet spell is looked at and announced at once; only a change within
//! `server.serial_coalesce_ms` of the last new serial waits for that window to end.

pub mod notify;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use self::notify::{Notifier, Notify};
use super::control::Control;
use super::state_file::{self, StateFileError};
use crate::compile::host::HostSettings;
use crate::engine::versions::{Digest, START_WAIT, SerialChange, StoredView};
use crate::engine::{Engine, VersionHooks};

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
    pub fn open(dir: &Path) -> Result<SerialsStore, StateFileError> {
        state_file::create_dir(dir)?;
        Ok(SerialsStore { path: dir.join(SERIALS_FILE) })
    }

    /// The views stored: none when there is no file yet; an unreadable or corrupt file is
    /// an error (the caller starts without it and says so).
    pub fn read(&self) -> Result<Vec<StoredView>, StateFileError> {
        let Some(text) = state_file::read_if_any(&self.path)? else { return Ok(Vec::new()) };
        let file: SerialsFile = serde_json::from_str(&text).map_err(|e| StateFileError::corrupt(&self.path, e))?;
        file.views
            .into_iter()
            .map(|v| {
                let digest = Digest::from_hex(&v.digest).ok_or_else(|| {
                    let why = format!("bad digest {:?} for {} {}", v.digest, v.zone, v.line);
                    StateFileError::corrupt(&self.path, why)
                })?;
                Ok(StoredView { zone: v.zone.into(), line: v.line.into(), serial: v.serial, digest })
            })
            .collect()
    }

    /// Replaces the file with `views`, atomically: a temporary file written and synced,
    /// renamed over the old one, and the directory synced, so a crash leaves the old file
    /// or the new one, never half of one.
    pub fn write(&self, views: &[StoredView]) -> Result<(), StateFileError> {
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
        state_file::write_atomic(&self.path, &serde_json::to_string_pretty(&file).expect("serializable"))
    }
}

/// The views' serials as a start finds them: those the state directory kept (if the
/// rules name one), and the hooks that keep the new ones there.
pub(crate) struct Opened {
    /// The stored views.
    pub stored: Vec<StoredView>,
    /// The clock and the store the engine follows the views with.
    pub hooks: VersionHooks,
    /// Whether any view was stored.
    pub restored: bool,
}

/// Opens the state directory's serials, if `settings` name one.
pub(crate) fn open(settings: &HostSettings) -> Opened {
    let store = settings.state_dir.as_deref().and_then(|dir| match SerialsStore::open(dir) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::error!("{e}; serials follow the clock and are not kept");
            None
        }
    });
    let mut stored = Vec::new();
    if let Some(store) = &store {
        match store.read() {
            Ok(views) => {
                tracing::info!("{} serial(s) read from {}", views.len(), store.path.display());
                stored = views;
            }
            Err(e) => tracing::error!("cannot read the stored serials ({e}); starting without them"),
        }
    }
    let persist = move |views: &[StoredView]| match &store {
        Some(store) => store.write(views).map_err(String::from),
        None => Ok(()),
    };
    let restored = !stored.is_empty();
    Opened { stored, hooks: VersionHooks { clock: super::clock::unix_now, persist: Box::new(persist) }, restored }
}

/// Looks at every view once: what the server answers from its first query on.
///
/// Without stored serials (`restored` false), and with views that secondaries transfer,
/// it first waits until the clock is [`START_WAIT`] whole seconds on (one to two seconds):
/// an earlier run's serials were at most [`crate::engine::versions::MAX_LEAD`] ahead of
/// its clock, so the serials this run starts from are greater than any of them, whatever
/// changed while it was stopped.
pub(crate) fn first_look(engine: &Engine, restored: bool) {
    if !restored && !engine.snapshot().transfers.is_empty() {
        let wait = super::clock::until_seconds_pass(START_WAIT);
        tracing::info!(
            "no stored serials: waiting {} ms for the clock, so that every serial this start gives is new \
             (server.state_dir keeps them across restarts instead)",
            wait.as_millis()
        );
        std::thread::sleep(wait);
    }
    if let Some(e) = engine.refresh_versions().persist_error {
        tracing::error!("cannot store the serials: {e}");
    }
}

/// Follows the views until `stopped`: announces the serial changes the engine made (a
/// reload's, at its swap), and when the engine says a view may have changed (an
/// override, a probe flip: `changed`, which the engine was built to wake) or a look is due
/// ([`Serials::next_look`](crate::engine::serials::Serials::next_look)), looks at the views (off the runtime's workers: it exports
/// every view and syncs the state file) — at once, unless the last new serial is less
/// than `serial_coalesce` old: then when that window ends, everything that changed
/// meanwhile going out as one serial.
pub(super) async fn run(control: Arc<Control>, changed: Arc<tokio::sync::Notify>, stopped: impl Future<Output = ()>) {
    let engine = &control.engine;
    let mut notifier = Notifier::new(control.notify.clone());
    // `None`: look once at the start (a change between the first look and now).
    let mut mark = None;
    let mut last_serial: Option<Instant> = None;
    // This start's serials: announced, but they open no coalescing window (the first
    // change after a restart goes out at once too).
    announce_new(&control, &mut notifier, &mut None);
    tokio::pin!(stopped);
    loop {
        announce_new(&control, &mut notifier, &mut last_serial);
        let due = engine.serials.next_look();
        let look_due = || due.is_some_and(|at| super::clock::unix_now() >= at);
        if mark == Some(engine.change_mark()) && !look_due() {
            let until_due = due.map_or(Duration::from_secs(3600), |at| {
                Duration::from_secs(at.saturating_sub(super::clock::unix_now())).max(Duration::from_millis(10))
            });
            tokio::select! {
                () = changed.notified() => {}
                () = tokio::time::sleep(until_due) => {}
                () = &mut stopped => break,
            }
            // A reload's serials were made at its swap: out at once.
            announce_new(&control, &mut notifier, &mut last_serial);
            if mark == Some(engine.change_mark()) && !look_due() {
                continue;
            }
        }
        // Coalesce: a change inside the window after the last new serial waits for it to
        // end, and everything that changed meanwhile goes out as one serial.
        if let Some(last) = last_serial {
            let coalesce = control.host().serial_coalesce;
            tokio::select! {
                () = tokio::time::sleep_until(last + coalesce) => {}
                () = &mut stopped => break,
            }
        }
        mark = Some(engine.change_mark());
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

/// Announces the serial changes the engine made since the last call, if any, and notes
/// when (the coalescing window starts there).
fn announce_new(control: &Control, notifier: &mut Notifier, last_serial: &mut Option<Instant>) {
    let changes = control.engine.serials.take_changes();
    if !changes.is_empty() {
        *last_serial = Some(Instant::now());
        log_changes(&changes);
        announce(&control.engine, &control.host().listen, notifier, &changes);
    }
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
/// view and zone, from the address of `listen` of the secondary's family.
fn announce(engine: &Engine, listen: &[SocketAddr], notifier: &mut Notifier, changes: &[SerialChange]) {
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
                let source =
                    listen.iter().map(|a| a.ip()).find(|ip| ip.is_ipv4() == target.is_ipv4() && !ip.is_unspecified());
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
