//! Files of the state directory (`server.state_dir`): written so that a crash at any
//! moment leaves the old file or the new one, never half of one; read back with errors
//! that name the file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A state file or the state directory that cannot be used, and why.
#[derive(Debug)]
pub struct StateFileError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub problem: StateProblem,
}

/// What went wrong with a state file.
#[derive(Debug)]
pub enum StateProblem {
    /// The state directory cannot be made.
    Directory(io::Error),
    /// The file cannot be read or written.
    Io(io::Error),
    /// The file is there but does not hold what it should (say, not JSON of its form).
    Corrupt(String),
}

impl StateFileError {
    /// `path` holds something else than it should: `why`.
    pub fn corrupt(path: &Path, why: impl fmt::Display) -> StateFileError {
        StateFileError { path: path.to_path_buf(), problem: StateProblem::Corrupt(why.to_string()) }
    }

    fn io(path: &Path, error: io::Error) -> StateFileError {
        StateFileError { path: path.to_path_buf(), problem: StateProblem::Io(error) }
    }
}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            StateProblem::Directory(e) => write!(f, "state directory {path}: {e}"),
            StateProblem::Io(e) => write!(f, "{path}: {e}"),
            StateProblem::Corrupt(why) => write!(f, "{path}: {why}"),
        }
    }
}

impl std::error::Error for StateFileError {}

impl From<StateFileError> for String {
    fn from(error: StateFileError) -> String {
        error.to_string()
    }
}

/// Makes the state directory `dir` (and its parents) if it is missing.
pub fn create_dir(dir: &Path) -> Result<(), StateFileError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StateFileError { path: dir.to_path_buf(), problem: StateProblem::Directory(e) })
}

/// The text of `path`, or `None` when there is no such file yet.
pub fn read_if_any(path: &Path) -> Result<Option<String>, StateFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateFileError::io(path, e)),
    }
}

/// Replaces `path` with `text`: a temporary file beside it written and synced, renamed
/// over the old one, and the directory synced.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), StateFileError> {
    let temporary = path.with_extension("tmp");
    let context = |e: io::Error| StateFileError::io(&temporary, e);
    {
        use std::io::Write as _;
        let mut out = std::fs::File::create(&temporary).map_err(context)?;
        out.write_all(text.as_bytes()).map_err(context)?;
        out.sync_all().map_err(context)?;
    }
    std::fs::rename(&temporary, path).map_err(|e| StateFileError::io(path, e))?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_replaced_whole_and_errors_name_it() {
        let dir = std::env::temp_dir().join(format!("linedns-state-file-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let path = dir.join("x.json");
        assert!(read_if_any(&path).unwrap().is_none(), "no file yet is no error");
        write_atomic(&path, "one").unwrap();
        write_atomic(&path, "two").unwrap();
        assert_eq!(read_if_any(&path).unwrap().as_deref(), Some("two"));
        assert!(!path.with_extension("tmp").exists(), "the temporary file is renamed away");
        let error = write_atomic(&dir.join("missing/y.json"), "z").unwrap_err();
        assert!(matches!(error.problem, StateProblem::Io(_)));
        assert!(error.to_string().starts_with(&dir.join("missing/y.tmp").display().to_string()), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
