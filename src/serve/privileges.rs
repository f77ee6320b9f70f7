//! Running as an unprivileged user without systemd: `serve` started as root binds its
//! sockets (port 53 needs root or `CAP_NET_BIND_SERVICE`), then gives root up for the
//! configured user and group (`--user`/`--group`, or the rules' `server.user` and
//! `server.group`) before it answers anything. Under systemd the unit's `DynamicUser`
//! and `AmbientCapabilities=CAP_NET_BIND_SERVICE` do this instead.
//!
//! The state directory is handed to that user first (it keeps serials, overrides,
//! transferred zones and DNSSEC keys, written as the server runs), so that it stays
//! writable after the change.

use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User, getuid, setgid, setgroups, setuid};

/// Who the server runs as once its sockets are bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// The user's name or number.
    pub user: String,
    /// The group's name or number (default: the user's primary group).
    pub group: Option<String>,
}

/// The account [`RunAs`] names, looked up.
struct Account {
    name: String,
    uid: Uid,
    gid: Gid,
}

/// Changes to `run_as`'s user and group (supplementary groups: that group alone), after
/// handing `state_dir` (made if missing) to them. A process that is already that user
/// changes nothing; any other non-root process gets an error, since only root can change.
/// Returns what was done, for the log.
pub fn drop_privileges(run_as: &RunAs, state_dir: Option<&Path>) -> Result<String, String> {
    let account = look_up(run_as)?;
    let now = getuid();
    if now == account.uid {
        return Ok(format!("already running as {} (uid {})", account.name, account.uid));
    }
    if !now.is_root() {
        return Err(format!(
            "cannot change to user {} (uid {}): only root can, and this process is uid {now}",
            account.name, account.uid
        ));
    }
    if let Some(dir) = state_dir {
        if dir.parent().is_none() {
            return Err(format!(
                "state directory {}: will not hand the root directory to {}",
                dir.display(),
                account.name
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("state directory {}: {e}", dir.display()))?;
        hand_over(dir, account.uid, account.gid)?;
    }
    setgroups(&[account.gid]).map_err(|e| format!("setgroups({}): {e}", account.gid))?;
    setgid(account.gid).map_err(|e| format!("setgid({}): {e}", account.gid))?;
    setuid(account.uid).map_err(|e| format!("setuid({}): {e}", account.uid))?;
    // Root must be gone for good: a process that can change back has not given it up.
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(format!("still able to become root after changing to uid {}", account.uid));
    }
    Ok(format!("running as user {} (uid {}, gid {})", account.name, account.uid, account.gid))
}

/// Looks up the user and group by name, or takes them as numbers.
fn look_up(run_as: &RunAs) -> Result<Account, String> {
    let user = match run_as.user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(&run_as.user),
    };
    let user = user
        .map_err(|e| format!("user {:?}: cannot look it up: {e}", run_as.user))?
        .ok_or_else(|| format!("user {:?} does not exist (see /etc/passwd)", run_as.user))?;
    let gid = match &run_as.group {
        None => user.gid,
        Some(name) => {
            let group = match name.parse::<u32>() {
                Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
                Err(_) => Group::from_name(name),
            };
            group
                .map_err(|e| format!("group {name:?}: cannot look it up: {e}"))?
                .ok_or_else(|| format!("group {name:?} does not exist (see /etc/group)"))?
                .gid
        }
    };
    Ok(Account { name: user.name, uid: user.uid, gid })
}

/// Gives `dir` and everything under it (not following symbolic links) to `uid:gid`.
fn hand_over(dir: &Path, uid: Uid, gid: Gid) -> Result<(), String> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let kind = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.file_type().is_symlink() {
            continue;
        }
        // lchown: a link put in place since the look above is changed, not followed.
        std::os::unix::fs::lchown(&path, Some(uid.as_raw()), Some(gid.as_raw()))
            .map_err(|e| format!("{}: cannot give it to uid {uid}: {e}", path.display()))?;
        if kind.is_dir() {
            let entries = std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for entry in entries {
                pending.push(entry.map_err(|e| format!("{}: {e}", path.display()))?.path());
            }
        }
    }
    Ok(())
}
