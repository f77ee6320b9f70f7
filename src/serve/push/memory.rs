//! What linedns put at each provider's zone, remembered in the state directory
//! (`providers/PROVIDER/ZONE.json`, the RRsets as `owner TYPE`): an RRset the rules no
//! longer hold is still linedns's there, and the next push deletes it.

use std::path::{Path, PathBuf};

use super::PushProblem;
use crate::engine::push::RrsetKey;
use crate::name::Name;
use crate::serve::state_file;

/// Where `provider`'s `zone` is remembered in `state_dir` (the provider's name made safe
/// for a file name).
pub fn path(state_dir: &Path, provider: &str, zone: &Name) -> PathBuf {
    let safe: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    state_dir.join("providers").join(safe).join(format!("{zone}.json"))
}

/// The RRsets remembered at `path` (none when nothing is).
pub fn read(path: &Path) -> Result<Vec<RrsetKey>, PushProblem> {
    let bad = |why: String| PushProblem::Rules(format!("{}: {why}", path.display()));
    let Some(text) = state_file::read_if_any(path).map_err(|e| bad(e.to_string()))? else { return Ok(Vec::new()) };
    let listed: Vec<String> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    listed
        .iter()
        .map(|entry| {
            let (owner, rtype) = entry.rsplit_once(' ').ok_or_else(|| bad(format!("{entry:?} is not `owner TYPE`")))?;
            let owner = Name::from_key(owner).ok_or_else(|| bad(format!("{owner:?} is not a name")))?;
            Ok((owner, rtype.parse().map_err(|_| bad(format!("{rtype:?} is not a type")))?))
        })
        .collect()
}

/// Remembers `keys` at `path`, replacing what was there.
pub fn write<'k>(path: &Path, keys: impl Iterator<Item = &'k RrsetKey>) -> Result<(), PushProblem> {
    let failed = |e: state_file::StateFileError| PushProblem::Update(format!("cannot remember what was pushed: {e}"));
    if let Some(dir) = path.parent() {
        state_file::create_dir(dir).map_err(failed)?;
    }
    let listed: Vec<String> = keys.map(|(owner, rtype)| format!("{} {rtype}", owner.as_key())).collect();
    state_file::write_atomic(path, &serde_json::to_string_pretty(&listed).expect("serializable")).map_err(failed)
}
