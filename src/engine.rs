//! [`Engine`]: the live snapshot behind an atomic pointer, swapped whole on reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::compile::{CompileOptions, compile_file};
use crate::error::CompileErrors;
use crate::snapshot::Snapshot;

/// Holds the snapshot queries read. Readers never block; a reload compiles off the query
/// path and swaps the pointer, so each query sees one whole snapshot, old or new.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Snapshot>,
    rules: Option<(PathBuf, CompileOptions)>,
}

impl Engine {
    /// An engine serving `snapshot` (no rules file to reload from).
    pub fn new(snapshot: Snapshot) -> Self {
        Engine { current: ArcSwap::from_pointee(snapshot), rules: None }
    }

    /// Compiles the rules file and serves it; [`Engine::reload`] reads the same file again.
    pub fn from_rules(path: &Path, options: CompileOptions) -> Result<Self, CompileErrors> {
        let snapshot = compile_file(path, &options)?;
        Ok(Engine { current: ArcSwap::from_pointee(snapshot), rules: Some((path.to_path_buf(), options)) })
    }

    /// The snapshot now live. Hold the guard for the length of one query, not longer.
    #[inline]
    pub fn snapshot(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Replaces the live snapshot.
    pub fn swap(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }

    /// Compiles the rules file again and swaps it in; on any error the running snapshot
    /// stays and the errors are returned.
    pub fn reload(&self) -> Result<(), CompileErrors> {
        let Some((path, options)) = &self.rules else { return Ok(()) };
        let snapshot = compile_file(path, options)?;
        self.swap(snapshot);
        Ok(())
    }
}
