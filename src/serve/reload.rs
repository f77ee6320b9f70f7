//! Reloads: the one logged and counted [`reload_and_log`] that every trigger runs (the
//! file watch here, `POST /reload` in the admin API, SIGHUP in the binary through
//! [`super::Control::reload`]), each the compile-off-the-query-path-then-swap of
//! [`Engine::reload`]; a failed compile keeps the running snapshot.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::engine::{Engine, ReloadReport};
use crate::error::CompileErrors;

/// Reload outcomes, for metrics.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Reloads that swapped in a new snapshot.
    pub successes: AtomicU64,
    /// Reloads whose compile failed (the old snapshot stayed).
    pub failures: AtomicU64,
}

/// Reloads `engine`, logs the outcome with what changed or every error (file:line), and
/// counts it in `stats`.
pub fn reload_and_log(engine: &Engine, stats: &ReloadStats, cause: &str) -> Result<ReloadReport, CompileErrors> {
    match engine.reload() {
        Ok(report) => {
            stats.successes.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "reload ({cause}): generation {} live; lines +{:?} -{:?}; zones +{:?} -{:?}; probes kept {}, new {:?}, stopped {:?}; table blocks {:?} -> {:?}",
                report.generation,
                report.lines_added,
                report.lines_removed,
                report.zones_added,
                report.zones_removed,
                report.probes_kept,
                report.probes_added,
                report.probes_removed,
                report.table_blocks.0,
                report.table_blocks.1,
            );
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
    }
}

/// What the watch compares: each input file's modification time and length.
fn fingerprint(paths: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    paths.iter().map(|p| crate::compile::stamp(p)).collect()
}

/// Watches the live snapshot's input files (rules and data) every `every`; after a
/// change, waits until the files have been quiet for `debounce` (an editor or `git
/// pull` writes several), then reloads. Runs until `stop` completes.
pub async fn watch(
    control: Arc<super::Control>,
    every: Duration,
    debounce: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let engine = &control.engine;
    // Compare with the files as the live snapshot read them, not as they are when the
    // watch notices a reload: an edit landing after a SIGHUP reload must not pass as seen.
    let live = |engine: &Engine| {
        let snapshot = engine.snapshot();
        (
            engine.generation(),
            snapshot.inputs.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            snapshot.inputs.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        )
    };
    let (mut generation, mut inputs, mut seen) = live(engine);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
        if engine.generation() != generation {
            (generation, inputs, seen) = live(engine);
        }
        let now = fingerprint(&inputs);
        if now == seen {
            continue;
        }
        let mut settled = now;
        loop {
            tokio::time::sleep(debounce).await;
            let again = fingerprint(&inputs);
            if again == settled {
                break;
            }
            settled = again;
        }
        // A failed reload keeps the old snapshot; the files are watched on for the fix.
        match control.reload("files changed") {
            Ok(_) => (generation, inputs, seen) = live(engine),
            Err(_) => seen = settled,
        }
    }
}
