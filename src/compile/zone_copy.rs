//! The copy linedns keeps of a zone transferred from its primary, in the state directory:
//! `zones/ORIGIN.zone` (an RFC 1035 master file, every record in RFC 3597 form so that it
//! reads back octet for octet; `named-checkzone` reads it too) and `zones/ORIGIN.json`
//! (where and when it came from). `serve/secondary` writes them; the compile reads them
//! like a zone file, so a restart with the primary down serves the last good copy.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where and when a copy came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyInfo {
    /// The primary that sent it (`IP:PORT`).
    pub primary: String,
    /// Its SOA serial.
    pub serial: u32,
    /// How it last changed: `AXFR` or `IXFR`.
    pub kind: String,
    /// When it was transferred (seconds since the Unix epoch).
    pub transferred: u64,
    /// When the primary last confirmed it current, by a transfer or an SOA answer with
    /// the same serial: the SOA expire timer runs from here (RFC 1035 §3.3.13).
    pub refreshed: u64,
}

/// The directory of the copies under the state directory.
pub fn directory(state_dir: &Path) -> PathBuf {
    state_dir.join("zones")
}

/// The copy of zone `origin` (normalized; the root zone is `root`).
pub fn zone_path(state_dir: &Path, origin: &str) -> PathBuf {
    directory(state_dir).join(format!("{}.zone", if origin.is_empty() { "root" } else { origin }))
}

/// The facts of the copy of zone `origin`.
pub fn info_path(state_dir: &Path, origin: &str) -> PathBuf {
    zone_path(state_dir, origin).with_extension("json")
}

/// Reads a copy's facts; `None` when there are none (or they cannot be read).
pub fn read_info(state_dir: &Path, origin: &str) -> Option<CopyInfo> {
    let text = std::fs::read_to_string(info_path(state_dir, origin)).ok()?;
    serde_json::from_str(&text).ok()
}
