//! Files of the state directory (`server.state_dir`): written so that a crash at any
//! moment leaves the old file or the new one, never half of one.

use std::path::Path;

/// Replaces `path` with `text`: a temporary file beside it written and synced, renamed
/// over the old one, and the directory synced.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension("tmp");
    let context = |e: std::io::Error| format!("{}: {e}", temporary.display());
    {
        use std::io::Write as _;
        let mut out = std::fs::File::create(&temporary).map_err(context)?;
        out.write_all(text.as_bytes()).map_err(context)?;
        out.sync_all().map_err(context)?;
    }
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}
