//! The file watch: reloads when the live snapshot's input files (rules and data) change,
//! through [`Control::reload`] like every other trigger.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::control::{Control, ReloadCause};
use crate::engine::Engine;

/// What the watch compares: each input file's modification time and length.
fn fingerprint(paths: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    paths.iter().map(|p| crate::compile::stamp(p)).collect()
}

/// Watches the live snapshot's input files (rules and data) every `every`; after a
/// change, waits until the files have been quiet for `debounce` (an editor or `git
/// pull` writes several), then reloads. Runs until `stop` completes.
pub async fn run(
    control: Arc<Control>,
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
        // Files a reload already tried (a SIGHUP sent after the save): not again, so one
        // broken save is one failed reload.
        let stamps: Vec<_> = inputs.iter().cloned().zip(settled.iter().copied()).collect();
        if control.reloads.tried(&stamps) {
            seen = settled;
            continue;
        }
        // A failed reload keeps the old snapshot; the files are watched on for the fix.
        match control.reload(ReloadCause::FilesChanged) {
            Ok(_) => (generation, inputs, seen) = live(engine),
            Err(_) => seen = settled,
        }
    }
}
