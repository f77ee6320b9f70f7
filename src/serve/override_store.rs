//! Operator overrides kept across restarts and crashes: `overrides.json` in the state
//! directory (`server.state_dir`), rewritten atomically after every change through the
//! admin API and read at start, before the first query. A file that cannot be read or
//! parsed is reported and the server starts without it; it is never a crash.

use std::path::Path;

use super::state_file::{self, StateFileError};
use crate::engine::Engine;
use crate::engine::overrides::Override;

/// The file's name in the state directory.
pub const OVERRIDES_FILE: &str = "overrides.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct OverridesFile {
    version: u32,
    overrides: Vec<Override>,
}

/// Puts the overrides stored in `state_dir` back in force (if the rules name one).
pub fn restore(engine: &Engine, state_dir: Option<&Path>) {
    let Some(path) = state_dir.map(|dir| dir.join(OVERRIDES_FILE)) else { return };
    let text = match state_file::read_if_any(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("{e}; starting without the stored overrides");
            return;
        }
    };
    match serde_json::from_str::<OverridesFile>(&text) {
        Ok(file) => {
            for o in &file.overrides {
                tracing::warn!(
                    "override {} restored from {}: {} forced {} by {} ({})",
                    o.id,
                    path.display(),
                    o.target,
                    o.state,
                    o.who,
                    o.why
                );
            }
            engine.restore_overrides(file.overrides);
        }
        Err(e) => tracing::error!("{}: {e}; starting without the stored overrides", path.display()),
    }
}

/// Writes the overrides in force to `state_dir` (if the rules name one). Saves
/// take turns, each reading the list when its turn comes, so the last save after the
/// last change writes that change, whatever order concurrent admin calls finish in.
pub fn save(engine: &Engine, state_dir: Option<&Path>) -> Result<(), StateFileError> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = state_dir.map(|dir| dir.join(OVERRIDES_FILE)) else { return Ok(()) };
    if let Some(dir) = path.parent() {
        state_file::create_dir(dir)?;
    }
    let overrides = engine.list_overrides().into_iter().map(|listed| listed.over).collect();
    let text = serde_json::to_string_pretty(&OverridesFile { version: 1, overrides }).expect("serializable");
    state_file::write_atomic(&path, &text)
}
